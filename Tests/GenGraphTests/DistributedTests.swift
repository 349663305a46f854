import Foundation
import GenGraph
import XCTest

/// `mpirun -np 2 gengraph train` on loopback (docs/distributed.md): two ranks with global batch B
/// train as one process with batch B, two runs of a job agree bit for bit, and a rank that fails
/// or is killed ends the job at once without a half-written checkpoint.
final class DistributedTests: XCTestCase {
    /// Ten steps of 16 images: one epoch of the first 160 training images.
    static let training = ["--steps", "10", "--batch", "16", "--limit", "160", "--test-limit", "16", "--samples", "0", "--threads", "1"]

    func binary() throws -> String {
        let binary = try XCTUnwrap(CLITests.binary, "the gengraph binary is not built next to the tests").path
        // A build configured before Open MPI was installed has no MPI (Package.swift looks for it).
        guard try Prerequisites.run([binary, "info"]).output.contains("mpi      yes") else {
            throw Prerequisites.missing("this gengraph was built without MPI",
                                        install: "bash tools/setup.sh, rm -rf ~/.cache/org.swift.swiftpm/manifests, rebuild")
        }
        return binary
    }

    /// mpirun's arguments for `ranks` ranks, each with one kernel thread and OpenMP's threads
    /// sleeping when idle (spinning ranks on two cores slow each other down many times over).
    func mpirun(_ ranks: Int) throws -> [String] {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard let mpirun = paths.map({ "\($0)/mpirun" }).first(where: FileManager.default.isExecutableFile) else {
            throw Prerequisites.missing("Open MPI's mpirun is not installed", install: "bash tools/setup.sh")
        }
        return [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", "-x", "OMP_WAIT_POLICY=PASSIVE", "-x", "OMP_NUM_THREADS=1"]
    }

    func runDirectory(_ name: String) -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-mpi-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.appendingPathComponent(name).path
    }

    /// Trains `model` with `arguments` on one process (`ranks` nil) or under mpirun; the run directory.
    func train(_ model: String, ranks: Int?, _ arguments: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let out = runDirectory(model.replacingOccurrences(of: "/", with: "_"))
        let command = try (ranks.map(mpirun) ?? []) + [binary(), "train", model, "--out", out] + Self.training + arguments
        let result = try Prerequisites.run(command)
        XCTAssertEqual(result.status, 0, "\(command.joined(separator: " ")):\n\(result.output)", file: file, line: line)
        return out
    }

