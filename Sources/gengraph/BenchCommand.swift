import ArgumentParser
import Foundation
import GenGraph

/// `gengraph bench`: eager against fused on the same weights and batches.
/// Each mode runs in a child process of its own, so peak RSS is that mode's.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time a model's training step in each execution mode, side by side.",
        discussion: """
            Each mode runs in its own process from the same initial weights on the same batches; \
            warm-up steps (and compilation) are not timed. Reports median/min/max step time, samples/s, \
            kernels and bytes moved per step, peak RSS, working storage, compile time, the fused/eager \
            ratio, and how far the modes' losses and parameters are apart after the timed steps.
            """)

    @Argument(help: "A zoo model name or a path to a .gg file.")
    var model: String

    @Option(name: .customLong("set"), help: "Override a hyper-parameter, e.g. --set latent=32 (repeatable).")
    var assignments: [String] = []

    @Option(help: "Modes to run, comma-separated: eager,fused. (default: eager,fused)")
    var modes: String?

    @Option(help: "Batch size (default: the model's); several, comma-separated, measure cost curves.")
    var batch: String?

    @Option(help: "Timed steps.")
    var steps: Int = 50

    @Option(help: "Untimed warm-up steps.")
    var warmup: Int = 5

    @Option(help: "Kernel threads (default: GENGRAPH_THREADS, else OpenMP's default); several, comma-separated, measure cost curves.")
    var threads: String?

    @Option(help: "Random seed: initial weights, noise, data order.")
    var seed: UInt64 = 0

    @Option(help: "Cost curves: write step time and samples/s against the batch as an SVG here.")
    var plot: String?

    @OptionGroup var fusion: CompilerOptions

    @Flag(help: "Time eager, full fusion, and full fusion with each fusion kind off, in alternated rounds (docs/compiler.md, Ablation).")
    var ablate = false

    @Option(help: "Rounds, each running every mode (or configuration) once in its own process, in alternating order; medians over rounds (default 1, or 3 with --ablate).")
    var rounds: Int?

    /// Alternated rounds: `--rounds`, else 3 for an ablation and 1 for cost curves.
    var roundCount: Int { rounds ?? (ablate ? 3 : 1) }

    @Option(help: "Directory holding the four MNIST-format IDX files.")
    var data: String = MNISTDataset.defaultDirectory

    @Flag(help: "Print one JSON object per mode instead of the table.")
    var json = false

    @Flag(help: "Time every kernel and print where the time goes.")
    var profile = false

    @Option(name: .customLong("worker"), help: .hidden)
    var workerMode: ExecutionMode?

    @Option(name: .customLong("parameters-out"), help: .hidden)
    var parametersOut: String?

    func validate() throws {
        try requireCount("--steps", steps, in: 1...RunLimits.steps)
        try requireCount("--warmup", warmup, in: 0...RunLimits.steps)
        try requireCount("--rounds", rounds, in: 1...RunLimits.rounds)
        for b in try batchList() ?? [] { try requireCount("--batch", b, in: 1...Shape.maxElements) }
        for t in try threadList() ?? [] { try requireCount("--threads", t, in: 1...RunConfig.maxThreads) }
        if ablate && modes != nil { throw ValidationError("--ablate runs eager and every fusion configuration itself; --modes does not apply") }
        if ablate && !fusion.lists.isEmpty { throw ValidationError("--ablate runs every --fusion-off configuration itself; give one or the other") }
        let (batchCount, threadCount) = (try batchList()?.count ?? 1, try threadList()?.count ?? 1)
        if ablate && (batchCount > 1 || threadCount > 1 || plot != nil) {
            throw ValidationError("--ablate measures one batch and thread count; cost curves (several --batch or --threads, --plot) are another run")
        }
    }

    /// `--batch`'s sizes; nil for the model's own.
    private func batchList() throws -> [Int]? { try batch.map { try countList("--batch", $0) } }

    /// `--threads`' counts; nil for GENGRAPH_THREADS or OpenMP's default.
    private func threadList() throws -> [Int]? { try threads.map { try countList("--threads", $0) } }

    /// The run options of one configuration (`threads`: one count of the list).
    private func runOptions(threads: Int?) -> SharedRunOptions {
        var options = SharedRunOptions()
        options.threads = threads
        options.seed = seed
        return options
    }

    func run() throws {
        if let workerMode { return try runWorker(workerMode) }
        let batches = try batchList(), threadCounts = try threadList()
        // A bad --threads or GENGRAPH_THREADS fails here, before any worker starts.
        for t in threadCounts?.map(Optional.some) ?? [nil] { _ = try runOptions(threads: t).config() }
        do {
            _ = try ModelReference.source(model).definition(overrides: ModelReference.overrides(assignments))
        } catch {
            throw CLIError(String(describing: error))
        }
        if ablate { return try runAblation(batch: batches?.first, threads: threadCounts?.first) }
        let modesText = modes ?? "eager,fused"
        let modeList = try modesText.split(separator: ",", omittingEmptySubsequences: false).map { text -> ExecutionMode in
            guard let m = ExecutionMode(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown mode '\(text)' in --modes '\(modesText)'; use eager and/or fused")
            }
            return m
        }
        if Set(modeList).count < modeList.count { throw ValidationError("--modes names a mode twice: '\(modesText)'") }
        if (batches?.count ?? 1) > 1 || (threadCounts?.count ?? 1) > 1 || plot != nil {
            return try runCurves(modes: modeList, batches: batches?.map(Optional.some) ?? [nil],
                                 threadCounts: threadCounts?.map(Optional.some) ?? [nil])
        }
        let temporary = FileManager.default.temporaryDirectory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: temporary.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError("bench compares the modes' parameters through files in the temporary directory, and '\(temporary.path)' "
                           + "(TMPDIR) is not a directory")
        }
        let parameterFiles = modeList.map { temporary.appendingPathComponent("gengraph-bench-\(getpid())-\($0).bin").path }
        defer { for f in parameterFiles { try? FileManager.default.removeItem(atPath: f) } }
        // Every round runs each mode once, the order reversed every other round, so that a shared
        // machine's drift and the position in a round touch every mode alike.
        var rounds = [[BenchResult]](repeating: [], count: modeList.count)
        for round in 0..<roundCount {
            if roundCount > 1 { FileHandle.standardError.write(Data("bench: round \(round + 1) of \(roundCount)\n".utf8)) }
            for k in round % 2 == 0 ? Array(modeList.indices) : modeList.indices.reversed() {
                rounds[k].append(try runChild(modeList[k], fusionOff: try fusion.kinds(), batch: batches?.first, threads: threadCounts?.first,
                                              parametersFile: parameterFiles[k]))
            }
        }
        let results = rounds.map(BenchResult.overRounds)
        if json {
            for r in results { print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self)) }
        } else {
            printTable(results)
        }
        if results.count == 2 {
            let a = try readFloats(parameterFiles[0]), b = try readFloats(parameterFiles[1])
            let (absDiff, relDiff) = difference(a, b)
            let lossDiff = Swift.abs(results[0].lossLast - results[1].lossLast)
            let ratio = results[1].stepMsMedian / results[0].stepMsMedian
            if json {
                let summary: [String: Double] = ["ratio_\(results[1].mode)_over_\(results[0].mode)": ratio,
                                                 "loss_abs_diff": Double(lossDiff), "param_max_abs_diff": Double(absDiff),
                                                 "param_max_rel_diff": Double(relDiff)]
                print(String(decoding: try JSONEncoder().encode(summary), as: UTF8.self))
            } else {
                print(String(format: "\n%@/%@ step time ratio: %.3f (%.2fx %@)", results[1].mode, results[0].mode, ratio,
                             ratio < 1 ? 1 / ratio : ratio, ratio < 1 ? "faster" : "slower"))
                print(String(format: "agreement after %d steps: loss |diff| %.3g; parameters max |diff| %.3g, max rel diff %.3g",
                             warmup + steps, lossDiff, absDiff, relDiff))
            }
        }
    }

    /// Runs this command again as a worker for one mode (fused: with `fusionOff`), batch and thread count
    /// and reads its JSON result.
    func runChild(_ mode: ExecutionMode, fusionOff: Set<FusionKind>, batch: Int?, threads: Int?, parametersFile: String?) throws -> BenchResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        if !FileManager.default.isExecutableFile(atPath: process.executableURL!.path) {
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        }
        var arguments = ["bench", model, "--worker", mode.rawValue,
                         "--steps", "\(steps)", "--warmup", "\(warmup)", "--seed", "\(seed)", "--data", data]
        if let parametersFile { arguments += ["--parameters-out", parametersFile] }
        if !fusionOff.isEmpty { arguments += ["--fusion-off", FusionKind.describe(fusionOff)] }
        if let limit = fusion.memoryLimit { arguments += ["--memory-limit", limit] }
        if let batch { arguments += ["--batch", "\(batch)"] }
        if let threads { arguments += ["--threads", "\(threads)"] }
        for a in assignments { arguments += ["--set", a] }
        if profile { arguments.append("--profile") }
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let label = fusionOff.isEmpty ? "\(mode)" : "\(mode) --fusion-off \(FusionKind.describe(fusionOff))"
        guard process.terminationStatus == 0 else {
            throw CLIError("bench: the \(label) run failed (exit \(process.terminationStatus))")
        }
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        guard let last = lines.last, let result = try? JSONDecoder().decode(BenchResult.self, from: Data(last.utf8)) else {
            throw CLIError("bench: could not read the \(label) run's result")
        }
        for line in lines.dropLast() { print(line) }  // the worker's profile, if any
        return result
    }

    private func runWorker(_ mode: ExecutionMode) throws {
        do {
            var config = try runOptions(threads: try threadList()?.first).config()
            config.mode = mode
            config.fusionOff = try fusion.kinds()
            config.memoryLimitBytes = try fusion.memoryLimitBytes()
            let definition = try ModelReference.source(model).definition(overrides: ModelReference.overrides(assignments))
            let instance = try definition.instantiate(batch: try batchList()?.first)
            let dataset = try MNISTDataset(directory: data)
            var batches = try instance.batches(of: dataset.train, shuffle: true, seed: seed)
            var epoch = 0
            func nextBatch() throws -> Batch {
                if let b = batches.next() { return b }
                epoch += 1
                batches.start(epoch: epoch)
                guard let b = batches.next() else { throw CLIError("bench: the data has fewer images than one batch") }
                return b
            }
            let cache = PlanCache()
            cache.warn = { FileHandle.standardError.write(Data("bench: warning: \($0)\n".utf8)) }
            let trainer = try Trainer(model: instance, config: config, planCache: cache)
            let stats = trainer.session.statistics
            var lossFirst: Float = .nan
            for k in 0..<warmup {
                let losses = try trainer.step(nextBatch: nextBatch)
                if k == 0 { lossFirst = losses.map(\.loss).reduce(0, +) }
            }
            let compileSeconds = cache.compileSeconds
            let (kernels0, bytes0, flops0) = (stats.kernels, stats.bytesMoved, stats.flops)
            stats.profiling = profile
            var times: [Double] = []
            var lossLast: Float = .nan
            for _ in 0..<steps {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let losses = try trainer.step(nextBatch: nextBatch)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                lossLast = losses.map(\.loss).reduce(0, +)
                if lossFirst.isNaN { lossFirst = lossLast }
            }
            let sorted = times.sorted()
            let stepMedian = median(times)
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let result = BenchResult(
                model: model, mode: mode.rawValue, batch: instance.batchSize, threads: config.threads, steps: steps,
                stepMsMedian: stepMedian, stepMsMin: sorted.first!, stepMsMax: sorted.last!,
                samplesPerStep: instance.batchSize * instance.batchesPerStep,
                samplesPerSecond: Double(instance.batchSize * instance.batchesPerStep) / (stepMedian / 1000),
                kernelsPerStep: Double(stats.kernels - kernels0) / Double(steps),
                megabytesPerStep: Double(stats.bytesMoved - bytes0) / Double(steps) / 1e6,
                gflopPerStep: Double(stats.flops - flops0) / Double(steps) / 1e9,
                peakRSSMegabytes: Double(usage.ru_maxrss) / 1024, workingSetMegabytes: Double(stats.workingSetBytes) / 1e6,
                compileSeconds: compileSeconds, lossFirst: lossFirst, lossLast: lossLast)
            if profile { printProfile(stats, steps: steps, mode: mode, threads: config.threads) }
            if let parametersOut { try writeFloats(trainer.session.parameters, to: parametersOut) }
            print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("bench \(model) (\(mode)): \(error)")
        }
    }

    /// Per kernel: time, share, GFLOP/s, GB/s and the share of its roof (min(peak, intensity x
    /// bandwidth) on these threads, from `info --roofline`'s kept figures, measured now if none).
    private func printProfile(_ stats: ExecutionStatistics, steps: Int, mode: ExecutionMode, threads: Int) {
        let roofline = Roofline.cached().flatMap { $0.point(threads: threads) != nil ? $0 : nil } ?? {
            let measured = Roofline.measure(maxThreads: threads, rounds: 3)
            try? measured.save()
            return measured
        }()
        let entries = stats.profile.sorted { $0.value.seconds > $1.value.seconds }
        let total = entries.reduce(0) { $0 + $1.value.seconds }
        let point = roofline.point(threads: threads)!
        print(String(format: "profile (%@): time per step by kernel, largest first; roof = min(%.0f GFLOP/s, FLOP/byte x %.1f GB/s) on %d threads (gengraph info --roofline)",
                     "\(mode)" as NSString, point.peakGFLOPs, point.bandwidthGBs, threads))
        print("  (the bandwidth is DRAM's: a kernel whose data stays in cache can pass 100%)")
        print("  ms/step   share   GFLOP/s    GB/s    roof%  calls/step  kernel")
        func line(_ seconds: Double, _ flops: Double, _ bytes: Double, _ calls: Int, _ name: String) {
            let gflops = seconds > 0 ? flops / seconds / 1e9 : 0
            let roof = roofline.roof(flops: flops, bytes: bytes, threads: threads) ?? 0
            // A kernel with no FLOPs (a copy) is held to the bandwidth.
            let share = flops > 0 ? gflops / max(roof, 1e-9) : (seconds > 0 ? bytes / seconds / 1e9 / point.bandwidthGBs : 0)
            print(String(format: "  %7.3f  %5.1f%%  %8.1f  %6.1f  %6.1f%%  %10.1f  %@", seconds / Double(steps) * 1000,
                         100 * seconds / max(total, 1e-12), gflops, seconds > 0 ? bytes / seconds / 1e9 : 0, 100 * share,
                         Double(calls) / Double(steps), name))
        }
        for (key, p) in entries.prefix(25) { line(p.seconds, Double(p.flops), Double(p.bytes), p.calls, key) }
        print(String(format: "  %7.3f  total inside kernels", total / Double(steps) * 1000))
        // The same time summed by kernel function: which kind of work the step is made of.
        var byKernel: [String: (seconds: Double, flops: Double, bytes: Double, calls: Int)] = [:]
        for (key, p) in entries {
            let name = key.split(separator: " ").first { $0.hasPrefix("gg_") }.map(String.init) ?? key
            let old = byKernel[name] ?? (0, 0, 0, 0)
            byKernel[name] = (old.seconds + p.seconds, old.flops + Double(p.flops), old.bytes + Double(p.bytes), old.calls + p.calls)
        }
        print("  by kernel function:")
        for (name, p) in byKernel.sorted(by: { $0.value.seconds > $1.value.seconds }) { line(p.seconds, p.flops, p.bytes, p.calls, name) }
    }

    private func printTable(_ results: [BenchResult]) {
        print("\(model): batch \(results.first?.batch ?? 0), \(results.first?.threads ?? 0) threads, \(steps) timed steps after \(warmup) warm-up"
              + (roundCount > 1 ? "; medians over \(roundCount) alternated rounds, min and max over all of them" : ""))
        print("mode    median ms    min ms    max ms   samples/s  kernels/step  MB moved/step  GFLOP/step  peak RSS MB  working MB  compile s")
        for r in results {
            // Foundation on Linux ignores %@'s width, so the mode column is padded here.
            print(String(format: "%@  %9.3f  %8.3f  %8.3f  %10.0f  %12.0f  %13.2f  %10.3f  %11.1f  %10.2f  %9.3f",
                         r.mode.padding(toLength: 6, withPad: " ", startingAt: 0) as NSString, r.stepMsMedian, r.stepMsMin, r.stepMsMax, r.samplesPerSecond, r.kernelsPerStep,
                         r.megabytesPerStep, r.gflopPerStep, r.peakRSSMegabytes, r.workingSetMegabytes, r.compileSeconds))
        }
        for r in results where r.roundMedians != nil {
            print("\(r.mode) rounds' medians, ms: " + r.roundMedians!.map { String(format: "%.3f", $0) }.joined(separator: " "))
        }
    }

    private func writeFloats(_ store: ParameterStore, to path: String) throws {
        var data = Data()
        for name in store.names { store.value(name)!.scalars.withUnsafeBufferPointer { data.append(Data(buffer: $0)) } }
        try data.write(to: URL(fileURLWithPath: path))
    }

    private func readFloats(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    private func difference(_ a: [Float], _ b: [Float]) -> (Float, Float) {
        var absDiff: Float = 0, relDiff: Float = 0
        for (x, y) in zip(a, b) {
            let d = Swift.abs(x - y)
            absDiff = Swift.max(absDiff, d)
            relDiff = Swift.max(relDiff, d / Swift.max(Swift.abs(y), 1e-6))
        }
        return (a.count == b.count ? absDiff : .infinity, relDiff)
    }
}

