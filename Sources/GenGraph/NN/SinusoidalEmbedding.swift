import Foundation

/// The sinusoidal embedding of diffusion timesteps (docs/zoo.md, `ddpm`), built
/// from constants, so a plan computes it in the kernels that read it.
extension Graph {
    /// The largest count `arange` gives exactly: f32 holds every integer up to 2^24.
    static let maxExactInteger = 1 << 24

    /// 0, 1, ..., count - 1 as f32 (count), from constants: each concat doubles the
    /// run (r, r + k), so the graph grows by the logarithm of count.
    func arange(_ count: Int) throws -> Tensor {
        guard count >= 1, count <= Graph.maxExactInteger else {
            throw GraphError(op: "arange", "count \(count) must be in 1...\(Graph.maxExactInteger)")
        }
        var run = try constant(0, [1])
        while run.shape[0] < count {
            run = try concat([run, run + Float(run.shape[0])], axis: 0)
        }
        return try run.slice(axis: 0, 0..<count)
    }
}

extension Tensor {
    /// Timesteps t (n) to (n, dim): [sin(t f_0) .. sin(t f_{h-1}), cos(t f_0) .. cos(t f_{h-1})]
    /// with h = dim / 2 and f_i = exp(-ln(10000) i / h), in f32 in the order PyTorch's
    /// reference (tools/peers/torch_families.py) computes it.
    public func sinusoidalEmbedding(dim: Int) throws -> Tensor {
        guard rank == 1 else { throw GraphError(op: "sinusoidal", "needs timesteps (n), got \(shape)") }
        guard dim >= 2, dim % 2 == 0, dim / 2 <= Graph.maxExactInteger else {
            throw GraphError(op: "sinusoidal", "dim \(dim) must be even, in 2...\(2 * Graph.maxExactInteger)")
        }
        _ = try Shape([shape[0], dim]).checkedCount(op: "sinusoidal")
        let half = dim / 2
        let frequencies = try (graph.arange(half) * Float(-Foundation.log(10000.0)) / Float(half)).exp()
        let angles = try reshape([shape[0], 1]) * frequencies.reshape([1, half])
        return try concat([angles.sin(), angles.cos()], axis: 1)
    }
}
