/// A loss minimised over one parameter group by one optimiser.
public struct Objective {
    public let name: String
    public let loss: Tensor
    public let parameters: [Tensor]
    public let rule: OptimizerRule
    public let clip: ClosedRange<Float>?
    /// The largest L2 norm of all the objective's gradients together; larger ones are scaled down to it.
    public let clipNorm: Float?

    public init(name: String, loss: Tensor, parameters: [Tensor], rule: OptimizerRule, clip: ClosedRange<Float>? = nil,
                clipNorm: Float? = nil) {
        self.name = name
        self.loss = loss
        self.parameters = parameters
        self.rule = rule
        self.clip = clip
        self.clipNorm = clipNorm
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
    /// The images inputs fed one class each (empty: `images` takes every class); a batch then
    /// holds one batch of each domain, in this order.
    public let domains: [ImageDomain]
    /// Pools of earlier generated images that objectives read (CycleGAN's discriminators).
    public let histories: [History]

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
        /// `function` (a `def` of the model, canvas to logits) lets the sampler
        /// run it on the rows filled so far only: a causal model's logits of row i
        /// never read rows below it.
        case autoregressive(canvas: Tensor, logits: Tensor, function: String)
        /// A network predicting the noise in images at a time step: the sampler starts from
        /// N(0, I) and replays the one graph once per step of DDIM or ancestral DDPM.
        case diffusion(Denoiser)
    }

    /// eps(x_t, t): `noise` from the noised images `canvas` (count, 1, 28, 28), named like the
    /// model's images, and integer time steps `time` (count), named `timeInputName`.
    public struct Denoiser {
        public static let timeInputName = "diffusion_t"
        public let canvas: Tensor
        public let time: Tensor
        public let noise: Tensor
        public let schedule: DiffusionSchedule
    }

    public let graph: Graph
    public let count: Int
    /// Integer class labels (count), an input named like the model's labels, for conditional models.
    public let labels: Tensor?
    public let output: Output

    /// Whether the images come from a denoiser replayed over noise levels (`Output.diffusion`).
    public var isDiffusion: Bool {
        if case .diffusion = output { return true }
        return false
    }
}

/// What a model's builder is asked for.
enum BuildPurpose {
    /// One training step: batch norm on batch statistics, the phases' objectives.
    case training
    /// The test metrics: batch norm on running statistics, no objectives.
    case evaluation
}

/// What a model's builder returns: the data inputs, and the phases (training) or metrics (evaluation).
struct ModelParts {
    let images: Tensor
    let labels: Tensor?
    var phases: [Phase] = []
    var metrics: [EvaluationGraph.Metric] = []
    var histories: [History] = []
}

