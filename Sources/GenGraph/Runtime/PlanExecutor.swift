import CMPI
import Kernels

/// Replays a compiled plan: binds the leaves, derives this run's random keys,
/// and calls each step's kernel on the arena it is given (a session's plans run
/// one at a time, so they share one). The C argument arrays of every
/// step are built once, when the executor is created, and only their base
/// pointers are patched per run.
final class PlanExecutor {
    let plan: Plan
    private let kernels: KernelContext
    private let constants: [Buffer]
    private var calls: [KernelCall] = []
    private let statistics: ExecutionStatistics
    private let profileKeys: [String]
    /// The all-reduce buckets of a data-parallel step, each with its message buffer.
    private let buckets: AllReduceBuckets?

    init(plan: Plan, kernels: KernelContext, statistics: ExecutionStatistics) throws {
        self.plan = plan
        self.kernels = kernels
        self.statistics = statistics
        constants = plan.constants.map { Buffer(copying: $0) }
        buckets = try AllReduceBuckets(plan)
        calls = try plan.steps.map { [buckets] in try KernelCall($0.op, kernels: kernels, buckets: buckets) }
        profileKeys = plan.steps.enumerated().map { k, step in
            String(format: "step %3d ", k) + step.kernel + (step.group.map { " group \($0)" } ?? "")
        }
    }

    /// Runs the plan on `arena` (at least `plan.arenaFloats` long); `leaf` gives each leaf's
    /// storage by name, `keys` this run's random key of each stream, `updateStep` the count of
    /// the update the plan applies (when it applies any). The outputs (the plan's `results`)
    /// are views of the arena (valid until the next run of any plan on it) or of leaves.
    func run(arena: Buffer, leaf: (String) throws -> Buffer, keys: [Int: UInt64], updateStep: Int = 0) throws -> [View] {
        precondition(arena.count >= plan.arenaFloats, "arena of \(arena.count) floats for a plan of \(plan.arenaFloats)")
        var buffers: [Buffer] = [arena]
        for name in plan.leafNames { buffers.append(try leaf(name)) }
        buffers += constants
        let bases = buffers.map(\.pointer)
        for (k, call) in calls.enumerated() {
            let step = plan.steps[k]
            statistics.record(kernels: 1, flops: step.flops, bytes: step.bytesRead + step.bytesWritten)
            do {
                try statistics.timedStep(ObjectIdentifier(self), k, of: calls.count, profileKeys[k], flops: step.flops,
                                         bytes: step.bytesRead + step.bytesWritten) {
                    try call.run(bases: bases, keys: keys, updateStep: updateStep)
                }
            } catch let error as GraphError {
                // What only a run finds (a label outside its classes) is located at the line of a node the step computes.
                let nodes = plan.fused.program.nodes
                throw error.located(at: step.writes.lazy.compactMap { nodes.indices.contains($0) ? nodes[$0].origin : nil }.first)
            }
            // MPI advances a started all-reduce only inside MPI calls: give it a turn between kernels.
            if buckets != nil { gg_mpi_progress() }
        }
        return plan.outputs.map { o in
            guard let l = o.location else {  // a constant result: materialise it
                let b = Buffer(count: o.shape.count)
                b.pointer.initialize(repeating: o.constant ?? 0, count: o.shape.count)
                return View(buffer: b, shape: o.shape)
            }
            return View(buffer: buffers[l.base], offset: l.offset, shape: o.shape, strides: o.strides)
        }
    }
}

/// One step's kernel call with its argument arrays prepared.
private final class KernelCall {
    let op: StepOp
    let kernels: KernelContext
    var scratch: Int64 = 0
    // Fused programs: C arrays kept alive for the executor's lifetime.
    var program: PreparedProgram?
    /// A GEMM's or convolution's epilogue, or a fused step's pass after its reductions.
    var epilogue: PreparedProgram?
    /// A convolution epilogue's pass after its channel sums.
    var after: PreparedProgram?
    /// A GEMM's prologues, for the operands it computes (A, B).
    var prologues: [PreparedProgram?] = [nil, nil]
    /// A phased step's programs.
    var phases: PreparedPhases?

    let buckets: AllReduceBuckets?

