/// A compiled plan: kernel steps in a fixed order over one arena planned at
/// compile time. Replayed on every run; only the leaves' pointers (inputs,
/// parameters, state) and the random keys change between runs.
public struct Plan {
    /// The optimised program the plan computes.
    public let program: Program
    public let fused: FusedProgram
    public let steps: [PlanStep]
    /// Floats in the arena that holds every intermediate.
    public let arenaFloats: Int
    /// Arena placement of each stored value: node id -> (offset, floats).
    public let slots: [Int: ArenaSlot]
    /// The storage of each output the plan returns, in program-output order.
    let outputs: [Operand]
    /// Which program outputs those are (all but the gradients the plan's updates consume).
    public let results: [Int]
    /// Leaf names in pointer-table order (table index = position + 1; 0 is the arena).
    let leafNames: [String]
    /// Plan-owned constant tensors (PixelCNN masks), after the leaves in the pointer table.
    let constants: [[Float]]
    /// Random streams in key order (a RAND instruction's `a` indexes this).
    let randomStreams: [Int]
    /// Peak floats live at once, by the schedule, and the first step at which they are.
    public let peakFloats: Int
    public let peakStep: Int
    /// Values an elementwise or reduction kernel writes over a value it reads for the last time
    /// (value -> the value whose slot it takes; `planMemory`).
    public let inPlace: [Int: Int]
}

public struct ArenaSlot: Equatable {
    public let offset: Int
    public let count: Int
    /// First and last step that touch the value.
    public let firstStep: Int
    public let lastStep: Int
}

/// Where a kernel operand's storage starts: an index into the run's pointer
/// table (0 arena, then leaves, then plan constants) and an element offset.
struct Location: Equatable {
    let base: Int
    let offset: Int
}

/// A node as a kernel reads it: storage plus strides over the node's shape;
/// `constant` when it is a scalar fill with no storage.
struct Operand: Equatable {
    let location: Location?
    let constant: Float?
    let shape: Shape
    let strides: [Int]

    var layout: StridedLayout { StridedLayout(shape: shape, strides: strides) }
    var isContiguous: Bool { layout.isContiguous }
}

/// One kernel launch of a plan, with what the dump shows about it.
public struct PlanStep {
    let op: StepOp
    /// The fusion group it runs (index into `FusedProgram.groups`), if any.
    public let group: Int?
    /// Prologue groups it computes inside (a GEMM's operands).
    public let prologues: [Int]
    /// Nodes whose values it writes.
    public let writes: [Int]
    /// Nodes whose stored values it reads.
    public let reads: [Int]
    public let flops: Int
    public let bytesRead: Int
    public let bytesWritten: Int
    /// A phased step's passes, and the bytes it moves less than those passes would as kernels of
    /// their own (each reading its inputs from memory); 0 and 0 for other steps.
    public var phases = 0
    public var bytesSaved = 0

    /// The C kernel the step calls.
    public var kernel: String { op.kernelName }
}

/// A fused program ready for gg_fused_f32: instructions plus operands over a
/// (collapsed) iteration space.
struct FusedSpec {
    var instructions: [FusedInstruction]
    var registers: Int
    var space: [Int]
    var inputs: [(Location, [Int])]
    var outputs: [(Location, [Int])]
    /// Indices into the plan's random streams, one per key slot.
    var keys: [Int]
}

struct FusedInstruction: Equatable {
    var op: Int32, sub: Int32 = 0, dst: Int32 = 0, a: Int32 = 0, b: Int32 = 0, c: Int32 = 0
    var p0: Float = 0, p1: Float = 0
}

struct MatrixOperand {
    let location: Location
    let ld: Int
    let batchStride: Int
    let transposed: Bool
}

/// A GEMM operand: read from storage, or computed block by block as GEMM packs it.
enum GemmOperand {
    case memory(MatrixOperand)
    /// A prologue over the operand's storage (batch, rows, cols); transposed as in MatrixOperand.
    case computed(FusedSpec, transposed: Bool)

    var isComputed: Bool { if case .computed = self { return true }; return false }
}

