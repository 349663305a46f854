import Kernels

/// Lowers a fused program to a plan: orders the groups (`schedule`), turns
/// each group into kernel steps, adds the copies that kernels need (a GEMM
/// operand whose strides GEMM cannot read, a result that is a broadcast or a
/// constant) and the optimiser updates it applies itself (`updates`), then
/// places every stored value in one arena (`planMemory`; without reuse when `off` holds `.memory`).
/// `late`: copies that recompute values for their late readers (`schedule` runs them last).
public func buildPlan(_ fused: FusedProgram, updates: PlannedUpdates? = nil, off: Set<FusionKind> = [],
                      late: Set<Int> = []) throws -> Plan {
    let builder = PlanBuilder(fused, updates: updates, reuseMemory: !off.contains(.memory), late: late)
    defer { builder.templates = [] }  // the templates' closures capture the builder
    return try builder.build()
}

/// A step before memory planning: which values it reads and writes, and how
/// to make its kernel call once every value has an arena offset.
private struct StepTemplate {
    let group: Int?
    let writes: [Int]
    let reads: [Int]
    let flops: Int
    /// Prologue groups the step computes inside (a GEMM's operands).
    var prologues: [Int] = []
    /// Leaves a step without a group reads (a copy's source).
    var leaves: [Int] = []
    /// Bytes read and written, where the values listed above do not say (an update's leaves).
    var traffic: (read: Int, written: Int)? = nil
    /// A phased step: the bytes its phases would move as kernels of their own.
    var separateTraffic: Int? = nil
    /// (output, input) pairs the kernel may write in place (`planMemory`).
    var inPlace: [(output: Int, input: Int)] = []
    let make: (_ operand: (Int) -> Operand, _ location: (Int) -> Location) throws -> StepOp
}

private final class PlanBuilder {
    let fused: FusedProgram
    let updates: PlannedUpdates?
    let reuseMemory: Bool
    let late: Set<Int>
    let nodes: [Node]
    let views: [ViewInfo]
    var leafIndex: [Int: Int] = [:]      // leaf node -> pointer-table index
    var leafNames: [String] = []
    var leafTable: [String: Int] = [:]   // leaf name -> pointer-table index
    var constantIndex: [Int: Int] = [:]  // mask node -> pointer-table index (after leaves)
    var constants: [[Float]] = []
    var randomStreams: [Int] = []
    /// Shapes of values that exist only in the plan (copies), with ids after the program's nodes.
    var extraShapes: [Shape] = []
    var templates: [StepTemplate] = []

    init(_ fused: FusedProgram, updates: PlannedUpdates?, reuseMemory: Bool, late: Set<Int>) {
        self.fused = fused
        self.updates = updates
        self.reuseMemory = reuseMemory
        self.late = late
        nodes = fused.program.nodes
        views = fused.views
    }

    func shape(_ value: Int) -> Shape { value < nodes.count ? nodes[value].shape : extraShapes[value - nodes.count] }

    func newValue(_ shape: Shape) -> Int {
        extraShapes.append(shape)
        return nodes.count + extraShapes.count - 1
    }

    /// The stored value an input is read from (nil for constants and leaves).
    func storedRoot(_ i: Int) -> Int? {
        if case .constant = views[i].kind { return nil }
        let root = views[i].root
        return leafIndex[root] == nil && constantIndex[root] == nil ? root : nil
    }

    /// The pointer-table index of leaf `name`, added to the table if new.
    func leaf(_ name: String) -> Int {
        if let index = leafTable[name] { return index }
        leafNames.append(name)
        leafTable[name] = leafNames.count
        return leafNames.count
    }

