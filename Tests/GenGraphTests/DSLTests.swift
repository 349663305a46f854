@testable import GenGraph
import XCTest

final class DSLTests: XCTestCase {
    // MARK: The oracle: every .gg model builds the Swift zoo's graph

    func testEveryZooModelLowersToTheSwiftZoosGraph() throws {
        XCTAssertEqual(Set(DSLZoo.names), Set(Zoo.models.map(\.name)))
        for name in DSLZoo.names {
            let dsl = try XCTUnwrap(DSLZoo.definition(named: name), name)
            let swift = try XCTUnwrap(Zoo.model(named: name), name)
            XCTAssertEqual(dsl.name, swift.name)
            XCTAssertEqual(dsl.summary, swift.summary, name)
            XCTAssertEqual(dsl.defaultBatch, swift.defaultBatch, name)
            XCTAssertEqual(dsl.encoding, swift.encoding, name)
            XCTAssertEqual(dsl.classes, swift.classes, name)
            XCTAssertEqual(dsl.domains, swift.domains, name)
            XCTAssertEqual(dsl.translations, swift.translations, name)
            try assertSameModel(dsl.instantiate(batch: 4), swift.instantiate(batch: 4), name)
        }
    }

    func testEveryZooSamplerBuildsTheSwiftZoosGraph() throws {
        for name in DSLZoo.names {
            let dsl = try XCTUnwrap(DSLZoo.definition(named: name))
            let swift = try XCTUnwrap(Zoo.model(named: name))
            XCTAssertEqual(dsl.canSample, swift.canSample, name)
            XCTAssertEqual(dsl.takesTemperature, swift.takesTemperature, name)
            if dsl.takesTemperature {
                let (a, b) = (try XCTUnwrap(dsl.sampleGraph(count: 3, temperature: 0.7)), try XCTUnwrap(swift.sampleGraph(count: 3, temperature: 0.7)))
                XCTAssertEqual(a.graph.text(), b.graph.text(), "\(name) at temperature 0.7")
            }
            guard let a = try dsl.sampleGraph(count: 3), let b = try swift.sampleGraph(count: 3) else { continue }
            XCTAssertEqual(a.graph.text(), b.graph.text(), name)
            XCTAssertEqual(a.graph.initializers, b.graph.initializers, name)
            XCTAssertEqual(a.labels?.id, b.labels?.id, name)
            switch (a.output, b.output) {
            case (.images(let x), .images(let y)):
                XCTAssertEqual(x.id, y.id, name)
                XCTAssertEqual(x.shape, [3, 1, 28, 28], name)
            case (.autoregressive(let c, let l, let f), .autoregressive(let d, let m, let h)):
                XCTAssertEqual(f, h, "\(name) autoregressive function")
                XCTAssertEqual([c.id, l.id], [d.id, m.id], name)
            case (.diffusion(let d), .diffusion(let e)):
                XCTAssertEqual([d.canvas.id, d.time.id, d.noise.id], [e.canvas.id, e.time.id, e.noise.id], name)
                XCTAssertEqual(d.schedule, e.schedule, name)
            default:
                XCTFail("\(name): sample outputs differ in kind")
            }
            // Sampling never trains: no batch-norm statistics change.
            XCTAssertTrue(a.graph.stateUpdates.isEmpty, name)
        }
    }

