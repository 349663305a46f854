/// Runs a graph: owns the parameter values and the executor, feeds inputs,
/// and performs training steps.
///
///     let session = try Session(graph: g)
///     let step = try session.minimize(loss, using: .adam(learningRate: 1e-3))
///     let lossValue = try session.train(step, feeds: ["x": batch])
public final class Session {
    public let graph: Graph
    public let config: RunConfig
    public let parameters: ParameterStore
    let kernels: KernelContext
    let executor: EagerExecutor
    /// Runs so far; mixed into every random draw so each run gets fresh noise.
    /// Saved with checkpoints and restored on resume so the noise continues exactly.
    public var runCount: UInt64 = 0
    /// Compiled plans (fused mode), shared with other sessions when passed in.
    public let planCache: PlanCache
    private var planExecutors: [PlanKey: PlanExecutor] = [:]
    /// The working storage of every compiled plan: they run one at a time and their results are
    /// consumed (or copied) before the next run, so one arena as long as the longest serves all.
    private var arena = Buffer(count: 0)
    private struct PlanKey: Hashable {
        let outputs: [Int]
        let updates: PlannedUpdates?
    }

    /// Creates missing parameters and state from the graph's initialisers.
    public init(graph: Graph, config: RunConfig = RunConfig(), parameters: ParameterStore = ParameterStore(),
                planCache: PlanCache = PlanCache()) throws {
        self.graph = graph
        self.planCache = planCache
        self.config = config
        self.parameters = parameters
        try config.checkThreads()
        kernels = KernelContext(threads: config.threads)
        executor = EagerExecutor(graph: graph, kernels: kernels, statistics: statistics)
        for t in graph.parameters + graph.states {
            guard case .parameter(let name) = t.node.op else {
                if case .state(let name) = t.node.op {
                    try parameters.initialize(name, t.shape, graph.initializers[name] ?? .zeros, seed: config.seed, kernels: kernels)
                }
                continue
            }
            try parameters.initialize(name, t.shape, graph.initializers[name] ?? .zeros, seed: config.seed, kernels: kernels)
        }
    }

    /// Kernel calls made by the most recent run.
    /// Kernels, FLOPs, bytes and (when profiling) time, accumulated over runs.
    public let statistics = ExecutionStatistics()

    /// Computes `outputs` (copies, independent of later updates).
    public func run(_ outputs: [Tensor], feeds: [String: TensorValue] = [:]) throws -> [TensorValue] {
        try execute(outputs.map(\.id), feeds: feeds).map { view in
            let c = try executor.contiguous(view)
            return TensorValue(shape: c.shape, buffer: Buffer(copying: Array(UnsafeBufferPointer(start: c.pointer, count: c.shape.count))))
        }
    }

    /// Runs `outputs`; `freshNoise` advances the run counter so random nodes draw anew.
    /// In fused mode `update` makes the plan apply the optimiser's next update (its
    /// slots made by `Optimizer.prepare`) from the gradient outputs it names, which
    /// are then not returned; the caller counts the update once the run succeeds.
    func execute(_ outputs: [Int], feeds: [String: TensorValue], freshNoise: Bool = true,
                 update: (planned: PlannedUpdates, optimizer: Optimizer)? = nil) throws -> [View] {
        for t in outputs where t >= graph.nodes.count {
            throw GraphError(op: "run", "no node %\(t) in the graph")
        }
        if freshNoise || runCount == 0 { runCount += 1 }
        let run = runCount, seed = config.seed
        func key(_ stream: Int) -> UInt64 { mix64(seed ^ mix64(UInt64(stream) ^ mix64(run))) }
        func feed(_ name: String, _ shape: Shape) throws -> Buffer {
            guard let value = feeds[name] else { throw GraphError(op: "input", "no value fed for '\(name)'") }
            if value.shape != shape { throw GraphError(op: "input", "'\(name)' expects \(shape), got \(value.shape)") }
            return value.buffer
        }
        switch config.mode {
        case .eager:
            return try executor.run(outputs, leaf: { node in
                switch node.op {
                case .input(let name):
                    return View(buffer: try feed(name, node.shape), shape: node.shape)
                case .parameter(let name), .state(let name):
                    guard let b = self.parameters.buffer(name) else { throw GraphError(op: node.op.name, "no value for '\(name)'") }
                    return View(buffer: b, shape: node.shape)
                default:
                    throw GraphError(op: node.op.name, "is not a leaf")
                }
            }, randomKey: key)
        case .fused:
            let planned = try planExecutor(for: outputs, updates: update?.planned)
            var keys: [Int: UInt64] = [:]
            for stream in planned.plan.randomStreams { keys[stream] = key(stream) }
            let inputs = Dictionary(uniqueKeysWithValues: planned.plan.program.nodes.compactMap { n -> (String, Node)? in
                if case .input(let name) = n.op { return (name, n) }
                return nil
            })
            return try planned.run(arena: arena, leaf: { name in
                if let input = inputs[name] {
                    // Located at the input's declaration, as the eager executor locates it.
                    do { return try feed(name, input.shape) } catch let error as GraphError { throw error.located(at: input.origin) }
                }
                if let slot = update?.optimizer.slotBuffer(leaf: name) { return slot }
                guard let b = self.parameters.buffer(name) else { throw GraphError(op: "param", "no value for '\(name)'") }
                return b
            }, keys: keys, updateStep: (update?.optimizer.step ?? 0) + 1)
        }
    }

