@testable import GenGraph
import XCTest

/// `metric` declarations, the `correct` built-in, and calling a model's functions from Swift.
final class DSLMetricTests: XCTestCase {
    private func value(_ shape: Shape, _ scalars: [Float]) throws -> TensorValue { try TensorValue(shape: shape, scalars: scalars) }

    private func names(_ graph: Graph) -> [String: Shape] {
        Dictionary(uniqueKeysWithValues: graph.parameters.compactMap { t -> (String, Shape)? in
            guard case .parameter(let n) = t.node.op else { return nil }
            return (n, t.shape)
        })
    }

    // MARK: correct

    func testCorrectIsOneWhereTheLabelsLogitIsTheRowMaximum() throws {
        let g = Graph()
        let logits = try g.input("logits", [5, 3]), labels = try g.input("labels", [5])
        let correct = try correctPredictions(logits: logits, labels: labels)
        XCTAssertEqual(correct.shape, [5])
        let out = try Session(graph: g, config: RunConfig(threads: 1)).run([correct], feeds: [
            "logits": value([5, 3], [0.1, 2, -1,   // argmax 1
                                     5, 4, 3,      // argmax 0
                                     -3, -2, -1,   // argmax 2, all negative
                                     1, 7, 7,      // a tie between 1 and 2 counts for either
                                     0, 0, 0.5]),  // argmax 2
            "labels": value([5], [1, 2, 2, 2, 0]),
        ])
        XCTAssertEqual(out[0].scalars, [1, 0, 1, 1, 0])
        XCTAssertThrowsError(try correctPredictions(logits: labels, labels: labels))
        XCTAssertThrowsError(try correctPredictions(logits: logits, labels: g.input("short", [4])))
    }

    func testCorrectInTheDSLBuildsTheSwiftFunctionsGraph() throws {
        let text = """
            model m
            hyper batch = 4
            input x : images[batch, 1, 2, 2] unit
            input y : labels[batch] of 3
            logits = x -> flatten -> dense(3) as fc
            loss = cross_entropy(logits, y)
            minimize loss with sgd(0.1)
            metric accuracy = correct(logits, y)
            metric loss
            """
        let definition = try ModelSource.parse(text, file: "m.gg").definition()
        XCTAssertEqual(definition.metricNames, ["accuracy", "loss"])
        XCTAssertTrue(definition.canEvaluate)
        let evaluation = try XCTUnwrap(definition.evaluationGraph(batch: 6))
        XCTAssertEqual(evaluation.metrics.map(\.value.shape), [[6], []])
        XCTAssertEqual(evaluation.metric(named: "accuracy")?.isPerExample, true)
        XCTAssertEqual(evaluation.metric(named: "loss")?.isPerExample, false)
        XCTAssertNil(evaluation.metric(named: "nope"))

        let g = Graph()
        let x = try g.input("x", [6, 1, 2, 2]), y = try g.input("y", [6])
        let logits = try x.flatten().dense(3, name: "fc")
        let loss = try crossEntropy(logits: logits, labels: y)
        let accuracy = try correctPredictions(logits: logits, labels: y)
        XCTAssertEqual(evaluation.graph.text(), g.text())
        XCTAssertEqual(evaluation.metrics.map(\.value.id), [accuracy.id, loss.id])
        // The training graph builds no metric nodes.
        XCTAssertFalse(try definition.instantiate().graph.nodes.contains { $0.op == .binary(.greaterEqual) })
    }

    // MARK: Metrics

    private let base = [
        "model m",
        "hyper batch = 4",
        "input x : images[batch, 1, 28, 28] unit",
        "h = reshape(x, [batch, 784]) -> dense(8) as enc",
        "loss = mean(h)",
        "minimize loss with adam(1e-3)",
    ]

    private func assertError(_ lines: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try ModelSource.parse((base + lines).joined(separator: "\n"), file: "m.gg").definition()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as DSLError {
            XCTAssertEqual(error.description, expected, file: file, line: line)
        } catch {
            XCTFail("expected a DSLError, got \(error)", file: file, line: line)
        }
    }