    func build() throws -> Plan {
        for (id, node) in nodes.enumerated() {
            switch node.op {
            case .input(let name), .parameter(let name), .state(let name):
                leafIndex[id] = leaf(name)
            case .randomUniform(let stream), .randomNormal(let stream):
                randomStreams.append(stream)
            default: break
            }
        }
        if let updates {  // parameters and slots are leaves too; all leaves precede the plan's constants
            for name in updates.parameters {
                _ = leaf(name)
                for slot in updates.rule.slotNames { _ = leaf(PlannedUpdates.slotLeaf(name, slot)) }
            }
        }
        for (id, node) in nodes.enumerated() {
            switch node.op {
            case .convMask(let kind): constants.append(convMaskValues(kind, node.shape))
            case .constantData(let data): constants.append(data.values)
            default: continue
            }
            constantIndex[id] = leafNames.count + constants.count
        }

        let order = schedule(fused, late: late)
        guard order.count == fused.groups.count else {
            throw GraphError(op: "schedule", "kernels wait on each other: groups "
                + Set(fused.groups.indices).subtracting(order).sorted().prefix(8).map { "\($0)" }.joined(separator: ", ") + " never become ready")
        }
        for g in order { try lower(group: g) }

        // Results must be plain storage: materialise views the caller cannot read as a contiguous block.
        var outputs = fused.program.outputs
        for (k, id) in outputs.enumerated() {
            let v = views[id]
            switch v.kind {
            case .value: continue
            case .view where StridedLayout(shape: nodes[id].shape, strides: v.strides).isContiguous: continue
            case .view, .constant: break
            }
            let copy = newValue(nodes[id].shape)
            templates.append(copyTemplate(into: copy, from: id))
            outputs[k] = copy
        }

        let consumed = Set(updates?.gradientOutputs ?? [])
        let results = outputs.indices.filter { !consumed.contains($0) }
        if let updates { insertUpdates(updates, gradients: updates.gradientOutputs.map { outputs[$0] }) }

        // A result read through a view keeps its root alive.
        let resultRoots = results.map { outputs[$0] }.map { $0 < nodes.count ? views[$0].root : $0 }
        let memory = planMemory(lifetimes: lifetimes(of: templates.map { StepAccess(writes: $0.writes, reads: $0.reads) },
                                                     results: resultRoots),
                                floats: { self.shape($0).count }, reuse: reuseMemory, inPlace: templates.flatMap(\.inPlace))
        let resolveLocation: (Int) -> Location = { value in Location(base: 0, offset: memory.slots[value]!.offset) }
        let resolveOperand: (Int) -> Operand = { id in self.operand(id, slots: memory.slots) }

        var steps: [PlanStep] = []
        for t in templates {
            let op = try t.make(resolveOperand, resolveLocation)
            let bytesRead = Set(t.reads).reduce(0) { $0 + shape($1).count } * 4
            let bytesWritten = t.writes.reduce(0) { $0 + shape($1).count } * 4
            var step = PlanStep(op: op, group: t.group, prologues: t.prologues, writes: t.writes, reads: t.reads,
                                flops: t.flops, bytesRead: bytesRead + (t.traffic?.read ?? leafBytes(t)),
                                bytesWritten: bytesWritten + (t.traffic?.written ?? 0))
            if let separate = t.separateTraffic, case .phases(let phases, _) = op {
                step.phases = phases.count
                step.bytesSaved = separate - step.bytesRead - step.bytesWritten
            }
            steps.append(step)
        }
        let outputOperands = results.map { outputs[$0] }.map { id -> Operand in
            id < nodes.count ? operand(id, slots: memory.slots)
                : Operand(location: resolveLocation(id), constant: nil, shape: shape(id), strides: shape(id).contiguousStrides)
        }
        return Plan(program: fused.program, fused: fused, steps: steps, arenaFloats: memory.arenaFloats,
                    slots: memory.slots.filter { $0.key < nodes.count }, outputs: outputOperands, results: results,
                    leafNames: leafNames, constants: constants, randomStreams: randomStreams, peakFloats: memory.peakFloats,
                    peakStep: memory.peakStep,
                    inPlace: memory.inPlace)
    }

    /// Leaves (inputs, parameters, plan constants) a step reads, which `reads` does not list.
    func leafReads(_ t: StepTemplate) -> Set<Int> {
        var leaves = Set(t.leaves)
        for h in (t.group.map { [$0] } ?? []) + t.prologues {
            let members = Set(fused.groups[h].nodes)
            for id in fused.groups[h].nodes {
                for i in nodes[id].inputs where !members.contains(i) {
                    if leafIndex[views[i].root] != nil || constantIndex[views[i].root] != nil { leaves.insert(views[i].root) }
                }
            }
        }
        return leaves
    }

