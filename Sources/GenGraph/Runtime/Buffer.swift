/// Host memory for f32 values, 64-byte aligned for the kernels' vector loads.
public final class Buffer {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
    }

    public convenience init(copying values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// A realised tensor: a shape and its values, contiguous and row-major.
public struct TensorValue {
    public let shape: Shape
    let buffer: Buffer

    public init(shape: Shape, scalars: [Float]) throws {
        if shape.count != scalars.count {
            throw GraphError(op: "tensor", "shape \(shape) needs \(shape.count) values, got \(scalars.count)")
        }
        self.shape = shape
        buffer = Buffer(copying: scalars)
    }

    init(shape: Shape, buffer: Buffer) {
        self.shape = shape
        self.buffer = buffer
    }

    public var scalars: [Float] { Array(UnsafeBufferPointer(start: buffer.pointer, count: shape.count)) }
    /// The single value of a one-element tensor.
    public var scalar: Float { buffer.pointer[0] }
}
