/// Runs a model's training steps: each phase's objectives on fresh batches,
/// in the configured mode.
public final class Trainer {
    public let model: Model
    public let session: Session
    private let phases: [(steps: [TrainingStep], names: [String], repeats: Int, readsData: Bool)]

    public init(model: Model, config: RunConfig, parameters: ParameterStore = ParameterStore(),
                planCache: PlanCache = PlanCache()) throws {
        self.model = model
        let session = try Session(graph: model.graph, config: config, parameters: parameters, planCache: planCache)
        self.session = session
        phases = try model.phases.map { phase in
            (try phase.objectives.map { try session.minimize($0.loss, over: $0.parameters, using: $0.rule, clip: $0.clip, clipNorm: $0.clipNorm) },
             phase.objectives.map(\.name), phase.repeats, phase.readsData)
        }
    }

    /// The feeds of one batch: images (and labels when the model has them).
    public func feeds(_ batch: Batch) throws -> [String: TensorValue] {
        let b = model.batchSize
        if batch.size != b { throw GraphError(op: "train", "batch of \(batch.size) images, the model was built for \(b)") }
        var feeds = ["x": try TensorValue(shape: [b, 1, 28, 28], scalars: batch.images)]
        if model.labels != nil { feeds["y"] = try TensorValue(shape: [b], scalars: batch.labels.map(Float.init)) }
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
                let values = try session.train(phase.steps, feeds: lastFeeds)
                losses.removeAll { entry in phase.names.contains(entry.0) }
                losses += zip(phase.names, values).map { ($0, $1) }
            }
        }
        return losses
    }

    public var trainingSteps: [TrainingStep] { phases.flatMap(\.steps) }
}
