/// PixelCNN (binarised data) and the judge classifier of zoo.md.
enum PixelCNNZoo {
    static func logits(_ x: Tensor) throws -> Tensor {
        var h = try x.conv2d(32, kernel: 7, padding: 3, name: "layers.0", mask: .a).relu()
        for i in 1...4 { h = try h.conv2d(32, kernel: 3, padding: 1, name: "layers.\(i)", mask: .b).relu() }
        h = try h.conv2d(32, kernel: 1, name: "layers.5", mask: .b).relu()
        return try h.conv2d(1, kernel: 1, name: "out")
    }

    static func build(_ g: Graph, _ b: Int) throws -> (Tensor, Tensor?, [Phase]) {
        let x = try g.input("x", [b, 1, 28, 28])
        let loss = try perSampleMean(bceWithLogits(logits(x), x))
        return (x, nil, [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters, rule: .adam(learningRate: 1e-3))])])
    }

    /// Pixel logits of a canvas the sampler fills in raster order.
    static func sampler(_ g: Graph, _ n: Int) throws -> (labels: Tensor?, output: SampleGraph.Output) {
        let canvas = try g.input("x", [n, 1, 28, 28])
        return (nil, .autoregressive(canvas: canvas, logits: try logits(canvas)))
    }
}

enum ClassifierZoo {
    /// The 128-wide penultimate features (the Fréchet distance's feature space).
    static func features(_ x: Tensor) throws -> Tensor {
        try x.conv2d(32, kernel: 3, padding: 1, name: "c1").relu().maxPool2d(kernel: 2)
            .conv2d(64, kernel: 3, padding: 1, name: "c2").relu().maxPool2d(kernel: 2)
            .flatten().dense(128, name: "fc1").relu()
    }

    static func build(_ g: Graph, _ b: Int) throws -> (Tensor, Tensor?, [Phase]) {
        let x = try g.input("x", [b, 1, 28, 28])
        let y = try g.input("y", [b])
        let loss = try crossEntropy(logits: features(x).dense(10, name: "fc2"), labels: y)
        return (x, y, [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters, rule: .adam(learningRate: 1e-3))])])
    }
}
