/// How an op's kernel meets storage, for the executors' and the planner's copies.
extension Op {
    /// Reshape, permute, broadcast and slice are views: no kernel, no traffic of their own.
    var isView: Bool {
        switch self {
        case .reshape, .permute, .broadcast, .slice, .stopGradient: return true
        default: return false
        }
    }

    /// Kernels of these ops read their inputs through strides (no contiguous copy needed).
    var readsThroughStrides: Bool {
        switch self {
        case .pad, .concat, .reshape: return true
        default: return false
        }
    }
}