    init(_ op: StepOp, kernels: KernelContext, buckets: AllReduceBuckets?) throws {
        self.op = op
        self.kernels = kernels
        self.buckets = buckets
        var ctx = kernels.ctx()
        switch op {
        case .fused(let spec, let post):
            program = PreparedProgram(spec)
            if let post {
                // The pass over the reduced space runs inside the same gg_fused_f32 call, after the main pass.
                epilogue = PreparedProgram(post)
                program!.pointer.pointee.post = UnsafePointer(epilogue!.pointer)
            }
            scratch = program!.scratch(&ctx)
        case .phases(let list, let folded):
            phases = PreparedPhases(list, folded: folded)
            scratch = phases!.scratch(&ctx)
        case .gemm(_, let a, let b, _, let m, let n, let k, let e):
            epilogue = e.map(PreparedProgram.init)
            prologues = [a, b].map { operand -> PreparedProgram? in
                if case .computed(let spec, _) = operand { return PreparedProgram(spec) }
                return nil
            }
            scratch = gg_gemm_pro_ep_f32_scratch(&ctx, Int64(m), Int64(n), Int64(k), prologues[0]?.pointer,
                                                 prologues[1]?.pointer, epilogue?.pointer)
        case .conv(_, let dims, _, _, _, let e, let post):
            var s = convShape(dims)
            epilogue = e.map(PreparedProgram.init)
            if let post {  // runs inside the convolution's call, once its channel sums are complete
                after = PreparedProgram(post)
                epilogue!.pointer.pointee.post = UnsafePointer(after!.pointer)
            }
            scratch = gg_conv2d_ep_f32_scratch(&ctx, &s, epilogue?.pointer)
        default:
            break
        }
    }

    func run(bases: [UnsafeMutablePointer<Float>], keys: [Int: UInt64], updateStep: Int) throws {
        func p(_ l: Location) -> UnsafeMutablePointer<Float> { bases[l.base] + l.offset }
        var ctx = kernels.ctx(scratch: scratch)
        switch op {
        case .fused:
            epilogue?.bind(bases: bases, keys: keys)
            try program!.run(&ctx, bases: bases, keys: keys)
        case .phases:
            try phases!.run(&ctx, bases: bases, keys: keys)
        case .gemm(let c, let a, let b, let batch, let m, let n, let k, _):
            // Prologues compute operand blocks as GEMM packs them; the epilogue runs on each finished output tile.
            epilogue?.bind(bases: bases, keys: keys)
            for prologue in prologues { prologue?.bind(bases: bases, keys: keys) }
            /// Pointer, leading dimension, batch stride and transpose flag of an operand (nil pointer when computed).
            func matrix(_ o: GemmOperand) -> (UnsafeMutablePointer<Float>?, Int64, Int64, Int32) {
                switch o {
                case .memory(let mo): return (p(mo.location), Int64(mo.ld), Int64(mo.batchStride), mo.transposed ? 1 : 0)
                case .computed(_, let transposed): return (nil, 0, 0, transposed ? 1 : 0)
                }
            }
            let (pa, lda, sa, ta) = matrix(a), (pb, ldb, sb, tb) = matrix(b)
            try check(gg_gemm_pro_ep_f32(&ctx, p(c), Int64(n), Int64(m * n), pa, lda, sa, ta, pb, ldb, sb, tb,
                                         Int64(batch), Int64(m), Int64(n), Int64(k), 1, 0,
                                         prologues[0]?.pointer, prologues[1]?.pointer, epilogue?.pointer), "matmul")
        case .conv(let kind, let dims, let out, let first, let second, _, _):
            var s = convShape(dims)
            // The epilogue runs on output pixels soon after the convolution finishes them.
            epilogue?.bind(bases: bases, keys: keys)
            after?.bind(bases: bases, keys: keys)
            switch kind {
            case .forward: try check(gg_conv2d_ep_f32(&ctx, p(out), p(first), p(second), &s, epilogue?.pointer), "conv2d")
            case .backwardData:
                try check(gg_conv2d_bwd_data_ep_f32(&ctx, p(out), p(first), p(second), &s, epilogue?.pointer), "conv_transpose2d")
            case .backwardFilter: try check(gg_conv2d_bwd_filter_f32(&ctx, p(out), p(first), p(second), &s), "conv2d_filter_grad")
            }
        case .maxPool(let dims, let out, let input):
            var s = poolShape(dims)
            try check(gg_maxpool2d_f32(&ctx, p(out), p(input), &s), "max_pool2d")
        case .maxPoolGrad(let dims, let out, let input, let gradient):
            var s = poolShape(dims)
            try check(gg_maxpool2d_bwd_f32(&ctx, p(out), p(input), p(gradient), &s), "max_pool2d_grad")
        case .copies(let fill, let copies):
            if let (l, count) = fill { try check(gg_fill_f32(&ctx, p(l), Int64(count), 0), "pad") }
            for copy in copies {
                let dims = copy.input.shape.dims.map(Int64.init)
                let ys = copy.outputStrides.map(Int64.init), xs = copy.input.strides.map(Int64.init)
                if let c = copy.input.constant {
                    var value = c
                    try check(gg_copy_f32(&ctx, p(copy.output), ys, &value, xs, dims, Int32(dims.count)), "fill")
                } else {
                    try check(gg_copy_f32(&ctx, p(copy.output), ys, p(copy.input.location!), xs, dims, Int32(dims.count)), "copy")
                }
            }
        case .oneHot(let out, let labels, let count, let depth, let outOfRange):
            if gg_one_hot_f32(&ctx, p(out), p(labels), Int64(count), Int64(depth)) != GG_OK {
                throw outOfRange ?? GraphError(op: "one_hot", "a label is not an integer in [0, \(depth))")
            }
        case .allReduce(let out, let input, let count):
            p(out).update(from: p(input), count: count)
            try Distributed.allReduceSum(p(out), count: count)
        case .allReduceStart(let r):
            var parts = r.gradients.map { Optional(p($0)) }, sizes = r.sizes.map(Int64.init)
            guard gg_mpi_bucket_start(buckets!.handles[r.bucket], &parts, &sizes, Int32(parts.count)) == 0 else {
                throw GraphError(op: "all_reduce", "could not start the all-reduce of bucket \(r.bucket)")
            }
        case .allReduceFinish(let r):
            var parts = r.gradients.map { Optional(p($0)) }, sizes = r.sizes.map(Int64.init)
            guard gg_mpi_bucket_finish(buckets!.handles[r.bucket], &parts, &sizes, Int32(parts.count), 1 / Float(r.replicas)) == 0 else {
                throw GraphError(op: "all_reduce", "the all-reduce of bucket \(r.bucket) failed")
            }
        case .update(let u):
            try Optimizer.updateGroup(u.rule, clip: u.clip, step: updateStep, &ctx, parameters: u.parameters.map(p),
                                      slots: u.slots.isEmpty ? [] : u.slots[0].indices.map { k in u.slots.map { p($0[k]) } },
                                      gradients: u.gradients.map { UnsafePointer(p($0)) }, sizes: u.sizes)
        }
    }

