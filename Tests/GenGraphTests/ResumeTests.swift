import Foundation
@testable import GenGraph
import XCTest

/// Resuming a run directory after every kind of interruption: before the first checkpoint,
/// between the two files of a save, or with files that do not belong together or say nonsense.
final class ResumeTests: XCTestCase {
    private let config = RunConfig(threads: 2, seed: 5, mode: .fused)

    override func setUpWithError() throws {
        _ = try Prerequisites.fashionMNIST()
    }

    private func temporaryDirectory() -> RunDirectory {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-resume-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return RunDirectory(url.path)
    }

    /// vae at batch 32 on 512 images: 16 steps an epoch, so 20 steps cross an epoch boundary.
    private func start(_ directory: RunDirectory, steps: Int = 20) throws -> TrainingRun {
        try TrainingRun(source: try XCTUnwrap(DSLZoo.model(named: "vae")), overrides: ["batch": "32"], directory: directory,
                        config: config, options: TrainingRunTests.options(steps: steps), resume: false)
    }

    /// Options a resume does not take from the run directory (how often to log, how much to evaluate) are given again.
    private func resume(_ directory: RunDirectory) throws -> TrainingRun {
        try TrainingRun(source: nil, overrides: [:], directory: directory, config: RunConfig(threads: 1),
                        options: TrainingRunTests.options(steps: nil), resume: true)
    }

    /// Trains until `steps` steps are done, then stops as Ctrl-C would (writing a checkpoint).
    private func stop(_ run: TrainingRun, after steps: Int) throws {
        XCTAssertFalse(try run.run(shouldStop: { run.step >= steps }))
        XCTAssertEqual(run.step, steps)
    }

