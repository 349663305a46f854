import Foundation
import GenGraph
import XCTest

/// Inputs a hostile-input probe found mishandled: each had crashed, overwritten files,
/// thrown away training or gone on with values that were not numbers.
extension CLITests {
    /// libomp aborts on these when it starts; an empty value means unset, as GENGRAPH_THREADS' does.
    func testAMalformedOMPNumThreadsIsRefusedAndAnEmptyOneIgnored() throws {
        for value in ["abc", "-1", "1x", "0", "2,,1", "+2", "+1,+1"] {
            try assertFails(["info"], saying: "OMP_NUM_THREADS must be a thread count", environment: ["OMP_NUM_THREADS": value])
        }
        for value in ["", " ", "2", "2,1"] {
            let (status, output) = try gengraph(["info"], environment: ["OMP_NUM_THREADS": value])
            XCTAssertEqual(status, 0, "OMP_NUM_THREADS='\(value)': \(output)")
        }
    }

    func testTrainingNeverWritesOverFilesThatAreNotARun() throws {
        let data = try Prerequisites.fashionMNIST()
        let foreign = temporaryPath("foreign")
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        let kept = URL(fileURLWithPath: foreign).appendingPathComponent("checkpoint.safetensors")
        try Data("someone else's file".utf8).write(to: kept)
        let train = ["train", "ae", "--steps", "1", "--limit", "256", "--samples", "0", "--data", data, "--out"]
        try assertFails(train + [foreign], saying: "holds files that are not a gengraph run's (checkpoint.safetensors)")
        XCTAssertEqual(try String(contentsOf: kept, encoding: .utf8), "someone else's file")
        try assertFails(train + [""], saying: "--out needs a directory path")
        try assertFails(train + [kept.path], saying: "is a file, not a directory")
    }

    func testResumeRefusesAnotherModelAndTheFlagsItWouldIgnore() throws {
        let data = try Prerequisites.fashionMNIST()
        let run = temporaryPath("ae")
        let (status, output) = try gengraph(["train", "ae", "--steps", "2", "--batch", "32", "--limit", "256", "--test-limit", "64",
                                             "--samples", "0", "--data", data, "--out", run])
        XCTAssertEqual(status, 0, output)
        let checkpoint = URL(fileURLWithPath: run).appendingPathComponent("checkpoint.safetensors")
        let before = try Data(contentsOf: checkpoint)
        try assertFails(["train", "vae", "--resume", "--out", run, "--steps", "3"], saying: "trains model 'ae' (its model.gg), not 'vae'")
        try assertFails(["train", "--resume", "--out", run, "--steps", "3", "--seed", "9", "--no-shuffle"], saying: "--seed, --no-shuffle do not apply")
        try assertFails(["train", "--resume", "--out", run, "--mode", "eager"], saying: "--mode does not apply")
        try assertFails(["train", "--resume", "--out", run, "--steps", "1"], saying: "already at step 2, past --steps 1")
        // An edited model.gg or config.json would resume another model on these weights.
        let source = URL(fileURLWithPath: run).appendingPathComponent("model.gg")
        let text = try String(contentsOf: source, encoding: .utf8)
        try (text + "\n# edited\n").write(to: source, atomically: true, encoding: .utf8)
        try assertFails(["train", "--resume", "--out", run, "--steps", "3"], saying: "model.gg differs from what")
        try text.write(to: source, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Data(contentsOf: checkpoint), before, "a refused resume leaves the checkpoint as it was")
        let (again, againOutput) = try gengraph(["train", "ae", "--resume", "--out", run, "--steps", "3"])
        XCTAssertEqual(again, 0, "naming the run's own model is fine: \(againOutput)")
    }

    func testADivergingRunStopsWithoutSavingItsNaNs() throws {
        let data = try Prerequisites.fashionMNIST()
        let run = temporaryPath("diverged")
        try assertFails(["train", "vae", "--steps", "3", "--lr", "1e30", "--limit", "512", "--test-limit", "64", "--samples", "0",
                         "--data", data, "--out", run], saying: "training diverged, so it stopped without saving")
        let saved = try SafeTensors(contentsOf: URL(fileURLWithPath: run).appendingPathComponent("checkpoint.safetensors"))
        XCTAssertEqual(saved.metadata["step"], "0")
        XCTAssertTrue(saved.entries.allSatisfy { $0.value.scalars.allSatisfy(\.isFinite) })
    }