/// One mode's measurements, as the JSON a worker prints.
struct BenchResult: Codable {
    let model: String
    let mode: String
    let batch: Int
    let threads: Int
    let steps: Int
    let stepMsMedian: Double
    let stepMsMin: Double
    let stepMsMax: Double
    let samplesPerStep: Int
    let samplesPerSecond: Double
    let kernelsPerStep: Double
    let megabytesPerStep: Double
    let gflopPerStep: Double
    let peakRSSMegabytes: Double
    let workingSetMegabytes: Double
    let compileSeconds: Double
    let lossFirst: Float
    let lossLast: Float
    /// Each round's median step time, in run order, when there were several rounds.
    var roundMedians: [Double]? = nil

    enum CodingKeys: String, CodingKey {
        case model, mode, batch, threads, steps
        case stepMsMedian = "step_ms_median", stepMsMin = "step_ms_min", stepMsMax = "step_ms_max"
        case samplesPerStep = "samples_per_step", samplesPerSecond = "samples_per_s", kernelsPerStep = "kernels_per_step"
        case megabytesPerStep = "mb_moved_per_step", gflopPerStep = "gflop_per_step"
        case peakRSSMegabytes = "peak_rss_mb", workingSetMegabytes = "working_set_mb"
        case compileSeconds = "compile_s", lossFirst = "loss_first", lossLast = "loss_last", roundMedians = "round_medians_ms"
    }