    private func parameterBits(_ directory: RunDirectory) throws -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: try SafeTensors(contentsOf: directory.checkpoint).entries.map { ($0.name, $0.value.scalars.map(\.bitPattern)) })
    }

    /// The step column of metrics.csv: which rows were logged, in order.
    private func loggedSteps(_ directory: RunDirectory) throws -> [String] {
        try String(contentsOf: directory.metrics, encoding: .utf8).split(separator: "\n").map { String($0.prefix { $0 != "," }) }
    }

    /// Runs `run` to its end and checks that its directory ends as `whole` did: the same
    /// parameters bit for bit and the same rows logged.
    private func finish(_ run: TrainingRun, like whole: RunDirectory, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertTrue(try run.run(), file: file, line: line)
        XCTAssertEqual(try parameterBits(run.directory), try parameterBits(whole), file: file, line: line)
        XCTAssertEqual(try loggedSteps(run.directory), try loggedSteps(whole), file: file, line: line)
    }

    private func uninterrupted() throws -> RunDirectory {
        let directory = temporaryDirectory()
        XCTAssertTrue(try start(directory).run())
        return directory
    }

    private func assertResumeFails(_ directory: RunDirectory, mentioning parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try resume(directory), file: file, line: line) { error in
            for part in parts { XCTAssertTrue("\(error)".contains(part), "'\(part)' not in: \(error)", file: file, line: line) }
        }
    }

    /// A run killed during its first epoch (no Ctrl-C, so no checkpoint of its own, but rows logged)
    /// resumes from the checkpoint written when it started, and ends as an uninterrupted run does.
    func testRunKilledInItsFirstEpochResumesExactly() throws {
        let whole = try uninterrupted()
        let killed = temporaryDirectory()
        _ = try start(killed)
        try Data("1,0,999,1,\n2,0,998,1,\n".utf8).write(to: killed.metrics)
        XCTAssertThrowsError(try start(killed)) { error in
            XCTAssertTrue("\(error)".contains("already holds a run (saved at step 0); use --resume"), "\(error)")
        }
        let resumed = try resume(killed)
        XCTAssertEqual(resumed.step, 0)
        try finish(resumed, like: whole)
    }

    /// A run stopped while starting (before config.json) is no run: resume says to start it again,
    /// and starting it again clears what the attempt left.
    func testRunStoppedWhileStartingCanBeStartedAgain() throws {
        let directory = temporaryDirectory()
        _ = try start(directory, steps: 2)
        try FileManager.default.removeItem(at: directory.configuration)
        try Data("left,over\n".utf8).write(to: directory.metrics)
        assertResumeFails(directory, mentioning: ["holds no run to resume", "gengraph train MODEL --out \(directory.url.path)"])
        XCTAssertTrue(try start(directory, steps: 2).run())
        XCTAssertEqual(try loggedSteps(directory), ["step", "1", "2", "2"])
    }

    /// Stopped mid-epoch, then killed after logging more rows: the resumed run drops those rows,
    /// logs them again, and its parameters equal an uninterrupted run's bit for bit.
    func testRowsLoggedAfterTheCheckpointAreNotRepeated() throws {
        let whole = try uninterrupted()
        let split = temporaryDirectory()
        try stop(try start(split), after: 7)
        let handle = try FileHandle(forWritingTo: split.metrics)
        handle.seekToEndOfFile()
        handle.write(Data("8,0,1,1,\n".utf8))
        try handle.close()
        try finish(try resume(split), like: whole)
    }

    /// A crash after the optimiser file of a save but before its checkpoint leaves the previous
    /// pair usable, and resuming from it still ends exactly as the uninterrupted run.
    func testACrashBetweenTheTwoWritesLosesNothing() throws {
        let whole = try uninterrupted()
        let split = temporaryDirectory()
        try stop(try start(split), after: 5)
        let checkpointAt5 = try Data(contentsOf: split.checkpoint)
        try stop(try resume(split), after: 9)
        // Undo the last checkpoint write: the step-9 optimiser state sits beside the step-5 checkpoint.
        try checkpointAt5.write(to: split.checkpoint)
        let resumed = try resume(split)
        XCTAssertEqual(resumed.step, 5)
        // It saves again (at step 9, 16 and 20) without ever losing the pair it resumed from.
        try stop(resumed, after: 9)
        try finish(try resume(split), like: whole)
    }

    /// Parameters and optimiser state from different saves are refused, naming both steps and the way out.
    func testMismatchedCheckpointAndOptimiserStateAreRefused() throws {
        let split = temporaryDirectory()
        try stop(try start(split), after: 3)
        let checkpointAt3 = try Data(contentsOf: split.checkpoint)
        try stop(try resume(split), after: 6)
        try checkpointAt3.write(to: split.checkpoint)
        try FileManager.default.removeItem(at: split.previousOptimizer)
        let before = try FileManager.default.contentsOfDirectory(atPath: split.url.path).sorted()
        assertResumeFails(split, mentioning: ["checkpoint \(split.checkpoint.path) is at step 3 but its optimiser state is not",
                                              "optimizer.safetensors is at step 6", "nothing was loaded",
                                              "gengraph train \(split.source.path) --set batch=32 --init \(split.checkpoint.path)"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: split.url.path).sorted(), before)
        XCTAssertEqual(try Data(contentsOf: split.checkpoint), checkpointAt3, "a refused resume leaves the checkpoint as it was")

        // Optimiser state from another run at the same step, and state that records no step at all.
        let other = temporaryDirectory()
        try stop(try start(other), after: 3)
        try FileManager.default.copyItem(at: other.optimizer, to: split.previousOptimizer)
        var unstamped = try SafeTensors(contentsOf: split.optimizer)
        unstamped.metadata["step"] = nil
        try unstamped.write(to: split.optimizer)
        assertResumeFails(split, mentioning: ["optimizer.safetensors does not record its step",
                                              "optimizer.previous.safetensors is at step 3 of another run"])
        try FileManager.default.removeItem(at: split.optimizer)
        try FileManager.default.removeItem(at: split.previousOptimizer)
        assertResumeFails(split, mentioning: ["optimizer.safetensors is missing"])
        // A checkpoint copied in from another run is not this run's.
        try FileManager.default.copyItem(at: other.optimizer, to: split.optimizer)
        try FileManager.default.removeItem(at: split.checkpoint)
        try FileManager.default.copyItem(at: other.checkpoint, to: split.checkpoint)
        assertResumeFails(split, mentioning: ["is not a checkpoint of this run"])
    }

    /// A truncated checkpoint is refused, left in place, and a stray temporary file from a write
    /// that never finished is ignored.
    func testCorruptCheckpointIsRefusedAndAHalfWrittenOneIgnored() throws {
        let split = temporaryDirectory()
        try stop(try start(split), after: 3)
        let good = try Data(contentsOf: split.checkpoint)
        let stray = split.url.appendingPathComponent(".checkpoint.safetensors.1234.tmp")
        try good.prefix(good.count / 2).write(to: stray)
        XCTAssertEqual(try resume(split).step, 3)
        try good.prefix(good.count - 4).write(to: split.checkpoint)
        assertResumeFails(split, mentioning: [split.checkpoint.path, "truncated"])
        XCTAssertEqual(try Data(contentsOf: split.checkpoint).count, good.count - 4)
    }

    /// Run positions that would crash, hang or silently misplace the resumed run are refused by name.
    func testImpossibleRunPositionsAreRefused() throws {
        let split = temporaryDirectory()
        try stop(try start(split), after: 3)
        let original = try SafeTensors(contentsOf: split.checkpoint)
        for (key, value) in [("batch_in_epoch", "-1"), ("batch_in_epoch", "99999999999"), ("epoch", "-3"), ("epoch", "1"),
                             ("run_count", "18446744073709551615"), ("metrics_bytes", "-5")] {
            var edited = original
            edited.metadata[key] = value
            try edited.write(to: split.checkpoint)
            assertResumeFails(split, mentioning: [split.checkpoint.path, key == "epoch" && value == "1" ? "does not match its run position" : "'\(value)'"])
        }
        // Loading the checkpoint on its own (sample, eval) reads its overrides, which must be JSON.
        var edited = original
        edited.metadata["overrides"] = "{\"batch\": 32"
        try edited.write(to: split.checkpoint)
        XCTAssertThrowsError(try TrainedModel(split.checkpoint.path)) { error in
            XCTAssertTrue("\(error)".contains(split.checkpoint.path) && "\(error)".contains("overrides '{\"batch\": 32'"), "\(error)")
        }
        // An error in the source a checkpoint carries names the checkpoint, not a vae.gg that is not there.
        edited = original
        edited.metadata["source"] = original.metadata["source"]!.replacingOccurrences(of: "hyper lr = 1e-3", with: "hyper lr = q")
        try edited.write(to: split.checkpoint)
        XCTAssertThrowsError(try TrainedModel(split.checkpoint.path)) { error in
            XCTAssertTrue((error as? DSLError)?.summary.hasPrefix("vae.gg (source embedded in \(split.checkpoint.path)):8:") == true, "\(error)")
        }
        // A run directory's errors name its copy of the source.
        try edited.metadata["source"]!.write(to: split.source, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TrainedModel(split.url.path)) { error in
            XCTAssertTrue((error as? DSLError)?.summary.hasPrefix("\(split.source.path):8:") == true, "\(error)")
        }
    }

    /// Lengths, intervals and configurations the loop cannot run with are refused when the run is set up.
    func testImpossibleRunLengthsAndConfigurationsAreRefused() throws {
        let source = try XCTUnwrap(DSLZoo.model(named: "vae"))
        let cases: [((inout TrainingOptions) -> Void, String)] = [
            ({ $0.epochs = Int.max / 2 }, "epochs: must be in 1...1000000"), ({ $0.steps = 1 << 60 }, "steps: must be in 1...1000000000"),
            ({ $0.logEvery = 0 }, "log every: must be in 1..."), ({ $0.epochs = 0 }, "epochs: must be in 1..."),
            ({ $0.sampleCount = -1 }, "samples: must be in 0..."),
        ]
        for (edit, message) in cases {
            var o = TrainingRunTests.options(steps: nil)
            edit(&o)
            XCTAssertThrowsError(try TrainingRun(source: source, overrides: ["batch": "32"], directory: temporaryDirectory(),
                                                 config: config, options: o, resume: false)) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
        let split = temporaryDirectory()
        _ = try start(split, steps: 2)
        let saved = try String(contentsOf: split.configuration, encoding: .utf8)
        for (from, to, message) in [("\"steps\" : 2", "\"steps\" : -5", "steps is -5"), ("\"mode\" : \"fused\"", "\"mode\" : \"jit\"", "mode 'jit'"),
                                    ("\"steps\" : 2", "\"steps\" : 99999999999999999999", "not a readable run configuration")] {
            try saved.replacingOccurrences(of: from, with: to).write(to: split.configuration, atomically: true, encoding: .utf8)
            assertResumeFails(split, mentioning: [split.configuration.path, message])
        }
        // A run from before checkpoints were paired cannot be checked, so it is not resumed.
        try saved.replacingOccurrences(of: "\"run_id\"", with: "\"old_id\"").write(to: split.configuration, atomically: true, encoding: .utf8)
        assertResumeFails(split, mentioning: ["has no run_id", "--init \(split.checkpoint.path)"])
    }
}