    /// The plan that computes `outputs`, compiled once per output set (and
    /// shared through the plan cache with any program of the same text).
    private func planExecutor(for outputs: [Int], updates: PlannedUpdates?) throws -> PlanExecutor {
        let key = PlanKey(outputs: outputs, updates: updates)
        if let e = planExecutors[key] { return e }
        let compilation = try planCache.compilation(for: Program(graph, outputs: outputs.map(graph.tensor)), updates: updates,
                                                    fusionOff: config.fusionOff, limitFloats: limitFloats)
        let e = try PlanExecutor(plan: compilation.plan, kernels: kernels, statistics: statistics)
        planExecutors[key] = e
        if compilation.plan.arenaFloats > arena.count {
            let grown = try Buffer.allocate(count: compilation.plan.arenaFloats, for: "the compiled plan's working storage")
            statistics.workingSetBytes += (grown.count - arena.count) * 4
            arena = grown
        }
        return e
    }

    /// With `statistics.profiling` and `keepsStepTimes` on in fused mode: the seconds each step of `step`'s compiled plan
    /// took on every profiled run since the profile was reset; nil when it has not run so.
    public func profiledStepSeconds(of step: TrainingStep) -> [[Double]]? {
        guard let e = planExecutors[PlanKey(outputs: step.outputs.map(\.id), updates: step.plannedUpdates)] else { return nil }
        return statistics.stepSeconds[ObjectIdentifier(e)]
    }

    /// The compiler's stages for `outputs` (and the updates the plan applies), for dumps and inspection,
    /// as this session compiles them: with the config's fusion kinds off, and no updates when `.updates` is.
    public func compilation(for outputs: [Tensor], updates: PlannedUpdates? = nil) throws -> Compilation {
        try planCache.compilation(for: Program(graph, outputs: outputs), updates: plansUpdates ? updates : nil,
                                  fusionOff: config.fusionOff, limitFloats: limitFloats)
    }

    /// The memory limit in floats of working storage (the arena holds floats).
    private var limitFloats: Int? { config.memoryLimitBytes.map { $0 / 4 } }

    /// Whether a training step's plan applies the optimiser's updates (else they follow the plan, as in eager mode).
    var plansUpdates: Bool { config.mode == .fused && !config.fusionOff.contains(.updates) }

    /// Builds the gradient nodes of `loss` (a scalar) over `parameters` (all of
    /// the graph's when nil) and an optimiser for them; `clipNorm` scales the
    /// gradients down to that global L2 norm first (`clippedByGlobalNorm`).
    /// The step also returns the values of `fetches` (its generated images, say), computed
    /// before its update.
    public func minimize(_ loss: Tensor, over parameters: [Tensor]? = nil, using rule: OptimizerRule,
                         clip: ClosedRange<Float>? = nil, clipNorm: Float? = nil, fetches: [Tensor] = []) throws -> TrainingStep {
        if loss.shape.count != 1 { throw GraphError(op: "minimize", "loss must have one element, got \(loss.shape)") }
        let params = parameters ?? graph.parameters
        var gradients = try graph.gradients(of: loss, withRespectTo: params)
        if let clipNorm { gradients = try graph.clippedByGlobalNorm(gradients, maxNorm: clipNorm) }
        // A state update belongs to this step when it is computed from the
        // step's forward pass (batch norm's batch statistics), not merely
        // from the state itself.
        let needed = Set(graph.neededNodes(for: [loss.id]))
        let updates = graph.stateUpdates.filter { update in
            graph.neededNodes(for: [update.value.id]).contains { needed.contains($0) && graph.nodes[$0].op.category != .leaf }
        }
        let optimizer = Optimizer(rule, parameters: params, clip: clip)
        let names = try optimizer.parameterNames.enumerated().map { k, name -> String in
            guard let name else { throw GraphError(op: "minimize", "tensor %\(params[k].id) is not a parameter") }
            return name
        }
        let planned = PlannedUpdates(rule: rule, clip: clip, gradientOutputs: Array(1..<(1 + gradients.count)), parameters: names,
                                     replicas: config.replicas)
        return TrainingStep(loss: loss, gradients: gradients, stateUpdates: updates, fetches: fetches, optimizer: optimizer,
                            plannedUpdates: planned)
    }