/// How to build one of the zoo's models (`docs/zoo.md`).
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
    /// Names of the test metrics `evaluationGraph(batch:)` computes, in declaration order.
    public let metricNames: [String]
    /// The model's functions (a `.gg` file's `def`s and `network`s), in declaration order.
    public let functions: [ModelFunction]
    /// Whether sampling takes a temperature (RealNVP scales its latent by it).
    public let takesTemperature: Bool
    /// Images inputs fed one class each, in declaration order (empty for single-input models).
    public let domains: [ImageDomain]
    /// The functions that translate between domains.
    public let translations: [Translation]
    let build: (_ graph: Graph, _ batch: Int, _ purpose: BuildPurpose) throws -> ModelParts
    let sampler: ((_ graph: Graph, _ count: Int, _ temperature: Float) throws -> (labels: Tensor?, output: SampleGraph.Output))?

    /// `sampler` builds a sample graph for a count; a model whose samples depend on a temperature
    /// gives `temperedSampler` instead, and `takesTemperature` says whether it reads it.
    init(name: String, summary: String, defaultBatch: Int, encoding: PixelEncoding, classes: Int = 0,
         hyperParameters: [HyperParameter] = [], source: String? = nil, metrics: [String] = [], functions: [ModelFunction] = [],
         build: @escaping (_ graph: Graph, _ batch: Int, _ purpose: BuildPurpose) throws -> ModelParts,
         sampler: ((_ graph: Graph, _ count: Int) throws -> (labels: Tensor?, output: SampleGraph.Output))? = nil,
         temperedSampler: ((_ graph: Graph, _ count: Int, _ temperature: Float) throws -> (labels: Tensor?, output: SampleGraph.Output))? = nil,
         takesTemperature: Bool = false, domains: [ImageDomain] = [], translations: [Translation] = []) {
        self.name = name
        self.summary = summary
        self.defaultBatch = defaultBatch
        self.encoding = encoding
        self.classes = classes
        self.hyperParameters = hyperParameters
        self.source = source
        metricNames = metrics
        // Calls check the parameters they declare against the training graph's (built on demand).
        let model = (name: name, batch: defaultBatch)
        self.functions = functions.map { f in
            var f = f
            f.modelParameters = {
                let graph = Graph()
                _ = try build(graph, model.batch, .training)
                var shapes: [String: Shape] = [:]
                for t in graph.parameters { if case .parameter(let n) = t.node.op { shapes[n] = t.shape } }
                return (model.name, shapes)
            }
            return f
        }
        self.build = build
        self.sampler = temperedSampler ?? sampler.map { sample in { graph, count, _ in try sample(graph, count) } }
        self.takesTemperature = takesTemperature
        self.domains = domains
        self.translations = translations
    }

    private func checkBatch(_ b: Int) throws {
        guard b >= 1 else { throw GraphError(op: name, "batch size must be at least 1, got \(b)") }
    }

    /// The model's graph for `batch` images per step; training batch norm takes its statistics
    /// over `batchStatisticsReplicas` ranks' batches (`Graph.batchStatisticsReplicas`).
    public func instantiate(batch: Int? = nil, batchStatisticsReplicas: Int = 1) throws -> Model {
        let b = batch ?? defaultBatch
        try checkBatch(b)
        let graph = Graph()
        graph.batchStatisticsReplicas = batchStatisticsReplicas
        let parts = try build(graph, b, .training)
        return Model(name: name, graph: graph, batchSize: b, images: parts.images, labels: parts.labels,
                     phases: parts.phases, encoding: encoding, domains: domains, histories: parts.histories)
    }

    /// Whether the model can generate images (`sampleGraph(count:)` is non-nil).
    public var canSample: Bool { sampler != nil }

    /// A fresh graph generating `count` images, or nil when the model has no prior to sample.
    /// `temperature` (finite, >= 0; 1 when nil) is for models that take one (`takesTemperature`).
    public func sampleGraph(count: Int, temperature: Float? = nil) throws -> SampleGraph? {
        guard let sampler else { return nil }
        guard count >= 1 else { throw GraphError(op: name, "sample count must be at least 1, got \(count)") }
        if let temperature {
            guard takesTemperature else { throw GraphError(op: name, "the model's sampling takes no temperature") }
            guard temperature.isFinite, temperature >= 0 else {
                throw GraphError(op: name, "the temperature must be a finite number >= 0, got \(temperature)")
            }
        }
        let graph = Graph()
        let parts = try sampler(graph, count, temperature ?? 1)
        return SampleGraph(graph: graph, count: count, labels: parts.labels, output: parts.output)
    }

    /// Whether the model declares test metrics (`evaluationGraph(batch:)` is non-nil).
    public var canEvaluate: Bool { !metricNames.isEmpty }

    /// A fresh graph computing the test metrics on `batch` images (and labels, for models with
    /// them), batch norm on running statistics; nil when the model declares no metrics.
    public func evaluationGraph(batch: Int? = nil) throws -> EvaluationGraph? {
        guard canEvaluate else { return nil }
        let b = batch ?? defaultBatch
        try checkBatch(b)
        let graph = Graph()
        let parts = try build(graph, b, .evaluation)
        for metric in parts.metrics where metric.value.shape != [] && metric.value.shape != [b] {
            throw GraphError(op: name, "metric '\(metric.name)' must have shape [\(b)] or be a scalar, got \(metric.value.shape)")
        }
        guard parts.metrics.map(\.name) == metricNames else {
            throw GraphError(op: name, "built metrics \(parts.metrics.map(\.name)), declared \(metricNames)")
        }
        return EvaluationGraph(graph: graph, batchSize: b, images: parts.images, labels: parts.labels, metrics: parts.metrics)
    }

    /// The names of the model's functions, in declaration order.
    public var functionNames: [String] { functions.map(\.name) }

    /// The function (`def` or `network`) called `name`, or nil when the model has none by that name.
    public func function(named name: String) -> ModelFunction? {
        functions.first { $0.name == name }
    }

    /// Builds the function `name` on `arguments` into their graph (or `graph`, for a function
    /// without arguments), with the model's parameter names and hyper-parameters; batch norm uses
    /// running statistics unless `training`. Throws for an unknown name or a wrong argument count.
    public func call(_ name: String, _ arguments: [Tensor], in graph: Graph? = nil, training: Bool = false) throws -> Tensor {
        guard let f = function(named: name) else {
            let known = functionNames.isEmpty ? "it has none" : "it has " + functionNames.joined(separator: ", ")
            throw GraphError(op: self.name, "no function named '\(name)' (\(known))")
        }
        return try f(arguments, in: graph, training: training)
    }
}

/// Parameters whose names start with `prefix` (a sub-network such as "G." or "D.").
func parameters(of graph: Graph, prefix: String) -> [Tensor] {
    graph.parameters.filter { if case .parameter(let n) = $0.node.op { return n.hasPrefix(prefix) }; return false }
}