    private func convShape(_ d: [Int]) -> gg_conv2d_shape {
        gg_conv2d_shape(n: Int64(d[0]), c: Int64(d[1]), h: Int64(d[2]), w: Int64(d[3]), oc: Int64(d[4]), kh: Int64(d[5]),
                        kw: Int64(d[6]), stride: Int64(d[7]), pad: Int64(d[8]), oh: Int64(d[9]), ow: Int64(d[10]))
    }

    private func poolShape(_ d: [Int]) -> gg_pool2d_shape {
        gg_pool2d_shape(n: Int64(d[0]), c: Int64(d[1]), h: Int64(d[2]), w: Int64(d[3]), k: Int64(d[4]),
                        stride: Int64(d[5]), pad: Int64(d[6]), oh: Int64(d[7]), ow: Int64(d[8]))
    }
}

/// A fused program's C arrays, allocated once; pointers patched per run.
private final class PreparedProgram {
    let spec: FusedSpec
    let instructions: UnsafeMutableBufferPointer<gg_finstr>
    let shape: UnsafeMutableBufferPointer<Int64>
    let inputs: UnsafeMutableBufferPointer<UnsafePointer<Float>?>
    let inputStrides: UnsafeMutableBufferPointer<Int64>
    let outputs: UnsafeMutableBufferPointer<UnsafeMutablePointer<Float>?>
    let outputStrides: UnsafeMutableBufferPointer<Int64>
    let keys: UnsafeMutableBufferPointer<UInt64>
    let programStorage = UnsafeMutablePointer<gg_fprogram>.allocate(capacity: 1)