    func testAnEmptyTestSplitIsRefusedBeforeTraining() throws {
        let source = try Prerequisites.fashionMNIST()
        let data = temporaryPath("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"] {
            try FileManager.default.copyItem(atPath: source + name, toPath: data + "/" + name)
        }
        // Valid IDX headers that count no images.
        try Data([0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28]).write(to: URL(fileURLWithPath: data + "/t10k-images-idx3-ubyte"))
        try Data([0, 0, 8, 1, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: data + "/t10k-labels-idx1-ubyte"))
        let run = temporaryPath("run")
        try assertFails(["train", "classifier", "--steps", "1", "--data", data, "--out", run], saying: "the test split has no images")
        XCTAssertFalse(FileManager.default.fileExists(atPath: run), "refused before the run directory was made")
    }

    /// The epoch's steps are saved before its sample grid, whose write can fail.
    func testAFailingSampleGridKeepsTheTrainedSteps() throws {
        let data = try Prerequisites.fashionMNIST()
        let run = temporaryPath("run")
        try FileManager.default.createDirectory(atPath: run + "/samples/epoch_001.png", withIntermediateDirectories: true)
        try assertFails(["train", "vae", "--steps", "2", "--limit", "512", "--test-limit", "64", "--samples", "4", "--data", data, "--out", run],
                        saying: "epoch_001.png")
        let saved = try SafeTensors(contentsOf: URL(fileURLWithPath: run).appendingPathComponent("checkpoint.safetensors"))
        XCTAssertEqual(saved.metadata["step"], "2")
    }

    func testSamplesThatAreNotNumbersAreRefused() throws {
        let vae = try XCTUnwrap(DSLZoo.source(named: "vae"))
        let line = "sample n = decode(normal([n, latent])) -> sigmoid -> reshape([n, 1, 28, 28])"
        XCTAssertTrue(vae.contains(line))
        let text = vae.replacingOccurrences(of: line, with: "sample n = log(decode(normal([n, latent])) * 0 - 1) -> reshape([n, 1, 28, 28])")
        let definition = try ModelSource.parse(text, file: "nan.gg").definition()
        let parameters = ParameterStore()
        _ = try Session(graph: definition.instantiate().graph, config: RunConfig(threads: 1), parameters: parameters)
        XCTAssertThrowsError(try Sampler(definition: definition, parameters: parameters, config: RunConfig(threads: 1)).sample(count: 2)) {
            XCTAssertTrue("\($0)".contains("drew 1568 non-finite values (the first, nan, in image 0)"), "\($0)")
        }
    }

    /// JSON has no NaN: a metric that is not a number is null there (the text output prints nan).
    func testAMetricThatIsNotANumberIsNullInJSON() throws {
        let run = try oneStepRun("ae", batch: 32, trainLimit: 256, testLimit: 64)
        let url = URL(fileURLWithPath: run).appendingPathComponent("checkpoint.safetensors")
        var file = try SafeTensors(contentsOf: url)
        let first = file.entries[0]
        file.entries[0] = SafeTensors.Entry(name: first.name, value: try TensorValue(shape: first.value.shape,
                                                                                      scalars: [Float](repeating: .nan, count: first.value.shape.count)))
        try file.write(to: url)
        let (status, output) = try gengraph(["eval", run, "--limit", "64", "--json"])
        XCTAssertEqual(status, 0, output)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        XCTAssertTrue(object["test_test_loss"] is NSNull, output)
    }

    /// A model or a request larger than the memory the process may use is refused by name,
    /// not aborted inside the allocator (here the limit is `ulimit -v`).
    func testWhatDoesNotFitInMemoryIsRefusedByName() throws {
        let binary = try XCTUnwrap(Self.binary)
        let model = temporaryPath("big.gg")
        try """
            model big
            hyper batch = 4
            input x : images[batch, 1, 28, 28] unit
            flat = reshape(x, [batch, 784])
            h = dense(flat, 2000000) as big
            loss = per_sample_mean(bce_logits(dense(h, 784) as out, flat))
            minimize loss with adam(1e-3)

            """.write(toFile: model, atomically: true, encoding: .utf8)
        let limited = ["/bin/sh", "-c", "ulimit -v 3000000 && exec \"$0\" \"$@\"", binary.path]
        for mode in ["fused", "eager"] {
            let run = try Prerequisites.run(limited + ["train", model, "--steps", "1", "--limit", "64", "--samples", "0", "--mode", mode,
                                                       "--data", Prerequisites.fashionMNIST(), "--out", temporaryPath("run")])
            XCTAssertNotEqual(run.status, 0)
            XCTAssertTrue(run.output.contains("parameter 'big.weight' of shape [2000000,784] needs 6.27 GB, more than the"), run.output)
            XCTAssertFalse(run.output.contains("Fatal error"), run.output)
        }
        let vae = try oneStepRun("vae", batch: 32, trainLimit: 256, testLimit: 64)
        let sample = try Prerequisites.run(limited + ["sample", vae, "--n", "1000000", "--out", temporaryPath("s.npy")])
        XCTAssertNotEqual(sample.status, 0)
        XCTAssertTrue(sample.output.contains("drawing 1000000 samples needs 9.41 GB"), sample.output)
    }

