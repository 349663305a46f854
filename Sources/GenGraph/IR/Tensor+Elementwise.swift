/// Elementwise operations with numpy broadcasting. Broadcasting is made
/// explicit here (reshape + broadcast nodes), so the IR's binary ops always
/// see equal shapes and gradient rules stay short.
extension Tensor {
    /// This tensor stretched to `shape` by numpy rules (leading axes added as needed).
    public func expand(to shape: Shape, op: String = "broadcast") throws -> Tensor {
        if self.shape == shape { return self }
        if rank > shape.rank || Shape.broadcast(self.shape, shape) != shape {
            throw GraphError(op: op, "cannot broadcast \(self.shape) to \(shape)")
        }
        let aligned = self.shape.leftPadded(to: shape.rank)
        let x = aligned == self.shape ? self : try graph.add(.reshape, [self], shape: aligned)
        return aligned == shape ? x : try graph.add(.broadcast, [x], shape: shape)
    }

    func binary(_ f: BinaryFunction, _ other: Tensor) throws -> Tensor {
        guard let target = Shape.broadcast(shape, other.shape) else {
            throw GraphError(op: f.rawValue, "cannot broadcast \(shape) with \(other.shape)")
        }
        return try graph.add(.binary(f), [expand(to: target, op: f.rawValue), other.expand(to: target, op: f.rawValue)])
    }

    func scalar(_ value: Float) throws -> Tensor { try graph.constant(value) }

    func unary(_ f: UnaryFunction) throws -> Tensor { try graph.add(.unary(f), [self]) }

    public func neg() throws -> Tensor { try unary(.neg) }
    public func abs() throws -> Tensor { try unary(.abs) }
    public func sign() throws -> Tensor { try unary(.sign) }
    public func exp() throws -> Tensor { try unary(.exp) }
    public func log() throws -> Tensor { try unary(.log) }
    public func log1p() throws -> Tensor { try unary(.log1p) }
    public func sqrt() throws -> Tensor { try unary(.sqrt) }
    public func rsqrt() throws -> Tensor { try unary(.rsqrt) }
    public func square() throws -> Tensor { try unary(.square) }
    public func tanh() throws -> Tensor { try unary(.tanh) }
    public func sigmoid() throws -> Tensor { try unary(.sigmoid) }
    public func relu() throws -> Tensor { try unary(.relu) }
    public func softplus() throws -> Tensor { try unary(.softplus) }
    public func silu() throws -> Tensor { try unary(.silu) }
    public func sin() throws -> Tensor { try unary(.sin) }
    public func cos() throws -> Tensor { try unary(.cos) }
    public func floor() throws -> Tensor { try unary(.floor) }
    public func leakyRelu(_ slope: Float = 0.2) throws -> Tensor { try graph.add(.leakyRelu(slope: slope), [self]) }
    public func clamp(_ lo: Float, _ hi: Float) throws -> Tensor { try graph.add(.clamp(min: lo, max: hi), [self]) }
    /// The same values, but no gradient flows back through it.
    public func stopGradient() throws -> Tensor { try graph.add(.stopGradient, [self]) }
    /// The sum of this tensor over the ranks of a data-parallel job (itself in one process).
    public func allReduce() throws -> Tensor { try graph.add(.allReduce, [self]) }

    public func pow(_ exponent: Tensor) throws -> Tensor { try binary(.pow, exponent) }
    public func pow(_ exponent: Float) throws -> Tensor { try binary(.pow, scalar(exponent)) }
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(.maximum, other) }
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(.minimum, other) }
    public func maximum(_ value: Float) throws -> Tensor { try binary(.maximum, scalar(value)) }
    public func minimum(_ value: Float) throws -> Tensor { try binary(.minimum, scalar(value)) }
    public func less(_ other: Tensor) throws -> Tensor { try binary(.less, other) }
    public func lessEqual(_ other: Tensor) throws -> Tensor { try binary(.lessEqual, other) }
    public func greater(_ other: Tensor) throws -> Tensor { try binary(.greater, other) }
    public func greaterEqual(_ other: Tensor) throws -> Tensor { try binary(.greaterEqual, other) }
    public func equal(_ other: Tensor) throws -> Tensor { try binary(.equal, other) }
    public func notEqual(_ other: Tensor) throws -> Tensor { try binary(.notEqual, other) }
    public func greater(_ value: Float) throws -> Tensor { try binary(.greater, scalar(value)) }
    public func less(_ value: Float) throws -> Tensor { try binary(.less, scalar(value)) }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.add, b) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.sub, b) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.mul, b) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.div, b) }
    public static func + (a: Tensor, b: Float) throws -> Tensor { try a.binary(.add, a.scalar(b)) }
    public static func - (a: Tensor, b: Float) throws -> Tensor { try a.binary(.sub, a.scalar(b)) }
    public static func * (a: Tensor, b: Float) throws -> Tensor { try a.binary(.mul, a.scalar(b)) }
    public static func / (a: Tensor, b: Float) throws -> Tensor { try a.binary(.div, a.scalar(b)) }
    public static func + (a: Float, b: Tensor) throws -> Tensor { try b.scalar(a).binary(.add, b) }
    public static func - (a: Float, b: Tensor) throws -> Tensor { try b.scalar(a).binary(.sub, b) }
    public static func * (a: Float, b: Tensor) throws -> Tensor { try b.scalar(a).binary(.mul, b) }
    public static func / (a: Float, b: Tensor) throws -> Tensor { try b.scalar(a).binary(.div, b) }
    public static prefix func - (a: Tensor) throws -> Tensor { try a.neg() }
}

/// `condition != 0 ? a : b`, broadcasting all three.
public func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
    guard let ab = Shape.broadcast(a.shape, b.shape), let target = Shape.broadcast(condition.shape, ab) else {
        throw GraphError(op: "select", "cannot broadcast condition \(condition.shape), a \(a.shape), b \(b.shape)")
    }
    return try condition.graph.add(.select, [
        condition.expand(to: target, op: "select"), a.expand(to: target, op: "select"), b.expand(to: target, op: "select"),
    ])
}
