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

    var layout: StridedLayout { StridedLayout(shape: shape, strides: strides) }
    var isContiguous: Bool { layout.isContiguous }
}
