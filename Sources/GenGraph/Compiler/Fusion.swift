/// A set of nodes that runs as one kernel.
public struct FusionGroup: Equatable {
    public enum Kind: String, Equatable {
        case elementwise   // a chain of elementwise ops: one fused program
        case reduction     // elementwise producers feeding reductions: one fused program
        case contraction   // a GEMM or convolution with an epilogue of elementwise consumers
        case prologue      // an elementwise chain the GEMMs that read its value compute as they pack it: no kernel
        case single        // one kernel for one op (filter gradient, pooling, pad, concat, one-hot, fill, copy)
        case phased        // reduction and elementwise passes over one space, run slab by slab as phases of one kernel
    }

    /// One pass of a `.phased` group: its members over `space`, then those of its pass over the reduced space.
    public struct Phase: Equatable {
        public var nodes: [Int]
        public var post: [Int]
    }

    public var kind: Kind
    /// Member nodes in program order.
    public var nodes: [Int]
    /// The iteration space of a fused program; the output shape otherwise.
    public var space: Shape
    /// Members written to memory because something outside the group (or the caller) reads them.
    public var stored: [Int]
    /// Members that run after the reductions finish, over the reduced space
    /// `postSpace`, in the same step (elementwise consumers of a reduction's result).
    public var post: [Int] = []
    public var postSpace: Shape?
    /// A `.phased` group's passes in order (`mergePhases`); every reduction of every pass folds the same axes.
    public var phases: [Phase] = []
    /// Why each stored value could not be consumed inside the group: one line per boundary.
    public var boundaries: [String]
}

/// The fusion pass's result: the program and its partition into kernels.
public struct FusedProgram {
    public let program: Program
    public let groups: [FusionGroup]
    /// The group of each node; nil for leaves, constants and views (no kernel).
    public let groupOf: [Int?]
    let views: [ViewInfo]
}

/// Partitions a program into kernels, greedily in program order:
/// 1. elementwise ops join the group of a producer with the same shape;
/// 2. a reduction joins the group that produces its input (and elementwise
///    ops over the reduction's input shape keep joining it); a reduction's
///    result is complete only after the pass, so its elementwise consumers
///    over the reduced space run in a second pass of the same step (a mean's
///    scaling, a loss's tail), and consumers over the input's space
///    (softmax's `x - max`) start a new group;
/// 3. elementwise consumers of a matmul, conv2d or conv_transpose2d with its output shape
///    become the GEMM's or convolution's epilogue, and so do sums over every axis but
///    the channel of a convolution's output or of such a consumer (a bias gradient,
///    batch norm's sums); an elementwise group read only as matmul operands becomes
///    those GEMMs' prologue (`assignPrologues`);
/// 4. (optimiser updates are applied by the plan itself: `PlannedUpdates`).
/// A node joins a group only when none of its other inputs depends on that
/// group, so the kernel graph stays acyclic. Then cheap values are recomputed
/// by their readers instead of stored (`recomputeCheapValues`), reductions that
/// load a common value merge (`mergeSiblingReductions`), and GEMM operands
/// become prologues (`assignPrologues`), and a reduction's consumers over its input
/// become later phases of its kernel (`mergePhases`). Kinds in `off` are skipped (`FusionKind`).
/// A convolution keeps its channel sums only where that stores no more values of its
/// output's shape than leaving them out: a summed value that is no longer stored can
/// no longer be what the recompute pass rebuilds other products from (ddpm's bias
/// gradients), and storing those products costs more than the sum's pass saves.
public func fuse(_ program: Program, off: Set<FusionKind> = []) -> FusedProgram {
    let full = partition(program, off: off) { _ in true }
    let heads = full.groups.filter { $0.kind == .contraction && $0.nodes.contains { isChannelSum(program.nodes[$0].op, rank: 4) } }
        .map { $0.nodes[0] }
    if heads.isEmpty { return full }
    let bare = partition(program, off: off) { _ in false }
    /// Floats of the head's output shape that the head's group stores.
    func storedFloats(_ f: FusedProgram, _ head: Int) -> Int {
        let shape = program.nodes[head].shape
        return f.groups[f.groupOf[head]!].stored.filter { program.nodes[$0].shape == shape }.count * shape.count
    }
    let worse = Set(heads.filter { storedFloats(full, $0) > storedFloats(bare, $0) })
    return worse.isEmpty ? full : partition(program, off: off) { !worse.contains($0) }
}

