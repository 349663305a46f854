import Foundation
import ArgumentParser
import GenGraph

extension ExecutionMode: ExpressibleByArgument {}

@main
struct GenGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gengraph",
        abstract: "A graph-compiling tensor engine for small generative models on the CPU.",
        subcommands: [TrainCommand.self, SampleCommand.self, TranslateCommand.self, EvalCommand.self, JudgeCommand.self, TraverseCommand.self, InterpolateCommand.self, ZooCommand.self, BenchCommand.self, DumpCommand.self, DemoCommand.self, InfoCommand.self])

    static func main() {
        do {
            try checkOpenMPEnvironment()
        } catch {
            exit(withError: error)
        }
        main(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
    }

    /// The argument parser reads `--threads -1` as --threads missing its value followed by a
    /// flag `-1`; joined into `--threads=-1` the value reaches the flag's own check, which says
    /// what the bounds are. Nothing else looks like a negative number: no flag is a dash and digits.
    static func joiningNegativeValues(_ arguments: [String]) -> [String] {
        var joined: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" {
                joined += arguments[i...]
                break
            }
            if argument.hasPrefix("--"), !argument.contains("="), i + 1 < arguments.count,
               arguments[i + 1].count > 1, arguments[i + 1].hasPrefix("-"), Double(arguments[i + 1]) != nil {
                joined.append(argument + "=" + arguments[i + 1])
                i += 2
            } else {
                joined.append(argument)
                i += 1
            }
        }
        return joined
    }

    /// libomp reads OMP_NUM_THREADS when it starts (at the first kernel or thread query) and
    /// aborts on an empty or malformed value, so it is checked before anything runs: empty is
    /// taken as unset, as GENGRAPH_THREADS' is; anything but positive integers is refused.
    static func checkOpenMPEnvironment() throws {
        guard let text = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] else { return }
        if text.trimmingCharacters(in: .whitespaces).isEmpty {
            unsetenv("OMP_NUM_THREADS")
            return
        }
        // A list gives each nesting level its own count (the OpenMP specification).
        let levels = text.split(separator: ",", omittingEmptySubsequences: false)
        // Digits only: Int accepts a leading "+", which libomp does not.
        func count(_ level: Substring) -> Int? {
            let digits = level.trimmingCharacters(in: .whitespaces)
            return digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) ? Int(digits) : nil
        }
        guard levels.allSatisfy({ count($0).map { (1...RunConfig.maxThreads).contains($0) } ?? false }) else {
            throw CLIError("OMP_NUM_THREADS must be a thread count in 1...\(RunConfig.maxThreads) (or a comma-separated list of them), "
                                  + "got '\(text)'; unset it to use every core")
        }
    }
}

/// Flags every subcommand that runs kernels shares.
struct SharedRunOptions: ParsableArguments {
    @Option(help: "Kernel threads (default: GENGRAPH_THREADS, else OpenMP's default).")
    var threads: Int?

    /// nil unless given, so that `train --resume` can refuse it (the run keeps its own).
    @Option(help: "Random seed: initial weights, noise, data order. (default: 0)")
    var seed: UInt64?

    /// The run's threads and seed (`GENGRAPH_THREADS` unless --threads); the caller sets the mode.
    func config() throws -> RunConfig {
        var config = try RunConfig.fromEnvironment(seed: seed ?? 0)
        if let threads {
            try requireCount("--threads", threads, in: 1...RunConfig.maxThreads)
            config.threads = threads
        }
        // Without OpenMP every kernel runs on the calling thread; say so rather than report threads that never run.
        if config.threads > 1 && !KernelInfo.openMP {
            FileHandle.standardError.write(Data(("warning: this build has no OpenMP, so kernels run on 1 thread, not \(config.threads); "
                + "install libomp-dev (bash tools/setup.sh), then rm -rf ~/.cache/org.swift.swiftpm/manifests and rebuild\n").utf8))
            config.threads = 1
        }
        return config
    }
}

/// The shared flags and the execution mode, for every subcommand that runs in one mode
/// (`bench` runs each mode in turn).
struct RunOptions: ParsableArguments {
    @OptionGroup var shared: SharedRunOptions

    /// nil unless given, as `seed` is.
    @Option(help: "Execution mode: fused (compiled plans of fused kernels) or eager (one kernel per op). (default: fused)")
    var mode: ExecutionMode?

    var seed: UInt64 { shared.seed ?? 0 }

    func config() throws -> RunConfig {
        var config = try shared.config()
        config.mode = mode ?? .fused
        return config
    }
}

/// Refuses a count flag outside `range` before any work starts: past the upper bound lie
/// overflowing products and runs that never end (docs/cli.md lists the bounds).
func requireCount(_ flag: String, _ value: Int?, in range: ClosedRange<Int>) throws {
    guard let value else { return }
    if value < range.lowerBound { throw ValidationError("\(flag) must be at least \(range.lowerBound), got \(value)") }
    if value > range.upperBound { throw ValidationError("\(flag) must be at most \(range.upperBound), got \(value)") }
}

/// A comma-separated list of counts (`--batch 32,64,128`): each an integer, none repeated,
/// at most `RunLimits.listValues` of them; the caller checks each value's range.
func countList(_ flag: String, _ text: String) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    guard parts.count <= RunLimits.listValues else {
        throw ValidationError("\(flag) takes at most \(RunLimits.listValues) values, got \(parts.count)")
    }
    var values: [Int] = []
    for part in parts {
        let digits = part.trimmingCharacters(in: .whitespaces)
        guard let v = Int(digits) else {
            if digits.range(of: "^[+-]?[0-9]+$", options: .regularExpression) != nil {
                throw ValidationError("\(flag): \(digits) does not fit in a 64-bit integer")
            }
            throw ValidationError("\(flag) expects comma-separated integers, got '\(part)' in '\(text)'")
        }
        guard !values.contains(v) else { throw ValidationError("\(flag) lists \(v) twice") }
        values.append(v)
    }
    return values
}
