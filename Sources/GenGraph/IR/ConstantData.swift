/// The values of a constant tensor whose elements differ (a noise schedule), named
/// for the graph's text form. Equal names and values are equal ops, so common
/// subexpression elimination merges copies.
public struct ConstantData: Hashable, Sendable {
    public let name: String
    public let values: [Float]

    public init(name: String, values: [Float]) {
        self.name = name
        self.values = values
    }

    /// FNV-1a over the values' bits: the text form shows it, not the values.
    public var fingerprint: UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for v in values {
            var bits = v.bitPattern
            for _ in 0..<4 {
                hash = (hash ^ (bits & 0xFF)) &* 0x0100_0193
                bits >>= 8
            }
        }
        return hash
    }
}

extension Graph {
    /// A constant tensor holding `data`'s values in row-major order.
    public func constant(_ data: ConstantData, _ shape: Shape) throws -> Tensor {
        guard shape.count == data.values.count else {
            throw GraphError(op: "const_data", "'\(data.name)' has \(data.values.count) values, shape \(shape) holds \(shape.count)")
        }
        return try add(.constantData(data), [], shape: shape)
    }
}
