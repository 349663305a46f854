/// Times each kernel of a model's compiled training steps, for `dump --format html --profile`:
/// untimed warm-up steps (compilation, first touches), then timed ones on real batches, as
/// `bench --profile` runs them; a kernel's figure is the median of its runs, so one slow run
/// (another process taking the core) does not move it.
public enum PlanProfiler {
    /// Per training step (`trainer.trainingSteps` order), the median seconds of each of its plan's
    /// steps. The trainer must run in fused mode.
    public static func medianSeconds(_ trainer: Trainer, warmup: Int, steps: Int, nextBatch: () throws -> Batch) throws -> [[Double]] {
        guard trainer.session.config.mode == .fused else { throw GraphError(op: "profile", "kernels are timed in fused mode only") }
        for _ in 0..<warmup { try trainer.step(nextBatch: nextBatch) }
        let statistics = trainer.session.statistics
        statistics.resetProfile()
        statistics.profiling = true
        statistics.keepsStepTimes = true
        defer {
            statistics.profiling = false
            statistics.keepsStepTimes = false
        }
        for _ in 0..<max(1, steps) { try trainer.step(nextBatch: nextBatch) }
        return try trainer.trainingSteps.map { step in
            guard let samples = trainer.session.profiledStepSeconds(of: step) else {
                throw GraphError(op: "profile", "a training step's plan did not run")
            }
            return samples.map(median)
        }
    }

    private static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
