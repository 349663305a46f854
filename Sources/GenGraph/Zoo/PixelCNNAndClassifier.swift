/// PixelCNN (binarised data) and the judge classifier of docs/zoo.md.
enum PixelCNNZoo {
    static func logits(_ x: Tensor) throws -> Tensor {
        var h = try x.conv2d(32, kernel: 7, padding: 3, name: "layers.0", mask: .a).relu()
        for i in 1...4 { h = try h.conv2d(32, kernel: 3, padding: 1, name: "layers.\(i)", mask: .b).relu() }
        h = try h.conv2d(32, kernel: 1, name: "layers.5", mask: .b).relu()
        return try h.conv2d(1, kernel: 1, name: "out")
    }

    static let functions = [ModelFunction(name: "pixel_logits", parameters: ["x"]) { _, a, _ in try logits(a[0]) }]

    /// The loss is the mean over the batch of the per-image NLL in nats, the test metric `nll`.
    static func build(_ g: Graph, _ b: Int, _: BuildPurpose) throws -> ModelParts {
        let x = try g.input("x", [b, 1, 28, 28])
        let nll = try bceWithLogits(logits(x), x).sum(axes: [1, 2, 3])
        let loss = try nll.mean()
        return ModelParts(images: x, labels: nil,
                          phases: [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters, rule: .adam(learningRate: 1e-3))])],
                          metrics: [EvaluationGraph.Metric(name: "nll", value: nll)])
    }

    /// Pixel logits of a canvas the sampler fills in raster order.
    static func sampler(_ g: Graph, _ n: Int) throws -> (labels: Tensor?, output: SampleGraph.Output) {
        let canvas = try g.input("x", [n, 1, 28, 28])
        return (nil, .autoregressive(canvas: canvas, logits: try logits(canvas), function: "pixel_logits"))
    }
}

enum ClassifierZoo {
    /// The 128-wide penultimate features (the Fréchet distance's feature space).
    static func features(_ x: Tensor) throws -> Tensor {
        try x.conv2d(32, kernel: 3, padding: 1, name: "c1").relu().maxPool2d(kernel: 2)
            .conv2d(64, kernel: 3, padding: 1, name: "c2").relu().maxPool2d(kernel: 2)
            .flatten().dense(128, name: "fc1").relu()
    }

    static func logits(_ x: Tensor) throws -> Tensor { try features(x).dense(10, name: "fc2") }

    static let functions = [
        ModelFunction(name: "features", parameters: ["x"]) { _, a, _ in try features(a[0]) },
        ModelFunction(name: "logits", parameters: ["x"]) { _, a, _ in try logits(a[0]) },
    ]

    /// The test metric `accuracy` is 1 per correctly classified image, built only for evaluation.
    static func build(_ g: Graph, _ b: Int, _ purpose: BuildPurpose) throws -> ModelParts {
        let x = try g.input("x", [b, 1, 28, 28])
        let y = try g.input("y", [b])
        let classLogits = try logits(x)
        let loss = try crossEntropy(logits: classLogits, labels: y)
        let metrics = purpose == .evaluation ? [EvaluationGraph.Metric(name: "accuracy", value: try correctPredictions(logits: classLogits, labels: y))] : []
        return ModelParts(images: x, labels: y,
                          phases: [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters, rule: .adam(learningRate: 1e-3))])],
                          metrics: metrics)
    }
}
