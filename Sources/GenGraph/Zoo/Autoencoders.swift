/// The autoencoder family of zoo.md (data in [0, 1]); parameter names follow
/// the PyTorch reference modules so checkpoints line up with their state_dicts.
enum AutoencoderZoo {
    static let adam = OptimizerRule.adam(learningRate: 1e-3)

    /// ae, dae (noise 0.3) and sae (sparsity 1e-3).
    static func ae(noise: Float = 0, sparsity: Float = 0) -> (Graph, Int) throws -> (Tensor, Tensor?, [Phase]) {
        { g, b in
            let x = try g.input("x", [b, 1, 28, 28])
            let flat = try x.reshape([b, 784])
            let input = noise == 0 ? flat : try (flat + g.randomNormal([b, 784]) * noise).clamp(0, 1)
            var h = try input.dense(256, name: "enc1").relu().dense(32, name: "enc2")
            if sparsity != 0 { h = try h.relu() }
            let logits = try h.dense(256, name: "dec1").relu().dense(784, name: "dec2")
            var loss = try perSampleMean(bceWithLogits(logits, flat))
            if sparsity != 0 { loss = try loss + perSampleMean(h.abs()) * sparsity }
            return (x, nil, [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters, rule: adam)])])
        }
    }

    static func convAE(_ g: Graph, _ b: Int) throws -> (Tensor, Tensor?, [Phase]) {
        let x = try g.input("x", [b, 1, 28, 28])
        let h = try x.conv2d(16, kernel: 3, stride: 2, padding: 1, name: "c1").relu()
            .conv2d(32, kernel: 3, stride: 2, padding: 1, name: "c2").relu()
            .flatten().dense(32, name: "code")
        let d = try h.dense(32 * 7 * 7, name: "expand").relu().reshape([b, 32, 7, 7])
        let logits = try d.convTranspose2d(16, kernel: 4, stride: 2, padding: 1, name: "t1").relu()
            .convTranspose2d(1, kernel: 4, stride: 2, padding: 1, name: "t2")
        let loss = try perSampleMean(bceWithLogits(logits, x))
        return (x, nil, [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters, rule: adam)])])
    }

    /// The VAE's pieces, shared by training, evaluation and sampling.
    struct VAE {
        let classes: Int
        let latent = 20

        func condition(_ t: Tensor, _ y: Tensor?) throws -> Tensor {
            guard let y, classes > 0 else { return t }
            return try concat([t, y.oneHot(depth: classes)], axis: 1)
        }

        func decode(_ z: Tensor, _ y: Tensor?) throws -> Tensor {
            try condition(z, y).dense(400, name: "dec1").relu().dense(784, name: "dec2")
        }

        /// Per-image negative ELBO (nats), shape (batch).
        func negativeELBO(_ flat: Tensor, _ y: Tensor?) throws -> Tensor {
            let g = flat.graph
            let h = try condition(flat, y).dense(400, name: "enc").relu()
            let mu = try h.dense(latent, name: "mu"), logvar = try h.dense(latent, name: "logvar")
            let z = try mu + (logvar * 0.5).exp() * g.randomNormal(mu.shape)
            let reconstruction = try bceWithLogits(decode(z, y), flat).sum(axes: [1])
            let kl = try (1 + logvar - mu.square() - logvar.exp()).sum(axes: [1]) * -0.5
            return try reconstruction + kl
        }
    }

    static func vae(classes: Int) -> (Graph, Int) throws -> (Tensor, Tensor?, [Phase]) {
        { g, b in
            let x = try g.input("x", [b, 1, 28, 28])
            let y = classes > 0 ? try g.input("y", [b]) : nil
            let loss = try VAE(classes: classes).negativeELBO(x.reshape([b, 784]), y).mean()
            return (x, y, [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters, rule: adam)])])
        }
    }

    /// Images decoded from z ~ N(0, I), through a sigmoid into [0, 1].
    static func vaeSampler(classes: Int) -> (Graph, Int) throws -> (labels: Tensor?, output: SampleGraph.Output) {
        { g, n in
            let vae = VAE(classes: classes)
            let y = classes > 0 ? try g.input("y", [n]) : nil
            let images = try vae.decode(g.randomNormal([n, vae.latent]), y).sigmoid().reshape([n, 1, 28, 28])
            return (y, .images(images))
        }
    }
}