    func leafBytes(_ t: StepTemplate) -> Int { leafReads(t).reduce(0) { $0 + nodes[$1].shape.count } * 4 }

    // MARK: - Optimiser updates

    /// Gradients smaller than this (floats) are updated together at the end of the step: holding
    /// them costs at most a few hundred KB, and one kernel for all of them saves a launch each.
    static let earlyUpdateFloats = 1 << 16

    /// Puts each large parameter's update right after the last step that writes its gradient or
    /// reads the parameter, and the others in one kernel at the end; updates that fall after the
    /// same step share one kernel.
    func insertUpdates(_ u: PlannedUpdates, gradients: [Int]) {
        if u.replicas > 1 { return insertAveragedUpdates(u, gradients: gradients) }
        let parameterNodes = Dictionary(nodes.indices.compactMap { id -> (String, Int)? in
            if case .parameter(let name) = nodes[id].op { return (name, id) }
            return nil
        }, uniquingKeysWith: { a, _ in a })
        let roots = gradients.map { $0 >= nodes.count ? $0 : storedRoot($0) }
        let reads = templates.map(leafReads)
        var after: [Int: [Int]] = [:]  // step index (-1: before all) -> parameter positions
        for (k, name) in u.parameters.enumerated() {
            var ready = -1
            if shape(gradients[k]).count < Self.earlyUpdateFloats {
                after[templates.count - 1, default: []].append(k)
                continue
            }
            for (t, template) in templates.enumerated() {
                if let root = roots[k], template.writes.contains(root) { ready = t }
                if let p = parameterNodes[name], reads[t].contains(p) { ready = t }
            }
            after[ready, default: []].append(k)
        }
        var placed = after[-1].map { [updateTemplate(u, $0, gradients: gradients, roots: roots)] } ?? []
        for (t, template) in templates.enumerated() {
            placed.append(template)
            if let ks = after[t] { placed.append(updateTemplate(u, ks, gradients: gradients, roots: roots)) }
        }
        templates = placed
    }

    /// Floats per all-reduce bucket: big enough that each message's fixed cost (tens of microseconds
    /// on loopback, more between machines) is small against its transfer, small enough that the
    /// first buckets start while much of the backward pass is still to run.
    static let bucketFloats = 1 << 18

    /// With replicas, gradients are taken in the order they complete and packed into buckets of
    /// about `bucketFloats`; each bucket's all-reduce starts right after the step that completes
    /// its last gradient. After the last step every bucket is awaited in turn, each followed by
    /// its parameters' update (by then no step reads a parameter), so communication overlaps the
    /// rest of the backward pass and the earlier buckets' updates.
    func insertAveragedUpdates(_ u: PlannedUpdates, gradients: [Int]) {
        let roots = gradients.map { $0 >= nodes.count ? $0 : storedRoot($0) }
        let ready = roots.map { root in root.flatMap { r in templates.lastIndex { $0.writes.contains(r) } } ?? -1 }
        var buckets: [[Int]] = []
        var floats = 0
        for k in gradients.indices.sorted(by: { (ready[$0], $0) < (ready[$1], $1) }) {
            if buckets.isEmpty || floats >= Self.bucketFloats {
                buckets.append([])
                floats = 0
            }
            buckets[buckets.count - 1].append(k)
            floats += shape(gradients[k]).count
        }
        let starts = Dictionary(grouping: buckets.indices) { ready[buckets[$0].last!] }
        var placed: [StepTemplate] = []
        for t in -1..<templates.count {
            if t >= 0 { placed.append(templates[t]) }
            for b in starts[t] ?? [] { placed.append(allReduceTemplate(u, b, buckets[b], gradients: gradients, roots: roots, start: true)) }
        }
        for (b, ks) in buckets.enumerated() {
            placed.append(allReduceTemplate(u, b, ks, gradients: gradients, roots: roots, start: false))
            placed.append(updateTemplate(u, ks, gradients: gradients, roots: roots))
        }
        templates = placed
    }

