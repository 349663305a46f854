/// The GAN family of docs/zoo.md (data in [-1, 1], z ~ N(0, I) of size 100).
/// Generator parameters are named "G.*", discriminator/critic "D.*".
enum GANZoo {
    static let latent = 100
    static let dcgan = Initializer.normal(mean: 0, std: 0.02)

    static func generatorMLP(_ z: Tensor, _ y: Tensor?, classes: Int) throws -> Tensor {
        var h = z
        if let y, classes > 0 { h = try concat([z, y.oneHot(depth: classes)], axis: 1) }
        let out = try h.dense(256, name: "G.l1").leakyRelu(0.2).dense(512, name: "G.l2").leakyRelu(0.2)
            .dense(784, name: "G.l3").tanh()
        return try out.reshape([z.shape[0], 1, 28, 28])
    }

    static func discriminatorMLP(_ x: Tensor, _ y: Tensor?, classes: Int) throws -> Tensor {
        var h = try x.flatten()
        if let y, classes > 0 { h = try concat([h, y.oneHot(depth: classes)], axis: 1) }
        return try h.dense(512, name: "D.l1").leakyRelu(0.2).dense(256, name: "D.l2").leakyRelu(0.2)
            .dense(1, name: "D.l3").reshape([x.shape[0]])
    }

    /// DCGAN generator; `training` picks batch or running statistics in batch norm.
    static func generatorDC(_ z: Tensor, training: Bool) throws -> Tensor {
        let b = z.shape[0]
        let h = try z.dense(128 * 7 * 7, name: "G.fc", weightInit: dcgan, biasInit: .zeros)
            .batchNorm(name: "G.bn0", training: training, gammaInit: .normal(mean: 1, std: 0.02)).relu()
            .reshape([b, 128, 7, 7])
        return try h.convTranspose2d(64, kernel: 4, stride: 2, padding: 1, name: "G.t1", weightInit: dcgan, biasInit: .zeros)
            .batchNorm(name: "G.bn1", training: training, gammaInit: .normal(mean: 1, std: 0.02)).relu()
            .convTranspose2d(1, kernel: 4, stride: 2, padding: 1, name: "G.t2", weightInit: dcgan, biasInit: .zeros).tanh()
    }

    /// DCGAN discriminator (batch norm) or WGAN critic (none); `training` as for the generator.
    static func discriminatorDC(_ x: Tensor, batchNorm: Bool, training: Bool) throws -> Tensor {
        var h = try x.conv2d(64, kernel: 4, stride: 2, padding: 1, name: "D.c1", weightInit: dcgan, biasInit: .zeros).leakyRelu(0.2)
            .conv2d(128, kernel: 4, stride: 2, padding: 1, name: "D.c2", weightInit: dcgan, biasInit: .zeros)
        if batchNorm { h = try h.batchNorm(name: "D.bn", training: training, gammaInit: .normal(mean: 1, std: 0.02)) }
        return try h.leakyRelu(0.2).flatten().dense(1, name: "D.fc", weightInit: dcgan, biasInit: .zeros).reshape([x.shape[0]])
    }

    /// The networks `G` and `D` of gan.gg, cgan.gg, dcgan.gg, wgan.gg and wgan-gp.gg (cgan's take the labels `y`).
    static func functions(conditional: Bool, convolutional: Bool, batchNorm: Bool = true) -> [ModelFunction] {
        let classes = conditional ? 10 : 0
        let label = { (a: [Tensor]) in conditional ? a[1] : nil }
        return [
            ModelFunction(name: "G", parameters: conditional ? ["z", "y"] : ["z"], isNetwork: true) { _, a, training in
                convolutional ? try generatorDC(a[0], training: training) : try generatorMLP(a[0], label(a), classes: classes)
            },
            ModelFunction(name: "D", parameters: conditional ? ["x", "y"] : ["x"], isNetwork: true) { _, a, training in
                convolutional ? try discriminatorDC(a[0], batchNorm: batchNorm, training: training)
                    : try discriminatorMLP(a[0], label(a), classes: classes)
            },
        ]
    }

