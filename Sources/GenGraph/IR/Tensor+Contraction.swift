/// Matrix products, convolutions and pooling.
extension Tensor {
    /// (..., M, K) x (..., K, N); a transposed operand is read transposed by the
    /// kernel, never copied. A 2-D right operand is shared across the batch.
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        if rank > 2 && other.rank == 2 && !transposeA {
            // Fold the batch into M: one GEMM instead of a batch of small ones.
            let k = shape[rank - 1]
            let flat = try reshape([-1, k]).matmul(other, transposeB: transposeB)
            return try flat.reshape(Shape(Array(shape.dims.dropLast()) + [flat.shape[1]]))
        }
        return try graph.add(.matmul(transposeA: transposeA, transposeB: transposeB), [self, other])
    }

    /// NCHW convolution with weight (oc, c, kh, kw), no bias.
    public func conv2d(_ weight: Tensor, stride: Int = 1, padding: Int = 0) throws -> Tensor {
        try graph.add(.conv2d(Conv2DAttributes(stride: stride, padding: padding)), [self, weight])
    }

    /// Transposed convolution with weight (ic, oc, kh, kw) (PyTorch layout);
    /// output size (h - 1) * stride - 2 * padding + kh + outputPadding.
    public func convTranspose2d(_ weight: Tensor, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0) throws -> Tensor {
        guard rank == 4, weight.rank == 4 else {
            throw GraphError(op: "conv_transpose2d", "needs x (n, ic, h, w) and w (ic, oc, kh, kw), got \(shape) and \(weight.shape)")
        }
        if outputPadding < 0 || outputPadding >= Swift.max(stride, 1) {
            throw GraphError(op: "conv_transpose2d", "output padding \(outputPadding) must be in [0, stride)")
        }
        // Bounded like every size, so the output size below cannot overflow (shape inference judges the rest).
        if stride > Shape.maxElements || padding > Shape.maxElements {
            throw GraphError(op: "conv_transpose2d", "stride \(stride) or padding \(padding) exceeds \(Shape.maxElements)")
        }
        let oh = (shape[2] - 1) * stride - 2 * padding + weight.shape[2] + outputPadding
        let ow = (shape[3] - 1) * stride - 2 * padding + weight.shape[3] + outputPadding
        return try graph.add(.convTranspose2d(Conv2DAttributes(stride: stride, padding: padding)), [self, weight],
                             shape: [shape[0], weight.shape[1], oh, ow])
    }

    public func maxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        try graph.add(.maxPool2d(Pool2DAttributes(kernel: kernel, stride: stride ?? kernel, padding: padding)), [self])
    }
}
