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
        let n = shape[0], spatial = [Int](repeating: 1, count: rank - 2)
        let (mean, scale) = try reshape([n, groups, -1]).standardization(axes: [2], epsilon: epsilon)
        // The group statistics per channel, (n, c, 1, ...): normalising, scaling and shifting are
        // then one elementwise pass over x in its own shape, which a reshape would split in two.
        func perChannel(_ statistic: Tensor) throws -> Tensor {
            try statistic.expand(to: [n, groups, c / groups]).reshape(Shape([n, c] + spatial))
        }
        let weight = try graph.parameter(name + ".weight", [c], initializer: weightInit).reshape(Shape([1, c] + spatial))
        let bias = try graph.parameter(name + ".bias", [c], initializer: biasInit).reshape(Shape([1, c] + spatial))
        return try (self - perChannel(mean)) * (perChannel(scale) * weight) + bias
    }

    /// Instance normalisation of (n, c, spatial...): each sample's channel standardised
    /// over its positions; no affine parameters (PyTorch's default).
    public func instanceNorm(epsilon: Float = 1e-5) throws -> Tensor {
        guard rank >= 3 else { throw GraphError(op: "instance_norm", "needs (n, c, h, ...), got \(shape)") }
        let (mean, scale) = try standardization(axes: Array(2..<rank), epsilon: epsilon)
        return try (self - mean) * scale
    }
}
