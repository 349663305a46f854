import Foundation
import Kernels

/// Draws images from a trained model's prior.
public struct Sampler {
    public let definition: ModelDefinition
    public let parameters: ParameterStore
    public let config: RunConfig

    public init(definition: ModelDefinition, parameters: ParameterStore, config: RunConfig) {
        self.definition = definition
        self.parameters = parameters
        self.config = config
    }

    /// `count` images, (count, 1, 28, 28), in the model's pixel range. `labels`
    /// (one per image) for conditional models; default 0, 1, ..., 9, 0, ...
    /// PixelCNN-style models run their 784-step loop on one compiled plan.
    public func sample(count: Int, labels: [Int]? = nil) throws -> TensorValue {
        guard let sampleGraph = try definition.sampleGraph(count: count) else {
            throw GraphError(op: "sample", "model '\(definition.name)' has no 'sample' entry")
        }
        let session = try Session(graph: sampleGraph.graph, config: config, parameters: parameters)
        var feeds: [String: TensorValue] = [:]
        if let labelInput = sampleGraph.labels {
            let classes = max(definition.classes, 1)
            let values = labels ?? (0..<count).map { $0 % classes }
            guard values.count == count, values.allSatisfy({ (0..<classes).contains($0) }) else {
                throw GraphError(op: "sample", "need \(count) labels in 0..<\(classes)")
            }
            guard case .input(let name) = labelInput.node.op else { throw GraphError(op: "sample", "labels are not an input") }
            feeds[name] = try TensorValue(shape: [count], scalars: values.map(Float.init))
        } else if labels != nil {
            throw GraphError(op: "sample", "model '\(definition.name)' is not conditional; --label does not apply")
        }
        switch sampleGraph.output {
        case .images(let images):
            return try session.run([images], feeds: feeds)[0]
        case .autoregressive(let canvas, let logits):
            return try autoregressive(session, canvas: canvas, logits: logits, feeds: feeds, count: count)
        }
    }

    /// Fills the canvas pixel by pixel in raster order: each pass computes every
    /// logit (one replay of the same plan), then draws pixel i from
    /// Bernoulli(sigmoid(logit)) with a counter-based uniform, so the result
    /// depends only on the seed.
    private func autoregressive(_ session: Session, canvas: Tensor, logits: Tensor, feeds: [String: TensorValue],
                                count: Int) throws -> TensorValue {
        guard case .input(let name) = canvas.node.op else { throw GraphError(op: "sample", "canvas is not an input") }
        let shape = canvas.shape
        let pixels = shape.count / count
        var image = [Float](repeating: 0, count: shape.count)
        var uniforms = [Float](repeating: 0, count: shape.count)
        var ctx = gg_ctx(nthreads: 1, isa: -1, scratch: nil, scratch_len: 0)
        try check(gg_rand_uniform_f32(&ctx, &uniforms, Int64(shape.count), mix64(config.seed ^ 0x5A4D_504C_4552), 0), "sample")
        var feeds = feeds
        for p in 0..<pixels {
            feeds[name] = try TensorValue(shape: shape, scalars: image)
            let values = try session.run([logits], feeds: feeds)[0].scalars
            for b in 0..<count {
                let i = b * pixels + p
                let probability = 1 / (1 + exp(-Double(values[i])))
                image[i] = Double(uniforms[i]) < probability ? 1 : 0
            }
        }
        return try TensorValue(shape: shape, scalars: image)
    }
}
