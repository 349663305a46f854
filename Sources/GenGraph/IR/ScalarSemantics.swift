import Foundation

/// Scalar semantics of the unary functions, for constant folding.
func evaluate(_ f: UnaryFunction, _ x: Float) -> Float {
    switch f {
    case .neg: return -x
    case .abs: return Swift.abs(x)
    case .sign: return x > 0 ? 1 : x < 0 ? -1 : x
    case .exp: return Foundation.exp(x)
    case .log: return Foundation.log(x)
    case .log1p: return Foundation.log1p(x)
    case .sqrt: return x.squareRoot()
    case .rsqrt: return 1 / x.squareRoot()
    case .square: return x * x
    case .tanh: return Foundation.tanh(x)
    case .sigmoid: return 1 / (1 + Foundation.exp(-x))
    case .relu: return x.isNaN ? x : Swift.max(x, 0)
    case .softplus: return Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
    // At -inf the product is -inf · 0; the kernels give the limit.
    case .silu: return x == -.infinity ? -0.0 : x * evaluate(.sigmoid, x)
    case .sin: return Foundation.sin(x)
    case .cos: return Foundation.cos(x)
    case .floor: return x.rounded(.down)
    }
}

/// Scalar semantics of the binary functions, for constant folding.
func evaluate(_ f: BinaryFunction, _ a: Float, _ b: Float) -> Float {
    switch f {
    case .add: return a + b
    case .sub: return a - b
    case .mul: return a * b
    case .div: return a / b
    case .pow: return Foundation.pow(a, b)
    case .maximum: return a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
    case .minimum: return a.isNaN || b.isNaN ? .nan : Swift.min(a, b)
    case .less: return a < b ? 1 : 0
    case .lessEqual: return a <= b ? 1 : 0
    case .greater: return a > b ? 1 : 0
    case .greaterEqual: return a >= b ? 1 : 0
    case .equal: return a == b ? 1 : 0
    case .notEqual: return a != b ? 1 : 0
    }
}
