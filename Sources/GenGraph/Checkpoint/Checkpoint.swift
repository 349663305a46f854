import Foundation

/// What a parameter checkpoint records besides its tensors.
public struct CheckpointMetadata: Equatable {
    /// The model's name (a zoo name such as "vae"); loading checks it.
    public var model: String
    /// Training steps taken when it was saved.
    public var step: Int
    /// The run's `RunConfig.seed`.
    public var seed: UInt64
    public var mode: ExecutionMode
    /// Further keys of the caller's (batch size, data set), kept as given.
    public var extra: [String: String]

    public init(model: String, step: Int, seed: UInt64 = 0, mode: ExecutionMode = .eager, extra: [String: String] = [:]) {
        self.model = model
        self.step = step
        self.seed = seed
        self.mode = mode
        self.extra = extra
    }
}

/// Saves and loads a model's parameters and an optimiser's state as
/// safetensors files that PyTorch's `safetensors.torch.load_file` reads: f32
/// tensors named as in the `ParameterStore` (`enc.weight`, `G.bn0.running_mean`),
/// in the order the graph declares them, which is the order of the reference
/// module's `state_dict()`. Parameter files also hold the buffers PyTorch keeps
/// and gengraph derives (`ReferenceBuffer`), so the reference modules load them with `strict=True`.
///
///     try Checkpoint.save(session.parameters, of: model.graph, metadata: .init(model: "vae", step: 100), to: url)
///     let metadata = try Checkpoint.load(from: url, into: session.parameters, of: model.graph, model: "vae")
public enum Checkpoint {
    /// Bumped when the layout changes incompatibly; readers refuse newer versions.
    public static let formatVersion = 1

    /// Step counts above this are refused when loading: no run gets near it, the next update's
    /// count cannot overflow, and every count is exact in metrics.csv's Double columns.
    public static let maximumStep = 1 << 53

    /// Names of `graph`'s parameters and state, in declaration order (a batch
    /// norm's running statistics follow its weight and bias, as in PyTorch).
    public static func tensorNames(of graph: Graph) -> [String] { leaves(of: graph).map(\.name) }

    /// Writes the values `store` holds for `graph`'s parameters and state.
    public static func save(_ store: ParameterStore, of graph: Graph, metadata: CheckpointMetadata, to url: URL) throws {
        let buffers = ReferenceBuffer.all(in: graph)
        var entries: [SafeTensors.Entry] = []
        for leaf in leaves(of: graph) {
            guard let buffer = store.buffer(leaf.name), buffer.count == leaf.shape.count else {
                throw CheckpointError(file: url.path, .unwritable("the parameter store has no \(CheckpointError.format(leaf.shape)) value for '\(leaf.name)'"))
            }
            entries.append(SafeTensors.Entry(name: leaf.name, value: TensorValue(shape: leaf.shape, buffer: buffer)))
            for derived in buffers where derived.after == leaf.name { entries.append(try derived.entry(from: store)) }
        }
        var fields = header(kind: .parameters, model: metadata.model)
        fields[Key.step] = String(metadata.step)
        fields[Key.seed] = String(metadata.seed)
        fields[Key.mode] = metadata.mode.rawValue
        try add(metadata.extra, to: &fields, file: url)
        try SafeTensors(entries: entries, metadata: fields).write(to: url)
    }

    /// Sets `graph`'s parameters and state in `store` from a checkpoint of
    /// `model`, after checking every name and shape against `graph`; a bad file leaves `store` unchanged.
    @discardableResult
    public static func load(from url: URL, into store: ParameterStore, of graph: Graph, model: String) throws -> CheckpointMetadata {
        let file = try SafeTensors(contentsOf: url)
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError { CheckpointError(file: url.path, problem) }
        var fields = try checkHeader(file, at: url, kind: .parameters, model: model)
        guard let step = fields[Key.step].flatMap(Int.init), (0...maximumStep).contains(step),
              let seed = fields[Key.seed].flatMap(UInt64.init),
              let mode = fields[Key.mode].flatMap(ExecutionMode.init(rawValue:)) else {
            let found = [Key.step, Key.seed, Key.mode].map { "\($0) '\(fields[$0] ?? "")'" }.joined(separator: ", ")
            throw fail(.notACheckpoint("metadata needs a step count (0 to \(maximumStep)), a seed and an execution mode, has \(found)"))
        }
        try assign(file, at: url, into: store, of: graph)
        for key in [Key.format, Key.version, Key.kind, Key.model, Key.step, Key.seed, Key.mode] { fields[key] = nil }
        return CheckpointMetadata(model: model, step: step, seed: seed, mode: mode, extra: fields)
    }

