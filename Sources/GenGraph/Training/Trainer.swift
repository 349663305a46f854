/// Runs a model's training steps: each phase's objectives on fresh batches,
/// in the configured mode.
public final class Trainer {
    public let model: Model
    public let session: Session
    /// Each phase's compiled objectives, their names, how often it runs, whether it reads a fresh
    /// batch, and per objective the histories (indices into `model.histories`) whose source it returns.
    private let phases: [(steps: [TrainingStep], names: [String], repeats: Int, readsData: Bool, produced: [[Int]])]
    /// The model's history pools, in `model.histories` order: state kept between steps.
    public internal(set) var pools: [HistoryPool]

    public init(model: Model, config: RunConfig, parameters: ParameterStore = ParameterStore(),
                planCache: PlanCache = PlanCache()) throws {
        self.model = model
        let session = try Session(graph: model.graph, config: config, parameters: parameters, planCache: planCache)
        self.session = session
        let routes = try model.historyRoutes()
        phases = try model.phases.enumerated().map { p, phase in
            // An objective that computes a history's source returns its values for the pool.
            let produced = phase.objectives.indices.map { k in routes.indices.filter { routes[$0] == HistoryRoute(phase: p, producer: k) } }
            let steps = try phase.objectives.enumerated().map { k, o in
                try session.minimize(o.loss, over: o.parameters, using: o.rule, clip: o.clip, clipNorm: o.clipNorm,
                                     fetches: produced[k].map { model.histories[$0].source })
            }
            return (steps, phase.objectives.map(\.name), phase.repeats, phase.readsData, produced)
        }
        pools = model.histories.enumerated().map { k, h in
            HistoryPool(capacity: h.capacity, imageSize: h.source.shape.count / h.source.shape[0], seed: config.seed, index: k)
        }
    }

    /// The feeds of one batch: images (and labels when the model has them); for a model with
    /// domains, the batch holds one batch of each domain after another, each fed to its input.
    public func feeds(_ batch: Batch) throws -> [String: TensorValue] {
        let b = model.batchSize
        let inputs = model.imageInputNames
        if batch.size != b * inputs.count {
            throw GraphError(op: "train", "batch of \(batch.size) images, the model was built for \(b * inputs.count)"
                             + (inputs.count > 1 ? " (\(b) of each of its \(inputs.count) domains)" : ""))
        }
        var feeds: [String: TensorValue] = [:]
        let size = batch.images.count / batch.size * b
        for (k, name) in inputs.enumerated() {
            feeds[name] = try TensorValue(shape: [b, 1, 28, 28], scalars: Array(batch.images[(k * size)..<((k + 1) * size)]))
        }
        if let name = model.labels?.inputName { feeds[name] = try TensorValue(shape: [b], scalars: batch.labels.map(Float.init)) }
        return feeds
    }

    /// One training step; `nextBatch` is called `model.batchesPerStep` times.
    /// Returns the last loss of each objective, by name.
    @discardableResult
    public func step(nextBatch: () throws -> Batch) throws -> [(name: String, loss: Float)] {
        var losses: [(String, Float)] = []
        var lastFeeds: [String: TensorValue] = [:]
        for phase in phases {
            for _ in 0..<phase.repeats {
                if phase.readsData || lastFeeds.isEmpty { lastFeeds = try feeds(nextBatch()) }
                let values = try session.train(phase.steps, feeds: lastFeeds) { k, fetched in
                    var drawn: [String: TensorValue] = [:]
                    for (h, value) in zip(phase.produced[k], fetched) {
                        drawn[self.model.histories[h].name] = try TensorValue(shape: value.shape, scalars: self.pools[h].draw(value.scalars))
                    }
                    return drawn
                }
                losses.removeAll { entry in phase.names.contains(entry.0) }
                losses += zip(phase.names, values).map { ($0, $1) }
            }
        }
        return losses
    }

    public var trainingSteps: [TrainingStep] { phases.flatMap(\.steps) }
}