    /// gan, cgan, dcgan: non-saturating losses; one D update then one G update on the same fake batch.
    /// The test metric `d_loss` is the discriminator's loss.
    static func gan(conditional: Bool, convolutional: Bool) -> (Graph, Int, BuildPurpose) throws -> ModelParts {
        { g, b, purpose in
            let classes = conditional ? 10 : 0
            let training = purpose == .training
            let x = try g.input("x", [b, 1, 28, 28])
            let y = conditional ? try g.input("y", [b]) : nil
            let z = try g.randomNormal([b, latent])
            let fake = convolutional ? try generatorDC(z, training: training) : try generatorMLP(z, y, classes: classes)
            func d(_ images: Tensor) throws -> Tensor {
                convolutional ? try discriminatorDC(images, batchNorm: true, training: training) : try discriminatorMLP(images, y, classes: classes)
            }
            let ones = try g.constant(1, [b]), zeros = try g.constant(0, [b])
            let dLoss = try bceWithLogits(d(x), ones).mean() + bceWithLogits(d(fake.stopGradient()), zeros).mean()
            let gLoss = try bceWithLogits(d(fake), ones).mean()
            let rule = OptimizerRule.adam(learningRate: 2e-4, beta1: 0.5, beta2: 0.999)
            return ModelParts(images: x, labels: y, phases: [Phase([
                Objective(name: "d_loss", loss: dLoss, parameters: parameters(of: g, prefix: "D."), rule: rule),
                Objective(name: "g_loss", loss: gLoss, parameters: parameters(of: g, prefix: "G."), rule: rule),
            ])], metrics: [EvaluationGraph.Metric(name: "d_loss", value: dLoss)])
        }
    }

    /// wgan (weight clipping, RMSProp) and wgan-gp (gradient penalty, Adam): 5 critic updates, then one G update.
    /// The test metric `critic_loss` is the critic's loss.
    static func wgan(gradientPenalty: Bool) -> (Graph, Int, BuildPurpose) throws -> ModelParts {
        { g, b, purpose in
            let training = purpose == .training
            let x = try g.input("x", [b, 1, 28, 28])
            let critic = { (images: Tensor) throws -> Tensor in try discriminatorDC(images, batchNorm: false, training: training) }
            let fake = try generatorDC(g.randomNormal([b, latent]), training: training).stopGradient()
            var criticLoss = try critic(fake).mean() - critic(x).mean()
            if gradientPenalty {
                let a = try g.randomUniform([b, 1, 1, 1])
                let mixed = try a * x + (1 - a) * fake
                let gradient = try g.gradients(of: critic(mixed).sum(), withRespectTo: [mixed])[0]
                let norm = try gradient.square().sum(axes: [1, 2, 3]).sqrt()
                criticLoss = try criticLoss + (norm - 1).square().mean() * 10
            }
            // The generator update draws its own noise, like the reference.
            let gLoss = try critic(generatorDC(g.randomNormal([b, latent]), training: training)).mean().neg()
            let rule: OptimizerRule = gradientPenalty ? .adam(learningRate: 1e-4, beta1: 0.5, beta2: 0.9)
                : .rmsprop(learningRate: 5e-5, alpha: 0.99, epsilon: 1e-8)
            let clip: ClosedRange<Float>? = gradientPenalty ? nil : -0.01...0.01
            return ModelParts(images: x, labels: nil, phases: [
                Phase([Objective(name: "critic_loss", loss: criticLoss, parameters: parameters(of: g, prefix: "D."), rule: rule, clip: clip)],
                      repeats: 5),
                Phase([Objective(name: "g_loss", loss: gLoss, parameters: parameters(of: g, prefix: "G."), rule: rule)],
                      readsData: false),
            ], metrics: [EvaluationGraph.Metric(name: "critic_loss", value: criticLoss)])
        }
    }

    /// The generator on z ~ N(0, I), batch norm on running statistics.
    static func sampler(conditional: Bool, convolutional: Bool) -> (Graph, Int) throws -> (labels: Tensor?, output: SampleGraph.Output) {
        { g, n in
            let y = conditional ? try g.input("y", [n]) : nil
            let z = try g.randomNormal([n, latent])
            let images = convolutional ? try generatorDC(z, training: false) : try generatorMLP(z, y, classes: conditional ? 10 : 0)
            return (y, .images(images))
        }
    }
}
