import Kernels

/// Compiles the members of a fused group into gg_fused_f32's instruction
/// program: one register per live value, loads of everything read from
/// memory (once each), stores of the values other kernels read, and
/// reductions into their outputs. Operand locations are resolved later,
/// after memory planning (`spec`).
struct FusedProgramLowering {
    private(set) var instructions: [FusedInstruction] = []
    private(set) var registers = 0
    let space: Shape
    /// Input slots: the node each reads (the preloaded node for an epilogue's slot 0).
    private(set) var loads: [Int] = []
    /// Output slots: the stored node and whether it is a reduction result.
    private(set) var stores: [(node: Int, reduced: [Int]?)] = []
    /// Random streams in key-slot order.
    private(set) var keyStreams: [Int] = []
    /// Slot 0 is preloaded with a GEMM's or convolution's output (an epilogue).
    let preloads: Bool
    /// The stored value is a GEMM operand computed as GEMM packs it (a prologue): it has no storage.
    let prologue: Bool
    /// Runs inside a GEMM or convolution over its space: never collapsed, operands folded to it.
    var inKernel: Bool { preloads || prologue }
    private let nodes: [Node]

    /// Instructions that compute (not loads or stores): the step's FLOPs per element.
    var computeInstructions: Int {
        instructions.filter { [GG_FOP_UNARY, GG_FOP_BINARY, GG_FOP_SELECT, GG_FOP_REDUCE].map { Int32($0.rawValue) }.contains($0.op) }.count
    }

    /// Whether every element of `input` is loaded before the program writes `output` (its
    /// STORE, and the instruction before it, which may compute straight into the output): a
    /// tile loads its inputs on first use, so a store can come before a later member's load.
    func loadsPrecede(storeOf output: Int, input: Int) -> Bool {
        let load = Int32(GG_FOP_LOAD.rawValue), store = Int32(GG_FOP_STORE.rawValue)
        let loadSlots = Set(loads.indices.filter { loads[$0] == input }.map(Int32.init))
        let storeSlots = Set(stores.indices.filter { stores[$0].node == output }.map(Int32.init))
        guard let firstStore = instructions.firstIndex(where: { $0.op == store && storeSlots.contains($0.dst) }),
              let lastLoad = instructions.lastIndex(where: { $0.op == load && loadSlots.contains($0.a) }) else { return false }
        return lastLoad < firstStore - 1
    }

