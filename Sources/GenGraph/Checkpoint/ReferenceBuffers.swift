/// A tensor that PyTorch's reference modules keep as a buffer while gengraph
/// derives it: a batch norm's `num_batches_tracked` (an i64 scalar counting the
/// batches its running statistics absorbed) or a masked convolution's `mask`.
/// Checkpoints carry these so that `load_state_dict(..., strict=True)` accepts
/// them as written; loading checks them, and accepts files without them.
struct ReferenceBuffer {
    enum Content: Equatable {
        /// The number of updates of the running statistics `states` (mean, variance).
        case batchCount(states: [String])
        case mask(ConvMask)
    }

    let name: String
    let shape: Shape
    let content: Content
    /// The tensor it follows in `state_dict()` order, where a module's buffers come after its parameters.
    let after: String

    /// The buffers of `graph`'s modules, in the order their `after` tensors are declared.
    static func all(in graph: Graph) -> [ReferenceBuffer] {
        let leaves = graph.nodes.compactMap { node -> String? in
            switch node.op {
            case .parameter(let name), .state(let name): return name
            default: return nil
            }
        }
        var buffers: [ReferenceBuffer] = []
        for name in leaves where name.hasSuffix(".running_var") {
            let module = String(name.dropLast(".running_var".count))
            guard leaves.contains(module + ".running_mean") else { continue }
            buffers.append(ReferenceBuffer(name: module + ".num_batches_tracked", shape: [],
                                           content: .batchCount(states: [module + ".running_mean", name]), after: name))
        }
        for (id, node) in graph.nodes.enumerated() {
            guard case .convMask(let kind) = node.op, let module = maskedModule(id, in: graph),
                  let last = leaves.last(where: { $0.hasPrefix(module + ".") }),
                  !buffers.contains(where: { $0.name == module + ".mask" }) else { continue }
            buffers.append(ReferenceBuffer(name: module + ".mask", shape: node.shape, content: .mask(kind), after: last))
        }
        let position = Dictionary(leaves.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return buffers.sorted { position[$0.after]! < position[$1.after]! }
    }

    /// The module whose weight the mask node `id` multiplies (`layers.0` for `layers.0.weight`).
    private static func maskedModule(_ id: Int, in graph: Graph) -> String? {
        for node in graph.nodes where node.op == .binary(.mul) && node.inputs.contains(id) {
            for input in node.inputs {
                if case .parameter(let name) = graph.nodes[input].op, name.hasSuffix(".weight") {
                    return String(name.dropLast(".weight".count))
                }
            }
        }
        return nil
    }

    /// Its value for a checkpoint of `store`.
    func entry(from store: ParameterStore) throws -> SafeTensors.Entry {
        switch content {
        case .batchCount(let states):
            return try SafeTensors.Entry(name: name, shape: shape, integers: [store.updateCounts[states[0]] ?? 0])
        case .mask(let kind):
            return SafeTensors.Entry(name: name, value: TensorValue(shape: shape, buffer: Buffer(copying: convMaskValues(kind, shape))))
        }
    }

    /// Checks a file's `entry` for this buffer: a count must be a non-negative i64
    /// scalar, a mask exactly the one the model applies.
    func check(_ entry: SafeTensors.Entry, file: String) throws {
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError { CheckpointError(file: file, problem) }
        guard entry.value.shape == shape else { throw fail(.shapeMismatch(tensor: name, found: entry.value.shape, expected: shape)) }
        switch content {
        case .batchCount:
            guard let count = entry.integers?.first else { throw fail(.wrongDType(tensor: name, found: entry.dtype.rawValue, expected: "I64")) }
            guard count >= 0 else { throw fail(.badValue(tensor: name, reason: "holds the negative batch count \(count)")) }
        case .mask(let kind):
            guard entry.dtype == .f32 else { throw fail(.wrongDType(tensor: name, found: entry.dtype.rawValue, expected: "F32")) }
            guard entry.value.scalars.elementsEqual(convMaskValues(kind, shape)) else {
                throw fail(.badValue(tensor: name, reason: "is not the model's type \(kind.rawValue.uppercased()) mask"))
            }
        }
    }

    /// Sets the count a checked `entry` holds in `store` (0 for a file without it).
    func restore(_ entry: SafeTensors.Entry?, into store: ParameterStore) {
        guard case .batchCount(let states) = content else { return }
        for state in states { store.updateCounts[state] = entry?.integers?.first ?? 0 }
    }
}
