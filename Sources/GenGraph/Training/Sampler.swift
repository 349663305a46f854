import Foundation
import Kernels

/// Draws images from a trained model's prior.
public struct Sampler {
    public let definition: ModelDefinition
    public let parameters: ParameterStore
    public let config: RunConfig
    /// Autoregressive models: run every pixel on the full canvas with one compiled
    /// plan, rather than on the rows filled so far (one plan per height, about half
    /// the work). The logits agree to rounding, so the images agree unless rounding
    /// decides a draw.
    public var fullCanvas = false
    /// Diffusion models: how to walk from noise to images (nil: DDIM over 50 steps). Other
    /// models refuse it.
    public var diffusion: DiffusionSampling?

    public init(definition: ModelDefinition, parameters: ParameterStore, config: RunConfig) {
        self.definition = definition
        self.parameters = parameters
        self.config = config
    }

    /// `count` images, (count, 1, 28, 28), in the model's pixel range. `labels`
    /// (one per image) for conditional models; default 0, 1, ..., 9, 0, ...
    /// `temperature` for models whose sampling takes one (RealNVP; 1 when nil).
    /// PixelCNN-style models run their 784-step loop on one compiled plan, diffusion
    /// models each step of `diffusion`.
    public func sample(count: Int, labels: [Int]? = nil, temperature: Float? = nil) throws -> TensorValue {
        guard let sampleGraph = try definition.sampleGraph(count: count, temperature: temperature) else {
            throw GraphError(op: "sample", "model '\(definition.name)' has no 'sample' entry")
        }
        // The images are held three times at once: the plan's storage, the result, the caller's copy.
        try HostMemory.require(floats: count, times: 3 * 784, for: "drawing \(count) samples")
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
        if diffusion != nil, !sampleGraph.isDiffusion {
            throw GraphError(op: "sample", "model '\(definition.name)' is not a diffusion model; a diffusion sampler (--sampler, --steps) does not apply")
        }
        var pixelByPixel = false
        if case .autoregressive = sampleGraph.output { pixelByPixel = true }
        if fullCanvas && !pixelByPixel {
            throw GraphError(op: "sample", "model '\(definition.name)' does not sample pixel by pixel; --full-canvas does not apply")
        }
        let images: TensorValue
        switch sampleGraph.output {
        case .images(let output):
            images = try session.run([output], feeds: feeds)[0]
        case .autoregressive(let canvas, _, let function):
            images = try autoregressive(canvas.shape, function: function, feeds: feeds, count: count)
        case .diffusion(let denoiser):
            images = try diffuse(denoiser, session: session, feeds: feeds)
        }
        // NaN or inf pixels would be drawn, saved and scored as if they were images. Scanned in
        // place: the caller copies the values out once, and they may be most of the memory there is.
        let values = UnsafeBufferPointer(start: images.buffer.pointer, count: images.shape.count)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            let count = values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            let perImage = max(1, values.count / max(1, images.shape.dims.first ?? 1))
            throw GraphError(op: "sample", "model '\(definition.name)' drew \(count) non-finite values (the first, \(values[bad]), in image "
                             + "\(bad / perImage)): its parameters have diverged or its sample entry divides by zero")
        }
        return images
    }

    /// Fills the canvas pixel by pixel in raster order, drawing pixel i from
    /// Bernoulli(sigmoid(logit)) with a counter-based uniform, so the result
    /// depends only on the seed. While filling row r it runs the model's
    /// logits function on rows 0...r only (a causal model's row r never reads
    /// the rows below), one compiled plan per height, each replayed for the
    /// row's pixels: about half the work of full-canvas passes. With
    /// `fullCanvas`, every pass sees the whole canvas: one plan, 784 replays.
    private func autoregressive(_ shape: Shape, function: String, feeds: [String: TensorValue], count: Int) throws -> TensorValue {
        let (height, width) = (shape[2], shape[3])
        let channels = shape[1]
        var image = [Float](repeating: 0, count: shape.count)
        var uniforms = [Float](repeating: 0, count: shape.count)
        var ctx = gg_ctx(nthreads: 1, isa: -1, scratch: nil, scratch_len: 0)
        try check(gg_rand_uniform_f32(&ctx, &uniforms, Int64(shape.count), mix64(config.seed ^ 0x5A4D_504C_4552), 0), "sample")
        // One session (one compiled plan) per canvas height used.
        var sessions: [Int: (session: Session, canvas: Tensor, logits: Tensor)] = [:]
        func plan(rows: Int) throws -> (session: Session, canvas: Tensor, logits: Tensor) {
            if let s = sessions[rows] { return s }
            let g = Graph()
            let canvas = try g.input("canvas", [count, channels, rows, width])
            let logits = try definition.call(function, [canvas])
            guard logits.shape == canvas.shape else {
                throw GraphError(op: "sample", "'\(function)' maps a canvas \(canvas.shape) to \(logits.shape); it must keep the shape")
            }
            let s = (try Session(graph: g, config: config, parameters: parameters), canvas, logits)
            sessions[rows] = s
            return s
        }
        for row in 0..<height {
            let rows = fullCanvas ? height : row + 1
            let (session, canvas, logits) = try plan(rows: rows)
            for column in 0..<width {
                // Rows 0..<rows of every image (those below `row` still zero).
                var cropped = [Float]()
                cropped.reserveCapacity(count * channels * rows * width)
                for b in 0..<count {
                    for c in 0..<channels {
                        let plane = (b * channels + c) * height * width
                        cropped += image[plane..<(plane + rows * width)]
                    }
                }
                var run = feeds
                run["canvas"] = try TensorValue(shape: canvas.shape, scalars: cropped)
                let values = try session.run([logits], feeds: run)[0].scalars
                for b in 0..<count {
                    for c in 0..<channels {
                        let i = ((b * channels + c) * height + row) * width + column
                        let logit = values[((b * channels + c) * rows + row) * width + column]
                        let probability = 1 / (1 + exp(-Double(logit)))
                        image[i] = Double(uniforms[i]) < probability ? 1 : 0
                    }
                }
            }
        }
        return try TensorValue(shape: shape, scalars: image)
    }
}
