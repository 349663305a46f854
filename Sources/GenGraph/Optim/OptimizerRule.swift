/// An update rule with PyTorch's semantics and defaults.
public enum OptimizerRule: Hashable, Sendable {
    case sgd(learningRate: Float, momentum: Float = 0, nesterov: Bool = false)
    case adam(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8)
    case rmsprop(learningRate: Float, alpha: Float = 0.99, epsilon: Float = 1e-8)

    /// Per-parameter state tensors the rule keeps, by name suffix.
    var slotNames: [String] {
        switch self {
        case .sgd(_, let momentum, _): return momentum == 0 ? [] : ["momentum_buffer"]
        case .adam: return ["exp_avg", "exp_avg_sq"]
        case .rmsprop: return ["square_avg"]
        }
    }
}

extension OptimizerRule {
    /// Bytes an update reads and writes per parameter element (parameter, gradient, state).
    var bytesPerElement: Int {
        switch self {
        case .sgd(_, let momentum, _): return momentum == 0 ? 12 : 20
        case .adam: return 28
        case .rmsprop: return 20
        }
    }

    /// Arithmetic per parameter element of one update, for the plan's FLOP counts.
    var flopsPerElement: Int {
        switch self {
        case .sgd(_, let momentum, _): return momentum == 0 ? 2 : 4
        case .adam: return 12
        case .rmsprop: return 7
        }
    }
}
