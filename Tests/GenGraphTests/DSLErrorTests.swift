@testable import GenGraph
import XCTest

/// Every kind of error a `.gg` file can contain, rendered compiler-style.
final class DSLErrorTests: XCTestCase {
    /// A small valid model whose line 5 (the `h = ...` statement) each test replaces.
    private func model(line5: String, extra: [String] = []) -> String {
        ([
            "model m",
            "hyper batch = 4",
            "hyper latent = 8",
            "input x : images[batch, 1, 28, 28] unit",
            line5,
            "loss = mean(h)",
            "minimize loss with adam(1e-3)",
        ] + extra).joined(separator: "\n")
    }

    private func assertError(_ text: String, overrides: [String: String] = [:], _ expected: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try ModelSource.parse(text, file: "m.gg").definition(overrides: overrides)
            XCTFail("expected an error", file: file, line: line)
        } catch let error as DSLError {
            XCTAssertEqual(error.description, expected, file: file, line: line)
        } catch {
            XCTFail("expected a DSLError, got \(error)", file: file, line: line)
        }
    }

    func testSyntaxError() {
        assertError(model(line5: "h = x -> -> relu"), """
            m.gg:5:10: error: expected a function or layer after '->', found '->'
            h = x -> -> relu
                     ^
            """)
        assertError(model(line5: "h = x @ 2"), """
            m.gg:5:7: error: unexpected character '@'
            h = x @ 2
                  ^
            """)
        assertError(model(line5: "h = relu(x) relu"), """
            m.gg:5:13: error: expected the end of the line, found 'relu'
            h = relu(x) relu
                        ^
            """)
    }

    /// A generated model's very long line is quoted only around the column, so the message stays readable.
    func testLongLinesAreQuotedAroundTheColumn() {
        let padding = String(repeating: "x + ", count: 5000)
        let text = model(line5: "h = " + padding + "@ + x")
        let column = 5 + padding.count
        let window = String(padding.suffix(DSLError.quotedContext))
        assertError(text, """
            m.gg:5:\(column): error: unexpected character '@'
            ...\(window)@ + x
            \(String(repeating: " ", count: 3 + DSLError.quotedContext))^
            """)
    }

    func testUnknownLayerFunctionAndName() {
        assertError(model(line5: "h = x -> conv3(16, 3) as c"), """
            m.gg:5:10: error: unknown layer 'conv3' (did you mean 'conv'?)
            h = x -> conv3(16, 3) as c
                     ^
            """)
        assertError(model(line5: "h = relux(x)"), """
            m.gg:5:5: error: unknown function 'relux' (did you mean 'relu'?)
            h = relux(x)
                ^
            """)
        assertError(model(line5: "h = relu(x2)"), """
            m.gg:5:10: error: unknown name 'x2'
            h = relu(x2)
                     ^
            """)
    }

    func testWrongArgumentCountsAndKinds() {
        assertError(model(line5: "h = reshape(x, [batch, 784]) -> dense(32, 5)"), """
            m.gg:5:43: error: 'dense' takes at most 2 arguments, got 3
            h = reshape(x, [batch, 784]) -> dense(32, 5)
                                                      ^
            """)
        assertError(model(line5: "h = dense(reshape(x, [batch, 784]))"), """
            m.gg:5:5: error: 'dense' is missing its argument 'units'
            h = dense(reshape(x, [batch, 784]))
                ^
            """)
        assertError(model(line5: "h = reshape(x, [batch, 784]) -> dense(0.5)"), """
            m.gg:5:39: error: argument 'units' of 'dense' must be an integer, got the number 0.5
            h = reshape(x, [batch, 784]) -> dense(0.5)
                                                  ^
            """)
        assertError(model(line5: "h = reshape(x, [batch, 784]) -> dense(latent - 8)"), """
            m.gg:5:39: error: argument 'units' of 'dense' must be a positive integer, got the integer 0
            h = reshape(x, [batch, 784]) -> dense(latent - 8)
                                                  ^
            """)
        assertError(model(line5: "h = x * (4611686018427387904 * 2)"), """
            m.gg:5:30: error: integer overflow
            h = x * (4611686018427387904 * 2)
                                         ^
            """)
        assertError(model(line5: "h = x -> conv(16, 3, strid=2)"), """
            m.gg:5:22: error: 'conv' has no argument 'strid' (it takes x, channels, kernel, stride, pad, init)
            h = x -> conv(16, 3, strid=2)
                                 ^
            """)
    }

    func testShapeMismatchPointsAtTheExpression() {
        assertError(model(line5: "h = (reshape(x, [batch, 784]) -> dense(latent)) + x"), """
            m.gg:5:49: error: add: cannot broadcast [4,8] with [4,1,28,28]
            h = (reshape(x, [batch, 784]) -> dense(latent)) + x
                                                            ^
            """)
        assertError(model(line5: "h = x -> dense(latent)"), """
            m.gg:5:10: error: dense: 'dense0' needs input (batch, features), got [4,1,28,28]
            h = x -> dense(latent)
                     ^
            """)
    }

    func testReshapeErrorsNameTheShapeAsWritten() throws {
        assertError(model(line5: "h = reshape(x, [-1, -1])"), """
            m.gg:5:5: error: reshape: only one dimension may be -1, got [-1,-1]
            h = reshape(x, [-1, -1])
                ^
            """)
        // The Swift API names the whole shape too, not the dims left once -1 is set aside.
        let x = try Graph().input("x", [4, 6])
        XCTAssertThrowsError(try x.reshape([-1, -2])) { XCTAssertEqual("\($0)", "reshape: negative dimension in [-1,-2]") }
        XCTAssertThrowsError(try x.reshape([2, -1, -1])) { XCTAssertEqual("\($0)", "reshape: only one dimension may be -1, got [2,-1,-1]") }
    }

    func testShapeErrorsInsideANetworkPointIntoTheNetwork() {
        let text = model(line5: "h = f(x)").replacingOccurrences(of: "h = f(x)", with: "network f(x) = x -> flatten -> dense(4) -> reshape([-1, 3])\nh = f(x)")
        assertError(text, """
            m.gg:5:44: error: reshape: cannot reshape [4,4] to [-1,3]
            network f(x) = x -> flatten -> dense(4) -> reshape([-1, 3])
                                                       ^
            """)
    }

    func testHyperParameterOverrides() {
        let text = model(line5: "h = reshape(x, [batch, 784]) -> dense(latent)")
        assertError(text, overrides: ["latent": "eight"], """
            m.gg:3:16: error: hyper-parameter 'latent' must be an integer, got 'eight'
            hyper latent = 8
                           ^
            """)
        assertError(text, overrides: ["latnt": "32"], """
            m.gg:1:1: error: unknown hyper-parameter 'latnt' (this model has batch, latent)
            model m
            ^
            """)
        assertError(text, overrides: ["batch": "0"], """
            m.gg:2:15: error: hyper-parameter 'batch' = 0 (from --set batch=0) is the batch size, which must be an integer in 1...2147483648
            hyper batch = 4
                          ^
            """)
    }

    func testLayerNamingErrors() {
        assertError(model(line5: "h = relu(x) as r"), """
            m.gg:5:16: error: 'as' names a layer, and 'relu' declares no parameters
            h = relu(x) as r
                           ^
            """)
        assertError(model(line5: "h = reshape(x, [batch, 784]) -> dense(8) as a -> dense(8) as a"), """
            m.gg:5:62: error: layer 'a' is already declared at 5:33
            h = reshape(x, [batch, 784]) -> dense(8) as a -> dense(8) as a
                                                                         ^
            """)
        assertError(model(line5: "h = g(x)", extra: ["def g(x) = x"]), """
            m.gg:5:5: error: 'g' is used before its definition (define it above)
            h = g(x)
                ^
            """)
    }

    func testObjectiveErrors() {
        let body = model(line5: "h = reshape(x, [batch, 784]) -> dense(latent)")
        assertError(body.replacingOccurrences(of: "minimize loss with adam(1e-3)", with: "minimize loss over h with adam(1e-3)"), """
            m.gg:7:20: error: 'h' is neither a network nor an instance ('f(x) as h'); 'over' takes those, which own parameters
            minimize loss over h with adam(1e-3)
                               ^
            """)
        assertError(body.replacingOccurrences(of: "adam(1e-3)", with: "adagrad(1e-3)"), """
            m.gg:7:20: error: unknown optimiser 'adagrad' (known: adam, rmsprop, sgd)
            minimize loss with adagrad(1e-3)
                               ^
            """)
        assertError(body.replacingOccurrences(of: "minimize loss", with: "minimize h"), """
            m.gg:7:1: error: the loss 'h' must be a scalar tensor, got a tensor of shape [4,8]
            minimize h with adam(1e-3)
            ^
            """)
    }

    func testSampleErrors() {
        let body = model(line5: "h = reshape(x, [batch, 784]) -> dense(latent)")
        assertError(body + "\nsample n = normal([n, 784])", """
            m.gg:8:12: error: sampled images have shape [1,784], expected [1,1,28,28]
            sample n = normal([n, 784])
                       ^
            """)
        assertError(body + "\nsample n, y = normal([n, 1, 28, 28])", """
            m.gg:8:1: error: 'sample n, y' needs a labels input
            sample n, y = normal([n, 1, 28, 28])
            ^
            """)
        assertError(model(line5: "def f(a) = a\nh = autoregressive(f)"), """
            m.gg:6:5: error: 'autoregressive' is only allowed as the result of a 'sample'
            h = autoregressive(f)
                ^
            """)
    }

    /// The blocks of ddpm and cyclegan, misused: each error at the call that builds the node.
    func testBlockMisuseIsLocated() {
        let cases: [(String, String)] = [
            ("h = x -> conv(6, 3) as c -> group_norm(4) as gn", "m.gg:5:29: error: group_norm: 'gn': 4 groups do not divide 6 channels"),
            ("h = group_norm(x, 0)", "m.gg:5:19: error: argument 'groups' of 'group_norm' must be a positive integer, got the integer 0"),
            ("h = group_norm(x, 1, eps=0)", "m.gg:5:22: error: argument 'eps' of 'group_norm' must be a number > 0, got the integer 0"),
            ("h = instance_norm(flatten(x))", "m.gg:5:5: error: instance_norm: needs (n, c, h, ...), got [4,784]"),
            ("h = instance_norm(x, eps=-1e-5)", "m.gg:5:22: error: argument 'eps' of 'instance_norm' must be a number > 0, got the number -1e-05"),
            ("h = upsample(x, 0)", "m.gg:5:17: error: argument 'factor' of 'upsample' must be a positive integer, got the integer 0"),
            ("h = upsample(flatten(x))", "m.gg:5:5: error: upsample: needs (n, c, h, w), got [4,784]"),
            ("h = softmax(x, axis=4)", "m.gg:5:5: error: softmax: axis 4 out of range for [4,1,28,28]"),
            ("h = sinusoidal(x, 8)", "m.gg:5:5: error: sinusoidal: needs timesteps (n), got [4,1,28,28]"),
            ("h = sinusoidal(reshape(x, [-1]), 7)", "m.gg:5:5: error: sinusoidal: dim 7 must be even, in 2...33554432"),
            ("h = l1(x, ones([3]))", "m.gg:5:5: error: sub: cannot broadcast [4,1,28,28] with [3]"),
        ]
        for (line, expected) in cases {
            do {
                _ = try ModelSource.parse(model(line5: line), file: "m.gg").definition()
                XCTFail("\(line): expected an error")
            } catch {
                XCTAssertEqual((error as? DSLError)?.summary, expected, line)
            }
        }
    }

    func testSummaryIsTheFirstLine() throws {
        do {
            _ = try ModelSource.parse("model m\nhyper batch = 2\nh = relu(q)", file: "dir/m.gg").definition()
            XCTFail("expected an error")
        } catch let error as DSLError {
            XCTAssertEqual(error.summary, "dir/m.gg:1:1: error: the model needs an images input, such as 'input x : images[batch, 1, 28, 28] unit'")
        }
    }

    /// A path that holds no model text says why, naming the file (and where, for bad UTF-8), instead of
    /// Foundation's error codes or "You don't have permission" for a device.
    func testModelFilesThatAreNotTextAreNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-read-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let invalid = directory.appendingPathComponent("bad.gg").path
        try Data("model m\n# caf".utf8 + [0xC3, 0x28] + Data(" x\n".utf8)).write(to: URL(fileURLWithPath: invalid))
        let missing = directory.appendingPathComponent("missing.gg").path
        let cases: [(String, String)] = [
            (invalid, "\(invalid):2:6: error: cannot read the model: it is not valid UTF-8 (byte 0xC3 at byte offset 13)"),
            (directory.path, "\(directory.path):1:1: error: cannot read the model: it is a directory"),
            ("/dev/null", "/dev/null:1:1: error: cannot read the model: it is not a regular file (a device, pipe or socket)"),
            (missing, "\(missing):1:1: error: cannot read the model: No such file or directory"),
        ]
        for (path, expected) in cases {
            XCTAssertThrowsError(try ModelSource.load(path: path)) { XCTAssertEqual(($0 as? DSLError)?.summary, expected, "\($0)") }
        }
    }
}
