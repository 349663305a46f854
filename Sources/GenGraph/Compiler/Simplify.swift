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
