/// Normalisations with statistics of each sample alone (no running statistics,
/// the same in training and sampling): group norm and instance norm, PyTorch's
/// `nn.GroupNorm` and `nn.InstanceNorm2d`.
extension Tensor {
    /// The mean and 1 / sqrt(variance + epsilon) over `axes` (biased variance), kept as size-1 axes.
    func standardization(axes: [Int], epsilon: Float) throws -> (mean: Tensor, scale: Tensor) {
        let mean = try self.mean(axes: axes, keepDims: true)
        return (mean, try ((self - mean).square().mean(axes: axes, keepDims: true) + epsilon).rsqrt())
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
        let n = shape[0], spatial = Array(shape.dims.dropFirst(2)), ones = [Int](repeating: 1, count: rank - 2)
        // Over (n, groups, c / groups, spatial...), which splits x's axes: the statistics fold
        // axes 2..., and normalising, scaling and shifting (per channel, broadcast) are one
        // elementwise pass over the same space, which the activation after it can join (`refines`).
        let grouped = try reshape(Shape([n, groups, c / groups] + spatial))
        let (mean, scale) = try grouped.standardization(axes: Array(2..<(rank + 1)), epsilon: epsilon)
        let perChannel = Shape([1, groups, c / groups] + ones)
        let weight = try graph.parameter(name + ".weight", [c], initializer: weightInit).reshape(perChannel)
        let bias = try graph.parameter(name + ".bias", [c], initializer: biasInit).reshape(perChannel)
        return try ((grouped - mean) * scale * weight + bias).reshape(shape)
    }

    /// Instance normalisation of (n, c, spatial...): each sample's channel standardised
    /// over its positions; no affine parameters (PyTorch's default).
    public func instanceNorm(epsilon: Float = 1e-5) throws -> Tensor {
        guard rank >= 3 else { throw GraphError(op: "instance_norm", "needs (n, c, h, ...), got \(shape)") }
        let (mean, scale) = try standardization(axes: Array(2..<rank), epsilon: epsilon)
        return try (self - mean) * scale
    }
}