    func testEveryZooEvaluationGraphBuildsTheSwiftZoosGraph() throws {
        let expected = ["ae": ["test_loss"], "dae": ["test_loss"], "sae": ["test_loss"], "conv-ae": ["test_loss"], "vae": ["neg_elbo"],
                        "cvae": ["neg_elbo"], "gan": ["d_loss"], "cgan": ["d_loss"], "dcgan": ["d_loss"], "wgan": ["critic_loss"],
                        "wgan-gp": ["critic_loss"], "pixelcnn": ["nll"], "classifier": ["accuracy"], "realnvp": ["bpd"],
                        "ddpm": ["loss"], "cyclegan": ["cycle_l1_aba", "cycle_l1_bab"]]
        let perExample: Set = ["neg_elbo", "nll", "accuracy", "bpd", "loss", "cycle_l1_aba", "cycle_l1_bab"]
        for name in DSLZoo.names {
            let dsl = try XCTUnwrap(DSLZoo.definition(named: name))
            let swift = try XCTUnwrap(Zoo.model(named: name))
            XCTAssertEqual(dsl.metricNames, expected[name], name)
            XCTAssertEqual(dsl.metricNames, swift.metricNames, name)
            let a = try XCTUnwrap(dsl.evaluationGraph(batch: 3), name)
            let b = try XCTUnwrap(swift.evaluationGraph(batch: 3), name)
            XCTAssertEqual(a.graph.text(), b.graph.text(), name)
            XCTAssertEqual(a.graph.initializers, b.graph.initializers, name)
            XCTAssertEqual(a.batchSize, 3, name)
            XCTAssertEqual(a.images.id, b.images.id, name)
            XCTAssertEqual(a.images.shape, [3, 1, 28, 28], name)
            XCTAssertEqual(a.labels?.id, b.labels?.id, name)
            XCTAssertEqual(a.metrics.map(\.name), b.metrics.map(\.name), name)
            XCTAssertEqual(a.metrics.map(\.value.id), b.metrics.map(\.value.id), name)
            for metric in a.metrics {
                XCTAssertEqual(metric.isPerExample, perExample.contains(metric.name), "\(name) \(metric.name)")
                XCTAssertEqual(metric.value.shape, metric.isPerExample ? [3] : [], "\(name) \(metric.name)")
            }
            // Evaluation never trains: batch norm reads its running statistics and updates nothing.
            XCTAssertTrue(a.graph.stateUpdates.isEmpty, name)
            // The metrics read only parameters the training graph has, with the same shapes.
            let trained = parameterShapes(try dsl.instantiate(batch: 3).graph)
            for (parameter, shape) in parameterShapes(a.graph) { XCTAssertEqual(trained[parameter], shape, "\(name) \(parameter)") }
        }
    }

    /// Arguments for zoo functions by parameter name, as inputs of a fresh graph.
    private func arguments(_ f: ModelFunction, model: String, in graph: Graph) throws -> [Tensor] {
        let latent: Shape = ["vae", "cvae"].contains(model) ? [3, 20] : model == "realnvp" ? [3, 1, 28, 28] : [3, 100]
        let shapes: [String: Shape] = ["x": [3, 1, 28, 28], "y": [3], "z": latent, "flat": [3, 784], "h": [3, 400],
                                       "t": model == "ddpm" ? [3] : [3, 5]]
        return try f.parameters.map { try graph.input($0, XCTUnwrap(shapes[$0], "\(model).\(f.name)(\($0))")) }
    }

    func testEveryZooFunctionBuildsTheSwiftZoosGraph() throws {
        let expected: [String: [String]] = [
            "vae": ["encoder(flat)", "mu_head(h)", "logvar_head(h)", "encode_mu(x)", "encode_logvar(x)", "decode(z)"],
            "cvae": ["condition(t, y)", "encoder(flat, y)", "mu_head(h)", "logvar_head(h)", "encode_mu(x, y)", "encode_logvar(x, y)",
                     "decode(z, y)"],
            "gan": ["G(z)", "D(x)"], "cgan": ["G(z, y)", "D(x, y)"], "dcgan": ["G(z)", "D(x)"], "wgan": ["G(z)", "D(x)"],
            "wgan-gp": ["G(z)", "D(x)"], "pixelcnn": ["pixel_logits(x)"], "classifier": ["features(x)", "logits(x)"],
            // Its other defs return several values or are instances' templates (called `as couplings.i`).
            "realnvp": ["to_latent(x)", "from_latent(z)"],
            "ddpm": ["eps(x, t)"],
            // The networks' templates (translator, patch_discriminator, residual) are called only as instances.
            "cyclegan": ["G_AB(x)", "G_BA(x)", "D_A(x)", "D_B(x)"],
        ]
        for name in DSLZoo.names {
            let dsl = try XCTUnwrap(DSLZoo.definition(named: name))
            let swift = try XCTUnwrap(Zoo.model(named: name))
            let signatures = dsl.functions.map { "\($0.name)(\($0.parameters.joined(separator: ", ")))" }
            XCTAssertEqual(signatures, expected[name] ?? [], name)
            XCTAssertEqual(dsl.functionNames, swift.functionNames, name)
            for f in dsl.functions {
                let g = try XCTUnwrap(swift.function(named: f.name))
                XCTAssertEqual(f.parameters, g.parameters, "\(name).\(f.name)")
                XCTAssertEqual(f.isNetwork, g.isNetwork, "\(name).\(f.name)")
                for training in [false, true] {
                    let (a, b) = (Graph(), Graph())
                    let x = try f(arguments(f, model: name, in: a), training: training)
                    let y = try g(arguments(g, model: name, in: b), training: training)
                    XCTAssertEqual(a.text(), b.text(), "\(name).\(f.name)")
                    XCTAssertEqual(a.initializers, b.initializers, "\(name).\(f.name)")
                    XCTAssertEqual(x.id, y.id, "\(name).\(f.name)")
                    XCTAssertEqual(a.stateUpdates.map(\.name), b.stateUpdates.map(\.name), "\(name).\(f.name)")
                    if !training { XCTAssertTrue(a.stateUpdates.isEmpty, "\(name).\(f.name)") }
                }
            }
        }
    }