    func parameters(_ run: String) throws -> [String: [Float]] {
        let file = try SafeTensors(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors"))
        return Dictionary(uniqueKeysWithValues: file.entries.map { ($0.name, $0.value.scalars) })
    }

    /// The largest |a - b| / max(1, |a|) over every tensor of two checkpoints of one model.
    func largestDifference(_ a: [String: [Float]], _ b: [String: [Float]]) throws -> Float {
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var largest: Float = 0
        for (name, x) in a {
            let y = try XCTUnwrap(b[name])
            XCTAssertEqual(x.count, y.count, name)
            for (u, v) in zip(x, y) { largest = max(largest, abs(u - v) / max(1, abs(u))) }
        }
        return largest
    }

    /// The bound: the ranks' gradients are of their halves' means, summed and halved, where one
    /// process sums the whole batch at once; in exact arithmetic the two are the same number, in
    /// floats they differ by a few units in the last place (about 1e-7 relative). Ten steps of
    /// Adam (vae, gan: lr 1e-3 and 2e-4) or SGD carry that into the parameters at about 1e-6
    /// (measured: under 1e-6 for all three); 1e-5 leaves a tenfold margin, while a mistake —
    /// a gradient not averaged, a rank drawing other noise, statistics of half the batch — moves
    /// them by a whole optimiser step (1e-4 to 1e-2) at once. The runs are deterministic, so
    /// the test cannot flicker; but a change to the kernels' rounding could, rarely, land one of
    /// the ReLUs' inputs on the other side of zero in one run and not the other (see the dcgan
    /// test): were vae or gan to fail by 1e-4 or so after such a change, look there first.
    static let bound: Float = 1e-5

    func testTwoRanksTrainAsOneProcessAndRepeatBitForBit() throws {
        for model in ["vae", "gan"] {
            let alone = try parameters(train(model, ranks: nil))
            let first = try parameters(train(model, ranks: 2))
            XCTAssertLessThan(try largestDifference(alone, first), Self.bound, "\(model): 2 ranks against 1 process")
            if model == "vae" {
                XCTAssertEqual(first, try parameters(train(model, ranks: 2)), "two runs of the same 2-rank job differ")
            }
        }
        // Eager mode averages the gradients outside any plan.
        let alone = try parameters(train("vae", ranks: nil, ["--mode", "eager"]))
        XCTAssertLessThan(try largestDifference(alone, parameters(train("vae", ranks: 2, ["--mode", "eager"]))), Self.bound, "eager")
    }

    func testTwoRankRunResumesExactly() throws {
        let whole = try parameters(train("vae", ranks: 2))
        let run = try train("vae", ranks: 2, ["--steps", "4"])
        let result = try Prerequisites.run(mpirun(2) + [binary(), "train", "--resume", "--out", run, "--steps", "10", "--threads", "1"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(try parameters(run), whole, "stopped at step 4 and resumed, a 2-rank run should equal one straight through")
    }

    /// dcgan as the zoo has it cannot be compared to rounding, for two reasons. Its biases that
    /// feed batch norm have a gradient of exactly zero in exact arithmetic, so what each run
    /// computes for them is rounding noise, which Adam (dividing by the gradient's own running
    /// size) turns into steps of ±lr. And its ReLUs and leaky ReLUs meet about a million
    /// pre-activations a step: every few steps one lies within rounding of zero, its slope
    /// flips between the runs, and the GAN amplifies that to 1e-3 within ten steps (measured:
    /// 2 of 3 seeds). The test therefore trains dcgan's layers, batch norms and objectives with
    /// SGD (steps proportional to the gradients) and smooth activations (softplus for ReLU,
    /// SiLU for leaky ReLU); per-rank statistics (no --sync-batchnorm) must then differ.
    func testTwoRanksWithSyncBatchNormTrainDCGANAsOneProcess() throws {
        let source = try Prerequisites.run([binary(), "zoo", "show", "dcgan"]).output
        let edits = [("adam(lr, beta1=0.5, beta2=0.999)", "sgd(lr)"), ("hyper lr = 2e-4", "hyper lr = 0.002"),
                     ("-> relu", "-> softplus"), ("-> lrelu", "-> silu")]
        var smooth = source
        for (old, new) in edits {
            XCTAssertTrue(source.contains(old), "the zoo's dcgan no longer has '\(old)'; update this test")
            smooth = smooth.replacingOccurrences(of: old, with: new)
        }
        let path = runDirectory("dcgan-smooth.gg")
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try smooth.write(toFile: path, atomically: true, encoding: .utf8)
        let alone = try parameters(train(path, ranks: nil))
        let synchronised = try parameters(train(path, ranks: 2, ["--sync-batchnorm"]))
        XCTAssertLessThan(try largestDifference(alone, synchronised), Self.bound, "dcgan --sync-batchnorm: 2 ranks against 1 process")
        let perRank = try parameters(train(path, ranks: 2))
        XCTAssertGreaterThan(try largestDifference(alone, perRank), 100 * Self.bound, "per-rank batch statistics should differ")
    }

    /// Ranks started with other flags would train different models, or wait forever in an all-reduce.
    func testRanksStartedWithOtherSettingsAreRefused() throws {
        let out = runDirectory("ae")
        let rank = [try binary(), "train", "ae", "--out", out, "--steps", "2", "--batch", "16", "--limit", "64", "--test-limit", "32", "--samples", "0"]
        let launcher = try mpirun(2)
        let split = Array(launcher.prefix(while: { $0 != "-np" })) + ["-np", "1"] + Array(launcher.drop(while: { $0 != "-x" }))
        let command = split + rank + ["--mode", "eager"] + [":", "-np", "1"] + rank + ["--mode", "fused"]
        let result = try Prerequisites.run(command)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("rank 1 was started with other settings than rank 0: 'mode: fused' here, 'mode: eager' on rank 0"),
                      result.output)
    }

    /// A run may be resumed by another number of processes: the data-parallel run's extra column stays.
    func testATwoRankRunResumesOnOneProcessAndBack() throws {
        let run = try train("vae", ranks: 2, ["--steps", "2"])
        let alone = try Prerequisites.run([binary(), "train", "--resume", "--out", run, "--steps", "3", "--threads", "1"])
        XCTAssertEqual(alone.status, 0, alone.output)
        let again = try Prerequisites.run(mpirun(2) + [binary(), "train", "--resume", "--out", run, "--steps", "4", "--threads", "1"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(try String(contentsOfFile: run + "/metrics.csv", encoding: .utf8).hasPrefix("step,epoch,loss,samples_per_s,allreduce_s,"))
    }

    func testBatchThatRanksDoNotDivideIsRefused() throws {
        let out = runDirectory("vae")
        let result = try Prerequisites.run(mpirun(2) + [binary(), "train", "vae", "--out", out, "--steps", "1", "--batch", "15", "--limit", "30"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("the batch of 15 images does not split evenly over 2 ranks"), result.output)
    }

    /// Checks that a job that failed left either no checkpoint or a whole one.
    func assertNoHalfCheckpoint(_ run: String, file: StaticString = #filePath, line: UInt = #line) {
        for name in ["checkpoint.safetensors", "optimizer.safetensors"] where FileManager.default.fileExists(atPath: run + "/" + name) {
            XCTAssertNoThrow(try SafeTensors(contentsOf: URL(fileURLWithPath: run + "/" + name)), name, file: file, line: line)
        }
    }

    func testFailingRankEndsTheJobWithItsMessage() throws {
        let out = runDirectory("vae")
        let good = try Prerequisites.fashionMNIST()
        let bad = runDirectory("no-data")
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        // Two application contexts: rank 1 alone is pointed at a directory without the data.
        var command = try mpirun(1) + [binary(), "train", "vae", "--out", out, "--data", good] + Self.training
        command += [":", "-np", "1", try binary(), "train", "vae", "--out", out, "--data", bad] + Self.training
        let start = Date()
        let result = try Prerequisites.run(command)
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30, "the job should end within seconds of the failure")
        XCTAssertTrue(result.output.contains("rank 1 of 2"), result.output)
        // The ranks' settings are compared before anything is loaded, so the other data directory is what stops it.
        XCTAssertTrue(result.output.contains("'data: \(bad)' here"), result.output)
        assertNoHalfCheckpoint(out)
    }

    func testKilledRankEndsTheJob() throws {
        let out = runDirectory("vae")
        // Two steps an epoch, so rank 0 writes a checkpoint every two steps while it is killed.
        let process = Process()
        let command = try mpirun(2) + [binary(), "train", "vae", "--out", out, "--steps", "100000", "--batch", "16", "--limit", "32",
                                       "--test-limit", "16", "--samples", "0", "--threads", "1"]
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        func ranks() -> [Int32] { childProcesses(of: process.processIdentifier) }
        let started = Date()
        while ranks().count < 2 || !FileManager.default.fileExists(atPath: out + "/config.json") {
            guard process.isRunning, Date().timeIntervalSince(started) < 60 else { return XCTFail("the job did not start training") }
            usleep(100_000)
        }
        usleep(500_000)  // a few checkpoints in
        let killed = Date()
        kill(try XCTUnwrap(ranks().first), SIGKILL)
        while process.isRunning && Date().timeIntervalSince(killed) < 30 { usleep(50_000) }
        XCTAssertFalse(process.isRunning, "the job outlived a killed rank by 30 s")
        XCTAssertLessThan(Date().timeIntervalSince(killed), 10, "the job should end within seconds of a rank's death")
        if !process.isRunning { XCTAssertNotEqual(process.terminationStatus, 0) }
        assertNoHalfCheckpoint(out)
    }

    /// The processes whose parent is `parent` (mpirun starts the local ranks itself).
    func childProcesses(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            // After "pid (comm)" come the state and the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }.sorted()
    }
}
