import Kernels

/// The kernels' operation codes for the IR's functions: the one place the
/// Swift side maps onto gg_kernels.h's enums.
enum KernelCodes {
    static let unary: [UnaryFunction: gg_unary_op] = [
        .neg: GG_UNARY_NEG, .abs: GG_UNARY_ABS, .sign: GG_UNARY_SIGN, .exp: GG_UNARY_EXP, .log: GG_UNARY_LOG,
        .log1p: GG_UNARY_LOG1P, .sqrt: GG_UNARY_SQRT, .rsqrt: GG_UNARY_RSQRT, .square: GG_UNARY_SQUARE,
        .tanh: GG_UNARY_TANH, .sigmoid: GG_UNARY_SIGMOID, .relu: GG_UNARY_RELU, .softplus: GG_UNARY_SOFTPLUS,
        .silu: GG_UNARY_SILU, .sin: GG_UNARY_SIN, .cos: GG_UNARY_COS,
        .floor: GG_UNARY_FLOOR,
    ]

    static let binary: [BinaryFunction: gg_binary_op] = [
        .add: GG_BINARY_ADD, .sub: GG_BINARY_SUB, .mul: GG_BINARY_MUL, .div: GG_BINARY_DIV, .pow: GG_BINARY_POW,
        .maximum: GG_BINARY_MAX, .minimum: GG_BINARY_MIN, .less: GG_BINARY_LT, .lessEqual: GG_BINARY_LE,
        .greater: GG_BINARY_GT, .greaterEqual: GG_BINARY_GE, .equal: GG_BINARY_EQ, .notEqual: GG_BINARY_NE,
    ]

    static func reduce(_ f: ReduceFunction) -> gg_reduce_op { f == .sum ? GG_REDUCE_SUM : GG_REDUCE_MAX }
}
