import Foundation
import GenGraph
import XCTest

/// The `gengraph` binary on bad input: one clear line (or a located DSL
/// diagnostic) and a non-zero exit, never a crash.
final class CLITests: XCTestCase {
    /// The built `gengraph` next to the test runner (`swift test` builds every product).
    static var binary: URL? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<4 {
            directory.deleteLastPathComponent()
            let candidate = directory.appendingPathComponent("gengraph")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// Runs gengraph with `arguments`; returns (exit status, stdout + stderr).
    func gengraph(_ arguments: [String], environment: [String: String?] = [:]) throws -> (Int32, String) {
        let binary = try XCTUnwrap(Self.binary, "the gengraph binary is not built next to the tests")
        let result = try Prerequisites.run([binary.path] + arguments, environment: environment)
        return (result.status, result.output)
    }

    func temporaryPath(_ name: String) -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-cli-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.appendingPathComponent(name).path
    }

    /// A run directory of the zoo model `name` after one step, written through the library so that
    /// its end-of-run evaluation reads only `testLimit` test images.
    func oneStepRun(_ name: String, batch: Int, trainLimit: Int? = nil, testLimit: Int) throws -> String {
        let run = temporaryPath(name)
        var options = TrainingRunTests.options(steps: 1)
        options.dataDirectory = try Prerequisites.fashionMNIST()
        if let trainLimit { options.trainLimit = trainLimit }
        options.testLimit = testLimit
        try TrainingRun(source: XCTUnwrap(DSLZoo.model(named: name)), overrides: ["batch": "\(batch)"], directory: RunDirectory(run),
                        config: RunConfig(threads: 2), options: options, resume: false).run()
        return run
    }

    func assertFails(_ arguments: [String], saying expected: String, environment: [String: String?] = [:],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let (status, output) = try gengraph(arguments, environment: environment)
        XCTAssertNotEqual(status, 0, "gengraph \(arguments) should fail", file: file, line: line)
        XCTAssertTrue(output.contains(expected), "gengraph \(arguments): expected '\(expected)' in:\n\(output)", file: file, line: line)
        XCTAssertFalse(output.contains("Fatal error") || output.contains("Stack dump"), "crashed:\n\(output)", file: file, line: line)
    }

    func testUnknownModelFlagAndValue() throws {
        try assertFails(["train", "nosuchmodel", "--steps", "1"], saying: "unknown model 'nosuchmodel'")
        try assertFails(["train", "vae", "--frobnicate"], saying: "Unknown option '--frobnicate'")
        try assertFails(["train", "vae", "--steps", "0"], saying: "--steps must be at least 1")
        try assertFails(["train", "vae", "--epochs", "1", "--steps", "2"], saying: "not both")
        try assertFails(["train", "vae", "--set", "latent"], saying: "expected NAME=VALUE")
        try assertFails(["train", "vae", "--set", "nosuch=3", "--steps", "1"], saying: "nosuch")
        try assertFails(["dump", "vae", "--stage", "nope"], saying: "nope")
        try assertFails(["sample", "/nonexistent/run"], saying: "no run directory or checkpoint")
    }

    func testMalformedModelFileIsLocated() throws {
        let path = temporaryPath("broken.gg")
        try "model broken \"x\"\nhyper batch = 4\ninput x : images[batch, 1, 28, 28] unit\nloss = mean(conv3(x))\nminimize loss with adam(1e-3)\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        try assertFails(["train", path, "--steps", "1"], saying: "broken.gg:4:")
    }

    func testMissingAndCorruptDataFiles() throws {
        let empty = temporaryPath("data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try assertFails(["train", "ae", "--steps", "1", "--data", empty, "--out", temporaryPath("run")], saying: "train-images-idx3-ubyte")
        // A truncated images file next to good labels.
        let source = try Prerequisites.fashionMNIST()
        for name in ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            try FileManager.default.copyItem(atPath: source + name, toPath: empty + "/" + name)
        }
        try Data([0, 0, 8, 3, 0, 0, 0, 9]).write(to: URL(fileURLWithPath: empty + "/train-images-idx3-ubyte"))
        try assertFails(["train", "ae", "--steps", "1", "--data", empty, "--out", temporaryPath("run")], saying: "truncated")
    }

    func testCheckpointOfAnotherModelIsRefused() throws {
        _ = try Prerequisites.fashionMNIST()
        let run = temporaryPath("ae-run")
        let (status, output) = try gengraph(["train", "ae", "--steps", "2", "--limit", "256", "--samples", "0", "--out", run, "--batch", "16"])
        XCTAssertEqual(status, 0, output)
        try assertFails(["train", "vae", "--steps", "1", "--init", run + "/checkpoint.safetensors", "--out", temporaryPath("other")],
                        saying: "ae")
        // A truncated checkpoint is an error, not a crash.
        let truncated = temporaryPath("cut.safetensors")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        try assertFails(["sample", truncated], saying: "truncated")
    }

    /// `--init` takes a plain state_dict (a safetensors file without gengraph's metadata) only when it holds every tensor.
    func testInitFromAnIncompleteStateDictIsRefused() throws {
        _ = try Prerequisites.fashionMNIST()
        let path = temporaryPath("empty.safetensors")
        let header = Array("{}      ".utf8)
        try Data(withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header).write(to: URL(fileURLWithPath: path))
        try assertFails(["train", "ae", "--steps", "1", "--init", path, "--out", temporaryPath("run")],
                        saying: "checkpoint \(path): missing tensors 'enc1.weight', 'enc1.bias', 'enc2.weight'")
    }

    /// `judge` scores a model's samples and a .npy file with a classifier run, and refuses what it cannot judge.
    func testJudgeScoresSamplesWithAClassifier() throws {
        _ = try Prerequisites.fashionMNIST()
        let classifier = temporaryPath("classifier"), gan = temporaryPath("cgan")
        for (model, run) in [("classifier", classifier), ("cgan", gan)] {
            let (status, output) = try gengraph(["train", model, "--steps", "2", "--limit", "256", "--samples", "0", "--out", run, "--batch", "16"])
            XCTAssertEqual(status, 0, output)
        }
        let (status, output) = try gengraph(["judge", gan, "--classifier", classifier, "--n", "30", "--limit", "50", "--json"])
        XCTAssertEqual(status, 0, output)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        let fd = try XCTUnwrap(object["fd_fmnist"] as? Double), floor = try XCTUnwrap(object["fd_fmnist_real_train"] as? Double)
        XCTAssertTrue(fd.isFinite && fd > floor, "an untrained generator is further from the data than real images: \(output)")
        XCTAssertNotNil(object["class_accuracy"], "a conditional model's samples are checked against their labels")
        XCTAssertEqual((object["class_histogram"] as? [Int])?.reduce(0, +), 30)

        let npy = temporaryPath("s.npy")
        XCTAssertEqual(try gengraph(["sample", gan, "--n", "12", "--out", npy]).0, 0)
        try assertFails(["judge", npy, "--classifier", classifier], saying: "--range unit or --range signed")
        try assertFails(["judge", npy, "--classifier", classifier, "--range", "unit", "--limit", "50"], saying: "outside --range unit")
        let (npyStatus, npyOutput) = try gengraph(["judge", npy, "--classifier", classifier, "--range", "signed", "--limit", "50"])
        XCTAssertEqual(npyStatus, 0, npyOutput)
        XCTAssertTrue(npyOutput.contains("fd_fmnist"), npyOutput)
        try assertFails(["judge", npy, "--classifier", gan, "--range", "signed"], saying: "has no 'features' function")
    }
}