    /// `preloaded`: an epilogue's matmul or convolution node, read from input slot 0 (the kernel's output).
    /// `prologue`: the one stored value is computed into GEMM's packing buffers, not memory.
    init(nodes: [Node], views: [ViewInfo], members: [Int], stored: [Int], space: Shape, preloaded: Int?,
         prologue: Bool = false) throws {
        self.nodes = nodes
        self.space = space
        preloads = preloaded != nil
        self.prologue = prologue
        let memberSet = Set(members)
        let storedSet = Set(stored)

        /// What a member's input reads: a reshape of a member reads that member's register.
        func source(_ i: Int) -> Int {
            ViewInfo.reshapedValue(i, views, nodes).flatMap { memberSet.contains($0) ? $0 : nil } ?? i
        }
        // Last instruction index (member position) that reads each value, for register reuse.
        var lastUse: [Int: Int] = [:]
        for (position, m) in members.enumerated() { for i in nodes[m].inputs { lastUse[source(i)] = position } }
        var register: [Int: Int32] = [:]
        var free: [Int32] = []
        func allocate() -> Int32 {
            if let r = free.popLast() { return r }
            registers += 1
            return Int32(registers - 1)
        }
        func emit(_ i: FusedInstruction) { instructions.append(i) }

        if let preloaded {
            loads.append(preloaded)
            let r = allocate()
            register[preloaded] = r
            emit(FusedInstruction(op: Int32(GG_FOP_LOAD.rawValue), dst: r, a: 0))
        }
        /// Draws random node `i` into register `r`, at this rank's element offset (`Distributed.randomOffset`).
        func emitRandom(_ i: Int, into r: Int32) {
            let (op, stream): (gg_fop, Int)
            switch nodes[i].op {
            case .randomUniform(let s): (op, stream) = (GG_FOP_RAND_UNIFORM, s)
            case .randomNormal(let s): (op, stream) = (GG_FOP_RAND_NORMAL, s)
            default: return
            }
            keyStreams.append(stream)
            let offset = Distributed.randomOffset(count: nodes[i].shape.count)
            emit(FusedInstruction(op: Int32(op.rawValue), dst: r, a: Int32(keyStreams.count - 1),
                                  b: Int32(bitPattern: UInt32(truncatingIfNeeded: offset)),
                                  c: Int32(bitPattern: UInt32(truncatingIfNeeded: offset >> 32))))
        }
        /// The register holding input `i` of a member, loading it on first use.
        func operandRegister(_ i: Int) -> Int32 {
            if let r = register[i] { return r }
            let r = allocate()
            register[i] = r
            if case .constant(let c) = views[i].kind {
                emit(FusedInstruction(op: Int32(GG_FOP_CONST.rawValue), dst: r, p0: c))
            } else if nodes[i].op.category == .random {
                emitRandom(i, into: r)
            } else {
                loads.append(i)
                emit(FusedInstruction(op: Int32(GG_FOP_LOAD.rawValue), dst: r, a: Int32(loads.count - 1)))
            }
            return r
        }

        for (position, m) in members.enumerated() {
            let node = nodes[m]
            let inputs = node.inputs.map { i -> Int32 in
                memberSet.contains(source(i)) && views[source(i)].kind == .value ? register[source(i)]! : operandRegister(i)
            }
            var dst: Int32? = nil
            switch node.op {
            case .unary(let f):
                dst = allocate()
                emit(FusedInstruction(op: Int32(GG_FOP_UNARY.rawValue), sub: Int32(KernelCodes.unary[f]!.rawValue), dst: dst!, a: inputs[0]))
            case .leakyRelu(let slope):
                dst = allocate()
                emit(FusedInstruction(op: Int32(GG_FOP_UNARY.rawValue), sub: Int32(GG_UNARY_LEAKY_RELU.rawValue), dst: dst!, a: inputs[0], p0: slope))
            case .clamp(let lo, let hi):
                dst = allocate()
                emit(FusedInstruction(op: Int32(GG_FOP_UNARY.rawValue), sub: Int32(GG_UNARY_CLAMP.rawValue), dst: dst!, a: inputs[0], p0: lo, p1: hi))
            case .binary(let f):
                dst = allocate()
                emit(FusedInstruction(op: Int32(GG_FOP_BINARY.rawValue), sub: Int32(KernelCodes.binary[f]!.rawValue), dst: dst!, a: inputs[0], b: inputs[1]))
            case .select:
                dst = allocate()
                emit(FusedInstruction(op: Int32(GG_FOP_SELECT.rawValue), dst: dst!, a: inputs[0], b: inputs[1], c: inputs[2]))
            case .stopGradient:
                dst = inputs[0]
            case .randomUniform, .randomNormal:
                dst = allocate()
                emitRandom(m, into: dst!)
            case .reduce(let f, let axes):
                stores.append((m, axes))
                emit(FusedInstruction(op: Int32(GG_FOP_REDUCE.rawValue), sub: Int32(KernelCodes.reduce(f).rawValue),
                                      dst: Int32(stores.count - 1), a: inputs[0]))
            default:
                throw GraphError(op: node.op.name, "cannot run inside a fused kernel (internal error)")
            }
            if let dst {
                register[m] = dst
                if storedSet.contains(m) {
                    stores.append((m, nil))
                    emit(FusedInstruction(op: Int32(GG_FOP_STORE.rawValue), dst: Int32(stores.count - 1), a: dst))
                }
            }
            // Release registers whose last reader was this member, and this member's if nothing here reads it.
            var released = Set(node.inputs.map(source).filter { lastUse[$0] == position })
            if lastUse[m] == nil { released.insert(m) }
            for i in released {
                guard let r = register.removeValue(forKey: i) else { continue }
                if !register.values.contains(r) { free.append(r) }
            }
        }
    }

    /// The kernel's program with every operand resolved to storage and strides
    /// over the iteration space; the space is collapsed where all operands allow
    /// (never inside a GEMM or convolution, which address tiles in their own space,
    /// nor with `collapse` false: the phases of one kernel collapse together, `collapsePhases`).
    func spec(_ operand: (Int) -> Operand, preloadedOperand: Operand? = nil, collapse collapses: Bool = true) throws -> FusedSpec {
        var inputs: [(Location, [Int])] = []
        for (slot, id) in loads.enumerated() {
            let o = slot == 0 && preloads ? preloadedOperand! : operand(id)
            inputs.append((o.location!, try strides(o)))
        }
        var outputs: [(Location, [Int])] = []
        for (id, reduced) in stores {
            if prologue {  // GEMM writes the blocks to its own buffers; no storage to name
                outputs.append((Location(base: 0, offset: 0), space.contiguousStrides))
                continue
            }
            let o = operand(id)
            var s = try strides(o)
            if let reduced { for axis in reduced { s[axis] = 0 } }
            outputs.append((o.location!, s))
        }
        let spec = FusedSpec(instructions: instructions, registers: registers, space: space.dims,
                             inputs: inputs, outputs: outputs, keys: keyStreams)
        guard !inKernel && collapses else { return spec }
        // One program is one phase with nothing folded.
        return collapsePhases([(spec, nil)], folded: [Bool](repeating: false, count: space.count)).phases[0].program
    }

