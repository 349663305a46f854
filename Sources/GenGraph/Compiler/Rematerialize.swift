// Checkpointing under a memory limit. A training step's working storage peaks
// where the forward pass ends: every activation the backward pass reads is
// live at once. A value stored before the peak and read again only well after
// it can instead be computed again, by a copy of its producer (a convolution
// and its epilogue, say) from values that stay in memory anyway, for those
// late readers alone: the original is then freed before the peak, and the copy
// lives only from where the backward pass needs it. The cost is the copy's
// FLOPs; the results do not change, since the copy runs the same ops on the
// same inputs.

/// A program whose nodes may include copies (copy -> the node it recomputes).
struct Rematerialization: Equatable {
    var program: Program
    var copies: [Int: Int] = [:]
}

/// One value to recompute: the nodes to copy (in id order; the last is the value),
/// inputs they read from an earlier copy instead (input -> copy), and the nodes that
/// read the copy instead of the value.
struct RecomputeChoice {
    let value: Int
    let recipe: [Int]
    let substitutes: [Int: Int]
    let readers: Set<Int>
}

/// The most nodes one copy may hold, and contractions (GEMMs, convolutions) among
/// them: one layer, not a chain of them.
private let maxRecipeNodes = 32
private let maxRecipeContractions = 1

extension Rematerialization {
    /// This program with `choice.recipe` copied just before the first of its readers,
    /// which read the copy of `choice.value`; and the new id of every old node. Nodes
    /// the copy reads that come later (earlier copies) move up to just before it. nil
    /// when the copy would read a value computed from one of its own readers.
    func recomputing(_ choice: RecomputeChoice) -> (Rematerialization, map: [Int])? {
        let nodes = program.nodes
        let at = choice.readers.min()!
        // Items in the order they would come: old nodes by id, the recipe's copies (tagged
        // by their recipe position, as -1 - k) just before `at`. Each is emitted after its inputs.
        let recipeIndex = Dictionary(uniqueKeysWithValues: choice.recipe.enumerated().map { ($1, $0) })
        func inputs(_ item: Int) -> [Int] {
            if item < 0 {
                return nodes[choice.recipe[-1 - item]].inputs.map { i in recipeIndex[i].map { -1 - $0 } ?? choice.substitutes[i] ?? i }
            }
            let reads = choice.readers.contains(item)
            return nodes[item].inputs.map { reads && $0 == choice.value ? -1 - recipeIndex[$0]! : $0 }
        }
        var builder = ProgramBuilder()
        var newId: [Int: Int] = [:]
        var inProgress = Set<Int>()
        func emit(_ item: Int) -> Bool {
            if newId[item] != nil { return true }
            guard inProgress.insert(item).inserted else { return false }  // a cycle
            for i in inputs(item) where !emit(i) { return false }
            let n = nodes[item < 0 ? choice.recipe[-1 - item] : item]
            newId[item] = builder.add(n.op, inputs(item).map { newId[$0]! }, n.shape, origin: n.origin)
            return true
        }
        let order = Array(0..<at) + choice.recipe.indices.map { -1 - $0 } + Array(at..<nodes.count)
        for item in order where !emit(item) { return nil }
        let map = nodes.indices.map { newId[$0]! }
        var copies = Dictionary(uniqueKeysWithValues: self.copies.map { (map[$0.key], map[$0.value]) })
        for (k, original) in choice.recipe.enumerated() { copies[newId[-1 - k]!] = map[original] }
        return (Rematerialization(program: Program(nodes: builder.nodes, outputs: program.outputs.map { map[$0] }),
                                  copies: copies), map)
    }
}