    /// Sets `graph`'s parameters and state in `store` from a checkpoint of `model`, or from a
    /// plain PyTorch `state_dict` saved with `safetensors.torch.save_file` (a file without
    /// gengraph's metadata), checked as strictly: no tensor missing, none extra, every shape
    /// the model's. Returns the checkpoint's metadata, nil for a state_dict.
    @discardableResult
    public static func loadInitialValues(from url: URL, into store: ParameterStore, of graph: Graph, model: String) throws -> CheckpointMetadata? {
        let file = try SafeTensors(contentsOf: url)
        if file.metadata[Key.format] == formatName { return try load(from: url, into: store, of: graph, model: model) }
        try assign(file, at: url, into: store, of: graph)
        return nil
    }

    /// Writes each optimiser's step count and slot tensors (`<objective>.<parameter>.<slot>`),
    /// one optimiser per objective, so a resumed run continues exactly; `extra` adds metadata,
    /// `runState` the training loop's own tensors (history pools), which no state_dict holds.
    public static func saveOptimizers(_ optimizers: [(objective: String, optimizer: Optimizer)], model: String,
                                      extra: [String: String] = [:], runState: [SafeTensors.Entry] = [], to url: URL) throws {
        var fields = header(kind: .optimizer, model: model)
        var entries: [SafeTensors.Entry] = []
        for (objective, optimizer) in optimizers {
            fields[objective + Key.objectiveStep] = String(optimizer.step)
            fields[objective + Key.objectiveRule] = ruleName(optimizer.rule)
            for slot in optimizer.step == 0 ? [] : try slots(of: optimizer, objective: objective) {
                guard let buffers = optimizer.slots[slot.parameter], buffers.count == optimizer.rule.slotNames.count,
                      buffers[slot.index].count == slot.shape.count else {
                    throw CheckpointError(file: url.path, .unwritable("optimizer '\(objective)' has no \(slot.name) state"))
                }
                entries.append(SafeTensors.Entry(name: slot.name, value: TensorValue(shape: slot.shape, buffer: buffers[slot.index])))
            }
        }
        try add(extra, to: &fields, file: url)
        try SafeTensors(entries: entries + runState, metadata: fields).write(to: url)
    }

    /// Restores each optimiser's step count and slots from `saveOptimizers`'s
    /// file, after checking objectives, rules, names and shapes (and the `runState` tensors
    /// expected beside them, returned with the file's metadata); on error nothing changes.
    @discardableResult
    public static func loadOptimizers(from url: URL, into optimizers: [(objective: String, optimizer: Optimizer)], model: String,
                                      runState: [(name: String, shape: Shape)] = []) throws
        -> (runState: [String: TensorValue], metadata: [String: String]) {
        let file = try SafeTensors(contentsOf: url)
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError { CheckpointError(file: url.path, problem) }
        let fields = try checkHeader(file, at: url, kind: .optimizer, model: model)
        let saved = fields.keys.filter { $0.hasSuffix(Key.objectiveStep) }.map { String($0.dropLast(Key.objectiveStep.count)) }
        let wanted = optimizers.map(\.objective)
        if Set(saved) != Set(wanted) {
            throw fail(.objectives(missing: wanted.filter { !saved.contains($0) }, unexpected: saved.filter { !wanted.contains($0) }.sorted()))
        }
        var steps: [Int] = [], expected: [(name: String, shape: Shape)] = []
        var slotsByOptimizer: [[Slot]] = []
        for (objective, optimizer) in optimizers {
            let rule = fields[objective + Key.objectiveRule] ?? "none"
            guard rule == ruleName(optimizer.rule) else {
                throw fail(.ruleMismatch(objective: objective, found: rule, expected: ruleName(optimizer.rule)))
            }
            guard let step = fields[objective + Key.objectiveStep].flatMap(Int.init), (0...maximumStep).contains(step) else {
                throw fail(.notACheckpoint("the step count of '\(objective)' is '\(fields[objective + Key.objectiveStep] ?? "")', not a whole number from 0 to \(maximumStep)"))
            }
            // Slots appear with the first update, so a file saved before it has none.
            let slots = step == 0 ? [] : try slots(of: optimizer, objective: objective)
            steps.append(step)
            slotsByOptimizer.append(slots)
            expected += slots.map { ($0.name, $0.shape) }
        }
        let values = try check(file, at: url, expecting: expected + runState)
        for ((_, optimizer), (step, slots)) in zip(optimizers, zip(steps, slotsByOptimizer)) {
            optimizer.step = step
            optimizer.slots = Dictionary(grouping: slots, by: \.parameter).mapValues { group in
                group.sorted { $0.index < $1.index }.map { values[$0.name]!.buffer }
            }
        }
        return (values.filter { name, _ in runState.contains { $0.name == name } }, fields)
    }

    // MARK: internals

    /// Metadata keys; the optimiser file adds `<objective>.step` and `<objective>.rule`.
    private enum Key {
        static let format = "format", version = "format_version", kind = "kind", model = "model"
        static let step = "step", seed = "seed", mode = "mode"
        static let objectiveStep = ".step", objectiveRule = ".rule"
    }

    private enum Kind: String { case parameters, optimizer }

    private static let formatName = "gengraph"

    private static func header(kind: Kind, model: String) -> [String: String] {
        [Key.format: formatName, Key.version: String(formatVersion), Key.kind: kind.rawValue, Key.model: model]
    }

