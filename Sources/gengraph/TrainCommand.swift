import ArgumentParser
import Foundation
import GenGraph

/// Set by SIGINT; the training loop checks it between steps.
private var interruptRequested: sig_atomic_t = 0

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model (zoo name or .gg file) on MNIST-format data, writing a run directory.",
        discussion: """
            The run directory holds the model source and config, metrics.csv, checkpoint.safetensors \
            (PyTorch layouts) and optimizer.safetensors, a 64-sample grid per epoch (samples/epoch_NNN.png) \
            for generative models, and loss.svg. Ctrl-C stops after the current step and writes a checkpoint; \
            --resume continues exactly where it stopped. Under `mpirun -np N` each of the N processes \
            trains on its slice of every batch (N must divide --batch) and the gradients are averaged \
            across them; rank 0 writes the run directory (docs/distributed.md).
            """)

    @Argument(help: "A zoo model name (`gengraph zoo`) or a path to a .gg file.")
    var model: String?

    @Option(help: "Directory holding the four MNIST-format IDX files. (default: \(MNISTDataset.defaultDirectory))")
    var data: String?

    @Option(help: "Epochs to train (default: the model's 'epochs' hyper-parameter, else 1).")
    var epochs: Int?

    @Option(help: "Steps to train instead of whole epochs.")
    var steps: Int?

    @Option(help: "Batch size (sets the model's 'batch' hyper-parameter).")
    var batch: Int?

    @Option(help: "Learning rate (sets the model's 'lr' hyper-parameter).")
    var lr: Double?

    @OptionGroup var runOptions: RunOptions

    @OptionGroup var fusion: CompilerOptions

    @Option(help: "Run directory to write (default runs/<model>, numbered if taken).")
    var out: String?

    @Option(help: "Start from the parameters of this checkpoint (same model), or of a PyTorch state_dict saved with safetensors.")
    var `init`: String?

    @Flag(help: "Continue the run in --out exactly where it stopped.")
    var resume = false

    @Flag(help: "Under mpirun: batch norm's training statistics over every rank's batch, not each rank's own (saved for --resume).")
    var syncBatchnorm = false

    @Flag(help: "Visit the training images in file order instead of a seeded shuffle.")
    var noShuffle = false

    @Option(name: .customLong("set"), help: "Override a hyper-parameter, e.g. --set latent=32 (repeatable).")
    var assignments: [String] = []

    @Option(help: "Log a metrics row every N steps.")
    var logEvery: Int = 50

    @Option(help: "Samples in the per-epoch grid (0: none).")
    var samples: Int = 64

    @Option(help: "Use only the first N training images.")
    var limit: Int?

    @Option(help: "Evaluate the test metrics on only the first N test images.")
    var testLimit: Int?

    @Flag(help: "Report plan compilation and cache hits.")
    var verbose = false

    func validate() throws {
        if epochs != nil && steps != nil { throw ValidationError("give --epochs or --steps, not both") }
        // --batch and --lr are hyper-parameters: the model checks them with its own values and --set's.
        try requireCount("--epochs", epochs, in: 1...RunLimits.epochs)
        try requireCount("--steps", steps, in: 1...RunLimits.steps)
        try requireCount("--limit", limit, in: 1...Int.max)
        try requireCount("--test-limit", testLimit, in: 1...Int.max)
        try requireCount("--log-every", logEvery, in: 1...Int.max)
        try requireCount("--samples", samples, in: 0...RunLimits.images)
        if resume && out == nil { throw ValidationError("--resume needs --out RUN_DIR") }
        if let out, out.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--out needs a directory path, got '\(out)'") }
        if !resume && model == nil { throw ValidationError("give a model: a zoo name (`gengraph zoo`) or a .gg file") }
        if resume {
            let given: [(String, Bool)] = [("--init", `init` != nil), ("--set", !assignments.isEmpty), ("--batch", batch != nil), ("--lr", lr != nil),
                                           ("--sync-batchnorm", syncBatchnorm), ("--seed", runOptions.shared.seed != nil),
                                           ("--mode", runOptions.mode != nil), ("--data", data != nil), ("--limit", limit != nil),
                                           ("--no-shuffle", noShuffle)]
            let flags = given.filter(\.1).map(\.0)
            if !flags.isEmpty {
                throw ValidationError("--resume continues a run as it was configured (its config.json); "
                                      + flags.joined(separator: ", ") + (flags.count == 1 ? " does" : " do") + " not apply")
            }
        }
    }

    func run() throws {
        do {
            // Under mpirun this process is one rank of a data-parallel job: join it before any work.
            if let ranks = Distributed.launchedRanks(), ranks > 1 { try Distributed.start() }
            var overrides = try ModelReference.overrides(assignments)
            if let batch { overrides["batch"] = "\(batch)" }
            if let lr { overrides["lr"] = "\(lr)" }
            var config = try runOptions.config()
            config.replicas = Distributed.size
            config.fusionOff = try fusion.kinds()
            config.memoryLimitBytes = try fusion.memoryLimitBytes()
            // Ranks sharing a machine share its cores: unless told otherwise, each takes its part of them.
            let environment = ProcessInfo.processInfo.environment
            if Distributed.size > 1 && runOptions.shared.threads == nil
                && environment["GENGRAPH_THREADS"] == nil && environment["OMP_NUM_THREADS"] == nil {
                config.threads = max(1, config.threads / Distributed.localRanks())
            }
            var options = TrainingOptions()
            options.dataDirectory = data ?? MNISTDataset.defaultDirectory
            options.epochs = epochs
            options.steps = steps
            options.shuffle = !noShuffle
            options.logEvery = logEvery
            options.sampleCount = samples
            options.trainLimit = limit
            options.testLimit = testLimit
            options.syncBatchNorm = syncBatchnorm
            let source = resume ? nil : try ModelReference.source(model!)
            let directory = RunDirectory(out ?? Self.freshRunPath(source!.name))
            if resume, let model, directory.exists { try Self.checkSameModel(model, in: directory) }
            let training = try TrainingRun(source: source, overrides: overrides, directory: directory, config: config,
                                           options: options, resume: resume, initFrom: `init`)
            if resume, let steps, steps < training.step {
                throw GraphError(op: "resume", "the run in \(directory.url.path) is already at step \(training.step), past --steps \(steps)")
            }
            let ranks = Distributed.size
            // Rank 0 speaks for the job; the other ranks train quietly.
            let speaks = Distributed.rank == 0
            if speaks {
                print("\(resume ? "resuming" : "training") \(training.definition.name) in \(directory.url.path): batch \(training.globalBatch)"
                      + (ranks > 1 ? " (\(ranks) ranks x \(training.model.batchSize))" : "") + ", "
                      + "\(training.totalSteps) steps (\(training.stepsPerEpoch) per epoch), \(config.mode), \(config.threads) threads"
                      + (ranks > 1 ? " per rank" : ""))
            }
            signal(SIGINT) { _ in interruptRequested = 1 }
            let progress = ProgressBar()
            let finished = try training.run(events: { event in
                guard speaks else { return }
                switch event {
                case .compiled(let message): if verbose { progress.note(message) }
                case .warning(let message): progress.note("warning: " + message)
                case .progress(let epoch, _, let stepInEpoch, let stepsPerEpoch, let losses, let rate):
                    progress.update(epoch: epoch, done: stepInEpoch, total: stepsPerEpoch, losses: losses, rate: rate)
                case .epochEnd(let epoch, let metrics, let samples):
                    var line = "epoch \(epoch + 1): " + metrics.map { String(format: "%@ %.4f", $0.name, $0.value) }.joined(separator: "  ")
                    if let samples { line += "  samples \(samples.path)" }
                    progress.finish(line)
                case .checkpoint: break
                }
            }, shouldStop: { interruptRequested != 0 })
            if ranks > 1 && speaks {
                print(String(format: "rank 0: %.3f s waiting in %d all-reduces", Distributed.reductionSeconds, Distributed.reductions))
            }
            Distributed.finish()
            if finished {
                if speaks { print("done: \(directory.url.path) (checkpoint.safetensors, metrics.csv, loss.svg)") }
            } else {
                if speaks {
                    progress.finish("interrupted at step \(training.step); checkpoint written; continue with: gengraph train --resume --out \(directory.url.path)"
                                    + (ranks > 1 ? " under mpirun -np \(ranks)" : ""))
                }
                throw ExitCode(130)
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            // A failing rank takes the whole job down at once, with its own message, rather than
            // leaving the others waiting for it in an all-reduce.
            if Distributed.size > 1 {
                FileHandle.standardError.write(Data("Error: rank \(Distributed.rank) of \(Distributed.size): \(error)\n".utf8))
                Distributed.abort(code: 1)
            }
            throw CLIError(String(describing: error))
        }
    }

    /// `train MODEL --resume` may name the run's model, and nothing else: a resume trains what the run saved.
    static func checkSameModel(_ reference: String, in directory: RunDirectory) throws {
        let saved = try directory.definition().0
        let given = try ModelReference.source(reference)
        guard given.name == saved.name, given.text == saved.source else {
            throw GraphError(op: "resume", "the run in \(directory.url.path) trains model '\(saved.name)' (its model.gg), not '\(reference)'"
                             + (given.name == saved.name ? " as that file now reads" : "") + "; leave MODEL out to resume it")
        }
    }

    /// runs/<name>, or runs/<name>-2, -3, ... when taken.
    static func freshRunPath(_ name: String) -> String {
        var path = "runs/\(name)"
        var k = 2
        while FileManager.default.fileExists(atPath: path) {
            path = "runs/\(name)-\(k)"
            k += 1
        }
        return path
    }
}

/// One line per epoch, redrawn in place on a terminal; on a pipe, a line at every 10%.
final class ProgressBar {
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastDecile = -1

    func update(epoch: Int, done: Int, total: Int, losses: [(name: String, value: Float)], rate: Double) {
        let width = 30
        let filled = total == 0 ? width : min(width, done * width / total)
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let text = String(format: "epoch %d [%@] %d/%d  ", epoch + 1, bar, done, total)
            + losses.map { String(format: "%@ %.4f", $0.name, $0.value) }.joined(separator: "  ")
            + String(format: "  %.0f samples/s", rate)
        if interactive {
            FileHandle.standardError.write(Data(("\r" + text + "\u{1B}[K").utf8))
        } else {
            let decile = total == 0 ? 10 : done * 10 / total
            if decile != lastDecile {
                print(text)
                fflush(stdout)  // a pipe or file is block-buffered; show progress as it happens
                lastDecile = decile
            }
        }
    }

    func note(_ message: String) {
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(message)
    }

    func finish(_ line: String) {
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(line)
        fflush(stdout)
        lastDecile = -1
    }
}
