/// One node of a graph: an op applied to earlier nodes, with its inferred shape.
public struct Node: Hashable, Sendable {
    public let op: Op
    public let inputs: [Int]
    public let shape: Shape
    /// Where the node came from (a DSL location such as `vae.gg:12:5`), for dumps.
    public let origin: String?
}

/// A lazy computation graph. Nodes are only ever appended, so node ids are a
/// topological order and every `Tensor` handle stays valid.
///
///     let g = Graph()
///     let x = try g.input("x", [128, 784])
///     let h = try (x.matmul(w, transposeB: true) + b).relu()
public final class Graph {
    public private(set) var nodes: [Node] = []
    /// Values a training step writes back to `state` leaves (batch-norm running statistics).
    public private(set) var stateUpdates: [(name: String, value: Tensor)] = []
    /// How each parameter and state starts, by name.
    public private(set) var initializers: [String: Initializer] = [:]
    private var leafIndex: [String: Int] = [:]
    private var nextRandomStream = 0
    /// Applied to nodes built while set; the DSL points it at the source line it lowers.
    public var currentOrigin: String?
    /// Ranks whose batches training batch norm takes its statistics over (synchronised batch
    /// norm in a data-parallel job, `all_reduce`); 1: this process's batch alone.
    public var batchStatisticsReplicas = 1

    public init() {}

    /// Appends a node after inferring (or checking) its shape.
    @discardableResult
    public func add(_ op: Op, _ inputs: [Tensor], shape declared: Shape? = nil) throws -> Tensor {
        for t in inputs where t.graph !== self {
            throw GraphError(op: op.name, "input %\(t.id) belongs to another graph")
        }
        // A declared shape is checked before inference computes with it, the result after.
        _ = try declared?.checkedCount(op: op.name)
        let shape = try op.inferShape(inputs.map(\.shape), declared: declared)
        _ = try shape.checkedCount(op: op.name)
        nodes.append(Node(op: op, inputs: inputs.map(\.id), shape: shape, origin: currentOrigin))
        return Tensor(graph: self, id: nodes.count - 1)
    }

    public func tensor(_ id: Int) -> Tensor { Tensor(graph: self, id: id) }

    private func leaf(_ op: Op, _ name: String, _ shape: Shape) throws -> Tensor {
        if let id = leafIndex[name] {
            if nodes[id].op != op || nodes[id].shape != shape {
                throw GraphError(op: op.name, "'\(name)' already declared as \(nodes[id].op.name) \(nodes[id].shape)")
            }
            return tensor(id)
        }
        let t = try add(op, [], shape: shape)
        leafIndex[name] = t.id
        return t
    }

    /// Data fed on each run, by name.
    public func input(_ name: String, _ shape: Shape) throws -> Tensor { try leaf(.input(name), name, shape) }
    /// A trainable tensor owned by a `ParameterStore`, created with `initializer`.
    public func parameter(_ name: String, _ shape: Shape, initializer: Initializer = .zeros) throws -> Tensor {
        let t = try leaf(.parameter(name), name, shape)
        initializers[name] = initializers[name] ?? initializer
        return t
    }

    /// A persistent non-trainable tensor (running statistics), updated through `updateState`.
    public func state(_ name: String, _ shape: Shape, initializer: Initializer = .zeros) throws -> Tensor {
        let t = try leaf(.state(name), name, shape)
        initializers[name] = initializers[name] ?? initializer
        return t
    }

    public func constant(_ value: Float, _ shape: Shape = []) throws -> Tensor { try add(.constant(value), [], shape: shape) }

    /// Uniform [0, 1) draws, fresh on every run (the executor mixes in its step counter).
    public func randomUniform(_ shape: Shape) throws -> Tensor {
        nextRandomStream += 1
        return try add(.randomUniform(stream: nextRandomStream), [], shape: shape)
    }

    /// Standard normal draws, fresh on every run.
    public func randomNormal(_ shape: Shape) throws -> Tensor {
        nextRandomStream += 1
        return try add(.randomNormal(stream: nextRandomStream), [], shape: shape)
    }

    /// Records that after a training step, state `name` takes `value`.
    public func updateState(_ name: String, to value: Tensor) throws {
        guard let id = leafIndex[name], case .state = nodes[id].op else {
            throw GraphError(op: "state", "no state named '\(name)'")
        }
        if nodes[id].shape != value.shape {
            throw GraphError(op: "state", "update of '\(name)' \(nodes[id].shape) has shape \(value.shape)")
        }
        stateUpdates.append((name, value))
    }

    /// Leaves of a kind, in declaration order.
    public var parameters: [Tensor] { nodes.indices.filter { if case .parameter = nodes[$0].op { return true }; return false }.map(tensor) }
    public var inputs: [Tensor] { nodes.indices.filter { if case .input = nodes[$0].op { return true }; return false }.map(tensor) }
    public var states: [Tensor] { nodes.indices.filter { if case .state = nodes[$0].op { return true }; return false }.map(tensor) }
}

/// A handle to a node of a graph. Operations on tensors record nodes; nothing
/// is computed until a `Session` runs them.
public struct Tensor: Hashable {
    public let graph: Graph
    public let id: Int

    public var node: Node { graph.nodes[id] }
    public var shape: Shape { node.shape }
    public var rank: Int { node.shape.rank }

    public static func == (a: Tensor, b: Tensor) -> Bool { a.graph === b.graph && a.id == b.id }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(graph)); h.combine(id) }
}
