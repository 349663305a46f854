/// The dimensions of an f32 tensor, row-major. Rank 0 is a scalar.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(arrayLiteral dims: Int...) { self.dims = dims }

    public var rank: Int { dims.count }
    public var count: Int { dims.reduce(1, *) }
    public subscript(axis: Int) -> Int { dims[axis] }

    /// Element strides of the contiguous row-major layout.
    public var contiguousStrides: [Int] {
        var strides = [Int](repeating: 1, count: rank)
        var step = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) {
            strides[axis] = step
            step *= dims[axis]
        }
        return strides
    }

    public var description: String { "[" + dims.map(String.init).joined(separator: ",") + "]" }

    /// The numpy broadcast of two shapes, or nil when some pair of aligned dims
    /// differs and neither is 1.
    public static func broadcast(_ a: Shape, _ b: Shape) -> Shape? {
        let rank = max(a.rank, b.rank)
        var dims = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.rank ? 1 : a.dims[i - (rank - a.rank)]
            let db = i < rank - b.rank ? 1 : b.dims[i - (rank - b.rank)]
            if da == db || db == 1 { dims[i] = da } else if da == 1 { dims[i] = db } else { return nil }
        }
        return Shape(dims)
    }

    /// This shape with `rank - self.rank` leading ones, for aligning before a broadcast.
    func leftPadded(to rank: Int) -> Shape {
        Shape([Int](repeating: 1, count: max(0, rank - self.rank)) + dims)
    }
}
