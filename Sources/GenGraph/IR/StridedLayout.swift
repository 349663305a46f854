/// Element strides over a shape: how a view (eager) or an operand (plans)
/// walks its storage. The one place that decides contiguity and how GEMM can
/// read a strided tensor.
struct StridedLayout {
    let shape: Shape
    let strides: [Int]

    /// Row-major without gaps (the strides of size-1 axes do not matter).
    var isContiguous: Bool {
        var expected = 1
        for axis in stride(from: shape.rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// One stride for all leading (batch) axes before the last `trailing`,
    /// when they fold into one; 0 when there is no batch.
    func batchStride(trailing: Int) -> Int? {
        let batchAxes = (0..<(shape.rank - trailing)).filter { shape[$0] != 1 }
        guard let innermost = batchAxes.last else { return 0 }
        var expected = strides[innermost]
        for axis in batchAxes.reversed() {
            if strides[axis] != expected { return nil }
            expected *= shape[axis]
        }
        return strides[innermost]
    }

    /// How GEMM reads this as a batch of matrices (the last two axes): the
    /// leading dimension, whether the storage is transposed, and the batch
    /// stride; nil when it needs a contiguous copy first.
    var matrix: (ld: Int, transposed: Bool, batchStride: Int)? {
        let r = shape.rank, rows = shape[r - 2], cols = shape[r - 1]
        let sr = strides[r - 2], sc = strides[r - 1]
        guard let batch = batchStride(trailing: 2) else { return nil }
        if (cols == 1 || sc == 1) && (rows == 1 || sr >= cols) { return (rows == 1 ? cols : sr, false, batch) }
        if (rows == 1 || sr == 1) && (cols == 1 || sc >= rows) { return (cols == 1 ? rows : sc, true, batch) }
        return nil
    }
}
