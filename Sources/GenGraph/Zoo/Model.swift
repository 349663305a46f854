/// A loss minimised over one parameter group by one optimiser.
public struct Objective {
    public let name: String
    public let loss: Tensor
    public let parameters: [Tensor]
    public let rule: OptimizerRule
    public let clip: ClosedRange<Float>?

    public init(name: String, loss: Tensor, parameters: [Tensor], rule: OptimizerRule, clip: ClosedRange<Float>? = nil) {
        self.name = name
        self.loss = loss
        self.parameters = parameters
        self.rule = rule
        self.clip = clip
    }
}

/// Part of a training step: objectives run one after another on one batch
/// and one draw of noise (a GAN's D and G updates), repeated `repeats` times
/// on fresh batches (WGAN's n_critic).
public struct Phase {
    public let objectives: [Objective]
    public let repeats: Int
    /// Whether the phase reads a real batch (a WGAN generator update does not).
    public let readsData: Bool

    public init(_ objectives: [Objective], repeats: Int = 1, readsData: Bool = true) {
        self.objectives = objectives
        self.repeats = repeats
        self.readsData = readsData
    }
}

/// A model instantiated for a batch size: its graph, data inputs, and the
/// phases of one training step.
public struct Model {
    public let name: String
    public let graph: Graph
    public let batchSize: Int
    /// Images, (batch, 1, 28, 28), named "x".
    public let images: Tensor
    /// Integer class labels, (batch), named "y", for conditional models and the classifier.
    public let labels: Tensor?
    public let phases: [Phase]
    public let encoding: PixelEncoding

    /// Real batches one training step consumes.
    public var batchesPerStep: Int { phases.filter(\.readsData).reduce(0) { $0 + $1.repeats } }
    public var objectives: [Objective] { phases.flatMap(\.objectives) }
}

/// How to build one of the zoo's models (`../shared/spec/zoo.md`).
public struct ModelDefinition {
    public let name: String
    public let summary: String
    public let defaultBatch: Int
    public let encoding: PixelEncoding
    let build: (_ graph: Graph, _ batch: Int) throws -> (images: Tensor, labels: Tensor?, phases: [Phase])

    /// The model's graph for `batch` images per step.
    public func instantiate(batch: Int? = nil) throws -> Model {
        let b = batch ?? defaultBatch
        guard b >= 1 else { throw GraphError(op: name, "batch size must be at least 1, got \(b)") }
        let graph = Graph()
        let parts = try build(graph, b)
        return Model(name: name, graph: graph, batchSize: b, images: parts.images, labels: parts.labels,
                     phases: parts.phases, encoding: encoding)
    }
}

/// Parameters whose names start with `prefix` (a sub-network such as "G." or "D.").
func parameters(of graph: Graph, prefix: String) -> [Tensor] {
    graph.parameters.filter { if case .parameter(let n) = $0.node.op { return n.hasPrefix(prefix) }; return false }
}
