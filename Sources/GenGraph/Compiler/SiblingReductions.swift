/// Merges reduction groups that reduce over the same space along the same axes,
/// read a common value from memory and do not depend on each other into one
/// kernel: one pass over that value instead of one each. With cheap products
/// recomputed by their readers (`recomputeCheapValues`), batch norm's backward
/// reads its input once for all its per-channel sums instead of once per sum.
/// (Reductions with nothing in common stay apart: merging them saves no
/// traffic and keeps the earlier one's input alive until the later one runs.)
func mergeSiblingReductions(_ fused: FusedProgram) -> FusedProgram {
    let nodes = fused.program.nodes
    let views = fused.views
    var groups = fused.groups
    var groupOf = fused.groupOf

    /// The axes a reduction group reduces (nil when it is not one, or mixes axes).
    func axes(_ g: Int) -> [Int]? {
        guard groups[g].kind == .reduction else { return nil }
        let all = groups[g].nodes.compactMap { id -> [Int]? in
            if case .reduce(_, let a) = nodes[id].op { return a }
            return nil
        }
        guard let first = all.first, all.allSatisfy({ $0 == first }) else { return nil }
        return first
    }
    /// Values (roots) group g loads from memory that some kernel wrote.
    func loads(_ g: Int) -> Set<Int> { rootsRead(by: groups[g].nodes, nodes, views).filter { groupOf[$0] != nil } }
    /// Groups each group reads from directly; kept up to date as groups merge.
    var reads = fused.groupReads

    var merged = [Bool](repeating: false, count: groups.count)
    var alias: [Int: Int] = [:]
    for g in groups.indices where !merged[g] {
        guard let a = axes(g) else { continue }
        for h in (g + 1)..<max(g + 1, groups.count) where !merged[h] && axes(h) == a && groups[h].space == groups[g].space {
            if let p = groups[g].postSpace, let q = groups[h].postSpace, p != q { continue }
            guard !loads(g).isDisjoint(with: loads(h)) else { continue }
            guard !upstream(of: g, reads).contains(h), !upstream(of: h, reads).contains(g) else { continue }
            groups[g].nodes = (groups[g].nodes + groups[h].nodes).sorted()
            groups[g].post = (groups[g].post + groups[h].post).sorted()
            groups[g].postSpace = groups[g].postSpace ?? groups[h].postSpace
            groups[g].stored = (groups[g].stored + groups[h].stored).sorted()
            groups[g].boundaries += groups[h].boundaries
            for id in groups[h].nodes where groupOf[id] == h { groupOf[id] = g }
            groups[h].nodes = []
            merged[h] = true
            alias[h] = g
            reads[g] = reads[g].union(reads[h]).subtracting([g, h])
            reads[h] = []
            for x in reads.indices where reads[x].remove(h) != nil { reads[x].insert(g) }
        }
    }
    return dropEmptyGroups(FusedProgram(program: fused.program, groups: groups, groupOf: groupOf, views: views), alias: alias)
}
