import Foundation

/// A named graph-to-graph pass of the pipeline.
public struct Pass {
    public let name: String
    public let run: (Program) -> Program
}

/// The compiler: passes, then fusion, then the plan. Every stage's result is
/// kept so `gengraph dump` can show what each did.
public struct Compilation {
    /// The program as built (forward, gradients, updates).
    public let program: Program
    /// After the pass pipeline, and with the copies that recompute values under a memory limit.
    public let optimized: Program
    /// The copies in `optimized` (copy -> the node it recomputes): empty without a memory limit.
    public let copies: [Int: Int]
    /// The memory limit compiled for, in floats of working storage (`Plan.arenaFloats`).
    public let limitFloats: Int?
    public let fused: FusedProgram
    public let plan: Plan
    public let seconds: Double

    /// Whether the plan's working storage is within the memory limit (true without one).
    public var fits: Bool { limitFloats.map { plan.arenaFloats <= $0 } ?? true }
}

public enum Compiler {
    /// The pass pipeline in order; `dump` and tests refer to passes by these names.
    public static let passes: [Pass] = [
        Pass(name: "simplify", run: simplify),
        Pass(name: "small-reductions", run: expandSmallReductions),
        Pass(name: "cse", run: eliminateCommonSubexpressions),
        Pass(name: "dce", run: eliminateDeadCode),
    ]

    /// Runs the passes (minus `disabled`) until the program stops changing.
    public static func optimize(_ program: Program, disabled: Set<String> = []) -> Program {
        var current = program
        for _ in 0..<4 {
            let next = passes.filter { !disabled.contains($0.name) }.reduce(current) { $1.run($0) }
            if next == current { break }
            current = next
        }
        return current
    }

    /// `updates`: optimiser updates the plan applies itself, from some of the program's outputs.
    /// `fusionOff`: the fusion kinds to skip (`updates` is the caller's to drop: see `Session`).
    /// `limitFloats`: the working storage to fit in; values are recomputed (`rematerialize`) until
    /// the arena fits or no copy lowers it further (then the plan is the smallest found: check `fits`).
    public static func compile(_ program: Program, updates: PlannedUpdates? = nil, disabled: Set<String> = [],
                               fusionOff: Set<FusionKind> = [], limitFloats: Int? = nil) throws -> Compilation {
        let start = Date()
        let optimized = optimize(program, disabled: disabled)
        try optimized.verify()
        func lower(_ candidate: Rematerialization) throws -> (FusedProgram, Plan) {
            let fused = fuse(candidate.program, off: fusionOff)
            return (fused, try buildPlan(fused, updates: updates, off: fusionOff, late: Set(candidate.copies.keys)))
        }
        var remat = Rematerialization(program: optimized)
        var (fused, plan) = try lower(remat)
        if let limit = limitFloats {
            (remat, fused, plan) = try rematerialize(remat, fused, plan, limitFloats: limit, compile: lower)
        }
        return Compilation(program: program, optimized: remat.program, copies: remat.copies, limitFloats: limitFloats,
                           fused: fused, plan: plan, seconds: Date().timeIntervalSince(start))
    }
}

/// Compiled plans by the program they were compiled for (its text, which
/// includes every shape, the updates it applies and the fusion kinds turned off): a new batch size or
/// sample count compiles anew, the same program again is a hit. Sessions may share one.
public final class PlanCache {
    private var entries: [String: Compilation] = [:]
    public private(set) var hits = 0
    public private(set) var misses = 0
    /// Time spent compiling, over all misses.
    public private(set) var compileSeconds = 0.0
    /// Told about every compilation and hit, for verbose output.
    public var log: ((String) -> Void)?
    /// Told about a plan that does not fit its memory limit: the user asked for it, so always shown.
    public var warn: ((String) -> Void)?

    public init() {}

    public func compilation(for program: Program, updates: PlannedUpdates? = nil,
                            fusionOff: Set<FusionKind> = [], limitFloats: Int? = nil) throws -> Compilation {
        let key = program.text() + (updates.map { "\n" + $0.key } ?? "") + "\nfusion off " + FusionKind.describe(fusionOff)
            + (limitFloats.map { "\nlimit \($0)" } ?? "")
        if let c = entries[key] {
            hits += 1
            log?("plan cache: hit (\(c.plan.steps.count) kernels)")
            return c
        }
        misses += 1
        let c = try Compiler.compile(program, updates: updates, fusionOff: fusionOff, limitFloats: limitFloats)
        compileSeconds += c.seconds
        let inputs = program.nodes.compactMap { n -> String? in
            if case .input(let name) = n.op { return "\(name)\(n.shape)" }
            return nil
        }
        log?(String(format: "plan cache: compiled a new plan for %@ in %.1f ms: %d kernels, arena %.2f MB",
                    inputs.joined(separator: " "), c.seconds * 1000, c.plan.steps.count, Double(c.plan.arenaFloats * 4) / 1e6))
        if !c.fits, let limit = c.limitFloats {
            let (limitMB, needMB) = (Double(limit * 4) / 1e6, Double(c.plan.arenaFloats * 4) / 1e6)
            warn?(c.copies.isEmpty
                ? String(format: "memory limit %.2f MB not met: a plan of %d kernels needs %.2f MB and has no value the compiler could recompute to lower it (only values kept for a backward pass can be; a forward-only plan, such as evaluation's, keeps none)",
                         limitMB, c.plan.steps.count, needMB)
                : String(format: "memory limit %.2f MB not met: the smallest plan found needs %.2f MB, with %d nodes copied to recompute values",
                         limitMB, needMB, c.copies.count))
        }
        entries[key] = c
        return c
    }
}
