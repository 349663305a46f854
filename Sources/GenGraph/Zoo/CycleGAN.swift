/// CycleGAN of docs/zoo.md: generators G_AB, G_BA and PatchGAN discriminators D_A, D_B,
/// each network one set of parameters called as often as the losses need; least-squares
/// adversarial terms, cycle and identity L1 terms, the discriminators' fakes drawn through
/// history pools.
enum CycleGANZoo {
    static let domains = [ImageDomain(input: "a", label: 7), ImageDomain(input: "b", label: 9)]
    static let translations = [Translation(source: "a", target: "b", function: "G_AB"),
                               Translation(source: "b", target: "a", function: "G_BA")]
    static let poolSize = 50
    static let cycleWeight: Float = 10, identityWeight: Float = 5
    private static let weightInit = Initializer.normal(mean: 0, std: 0.02)

    private static func conv(_ x: Tensor, _ channels: Int, _ kernel: Int, stride: Int = 1, pad: Int, _ name: String) throws -> Tensor {
        try x.conv2d(channels, kernel: kernel, stride: stride, padding: pad, name: name, weightInit: weightInit, biasInit: .zeros)
    }

    private static func residual(_ x: Tensor, _ name: String) throws -> Tensor {
        let h = try conv(x, 64, 3, pad: 1, name + ".conv1").instanceNorm().relu()
        return try x + conv(h, 64, 3, pad: 1, name + ".conv2").instanceNorm()
    }

    /// A generator: images of one domain to the other's, in [-1, 1].
    static func translator(_ x: Tensor, _ name: String) throws -> Tensor {
        var h = try conv(x, 32, 7, pad: 3, name + ".conv_in").instanceNorm().relu()
        h = try conv(h, 64, 3, stride: 2, pad: 1, name + ".down").instanceNorm().relu()
        for j in 0..<3 { h = try residual(h, name + ".res.\(j)") }
        h = try h.convTranspose2d(32, kernel: 4, stride: 2, padding: 1, name: name + ".up", weightInit: weightInit, biasInit: .zeros)
            .instanceNorm().relu()
        return try conv(h, 1, 7, pad: 3, name + ".conv_out").tanh()
    }

    /// One logit per 7 x 7 overlapping patch.
    static func patchDiscriminator(_ x: Tensor, _ name: String) throws -> Tensor {
        let h = try conv(x, 64, 4, stride: 2, pad: 1, name + ".c1").leakyRelu(0.2)
        return try conv(conv(h, 128, 4, stride: 2, pad: 1, name + ".c2").instanceNorm().leakyRelu(0.2), 1, 3, pad: 1, name + ".c3")
    }

    static let functions = [
        ModelFunction(name: "G_AB", parameters: ["x"]) { _, a, _ in try translator(a[0], "G_AB") },
        ModelFunction(name: "G_BA", parameters: ["x"]) { _, a, _ in try translator(a[0], "G_BA") },
        ModelFunction(name: "D_A", parameters: ["x"]) { _, a, _ in try patchDiscriminator(a[0], "D_A") },
        ModelFunction(name: "D_B", parameters: ["x"]) { _, a, _ in try patchDiscriminator(a[0], "D_B") },
    ]

    /// One step: both generators on their objective, then both discriminators on the same
    /// batches, seeing this step's fakes through the pools. The test metrics are the cycle L1
    /// of each direction, per image.
    static func build(_ g: Graph, _ b: Int, _ purpose: BuildPurpose) throws -> ModelParts {
        let a = try g.input("a", [b, 1, 28, 28]), bImages = try g.input("b", [b, 1, 28, 28])
        let gAB = { (x: Tensor) in try translator(x, "G_AB") }, gBA = { (x: Tensor) in try translator(x, "G_BA") }
        let dA = { (x: Tensor) in try patchDiscriminator(x, "D_A") }, dB = { (x: Tensor) in try patchDiscriminator(x, "D_B") }
        let fakeB = try gAB(a), fakeA = try gBA(bImages)
        let cycleABA = try gBA(fakeB), cycleBAB = try gAB(fakeA)
        let adversarial = try meanSquaredError(dA(fakeA), g.constant(1)) + meanSquaredError(dB(fakeB), g.constant(1))
        let gLoss = try adversarial
            + cycleWeight * (meanAbsoluteError(cycleABA, a) + meanAbsoluteError(cycleBAB, bImages))
            + identityWeight * (meanAbsoluteError(gBA(a), a) + meanAbsoluteError(gAB(bImages), bImages))
        var histories: [History] = []
        func pooled(_ fake: Tensor, _ name: String) throws -> Tensor {
            guard purpose == .training else { return fake }
            let (drawn, history) = try fake.history(capacity: poolSize, name: name)
            histories.append(history)
            return drawn
        }
        let oldA = try pooled(fakeA, "pool_a"), oldB = try pooled(fakeB, "pool_b")
        let dLoss = try 0.5 * (meanSquaredError(dA(a), g.constant(1)) + meanSquaredError(dA(oldA), g.constant(0)))
            + 0.5 * (meanSquaredError(dB(bImages), g.constant(1)) + meanSquaredError(dB(oldB), g.constant(0)))
        guard purpose == .training else {
            return ModelParts(images: a, labels: nil, metrics: [
                EvaluationGraph.Metric(name: "cycle_l1_aba", value: try (cycleABA - a).abs().mean(axes: [1, 2, 3])),
                EvaluationGraph.Metric(name: "cycle_l1_bab", value: try (cycleBAB - bImages).abs().mean(axes: [1, 2, 3])),
            ])
        }
        let rule = OptimizerRule.adam(learningRate: 2e-4, beta1: 0.5, beta2: 0.999)
        return ModelParts(images: a, labels: nil, phases: [Phase([
            Objective(name: "g_loss", loss: gLoss, parameters: parameters(of: g, prefix: "G_AB.") + parameters(of: g, prefix: "G_BA."), rule: rule),
            Objective(name: "d_loss", loss: dLoss, parameters: parameters(of: g, prefix: "D_A.") + parameters(of: g, prefix: "D_B."), rule: rule),
        ])], histories: histories)
    }
}