    /// One optimisation step; returns the loss before the update.
    @discardableResult
    public func train(_ step: TrainingStep, feeds: [String: TensorValue]) throws -> Float {
        try train([step], feeds: feeds)[0]
    }

    /// Optimisation steps run one after another on the same feeds and the same
    /// draw of noise (a GAN's discriminator then generator update); each sees
    /// the parameters the previous one updated. Each state (running
    /// statistics) is updated once, by the first step that computes it.
    /// Returns each step's loss before its update. After each step, `afterStep` gets its index
    /// and the values of its `fetches`, and returns feeds added for the steps after it (a
    /// history pool's draws for the next objective).
    @discardableResult
    public func train(_ steps: [TrainingStep], feeds: [String: TensorValue],
                      afterStep: (_ index: Int, _ fetched: [TensorValue]) throws -> [String: TensorValue] = { _, _ in [:] }) throws -> [Float] {
        var losses: [Float] = []
        var updatedStates = Set<String>()
        var feeds = feeds
        for (k, step) in steps.enumerated() {
            let outputs = step.outputs.map(\.id)
            let values: [View]
            if plansUpdates {
                // The plan updates each parameter as soon as its gradient is done (PlannedUpdates).
                try step.optimizer.prepare(parameters)
                values = try execute(outputs, feeds: feeds, freshNoise: k == 0, update: (step.plannedUpdates, step.optimizer))
                    .map { try executor.contiguous($0) }
                step.optimizer.step += 1
            } else {
                values = try execute(outputs, feeds: feeds, freshNoise: k == 0).map { try executor.contiguous($0) }
                let gradients = Array(values[1..<(1 + step.gradients.count)])
                if config.replicas > 1 {
                    // Every rank's gradient is of its own slice's mean: their average is the global batch's.
                    try statistics.timed("all-reduce", flops: 0, bytes: 0) {
                        try Distributed.allReduceSum(gradients.map { ($0.pointer, $0.shape.count) }, scale: 1 / Float(config.replicas),
                                                     replicas: config.replicas)
                    }
                }
                try statistics.timed("optimizer", flops: 0, bytes: 0) {
                    try step.optimizer.update(parameters, gradients: gradients, kernels: kernels)
                }
                statistics.recordUpdate(step.optimizer)
            }
            losses.append(values[0].pointer[0])
            // A compiled plan does not return the gradients it consumes: count from the end.
            let stateValues = values.dropLast(step.fetches.count).suffix(step.stateUpdates.count)
            for (update, value) in zip(step.stateUpdates, stateValues) where updatedStates.insert(update.name).inserted {
                parameters.buffer(update.name)!.pointer.update(from: value.pointer, count: value.shape.count)
                parameters.updateCounts[update.name, default: 0] += 1
            }
            let fetched = values.suffix(step.fetches.count).map { view in
                TensorValue(shape: view.shape, buffer: Buffer(copying: Array(UnsafeBufferPointer(start: view.pointer, count: view.shape.count))))
            }
            feeds.merge(try afterStep(k, fetched)) { _, new in new }
        }
        return losses
    }
}

/// A loss, its gradient nodes, and the optimiser that applies them.
public struct TrainingStep {
    public let loss: Tensor
    public let gradients: [Tensor]
    let stateUpdates: [(name: String, value: Tensor)]
    /// Values the step returns besides the loss (`minimize(fetches:)`).
    public let fetches: [Tensor]
    public let optimizer: Optimizer
    /// The optimiser's update as a compiled plan applies it (gradients are outputs 1...).
    public let plannedUpdates: PlannedUpdates

    /// What the step computes, in order: the loss, each parameter's gradient (which a
    /// compiled plan consumes with its updates), each running statistic's new value, the fetches.
    public var outputs: [Tensor] { [loss] + gradients + stateUpdates.map(\.value) + fetches }

    /// Names of `outputs` for dumps: `loss`, then "d PARAMETER", then "new STATE", then "fetch %ID".
    public func outputNames(loss: String) -> [String] {
        [loss] + plannedUpdates.parameters.map { "d \($0)" } + stateUpdates.map { "new \($0.name)" } + fetches.map { "fetch %\($0.id)" }
    }
}