    private func parameterShapes(_ graph: Graph) -> [String: Shape] {
        Dictionary(uniqueKeysWithValues: graph.parameters.compactMap { t -> (String, Shape)? in
            guard case .parameter(let n) = t.node.op else { return nil }
            return (n, t.shape)
        })
    }

    private func assertSameModel(_ a: Model, _ b: Model, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.graph.text(), b.graph.text(), name, file: file, line: line)
        XCTAssertEqual(a.graph.initializers, b.graph.initializers, name, file: file, line: line)
        XCTAssertEqual(a.images.id, b.images.id, name, file: file, line: line)
        XCTAssertEqual(a.labels?.id, b.labels?.id, name, file: file, line: line)
        XCTAssertEqual(a.batchSize, b.batchSize, name, file: file, line: line)
        XCTAssertEqual(a.batchesPerStep, b.batchesPerStep, name, file: file, line: line)
        XCTAssertEqual(a.domains, b.domains, name, file: file, line: line)
        XCTAssertEqual(a.histories.map(\.name), b.histories.map(\.name), name, file: file, line: line)
        XCTAssertEqual(a.histories.map(\.capacity), b.histories.map(\.capacity), name, file: file, line: line)
        XCTAssertEqual(a.histories.map { [$0.input.id, $0.source.id] }, b.histories.map { [$0.input.id, $0.source.id] }, name, file: file, line: line)
        XCTAssertEqual(a.phases.count, b.phases.count, name, file: file, line: line)
        for (p, q) in zip(a.phases, b.phases) {
            XCTAssertEqual(p.repeats, q.repeats, name, file: file, line: line)
            XCTAssertEqual(p.readsData, q.readsData, name, file: file, line: line)
            XCTAssertEqual(p.objectives.map(\.name), q.objectives.map(\.name), name, file: file, line: line)
            for (o, r) in zip(p.objectives, q.objectives) {
                XCTAssertEqual(o.loss.id, r.loss.id, "\(name) \(o.name)", file: file, line: line)
                XCTAssertEqual(o.parameters.map(\.id), r.parameters.map(\.id), "\(name) \(o.name)", file: file, line: line)
                XCTAssertEqual(o.rule, r.rule, "\(name) \(o.name)", file: file, line: line)
                XCTAssertEqual(o.clip, r.clip, "\(name) \(o.name)", file: file, line: line)
                XCTAssertEqual(o.clipNorm, r.clipNorm, "\(name) \(o.name)", file: file, line: line)
            }
        }
    }

    // MARK: Hyper-parameters

    func testOverrideChangesShapes() throws {
        let source = try XCTUnwrap(DSLZoo.model(named: "vae"))
        let model = try source.definition(overrides: ["latent": "32"]).instantiate(batch: 4)
        let shapes = Dictionary(uniqueKeysWithValues: model.graph.parameters.map { t -> (String, Shape) in
            guard case .parameter(let n) = t.node.op else { return ("", []) }
            return (n, t.shape)
        })
        XCTAssertEqual(shapes["mu.weight"], [32, 400])
        XCTAssertEqual(shapes["logvar.bias"], [32])
        XCTAssertEqual(shapes["dec1.weight"], [400, 32])
        let sample = try XCTUnwrap(source.definition(overrides: ["latent": "32"]).sampleGraph(count: 2))
        XCTAssertTrue(sample.graph.text().contains("random_normal[stream=1] : f32[2,32]"))
    }

    func testHyperParametersResolveInOrderAndFollowOverrides() throws {
        let text = """
            model m
            hyper batch = 8
            hyper latent = 4
            hyper hidden = latent * 2
            hyper lr = 1e-3
            input x : images[batch, 1, 28, 28] unit
            h = reshape(x, [batch, 784]) -> dense(hidden) -> dense(latent)
            loss = mean(h)
            minimize loss with adam(lr)
            """
        let source = try ModelSource.parse(text, file: "m.gg")
        XCTAssertEqual(try source.hyperParameters().map(\.description), ["batch = 8", "latent = 4", "hidden = 8", "lr = 0.001"])
        let overridden = try source.definition(overrides: ["latent": "5", "lr": "2e-4", "batch": "3"])
        XCTAssertEqual(overridden.hyperParameters.map(\.description), ["batch = 3", "latent = 5", "hidden = 10", "lr = 0.0002"])
        XCTAssertEqual(overridden.hyperParameters.map(\.isOverridden), [true, true, false, true])
        XCTAssertEqual(overridden.defaultBatch, 3)
        let model = try overridden.instantiate()
        XCTAssertEqual(model.images.shape, [3, 1, 28, 28])
        XCTAssertEqual(model.objectives[0].rule, .adam(learningRate: 2e-4))
        XCTAssertEqual(model.graph.parameters.map(\.shape), [[10, 784], [10], [5, 10], [5]])
    }

    // MARK: Naming and origins

    func testUnnamedLayersAreNumberedPerKindWithinTheirNetwork() throws {
        let text = """
            model m
            hyper batch = 2
            input x : images[batch, 1, 4, 4] unit
            network encoder(x) = x -> conv(2, 3, pad=1) -> flatten -> dense(8) -> relu -> dense(4) as code
            network decoder(h) = h -> dense(16) -> dense(16)
            y = decoder(encoder(x))
            loss = mean(y)
            minimize loss over encoder, decoder with sgd(0.1)
            """
        let model = try ModelSource.parse(text, file: "m.gg").definition().instantiate()
        let names = model.graph.parameters.compactMap { t -> String? in
            if case .parameter(let n) = t.node.op { return n }
            return nil
        }
        XCTAssertEqual(names, ["encoder.conv0.weight", "encoder.conv0.bias", "encoder.dense0.weight", "encoder.dense0.bias",
                               "encoder.code.weight", "encoder.code.bias", "decoder.dense0.weight", "decoder.dense0.bias",
                               "decoder.dense1.weight", "decoder.dense1.bias"])
        XCTAssertEqual(model.objectives[0].parameters.count, 10)
        XCTAssertEqual(model.objectives[0].rule, .sgd(learningRate: 0.1))
    }

    func testNodesRememberTheLineTheyCameFrom() throws {
        let model = try XCTUnwrap(DSLZoo.definition(named: "vae")).instantiate(batch: 4)
        let source = try XCTUnwrap(DSLZoo.source(named: "vae")).split(separator: "\n", omittingEmptySubsequences: false)
        let klLine = try XCTUnwrap(source.firstIndex { $0.hasPrefix("kl = ") }) + 1
        let decodeLine = try XCTUnwrap(source.firstIndex { $0.hasPrefix("def decode") }) + 1
        let origins = Set(model.graph.nodes.compactMap(\.origin))
        XCTAssertTrue(origins.contains("vae.gg:\(klLine):1"), "\(origins.sorted())")
        // A def's nodes point at the def, not at the line that called it.
        XCTAssertTrue(origins.contains("vae.gg:\(decodeLine):17"), "\(origins.sorted())")
        XCTAssertNil(model.graph.currentOrigin, "nodes built after lowering must not inherit a line")
        let exp = try XCTUnwrap(model.graph.nodes.last { $0.op == .unary(.exp) })
        XCTAssertEqual(exp.origin, "vae.gg:\(klLine):1")
    }

    // MARK: Sources

    func testEmbeddedZooMatchesTheGGFiles() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/GenGraph/DSL/Zoo").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".gg") }
        XCTAssertEqual(Set(files.map { String($0.dropLast(3)) }), Set(DSLZoo.names))
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            XCTAssertEqual(DSLZoo.source(named: String(file.dropLast(3))), text, file)
            XCTAssertEqual(try ModelSource.load(path: directory.appendingPathComponent(file).path).name, String(file.dropLast(3)))
        }
        XCTAssertNil(DSLZoo.source(named: "nope"))
        XCTAssertNil(try DSLZoo.model(named: "nope"))
    }

    func testDefinitionCarriesItsSource() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "cgan"))
        XCTAssertEqual(definition.source, DSLZoo.source(named: "cgan"))
        XCTAssertEqual(definition.hyperParameters.map(\.name), ["batch", "epochs", "nz", "classes", "lr"])
        XCTAssertEqual(definition.defaultEpochs, 30)
    }

    func testLinesContinueAfterOperatorsInsideBracketsAndBeforeArrows() throws {
        let text = """
            model m  # comments anywhere
            hyper batch = 2
            input x : images[batch,
                             1, 2, 2] unit
            h = reshape(x, [batch, 4]) +
                1
              -> relu
            loss = mean(h)
            minimize loss with adam(1e-3)
            """
        XCTAssertThrowsError(try ModelSource.parse(text, file: "m.gg").definition()) { error in
            // Parses, then fails only because nothing is trainable.
            XCTAssertEqual((error as? DSLError)?.message, "the loss 'loss' has no parameters to train")
        }
    }
}
