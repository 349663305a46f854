/// The parsed form of a `.gg` file. Every node keeps its source location so
/// lowering can point errors (and graph nodes' origins) at the text.

/// An expression; `location` is where it starts (a call's is its name).
indirect enum Expression {
    case integer(Int, SourceLocation)
    case real(Double, SourceLocation)
    case name(String, SourceLocation)
    case list([Expression], SourceLocation)
    case negate(Expression, SourceLocation)
    case binary(BinaryOperator, Expression, Expression, SourceLocation)
    case call(Call)

    var location: SourceLocation {
        switch self {
        case .integer(_, let l), .real(_, let l), .name(_, let l), .list(_, let l), .negate(_, let l), .binary(_, _, _, let l):
            return l
        case .call(let c): return c.location
        }
    }

    /// Where the expression's text begins: a pipeline starts at its piped value, `a + b` at `a`.
    var start: SourceLocation {
        switch self {
        case .binary(_, let a, _, _): return a.start
        case .call(let c):
            guard let first = c.arguments.first?.value.start else { return c.location }
            return (first.line, first.column) < (c.location.line, c.location.column) ? first : c.location
        default: return location
        }
    }
}

enum BinaryOperator: String {
    case add = "+", sub = "-", mul = "*", div = "/"
}

/// `f(a, b, k=v)`, or a pipeline stage `a -> f(b)` (the piped value is the
/// first argument), optionally naming the layer it declares: `as enc1`. On a
/// call of a `def` or `network`, `as couplings.0` prefixes every layer the call
/// builds: an instance of the function with parameters of its own.
struct Call {
    let callee: String
    let location: SourceLocation
    var arguments: [Argument]
    var layerName: (path: String, location: SourceLocation)?
}

struct Argument {
    let label: String?
    let value: Expression
    let location: SourceLocation
}

/// `name = expression`, or `a, b = expression` for a function that returns several values.
struct Assignment {
    let names: [String]
    let value: Expression
    let location: SourceLocation
}

/// Local assignments and a result: `{ h = ...; return h }` or `= expression`;
/// `return a, b` returns several values (a list).
struct Body {
    let assignments: [Assignment]
    let result: Expression
}

/// `def f(a, b)` (layers land in the enclosing namespace) or `network G(z)`
/// (layers are prefixed `G.`).
struct FunctionDeclaration {
    let name: String
    let parameters: [String]
    let isNetwork: Bool
    let body: Body
    let location: SourceLocation
}

enum InputKind {
    case images(PixelEncoding)
    case labels(classes: Expression)
}

/// `input x : images[batch, 1, 28, 28] unit` or `input y : labels[batch] of 10`;
/// `input a : images[batch, 1, 28, 28] symmetric class 7` takes the images of class 7 only (a domain).
struct InputDeclaration {
    let name: String
    let kind: InputKind
    let shape: [Expression]
    let domainClass: Expression?
    let location: SourceLocation
}

/// `translate a -> b with G_AB`: the function that turns images of domain `a` into images of `b`.
struct TranslateDeclaration {
    let source: (name: String, location: SourceLocation)
    let target: (name: String, location: SourceLocation)
    let function: (name: String, location: SourceLocation)
    let location: SourceLocation
}

/// `minimize loss over D with adam(lr) clip(-0.01, 0.01)`, or `... clip_norm(100)`.
struct ObjectiveDeclaration {
    let loss: String
    let networks: [(name: String, location: SourceLocation)]
    let optimizer: Call
    let clip: Call?
    let clipNorm: Call?
    let location: SourceLocation
}

/// `phase repeat 5 nodata { minimize ... }`.
struct PhaseDeclaration {
    let repeats: Expression?
    let readsData: Bool
    let objectives: [ObjectiveDeclaration]
    let location: SourceLocation
}

/// `sample n, y { ... }`: images from the prior, `n` at a time, with labels `y` for conditional models;
/// `sample n, temperature t { ... }` binds the sampler's temperature (1 unless asked) to `t`.
struct SampleDeclaration {
    let count: String
    let labels: String?
    let temperature: String?
    let body: Body
    let location: SourceLocation
}

/// `metric neg_elbo = expression` (or `metric d_loss`, the tensor of that name): a number the
/// evaluation graph reports, per example (shape [batch]) or per batch (a scalar).
struct MetricDeclaration {
    let name: String
    let value: Expression
    let location: SourceLocation
}

enum Declaration {
    case hyper(name: String, value: Expression, location: SourceLocation)
    case input(InputDeclaration)
    case initScheme(InitScheme, SourceLocation)
    case function(FunctionDeclaration)
    case assignment(Assignment)
    case phase(PhaseDeclaration)
    case sample(SampleDeclaration)
    case metric(MetricDeclaration)
    case translate(TranslateDeclaration)
}

/// How layers initialise their parameters.
enum InitScheme: String, CaseIterable {
    /// PyTorch's defaults: U(±1/sqrt(fan_in)) weights and biases, batch-norm gamma 1.
    case torch
    /// DCGAN's: N(0, 0.02) weights, zero biases, batch-norm gamma N(1, 0.02).
    case dcgan
}

/// A whole `.gg` file.
struct ModelDeclaration {
    let name: String
    let summary: String
    let location: SourceLocation
    let declarations: [Declaration]
}
