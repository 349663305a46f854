import Foundation

/// Recomputes cheap elementwise values in the kernels that read them instead of
/// storing them. A value stored only because other elementwise or reduction
/// groups, or contraction epilogues, over its own shape read it, and computable by a few elementwise ops
/// from values that are in memory anyway (stored, leaves, constants), moves
/// into those readers: its producer neither computes nor stores it unless it
/// needs it itself. Batch norm's backward is the case: a convolution's
/// epilogue stored five products of its output, each a multiply by a
/// per-channel constant, for four per-channel reductions. A ReLU's mask is
/// another: tested on the stored activation by the data gradient's epilogue, it
/// need not be kept from the forward pass.
func recomputeCheapValues(_ fused: FusedProgram) -> FusedProgram {
    let nodes = fused.program.nodes
    let views = fused.views
    let consumers = fused.program.consumers
    let outputs = Set(fused.program.outputs)
    var groups = fused.groups
    var groupOf = fused.groupOf
    var inMemoryValues = Set(groups.flatMap(\.stored))
    /// Values a moved recipe loads: they must stay in memory.
    var pinned = Set<Int>()

    /// The groups each group reads from, before any move.
    let reads = fused.groupReads

    func isElementwise(_ id: Int) -> Bool { nodes[id].op.category == .elementwise }
    /// Whether input `i` can be loaded by any kernel: a constant, a leaf, or a window onto a value in memory.
    func inMemory(_ i: Int) -> Bool {
        if views[i].isConstant { return true }
        let root = views[i].root
        return nodes[root].op.category == .leaf || inMemoryValues.contains(root)
    }
    /// The nodes (in id order) that compute `v` from values in memory, at most `depth` ops deep, or nil.
    func recipe(_ v: Int, depth: Int = 3) -> [Int]? {
        guard depth > 0, isElementwise(v), views[v].kind == .value else { return nil }
        var steps: [Int] = []
        for i in nodes[v].inputs where !inMemory(i) {
            guard let sub = recipe(i, depth: depth - 1) else { return nil }
            steps += sub.filter { !steps.contains($0) }
        }
        return (steps + [v]).sorted()
    }

    for (g, group) in fused.groups.enumerated() where group.kind != .prologue {
        let before = upstream(of: g, reads)
        for v in group.stored where !outputs.contains(v) && !pinned.contains(v) && isElementwise(v) {
            // Every reader outside g is a direct member of an elementwise or reduction group over v's
            // shape, or of a contraction's epilogue over it (not the contraction, which needs v stored).
            var readers = Set<Int>()
            var movable = true
            for c in consumers[v] where groupOf[c] != g || !groups[g].nodes.contains(c) {
                guard let h = groupOf[c], h != g, views[c].kind == .value, !groups[h].post.contains(c),
                      groups[h].kind == .elementwise || groups[h].kind == .reduction
                        || (groups[h].kind == .contraction && groups[h].nodes[0] != c),
                      groups[h].space == nodes[v].shape else { movable = false; break }
                readers.insert(h)
            }
            guard movable, !readers.isEmpty, let steps = recipe(v) else { continue }
            // What the recipe loads comes from g or from groups g reads (which run before every
            // reader of v): moving it adds no edge that could close a cycle between kernels.
            let loads = steps.flatMap { nodes[$0].inputs }.filter { !steps.contains($0) && !views[$0].isConstant }.map { views[$0].root }
            guard loads.allSatisfy({ r in groupOf[r].map { $0 == g || before.contains($0) } ?? true }) else { continue }
            pinned.formUnion(loads)
            inMemoryValues.remove(v)
            for h in readers.sorted() {
                // A contraction's head stays first: the members after it are its epilogue.
                let head = groups[h].kind == .contraction ? [groups[h].nodes[0]] : []
                groups[h].nodes = head + Set(groups[h].nodes + steps).subtracting(head).sorted()
            }
            groups[g].stored.removeAll { $0 == v }
            groups[g].boundaries = groups[g].boundaries.filter { !$0.hasPrefix("%\(v) stored:") }
                + ["%\(v) not stored: recomputed by " + readers.sorted().map { "group \($0)" }.joined(separator: ", ")]
            // The producer keeps computing v only if one of its own members reads it.
            let usedInside = groups[g].nodes.contains { m in m != v && nodes[m].inputs.contains(v) }
            if !usedInside {
                groups[g].nodes.removeAll { $0 == v }
                groups[g].post.removeAll { $0 == v }
                if groups[g].post.isEmpty { groups[g].postSpace = nil }
                groupOf[v] = readers.min()
                // Boundaries that named v's old place say where it runs now.
                let old = "%\(v) \(nodes[v].op.name) fused into group \(g), with its other producer"
                let new = "%\(v) \(nodes[v].op.name) recomputed in group \(readers.min()!)"
                // Only the groups of v's inputs explain a boundary by v (rewriting every group's
                // lines for every move had been two thirds of cyclegan's compile time).
                let explainers = Set(nodes[v].inputs.flatMap { [fused.groupOf[$0], groupOf[$0]] }.compactMap { $0 })
                for h in explainers {
                    groups[h].boundaries = groups[h].boundaries.map { $0.replacingOccurrences(of: old, with: new) }
                }
            }
        }
    }
    return dropEmptyGroups(FusedProgram(program: fused.program, groups: groups, groupOf: groupOf, views: views))
}

/// Drops groups left without members (they run no kernel) and renumbers the rest, in
/// `groupOf` and in the boundary texts; `alias` names the group that took over a dropped one.
func dropEmptyGroups(_ fused: FusedProgram, alias: [Int: Int] = [:]) -> FusedProgram {
    var renumbered = [Int?](repeating: nil, count: fused.groups.count)
    var kept: [FusionGroup] = []
    for (g, group) in fused.groups.enumerated() where !group.nodes.isEmpty {
        renumbered[g] = kept.count
        kept.append(group)
    }
    for (g, survivor) in alias { renumbered[g] = renumbered[survivor] }
    for (k, group) in kept.enumerated() { kept[k].boundaries = group.boundaries.map { renumberGroups(in: $0, renumbered) } }
    return FusedProgram(program: fused.program, groups: kept, groupOf: fused.groupOf.map { $0.flatMap { renumbered[$0] } },
                        views: fused.views)
}

/// `line` with every "group N" renumbered.
private func renumberGroups(in line: String, _ renumbered: [Int?]) -> String {
    let parts = line.components(separatedBy: "group ")
    return parts.dropFirst().reduce(parts[0]) { text, part in
        let digits = part.prefix { $0.isNumber }
        guard let n = Int(digits), n < renumbered.count, let m = renumbered[n] else { return text + "group " + part }
        return text + "group \(m)" + part.dropFirst(digits.count)
    }
}