    /// Adds the caller's metadata, which must not replace any of the format's own.
    private static func add(_ extra: [String: String], to fields: inout [String: String], file url: URL) throws {
        for (key, value) in extra {
            guard fields.updateValue(value, forKey: key) == nil else {
                throw CheckpointError(file: url.path, .unwritable("metadata key '\(key)' is reserved"))
            }
        }
    }

    /// The metadata, once it says this is a checkpoint of `kind` for `model` that this version reads.
    private static func checkHeader(_ file: SafeTensors, at url: URL, kind: Kind, model: String) throws -> [String: String] {
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError { CheckpointError(file: url.path, problem) }
        let fields = file.metadata
        guard fields[Key.format] == formatName else {
            throw fail(.notACheckpoint("its metadata has no '\(Key.format)': '\(formatName)' entry"))
        }
        guard let version = fields[Key.version].flatMap(Int.init), version >= 1 else {
            throw fail(.notACheckpoint("format version '\(fields[Key.version] ?? "")' is not a number"))
        }
        guard version <= formatVersion else {
            throw fail(.notACheckpoint("format version \(version) is newer than this reader's \(formatVersion)"))
        }
        guard fields[Key.kind] == kind.rawValue else {
            throw fail(.notACheckpoint("it holds \(fields[Key.kind] ?? "unknown") state, not \(kind.rawValue)"))
        }
        guard let found = fields[Key.model] else { throw fail(.notACheckpoint("its metadata names no model")) }
        guard found == model else { throw fail(.wrongModel(found: found, expected: model)) }
        return fields
    }

    /// Checks `file`'s tensors against `graph`'s parameters and state (and the derived
    /// buffers, which may be absent), then sets them in `store`; on error `store` is unchanged.
    private static func assign(_ file: SafeTensors, at url: URL, into store: ParameterStore, of graph: Graph) throws {
        let buffers = ReferenceBuffer.all(in: graph)
        let derived = Dictionary(file.entries.filter { e in buffers.contains { $0.name == e.name } }.map { ($0.name, $0) },
                                 uniquingKeysWith: { a, _ in a })
        let values = try check(SafeTensors(entries: file.entries.filter { derived[$0.name] == nil }), at: url, expecting: leaves(of: graph))
        for buffer in buffers { try derived[buffer.name].map { try buffer.check($0, file: url.path) } }
        for leaf in leaves(of: graph) { try store.assign(leaf.name, values[leaf.name]!) }
        for buffer in buffers { buffer.restore(derived[buffer.name], into: store) }
    }

    /// The file's tensors by name, once they are exactly `expected`, F32, with the expected shapes.
    private static func check(_ file: SafeTensors, at url: URL, expecting expected: [(name: String, shape: Shape)]) throws -> [String: TensorValue] {
        let entries = Dictionary(file.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let wanted = Set(expected.map(\.name))
        let missing = expected.map(\.name).filter { entries[$0] == nil }
        let unexpected = file.entries.map(\.name).filter { !wanted.contains($0) }
        if !missing.isEmpty || !unexpected.isEmpty {
            throw CheckpointError(file: url.path, .tensorNames(missing: missing, unexpected: unexpected))
        }
        for (name, shape) in expected {
            let entry = entries[name]!
            if entry.value.shape != shape {
                throw CheckpointError(file: url.path, .shapeMismatch(tensor: name, found: entry.value.shape, expected: shape))
            }
            if entry.dtype != .f32 {
                throw CheckpointError(file: url.path, .wrongDType(tensor: name, found: entry.dtype.rawValue, expected: SafeTensors.DType.f32.rawValue))
            }
        }
        return entries.mapValues(\.value)
    }

    /// Parameters and state leaves of `graph` in declaration (node) order.
    private static func leaves(of graph: Graph) -> [(name: String, shape: Shape)] {
        graph.nodes.compactMap { node in
            switch node.op {
            case .parameter(let name), .state(let name): return (name, node.shape)
            default: return nil
            }
        }
    }

    /// One state tensor of one optimiser: `index` into the parameter's slots.
    private struct Slot {
        let name: String
        let parameter: String
        let index: Int
        let shape: Shape
    }

    private static func slots(of optimizer: Optimizer, objective: String) throws -> [Slot] {
        try optimizer.parameters.flatMap { p -> [Slot] in
            guard case .parameter(let name) = p.node.op else {
                throw GraphError(op: "checkpoint", "optimizer '\(objective)' updates %\(p.id), which is not a parameter")
            }
            return optimizer.rule.slotNames.enumerated().map { i, slot in
                Slot(name: "\(objective).\(name).\(slot)", parameter: name, index: i, shape: p.shape)
            }
        }
    }

    private static func ruleName(_ rule: OptimizerRule) -> String {
        switch rule {
        case .sgd: return "sgd"
        case .adam: return "adam"
        case .rmsprop: return "rmsprop"
        }
    }
}
