@testable import GenGraph
import XCTest

/// Model files, `--set` values and API arguments built to break the engine:
/// nesting deep enough to exhaust the stack, calls that never end or expand
/// exponentially, sizes whose products overflow, and hyper-parameters that
/// are no sensible value. Each must be a located error, never a crash.
final class HostileModelTests: XCTestCase {
    /// A trainable model whose line 6 is `line6`; `lr` (line 3) is adam's learning rate.
    private func model(_ line6: String, before: [String] = [], after: [String] = []) -> String {
        ([
            "model m",
            "hyper batch = 4",
            "hyper lr = 1e-3",
            "input x : images[batch, 1, 28, 28] unit",
            "p = x -> flatten -> dense(1)",
        ] + before + [line6, "loss = mean(p) + mean(h)", "minimize loss with adam(lr)"] + after).joined(separator: "\n")
    }

    /// The error building `text` gives, as `file:line:col: error: message`.
    private func summary(_ text: String, overrides: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try ModelSource.parse(text, file: "m.gg").definition(overrides: overrides)
            XCTFail("expected an error", file: file, line: line)
        } catch let error as DSLError {
            return error.summary
        } catch {
            XCTFail("expected a DSLError, got \(error)", file: file, line: line)
        }
        return ""
    }

    private let tooDeep = "error: expression nested deeper than \(DSLLimits.expressionDepth) levels"

    func testDeepNestingIsRefusedWhereItStarts() {
        // Brackets, calls and lists recurse in the parser; the first level past the limit is named.
        let parentheses = 100_000
        XCTAssertEqual(summary(model("h = " + String(repeating: "(", count: parentheses) + "x" + String(repeating: ")", count: parentheses))),
                       "m.gg:6:\(5 + DSLLimits.expressionDepth): \(tooDeep)")
        // Past the limit is past it: the other shapes need not be as large (a debug build lexes slowly).
        let n = 5 * DSLLimits.expressionDepth
        XCTAssertTrue(summary(model("h = " + String(repeating: "relu(", count: n) + "x" + String(repeating: ")", count: n)))
            .hasSuffix(tooDeep))
        XCTAssertTrue(summary(model("h = sum(" + String(repeating: "[", count: n) + "x" + String(repeating: "]", count: n) + ")"))
            .hasSuffix(tooDeep))
        XCTAssertEqual(summary(model("h = " + String(repeating: "-", count: n) + "x")), "m.gg:6:5: \(tooDeep)")
    }

    func testLongChainsAreRefusedAtTheirStart() {
        // The parser loops over a chain, but the tree it builds is as deep as the chain is long.
        let chain = Array(repeating: "x", count: 300_000)
        XCTAssertEqual(summary(model("h = mean(" + chain.joined(separator: " + ") + ")")), "m.gg:6:10: \(tooDeep)")
        let n = 5 * DSLLimits.expressionDepth
        XCTAssertEqual(summary(model("h = 2 * " + chain.prefix(n).joined(separator: " * "))), "m.gg:6:5: \(tooDeep)")
        XCTAssertEqual(summary(model("h = x" + String(repeating: " -> relu", count: n))), "m.gg:6:5: \(tooDeep)")
        // Sub-chains inside brackets add up: each bracket's chain stays short, the whole does not.
        let nested = String(repeating: "(x + x + x + x + ", count: 200) + "x" + String(repeating: ")", count: 200)
        XCTAssertTrue(summary(model("h = " + nested)).hasSuffix(tooDeep))
    }

    func testNestingJustUnderTheLimitBuilds() throws {
        let depth = DSLLimits.expressionDepth - 5
        let text = model("h = " + String(repeating: "relu(", count: depth) + "x" + String(repeating: ")", count: depth))
        XCTAssertEqual(try ModelSource.parse(text, file: "m.gg").definition().name, "m")
    }

    func testCallsThatNeverEndOrNestTooDeeplyAreRefused() {
        // Only `autoregressive` calls a function passed by name; a def may pass itself.
        XCTAssertEqual(summary(model("h = x", before: ["def f(a) = autoregressive(f)"], after: ["sample n = autoregressive(f)"])),
                       "m.gg:6:12: error: 'f' calls itself ('f' -> 'f'), which never ends")
        let chain = (1...100).map { "def f\($0)(a) = f\($0 - 1)(a)" }
        XCTAssertTrue(summary(model("h = f100(x)", before: ["def f0(a) = relu(a)"] + chain))
            .hasSuffix("error: calls of defs nested deeper than \(DSLLimits.callDepth) levels"))
        // Each expression is within the limit, but a call continues its caller's depth.
        let deep = String(repeating: "relu(", count: 300) + "a" + String(repeating: ")", count: 300)
        let caller = String(repeating: "relu(", count: 200) + "f(x)" + String(repeating: ")", count: 200)
        XCTAssertTrue(summary(model("h = " + caller, before: ["def f(a) = " + deep]))
            .hasSuffix("error: expressions nested deeper than \(DSLLimits.loweringDepth) levels through calls of defs"))
    }

    func testExponentialExpansionIsRefused() {
        // f40 would evaluate 2^40 calls: no recursion, no depth, just doubling.
        let doubling = (1...40).map { "def f\($0)(a) = f\($0 - 1)(f\($0 - 1)(a))" }
        XCTAssertTrue(summary(model("h = f40(1)", before: ["def f0(a) = a"] + doubling))
            .hasSuffix("error: the model expands to more than \(DSLLimits.evaluations) expressions (defs calling defs many times)"))
    }

    func testHugeModelTextIsRefusedUnread() throws {
        let limit = DSLLimits.sourceBytes
        XCTAssertEqual(summary("model m\n" + String(repeating: "#", count: limit)),
                       "m.gg:1:1: error: the model is \(limit + 8) bytes; at most \(limit) are read")
        // A file is sized before it is read: a sparse gigabyte costs nothing.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID()).gg").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 1 << 30)
        try handle.close()
        XCTAssertThrowsError(try ModelSource.load(path: path)) { error in
            XCTAssertEqual((error as? DSLError)?.summary, "\(path):1:1: error: the model is \(1 << 30) bytes; at most \(limit) are read")
        }
    }

    func testOverflowingSizesInAModelAreLocated() {
        let huge = "4611686018427387904"  // 2^62
        let cases: [(String, String)] = [
            ("h = normal([\(huge), 4])", "m.gg:6:5: error: random_normal: shape [\(huge),4] has more than 2147483648 elements"),
            ("h = normal([65536, 65536])", "m.gg:6:5: error: random_normal: shape [65536,65536] has more than 2147483648 elements"),
            ("h = x -> flatten -> dense(\(huge))", "m.gg:6:21: error: param: shape [\(huge),784] has more than"),
            ("h = x -> conv(4, \(huge))", "m.gg:6:10: error: conv2d: shape [1,\(huge),\(huge)] has more than"),
            ("h = x -> conv(4, 3, pad=\(huge))", "m.gg:6:10: error: conv2d: kernel 3, stride 1, padding \(huge) do not fit size 28"),
            ("h = x -> conv(4, 3, stride=\(huge))", "m.gg:6:10: error: conv2d: kernel 3, stride \(huge), padding 0 do not fit size 28"),
            ("h = x -> conv_transpose(4, 3, stride=\(huge))", "m.gg:6:10: error: conv_transpose2d: stride \(huge) or padding 0 exceeds"),
            ("h = x -> max_pool(\(huge))", "m.gg:6:10: error: max_pool2d: window \(huge), stride \(huge), padding 0 do not fit size 28"),
            ("h = reshape(x, [-1, \(huge), \(huge)])", "m.gg:6:5: error: reshape: shape [\(huge),\(huge)] has more than"),
            ("h = one_hot(reshape(x, [-1]), \(huge))", "m.gg:6:5: error: one_hot: shape [3136,\(huge)] has more than"),
            ("h = zeros([1, 1, 1, 1, 1, 1, 1, 1, 1])", "m.gg:6:5: error: const: shape [1,1,1,1,1,1,1,1,1] has 9 axes; at most 8"),
            ("h = checkerboard([\(huge), 4])", "m.gg:6:5: error: checkerboard: shape [\(huge),4] has more than"),
            ("h = checkerboard([65536, 65537], 1)", "m.gg:6:5: error: checkerboard: shape [65536,65537] has more than"),
            ("h = param([\(huge), 2]) as big", "m.gg:6:5: error: param: shape [\(huge),2] has more than"),
            ("h = x -> flatten -> dense(1, init=1e39)", "m.gg:6:30: error: argument 'init' of 'dense' must be a number within the range of f32"),
        ]
        for (line, expected) in cases {
            XCTAssertTrue(summary(model(line)).hasPrefix(expected), "\(line): \(summary(model(line)))")
        }
        let text = model("h = x").replacingOccurrences(of: "images[batch, 1, 28, 28]", with: "images[batch, 1, 28, \(huge)]")
        XCTAssertTrue(summary(text).hasPrefix("m.gg:4:1: error: input: shape [4,1,28,\(huge)] has more than"), summary(text))
        let labelled = model("h = one_hot(y, 10)", before: ["input y : labels[batch] of \(huge)"])
        XCTAssertTrue(summary(labelled).hasPrefix("m.gg:6:28: error: the number of classes must be an integer in 1...16777216"),
                      summary(labelled))
        let repeated = model("h = x").replacingOccurrences(of: "minimize loss with adam(lr)",
                                                             with: "phase repeat \(huge) {\nminimize loss with adam(lr)\n}")
        XCTAssertEqual(summary(repeated), "m.gg:8:14: error: 'repeat' needs an integer in 1...\(DSLLimits.repeats)")
        // Steps are counted in real batches; a model that reads none divided by zero.
        let noData = model("h = x").replacingOccurrences(of: "minimize loss with adam(lr)",
                                                           with: "phase nodata {\nminimize loss with adam(lr)\n}")
        XCTAssertEqual(summary(noData), "m.gg:8:1: error: every phase is 'nodata'; at least one must read a real batch")
        // An option given twice would let the last one win without a word.
        let twice = model("h = x").replacingOccurrences(of: "minimize loss with adam(lr)",
                                                          with: "phase repeat 2 repeat 3 {\nminimize loss with adam(lr)\n}")
        XCTAssertEqual(summary(twice), "m.gg:8:16: error: 'repeat' is given twice")
    }

    /// Sizes of the diffusion and translation blocks past every bound, each refused where it is written.
    func testOverflowingSizesOfTheBlocksAreLocated() {
        let huge = "4611686018427387904"  // 2^62
        let cases: [(String, String)] = [
            ("h = upsample(x, \(huge))", "m.gg:6:5: error: upsample: factor \(huge) must be in 1...2147483648"),
            ("h = upsample(x, 65536)", "m.gg:6:5: error: upsample: shape [4,1,28,65536,28,65536] has more than"),
            ("h = sinusoidal(reshape(x, [-1]), \(huge))", "m.gg:6:5: error: sinusoidal: dim \(huge) must be even, in 2...33554432"),
            ("h = sinusoidal(reshape(x, [-1]), 33554432)", "m.gg:6:5: error: sinusoidal: shape [3136,33554432] has more than"),
            ("h = x -> group_norm(\(huge))", "m.gg:6:10: error: group_norm: 'group_norm0': \(huge) groups do not divide 1 channels"),
            ("h = softmax(x, axis=\(huge))", "m.gg:6:5: error: softmax: axis \(huge) out of range for [4,1,28,28]"),
            ("h = softmax(x, axis=-\(huge))", "m.gg:6:5: error: softmax: axis -\(huge) out of range for [4,1,28,28]"),
        ]
        for (line, expected) in cases {
            XCTAssertTrue(summary(model(line)).hasPrefix(expected), "\(line): \(summary(model(line)))")
        }
    }

    func testOverflowingSizesFromSetAreRefusedNamingTheValue() throws {
        let vae = try XCTUnwrap(DSLZoo.source(named: "vae"))
        func zooSummary(_ overrides: [String: String]) -> String {
            do {
                _ = try ModelSource.parse(vae, file: "vae.gg").definition(overrides: overrides)
            } catch let error as DSLError {
                return error.summary
            } catch {
                return "not a DSLError: \(error)"
            }
            return "no error"
        }
        XCTAssertEqual(zooSummary(["batch": "4611686018427387904"]),
                       "vae.gg:4:15: error: hyper-parameter 'batch' = 4611686018427387904 (from --set batch=4611686018427387904) "
                       + "is the batch size, which must be an integer in 1...2147483648")
        XCTAssertTrue(zooSummary(["batch": "10000000"]).contains("shape [10000000,1,28,28] has more than 2147483648 elements"))
        XCTAssertTrue(zooSummary(["latent": "4611686018427387904"]).contains("has more than 2147483648 elements"))
        XCTAssertTrue(zooSummary(["latent": "46116860184273879040"]).hasSuffix("hyper-parameter 'latent' must be an integer, got '46116860184273879040'"))
    }

    func testNumbersThatAreNotFiniteAreRefused() {
        XCTAssertEqual(summary(model("h = x").replacingOccurrences(of: "1e-3", with: "1e999")),
                       "m.gg:3:12: error: number '1e999' is out of range")
        XCTAssertEqual(summary(model("h = x").replacingOccurrences(of: "1e-3", with: "1e308 * 10")),
                       "m.gg:3:18: error: 1e+308 * 10.0 is not a finite number")
        XCTAssertEqual(summary(model("h = x").replacingOccurrences(of: "1e-3", with: "0 / 0")),
                       "m.gg:3:14: error: 0.0 / 0.0 is not a finite number")
        XCTAssertEqual(summary(model("h = x * 1e300")), "m.gg:6:7: error: the number 1e+300 is beyond the range of f32")
        XCTAssertEqual(summary(model("h = leaky_relu(x, 1e39)")),
                       "m.gg:6:19: error: argument 'slope' of 'leaky_relu' must be a number within the range of f32, got the number 1e+39")
    }

    func testBadHyperParametersFromEachSource() {
        // A model's default: the error is on its `hyper` line and says where it is used.
        let negative = model("h = x").replacingOccurrences(of: "1e-3", with: "-1")
        XCTAssertEqual(summary(negative),
                       "m.gg:3:12: error: hyper-parameter 'lr' = -1 is argument 'lr' of 'adam' at 8:25, which must be a number > 0")
        // --set (and the CLI's --lr, which sets it): the same place, saying where the value came from.
        XCTAssertEqual(summary(model("h = x"), overrides: ["lr": "-0.5"]),
                       "m.gg:3:12: error: hyper-parameter 'lr' = -0.5 (from --set lr=-0.5) is argument 'lr' of 'adam' at 8:25, which must be a number > 0")
        for text in ["nan", "inf", "-inf", "1e999"] {
            XCTAssertEqual(summary(model("h = x"), overrides: ["lr": text]),
                           "m.gg:3:12: error: hyper-parameter 'lr' must be a number, got '\(text)'")
        }
        XCTAssertEqual(summary(model("h = x"), overrides: ["lr": "1e39"]),
                       "m.gg:3:12: error: hyper-parameter 'lr' = 1e+39 (from --set lr=1e39) is argument 'lr' of 'adam' at 8:25, "
                       + "which must be a number > 0 within the range of f32")
        // A literal argument: the error is on the argument.
        let optimisers: [(String, String)] = [
            ("adam(0)", "m.gg:8:25: error: argument 'lr' of 'adam' must be a number > 0, got the integer 0"),
            ("adam(lr, beta1=1)", "m.gg:8:29: error: argument 'beta1' of 'adam' must be a number in [0, 1), got the integer 1"),
            ("adam(lr, beta2=-0.1)", "m.gg:8:29: error: argument 'beta2' of 'adam' must be a number in [0, 1), got the number -0.1"),
            ("adam(lr, eps=-1e-8)", "m.gg:8:29: error: argument 'eps' of 'adam' must be a number >= 0, got the number -1e-08"),
            ("rmsprop(lr, alpha=1.5)", "m.gg:8:32: error: argument 'alpha' of 'rmsprop' must be a number in [0, 1), got the number 1.5"),
            ("sgd(lr, momentum=1)", "m.gg:8:28: error: argument 'momentum' of 'sgd' must be a number in [0, 1), got the integer 1"),
        ]
        for (optimiser, expected) in optimisers {
            XCTAssertEqual(summary(model("h = x").replacingOccurrences(of: "adam(lr)", with: optimiser)), expected)
        }
        XCTAssertEqual(summary(model("h = x -> batch_norm(momentum=2)")),
                       "m.gg:6:21: error: argument 'momentum' of 'batch_norm' must be a number in [0, 1], got the integer 2")
        XCTAssertEqual(summary(model("h = x -> batch_norm(eps=0)")),
                       "m.gg:6:21: error: argument 'eps' of 'batch_norm' must be a number > 0, got the integer 0")
        // The hyper-parameters the engine reads itself, from the model or --set.
        XCTAssertEqual(summary(model("h = x"), overrides: ["batch": "0"]),
                       "m.gg:2:15: error: hyper-parameter 'batch' = 0 (from --set batch=0) is the batch size, which must be an integer in 1...2147483648")
        XCTAssertEqual(summary(model("h = x", before: ["hyper epochs = 0"])),
                       "m.gg:6:16: error: hyper-parameter 'epochs' = 0 is how many epochs to train, which must be an integer in 1...1000000")
        XCTAssertEqual(summary(model("h = x", before: ["hyper epochs = 10"]), overrides: ["epochs": "4611686018427387904"]),
                       "m.gg:6:16: error: hyper-parameter 'epochs' = 4611686018427387904 (from --set epochs=4611686018427387904) "
                       + "is how many epochs to train, which must be an integer in 1...1000000")
    }

    /// Values only a run meets (a time step outside alpha_bar's schedule, a label past the logits' classes)
    /// fail it at the line that uses them, in the words of what the line wrote, in both modes.
    func testValuesOnlyARunMeetsAreLocatedAtTheirLine() throws {
        let text = """
            model m
            hyper batch = 4
            input x : images[batch, 1, 28, 28] unit
            input y : labels[batch] of 5
            t = sum(x, axis=[1, 2, 3]) * 0 + 5000
            a = alpha_bar(t, 1000, 1e-4, 0.02)
            logits = reshape(x, [batch, 784]) -> dense(5)
            loss = cross_entropy(logits, y) + mean(a) * 0
            minimize loss with adam(1e-3)
            """
        let model = try ModelSource.parse(text, file: "m.gg").definition().instantiate()
        let images = [Float](repeating: 0, count: 4 * 784)
        for mode in [ExecutionMode.fused, .eager] {
            let trainer = try Trainer(model: model, config: RunConfig(threads: 1, mode: mode))
            XCTAssertThrowsError(try trainer.step { Batch(images: images, labels: [0, 1, 2, 3]) }) { error in
                XCTAssertEqual("\(error)", "m.gg:6:1: alpha_bar: t has a value outside 0...1000 (integer time steps of the schedule)", "\(mode)")
            }
        }
        let labelled = try ModelSource.parse(text.replacingOccurrences(of: "+ 5000", with: "+ 5"), file: "m.gg").definition().instantiate()
        for mode in [ExecutionMode.fused, .eager] {
            let trainer = try Trainer(model: labelled, config: RunConfig(threads: 1, mode: mode))
            XCTAssertThrowsError(try trainer.step { Batch(images: images, labels: [0, 1, 9, 3]) }) { error in
                XCTAssertEqual("\(error)", "m.gg:8:1: cross_entropy: a label is not an integer in [0, 5) (the logits' classes)", "\(mode)")
            }
        }
    }

    func testShapesBeyondTheLimitsAreRefusedAsNodesAreBuilt() throws {
        XCTAssertEqual(try Shape([1 << 16, 1 << 15]).checkedCount(op: "t"), 1 << 31)
        XCTAssertEqual(try Shape([0, 1 << 31]).checkedCount(op: "t"), 0)
        for dims in [[1 << 16, 1 << 16], [1 << 62, 4], [0, 1 << 62, 1 << 62], [-1, 4], Array(repeating: 1, count: 9)] {
            XCTAssertThrowsError(try Shape(dims).checkedCount(op: "t"), "\(dims)")
        }
        let g = Graph()
        XCTAssertThrowsError(try g.randomNormal([1 << 40, 1 << 40]))
        let x = try g.input("x", [1 << 20, 1])
        let y = try g.input("y", [1, 1 << 20])
        XCTAssertThrowsError(try x + y)  // the broadcast to (2^20, 2^20) has 2^40 elements
        XCTAssertThrowsError(try x.conv2d(4, kernel: 1 << 40, name: "c"))
    }

    func testThreadCountsBeyondTheKernelsAreRefused() throws {
        var config = RunConfig(threads: 1)
        config.threads = 1 << 40
        XCTAssertThrowsError(try Session(graph: Graph(), config: config)) { error in
            XCTAssertTrue("\(error)".contains("expected 1...\(RunConfig.maxThreads) kernel threads"), "\(error)")
        }
    }

    func testRunCountsBeyondTheLimitsAreRefused() throws {
        let vae = try XCTUnwrap(try DSLZoo.model(named: "vae"))
        let directory = RunDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID())").path)
        for (change, name) in [({ (o: inout TrainingOptions) in o.epochs = 1 << 62 }, "epochs"),
                               ({ (o: inout TrainingOptions) in o.steps = 1 << 62 }, "steps"),
                               ({ (o: inout TrainingOptions) in o.sampleCount = 1 << 62 }, "samples")] {
            var options = TrainingOptions()
            change(&options)
            XCTAssertThrowsError(try TrainingRun(source: vae, overrides: [:], directory: directory, config: RunConfig(threads: 1),
                                                 options: options, resume: false)) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(name): must be in 1...") || "\(error)".hasPrefix("\(name): must be in 0..."), "\(error)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.url.path))
    }
}

