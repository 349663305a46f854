/// Merges a reduction's group with the groups over the same space that read its finished
/// results (batch norm's variance pass and its normalising pass, softmax's sum and its
/// division) into one `.phased` group: a kernel that runs the passes one after another
/// over a slab (all positions that fold into the same reduced elements) while the slab is
/// in cache, instead of each pass reading the whole input from memory
/// (`gg_fused_phases_f32`). A group joins when
/// - it iterates the same space, and its reductions (if any) fold the same axes;
/// - every value of the reduction's group it reads is an element of the same slab: a
///   reduced value broadcast over the folded axes, or a full value at the same position;
/// - it reads a value of the space's size that the reduction's group reads or writes (else
///   the phases would save a launch, not a pass over memory);
/// - none of the other groups it reads depends on the reduction's group (the kernel graph
///   stays acyclic);
/// - slabs are small enough to stay in cache (`maxSlabFloats`) and there are at least two.
func mergePhases(_ fused: FusedProgram) -> FusedProgram {
    let nodes = fused.program.nodes
    let views = fused.views
    var groups = fused.groups
    var groupOf = fused.groupOf
    var reads = fused.groupReads

    /// The axes every reduction of group g folds, or nil when g has no reductions or mixes axes.
    func foldedAxes(_ g: Int) -> [Int]? {
        let all = groups[g].nodes.compactMap { id -> [Int]? in
            if case .reduce(_, let axes) = nodes[id].op { return axes.sorted() }
            return nil
        }
        guard let first = all.first, all.allSatisfy({ $0 == first }) else { return nil }
        return first
    }

    /// Whether input `i` of a member of the joining group reads the element of `a`'s member that
    /// `a`'s pass over the same slab finished: the member broadcast over the folded axes only.
    func readsWithinSlab(_ i: Int, space: Shape, folded: Set<Int>) -> Bool {
        let v = views[i], root = nodes[v.root].shape
        guard v.offset == 0, nodes[i].shape == space, root.rank == space.rank else { return false }
        let natural = root.contiguousStrides
        for d in 0..<space.rank {
            if root[d] == space[d] {
                if v.strides[d] != natural[d] && space[d] != 1 { return false }
            } else if root[d] != 1 || !folded.contains(d) || v.strides[d] != 0 {
                return false
            }
        }
        return true
    }

    /// Whether group b may become the next phase of group a.
    func joins(_ b: Int, _ a: Int) -> Bool {
        guard a != b, groups[a].kind == .reduction || groups[a].kind == .phased,
              groups[b].kind == .elementwise || groups[b].kind == .reduction,
              groups[a].space == groups[b].space, let folded = foldedAxes(a) else { return false }
        let space = groups[a].space
        if groups[b].kind == .reduction && foldedAxes(b) != folded { return false }
        // Posts run over the reduced space: their own shape must be it up to size-1 axes.
        let reduced = space.dims.indices.filter { !folded.contains($0) && space[$0] != 1 }.map { space[$0] }
        for g in [a, b] {
            if let post = groups[g].postSpace, post.dims.filter({ $0 != 1 }) != reduced { return false }
        }
        let slab = folded.reduce(1) { $0 * space[$1] }
        guard slab <= maxSlabFloats, space.count / max(slab, 1) >= 2 else { return false }
        var readsReduced = false, sharesInput = false
        let full = rootsRead(by: groups[a].nodes, nodes, views).union(groups[a].stored).filter { nodes[$0].shape.count == space.count }
        let foldedSet = Set(folded)
        for id in groups[b].nodes {
            for i in nodes[id].inputs where !views[i].isConstant {
                sharesInput = sharesInput || full.contains(views[i].root)
                guard groupOf[views[i].root] == a else { continue }
                if !readsWithinSlab(i, space: space, folded: foldedSet) { return false }
                if nodes[views[i].root].shape != space { readsReduced = true }
            }
        }
        // Without an input in common the phases would save one launch, not a pass over memory.
        guard readsReduced, sharesInput else { return false }
        return reads[b].allSatisfy { $0 == a || !upstream(of: $0, reads).contains(a) }
    }

    var alias: [Int: Int] = [:]
    var changed = true
    while changed {
        changed = false
        for b in groups.indices where !groups[b].nodes.isEmpty {
            guard let a = reads[b].sorted().first(where: { joins(b, $0) }) else { continue }
            if groups[a].kind != .phased {
                let post = groups[a].post
                groups[a].phases = [FusionGroup.Phase(nodes: groups[a].nodes.filter { !post.contains($0) }, post: post)]
                groups[a].kind = .phased
            }
            let post = groups[b].post
            groups[a].phases.append(FusionGroup.Phase(nodes: groups[b].nodes.filter { !post.contains($0) }, post: post))
            // A value recomputed by both (`recomputeCheapValues`) is computed in each phase that reads it.
            groups[a].nodes = Set(groups[a].nodes + groups[b].nodes).sorted()
            groups[a].post = (groups[a].post + post).sorted()
            groups[a].postSpace = groups[a].postSpace ?? groups[b].postSpace
            groups[a].stored = (groups[a].stored + groups[b].stored).sorted()
            groups[a].boundaries += groups[b].boundaries
            for id in groups[b].nodes where groupOf[id] == b { groupOf[id] = a }
            groups[b].nodes = []
            groups[b].post = []
            alias[b] = a
            reads[a] = reads[a].union(reads[b]).subtracting([a, b])
            reads[b] = []
            for x in reads.indices where reads[x].remove(b) != nil { reads[x].insert(a) }
            changed = true
        }
    }
    return dropEmptyGroups(FusedProgram(program: fused.program, groups: groups, groupOf: groupOf, views: views), alias: alias)
}

/// The largest slab (floats of one input) worth running phase by phase: a few operands of this
/// size stay in a core's L2 between the passes; larger slabs would be read from memory again.
let maxSlabFloats = 1 << 16