/// The greedy partition and the passes after it; `joinsSums(head)`: whether the convolution
/// `head` may take channel sums.
private func partition(_ program: Program, off: Set<FusionKind>, joinsSums: (Int) -> Bool) -> FusedProgram {
    let views = ViewInfo.analyse(program)
    let nodes = program.nodes
    var groups: [FusionGroup] = []
    var groupOf = [Int?](repeating: nil, count: nodes.count)
    var dependencies: [Set<Int>] = []  // groups each group reads from directly

    /// Whether group `h` depends on group `g`, directly or through others. Searched
    /// each time rather than cached: joining a node adds edges to a group that
    /// other groups already depend on.
    func dependsOn(_ h: Int, _ g: Int) -> Bool { upstream(of: h, dependencies).contains(g) }
    var reductionAxes: [[Int]?] = []
    var isPost = [Bool](repeating: false, count: nodes.count)

    /// The group whose storage input `i` is read from (nil for leaves and constants).
    func sourceGroup(_ i: Int) -> Int? {
        if case .constant = views[i].kind { return nil }
        return groupOf[views[i].root]
    }
    func isDirectMember(_ i: Int, _ g: Int) -> Bool { views[i].kind == .value && groupOf[i] == g }
    /// The member of `g` that input `i` reads from its register: itself, or the value it reshapes.
    func register(_ i: Int, in g: Int) -> Int? {
        if isDirectMember(i, g) { return i }
        return ViewInfo.reshapedValue(i, views, nodes).flatMap { isDirectMember($0, g) ? $0 : nil }
    }
    func isReduce(_ i: Int) -> Bool { if case .reduce = nodes[i].op { return true }; return false }

    /// Whether node `id` may join group `g`: every input is a register of g
    /// (not a finished reduction) or is in memory before g runs.
    func canJoin(_ id: Int, _ g: Int) -> Bool {
        for i in nodes[id].inputs {
            if let member = register(i, in: g) {
                if isReduce(member) { return false }
                continue
            }
            guard let h = sourceGroup(i) else { continue }
            if h == g || dependsOn(h, g) { return false }
        }
        return true
    }

    /// Whether node `id` may run in group `g`'s pass after its reductions (a reduction
    /// group's, or a convolution's with channel sums): it
    /// iterates the reduced space, and every input is a finished reduction
    /// of g, an earlier such node (a register), or in memory before g runs.
    func canJoinAfterReduction(_ id: Int, _ g: Int) -> Bool {
        guard groups[g].kind == .reduction || (groups[g].kind == .contraction && groups[g].nodes.contains(where: isReduce))
        else { return false }
        if let space = groups[g].postSpace, space != nodes[id].shape { return false }
        var readsGroup = false
        for i in nodes[id].inputs {
            if case .constant = views[i].kind { continue }
            let root = views[i].root
            if groupOf[root] == g {
                let finished = isReduce(root) && nodes[root].shape.count == nodes[id].shape.count
                if !finished && !(isPost[root] && views[i].kind == .value) { return false }
                readsGroup = true
                continue
            }
            guard let h = sourceGroup(i) else { continue }
            if h == g || dependsOn(h, g) { return false }
        }
        return readsGroup
    }

    func newGroup(_ id: Int, _ kind: FusionGroup.Kind, space: Shape, axes: [Int]? = nil) {
        var deps = Set<Int>()
        for i in nodes[id].inputs { if let h = sourceGroup(i) { deps.insert(h) } }
        groups.append(FusionGroup(kind: kind, nodes: [id], space: space, stored: [], boundaries: []))
        dependencies.append(deps)
        reductionAxes.append(axes)
        groupOf[id] = groups.count - 1
    }

    func join(_ id: Int, _ g: Int) {
        for i in nodes[id].inputs where !isDirectMember(i, g) {
            if let h = sourceGroup(i), h != g { dependencies[g].insert(h) }
        }
        groups[g].nodes.append(id)
        groupOf[id] = g
    }

    for (id, node) in nodes.enumerated() {
        if views[id].kind != .value { continue }  // views and constants need no kernel
        switch node.op.category {
        case .leaf:
            continue  // inputs, parameters and state are bound at run time; masks are plan constants
        case .random:
            continue  // drawn inside each consumer's kernel; stored only if some reader needs memory (below)
        case .elementwise:
            let producers = node.inputs.compactMap { i -> Int? in
                if case .constant = views[i].kind { return nil }
                return groupOf[views[i].root]
            }
            if !off.contains(.reductions), let g = producers.first(where: { canJoinAfterReduction(id, $0) }) {
                join(id, g)
                isPost[id] = true
                groups[g].post.append(id)
                groups[g].postSpace = node.shape
                continue
            }
            let candidates = node.inputs.compactMap { i -> Int? in
                let root = views[i].kind == .value ? i : ViewInfo.reshapedValue(i, views, nodes)
                guard let root, let g = groupOf[root] else { return nil }
                switch groups[g].kind {
                case .elementwise where !off.contains(.elementwise), .reduction where !off.contains(.reductions):
                    // A space that splits the node's axes visits its elements in order (group norm's
                    // (n, groups, c / groups, h, w) and the activation after it over (n, c, h, w)).
                    return refines(groups[g].space, node.shape) ? g : nil
                case .contraction where root != i: return nil
                case .contraction where !off.contains(.epilogues): return groups[g].space == node.shape && !isReduce(i) ? g : nil
                case .elementwise, .reduction, .contraction, .single, .prologue, .phased: return nil
                }
            }
            // An epilogue first: its value is computed while the GEMM's or convolution's tile is in
            // cache, and the other producer's value, stored instead, is often cheap enough for the
            // recompute pass to rebuild inside the epilogue (the vae's x scaled by a constant).
            let ordered = candidates.filter { groups[$0].kind == .contraction } + candidates.filter { groups[$0].kind != .contraction }
            if let g = ordered.first(where: { canJoin(id, $0) }) { join(id, g) }
            else { newGroup(id, .elementwise, space: node.shape) }
        case .reduction:
            guard case .reduce(_, let axes) = node.op else { continue }
            let input = node.inputs[0]
            let inputShape = nodes[input].shape
            if !off.contains(.epilogues), !off.contains(.reductions), views[input].kind == .value, let g = groupOf[input],
               groups[g].kind == .contraction, takesChannelSums(nodes[groups[g].nodes[0]].op), joinsSums(groups[g].nodes[0]),
               groups[g].space == inputShape, isChannelSum(node.op, rank: inputShape.rank), canJoin(id, g) {
                join(id, g)  // folded per chunk of output pixels inside the convolution (gg_conv_epilogue.c)
            } else if !off.contains(.reductions), views[input].kind == .value, let g = groupOf[input],
               groups[g].kind == .elementwise || groups[g].kind == .reduction,
               groups[g].space == inputShape, reductionAxes[g] == nil || reductionAxes[g] == axes, canJoin(id, g) {
                join(id, g)
                groups[g].kind = .reduction
                reductionAxes[g] = axes
            } else {
                newGroup(id, .reduction, space: inputShape, axes: axes)
            }
        case .contraction:
            if takesEpilogue(node.op) { newGroup(id, .contraction, space: node.shape) }
            else { newGroup(id, .single, space: node.shape) }
        case .movement:
            newGroup(id, .single, space: node.shape)  // pad, concat, one-hot, and reshapes that must copy
        }
    }

    // A random draw is recomputed by every fused kernel that reads it directly
    // (same counter, same values); it gets a kernel of its own only when some
    // reader needs it in memory.
    let consumers = program.consumers
    let outputs = Set(program.outputs)
    for (id, node) in nodes.enumerated() where node.op.category == .random {
        let needsMemory = outputs.contains(id) || consumers[id].contains { c in
            guard views[c].kind == .value, let g = groupOf[c] else { return true }
            return !drawsInline(nodes[c].op, in: groups[g].kind)
        }
        if needsMemory { newGroup(id, .elementwise, space: node.shape) }
    }

    /// Whether view `c` of member `id` is read only by elementwise members of `g` over the
    /// group's own pass, from `id`'s register.
    func readFromRegisters(_ c: Int, _ id: Int, _ g: Int) -> Bool {
        ViewInfo.reshapedValue(c, views, nodes) == id && !outputs.contains(c) && !isReduce(id)
            && consumers[c].allSatisfy { groupOf[$0] == g && views[$0].kind == .value && !isPost[$0] && nodes[$0].op.category == .elementwise }
    }

    // Values read outside their group, or by the caller, are stored; say why at each boundary.
    for (g, group) in groups.enumerated() {
        var stored: [Int] = []
        var reasons: [String] = []
        for id in group.nodes {
            var why: [String] = []
            if outputs.contains(id) { why.append("a result of the step") }
            for c in consumers[id] where (groupOf[c] != g || !isDirectMember(id, g) || views[c].kind != .value
                || (isReduce(id) && isPost[c])) && !readFromRegisters(c, id, g) {
                why.append(boundaryReason(value: id, consumer: c, group: groups[g], nodes: nodes, views: views,
                                          consumerGroup: groupOf[c] == g ? nil : groupOf[c]))
            }
            if !why.isEmpty {
                stored.append(id)
                reasons.append("%\(id) stored: " + Array(Set(why)).sorted().joined(separator: "; "))
            }
        }
        groups[g].stored = stored
        groups[g].boundaries = reasons
    }
    let partition = FusedProgram(program: program, groups: groups, groupOf: groupOf, views: views)
    let recomputed = off.contains(.recompute) ? partition : recomputeCheapValues(partition)
    let merged = off.contains(.siblings) ? recomputed : mergeSiblingReductions(recomputed)
    let prologued = off.contains(.prologues) ? merged : assignPrologues(merged)
    return off.contains(.phases) ? prologued : mergePhases(prologued)
}

