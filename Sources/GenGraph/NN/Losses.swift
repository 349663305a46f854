/// Losses built from primitives, computed stably.

/// Elementwise softplus(l) - l·t. The softplus kernel computes max(l, 0) + log1p(exp(-|l|)),
/// never overflowing, and its gradient is sigmoid(l): the loss's gradient is sigmoid(l) - t
/// in two ops rather than the dozen the spelled-out formula differentiates into.
public func bceWithLogits(_ logits: Tensor, _ targets: Tensor) throws -> Tensor {
    try logits.softplus() - logits * targets
}

/// Mean over the batch of -log softmax(logits)[label]; labels are integer-valued (batch).
public func crossEntropy(logits: Tensor, labels: Tensor) throws -> Tensor {
    guard logits.rank == 2, labels.shape == [logits.shape[0]] else {
        throw GraphError(op: "cross_entropy", "needs logits (batch, classes) and labels (batch), got \(logits.shape) and \(labels.shape)")
    }
    let outOfRange = GraphError(op: "cross_entropy", "a label is not an integer in [0, \(logits.shape[1])) (the logits' classes)")
    let picked = try (logits * labels.oneHot(depth: logits.shape[1], outOfRange: outOfRange)).sum(axes: [1])
    return try (logits.logSumExp(axes: [1]) - picked).mean()
}

/// Mean squared error over all elements.
public func meanSquaredError(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try (a - b).square().mean()
}

/// Mean absolute error over all elements (L1; its gradient at a tie is 0).
public func meanAbsoluteError(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try (a - b).abs().mean()
}

/// Sum over every non-batch axis, then mean over the batch (docs/zoo.md's "per-sample mean").
public func perSampleMean(_ x: Tensor) throws -> Tensor {
    try x.sum(axes: Array(1..<Swift.max(x.rank, 1))).mean()
}
