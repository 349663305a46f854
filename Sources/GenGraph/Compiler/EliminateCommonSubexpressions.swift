/// Common-subexpression elimination: a node equal to an earlier one (same op,
/// attributes, inputs and shape) is replaced by it. Random draws are never
/// equal (each has its own stream), so noise is never shared by accident.
public func eliminateCommonSubexpressions(_ program: Program) -> Program {
    struct Key: Hashable {
        let op: Op
        let inputs: [Int]
        let shape: Shape
    }
    var b = ProgramBuilder()
    var map = [Int](repeating: -1, count: program.nodes.count)
    var seen: [Key: Int] = [:]
    for (id, node) in program.nodes.enumerated() {
        let inputs = node.inputs.map { map[$0] }
        let key = Key(op: node.op, inputs: inputs, shape: node.shape)
        if let earlier = seen[key] {
            map[id] = earlier
        } else {
            map[id] = b.add(node.op, inputs, node.shape, origin: node.origin)
            seen[key] = map[id]
        }
    }
    return Program(nodes: b.nodes, outputs: program.outputs.map { map[$0] })
}
