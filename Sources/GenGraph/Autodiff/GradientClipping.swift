/// Gradient-norm clipping as graph nodes (PyTorch's `clip_grad_norm_`), so the
/// clipped gradients are ordinary values: eager mode hands them to the
/// optimiser, and a compiled plan, whose updates wait for their gradients,
/// applies no update before the norm over all of them is known.
extension Graph {
    /// `gradients` scaled by min(1, maxNorm / (norm + 1e-6)), norm being the L2 norm of all of
    /// them together (each gradient's sum of squares, summed, then the square root).
    public func clippedByGlobalNorm(_ gradients: [Tensor], maxNorm: Float) throws -> [Tensor] {
        guard maxNorm > 0, maxNorm.isFinite else {
            throw GraphError(op: "clip_norm", "the largest norm must be a finite number > 0, got \(maxNorm)")
        }
        guard let first = gradients.first else { return [] }
        var squares = try first.square().sum()
        for g in gradients.dropFirst() { squares = try squares + g.square().sum() }
        // PyTorch's eps keeps a zero gradient finite; the coefficient never exceeds 1.
        let coefficient = try (maxNorm / (squares.sqrt() + 1e-6)).minimum(1)
        return try gradients.map { try $0 * coefficient }
    }
}
