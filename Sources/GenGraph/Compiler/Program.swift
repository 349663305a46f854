/// An immutable snapshot of the part of a graph that computes some outputs:
/// what compiler passes take and return. Node ids are positions in `nodes`
/// (a topological order); `outputs` may repeat or point at leaves.
public struct Program: Equatable {
    public var nodes: [Node]
    public var outputs: [Int]

    public init(nodes: [Node], outputs: [Int]) {
        self.nodes = nodes
        self.outputs = outputs
    }

    /// The nodes of `graph` that `outputs` need, renumbered densely.
    public init(_ graph: Graph, outputs: [Tensor]) {
        let needed = graph.neededNodes(for: outputs.map(\.id))
        var newId = [Int: Int]()
        var nodes: [Node] = []
        for id in needed {
            let n = graph.nodes[id]
            newId[id] = nodes.count
            nodes.append(Node(op: n.op, inputs: n.inputs.map { newId[$0]! }, shape: n.shape, origin: n.origin))
        }
        self.init(nodes: nodes, outputs: outputs.map { newId[$0.id]! })
    }

    /// Number of consumers of each node (an output counts as one).
    public var useCounts: [Int] {
        var uses = [Int](repeating: 0, count: nodes.count)
        for n in nodes { for i in n.inputs { uses[i] += 1 } }
        for o in outputs { uses[o] += 1 }
        return uses
    }

    /// The consumers of each node, in id order.
    public var consumers: [[Int]] {
        var result = [[Int]](repeating: [], count: nodes.count)
        for (id, n) in nodes.enumerated() { for i in Set(n.inputs) { result[i].append(id) } }
        return result
    }

    /// The text form, as `Graph.text`.
    public func text(name: String = "main") -> String {
        var lines = ["graph \(name) {"]
        lines += nodes.enumerated().map { "  " + $1.line($0) }
        lines += outputs.map { "  output %\($0)" }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    /// Checks the invariants every pass must keep: inputs precede their
    /// consumers and every node's shape is what its op infers.
    public func verify() throws {
        for (id, n) in nodes.enumerated() {
            for i in n.inputs where i >= id || i < 0 {
                throw GraphError(op: n.op.name, "node %\(id) reads %\(i), which does not precede it")
            }
            let declared: Shape? = n.shape
            let inferred = try n.op.inferShape(n.inputs.map { nodes[$0].shape }, declared: declared)
            if inferred != n.shape { throw GraphError(op: n.op.name, "node %\(id) has shape \(n.shape), its op infers \(inferred)") }
        }
        for o in outputs where o < 0 || o >= nodes.count { throw GraphError(op: "output", "no node %\(o)") }
    }
}

/// Rebuilds a program node by node, deduplicating nothing: the passes' common
/// tool. `map[old]` is the new id of each old node.
struct ProgramBuilder {
    private(set) var nodes: [Node] = []

    mutating func add(_ op: Op, _ inputs: [Int], _ shape: Shape, origin: String?) -> Int {
        nodes.append(Node(op: op, inputs: inputs, shape: shape, origin: origin))
        return nodes.count - 1
    }

    func shape(_ id: Int) -> Shape { nodes[id].shape }
    func node(_ id: Int) -> Node { nodes[id] }
}
