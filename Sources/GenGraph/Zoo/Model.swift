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

/// A hyper-parameter of a model written in the DSL, with its resolved value.
public struct HyperParameter: Hashable, Sendable, CustomStringConvertible {
    public enum Value: Hashable, Sendable, CustomStringConvertible {
        case integer(Int)
        case real(Double)

        public var description: String {
            switch self {
            case .integer(let v): return "\(v)"
            case .real(let v): return "\(v)"
            }
        }
    }

    public let name: String
    public let value: Value
    /// Whether `value` came from an override rather than the model's default.
    public let isOverridden: Bool

    public var description: String { "\(name) = \(value)" }
}

/// A graph that generates images from a model's prior (batch norm in eval mode).
public struct SampleGraph {
    public enum Output {
        /// The images themselves, (count, 1, 28, 28), in the model's pixel range.
        case images(Tensor)
        /// Bernoulli logits of every pixel of `canvas` (an input, (count, 1, 28, 28))
        /// given the pixels before it: the sampler fills the canvas with zeros, then
        /// in raster order draws each pixel from sigmoid of its logit and writes it back.
        case autoregressive(canvas: Tensor, logits: Tensor)
    }

    public let graph: Graph
    public let count: Int
    /// Integer class labels (count), an input named like the model's labels, for conditional models.
    public let labels: Tensor?
    public let output: Output
}

/// How to build one of the zoo's models (`../shared/spec/zoo.md`).
public struct ModelDefinition {
    public let name: String
    public let summary: String
    public let defaultBatch: Int
    public let encoding: PixelEncoding
    /// Classes of the labels input (10 for conditional models and the classifier), 0 when there is none.
    public let classes: Int
    /// Resolved hyper-parameters, in declaration order (empty for models built in Swift).
    public let hyperParameters: [HyperParameter]
    /// The `.gg` text the model was built from, if any.
    public let source: String?
    let build: (_ graph: Graph, _ batch: Int) throws -> (images: Tensor, labels: Tensor?, phases: [Phase])
    let sampler: ((_ graph: Graph, _ count: Int) throws -> (labels: Tensor?, output: SampleGraph.Output))?

    init(name: String, summary: String, defaultBatch: Int, encoding: PixelEncoding, classes: Int = 0,
         hyperParameters: [HyperParameter] = [], source: String? = nil,
         build: @escaping (_ graph: Graph, _ batch: Int) throws -> (images: Tensor, labels: Tensor?, phases: [Phase]),
         sampler: ((_ graph: Graph, _ count: Int) throws -> (labels: Tensor?, output: SampleGraph.Output))? = nil) {
        self.name = name
        self.summary = summary
        self.defaultBatch = defaultBatch
        self.encoding = encoding
        self.classes = classes
        self.hyperParameters = hyperParameters
        self.source = source
        self.build = build
        self.sampler = sampler
    }

    /// The model's graph for `batch` images per step.
    public func instantiate(batch: Int? = nil) throws -> Model {
        let b = batch ?? defaultBatch
        guard b >= 1 else { throw GraphError(op: name, "batch size must be at least 1, got \(b)") }
        let graph = Graph()
        let parts = try build(graph, b)
        return Model(name: name, graph: graph, batchSize: b, images: parts.images, labels: parts.labels,
                     phases: parts.phases, encoding: encoding)
    }

    /// Whether the model can generate images (`sampleGraph(count:)` is non-nil).
    public var canSample: Bool { sampler != nil }

    /// A fresh graph generating `count` images, or nil when the model has no prior to sample.
    public func sampleGraph(count: Int) throws -> SampleGraph? {
        guard let sampler else { return nil }
        guard count >= 1 else { throw GraphError(op: name, "sample count must be at least 1, got \(count)") }
        let graph = Graph()
        let parts = try sampler(graph, count)
        return SampleGraph(graph: graph, count: count, labels: parts.labels, output: parts.output)
    }
}

/// Parameters whose names start with `prefix` (a sub-network such as "G." or "D.").
func parameters(of graph: Graph, prefix: String) -> [Tensor] {
    graph.parameters.filter { if case .parameter(let n) = $0.node.op { return n.hasPrefix(prefix) }; return false }
}
