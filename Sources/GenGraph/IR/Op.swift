/// Elementwise functions of one tensor without attributes.
public enum UnaryFunction: String, CaseIterable, Sendable {
    case neg, abs, sign, exp, log, log1p, sqrt, rsqrt, square, tanh, sigmoid, relu, softplus
    /// x · sigmoid(x), one function so that its derivative is exact and fuses as one op.
    case silu
    case sin, cos
    /// The largest integer <= x; its derivative is zero (it draws integer timesteps from uniforms).
    case floor
}

/// Elementwise functions of two tensors of the same shape. Comparisons give 1 or 0.
public enum BinaryFunction: String, CaseIterable, Sendable {
    case add, sub, mul, div, pow, maximum, minimum
    case less, lessEqual = "less_equal", greater, greaterEqual = "greater_equal"
    case equal, notEqual = "not_equal"

    var isComparison: Bool {
        switch self {
        case .less, .lessEqual, .greater, .greaterEqual, .equal, .notEqual: return true
        case .add, .sub, .mul, .div, .pow, .maximum, .minimum: return false
        }
    }
}

public enum ReduceFunction: String, CaseIterable, Sendable {
    case sum, max
}

/// Which of PixelCNN's causal masks a masked convolution uses: `a` hides the
/// centre pixel and everything after it in raster order, `b` only what follows.
public enum ConvMask: String, CaseIterable, Sendable {
    case a, b
}

/// Convolution geometry shared by conv2d, its transpose and their gradients.
public struct Conv2DAttributes: Hashable, Sendable {
    public var stride: Int
    public var padding: Int
    public init(stride: Int = 1, padding: Int = 0) {
        self.stride = stride
        self.padding = padding
    }
}

public struct Pool2DAttributes: Hashable, Sendable {
    public var kernel: Int
    public var stride: Int
    public var padding: Int
    public init(kernel: Int, stride: Int, padding: Int = 0) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }
}

/// What a node computes. A small primitive set: softmax, losses, batch norm
/// and friends are built from these by `Tensor` functions.
public enum Op: Hashable, Sendable {
    // Leaves.
    case input(String)      // data fed each run
    case parameter(String)  // trainable, owned by a ParameterStore
    case state(String)      // non-trainable, persistent (batch-norm running statistics)
    case constant(Float)    // every element equal; the node's shape says how many
    case convMask(ConvMask) // (oc, ic, kh, kw) PixelCNN mask of zeros and ones
    case constantData(ConstantData) // elements that differ, in row-major order
    case randomUniform(stream: Int) // U[0,1); stream keeps draws in one graph apart
    case randomNormal(stream: Int)  // N(0,1)

    // Elementwise; binary and select inputs have the node's shape exactly
    // (broadcasting is explicit through `broadcast`).
    case unary(UnaryFunction)
    case leakyRelu(slope: Float)
    case clamp(min: Float, max: Float)
    case binary(BinaryFunction)
    case select  // (condition, a, b) -> condition != 0 ? a : b
    case stopGradient

    // Reductions keep the reduced axes as size 1.
    case reduce(ReduceFunction, axes: [Int])

    // Movement.
    case reshape                     // to the node's shape
    case permute([Int])
    case broadcast                   // same rank; size-1 dims stretched to the node's shape
    case slice(start: [Int], end: [Int])
    case pad(before: [Int], after: [Int]) // zeros around the input; the adjoint of slice
    case concat(axis: Int)
    /// Integer-valued labels (n) -> (n, depth). A value outside [0, depth) fails the run with
    /// `outOfRange` when given (what the value means to the op that built this one: alpha_bar's
    /// time steps), else as a label.
    case oneHot(depth: Int, outOfRange: GraphError? = nil)
    case allReduce                   // the sum over the ranks of a data-parallel job (`Distributed`); x in one process

    // Contractions.
    case matmul(transposeA: Bool, transposeB: Bool) // (..., M, K) x (..., K, N)
    case conv2d(Conv2DAttributes)              // (x, w): NCHW, w (oc, c, kh, kw)
    case convTranspose2d(Conv2DAttributes)     // (x, w): w (ic, oc, kh, kw); output size in the node
    case conv2dFilterGrad(Conv2DAttributes)    // (x, dy) -> dw of conv2d; kernel size in the node
    case maxPool2d(Pool2DAttributes)
    case maxPool2dGrad(Pool2DAttributes)       // (x, dy) -> dx

    /// The class of an op; passes ask this rather than listing ops.
    public enum Category: Sendable {
        case leaf, random, elementwise, reduction, movement, contraction
    }

    public var category: Category {
        switch self {
        case .input, .parameter, .state, .constant, .convMask, .constantData: return .leaf
        case .randomUniform, .randomNormal: return .random
        case .unary, .leakyRelu, .clamp, .binary, .select, .stopGradient: return .elementwise
        case .reduce: return .reduction
        case .reshape, .permute, .broadcast, .slice, .pad, .concat, .oneHot, .allReduce: return .movement
        case .matmul, .conv2d, .convTranspose2d, .conv2dFilterGrad, .maxPool2d, .maxPool2dGrad:
            return .contraction
        }
    }

    /// The op's name in the graph's text form.
    public var name: String {
        switch self {
        case .input: return "input"
        case .parameter: return "param"
        case .state: return "state"
        case .constant: return "const"
        case .convMask: return "conv_mask"
        case .constantData: return "const_data"
        case .randomUniform: return "random_uniform"
        case .randomNormal: return "random_normal"
        case .unary(let f): return f.rawValue
        case .leakyRelu: return "leaky_relu"
        case .clamp: return "clamp"
        case .binary(let f): return f.rawValue
        case .select: return "select"
        case .stopGradient: return "stop_gradient"
        case .reduce(let f, _): return "reduce_" + f.rawValue
        case .reshape: return "reshape"
        case .permute: return "permute"
        case .broadcast: return "broadcast"
        case .slice: return "slice"
        case .pad: return "pad"
        case .concat: return "concat"
        case .oneHot: return "one_hot"
        case .allReduce: return "all_reduce"
        case .matmul: return "matmul"
        case .conv2d: return "conv2d"
        case .convTranspose2d: return "conv_transpose2d"
        case .conv2dFilterGrad: return "conv2d_filter_grad"
        case .maxPool2d: return "max_pool2d"
        case .maxPool2dGrad: return "max_pool2d_grad"
        }
    }
}
