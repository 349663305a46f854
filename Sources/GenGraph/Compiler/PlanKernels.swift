/// Which part of a training step a kernel of its plan does.
public enum PlanPhase: String, CaseIterable, Sendable {
    case forward, backward, update
}

/// One kernel of a plan as `dump --format html` shows it: what it computes, what it costs, where its
/// output lives, which part of the step it belongs to, and which source lines its nodes came from.
public struct PlanKernel: Sendable {
    /// The step's index in the plan.
    public let index: Int
    /// The C kernel it calls.
    public let kernel: String
    /// The fusion group's kind, or what the step does without one ("copy", "update", "all-reduce").
    public let kind: String
    /// Its member nodes' ops, prologues included, in program order ("matmul add relu"); an update's parameters.
    public let ops: [String]
    public let flops: Int
    public let bytesRead: Int
    public let bytesWritten: Int
    /// The arena slots it writes, in bytes: (offset, size).
    public let arena: [(offset: Int, bytes: Int)]
    public let phase: PlanPhase
    /// Its members' origins (`vae.gg:12:5`), sorted and unique; an update's are its parameters'.
    public let origins: [String]
    /// Why its group's stored values could not be consumed inside it (`FusionGroup.boundaries`),
    /// after a phased kernel's phases and the bytes they save.
    public let boundaries: [String]
    /// The steps whose outputs it reads.
    public let inputs: [Int]

    public var bytes: Int { bytesRead + bytesWritten }
    /// FLOP per byte moved (0 when it moves nothing).
    public var intensity: Double { bytes == 0 ? 0 : Double(flops) / Double(bytes) }
}

extension Compilation {
    /// The plan's kernels. `gradientOutputs`: the program outputs the plan's updates consume
    /// (`PlannedUpdates.gradientOutputs`). A step is in the update phase when it applies optimiser
    /// updates or all-reduces their gradients; in the forward phase when it writes a value the
    /// other outputs (loss, new running statistics, fetches) need; in the backward phase otherwise,
    /// since then it works only towards gradients.
    public func kernels(gradientOutputs: [Int]) -> [PlanKernel] {
        let program = fused.program, nodes = program.nodes
        let gradients = Set(gradientOutputs)
        var forward = [Bool](repeating: false, count: nodes.count)
        for (k, o) in program.outputs.enumerated() where !gradients.contains(k) { forward[o] = true }
        for id in nodes.indices.reversed() where forward[id] { for i in nodes[id].inputs { forward[i] = true } }
        let leaves = Dictionary(nodes.indices.compactMap { id -> (String, Int)? in
            switch nodes[id].op {
            case .parameter(let name), .state(let name), .input(let name): return (name, id)
            default: return nil
            }
        }, uniquingKeysWith: { a, _ in a })
        func updated(_ step: PlanStep) -> [String] {
            guard case .update(let u) = step.op else { return [] }
            return u.parameters.map { plan.leafNames[$0.base - 1] }
        }
        var producer: [Int: Int] = [:]
        return plan.steps.enumerated().map { k, step in
            let groups = (step.group.map { [$0] } ?? []) + step.prologues
            var members = groups.flatMap { fused.groups[$0].nodes }.sorted()
            let kind: String, phase: PlanPhase
            switch step.op {
            case .update(let u):
                kind = "update"
                phase = .update
                members = u.parameters.compactMap { leaves[plan.leafNames[$0.base - 1]] }
            case .allReduceStart, .allReduceFinish:
                kind = "all-reduce"
                phase = .update
            default:
                kind = step.group.map { fused.groups[$0].kind.rawValue } ?? "copy"
                // A copy that materialises a result writes a value of the plan's own (id past the program's
                // nodes): it is judged by, and comes from, the value it copies.
                let written = step.writes.filter { $0 < nodes.count }
                let values = written.isEmpty ? step.reads.filter { $0 < nodes.count } : written
                if members.isEmpty { members = values }
                phase = values.contains { forward[$0] } ? .forward : .backward
            }
            let inputs = Set(step.reads.compactMap { producer[$0] }).sorted()
            for w in step.writes { producer[w] = k }
            return PlanKernel(
                index: k, kernel: step.kernel, kind: kind, ops: kind == "update" ? updated(step) : members.map { nodes[$0].op.name },
                flops: step.flops, bytesRead: step.bytesRead, bytesWritten: step.bytesWritten,
                arena: step.writes.compactMap { plan.slots[$0].map { (offset: $0.offset * 4, bytes: $0.count * 4) } },
                phase: phase, origins: Set(members.compactMap { nodes[$0].origin }).sorted(),
                boundaries: phasesNote(step) + recomputeNote(members) + (step.group.map { fused.groups[$0].boundaries } ?? []),
                inputs: inputs)
        }
    }
}

extension Compilation {
    /// What a kernel's copies recompute under the memory limit (`copies`), one line for all of them.
    func recomputeNote(_ members: [Int]) -> [String] {
        let copied = members.filter { copies[$0] != nil }
        guard !copied.isEmpty else { return [] }
        return ["recomputes " + copied.map { "%\(copies[$0]!) as %\($0)" }.joined(separator: ", ")
                + " for the backward pass (memory limit: checkpointing)"]
    }
}

/// A phased step's phases and the bytes they save, as the dump's plan text says them.
func phasesNote(_ step: PlanStep) -> [String] {
    guard step.phases > 0 else { return [] }
    return [String(format: "%d phases over slabs, %.1f KB less than apart", step.phases, Double(step.bytesSaved) / 1e3)]
}