/// The values worth recomputing in `plan` (compiled from `fused`, whose program is
/// `remat.program`), best first: values live across the plan's peak step whose
/// every read after the peak can read a copy instead (and some read before it), computable by one layer's
/// nodes from values still in memory when the first such read runs. Largest
/// first, those that read no other copy before those that do; `refused` are values
/// already tried without gain.
func recomputeChoices(_ remat: Rematerialization, _ fused: FusedProgram, _ plan: Plan, refused: Set<Int>) -> [RecomputeChoice] {
    let nodes = remat.program.nodes
    let views = fused.views
    let consumers = remat.program.consumers
    let outputs = Set(remat.program.outputs)
    let peak = plan.peakStep
    let copiesOf = Dictionary(grouping: remat.copies.keys.sorted(), by: { remat.copies[$0]! })

    // The steps at which each node runs: those of every group it is a member of (a value
    // recomputed in several epilogues runs in each), or where the GEMMs computing a prologue run.
    var groupSteps = [[Int]](repeating: [], count: fused.groups.count)
    for (s, step) in plan.steps.enumerated() {
        if let g = step.group { groupSteps[g].append(s) }
        for g in step.prologues { groupSteps[g].append(s) }
    }
    var nodeSteps = [ClosedRange<Int>?](repeating: nil, count: nodes.count)
    for (g, group) in fused.groups.enumerated() {
        guard let lo = groupSteps[g].min(), let hi = groupSteps[g].max() else { continue }
        for m in group.nodes + group.post {
            nodeSteps[m] = nodeSteps[m].map { min($0.lowerBound, lo)...max($0.upperBound, hi) } ?? lo...hi
        }
    }
    // A view runs in the kernels of its readers.
    for id in nodes.indices.reversed() where nodeSteps[id] == nil && views[id].kind == .view {
        let spans = consumers[id].compactMap { nodeSteps[$0] }
        if let lo = spans.map(\.lowerBound).min(), let hi = spans.map(\.upperBound).max() { nodeSteps[id] = lo...hi }
    }

    var choices: [RecomputeChoice] = []
    for (v, slot) in plan.slots where v < nodes.count && slot.firstStep < peak && slot.lastStep > peak
        && !outputs.contains(v) && remat.copies[v] == nil && !refused.contains(v) && views[v].kind == .value {
        // Every consumer runs wholly before the peak (it keeps the original) or wholly after (it reads the copy).
        var readers = Set<Int>()
        var split = false
        for c in consumers[v] {
            guard let span = nodeSteps[c] else { split = true; break }
            if span.lowerBound > peak { readers.insert(c) } else if span.upperBound > peak { split = true; break }
        }
        // A value read only after the peak needs no copy (nothing would read the original).
        guard !split, !readers.isEmpty, readers.count < consumers[v].count else { continue }
        let firstLateRead = readers.compactMap { nodeSteps[$0]?.lowerBound }.min()!
        // Inputs in memory when the copy runs: leaves, constants, values stored from before it
        // until then, and copies (which run where they are needed).
        func inMemoryLate(_ i: Int) -> Bool {
            if views[i].isConstant { return true }
            let root = views[i].root
            if nodes[root].op.category == .leaf { return true }
            guard root != v, let slot = plan.slots[root], slot.lastStep >= firstLateRead else { return false }
            return slot.firstStep < firstLateRead || remat.copies[root] != nil
        }
        // A value freed early whose copy is in memory then: the recipe reads the copy.
        func copyInMemory(_ i: Int) -> Int? {
            guard views[i].kind == .value else { return nil }
            return copiesOf[i]?.first { inMemoryLate($0) }
        }
        guard let (recipe, substitutes) = recipe(for: v, nodes: nodes, copies: remat.copies, inMemory: inMemoryLate,
                                                 copyInMemory: copyInMemory) else { continue }
        choices.append(RecomputeChoice(value: v, recipe: recipe, substitutes: substitutes, readers: readers))
    }
    // A copy that reads another copy keeps that one alive longer: such choices come after the rest.
    return choices.sorted {
        ($1.substitutes.count, nodes[$0.value].shape.count, $1.recipe.count, $1.value)
            > ($0.substitutes.count, nodes[$1.value].shape.count, $0.recipe.count, $0.value)
    }
}

/// The nodes, in id order, that compute `v` from values `inMemory` says are there, or
/// copies of them (`copyInMemory`: the inputs read from a copy, and the copy): nil when
/// that takes a random draw or a collective (a copy would draw or communicate again),
/// a copy, or more than one layer.
private func recipe(for v: Int, nodes: [Node], copies: [Int: Int], inMemory: (Int) -> Bool,
                    copyInMemory: (Int) -> Int?) -> ([Int], substitutes: [Int: Int])? {
    var members = Set<Int>()
    var substitutes: [Int: Int] = [:]
    var pending = [v]
    while let n = pending.popLast() {
        guard !members.contains(n) else { continue }
        if case .allReduce = nodes[n].op { return nil }
        guard copies[n] == nil, [.elementwise, .reduction, .movement, .contraction].contains(nodes[n].op.category) else { return nil }
        members.insert(n)
        guard members.count <= maxRecipeNodes,
              members.filter({ nodes[$0].op.category == .contraction }).count <= maxRecipeContractions else { return nil }
        for i in nodes[n].inputs where !inMemory(i) {
            if let copy = copyInMemory(i) { substitutes[i] = copy } else { pending.append(i) }
        }
    }
    return (members.sorted(), substitutes)
}

/// Copies values for their late readers, one at a time and best first, keeping each copy
/// that shrinks the arena (or, at the same arena, the peak of live floats: two steps may share
/// the peak), until the arena fits `limitFloats` or no choice is left. `compile` fuses and
/// plans a candidate program; every try costs a compilation, so the search stops after
/// `maxFutileTries` tries in a row that gain nothing, or `maxTries` in all.
func rematerialize(_ start: Rematerialization, _ startFused: FusedProgram, _ startPlan: Plan, limitFloats: Int,
                   compile: (Rematerialization) throws -> (FusedProgram, Plan)) throws
    -> (Rematerialization, FusedProgram, Plan) {
    var (remat, fused, plan) = (start, startFused, startPlan)
    var refused = Set<Int>()
    var futile = 0, tries = 0
    while plan.arenaFloats > limitFloats, futile < maxFutileTries, tries < maxTries {
        tries += 1
        guard let choice = recomputeChoices(remat, fused, plan, refused: refused).first else { break }
        guard let (next, map) = remat.recomputing(choice) else {
            refused.insert(choice.value)
            futile += 1
            continue
        }
        let (nextFused, nextPlan) = try compile(next)
        if (nextPlan.arenaFloats, nextPlan.peakFloats) < (plan.arenaFloats, plan.peakFloats) {
            (remat, fused, plan) = (next, nextFused, nextPlan)
            refused = Set(refused.map { map[$0] })
            futile = 0
        } else {
            refused.insert(choice.value)
            futile += 1
        }
    }
    return (remat, fused, plan)
}

private let maxFutileTries = 8
private let maxTries = 256
