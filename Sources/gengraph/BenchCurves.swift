import ArgumentParser
import Foundation
import GenGraph

/// `gengraph bench MODEL --batch 32,64,128 --threads 1,2 [--plot curves.svg]`: cost curves.
extension BenchCommand {
    /// Runs every mode at every batch and thread count, `rounds` times over in turn (so drift on a
    /// shared machine touches every configuration alike), and prints the medians over rounds as
    /// a table (or JSON lines) with each mode's speed-up over eager; `--plot` also draws them.
    func runCurves(modes: [ExecutionMode], batches: [Int?], threadCounts: [Int?]) throws {
        struct Configuration: Hashable { let mode: ExecutionMode, batch: Int?, threads: Int? }
        let configurations = threadCounts.flatMap { t in
            batches.flatMap { b in modes.map { Configuration(mode: $0, batch: b, threads: t) } }
        }
        if let plot {
            // Refuse an unwritable plot before the measurements, not after them.
            let directory = (plot as NSString).deletingLastPathComponent
            guard FileManager.default.isWritableFile(atPath: directory.isEmpty ? "." : directory) else {
                throw CLIError("bench: cannot write the plot to '\(plot)': '\(directory)' is not a writable directory")
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: plot, isDirectory: &isDirectory), isDirectory.boolValue {
                throw CLIError("bench: cannot write the plot to '\(plot)': it is a directory; give a file name such as curves.svg")
            }
        }
        var measured: [Configuration: [BenchResult]] = [:]
        for round in 1...roundCount {
            FileHandle.standardError.write(Data("bench: round \(round) of \(roundCount)\n".utf8))
            for c in configurations {
                measured[c, default: []].append(try runChild(c.mode, fusionOff: try fusion.kinds(), batch: c.batch, threads: c.threads, parametersFile: nil))
            }
        }
        // The workers report the batch and threads they ran with (the model's batch, OpenMP's threads).
        let rows = configurations.map { c -> (point: CostCurves.Point, first: BenchResult) in
            let results = measured[c]!
            let r = results[0]
            return (CostCurves.Point(mode: r.mode, threads: r.threads, batch: r.batch, samplesPerStep: r.samplesPerStep,
                                     stepMs: median(results.map(\.stepMsMedian))), r)
        }
        let curves = CostCurves(model: model, points: rows.map(\.point))
        if json {
            for (point, first) in rows {
                let line = CurvePoint(model: model, mode: point.mode, threads: point.threads, batch: point.batch, rounds: roundCount,
                                      stepMsMedian: point.stepMs, samplesPerSecond: point.samplesPerSecond,
                                      kernelsPerStep: first.kernelsPerStep, workingSetMegabytes: first.workingSetMegabytes)
                print(String(decoding: try JSONEncoder().encode(line), as: UTF8.self))
            }
        } else {
            print("\(model): \(steps) timed steps after \(warmup) warm-up per run; medians over \(roundCount) round\(roundCount == 1 ? "" : "s") of alternated runs")
            print("threads  batch  mode    median ms   samples/s  kernels/step  working MB  speed-up over eager")
            for (point, first) in rows {
                let eager = curves.points.first { $0.mode == "eager" && $0.threads == point.threads && $0.batch == point.batch }
                let speedup = eager.map { point.mode == "eager" ? "" : String(format: "%.2fx", $0.stepMs / point.stepMs) } ?? ""
                print(String(format: "%7d  %5d  %@  %9.3f  %10.0f  %12.0f  %10.2f  %@", point.threads, point.batch,
                             point.mode.padding(toLength: 6, withPad: " ", startingAt: 0) as NSString, point.stepMs, point.samplesPerSecond, first.kernelsPerStep,
                             first.workingSetMegabytes, speedup as NSString))
            }
        }
        if let plot {
            do { try curves.write(to: plot) } catch { throw CLIError("bench: cannot write the plot to '\(plot)': \(error)") }
            if !json { print("wrote \(plot)") }
        }
    }
}

/// One configuration of the cost curves, as `--json` prints it.
private struct CurvePoint: Encodable {
    let model: String, mode: String, threads: Int, batch: Int, rounds: Int
    let stepMsMedian: Double, samplesPerSecond: Double, kernelsPerStep: Double, workingSetMegabytes: Double

    enum CodingKeys: String, CodingKey {
        case model, mode, threads, batch, rounds
        case stepMsMedian = "step_ms_median", samplesPerSecond = "samples_per_s"
        case kernelsPerStep = "kernels_per_step", workingSetMegabytes = "working_set_mb"
    }
}

/// The middle value (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