    func testAModelWithoutMetricsCannotEvaluate() throws {
        let definition = try ModelSource.parse(base.joined(separator: "\n"), file: "m.gg").definition()
        XCTAssertFalse(definition.canEvaluate)
        XCTAssertEqual(definition.metricNames, [])
        XCTAssertNil(try definition.evaluationGraph(batch: 2))
        XCTAssertEqual(definition.functionNames, [])
    }

    func testMetricsThatAreNotPerExampleOrScalarAreLocatedErrors() {
        assertError(["metric codes = h"], """
            m.gg:7:16: error: metric 'codes' must have one value per example, shape [4], or be a scalar, got a tensor of shape [4,8]
            metric codes = h
                           ^
            """)
        assertError(["metric h"], """
            m.gg:7:8: error: metric 'h' must have one value per example, shape [4], or be a scalar, got a tensor of shape [4,8]
            metric h
                   ^
            """)
        assertError(["metric per_pixel = sum(x, axis=1)"], """
            m.gg:7:20: error: metric 'per_pixel' must have one value per example, shape [4], or be a scalar, got a tensor of shape [4,28,28]
            metric per_pixel = sum(x, axis=1)
                               ^
            """)
        assertError(["metric three = 3"], """
            m.gg:7:16: error: metric 'three' must have one value per example, shape [4], or be a scalar, got the integer 3
            metric three = 3
                           ^
            """)
    }

    func testOtherMetricErrors() {
        assertError(["metric nope"], """
            m.gg:7:8: error: unknown name 'nope'
            metric nope
                   ^
            """)
        assertError(["metric loss", "metric loss = mean(h)"], """
            m.gg:8:1: error: metric 'loss' is declared twice
            metric loss = mean(h)
            ^
            """)
        assertError(["metric probe = mean(dense(h, 2) as probe)"], """
            m.gg:7:16: error: metric 'probe' reads 'probe.weight', a parameter that no objective trains
            metric probe = mean(dense(h, 2) as probe)
                           ^
            """)
        // A sample, like a metric, may only read what training trains: else it draws from random initial weights.
        assertError(["sample n = normal([n, 8]) -> dense(784) as dec -> sigmoid -> reshape([n, 1, 28, 28])"], """
            m.gg:7:1: error: the sample reads 'dec.weight', a parameter that no objective trains
            sample n = normal([n, 8]) -> dense(784) as dec -> sigmoid -> reshape([n, 1, 28, 28])
            ^
            """)
        assertError(["sample n {", "  z = dense(normal([n, 8]), 8) as fresh", "  return z -> dense(784) as dec -> sigmoid -> reshape([n, 1, 28, 28])", "}"], """
            m.gg:7:1: error: the sample reads 'fresh.weight', a parameter that no objective trains
            sample n {
            ^
            """)
        assertError(["metric = 3"], """
            m.gg:7:8: error: expected a metric name, found '='
            metric = 3
                   ^
            """)
        assertError(["metric s = sum(h, axis=1) + x"], """
            m.gg:7:27: error: add: cannot broadcast [4] with [4,1,28,28]
            metric s = sum(h, axis=1) + x
                                      ^
            """)
    }

    func testMetricsSeeTheStatementsAboveThemAndUseRunningStatistics() throws {
        let text = """
            model m
            hyper batch = 4
            input x : images[batch, 1, 28, 28] unit
            h = x -> conv(2, 3) -> batch_norm as bn -> flatten -> dense(1) -> reshape([batch])
            metric early = h
            loss = mean(h)
            minimize loss with adam(1e-3)
            """
        let definition = try ModelSource.parse(text, file: "m.gg").definition()
        XCTAssertFalse(try definition.instantiate().graph.stateUpdates.isEmpty)
        let evaluation = try XCTUnwrap(definition.evaluationGraph(batch: 2))
        XCTAssertEqual(evaluation.metrics.map(\.value.shape), [[2]])
        XCTAssertTrue(evaluation.graph.stateUpdates.isEmpty)
        XCTAssertTrue(evaluation.graph.states.count == 2)
    }

