/// Dead-code elimination: keeps only the nodes the outputs need.
public func eliminateDeadCode(_ program: Program) -> Program {
    var needed = [Bool](repeating: false, count: program.nodes.count)
    var stack = program.outputs
    while let id = stack.popLast() {
        if needed[id] { continue }
        needed[id] = true
        stack.append(contentsOf: program.nodes[id].inputs)
    }
    var b = ProgramBuilder()
    var map = [Int](repeating: -1, count: program.nodes.count)
    for (id, node) in program.nodes.enumerated() where needed[id] {
        map[id] = b.add(node.op, node.inputs.map { map[$0] }, node.shape, origin: node.origin)
    }
    return Program(nodes: b.nodes, outputs: program.outputs.map { map[$0] })
}
