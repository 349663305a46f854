/// RealNVP of docs/zoo.md: dequantised bytes, a logit transform, 8 affine
/// couplings with checkerboard masks, a standard normal prior.
enum RealNVPZoo {
    static let couplings = 8
    /// The logit transform's a: pixels map into [a, 1 - a] before the logit.
    static let margin = 0.05

    /// x in [0, 1) to logits, and the transform's log-determinant per image.
    static func logit(_ x: Tensor) throws -> (y: Tensor, logDet: Tensor) {
        let p = try Float(margin) + Float(1 - 2 * margin) * x
        let y = try p.log() - p.neg().log1p()
        let logDet = try (x.graph.constant(Float(1 - 2 * margin)).log() - p.log() - p.neg().log1p()).sum(axes: [1, 2, 3])
        return (y, logDet)
    }

    /// log s and t of coupling `name` from the kept pixels y m and the mask.
    static func scaleAndShift(_ y: Tensor, _ m: Tensor, name: String) throws -> (logS: Tensor, t: Tensor) {
        let scale = try y.graph.parameter(name + ".scale", [1], initializer: .constant(1))
        let h = try concat([y * m, m], axis: 1)
            .conv2d(32, kernel: 3, padding: 1, name: name + ".conv1").relu()
            .conv2d(32, kernel: 3, padding: 1, name: name + ".conv2").relu()
            .conv2d(2, kernel: 3, padding: 1, name: name + ".conv3", weightInit: .constant(0), biasInit: .constant(0))
        let logS = try h.slice(axis: 1, 0..<1).tanh() * scale
        return (logS, try h.slice(axis: 1, 1..<2))
    }

    /// Coupling i keeps the pixels whose row + column has the parity i % 2.
    static func mask(_ y: Tensor, _ i: Int) throws -> Tensor { try y.graph.checkerboard(y.shape, parity: i % 2) }

    /// Logits to the latent, and the couplings' log-determinant per image.
    static func flow(_ y: Tensor) throws -> (z: Tensor, logDet: Tensor) {
        var y = y
        var logDets: [Tensor] = []
        for i in 0..<couplings {
            let m = try mask(y, i)
            let (logS, t) = try scaleAndShift(y, m, name: "couplings.\(i)")
            let next = try y * m + (1 - m) * (y * logS.exp() + t)
            logDets.append(try ((1 - m) * logS).sum(axes: [1, 2, 3]))
            y = next
        }
        var total = logDets[0]
        for d in logDets.dropFirst() { total = try total + d }
        return (y, total)
    }

    static func toLatent(_ x: Tensor) throws -> Tensor { try flow(logit(x).y).z }

    /// The inverse of `toLatent`, unclamped.
    static func fromLatent(_ z: Tensor) throws -> Tensor {
        var y = z
        for i in (0..<couplings).reversed() {
            let m = try mask(y, i)
            let (logS, t) = try scaleAndShift(y, m, name: "couplings.\(i)")
            y = try y * m + (1 - m) * (y - t) * logS.neg().exp()
        }
        return try (y.sigmoid() - Float(margin)) / Float(1 - 2 * margin)
    }

    static let functions = [
        ModelFunction(name: "to_latent", parameters: ["x"]) { _, a, _ in try toLatent(a[0]) },
        ModelFunction(name: "from_latent", parameters: ["z"]) { _, a, _ in try fromLatent(a[0]) },
    ]

    /// The loss is the mean NLL in nats of freshly dequantised images; the test metric `bpd`
    /// is that NLL in bits per dimension of the 256 levels (+ 8 for the 1/256 bins).
    static func build(_ g: Graph, _ b: Int, _ purpose: BuildPurpose) throws -> ModelParts {
        let x = try g.input("x", [b, 1, 28, 28])
        let dequantised = try (x + g.randomUniform([b, 1, 28, 28])) / 256
        let (y, logitLogDet) = try logit(dequantised)
        let (z, flowLogDet) = try flow(y)
        let logPrior = try (z.square() + g.constant(Float(2 * Double.pi)).log()).sum(axes: [1, 2, 3]) * -0.5
        let nll = try (logPrior + logitLogDet + flowLogDet).neg()
        let loss = try nll.mean()
        let metrics = purpose == .evaluation ? [EvaluationGraph.Metric(name: "bpd", value: try nll / (784 * g.constant(2).log()) + 8)] : []
        return ModelParts(images: x, labels: nil,
                          phases: [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters,
                                                    rule: .adam(learningRate: 1e-3), clipNorm: 100)])],
                          metrics: metrics)
    }

    /// z ~ N(0, temperature^2 I) through the inverse flow, clamped to [0, 1].
    static func sampler(_ g: Graph, _ n: Int, _ temperature: Float) throws -> (labels: Tensor?, output: SampleGraph.Output) {
        let z = try g.randomNormal([n, 1, 28, 28]) * temperature
        return (nil, .images(try fromLatent(z).clamp(0, 1)))
    }
}
