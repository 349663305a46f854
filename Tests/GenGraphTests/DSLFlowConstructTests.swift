@testable import GenGraph
import XCTest

/// The DSL constructs a flow is written with (realnvp.gg): instances of a function
/// (`f(...) as P`), several return values, `param` and `init=`, `shape` and
/// `checkerboard`, the `bytes` range, `clip_norm`, and a sample's temperature.
final class DSLFlowConstructTests: XCTestCase {
    private func definition(_ lines: [String], overrides: [String: String] = [:]) throws -> ModelDefinition {
        try ModelSource.parse((["model m", "hyper batch = 2", "input x : images[batch, 1, 4, 4] unit"] + lines)
            .joined(separator: "\n"), file: "m.gg").definition(overrides: overrides)
    }

    private func assertError(_ lines: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try definition(lines), file: file, line: line) { error in
            XCTAssertEqual((error as? DSLError)?.description, expected, file: file, line: line)
        }
    }

    private func parameterNames(_ graph: Graph) -> [String] {
        graph.parameters.compactMap { t in
            if case .parameter(let n) = t.node.op { return n }
            return nil
        }
    }

    /// docs/dsl.md shows realnvp.gg and ddpm.gg whole; they must not drift apart.
    func testTheDocsShowTheFlowAndDiffusionSources() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/dsl.md").standardized
        let text = try String(contentsOf: docs, encoding: .utf8)
        for model in ["realnvp", "ddpm"] {
            XCTAssertTrue(text.contains("```\n" + (try XCTUnwrap(DSLZoo.source(named: model))) + "```\n"), model)
        }
    }

    // MARK: Instances and several values

    /// `f(...) as P` names the layers the call builds `P.<layer>`, through nested calls too;
    /// the same prefix again is the same instance (shared parameters).
    func testACallAsAPrefixBuildsAnInstanceWithItsOwnParameters() throws {
        let d = try definition([
            "def layer(h) = h -> dense(4) as fc",
            "def block(h) = layer(h) -> relu -> dense(4) as out",
            "a = block(flatten(x) -> dense(4) as stem) as blocks.0",
            "b = block(a) as blocks.1",
            "c = block(b) as blocks.0",
            "loss = mean(c)",
            "minimize loss with sgd(0.1)",
        ])
        let model = try d.instantiate()
        XCTAssertEqual(parameterNames(model.graph), ["stem.weight", "stem.bias",
                                                     "blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.0.out.weight", "blocks.0.out.bias",
                                                     "blocks.1.fc.weight", "blocks.1.fc.bias", "blocks.1.out.weight", "blocks.1.out.bias"])
        // An instance's layers keep their shapes: blocks.0 again on a wider input is an error at the layer.
        XCTAssertThrowsError(try definition([
            "def block(h) = h -> dense(4) as fc",
            "a = block(flatten(x)) as blocks.0",
            "b = block(a) as blocks.0",
        ])) { XCTAssertTrue("\($0)".hasPrefix("m.gg:4:21: error: param: 'blocks.0.fc.weight' already declared as param [4,16]"), "\($0)") }
        // Templates (only ever called as instances) have no parameters of their own to call from Swift.
        XCTAssertEqual(d.functionNames, [])
    }

    /// An instance made inside a network belongs to it (`N.p.<layer>`), so `over N` trains it.
    func testAnInstanceInsideANetworkBelongsToIt() throws {
        let d = try definition([
            "def layer(h) = h -> dense(3) as fc",
            "network N(h) = layer(flatten(h)) as first -> dense(2) as out",
            "loss = mean(N(x))",
            "minimize loss over N with sgd(0.1)",
        ])
        let model = try d.instantiate()
        XCTAssertEqual(parameterNames(model.graph), ["N.first.fc.weight", "N.first.fc.bias", "N.out.weight", "N.out.bias"])
        XCTAssertEqual(model.objectives[0].parameters.count, 4)
    }

    /// A function called both as an instance and plainly keeps its own layers, and stays callable.
    func testAFunctionAlsoCalledPlainlyStaysCallable() throws {
        let d = try definition([
            "def layer(h) = h -> dense(3) as fc",
            "a = layer(flatten(x)) as first",
            "b = layer(a)",
            "loss = mean(b)",
            "minimize loss with sgd(0.1)",
        ])
        XCTAssertEqual(parameterNames(try d.instantiate().graph), ["first.fc.weight", "first.fc.bias", "fc.weight", "fc.bias"])
        XCTAssertEqual(d.functionNames, ["layer"])
    }

    func testSeveralReturnValuesBindToSeveralNames() throws {
        let d = try definition([
            "def halves(h) {",
            "  doubled = h * 2",
            "  return doubled, h + 1",
            "}",
            "twice, plus_one = halves(flatten(x))",
            "loss = mean(twice * plus_one * param([1], init=1) as p)",
            "minimize loss with sgd(0.1)",
        ])
        let model = try d.instantiate()
        let x = try TensorValue(shape: [2, 1, 4, 4], scalars: (0..<32).map { Float($0) / 32 })
        let loss = try Session(graph: model.graph).run([model.objectives[0].loss], feeds: ["x": x])[0].scalars[0]
        XCTAssertEqual(loss, x.scalars.map { 2 * $0 * ($0 + 1) }.reduce(0, +) / 32, accuracy: 1e-5)
        // A function returning several values cannot be called from Swift as one tensor.
        XCTAssertEqual(d.functionNames, [])
    }

    func testNamesAndValuesMustAgreeInNumber() {
        assertError([
            "def pair(h) {",
            "  return h, h",
            "}",
            "a, b, c = pair(x)",
        ], """
            m.gg:7:11: error: 3 names need as many values, got a list of 2 values
            a, b, c = pair(x)
                      ^
            """)
        assertError([
            "a, b = x",
        ], """
            m.gg:4:8: error: 2 names need as many values, got a tensor of shape [2,1,4,4]
            a, b = x
                   ^
            """)
    }

    // MARK: Parameters and initial values

    func testParamAndInitDeclareConstantInitialisedParameters() throws {
        let d = try definition([
            "s = param([1], init=1.5) as scale",
            "h = x -> conv(2, 3, pad=1, init=0) as c -> flatten -> dense(1, init=-0.25) as d",
            "loss = mean(h * s) + mean(param([2, 3]) as t)",
            "minimize loss with sgd(0.1)",
        ])
        let g = try d.instantiate().graph
        XCTAssertEqual(parameterNames(g), ["scale", "c.weight", "c.bias", "d.weight", "d.bias", "t"])
        XCTAssertEqual(g.initializers["scale"], .constant(1.5))
        XCTAssertEqual(g.initializers["c.weight"], .constant(0))
        XCTAssertEqual(g.initializers["c.bias"], .constant(0))
        XCTAssertEqual(g.initializers["d.weight"], .constant(-0.25))
        XCTAssertEqual(g.initializers["t"], .constant(0))
        let session = try Session(graph: g)
        XCTAssertEqual(session.parameters.value("scale")?.scalars, [1.5])
        XCTAssertEqual(session.parameters.value("d.weight")?.scalars, [Float](repeating: -0.25, count: 32))
    }

    func testParamNeedsASizeAndALayerName() {
        assertError(["s = param([0]) as s"], """
            m.gg:4:11: error: argument 'shape' of 'param' must be a list of positive sizes, got a list of 1 value
            s = param([0]) as s
                      ^
            """)
        assertError(["s = x -> conv(2, 3, init=[1])"], """
            m.gg:4:21: error: argument 'init' of 'conv' must be a number, got a list of 1 value
            s = x -> conv(2, 3, init=[1])
                                ^
            """)
    }

    // MARK: Shapes and masks

    /// 1 where row + column has the parity, over odd sizes too (the 2 x 2 cell tiled, then cut).
    func testCheckerboardMarksRowPlusColumnOfAParity() throws {
        let g = Graph()
        let shape: Shape = [2, 1, 3, 5]
        let masks = try [0, 1].map { try g.checkerboard(shape, parity: $0) }
        let values = try Session(graph: g).run(masks)
        for (parity, value) in zip([0, 1], values) {
            XCTAssertEqual(value.shape, shape)
            let expected = (0..<shape.count).map { i -> Float in
                let (row, column) = ((i / 5) % 3, i % 5)
                return (row + column) % 2 == parity ? 1 : 0
            }
            XCTAssertEqual(value.scalars, expected, "parity \(parity)")
        }
        // The fused plan computes the same constants.
        let fused = try Session(graph: g, config: RunConfig(threads: 2, mode: .fused)).run(masks)
        XCTAssertEqual(fused.map(\.scalars), values.map(\.scalars))
    }

    func testShapeAndCheckerboardInTheDSL() throws {
        let d = try definition([
            "m = checkerboard(shape(x), 1)",
            "loss = mean(x * m -> flatten -> dense(1))",
            "minimize loss with sgd(0.1)",
        ])
        let g = try d.instantiate().graph
        let mask = try XCTUnwrap(g.nodes.indices.last { g.nodes[$0].shape == [2, 1, 4, 4] && g.nodes[$0].op == .broadcast })
        let value = try Session(graph: g).run([g.tensor(mask)])[0].scalars
        XCTAssertEqual(Array(value.prefix(8)), [0, 1, 0, 1, 1, 0, 1, 0])
    }

    func testCheckerboardChecksItsArguments() {
        assertError(["m = checkerboard([4], 0)"], """
            m.gg:4:5: error: checkerboard: needs at least two axes (rows, columns), got [4]
            m = checkerboard([4], 0)
                ^
            """)
        assertError(["m = checkerboard([4, 4], 2)"], """
            m.gg:4:5: error: checkerboard: parity must be 0 or 1, got 2
            m = checkerboard([4, 4], 2)
                ^
            """)
    }

    // MARK: Data, objectives and sampling

    func testBytesAreTheBytesThemselves() throws {
        XCTAssertEqual(PixelEncoding.bytes.table, (0...255).map(Float.init))
        XCTAssertEqual(PixelEncoding.bytes.range, 0...1)
        let text = ["model m", "hyper batch = 2", "input x : images[batch, 1, 4, 4] bytes",
                    "loss = mean(x -> flatten -> dense(1))", "minimize loss with adam(1e-3)"].joined(separator: "\n")
        XCTAssertEqual(try ModelSource.parse(text, file: "m.gg").definition().encoding, .bytes)
    }

    func testClipNormIsAnObjectiveOption() throws {
        let lines = ["loss = mean(x -> flatten -> dense(1))"]
        let objective = try definition(lines + ["minimize loss with adam(1e-3) clip(-1, 1) clip_norm(5)"]).instantiate().objectives[0]
        XCTAssertEqual(objective.clipNorm, 5)
        XCTAssertEqual(objective.clip, -1...1)
        XCTAssertNil(try definition(lines + ["minimize loss with adam(1e-3)"]).instantiate().objectives[0].clipNorm)
        assertError(lines + ["minimize loss with adam(1e-3) clip_norm(0)"], """
            m.gg:5:41: error: argument 'max' of 'clip_norm' must be a number > 0, got the integer 0
            minimize loss with adam(1e-3) clip_norm(0)
                                                    ^
            """)
        assertError(lines + ["minimize loss with adam(1e-3) clip_norm(1) clip_norm(2)"], """
            m.gg:5:44: error: 'clip_norm' is given twice
            minimize loss with adam(1e-3) clip_norm(1) clip_norm(2)
                                                       ^
            """)
    }

    /// `sample n, temperature t` binds the sampler's temperature; other models refuse one.
    func testASampleBindsItsTemperature() throws {
        let d = try definition([
            "loss = mean(x -> flatten -> dense(1))",
            "minimize loss with adam(1e-3)",
            "sample n, temperature t = normal([n, 1, 4, 4]) * t",
        ])
        XCTAssertTrue(d.takesTemperature)
        let graph = try XCTUnwrap(d.sampleGraph(count: 2, temperature: 0.25)).graph
        XCTAssertTrue(graph.nodes.contains { $0.op == .constant(0.25) }, graph.text())
        XCTAssertTrue(try XCTUnwrap(d.sampleGraph(count: 2)).graph.nodes.contains { $0.op == .constant(1) })
        for bad: Float in [-1, .nan, .infinity] {
            XCTAssertThrowsError(try d.sampleGraph(count: 2, temperature: bad)) { error in
                XCTAssertTrue("\(error)".contains("the temperature must be a finite number >= 0"), "\(error)")
            }
        }
        let plain = try XCTUnwrap(DSLZoo.definition(named: "vae"))
        XCTAssertFalse(plain.takesTemperature)
        XCTAssertThrowsError(try plain.sampleGraph(count: 2, temperature: 0.5)) { error in
            XCTAssertTrue("\(error)".contains("takes no temperature"), "\(error)")
        }
    }
}