    func allReduceTemplate(_ u: PlannedUpdates, _ bucket: Int, _ ks: [Int], gradients: [Int], roots: [Int?], start: Bool) -> StepTemplate {
        let sizes = ks.map { shape(gradients[$0]).count }
        let bytes = sizes.reduce(0, +) * 4
        return StepTemplate(group: nil, writes: [], reads: ks.compactMap { roots[$0] }, flops: 0, traffic: (0, start ? 0 : bytes)) { operand, location in
            let spec = AllReduceSpec(bucket: bucket, parameters: ks.map { u.parameters[$0] }, gradients: ks.map { k in gradients[k] < self.nodes.count ? operand(gradients[k]).location! : location(gradients[k]) },
                                     sizes: sizes, replicas: u.replicas)
            return start ? .allReduceStart(spec) : .allReduceFinish(spec)
        }
    }

    func updateTemplate(_ u: PlannedUpdates, _ ks: [Int], gradients: [Int], roots: [Int?]) -> StepTemplate {
        let sizes = ks.map { shape(gradients[$0]).count }
        let elements = sizes.reduce(0, +)
        let slots = u.rule.slotNames.count
        let reads = ks.compactMap { roots[$0] }
        return StepTemplate(group: nil, writes: [], reads: reads, flops: elements * u.rule.flopsPerElement,
                            traffic: (elements * (1 + slots) * 4, elements * (1 + slots) * 4)) { operand, location in
            .update(UpdateSpec(
                rule: u.rule, clip: u.clip,
                parameters: ks.map { Location(base: self.leafTable[u.parameters[$0]]!, offset: 0) },
                slots: ks.map { k in u.rule.slotNames.map { Location(base: self.leafTable[PlannedUpdates.slotLeaf(u.parameters[k], $0)]!, offset: 0) } },
                gradients: ks.map { k in gradients[k] < self.nodes.count ? operand(gradients[k]).location! : location(gradients[k]) },
                sizes: sizes))
        }
    }

    func operand(_ id: Int, slots: [Int: ArenaSlot]) -> Operand {
        let v = views[id]
        let s = nodes[id].shape
        if case .constant(let c) = v.kind { return Operand(location: nil, constant: c, shape: s, strides: v.strides) }
        let base: Location
        if let leaf = leafIndex[v.root] { base = Location(base: leaf, offset: 0) }
        else if let c = constantIndex[v.root] { base = Location(base: c, offset: 0) }
        else { base = Location(base: 0, offset: slots[v.root]!.offset) }
        return Operand(location: Location(base: base.base, offset: base.offset + v.offset), constant: nil, shape: s, strides: v.strides)
    }

    // MARK: - Groups to steps

    func lower(group g: Int) throws {
        let group = fused.groups[g]
        let first = group.nodes[0]
        switch group.kind {
        case .elementwise, .reduction:
            try lowerFused(g)
        case .phased:
            try lowerPhased(g)
        case .contraction:
            if case .matmul = nodes[first].op { try lowerGemm(g) } else { try lowerSingle(first, g) }
        case .single:
            try lowerSingle(first, g)
        case .prologue:
            break  // computed inside each GEMM that reads it (lowerGemm)
        }
    }

    /// Stored values read by the members of group `g` from outside it.
    func externalReads(_ g: Int) -> [Int] {
        rootsLoaded(by: fused.groups[g].nodes, in: fused.groups[g].kind).filter { leafIndex[$0] == nil && constantIndex[$0] == nil }
    }

    /// The storage roots (stored values, leaves, constants' data) that `members`, run as one kernel
    /// of `kind`, read other than from their own registers, in the order first read: a reshape of
    /// a member is its register, and a random draw the kernel makes inline reads nothing.
    func rootsLoaded(by members: [Int], in kind: FusionGroup.Kind) -> [Int] {
        let inside = Set(members)
        var roots: [Int] = []
        for id in members {
            for i in nodes[id].inputs where !views[i].isConstant && !(inside.contains(i) && views[i].kind == .value) {
                if let r = ViewInfo.reshapedValue(i, views, nodes), inside.contains(r) { continue }
                if nodes[i].op.category == .random && drawsInline(nodes[id].op, in: kind) { continue }
                if !roots.contains(views[i].root) { roots.append(views[i].root) }
            }
        }
        return roots
    }

