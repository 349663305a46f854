/// What an expression evaluates to while lowering. Numbers stay numbers
/// until they meet a tensor, so `128 * 7 * 7` is a shape entry and
/// `x * 0.5` builds exactly what the Swift operator `x * 0.5` builds.
enum Value {
    case integer(Int)
    case real(Double)
    case tensor(Tensor)
    case list([Value])
    /// A `def` or `network`, passed by name (to `autoregressive`).
    case function(String)
    /// The result of `autoregressive(f)` in a `sample` body.
    case autoregressive(canvas: Tensor, logits: Tensor, function: String)
    /// The result of `diffusion(f, ...)` in a `sample` body.
    case diffusion(SampleGraph.Denoiser)

    /// How the value reads in an error message.
    var kindDescription: String {
        switch self {
        case .integer(let v): return "the integer \(v)"
        case .real(let v): return "the number \(v)"
        case .tensor(let t): return "a tensor of shape \(t.shape)"
        case .list(let items): return "a list of \(items.count) value\(items.count == 1 ? "" : "s")"
        case .function(let name): return "the function '\(name)'"
        case .autoregressive: return "an autoregressive sampler"
        case .diffusion: return "a diffusion sampler"
        }
    }

    var number: Double? {
        switch self {
        case .integer(let v): return Double(v)
        case .real(let v): return v
        default: return nil
        }
    }

    /// The number as an f32, nil when it is no number or too large for one (it would become inf).
    var float: Float? {
        number.map(Float.init).flatMap { $0.isFinite ? $0 : nil }
    }
}