/// The same from the command line: a message and a non-zero exit, not a signal.
extension CLITests {
    /// Runs gengraph and asserts it exited (no signal) non-zero, saying `expected`.
    private func assertExits(_ arguments: [String], environment: [String: String]? = nil, saying expected: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let process = Process()
        process.executableURL = try XCTUnwrap(Self.binary, "the gengraph binary is not built next to the tests")
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "gengraph \(arguments) died of a signal:\n\(output)", file: file, line: line)
        XCTAssertNotEqual(process.terminationStatus, 0, "gengraph \(arguments) should fail", file: file, line: line)
        XCTAssertTrue(output.contains(expected), "gengraph \(arguments): expected '\(expected)' in:\n\(output)", file: file, line: line)
    }

    func testHostileFlagsAndModelsExitWithAMessage() throws {
        let huge = "4611686018427387904"
        let out = temporaryPath("run")
        // No data: should a check let a run through, it stops at once instead of training.
        let noData = temporaryPath("no-data")
        try assertExits(["train", "vae", "--set", "batch=\(huge)", "--out", out, "--data", noData], saying: "hyper-parameter 'batch' = \(huge)")
        try assertExits(["train", "vae", "--batch", huge, "--out", out, "--data", noData], saying: "hyper-parameter 'batch' = \(huge)")
        try assertExits(["train", "vae", "--set", "lr=-1", "--out", out, "--data", noData], saying: "(from --set lr=-1) is argument 'lr' of 'adam'")
        try assertExits(["train", "vae", "--lr=nan", "--out", out, "--data", noData], saying: "hyper-parameter 'lr' must be a number, got 'nan'")
        try assertExits(["train", "vae", "--threads", huge, "--out", out, "--data", noData], saying: "--threads must be at most 1024")
        try assertExits(["train", "vae", "--epochs", huge, "--out", out, "--data", noData], saying: "--epochs must be at most 1000000")
        try assertExits(["train", "vae", "--samples", huge, "--out", out, "--data", noData], saying: "--samples must be at most 1000000")
        try assertExits(["sample", out, "--n", huge], saying: "--n must be at most 1000000")
        try assertExits(["eval", out, "--iw", huge], saying: "--iw must be at most 10000")
        try assertExits(["traverse", out, "--steps", huge], saying: "--steps must be at most 1000")
        try assertExits(["bench", "vae", "--threads", huge], saying: "--threads must be at most 1024")
        try assertExits(["info"], environment: ["GENGRAPH_THREADS": huge], saying: "GENGRAPH_THREADS: expected an integer in 1...1024")
        let deep = temporaryPath("deep.gg")
        try ("model deep\nhyper batch = 4\ninput x : images[batch, 1, 28, 28] unit\nloss = mean("
             + String(repeating: "(", count: 100_000) + "x" + String(repeating: ")", count: 100_000) + ")\nminimize loss with adam(1e-3)\n")
            .write(toFile: deep, atomically: true, encoding: .utf8)
        try assertExits(["train", deep, "--out", out, "--data", noData], saying: "deep.gg:4:\(12 + 400): error: expression nested deeper than 400 levels")
    }
}