    /// An operand's strides over the iteration space. A GEMM epilogue's or prologue's
    /// space is (batch, rows, columns): a 2-D operand gets batch stride 0, leading axes
    /// fold into one. A convolution epilogue's space is the output's own (n, c, h, w).
    private func strides(_ o: Operand) throws -> [Int] {
        if !inKernel && o.shape != space && o.shape.count == space.count {
            // A member over a shape the space refines (`refines`): its axes split.
            guard let split = ViewInfo.reshapedStrides(from: o.shape, o.strides, to: space) else {
                throw GraphError(op: "plan", "operand \(o.shape) cannot be read over \(space) (internal error)")
            }
            return split
        }
        if !inKernel || o.shape.rank == space.rank { return o.strides }
        let r = o.shape.rank
        if r == 2 { return [0] + o.strides }
        guard let batchStride = o.layout.batchStride(trailing: 2) else {
            throw GraphError(op: "plan", "epilogue operand with unfoldable batch strides")
        }
        return [batchStride, o.strides[r - 2], o.strides[r - 1]]
    }
}

/// Drops size-1 axes and merges neighbouring axes that every operand walks contiguously, so
/// the kernel sees the fewest, longest rows. For the phases of one kernel (`StepOp.phases`),
/// merged axes are both folded or both kept, and walked contiguously by every operand of every
/// phase, and of every post where they are kept (a post has extent 1 on folded axes).
func collapsePhases(_ phases: [(program: FusedSpec, post: FusedSpec?)], folded: [Bool])
    -> (phases: [(program: FusedSpec, post: FusedSpec?)], folded: [Bool]) {
    guard let space = phases.first?.program.space else { return (phases, folded) }
    var keep = space.indices.filter { space[$0] != 1 }
    if keep.isEmpty && !space.isEmpty { keep = [0] }
    /// The kept axes of `values`; a scalar's space becomes one axis of extent 1 (`unit`).
    func kept<T>(_ values: [T], unit: T) -> [T] { keep.isEmpty ? [unit] : keep.map { values[$0] } }
    var result = phases.map { phase -> (program: FusedSpec, post: FusedSpec?) in
        func pick(_ spec: FusedSpec) -> FusedSpec {
            var s = spec
            s.space = kept(spec.space, unit: 1)
            s.inputs = spec.inputs.map { operand in (operand.0, kept(operand.1, unit: 0)) }
            s.outputs = spec.outputs.map { operand in (operand.0, kept(operand.1, unit: 0)) }
            return s
        }
        return (pick(phase.program), phase.post.map(pick))
    }
    var flags = kept(folded, unit: false)
    func contiguous(_ spec: FusedSpec, _ axis: Int) -> Bool {
        (spec.inputs + spec.outputs).allSatisfy { $0.1[axis] == $0.1[axis + 1] * spec.space[axis + 1] }
    }
    func merge(_ spec: inout FusedSpec, _ axis: Int) {
        spec.space[axis] *= spec.space[axis + 1]
        spec.space.remove(at: axis + 1)
        func drop(_ operand: (Location, [Int])) -> (Location, [Int]) {
            var strides = operand.1
            strides.remove(at: axis)
            return (operand.0, strides)
        }
        spec.inputs = spec.inputs.map(drop)
        spec.outputs = spec.outputs.map(drop)
    }
    var axis = flags.count - 2
    while axis >= 0 {
        if flags[axis] == flags[axis + 1], result.allSatisfy({ contiguous($0.program, axis)
            && (flags[axis] || $0.post.map { contiguous($0, axis) } ?? true) }) {
            for k in result.indices {
                merge(&result[k].program, axis)
                if result[k].post != nil { merge(&result[k].post!, axis) }
            }
            flags.remove(at: axis + 1)
        }
        axis -= 1
    }
    return (result, flags)
}

/// `spec` over `dims`, which are its space's with size-1 axes added or removed: a post program
/// over a reduced value's own shape ((c)) run over the reduced space of its kernel ((1, c, 1, 1)).
func respaced(_ spec: FusedSpec, to dims: [Int]) -> FusedSpec {
    let from = spec.space.indices.filter { spec.space[$0] != 1 }, to = dims.indices.filter { dims[$0] != 1 }
    precondition(from.map { spec.space[$0] } == to.map { dims[$0] }, "respaced: \(spec.space) is not \(dims) with size-1 axes")
    func strides(_ old: [Int]) -> [Int] {
        var result = [Int](repeating: 0, count: dims.count)
        for (a, b) in zip(from, to) { result[b] = old[a] }
        return result
    }
    var result = spec
    result.space = dims
    result.inputs = spec.inputs.map { ($0.0, strides($0.1)) }
    result.outputs = spec.outputs.map { ($0.0, strides($0.1)) }
    return result
}