    init(_ spec: FusedSpec) {
        self.spec = spec
        func array<T>(_ values: [T]) -> UnsafeMutableBufferPointer<T> {
            let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(values.count, 1))
            _ = b.initialize(from: values)
            return b
        }
        instructions = array(spec.instructions.map {
            gg_finstr(op: $0.op, sub: $0.sub, dst: $0.dst, a: $0.a, b: $0.b, c: $0.c, p0: $0.p0, p1: $0.p1)
        })
        shape = array(spec.space.map(Int64.init))
        inputs = array([UnsafePointer<Float>?](repeating: nil, count: spec.inputs.count))
        inputStrides = array(spec.inputs.flatMap { $0.1.map(Int64.init) })
        outputs = array([UnsafeMutablePointer<Float>?](repeating: nil, count: spec.outputs.count))
        outputStrides = array(spec.outputs.flatMap { $0.1.map(Int64.init) })
        keys = array([UInt64](repeating: 0, count: spec.keys.count))
        programStorage.initialize(to: gg_fprogram(ninstr: Int32(spec.instructions.count), instr: UnsafePointer(instructions.baseAddress),
                              nregs: Int32(spec.registers), rank: Int32(spec.space.count), shape: UnsafePointer(shape.baseAddress),
                              ninputs: Int32(spec.inputs.count), inputs: UnsafePointer(inputs.baseAddress),
                              in_strides: UnsafePointer(inputStrides.baseAddress),
                              noutputs: Int32(spec.outputs.count), outputs: UnsafePointer(outputs.baseAddress),
                              out_strides: UnsafePointer(outputStrides.baseAddress), keys: UnsafePointer(keys.baseAddress), post: nil))
    }

    deinit {
        instructions.deallocate(); shape.deallocate(); inputs.deallocate(); inputStrides.deallocate()
        outputs.deallocate(); outputStrides.deallocate(); keys.deallocate(); programStorage.deallocate()
    }

    /// The program struct for the C side; stable for the object's lifetime.
    var pointer: UnsafeMutablePointer<gg_fprogram> { programStorage }

    func scratch(_ ctx: inout gg_ctx) -> Int64 { gg_fused_f32_scratch(&ctx, programStorage) }

    /// Points the program at this run's storage; `runKeys` are this run's keys by random stream.
    func bind(bases: [UnsafeMutablePointer<Float>], keys runKeys: [Int: UInt64]) {
        for (k, input) in spec.inputs.enumerated() { inputs[k] = UnsafePointer(bases[input.0.base] + input.0.offset) }
        for (k, output) in spec.outputs.enumerated() { outputs[k] = bases[output.0.base] + output.0.offset }
        for (k, stream) in spec.keys.enumerated() { keys[k] = runKeys[stream] ?? 0 }
    }

    func run(_ ctx: inout gg_ctx, bases: [UnsafeMutablePointer<Float>], keys runKeys: [Int: UInt64]) throws {
        bind(bases: bases, keys: runKeys)
        try check(gg_fused_f32(&ctx, programStorage), "fused")
    }
}

/// A phased step's programs, each phase's post linked to it, and the C arrays that list them.
private final class PreparedPhases {
    let programs: [PreparedProgram]
    let posts: [PreparedProgram?]
    let pointers: UnsafeMutableBufferPointer<UnsafePointer<gg_fprogram>?>
    let folded: UnsafeMutableBufferPointer<Int32>

    init(_ list: [(program: FusedSpec, post: FusedSpec?)], folded flags: [Bool]) {
        programs = list.map { PreparedProgram($0.program) }
        posts = list.map { $0.post.map(PreparedProgram.init) }
        for (program, post) in zip(programs, posts) {
            if let post { program.pointer.pointee.post = UnsafePointer(post.pointer) }
        }
        pointers = .allocate(capacity: max(programs.count, 1))
        _ = pointers.initialize(from: programs.map { UnsafePointer($0.pointer) })
        folded = .allocate(capacity: max(flags.count, 1))
        _ = folded.initialize(from: flags.map { $0 ? 1 : 0 })
    }

    deinit { pointers.deallocate(); folded.deallocate() }

    func scratch(_ ctx: inout gg_ctx) -> Int64 {
        gg_fused_phases_f32_scratch(&ctx, Int32(programs.count), pointers.baseAddress, folded.baseAddress)
    }

    func run(_ ctx: inout gg_ctx, bases: [UnsafeMutablePointer<Float>], keys: [Int: UInt64]) throws {
        for program in programs { program.bind(bases: bases, keys: keys) }
        for post in posts { post?.bind(bases: bases, keys: keys) }
        try check(gg_fused_phases_f32(&ctx, Int32(programs.count), pointers.baseAddress, folded.baseAddress), "fused phases")
    }
}

/// The message buffers of a plan's all-reduce buckets, sized to each bucket's gradients; nil for
/// a plan without any.
private final class AllReduceBuckets {
    let handles: [OpaquePointer]

    init?(_ plan: Plan) throws {
        var floats: [Int: Int] = [:]
        var replicas = 1
        for step in plan.steps {
            if case .allReduceStart(let r) = step.op {
                floats[r.bucket] = r.sizes.reduce(0, +)
                replicas = r.replicas
            }
        }
        if floats.isEmpty { return nil }
        try Distributed.check(replicas: replicas)
        handles = try (0..<floats.count).map { b in
            guard let floats = floats[b], let handle = gg_mpi_bucket_new(Int64(floats)) else {
                throw GraphError(op: "all_reduce", "cannot allocate bucket \(b) of the plan's gradient all-reduce")
            }
            return handle
        }
    }

    deinit { handles.forEach(gg_mpi_bucket_free) }
}