struct CopySpec {
    let output: Location
    let outputStrides: [Int]
    let input: Operand
}

enum ConvKind { case forward, backwardData, backwardFilter }

/// A multi-tensor optimiser update of parameters (leaves) from gradients, with
/// their slots (leaves) in the rule's order; the step count comes with each run.
struct UpdateSpec {
    let rule: OptimizerRule
    let clip: ClosedRange<Float>?
    let parameters: [Location]
    let slots: [[Location]]
    let gradients: [Location]
    let sizes: [Int]
}

/// A bucket of gradients averaged across ranks as one message (`PlannedUpdates.replicas`):
/// its all-reduce starts in one step and is awaited in a later one.
struct AllReduceSpec {
    let bucket: Int
    /// The parameters whose gradients the bucket holds, for dumps.
    let parameters: [String]
    let gradients: [Location]
    let sizes: [Int]
    /// Ranks in the job: the sum of their gradients of their slices' means over this is the global batch's.
    let replicas: Int
}

/// What a step computes, as data; the executor maps it onto kernels.
enum StepOp {
    /// A fused program, then (when the group has one) its pass over the reduced space.
    case fused(FusedSpec, post: FusedSpec?)
    /// Fused programs over one space, each with its pass over the reduced space, run slab by
    /// slab; `folded` marks the axes their reductions fold.
    case phases([(program: FusedSpec, post: FusedSpec?)], folded: [Bool])
    case gemm(c: Location, a: GemmOperand, b: GemmOperand, batch: Int, m: Int, n: Int, k: Int, epilogue: FusedSpec?)
    /// A convolution; forward and data-gradient ones may carry an epilogue over their output,
    /// and one with channel sums a pass over the finished sums.
    case conv(ConvKind, dims: [Int], output: Location, first: Location, second: Location, epilogue: FusedSpec?, post: FusedSpec?)
    case maxPool(dims: [Int], output: Location, input: Location)
    case maxPoolGrad(dims: [Int], output: Location, input: Location, gradient: Location)
    /// Zero-fills `fill` floats at `output` first when set (pad), then strided copies (pad, concat, materialised views).
    case copies(fill: (Location, Int)?, [CopySpec])
    case oneHot(output: Location, labels: Location, count: Int, depth: Int, outOfRange: GraphError?)
    /// A blocking sum across ranks of a small value (synchronised batch statistics).
    case allReduce(output: Location, input: Location, count: Int)
    case update(UpdateSpec)
    case allReduceStart(AllReduceSpec)
    case allReduceFinish(AllReduceSpec)

    var kernelName: String {
        switch self {
        case .fused: return "gg_fused_f32"
        case .phases: return "gg_fused_phases_f32"
        case .gemm(_, let a, let b, _, _, _, _, let e):
            if a.isComputed || b.isComputed { return "gg_gemm_pro_ep_f32" }
            return e == nil ? "gg_gemm_f32" : "gg_gemm_ep_f32"
        case .conv(.forward, _, _, _, _, let e, _): return e == nil ? "gg_conv2d_f32" : "gg_conv2d_ep_f32"
        case .conv(.backwardData, _, _, _, _, let e, _): return e == nil ? "gg_conv2d_bwd_data_f32" : "gg_conv2d_bwd_data_ep_f32"
        case .conv(.backwardFilter, _, _, _, _, _, _): return "gg_conv2d_bwd_filter_f32"
        case .maxPool: return "gg_maxpool2d_f32"
        case .maxPoolGrad: return "gg_maxpool2d_bwd_f32"
        case .copies: return "gg_copy_f32"
        case .oneHot: return "gg_one_hot_f32"
        case .allReduce: return "gg_mpi_allreduce_sum"
        case .allReduceStart: return "gg_mpi_bucket_start"
        case .allReduceFinish: return "gg_mpi_bucket_finish"
        case .update(let u):
            switch u.rule {
            case .sgd: return "gg_sgd_multi_f32"
            case .adam: return "gg_adam_multi_f32"
            case .rmsprop: return "gg_rmsprop_multi_f32"
            }
        }
    }
}
