/// GEMM prologues, the other half of fusion kind 3: an elementwise group whose
/// one stored value is read only as matmul operands needs neither a kernel nor
/// memory. Each GEMM that reads the value computes the blocks it packs with
/// the group's program (`gg_gemm_pro_ep_f32`), so the value never exists in
/// full. The group's own inputs are read by those GEMMs instead.
///
/// A value qualifies when it has rank 2 or 3 (the GEMM's batch, rows and
/// columns are then its own axes), is not a result of the step, and every
/// read of its storage is a matmul operand that is the value itself or its
/// last two axes swapped (a transposed operand) with the matmul's batch equal
/// to the value's. The group's random draws keep their counters, so the values
/// are the ones the group's own kernel would have stored; but a group that
/// draws is a prologue of one GEMM only: recomputing counter-based draws
/// (~2 ns an element here) costs more than storing and reloading the value,
/// while cheap elementwise chains are recomputed by every GEMM that reads them.
func assignPrologues(_ fused: FusedProgram) -> FusedProgram {
    let nodes = fused.program.nodes
    let views = fused.views
    let consumers = fused.program.consumers
    let outputs = Set(fused.program.outputs)
    var groups = fused.groups

    /// Every node that reads `value`'s storage, through views or not.
    func windows(onto value: Int) -> [Int] {
        nodes.indices.filter { views[$0].root == value && !views[$0].isConstant }
    }

    /// Whether matmul `c` can compute its operand `i` (a window onto `value`) with a prologue.
    func computable(_ i: Int, value: Int, by c: Int) -> Bool {
        guard case .matmul = nodes[c].op else { return false }
        let shape = nodes[value].shape
        let out = nodes[c].shape
        let batch = shape.rank == 3 ? shape[0] : 1
        guard out.count / max(1, out[out.rank - 2] * out[out.rank - 1]) == batch else { return false }
        if i == value { return true }
        var swapped = shape.contiguousStrides
        swapped.swapAt(shape.rank - 2, shape.rank - 1)
        return views[i].kind == .view && views[i].offset == 0 && views[i].strides == swapped
            && nodes[i].shape.rank == shape.rank
    }

    for (g, group) in groups.enumerated() where group.kind == .elementwise && group.stored.count == 1 {
        let value = group.stored[0]
        let rank = nodes[value].shape.rank
        // GEMM packs the operand over its own shape: every member must be over it too.
        guard (2...3).contains(rank), group.nodes.allSatisfy({ nodes[$0].shape == group.space }) else { continue }
        let reads = windows(onto: value)
        guard !reads.contains(where: outputs.contains) else { continue }
        var gemms: [Int] = []
        var ok = true
        for i in reads {
            for c in consumers[i] where views[c].kind == .value {
                guard computable(i, value: value, by: c) else { ok = false; break }
                if !gemms.contains(c) { gemms.append(c) }
            }
            if !ok { break }
        }
        let draws = group.nodes.contains { m in
            nodes[m].op.category == .random || nodes[m].inputs.contains { nodes[$0].op.category == .random }
        }
        guard ok, !gemms.isEmpty, !draws || gemms.count == 1 else { continue }
        groups[g].kind = .prologue
        groups[g].boundaries = ["%\(value) not stored: computed by "
            + gemms.map { "GEMM %\($0) (group \(fused.groupOf[$0]!))" }.joined(separator: ", ")
            + " as it packs its operand (prologue)"]
    }
    return FusedProgram(program: fused.program, groups: groups, groupOf: fused.groupOf, views: views)
}

/// The prologue group that computes matmul operand `i`, if any.
func prologueGroup(of i: Int, in fused: FusedProgram) -> Int? {
    guard !fused.views[i].isConstant, let g = fused.groupOf[fused.views[i].root] else { return nil }
    return fused.groups[g].kind == .prologue ? g : nil
}