    func lowerFused(_ g: Int) throws {
        let group = fused.groups[g]
        let main = group.nodes.filter { !group.post.contains($0) }
        let program = try FusedProgramLowering(nodes: nodes, views: views, members: main, stored: group.stored,
                                               space: group.space, preloaded: nil)
        let post = try group.postSpace.map {
            try FusedProgramLowering(nodes: nodes, views: views, members: group.post, stored: group.stored, space: $0, preloaded: nil)
        }
        let work = group.space.count * max(1, program.computeInstructions)
            + (post.map { $0.space.count * $0.computeInstructions } ?? 0)
        let reads = externalReads(g)
        var template = StepTemplate(group: g, writes: group.stored, reads: reads, flops: work) { operand, _ in
            .fused(try program.spec(operand), post: try post?.spec(operand))
        }
        template.inPlace = inPlacePairs(g, reads: reads).filter { program.loadsPrecede(storeOf: $0.output, input: $0.input) }
        templates.append(template)
    }

    /// Outputs of elementwise or reduction group `g` that its kernel may write over a value it
    /// reads: both plain values of the group's space (so element k of one is element k of the
    /// other, and the kernel visits each element once), the input read only directly (not
    /// through a view) and not by a pass after the reductions. Whether each tile loads the input
    /// before it writes the output, the lowered program says (`loadsPrecede`); whether the step
    /// is the input's last read, `planMemory` decides.
    func inPlacePairs(_ g: Int, reads: [Int]) -> [(output: Int, input: Int)] {
        let group = fused.groups[g]
        guard group.kind == .elementwise || group.kind == .reduction else { return [] }
        let inputs = reads.filter { i in
            i < nodes.count && views[i].kind == .value && nodes[i].shape == group.space
                && group.nodes.allSatisfy { m in nodes[m].inputs.allSatisfy { views[$0].root != i || $0 == i } }
                && !group.post.contains { nodes[$0].inputs.contains(i) }
        }
        let outputs = group.stored.filter { views[$0].kind == .value && nodes[$0].shape == group.space }
        return outputs.flatMap { o in inputs.map { (output: o, input: $0) } }
    }

    /// A `.phased` group: each phase's program over the space, its post over the reduced space,
    /// one kernel call (`gg_fused_phases_f32`).
    func lowerPhased(_ g: Int) throws {
        let group = fused.groups[g]
        var folded = Set<Int>()
        for id in group.nodes { if case .reduce(_, let axes) = nodes[id].op { folded.formUnion(axes) } }
        let reduced = Shape(group.space.dims.enumerated().map { folded.contains($0.offset) ? 1 : $0.element })
        let programs = try group.phases.map { phase in
            (try FusedProgramLowering(nodes: nodes, views: views, members: phase.nodes, stored: group.stored,
                                      space: group.space, preloaded: nil),
             phase.post.isEmpty ? nil : try FusedProgramLowering(nodes: nodes, views: views, members: phase.post,
                                                                 stored: group.stored, space: nodes[phase.post[0]].shape, preloaded: nil))
        }
        let work = programs.reduce(0) { total, p in
            total + group.space.count * max(1, p.0.computeInstructions) + (p.1.map { reduced.count * $0.computeInstructions } ?? 0)
        }
        let flags = group.space.dims.indices.map(folded.contains)
        var template = StepTemplate(group: g, writes: group.stored, reads: externalReads(g), flops: work) { operand, _ in
            let specs = try programs.map { p in
                (program: try p.0.spec(operand, collapse: false), post: try p.1.map { respaced(try $0.spec(operand, collapse: false), to: reduced.dims) })
            }
            let (phases, collapsedFlags) = collapsePhases(specs, folded: flags)
            return .phases(phases, folded: collapsedFlags)
        }
        template.separateTraffic = group.phases.reduce(0) { $0 + traffic(of: $1.nodes + $1.post, stored: group.stored) }
        templates.append(template)
    }