    /// One mode's runs as one result: the median of the rounds' medians, the extremes of all
    /// steps, and the rest from the median round (the runs start from the same weights and
    /// batches, so their losses and counts agree).
    static func overRounds(_ runs: [BenchResult]) -> BenchResult {
        guard runs.count > 1 else { return runs[0] }
        let middle = runs.sorted { $0.stepMsMedian < $1.stepMsMedian }[runs.count / 2]
        let stepMs = median(runs.map(\.stepMsMedian))
        var result = BenchResult(model: middle.model, mode: middle.mode, batch: middle.batch, threads: middle.threads, steps: middle.steps,
                                 stepMsMedian: stepMs, stepMsMin: runs.map(\.stepMsMin).min()!, stepMsMax: runs.map(\.stepMsMax).max()!,
                                 samplesPerStep: middle.samplesPerStep, samplesPerSecond: Double(middle.samplesPerStep) / (stepMs / 1000),
                                 kernelsPerStep: middle.kernelsPerStep, megabytesPerStep: middle.megabytesPerStep,
                                 gflopPerStep: middle.gflopPerStep, peakRSSMegabytes: middle.peakRSSMegabytes,
                                 workingSetMegabytes: middle.workingSetMegabytes, compileSeconds: middle.compileSeconds,
                                 lossFirst: middle.lossFirst, lossLast: middle.lossLast)
        result.roundMedians = runs.map(\.stepMsMedian)
        return result
    }
}
