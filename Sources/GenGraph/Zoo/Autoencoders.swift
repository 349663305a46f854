/// The autoencoder family of docs/zoo.md (data in [0, 1]); parameter names follow
/// the PyTorch reference modules so checkpoints line up with their state_dicts.
enum AutoencoderZoo {
    static let adam = OptimizerRule.adam(learningRate: 1e-3)

    /// One objective over every parameter; the test metric `test_loss` is the loss itself.
    static func parts(_ x: Tensor, _ loss: Tensor) -> ModelParts {
        ModelParts(images: x, labels: nil, phases: [Phase([Objective(name: "loss", loss: loss, parameters: x.graph.parameters, rule: adam)])],
                   metrics: [EvaluationGraph.Metric(name: "test_loss", value: loss)])
    }

    /// ae, dae (noise 0.3) and sae (sparsity 1e-3).
    static func ae(noise: Float = 0, sparsity: Float = 0) -> (Graph, Int, BuildPurpose) throws -> ModelParts {
        { g, b, _ in
            let x = try g.input("x", [b, 1, 28, 28])
            let flat = try x.reshape([b, 784])
            let input = noise == 0 ? flat : try (flat + g.randomNormal([b, 784]) * noise).clamp(0, 1)
            var h = try input.dense(256, name: "enc1").relu().dense(32, name: "enc2")
            if sparsity != 0 { h = try h.relu() }
            let logits = try h.dense(256, name: "dec1").relu().dense(784, name: "dec2")
            var loss = try perSampleMean(bceWithLogits(logits, flat))
            if sparsity != 0 { loss = try loss + perSampleMean(h.abs()) * sparsity }
            return parts(x, loss)
        }
    }

    static func convAE(_ g: Graph, _ b: Int, _: BuildPurpose) throws -> ModelParts {
        let x = try g.input("x", [b, 1, 28, 28])
        let h = try x.conv2d(16, kernel: 3, stride: 2, padding: 1, name: "c1").relu()
            .conv2d(32, kernel: 3, stride: 2, padding: 1, name: "c2").relu()
            .flatten().dense(32, name: "code")
        let d = try h.dense(32 * 7 * 7, name: "expand").relu().reshape([b, 32, 7, 7])
        let logits = try d.convTranspose2d(16, kernel: 4, stride: 2, padding: 1, name: "t1").relu()
            .convTranspose2d(1, kernel: 4, stride: 2, padding: 1, name: "t2")
        return parts(x, try perSampleMean(bceWithLogits(logits, x)))
    }

    /// The VAE's pieces, shared by training, evaluation, sampling and the callable functions
    /// (`encode_mu`, `encode_logvar`, `decode`: what traversals and the importance-weighted bound need).
    struct VAE {
        let classes: Int
        let latent = 20

        func condition(_ t: Tensor, _ y: Tensor?) throws -> Tensor {
            guard let y, classes > 0 else { return t }
            return try concat([t, y.oneHot(depth: classes)], axis: 1)
        }

        /// The shared hidden layer of the encoder, from flattened images (n, 784).
        func encoder(_ flat: Tensor, _ y: Tensor?) throws -> Tensor {
            try condition(flat, y).dense(400, name: "enc").relu()
        }

        func muHead(_ h: Tensor) throws -> Tensor { try h.dense(latent, name: "mu") }
        func logvarHead(_ h: Tensor) throws -> Tensor { try h.dense(latent, name: "logvar") }
        func encodeMu(_ x: Tensor, _ y: Tensor?) throws -> Tensor { try muHead(encoder(x.flatten(), y)) }
        func encodeLogvar(_ x: Tensor, _ y: Tensor?) throws -> Tensor { try logvarHead(encoder(x.flatten(), y)) }

        /// Bernoulli logits of the 784 pixels.
        func decode(_ z: Tensor, _ y: Tensor?) throws -> Tensor {
            try condition(z, y).dense(400, name: "dec1").relu().dense(784, name: "dec2")
        }

        /// Per-image negative ELBO (nats), shape (batch), one eps draw.
        func negativeELBO(_ flat: Tensor, _ y: Tensor?) throws -> Tensor {
            let g = flat.graph
            let h = try encoder(flat, y)
            let mu = try muHead(h), logvar = try logvarHead(h)
            let z = try mu + (logvar * 0.5).exp() * g.randomNormal(mu.shape)
            let reconstruction = try bceWithLogits(decode(z, y), flat).sum(axes: [1])
            let kl = try (1 + logvar - mu.square() - logvar.exp()).sum(axes: [1]) * -0.5
            return try reconstruction + kl
        }

        /// The `def`s of vae.gg / cvae.gg, in their order; cvae's take the labels `y` too.
        var functions: [ModelFunction] {
            let c = classes > 0
            let label = { (a: [Tensor]) in c ? a[1] : nil }
            let labelled = { (names: [String]) in c ? names + ["y"] : names }
            func f(_ name: String, _ parameters: [String], _ body: @escaping ([Tensor]) throws -> Tensor) -> ModelFunction {
                ModelFunction(name: name, parameters: parameters) { _, a, _ in try body(a) }
            }
            return (c ? [f("condition", ["t", "y"]) { try condition($0[0], $0[1]) }] : []) + [
                f("encoder", labelled(["flat"])) { try encoder($0[0], label($0)) },
                f("mu_head", ["h"]) { try muHead($0[0]) },
                f("logvar_head", ["h"]) { try logvarHead($0[0]) },
                f("encode_mu", labelled(["x"])) { try encodeMu($0[0], label($0)) },
                f("encode_logvar", labelled(["x"])) { try encodeLogvar($0[0], label($0)) },
                f("decode", labelled(["z"])) { try decode($0[0], label($0)) },
            ]
        }
    }

    static func vae(classes: Int) -> (Graph, Int, BuildPurpose) throws -> ModelParts {
        { g, b, _ in
            let x = try g.input("x", [b, 1, 28, 28])
            let y = classes > 0 ? try g.input("y", [b]) : nil
            let negativeELBO = try VAE(classes: classes).negativeELBO(x.reshape([b, 784]), y)
            let loss = try negativeELBO.mean()
            return ModelParts(images: x, labels: y, phases: [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters, rule: adam)])],
                              metrics: [EvaluationGraph.Metric(name: "neg_elbo", value: negativeELBO)])
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