    /// Bytes a kernel of its own for `members` would move: every stored value or leaf it reads
    /// from outside them, once, and the members in `stored` it writes.
    func traffic(of members: [Int], stored: [Int]) -> Int {
        let read = rootsLoaded(by: members, in: .phased)
        let written = members.filter(Set(stored).contains)
        return (read.reduce(0) { $0 + nodes[$1].shape.count } + written.reduce(0) { $0 + nodes[$1].shape.count }) * 4
    }

    func lowerGemm(_ g: Int) throws {
        let group = fused.groups[g]
        let mm = group.nodes[0]
        guard case .matmul(let ta, let tb) = nodes[mm].op else { throw GraphError(op: "plan", "contraction group without matmul") }
        var (a, b) = (nodes[mm].inputs[0], nodes[mm].inputs[1])
        // Operands a prologue computes; those GEMM cannot read through their strides are copied first.
        var prologues: [FusedProgramLowering?] = [nil, nil]
        var prologueGroups: [Int] = []
        for side in 0..<2 {
            let input = side == 0 ? a : b
            if let p = prologueGroup(of: input, in: fused) {
                let value = fused.groups[p].stored[0]
                let shape = nodes[value].shape
                let space = shape.rank == 3 ? shape : Shape([1] + shape.dims)
                prologues[side] = try FusedProgramLowering(nodes: nodes, views: views, members: fused.groups[p].nodes,
                                                           stored: [value], space: space, preloaded: nil, prologue: true)
                if !prologueGroups.contains(p) { prologueGroups.append(p) }
            } else if !Self.gemmReadable(views[input], nodes[input].shape) {
                let copy = newValue(nodes[input].shape)
                templates.append(copyTemplate(into: copy, from: input))
                if side == 0 { a = copy } else { b = copy }
            }
        }
        let out = nodes[mm].shape
        let r = out.rank
        let m = out[r - 2], n = out[r - 1], batch = out.count / max(1, m * n)
        let aShape = shape(a)
        let k = ta ? aShape[r - 2] : aShape[r - 1]
        let (target, writes, epilogue, _) = try epilogueOf(g, space: [batch, m, n])  // no channel sums, so no post
        let computed = Set(prologueGroups.map { fused.groups[$0].stored[0] })
        var reads = externalReads(g).filter { !computed.contains($0) }
        for p in prologueGroups { reads += externalReads(p).filter { !reads.contains($0) } }
        reads += [a, b].filter { $0 >= nodes.count }
        let (av, bv) = (a, b)
        let prologueWork = prologues.compactMap { $0 }.reduce(0) { $0 + $1.space.count * $1.computeInstructions }
        templates.append(StepTemplate(group: g, writes: writes, reads: reads, flops: 2 * batch * m * n * k + prologueWork,
                                      prologues: prologueGroups) { operand, location in
            /// The operand as GEMM reads it: transposed when the op asks for it xor its storage is transposed.
            func matrix(_ v: Int, _ transpose: Bool, _ prologue: FusedProgramLowering?) throws -> GemmOperand {
                if let prologue {
                    return .computed(try prologue.spec(operand), transposed: (self.views[v].root != v) != transpose)
                }
                let op = v < self.nodes.count ? operand(v) : Operand(location: location(v), constant: nil, shape: self.shape(v), strides: self.shape(v).contiguousStrides)
                guard let mo = Self.matrix(op) else { throw GraphError(op: "plan", "matmul operand %\(v) not readable by GEMM") }
                return .memory(MatrixOperand(location: mo.location, ld: mo.ld, batchStride: mo.batchStride,
                                             transposed: mo.transposed != transpose))
            }
            let c = location(target)
            let cOperand = Operand(location: c, constant: nil, shape: [batch, m, n], strides: [m * n, n, 1])
            let spec = try epilogue?.spec(operand, preloadedOperand: cOperand)
            return .gemm(c: c, a: try matrix(av, ta, prologues[0]), b: try matrix(bv, tb, prologues[1]),
                         batch: batch, m: m, n: n, k: k, epilogue: spec)
        })
    }

