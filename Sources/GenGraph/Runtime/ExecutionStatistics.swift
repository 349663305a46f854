import Dispatch

/// What one kernel (or op, in eager mode) cost over a profiled run.
public struct KernelProfile: Sendable {
    public var calls = 0
    public var seconds = 0.0
    public var flops = 0
    public var bytes = 0
}

/// Counters a session keeps across runs: kernels launched, estimated FLOPs and
/// bytes moved, the storage its executors hold, and (when `profiling`) time
/// per kernel. Benchmarks read differences of these around the timed steps.
public final class ExecutionStatistics {
    public internal(set) var kernels = 0
    public internal(set) var flops = 0
    public internal(set) var bytesMoved = 0
    /// Bytes of intermediate storage held: the eager allocator's buffers, or the arena the plans share.
    public internal(set) var workingSetBytes = 0
    /// Time each kernel when set (adds a clock read per launch).
    public var profiling = false
    public internal(set) var profile: [String: KernelProfile] = [:]
    /// Keep every run's time of each plan step while profiling (`stepSeconds`): off by default, since
    /// the samples grow with the runs where `profile`'s sums do not.
    public var keepsStepTimes = false
    /// With `keepsStepTimes`, every profiled run's time of each step of each compiled plan (by its
    /// executor), so a step's median can be taken (`Session.profiledStepSeconds`).
    var stepSeconds: [ObjectIdentifier: [[Double]]] = [:]

    public init() {}

    func record(kernels: Int = 1, flops: Int, bytes: Int) {
        self.kernels += kernels
        self.flops += flops
        bytesMoved += bytes
    }

    /// Runs `body`, timing it under `key` when profiling.
    func timed<T>(_ key: @autoclosure () -> String, flops: Int, bytes: Int, _ body: () throws -> T) rethrows -> T {
        guard profiling else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        profile[key(), default: KernelProfile()].calls += 1
        profile[key()]!.seconds += seconds
        profile[key()]!.flops += flops
        profile[key()]!.bytes += bytes
        return result
    }

    /// Runs step `index` of the `steps` steps of the plan `plan` runs, timing it as `timed` does and,
    /// with `keepsStepTimes`, keeping the sample.
    func timedStep<T>(_ plan: ObjectIdentifier, _ index: Int, of steps: Int, _ key: @autoclosure () -> String, flops: Int, bytes: Int,
                      _ body: () throws -> T) rethrows -> T {
        guard profiling && keepsStepTimes else { return try timed(key(), flops: flops, bytes: bytes, body) }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try timed(key(), flops: flops, bytes: bytes, body)
        stepSeconds[plan, default: Array(repeating: [], count: steps)][index].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return result
    }

    public func resetProfile() {
        profile = [:]
        stepSeconds = [:]
    }

    /// Counts an eager optimiser update: one kernel per parameter (two with clipping).
    /// (A compiled plan's updates are steps of the plan, counted with it.)
    func recordUpdate(_ optimizer: Optimizer) {
        let elements = optimizer.parameters.reduce(0) { $0 + $1.shape.count }
        let perParameter = optimizer.clip == nil ? 1 : 2
        record(kernels: perParameter * optimizer.parameters.count, flops: 0,
               bytes: (optimizer.rule.bytesPerElement + (optimizer.clip == nil ? 0 : 8)) * elements)
    }
}