extension FusedProgram {
    /// The values (storage roots) each group loads that another group's kernel writes.
    var groupLoads: [Set<Int>] {
        groups.indices.map { g in
            rootsRead(by: groups[g].nodes, program.nodes, views).filter { groupOf[$0].map { $0 != g } ?? false }
        }
    }

    /// The groups each group loads a value from (its direct dependencies between kernels).
    var groupReads: [Set<Int>] { groupLoads.map { Set($0.map { groupOf[$0]! }) } }
}

/// The values (storage roots) `members` read other than from their own registers: stored
/// values, leaves and random draws.
func rootsRead(by members: [Int], _ nodes: [Node], _ views: [ViewInfo]) -> Set<Int> {
    let inside = Set(members)
    var result = Set<Int>()
    for id in members {
        for i in nodes[id].inputs where !views[i].isConstant && !(inside.contains(i) && views[i].kind == .value) {
            result.insert(views[i].root)
        }
    }
    return result
}

/// The groups `g` depends on through `reads` (as `FusedProgram.groupReads` gives them), directly or not.
func upstream(of g: Int, _ reads: [Set<Int>]) -> Set<Int> {
    var seen = Set<Int>(), stack = [g]
    while let x = stack.popLast() { for d in reads[x] where seen.insert(d).inserted { stack.append(d) } }
    return seen
}

