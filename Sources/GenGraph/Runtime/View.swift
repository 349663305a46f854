/// A strided window onto a buffer: how eager execution represents reshape,
/// permute, broadcast and slice results without copying.
struct View {
    let buffer: Buffer
    let offset: Int
    let shape: Shape
    let strides: [Int]

    init(buffer: Buffer, offset: Int = 0, shape: Shape, strides: [Int]? = nil) {
        self.buffer = buffer
        self.offset = offset
        self.shape = shape
        self.strides = strides ?? shape.contiguousStrides
    }

    var pointer: UnsafeMutablePointer<Float> { buffer.pointer + offset }

    /// True when the elements are laid out row-major without gaps (size-1 axes' strides don't matter).
    var isContiguous: Bool {
        var expected = 1
        for axis in stride(from: shape.rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }
}
