import ArgumentParser
import GenGraph

extension ExecutionMode: ExpressibleByArgument {}

@main
struct GenGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gengraph",
        abstract: "A graph-compiling tensor engine for small generative models on the CPU.",
        subcommands: [TrainCommand.self, SampleCommand.self, EvalCommand.self, JudgeCommand.self, TraverseCommand.self, InterpolateCommand.self, ZooCommand.self, BenchCommand.self, DumpCommand.self, DemoCommand.self, InfoCommand.self])
}

/// Flags every subcommand that runs kernels shares.
struct SharedRunOptions: ParsableArguments {
    @Option(help: "Kernel threads (default: GENGRAPH_THREADS, else OpenMP's default).")
    var threads: Int?

    @Option(help: "Random seed: initial weights, noise, data order.")
    var seed: UInt64 = 0

    /// The run's threads and seed (`GENGRAPH_THREADS` unless --threads); the caller sets the mode.
    func config() throws -> RunConfig {
        var config = try RunConfig.fromEnvironment(seed: seed)
        if let threads {
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
            config.threads = threads
        }
        return config
    }
}

/// The shared flags and the execution mode, for every subcommand that runs in one mode
/// (`bench` runs each mode in turn).
struct RunOptions: ParsableArguments {
    @OptionGroup var shared: SharedRunOptions

    @Option(help: "Execution mode: fused (compiled plans of fused kernels) or eager (one kernel per op).")
    var mode: ExecutionMode = .fused

    var seed: UInt64 { shared.seed }

    func config() throws -> RunConfig {
        var config = try shared.config()
        config.mode = mode
        return config
    }
}
