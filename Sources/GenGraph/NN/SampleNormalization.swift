/// Normalisations with statistics of each sample alone (no running statistics,
/// the same in training and sampling): group norm and instance norm, PyTorch's
/// `nn.GroupNorm` and `nn.InstanceNorm2d`.
extension Tensor {
    /// (x - mean) / sqrt(variance + epsilon) with the biased variance over `axes`.
    func standardized(axes: [Int], epsilon: Float) throws -> Tensor {
        let centred = try self - mean(axes: axes, keepDims: true)
        return try centred * (centred.square().mean(axes: axes, keepDims: true) + epsilon).rsqrt()
    }

    /// Group normalisation of (n, c, ...): the channels split into `groups` groups of
    /// c / groups, each sample's group standardised over its channels and positions, then
    /// scaled and shifted per channel by `<name>.weight` and `<name>.bias` (c).
    public func groupNorm(groups: Int, name: String, epsilon: Float = 1e-5,
                          weightInit: Initializer = .ones, biasInit: Initializer = .zeros) throws -> Tensor {
        guard rank >= 2 else { throw GraphError(op: "group_norm", "'\(name)' needs (n, c, ...), got \(shape)") }
        let c = shape[1]
        guard groups >= 1, c % groups == 0 else {
            throw GraphError(op: "group_norm", "'\(name)': \(groups) groups do not divide \(c) channels")
        }
        let grouped = try reshape([shape[0], groups, -1]).standardized(axes: [2], epsilon: epsilon).reshape(shape)
        let perChannel = Shape([1, c] + [Int](repeating: 1, count: rank - 2))
        let weight = try graph.parameter(name + ".weight", [c], initializer: weightInit).reshape(perChannel)
        let bias = try graph.parameter(name + ".bias", [c], initializer: biasInit).reshape(perChannel)
        return try grouped * weight + bias
    }

    /// Instance normalisation of (n, c, spatial...): each sample's channel standardised
    /// over its positions; no affine parameters (PyTorch's default).
    public func instanceNorm(epsilon: Float = 1e-5) throws -> Tensor {
        guard rank >= 3 else { throw GraphError(op: "instance_norm", "needs (n, c, h, ...), got \(shape)") }
        return try standardized(axes: Array(2..<rank), epsilon: epsilon)
    }
}
