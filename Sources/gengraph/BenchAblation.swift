import ArgumentParser
import Foundation
import GenGraph

/// `gengraph bench MODEL --ablate`: what each fusion kind buys. Every round runs
/// every configuration once, each in a process of its own, so a machine that
/// slows down or speeds up during the measurement moves all rows alike; the
/// table gives medians over the rounds.
extension BenchCommand {
    /// One configuration of the ablation: eager, full fusion, or full fusion with one kind off.
    struct AblationConfig {
        let name: String
        let mode: ExecutionMode
        let off: Set<FusionKind>

        static let all: [AblationConfig] = [AblationConfig(name: "eager", mode: .eager, off: []),
                                            AblationConfig(name: "fused", mode: .fused, off: [])]
            + FusionKind.allCases.map { AblationConfig(name: "-\($0.rawValue)", mode: .fused, off: [$0]) }
    }

    func runAblation(batch: Int?, threads: Int?) throws {
        let configs = AblationConfig.all
        var runs = [[BenchResult]](repeating: [], count: configs.count)
        for round in 0..<roundCount {
            for (k, c) in configs.enumerated() {
                if !json {
                    FileHandle.standardError.write(Data("round \(round + 1)/\(roundCount): \(c.name)\n".utf8))
                }
                runs[k].append(try runChild(c.mode, fusionOff: c.off, batch: batch, threads: threads, parametersFile: nil))
            }
        }
        let full = median(runs[1].map(\.stepMsMedian))
        let rows = zip(configs, runs).map { c, results -> AblationRow in
            let last = results.last!
            let ms = median(results.map(\.stepMsMedian))
            let samplesPerStep = Double(last.samplesPerStep)
            return AblationRow(config: c.name, stepMsMedian: ms, stepMsPerRound: results.map(\.stepMsMedian), ratioToFused: ms / full,
                               samplesPerSecond: samplesPerStep / (ms / 1000),
                               kernelsPerStep: last.kernelsPerStep, megabytesPerStep: last.megabytesPerStep,
                               arenaMegabytes: last.workingSetMegabytes, lossLast: last.lossLast)
        }
        if json {
            for r in rows { print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self)) }
            return
        }
        let first = runs[0][0]
        print("\(model): batch \(first.batch), \(first.threads) threads, \(roundCount) rounds of \(steps) timed steps after \(warmup) warm-up; "
            + "medians over rounds; -KIND: full fusion with that kind off")
        print("config          median ms  x fused   samples/s  kernels/step  MB moved/step  arena MB   final loss")
        for r in rows {
            print(r.config.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: "  %9.3f  %7.3f  %10.0f  %12.0f  %13.2f  %8.2f  %11.7g", r.stepMsMedian,
                         r.ratioToFused, r.samplesPerSecond, r.kernelsPerStep, r.megabytesPerStep, r.arenaMegabytes, Double(r.lossLast)))
        }
    }
}

/// One row of `bench --ablate`, as its JSON line.
struct AblationRow: Codable {
    let config: String
    let stepMsMedian: Double
    let stepMsPerRound: [Double]
    let ratioToFused: Double
    let samplesPerSecond: Double
    let kernelsPerStep: Double
    let megabytesPerStep: Double
    /// The plans' arenas in fused mode, the allocator's buffers in eager mode.
    let arenaMegabytes: Double
    let lossLast: Float

    enum CodingKeys: String, CodingKey {
        case config, stepMsMedian = "step_ms_median", stepMsPerRound = "step_ms_per_round", ratioToFused = "ratio_to_fused"
        case samplesPerSecond = "samples_per_s", kernelsPerStep = "kernels_per_step", megabytesPerStep = "mb_moved_per_step"
        case arenaMegabytes = "arena_mb", lossLast = "loss_last"
    }
}
