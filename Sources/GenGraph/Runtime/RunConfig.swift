import Foundation
import Kernels

/// Eager runs one kernel per graph node; fused compiles the graph into a plan of fused kernels.
public enum ExecutionMode: String, CaseIterable, Sendable {
    case eager, fused
}

/// How a session runs: built once (by the CLI or the caller) and passed down,
/// so the library itself never reads the environment.
public struct RunConfig: Sendable {
    /// Kernel threads; OpenMP's default unless set.
    public var threads: Int
    /// Seed of the random draws inside the graph (noise, dropout) and of parameter initialisation.
    public var seed: UInt64
    public var mode: ExecutionMode
    /// Data-parallel replicas (MPI ranks) whose gradients each training step averages; 1 trains alone.
    public var replicas = 1
    /// Compiler optimisations a fused session skips (`FusionKind`): for ablations and dumps.
    public var fusionOff: Set<FusionKind> = []
    /// The working storage a fused plan should fit in, in bytes: the compiler recomputes
    /// activations for the backward pass until it does (`Compiler.compile`). nil: no limit.
    public var memoryLimitBytes: Int?

    /// The most kernel threads a session runs with; the kernels take the count as an Int32.
    public static let maxThreads = 1024

    public init(threads: Int? = nil, seed: UInt64 = 0, mode: ExecutionMode = .eager) {
        self.threads = Swift.max(1, threads ?? Swift.min(Int(gg_default_threads()), RunConfig.maxThreads))
        self.seed = seed
        self.mode = mode
    }

    /// The default configuration with `GENGRAPH_THREADS` applied when it is set.
    public static func fromEnvironment(seed: UInt64 = 0) throws -> RunConfig {
        guard let text = ProcessInfo.processInfo.environment["GENGRAPH_THREADS"], !text.isEmpty else {
            return RunConfig(seed: seed)
        }
        guard let n = Int(text), (1...maxThreads).contains(n) else {
            throw GraphError(op: "GENGRAPH_THREADS", "expected an integer in 1...\(maxThreads), got '\(text)'")
        }
        return RunConfig(threads: n, seed: seed)
    }

    /// Refuses a thread count the kernels cannot take (`threads` is a public var, so set freely).
    func checkThreads() throws {
        guard (1...RunConfig.maxThreads).contains(threads) else {
            throw GraphError(op: "threads", "expected 1...\(RunConfig.maxThreads) kernel threads, got \(threads)")
        }
    }
}