    /// A contraction group's output and epilogue: the kernel writes its head's own slot when the
    /// head is stored, else the first stored epilogue value of the head's shape (not a per-channel
    /// sum), which the epilogue then updates in place, else a slot of its own for the head.
    /// A convolution's group may also have a pass over its finished channel sums (`post`).
    func epilogueOf(_ g: Int, space: Shape) throws
        -> (target: Int, writes: [Int], epilogue: FusedProgramLowering?, post: FusedProgramLowering?) {
        let group = fused.groups[g]
        let head = group.nodes[0]
        let target = group.stored.contains(head) ? head
            : group.stored.first { nodes[$0].shape == nodes[head].shape } ?? head
        let members = group.nodes.dropFirst().filter { !group.post.contains($0) }
        let epilogue = members.isEmpty ? nil : try FusedProgramLowering(
            nodes: nodes, views: views, members: members, stored: group.stored.filter { $0 != head }, space: space, preloaded: head)
        let post = try group.postSpace.map {
            try FusedProgramLowering(nodes: nodes, views: views, members: group.post, stored: group.stored, space: $0, preloaded: nil)
        }
        return (target, group.stored.contains(target) ? group.stored : [target] + group.stored, epilogue, post)
    }

    static func gemmReadable(_ v: ViewInfo, _ shape: Shape) -> Bool {
        if case .constant = v.kind { return false }
        return StridedLayout(shape: shape, strides: v.strides).matrix != nil
    }

    /// How GEMM reads an operand as a batch of matrices, or nil when it needs a copy.
    static func matrix(_ o: Operand) -> MatrixOperand? {
        guard let location = o.location, let m = o.layout.matrix else { return nil }
        return MatrixOperand(location: location, ld: m.ld, batchStride: m.batchStride, transposed: m.transposed)
    }

    func copyTemplate(into value: Int, from id: Int) -> StepTemplate {
        let s = nodes[id].shape
        let reads = storedRoot(id).map { [$0] } ?? []
        let leaves = !views[id].isConstant && (leafIndex[views[id].root] != nil || constantIndex[views[id].root] != nil)
            ? [views[id].root] : []
        return StepTemplate(group: nil, writes: [value], reads: reads, flops: 0, leaves: leaves) { operand, location in
            let input = operand(id)
            if let c = input.constant {
                return .copies(fill: nil, [CopySpec(output: location(value), outputStrides: s.contiguousStrides,
                                                    input: Operand(location: nil, constant: c, shape: s, strides: input.strides))])
            }
            return .copies(fill: nil, [CopySpec(output: location(value), outputStrides: s.contiguousStrides, input: input)])
        }
    }

