import Kernels

/// The values of a model's parameters and persistent state, by name.
public final class ParameterStore {
    private(set) var buffers: [String: Buffer] = [:]
    private var shapes: [String: Shape] = [:]
    /// How many times training has written each state (a batch norm's running
    /// statistics); checkpoints carry it as PyTorch's `num_batches_tracked`.
    public internal(set) var updateCounts: [String: Int64] = [:]

    public init() {}

    public var names: [String] { buffers.keys.sorted() }

    public func value(_ name: String) -> TensorValue? {
        guard let b = buffers[name], let s = shapes[name] else { return nil }
        return TensorValue(shape: s, buffer: Buffer(copying: b.values))
    }

    /// Sets `name` to a copy of `value`; an existing entry must keep its shape.
    public func set(_ name: String, _ value: TensorValue) throws {
        if let s = shapes[name], s != value.shape {
            throw GraphError(op: "parameter", "'\(name)' has shape \(s), cannot assign \(value.shape)")
        }
        shapes[name] = value.shape
        buffers[name] = Buffer(copying: value.scalars)
    }

    func buffer(_ name: String) -> Buffer? { buffers[name] }

    /// Creates `name` with `initializer` unless it already exists. The draw
    /// depends only on (seed, name), so adding a parameter never changes the others.
    func initialize(_ name: String, _ shape: Shape, _ initializer: Initializer, seed: UInt64, kernels: KernelContext) throws {
        if let s = shapes[name] {
            if s != shape { throw GraphError(op: "parameter", "'\(name)' has shape \(s), the graph wants \(shape)") }
            return
        }
        let b = try Buffer.allocate(count: shape.count, for: "parameter '\(name)' of shape \(shape)")
        var ctx = kernels.ctx()
        let n = Int64(shape.count), key = mix64(seed ^ stableHash(name))
        switch initializer {
        case .zeros: try check(gg_fill_f32(&ctx, b.pointer, n, 0), "init")
        case .ones: try check(gg_fill_f32(&ctx, b.pointer, n, 1), "init")
        case .constant(let value): try check(gg_fill_f32(&ctx, b.pointer, n, value), "init")
        case .uniform(let lo, let hi):
            try check(gg_rand_uniform_f32(&ctx, b.pointer, n, key, 0), "init")
            for i in 0..<shape.count { b.pointer[i] = lo + (hi - lo) * b.pointer[i] }
        case .normal(let mean, let std):
            try check(gg_rand_normal_f32(&ctx, b.pointer, n, key, 0), "init")
            for i in 0..<shape.count { b.pointer[i] = mean + std * b.pointer[i] }
        }
        buffers[name] = b
        shapes[name] = shape
    }
}