/// Whether op's kernel takes an epilogue program (it heads a contraction group).
func takesEpilogue(_ op: Op) -> Bool {
    switch op {
    case .matmul, .conv2d, .convTranspose2d: return true
    default: return false
    }
}

/// Whether a convolution kernel folds per-channel sums of its output into its epilogue (GEMM does not).
func takesChannelSums(_ op: Op) -> Bool {
    switch op {
    case .conv2d, .convTranspose2d: return true
    default: return false
    }
}

/// Whether `op` sums an NCHW value over every axis but the channel axis 1.
func isChannelSum(_ op: Op, rank: Int) -> Bool {
    guard rank == 4, case .reduce(.sum, let axes) = op else { return false }
    return axes.sorted() == [0, 2, 3]
}

/// Whether a member with op `op` of a group of `kind` draws its random inputs
/// inside the fused program (everything but GEMMs, convolutions and single-op kernels).
func drawsInline(_ op: Op, in kind: FusionGroup.Kind) -> Bool {
    switch kind {
    case .single: return false
    case .contraction: return !takesEpilogue(op)
    case .elementwise, .reduction, .prologue, .phased: return true
    }
}

/// Why consumer `c` reads `value` from memory rather than from a register.
private func boundaryReason(value: Int, consumer c: Int, group: FusionGroup, nodes: [Node], views: [ViewInfo],
                            consumerGroup: Int?) -> String {
    let op = nodes[c].op
    if views[c].kind == .view { return "read through \(op.name) %\(c)" }
    if case .reduce = nodes[value].op, group.post.contains(c) {
        return "read by %\(c) \(op.name) in the pass after the reduction"
    }
    if case .reduce = nodes[value].op { return "reduction result used by %\(c) \(op.name) (needs the finished reduction)" }
    switch op.category {
    case .contraction: return "operand of contraction %\(c) \(op.name)"
    case .movement: return "input of \(op.name) %\(c)"
    case .reduction where group.kind == .reduction: return "reduction %\(c) over other axes"
    default: break
    }
    if let h = consumerGroup, nodes[c].shape == group.space || nodes[c].shape == group.postSpace {
        return "%\(c) \(op.name) fused into group \(h), with its other producer"
    }
    if nodes[c].shape != group.space { return "%\(c) \(op.name) iterates \(nodes[c].shape), not \(group.space)" }
    if let h = consumerGroup { return "%\(c) \(op.name) fused into group \(h), with its other producer" }
    return "read by %\(c) \(op.name)"
}
