import Foundation

/// Algebraic identities and constant folding: x+0, x-0, x*1, x/1, constant
/// arithmetic, no-op and chained reshapes/permutes, broadcasts of constants,
/// stop_gradient (a no-op once gradients exist), reductions over size-1 axes,
/// and transposes folded into matmul's operand flags. Leaves dead nodes for DCE.
public func simplify(_ program: Program) -> Program {
    var b = ProgramBuilder()
    var map = [Int](repeating: -1, count: program.nodes.count)

    func constantValue(_ id: Int) -> Float? {
        if case .constant(let v) = b.node(id).op { return v }
        return nil
    }
    /// The input of a permute that swaps exactly the last two axes.
    func swappedLastTwo(_ id: Int) -> Int? {
        guard case .permute(let perm) = b.node(id).op, perm.count >= 2 else { return nil }
        var expected = Array(0..<perm.count)
        expected.swapAt(perm.count - 1, perm.count - 2)
        return perm == expected ? b.node(id).inputs[0] : nil
    }

    for (id, node) in program.nodes.enumerated() {
        let x = node.inputs.map { map[$0] }
        let shape = node.shape
        func emit(_ op: Op, _ inputs: [Int]) -> Int { b.add(op, inputs, shape, origin: node.origin) }

        let result: Int
        switch node.op {
        case .stopGradient:
            result = x[0]
        case .reshape, .broadcast:
            if b.shape(x[0]) == shape { result = x[0] }
            else if let c = constantValue(x[0]) { result = emit(.constant(c), []) }
            else if case .reshape = node.op, case .reshape = b.node(x[0]).op {
                let source = b.node(x[0]).inputs[0]
                result = b.shape(source) == shape ? source : emit(.reshape, [source])
            }
            else { result = emit(node.op, x) }
        case .permute(let perm):
            if perm == Array(0..<perm.count) { result = x[0] }
            else if case .permute(let inner) = b.node(x[0]).op {
                let composed = perm.map { inner[$0] }
                let source = b.node(x[0]).inputs[0]
                result = composed == Array(0..<perm.count) ? source : emit(.permute(composed), [source])
            } else if let c = constantValue(x[0]) { result = emit(.constant(c), []) }
            else { result = emit(node.op, x) }
        case .unary(let f):
            if let c = constantValue(x[0]) { result = emit(.constant(evaluate(f, c)), []) }
            else { result = emit(node.op, x) }
        case .binary(let f):
            let (ca, cb) = (constantValue(x[0]), constantValue(x[1]))
            if let ca, let cb { result = emit(.constant(evaluate(f, ca, cb)), []) }
            else if (f == .add && ca == 0) || (f == .mul && ca == 1) { result = x[1] }
            else if ((f == .add || f == .sub) && cb == 0) || ((f == .mul || f == .div) && cb == 1) { result = x[0] }
            else { result = emit(node.op, x) }
        case .select:
            if let c = constantValue(x[0]) { result = c != 0 ? x[1] : x[2] }
            else if x[1] == x[2] { result = x[1] }
            else { result = emit(node.op, x) }
        case .reduce(let f, let axes):
            if axes.allSatisfy({ b.shape(x[0])[$0] == 1 }) { result = x[0] }
            else if f == .max, let c = constantValue(x[0]) { result = emit(.constant(c), []) }
            else { result = emit(node.op, x) }
        case .matmul(let ta, let tb):
            var (a, bb, ta, tb) = (x[0], x[1], ta, tb)
            if let source = swappedLastTwo(a) { a = source; ta.toggle() }
            if let source = swappedLastTwo(bb) { bb = source; tb.toggle() }
            result = emit(.matmul(transposeA: ta, transposeB: tb), [a, bb])
        default:
            result = emit(node.op, x)
        }
        map[id] = result
    }
    return Program(nodes: b.nodes, outputs: program.outputs.map { map[$0] })
}

/// Scalar semantics of the unary functions, for constant folding.
func evaluate(_ f: UnaryFunction, _ x: Float) -> Float {
    switch f {
    case .neg: return -x
    case .abs: return Swift.abs(x)
    case .sign: return x > 0 ? 1 : x < 0 ? -1 : x
    case .exp: return Foundation.exp(x)
    case .log: return Foundation.log(x)
    case .log1p: return Foundation.log1p(x)
    case .sqrt: return x.squareRoot()
    case .rsqrt: return 1 / x.squareRoot()
    case .square: return x * x
    case .tanh: return Foundation.tanh(x)
    case .sigmoid: return 1 / (1 + Foundation.exp(-x))
    case .relu: return x.isNaN ? x : Swift.max(x, 0)
    case .softplus: return Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
    }
}

/// Scalar semantics of the binary functions, for constant folding.
func evaluate(_ f: BinaryFunction, _ a: Float, _ b: Float) -> Float {
    switch f {
    case .add: return a + b
    case .sub: return a - b
    case .mul: return a * b
    case .div: return a / b
    case .pow: return Foundation.pow(a, b)
    case .maximum: return a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
    case .minimum: return a.isNaN || b.isNaN ? .nan : Swift.min(a, b)
    case .less: return a < b ? 1 : 0
    case .lessEqual: return a <= b ? 1 : 0
    case .greater: return a > b ? 1 : 0
    case .greaterEqual: return a >= b ? 1 : 0
    case .equal: return a == b ? 1 : 0
    case .notEqual: return a != b ? 1 : 0
    }
}
