/// Upper bounds on the counts a run is given, wherever they come from (flags,
/// `--set`, a model's `hyper epochs`, a resumed run's config.json). Within them
/// products such as epochs x steps per epoch cannot overflow, and a slip such as
/// a lost `e-3` is an error rather than a run that never ends (docs/cli.md).
public enum RunLimits {
    public static let epochs = 1_000_000
    public static let steps = 1_000_000_000
    /// Images one command generates at once: `sample --n`, `judge --n`, `train --samples`.
    public static let images = 1_000_000
    /// Importance samples per image (`eval --iw`).
    public static let importanceSamples = 10_000
    /// Evaluations of every test batch, each with fresh noise (`eval --dequant`).
    public static let evaluationDraws = 10_000
    /// Images along one latent traversal row or interpolation (`--steps`).
    public static let pathSteps = 1000
    /// Data-parallel ranks `dump --ranks` compiles a step for.
    public static let ranks = 1 << 16
    /// Alternated rounds of `bench`, and values in one of its lists (`--batch 32,64`, `--threads 1,2`).
    public static let rounds = 1000
    public static let listValues = 64

    /// Checks that `value` (the count `what`, such as "--steps") lies in `range`.
    public static func check(_ value: Int, in range: ClosedRange<Int>, _ what: String) throws {
        guard range.contains(value) else {
            throw GraphError(op: what, "must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
    }
}

extension TrainingOptions {
    /// Checks the counts of a run, as given or as a resumed run's config.json saved them.
    func check() throws {
        if let epochs { try RunLimits.check(epochs, in: 1...RunLimits.epochs, "epochs") }
        if let steps { try RunLimits.check(steps, in: 1...RunLimits.steps, "steps") }
        if let trainLimit { try RunLimits.check(trainLimit, in: 1...Int.max, "train limit") }
        if let testLimit { try RunLimits.check(testLimit, in: 1...Int.max, "test limit") }
        try RunLimits.check(logEvery, in: 1...Int.max, "log every")
        try RunLimits.check(sampleCount, in: 0...RunLimits.images, "samples")
    }
}