    // MARK: Calling a model's functions

    func testCallingDecodeAndEncodeBuildsTheModelsParameters() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "vae"))
        let trained = names(try definition.instantiate().graph)
        let g = Graph()
        let images = try g.input("images", [5, 1, 28, 28])
        let mu = try definition.call("encode_mu", [images])
        let logvar = try definition.call("encode_logvar", [images])
        let logits = try definition.call("decode", [mu])
        XCTAssertEqual([mu.shape, logvar.shape, logits.shape], [[5, 20], [5, 20], [5, 784]])
        let built = names(g)
        XCTAssertEqual(Set(built.keys), ["enc.weight", "enc.bias", "mu.weight", "mu.bias", "logvar.weight", "logvar.bias",
                                         "dec1.weight", "dec1.bias", "dec2.weight", "dec2.bias"])
        for (name, shape) in built { XCTAssertEqual(trained[name], shape, name) }
        XCTAssertEqual(g.parameters.count, built.count, "encode_mu and encode_logvar share the encoder's parameters")
        XCTAssertEqual(g.initializers, try definition.instantiate().graph.initializers.filter { built[$0.key] != nil })
        // Nodes point at the .gg lines they came from; the caller's origin is left as it was.
        XCTAssertTrue(g.nodes.contains { $0.origin?.hasPrefix("vae.gg:") == true })
        XCTAssertNil(g.currentOrigin)
    }

    func testCalledFunctionsFollowHyperParameterOverridesAndTakeLabels() throws {
        let vae = try XCTUnwrap(DSLZoo.definition(named: "vae", overrides: ["latent": "8"]))
        let g = Graph()
        _ = try vae.call("decode", [g.input("z", [2, 8])])
        XCTAssertEqual(names(g)["dec1.weight"], [400, 8])

        let cvae = try XCTUnwrap(DSLZoo.definition(named: "cvae"))
        let h = Graph()
        let y = try h.input("y", [2])
        let mu = try cvae.call("encode_mu", [h.input("x", [2, 1, 28, 28]), y])
        XCTAssertEqual(try cvae.call("decode", [mu, y]).shape, [2, 784])
        XCTAssertEqual(names(h)["enc.weight"], [400, 794])
        XCTAssertEqual(names(h)["dec1.weight"], [400, 30])
    }

    func testClassifierFeaturesMatchTheTrainedLayersAndItsAccuracy() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "classifier"))
        let store = ParameterStore()
        let evaluation = try XCTUnwrap(definition.evaluationGraph(batch: 4))
        let pixels = (0..<(4 * 784)).map { Float(($0 * 37) % 101) / 100 }
        let feeds = ["x": try value([4, 1, 28, 28], pixels), "y": try value([4], [0, 3, 7, 9])]
        let accuracy = try Session(graph: evaluation.graph, config: RunConfig(threads: 1), parameters: store)
            .run([XCTUnwrap(evaluation.metric(named: "accuracy")).value], feeds: feeds)[0]

        let g = Graph()
        let x = try g.input("x", [4, 1, 28, 28])
        let features = try definition.call("features", [x])
        let logits = try definition.call("logits", [x])
        XCTAssertEqual(features.shape, [4, 128])
        XCTAssertEqual(Set(names(g).keys), ["c1.weight", "c1.bias", "c2.weight", "c2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        // Same parameters (one store), so the function's logits give the metric's accuracy.
        let out = try Session(graph: g, config: RunConfig(threads: 1), parameters: store).run([logits], feeds: ["x": feeds["x"]!])[0]
        let rows = stride(from: 0, to: 40, by: 10).map { Array(out.scalars[$0..<$0 + 10]) }
        let expected = zip(rows, [0, 3, 7, 9]).map { row, label in row[label] == row.max()! ? Float(1) : 0 }
        XCTAssertEqual(accuracy.scalars, expected)
    }

    func testGANNetworksUseRunningStatisticsUnlessTraining() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "dcgan"))
        let g = Graph()
        let images = try definition.call("G", [g.input("z", [3, 100])])
        XCTAssertEqual(images.shape, [3, 1, 28, 28])
        XCTAssertTrue(g.stateUpdates.isEmpty)
        XCTAssertTrue(names(g).keys.allSatisfy { $0.hasPrefix("G.") })
        XCTAssertEqual(definition.function(named: "G")?.isNetwork, true)
        let t = Graph()
        _ = try definition.call("G", [t.input("z", [3, 100])], training: true)
        XCTAssertEqual(t.stateUpdates.count, 4)
    }

    func testUnknownFunctionsAndBadCallsAreClearErrors() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "vae"))
        XCTAssertNil(definition.function(named: "decoder"))
        let g = Graph()
        let z = try g.input("z", [2, 20])
        XCTAssertThrowsError(try definition.call("decoder", [z])) { error in
            XCTAssertEqual((error as? GraphError)?.description,
                           "vae: no function named 'decoder' (it has encoder, mu_head, logvar_head, encode_mu, encode_logvar, decode)")
        }
        XCTAssertThrowsError(try definition.call("decode", [z, z])) { error in
            XCTAssertEqual((error as? GraphError)?.description, "decode: takes 1 argument (z), got 2")
        }
        XCTAssertThrowsError(try definition.call("decode", [Graph().input("z", [2, 20])], in: g)) { error in
            XCTAssertEqual((error as? GraphError)?.message, "argument %0 belongs to another graph")
        }
        XCTAssertThrowsError(try XCTUnwrap(Zoo.model(named: "ae")).call("decode", [z])) { error in
            XCTAssertEqual((error as? GraphError)?.description, "ae: no function named 'decode' (it has none)")
        }
        // A shape error inside the function is a DSL error at the .gg line that built the node.
        XCTAssertThrowsError(try definition.call("decode", [g.input("images", [2, 1, 28, 28])])) { error in
            let e = error as? DSLError
            XCTAssertEqual(e?.location.file, "vae.gg")
            XCTAssertTrue(e?.message.hasPrefix("dense:") == true, "\(error)")
        }
        // A wrongly sized argument would declare parameters the model's checkpoint cannot fill.
        XCTAssertThrowsError(try definition.call("decode", [g.input("short", [2, 7])])) { error in
            XCTAssertEqual((error as? GraphError)?.description, "decode: 'dec1.weight' has shape [400,7] here but [400,20] in model 'vae'")
        }
    }

    func testAFunctionWithoutArgumentsNeedsAGraph() throws {
        let text = """
            model m
            hyper batch = 4
            hyper latent = 3
            input x : images[batch, 1, 28, 28] unit
            def prior() = normal([2, latent])
            def code(x) = x -> flatten -> dense(latent) as enc
            loss = mean(code(x))
            minimize loss with adam(1e-3)
            """
        let definition = try ModelSource.parse(text + "\ndef probe(x) = x -> flatten -> dense(2) as probe", file: "m.gg").definition()
        XCTAssertEqual(definition.functionNames, ["prior", "code", "probe"])
        XCTAssertThrowsError(try definition.call("prior", []))
        let g = Graph()
        XCTAssertEqual(try definition.call("prior", [], in: g).shape, [2, 3])
        XCTAssertEqual(try definition.call("code", [g.input("x", [1, 1, 28, 28])]).shape, [1, 3])
        // A function whose layers no objective trains has nothing a checkpoint could give it.
        XCTAssertThrowsError(try definition.call("probe", [g.input("x", [1, 1, 28, 28])])) { error in
            XCTAssertEqual((error as? GraphError)?.description,
                           "probe: declares 'probe.weight', which is not a parameter of model 'm' (its training graph has no such layer)")
        }
    }
}
