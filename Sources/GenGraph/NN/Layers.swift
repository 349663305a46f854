/// Layers as functions that declare their parameters in the graph under
/// `name` (`<name>.weight`, `<name>.bias`) in PyTorch's layouts and default
/// initialisation, so checkpoints map one-to-one onto PyTorch modules.
extension Tensor {
    /// y = x Wᵀ + b with W (units, in), PyTorch's `nn.Linear`.
    public func dense(_ units: Int, name: String, weightInit: Initializer? = nil, biasInit: Initializer? = nil) throws -> Tensor {
        guard rank == 2 else { throw GraphError(op: "dense", "'\(name)' needs input (batch, features), got \(shape)") }
        let fanIn = shape[1]
        let w = try graph.parameter(name + ".weight", [units, fanIn], initializer: weightInit ?? .fanIn(fanIn))
        let b = try graph.parameter(name + ".bias", [units], initializer: biasInit ?? .fanIn(fanIn))
        return try matmul(w, transposeB: true) + b
    }

    /// NCHW convolution with weight (out, in, k, k) and bias, PyTorch's `nn.Conv2d`.
    /// `mask` makes it PixelCNN's masked convolution (type A or B).
    public func conv2d(_ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, name: String,
                       mask: ConvMask? = nil, weightInit: Initializer? = nil, biasInit: Initializer? = nil) throws -> Tensor {
        guard rank == 4 else { throw GraphError(op: "conv2d", "'\(name)' needs input (n, c, h, w), got \(shape)") }
        let fanIn = try Shape([shape[1], kernel, kernel]).checkedCount(op: "conv2d")
        var w = try graph.parameter(name + ".weight", [outChannels, shape[1], kernel, kernel], initializer: weightInit ?? .fanIn(fanIn))
        if let mask { w = try w * graph.add(.convMask(mask), [], shape: w.shape) }
        let b = try graph.parameter(name + ".bias", [outChannels], initializer: biasInit ?? .fanIn(fanIn))
        return try conv2d(w, stride: stride, padding: padding) + b.reshape([outChannels, 1, 1])
    }

    /// Transposed convolution with weight (in, out, k, k) and bias, PyTorch's `nn.ConvTranspose2d`.
    public func convTranspose2d(_ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
                                name: String, weightInit: Initializer? = nil, biasInit: Initializer? = nil) throws -> Tensor {
        guard rank == 4 else { throw GraphError(op: "conv_transpose2d", "'\(name)' needs input (n, c, h, w), got \(shape)") }
        // PyTorch computes fan-in from weight dim 1 (the output channels) for transposed convs.
        let fanIn = try Shape([outChannels, kernel, kernel]).checkedCount(op: "conv_transpose2d")
        let w = try graph.parameter(name + ".weight", [shape[1], outChannels, kernel, kernel], initializer: weightInit ?? .fanIn(fanIn))
        let b = try graph.parameter(name + ".bias", [outChannels], initializer: biasInit ?? .fanIn(fanIn))
        return try convTranspose2d(w, stride: stride, padding: padding, outputPadding: outputPadding) + b.reshape([outChannels, 1, 1])
    }

    /// Batch normalisation over every axis but 1 (features or channels).
    /// Training uses batch statistics (biased variance) and records running
    /// statistics updates with `momentum` (the unbiased variance, as PyTorch);
    /// evaluation uses the running statistics. With `graph.batchStatisticsReplicas`
    /// ranks the statistics are over all their batches (sums all-reduced), as
    /// PyTorch's SyncBatchNorm.
    public func batchNorm(name: String, training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5,
                          gammaInit: Initializer = .ones) throws -> Tensor {
        guard rank == 2 || rank == 4 else { throw GraphError(op: "batch_norm", "'\(name)' needs (n, c) or (n, c, h, w), got \(shape)") }
        let c = shape[1]
        let statShape = Shape([1, c] + [Int](repeating: 1, count: rank - 2))
        let gamma = try graph.parameter(name + ".weight", [c], initializer: gammaInit).reshape(statShape)
        let beta = try graph.parameter(name + ".bias", [c], initializer: .zeros).reshape(statShape)
        let runningMean = try graph.state(name + ".running_mean", [c], initializer: .zeros)
        let runningVar = try graph.state(name + ".running_var", [c], initializer: .ones)
        let axes = [0] + Array(2..<rank)
        let mean: Tensor, variance: Tensor
        if training {
            let replicas = graph.batchStatisticsReplicas
            let n = Float(shape.count / c * replicas)
            if replicas > 1 {
                mean = try self.sum(axes: axes, keepDims: true).allReduce() / n
                variance = try (self - mean).square().sum(axes: axes, keepDims: true).allReduce() / n
            } else {
                mean = try self.mean(axes: axes, keepDims: true)
                variance = try (self - mean).square().mean(axes: axes, keepDims: true)
            }
            let unbiased = try variance.reshape([c]) * (n / Swift.max(n - 1, 1))
            try graph.updateState(name + ".running_mean", to: runningMean * (1 - momentum) + mean.reshape([c]).stopGradient() * momentum)
            try graph.updateState(name + ".running_var", to: runningVar * (1 - momentum) + unbiased.stopGradient() * momentum)
        } else {
            mean = try runningMean.reshape(statShape)
            variance = try runningVar.reshape(statShape)
        }
        return try (self - mean) * (variance + epsilon).rsqrt() * gamma + beta
    }
}