    /// A negative value after its flag reaches the flag's own check instead of reading as a flag.
    func testNegativeValuesReachTheirFlagsChecks() throws {
        try assertFails(["train", "vae", "--threads", "-1"], saying: "--threads must be at least 1, got -1")
        try assertFails(["train", "vae", "--steps", "-5"], saying: "--steps must be at least 1, got -5")
        try assertFails(["train", "vae", "--lr", "-1"], saying: "which must be a number > 0")
        try assertFails(["sample", "runs/none", "--n", "-3"], saying: "-3")
    }

    /// Files that cannot be read say why (a directory, a missing file, a field of the wrong type),
    /// where Foundation's errors gave only a code.
    func testUnreadableFilesSayWhy() throws {
        let directory = temporaryPath("directory")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try assertFails(["train", "ae", "--steps", "1", "--init", directory, "--out", temporaryPath("run")], saying: "cannot read: it is a directory")
        let run = try oneStepRun("ae", batch: 32, trainLimit: 256, testLimit: 64)
        let config = URL(fileURLWithPath: run).appendingPathComponent("config.json")
        let saved = try Data(contentsOf: config)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: saved) as? [String: Any])
        object["steps"] = "2"
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        try assertFails(["train", "--resume", "--out", run], saying: "not a readable run configuration (field 'steps': ")
        try saved.write(to: config)
        try FileManager.default.removeItem(atPath: run + "/model.gg")
        try assertFails(["train", "--resume", "--out", run], saying: "model.gg:1:1: error: cannot read the model: No such file or directory")
    }

    func testFlagsThatWouldBeIgnoredOrRepeatedAreRefused() throws {
        try assertFails(["bench", "ae", "--modes", ","], saying: "unknown mode '' in --modes ','")
        try assertFails(["bench", "ae", "--modes", "fused,fused"], saying: "--modes names a mode twice")
        try assertFails(["bench", "ae", "--batch", "8,16", "--plot", FileManager.default.temporaryDirectory.path], saying: "it is a directory")
        let vae = try oneStepRun("vae", batch: 32, trainLimit: 256, testLimit: 64)
        try assertFails(["traverse", vae, "--label", "3", "--out", temporaryPath("t.png")], saying: "model 'vae' is not conditional; --label does not apply")
        try assertFails(["interpolate", vae, "--label", "3", "--out", temporaryPath("i.png")], saying: "--label does not apply")
        try assertFails(["traverse", vae, "--out", temporaryPath("t.npy")], saying: "--out must end in .png (the grid is a PNG image)")
        try assertFails(["sample", vae, "--full-canvas", "--out", temporaryPath("s.png")], saying: "--full-canvas does not apply")
        try assertFails(["sample", vae + "/model.gg"], saying: "it may not be a safetensors file at all")
        try assertFails(["train", "vae", "--set", "latent=8", "--set", "latent=16"], saying: "'latent' is set twice, to 8 and to 16")
        try assertFails(["bench", "vae", "--ablate", "--modes", "eager"], saying: "--modes does not apply")
        try assertFails(["interpolate", vae, "--out", temporaryPath("i")], saying: "--out must end in .png")
    }

    /// A model with several objectives dumps as one JSON value, each objective's plan under its name.
    func testDumpOfSeveralObjectivesIsOneJSONValue() throws {
        let (status, output) = try gengraph(["dump", "gan", "--format", "json"])
        XCTAssertEqual(status, 0, output)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        XCTAssertEqual((object["objectives"] as? [String: Any])?.keys.sorted(), ["d_loss", "g_loss"])
        try assertFails(["dump", "vae", "--diff", "ae", "--format", "json"], saying: "--format json does not apply")
    }

    /// The environment's odd values: a TMPDIR that is not there, a relative XDG_CACHE_HOME (which
    /// the XDG specification ignores, rather than caching into the current directory).
    func testEnvironmentThatPointsNowhereIsNamedOrIgnored() throws {
        let missing = temporaryPath("missing")
        try assertFails(["bench", "ae", "--steps", "1", "--warmup", "0"], saying: "'\(missing)' (TMPDIR) is not a directory",
                        environment: ["TMPDIR": missing])
        let saved = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"]
        setenv("XDG_CACHE_HOME", "relative", 1)
        defer { if let saved { setenv("XDG_CACHE_HOME", saved, 1) } else { unsetenv("XDG_CACHE_HOME") } }
        XCTAssertTrue(Roofline.cacheURL.path.hasPrefix("/"), Roofline.cacheURL.path)
    }
}
