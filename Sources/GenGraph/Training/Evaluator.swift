import Foundation

/// Computes a trained model's test metrics (the `metric` lines of its source,
/// docs/zoo.md's test metrics for the zoo) over a data split.
public struct Evaluator {
    public let definition: ModelDefinition
    public let parameters: ParameterStore
    public let config: RunConfig
    let planCache: PlanCache

    public init(definition: ModelDefinition, parameters: ParameterStore, config: RunConfig, planCache: PlanCache = PlanCache()) {
        self.definition = definition
        self.parameters = parameters
        self.config = config
        self.planCache = planCache
    }

    /// Each metric averaged over the split: per-example metrics over every
    /// image of the whole batches, per-batch metrics over the batches. With
    /// `draws` > 1 every batch is evaluated that many times, each with fresh
    /// draws of the model's noise (a flow's dequantisation), and the metrics
    /// averaged over the draws too: the same estimate, with less variance.
    public func evaluate(_ split: MNISTSplit, batch: Int = Evaluator.batch, draws: Int = 1) throws -> [(name: String, value: Double)] {
        try RunLimits.check(draws, in: 1...RunLimits.evaluationDraws, "evaluation draws")
        let b = try Self.batchSize(of: definition, split, batch)
        guard let evaluation = try definition.evaluationGraph(batch: b) else {
            throw GraphError(op: "eval", "model '\(definition.name)' declares no metric")
        }
        let outputs = evaluation.metrics.map(\.value)
        if draws > 1, !evaluation.graph.neededNodes(for: outputs.map(\.id)).contains(where: { evaluation.graph.nodes[$0].op.category == .random }) {
            throw GraphError(op: "eval", "model '\(definition.name)' draws no noise in its metrics; more than one draw would repeat the same values")
        }
        let images = definition.domains.isEmpty ? [evaluation.images.inputName ?? "x"] : definition.domains.map(\.input)
        try checkFeeds(evaluation.graph, images: images, labels: evaluation.labels, batch: b, classes: definition.classes, split, "the split")
        let session = try Session(graph: evaluation.graph, config: config, parameters: parameters, planCache: planCache)
        var totals = [Double](repeating: 0, count: evaluation.metrics.count)
        var batches = 0
        try forEachBatch(split, b, images: images[0], labels: evaluation.labels?.inputName) { feeds in
            for _ in 0..<draws {
                let values = try session.run(outputs, feeds: feeds)
                for (k, v) in values.enumerated() { totals[k] += v.scalars.reduce(0) { $0 + Double($1) } / Double(v.shape.count) }
            }
            batches += draws
        }
        return zip(evaluation.metrics, totals).map { ($0.name, $1 / Double(max(batches, 1))) }
    }

    /// Images per evaluation batch unless told otherwise.
    public static let batch = 500

    /// The evaluation batch: `batch` images, fewer when the split (or a domain's part of it) has
    /// fewer; refuses a split with none to evaluate, which `TrainingRun` checks before it trains.
    static func batchSize(of definition: ModelDefinition, _ split: MNISTSplit, _ batch: Int) throws -> Int {
        guard split.count >= 1 else { throw GraphError(op: "eval", "the test split has no images to evaluate the metrics on") }
        let counts = definition.domains.map { split.selecting(label: $0.label).count }
        if let empty = counts.firstIndex(of: 0) {
            let domain = definition.domains[empty]
            throw GraphError(op: "eval", "the test split has no images of domain '\(domain.input)' (label \(domain.label)) to evaluate the metrics on")
        }
        return min(batch, counts.min() ?? split.count)
    }

    /// The importance-weighted estimate of -log p(x) in nats per image with `k`
    /// samples (Burda et al.), for models with `encode_mu`, `encode_logvar` and
    /// `decode` functions (the VAE family; conditional ones take labels too).
    public func importanceWeightedNLL(_ split: MNISTSplit, samples k: Int, batch: Int = 50) throws -> Double {
        for name in ["encode_mu", "encode_logvar", "decode"] where definition.function(named: name) == nil {
            throw GraphError(op: "eval --iw", "model '\(definition.name)' has no '\(name)' function (the VAE family has)")
        }
        try RunLimits.check(k, in: 1...RunLimits.importanceSamples, "importance samples")
        let conditional = definition.function(named: "decode")!.parameters.count == 2
        let b = min(batch, split.count)
        let g = Graph()
        let x = try g.input("x", [b, 1, 28, 28])
        let y = conditional ? try g.input("y", [b]) : nil
        let labels = y.map { [$0] } ?? []
        let mu = try definition.call("encode_mu", [x] + labels), logvar = try definition.call("encode_logvar", [x] + labels)
        let latent = mu.shape[1]
        let eps = try g.randomNormal([k, b, latent])
        let z = try mu + (logvar * 0.5).exp() * eps
        let repeatedLabels = try y.map { [try $0.reshape([1, b]).expand(to: [k, b]).reshape([k * b])] } ?? []
        let logits = try definition.call("decode", [try z.reshape([k * b, latent])] + repeatedLabels)
        let flat = try x.reshape([1, b, 784]).expand(to: [k, b, 784]).reshape([k * b, 784])
        let logPx = try bceWithLogits(logits, flat).sum(axes: [1]).neg().reshape([k, b])
        let halfLog2Pi = Float(0.5 * log(2 * Double.pi))
        let logPz = try (z.square() * -0.5 - halfLog2Pi).sum(axes: [2])
        let logQz = try (eps.square() * -0.5 - halfLog2Pi - logvar * 0.5).sum(axes: [2])
        let bound = try ((logPx + logPz - logQz).logSumExp(axes: [0]) - Float(log(Double(k)))).neg()
        let session = try Session(graph: g, config: config, parameters: parameters, planCache: planCache)
        var total = 0.0, images = 0
        try forEachBatch(split, b, images: "x", labels: "y") { feeds in
            total += try session.run([bound], feeds: feeds)[0].scalars.reduce(0) { $0 + Double($1) }
            images += b
        }
        return total / Double(max(images, 1))
    }

    /// Feeds each whole batch of the split in file order to the inputs `images` and `labels` (for a model
    /// with domains, each domain's images in file order, as many batches as the smallest domain fills).
    private func forEachBatch(_ split: MNISTSplit, _ b: Int, images: String, labels: String?,
                              _ body: ([String: TensorValue]) throws -> Void) throws {
        guard definition.domains.isEmpty else {
            var iterator = try DomainBatchIterator(split: split, domains: definition.domains, batchSize: b, encoding: definition.encoding,
                                                   shuffle: false)
            let size = b * 784
            while let batch = iterator.next() {
                var feeds: [String: TensorValue] = [:]
                for (k, domain) in definition.domains.enumerated() {
                    feeds[domain.input] = try TensorValue(shape: [b, 1, 28, 28], scalars: Array(batch.images[(k * size)..<((k + 1) * size)]))
                }
                try body(feeds)
            }
            return
        }
        var iterator = try BatchIterator(split: split, batchSize: b, encoding: definition.encoding, shuffle: false)
        while let batch = iterator.next() {
            var feeds = [images: try TensorValue(shape: [b, 1, 28, 28], scalars: batch.images)]
            if let labels { feeds[labels] = try TensorValue(shape: [b], scalars: batch.labels.map(Float.init)) }
            try body(feeds)
        }
    }
}
