import Kernels

/// The dimensions of an f32 tensor, row-major. Rank 0 is a scalar.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(arrayLiteral dims: Int...) { self.dims = dims }

    public var rank: Int { dims.count }
    public var count: Int { dims.reduce(1, *) }

    /// The most elements one tensor may have: 2^31, 8 GiB of f32. Every node's shape is
    /// checked against it as the node is built, so counts, strides and byte sizes
    /// computed from shapes cannot overflow.
    public static let maxElements = 1 << 31
    /// The most axes a tensor may have: the kernels' limit.
    public static let maxRank = Int(GG_MAX_RANK)

    /// The element count, or the error naming `op` when a dimension is negative, the rank
    /// exceeds `maxRank` or the elements (counting a zero dimension as one) exceed `maxElements`.
    public func checkedCount(op: String) throws -> Int {
        if rank > Shape.maxRank { throw GraphError(op: op, "shape \(self) has \(rank) axes; at most \(Shape.maxRank) are supported") }
        var bound = 1
        for d in dims {
            if d < 0 { throw GraphError(op: op, "negative dimension in \(self)") }
            // Both factors are at most 2^31 here, so the product fits before it is compared.
            guard d <= Shape.maxElements, case let next = bound * Swift.max(d, 1), next <= Shape.maxElements else {
                throw GraphError(op: op, "shape \(self) has more than \(Shape.maxElements) elements (8 GiB of f32)")
            }
            bound = next
        }
        return count
    }
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
