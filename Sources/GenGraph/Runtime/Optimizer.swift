import Kernels

/// Updates one group of parameters (a GAN's generator, say) with one fused
/// kernel per parameter, then clips them if asked (WGAN's weight clipping).
public final class Optimizer {
    public let rule: OptimizerRule
    public let parameters: [Tensor]
    public let clip: ClosedRange<Float>?
    /// Updates applied so far (Adam's bias correction counts these); checkpoints restore it.
    public internal(set) var step = 0
    /// Each parameter's state tensors in `rule.slotNames` order, by parameter name; checkpoints save and restore them.
    var slots: [String: [Buffer]] = [:]

    public init(_ rule: OptimizerRule, parameters: [Tensor], clip: ClosedRange<Float>? = nil) {
        self.rule = rule
        self.parameters = parameters
        self.clip = clip
    }

    /// Applies one update as eager execution does: one kernel per parameter and one
    /// more per clip. Compiled plans apply it themselves with multi-tensor kernels
    /// (`updateGroup`, `PlannedUpdates`); both compute the same bits.
    func update(_ store: ParameterStore, gradients: [View], kernels: KernelContext) throws {
        let (values, state) = try prepare(store)
        step += 1
        var ctx = kernels.ctx()
        for ((value, slot), g) in zip(zip(values, state), gradients) {
            let n = Int64(value.count)
            switch rule {
            case .sgd(let lr, let momentum, let nesterov):
                try check(gg_sgd_f32(&ctx, value.pointer, slot.first?.pointer, g.pointer, n, lr, momentum,
                                     nesterov ? 1 : 0, step == 1 ? 1 : 0), "sgd")
            case .adam(let lr, let b1, let b2, let eps):
                try check(gg_adam_f32(&ctx, value.pointer, slot[0].pointer, slot[1].pointer, g.pointer, n,
                                      lr, b1, b2, eps, Int64(step)), "adam")
            case .rmsprop(let lr, let alpha, let eps):
                try check(gg_rmsprop_f32(&ctx, value.pointer, slot[0].pointer, g.pointer, n, lr, alpha, eps), "rmsprop")
            }
            if let clip {
                try check(gg_unary_f32(&ctx, value.pointer, value.pointer, n, GG_UNARY_CLAMP,
                                       clip.lowerBound, clip.upperBound), "clip")
            }
        }
    }

    /// Each parameter's value and slots, creating zeroed slots on first use. A compiled
    /// plan that applies the update itself calls it first, and counts the update once the plan has run.
    @discardableResult
    func prepare(_ store: ParameterStore) throws -> (values: [Buffer], slots: [[Buffer]]) {
        var values: [Buffer] = []
        var state: [[Buffer]] = []
        for (name, p) in zip(parameterNames, parameters) {
            guard let name, let value = store.buffer(name) else {
                throw GraphError(op: "optimizer", "tensor %\(p.id) is not a parameter of the store")
            }
            let slot = try slots[name] ?? rule.slotNames.map { slot in
                let b = try Buffer.allocate(count: value.count, for: "the optimiser's \(slot) of '\(name)'")
                b.pointer.initialize(repeating: 0, count: value.count)
                return b
            }
            slots[name] = slot
            values.append(value)
            state.append(slot)
        }
        return (values, state)
    }

    /// The parameters' leaf names (nil for a tensor that is not a parameter).
    var parameterNames: [String?] {
        parameters.map { t in
            if case .parameter(let name) = t.node.op { return name }
            return nil
        }
    }

    /// The slot buffer a plan binds under `PlannedUpdates.slotLeaf(parameter, slot)`.
    func slotBuffer(leaf: String) -> Buffer? {
        guard let at = leaf.lastIndex(of: "@") else { return nil }
        let parameter = String(leaf[..<at]), slot = String(leaf[leaf.index(after: at)...])
        guard let k = rule.slotNames.firstIndex(of: slot) else { return nil }
        return slots[parameter]?[k]
    }

    /// One multi-tensor kernel: `rule` applied to every parameter from its gradient and
    /// slots (`slots[k][i]`: slot k of parameter i), `step` counting this update; then the clip.
    static func updateGroup(_ rule: OptimizerRule, clip: ClosedRange<Float>?, step: Int, _ ctx: inout gg_ctx,
                            parameters: [UnsafeMutablePointer<Float>], slots: [[UnsafeMutablePointer<Float>]],
                            gradients: [UnsafePointer<Float>], sizes: [Int]) throws {
        let count = Int32(parameters.count)
        let params: [UnsafeMutablePointer<Float>?] = parameters
        let grads: [UnsafePointer<Float>?] = gradients
        let sizes = sizes.map(Int64.init)
        let (clipOn, lo, hi): (Int32, Float, Float) = clip.map { (1, $0.lowerBound, $0.upperBound) } ?? (0, 0, 0)
        func slot(_ k: Int) -> [UnsafeMutablePointer<Float>?] { k < slots.count ? slots[k] : [] }
        switch rule {
        case .sgd(let lr, let momentum, let nesterov):
            try check(gg_sgd_multi_f32(&ctx, count, params, slot(0), grads, sizes, lr, momentum,
                                       nesterov ? 1 : 0, step == 1 ? 1 : 0, clipOn, lo, hi), "sgd")
        case .adam(let lr, let b1, let b2, let eps):
            try check(gg_adam_multi_f32(&ctx, count, params, slot(0), slot(1), grads, sizes, lr, b1, b2, eps,
                                        Int64(step), clipOn, lo, hi), "adam")
        case .rmsprop(let lr, let alpha, let eps):
            try check(gg_rmsprop_multi_f32(&ctx, count, params, slot(0), grads, sizes, lr, alpha, eps, clipOn, lo, hi), "rmsprop")
        }
    }
}
