/// 1 where the label's logit is the row's maximum (the prediction is right; a tie counts as
/// right), else 0: logits (batch, classes) and integer labels (batch) give (batch).
public func correctPredictions(logits: Tensor, labels: Tensor) throws -> Tensor {
    guard logits.rank == 2, labels.shape == [logits.shape[0]] else {
        throw GraphError(op: "correct", "needs logits (batch, classes) and labels (batch), got \(logits.shape) and \(labels.shape)")
    }
    // The label's logit exactly: every other term is a product with 0.
    let outOfRange = GraphError(op: "correct", "a label is not an integer in [0, \(logits.shape[1])) (the logits' classes)")
    let picked = try (logits * labels.oneHot(depth: logits.shape[1], outOfRange: outOfRange)).sum(axes: [1])
    return try picked.greaterEqual(logits.max(axes: [1]))
}