    func lowerSingle(_ id: Int, _ g: Int) throws {
        let node = nodes[id]
        let x = node.inputs
        let reads = externalReads(g)
        let s = node.shape
        // Inputs these kernels read must be contiguous storage; copy those that are not.
        var contiguousInputs: [Int] = []
        for i in x {
            let v = views[i]
            let contiguous = StridedLayout(shape: nodes[i].shape, strides: v.strides).isContiguous
            if case .constant = v.kind, !node.op.readsThroughStrides {
                let copy = newValue(nodes[i].shape); templates.append(copyTemplate(into: copy, from: i)); contiguousInputs.append(copy)
            } else if !contiguous && !node.op.readsThroughStrides {
                let copy = newValue(nodes[i].shape); templates.append(copyTemplate(into: copy, from: i)); contiguousInputs.append(copy)
            } else {
                contiguousInputs.append(i)
            }
        }
        let extra = contiguousInputs.filter { $0 >= nodes.count }
        let allReads = reads + extra
        let inputs = contiguousInputs
        func loc(_ v: Int, _ operand: (Int) -> Operand, _ location: (Int) -> Location) -> Location {
            v < nodes.count ? operand(v).location! : location(v)
        }
        switch node.op {
        case .conv2d(let c), .convTranspose2d(let c), .conv2dFilterGrad(let c):
            let (kind, dims): (ConvKind, [Int])
            switch node.op {
            case .conv2d:
                let (xs, ws) = (shape(inputs[0]), shape(inputs[1]))
                (kind, dims) = (.forward, [xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], c.stride, c.padding, s[2], s[3]])
            case .convTranspose2d:
                let (xs, ws) = (shape(inputs[0]), shape(inputs[1]))
                (kind, dims) = (.backwardData, [s[0], s[1], s[2], s[3], ws[0], ws[2], ws[3], c.stride, c.padding, xs[2], xs[3]])
            default:
                let (xs, dys) = (shape(inputs[0]), shape(inputs[1]))
                (kind, dims) = (.backwardFilter, [xs[0], xs[1], xs[2], xs[3], s[0], s[2], s[3], c.stride, c.padding, dys[2], dys[3]])
            }
            let (target, writes, epilogue, post) = try epilogueOf(g, space: s)
            let flops = 2 * dims[0] * dims[4] * dims[9] * dims[10] * dims[1] * dims[5] * dims[6]
                + (post.map { $0.space.count * $0.computeInstructions } ?? 0)
            templates.append(StepTemplate(group: g, writes: writes, reads: allReads, flops: flops) { operand, location in
                let out = location(target)
                let spec = try epilogue?.spec(operand, preloadedOperand: Operand(location: out, constant: nil, shape: s, strides: s.contiguousStrides))
                return .conv(kind, dims: dims, output: out, first: loc(inputs[0], operand, location),
                             second: loc(inputs[1], operand, location), epilogue: spec, post: try post?.spec(operand))
            })
        case .maxPool2d(let p):
            let xs = shape(inputs[0])
            let dims = [xs[0], xs[1], xs[2], xs[3], p.kernel, p.stride, p.padding, s[2], s[3]]
            templates.append(StepTemplate(group: g, writes: [id], reads: allReads, flops: s.count * p.kernel * p.kernel) { operand, location in
                .maxPool(dims: dims, output: location(id), input: loc(inputs[0], operand, location))
            })
        case .maxPool2dGrad(let p):
            let dys = shape(inputs[1])
            let dims = [s[0], s[1], s[2], s[3], p.kernel, p.stride, p.padding, dys[2], dys[3]]
            templates.append(StepTemplate(group: g, writes: [id], reads: allReads, flops: dys.count * p.kernel * p.kernel) { operand, location in
                .maxPoolGrad(dims: dims, output: location(id), input: loc(inputs[0], operand, location), gradient: loc(inputs[1], operand, location))
            })
        case .allReduce:
            templates.append(StepTemplate(group: g, writes: [id], reads: allReads, flops: 0) { operand, location in
                .allReduce(output: location(id), input: loc(inputs[0], operand, location), count: s.count)
            })
        case .oneHot(let depth, let outOfRange):
            templates.append(StepTemplate(group: g, writes: [id], reads: allReads, flops: 0) { operand, location in
                .oneHot(output: location(id), labels: loc(inputs[0], operand, location), count: s[0], depth: depth, outOfRange: outOfRange)
            })
        case .pad(let before, _):
            templates.append(StepTemplate(group: g, writes: [id], reads: allReads, flops: 0) { operand, location in
                let out = location(id)
                let start = zip(before, s.contiguousStrides).reduce(0) { $0 + $1.0 * $1.1 }
                return .copies(fill: (out, s.count), [CopySpec(output: Location(base: out.base, offset: out.offset + start),
                                                             outputStrides: s.contiguousStrides, input: operand(x[0]))])
            })
        case .concat(let axis):
            templates.append(StepTemplate(group: g, writes: [id], reads: allReads, flops: 0) { operand, location in
                let out = location(id)
                var offset = 0
                var copies: [CopySpec] = []
                for part in x {
                    copies.append(CopySpec(output: Location(base: out.base, offset: out.offset + offset * s.contiguousStrides[axis]),
                                           outputStrides: s.contiguousStrides, input: operand(part)))
                    offset += self.nodes[part].shape[axis]
                }
                return .copies(fill: nil, copies)
            })
        case .reshape:
            templates.append(copyTemplate(into: id, from: x[0]).withGroup(g))
        default:
            throw GraphError(op: node.op.name, "no kernel for this op in a plan (internal error)")
        }
    }
}

private extension StepTemplate {
    func withGroup(_ g: Int) -> StepTemplate {
        StepTemplate(group: g, writes: writes, reads: reads, flops: flops, leaves: leaves, make: make)
    }
}
