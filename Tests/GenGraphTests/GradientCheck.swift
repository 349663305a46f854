import Foundation
@testable import GenGraph
import XCTest

// A finite-difference harness for the reverse-mode transform in
// Sources/GenGraph/Autodiff/Gradients.swift.
//
// A check builds a graph whose parameters (graph.parameter, so they live in
// the session's ParameterStore) are the variables, asks the graph for the
// gradients of a loss with graph.gradients(of:withRespectTo:), runs them with
// session.run, and compares them with central differences
//
//     D_i(h) = (L(θ + h e_i) - L(θ - h e_i)) / (2h),   n_i = (4 D_i(ε/2) - D_i(ε)) / 3
//
// (Richardson extrapolation of the central difference: the h² error term cancels,
// leaving O(ε⁴), which matters for the quartic losses of the second-order checks)
// obtained by writing perturbed values into session.parameters and re-running
// the loss. Building a check returns the loss as a tensor of *terms* (any
// shape): the analytic side differentiates terms.sum(), the numerical side sums
// the f32 terms in Double on the host. Perturbing θ_i leaves every term that
// does not depend on θ_i bit-identical (the kernels are deterministic), so the
// difference only carries the rounding of the terms that move.
//
// Tolerances (everything runs in f32):
//   * ε = 1e-2 by default, absolute: checked values are drawn with magnitude
//     O(1) and kept >= 0.05 away from kinks and domain edges, so a perturbation
//     never crosses one. Truncation error is O(ε⁴·|f⁽⁵⁾|) ≈ 1e-8·|f⁽⁵⁾|; f32
//     rounding of a moved O(1) term is ~1e-7, divided by 2·(ε/2) and weighted
//     by 4/3 gives ~2e-5 per term.
//   * per element:   |a - n| <= 5e-3 · max(1, |n|, 1e-2 · maxⱼ|nⱼ|)  (the last term: rounding
//     noise scales with the loss's largest terms, so a tiny element of a large
//     gradient may be off by 5e-5 of the largest element)
//   * whole tensor:  ‖a - n‖₂ <= 1e-2 · ‖n‖₂   (when ‖n‖₂ >= 1e-2)
//   * unless a check says otherwise, ‖n‖₂ must exceed 1e-3 for some target, so
//     a check whose loss does not depend on its targets cannot pass vacuously.
// Both bounds are 20-100x above the error budget above and well below what a
// wrong rule produces (a missing factor, a transposed operand, a dropped
// broadcast sum all give O(1) relative errors); HarnessGradientTests shows
// the harness flags a 2% error.

/// Deterministic test data (SplitMix64), independent of the engine's random kernels.
struct TestRNG {
    private var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 ^ 0xD1B5_4A32_D192_ED03 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }

    mutating func normal() -> Float {
        let u1 = Double(next() >> 11 | 1) / Double(1 << 53), u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    mutating func sign() -> Float { next() & 1 == 0 ? 1 : -1 }

    mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, Int(next() % UInt64(i + 1))) }
        return p
    }
}

/// How a checked parameter's values are chosen.
enum Draw {
    /// The session draws it from the graph's initializer (here .normal(0, 1)).
    case initializer
    /// N(0, std²), redrawn while within `margin` of any of `avoiding` (kinks, clamp bounds).
    case normal(std: Float = 1, avoiding: [Float] = [], margin: Float = 0.05)
    case uniform(Float, Float)
    /// A random sign times U[lo, hi): nonzero with |x| >= lo.
    case awayFromZero(Float, Float)
    /// A random permutation of {0, s, 2s, ...} shifted to be centred on 0: no ties and
    /// no two values closer than `spacing`, so a max never changes under perturbation.
    case distinct(spacing: Float = 0.05)
    case values([Float])

    func sample(_ count: Int, _ rng: inout TestRNG) -> [Float] {
        switch self {
        case .initializer: return []
        case .normal(let std, let avoiding, let margin):
            return (0..<count).map { _ in
                while true {
                    let x = std * rng.normal()
                    if !avoiding.contains(where: { Swift.abs(x - $0) < margin }) { return x }
                }
            }
        case .uniform(let lo, let hi): return (0..<count).map { _ in rng.uniform(lo, hi) }
        case .awayFromZero(let lo, let hi): return (0..<count).map { _ in rng.sign() * rng.uniform(lo, hi) }
        case .distinct(let spacing):
            let centre = Float(count - 1) / 2
            return rng.permutation(count).map { (Float($0) - centre) * spacing }
        case .values(let v):
            precondition(v.count == count, "Draw.values has \(v.count) values for \(count) elements")
            return v
        }
    }
}

/// What a check's build closure declares its graph with: parameters with
/// chosen values, fed inputs, and fixed random weightings.
final class CheckBuilder {
    let graph = Graph()
    var rng: TestRNG
    private(set) var values: [String: TensorValue] = [:]
    private(set) var feeds: [String: TensorValue] = [:]
    private var weightCount = 0

    init(seed: UInt64) { rng = TestRNG(seed: seed) }

    /// A parameter named `name`; its values follow `draw`.
    func param(_ name: String, _ shape: Shape, _ draw: Draw = .normal()) throws -> Tensor {
        let t = try graph.parameter(name, shape, initializer: .normal(mean: 0, std: 1))
        if case .initializer = draw { return t }
        values[name] = try TensorValue(shape: shape, scalars: draw.sample(shape.count, &rng))
        return t
    }

    /// An input fed with `draw`'s values on every run.
    func input(_ name: String, _ shape: Shape, _ draw: Draw = .normal()) throws -> Tensor {
        let t = try graph.input(name, shape)
        feeds[name] = try TensorValue(shape: shape, scalars: draw.sample(shape.count, &rng))
        return t
    }

    /// A fixed random weighting of `shape` (a parameter that is never a target),
    /// entries ±U[0.5, 1.5): contracting with it instead of a plain sum makes
    /// every output element matter differently, so e.g. a transposed or
    /// permuted gradient cannot pass.
    func weighting(_ shape: Shape) throws -> Tensor {
        weightCount += 1
        return try param("check.weighting\(weightCount)", shape, .awayFromZero(0.5, 1.5))
    }

    /// y ⊙ W for a fresh weighting W: the terms of the loss Σ W ⊙ y.
    func weigh(_ y: Tensor) throws -> Tensor { try y * weighting(y.shape) }
}

/// What one check measured.
struct GradientReport {
    var names: [String] = []
    var analytic: [[Float]] = []
    var numeric: [[Float]] = []
    var failures: [String] = []

    func analytic(_ name: String) -> [Float] { analytic[names.firstIndex(of: name)!] }
}

struct GradientTolerance {
    /// Absolute perturbation of each element.
    var eps: Float = 1e-2
    /// Per element: |a - n| <= elementwise · max(1, |n|, relativeFloor · maxⱼ|nⱼ|).
    var elementwise: Float = 5e-3
    /// The rounding noise of a difference scales with the loss's largest terms, not with
    /// the element's own derivative, so a tiny element of a large gradient is held to
    /// an absolute error of elementwise · relativeFloor = 5e-5 of the largest element.
    var relativeFloor: Float = 1e-2
    /// Whole target: ‖a - n‖₂ <= norm · ‖n‖₂ when ‖n‖₂ >= 1e-2.
    var norm: Float = 1e-2
    /// Require some target's numerical gradient to have ‖n‖₂ > 1e-3.
    var expectNonzero = true

    static let standard = GradientTolerance()
}

enum GradientCheck {
    /// Builds the check, runs the analytic gradients of the loss's terms' sum and the
    /// central differences, and lists every element or norm outside the tolerance.
    static func report(seed: UInt64 = 1, tolerance: GradientTolerance = .standard,
                       threads: Int = 1,
                       _ build: (CheckBuilder) throws -> (terms: Tensor, targets: [Tensor])) throws -> GradientReport {
        let b = CheckBuilder(seed: seed)
        let (terms, targets) = try build(b)
        let g = b.graph
        let loss = terms.shape.count == 1 ? terms : try terms.sum()
        let gradients = try g.gradients(of: loss, withRespectTo: targets)
        let session = try Session(graph: g, config: RunConfig(threads: threads, seed: seed))
        for (name, value) in b.values { try session.parameters.set(name, value) }

        var report = GradientReport()
        report.analytic = try session.run(gradients, feeds: b.feeds).map(\.scalars)
        for (t, grad) in zip(targets, gradients) where grad.shape != t.shape {
            report.failures.append("gradient of %\(t.id) has shape \(grad.shape), target \(t.shape)")
        }

        func evaluate() throws -> Double {
            try session.run([terms], feeds: b.feeds)[0].scalars.reduce(0.0) { $0 + Double($1) }
        }
        var largestNorm: Float = 0
        for (t, analytic) in zip(targets, report.analytic) {
            guard case .parameter(let name) = t.node.op else {
                report.failures.append("target %\(t.id) is \(t.node.op.name), not a parameter")
                report.names.append("%\(t.id)")
                report.numeric.append([])
                continue
            }
            report.names.append(name)
            let original = session.parameters.value(name)!
            var x = original.scalars
            var numeric = [Float](repeating: 0, count: x.count)
            for i in x.indices {
                let centre = x[i]
                /// The central difference with step h (divided by the f32 step actually taken).
                func central(_ h: Float) throws -> Double {
                    let up = centre + h, down = centre - h
                    x[i] = up
                    try session.parameters.set(name, TensorValue(shape: original.shape, scalars: x))
                    let plus = try evaluate()
                    x[i] = down
                    try session.parameters.set(name, TensorValue(shape: original.shape, scalars: x))
                    let minus = try evaluate()
                    x[i] = centre
                    return (plus - minus) / Double(up - down)
                }
                // Richardson: D(h) = f' + h²f'''/6 + O(h⁴), so (4 D(ε/2) - D(ε)) / 3 = f' + O(ε⁴).
                let coarse = try central(tolerance.eps), fine = try central(tolerance.eps / 2)
                numeric[i] = Float((4 * fine - coarse) / 3)
            }
            try session.parameters.set(name, original)
            report.numeric.append(numeric)

            var diff2: Float = 0, norm2: Float = 0
            var bad: [String] = []
            let floor = tolerance.relativeFloor * (numeric.map { Swift.abs($0) }.max() ?? 0)
            for i in numeric.indices {
                let a = analytic[i], n = numeric[i]
                diff2 += (a - n) * (a - n)
                norm2 += n * n
                if !(Swift.abs(a - n) <= tolerance.elementwise * Swift.max(1, Swift.abs(n), floor)) {
                    bad.append("[\(i)] analytic \(a) numeric \(n)")
                }
            }
            if !bad.isEmpty {
                let largest = numeric.map { Swift.abs($0) }.max() ?? 0
                report.failures.append("'\(name)' \(original.shape) (max |n| \(largest)): \(bad.count) of \(numeric.count) elements differ: "
                    + bad.prefix(6).joined(separator: ", "))
            }
            let norm = norm2.squareRoot(), diff = diff2.squareRoot()
            largestNorm = Swift.max(largestNorm, norm)
            if norm >= 1e-2 && !(diff <= tolerance.norm * norm) {
                report.failures.append("'\(name)': ‖analytic - numeric‖ = \(diff), ‖numeric‖ = \(norm)")
            }
        }
        if tolerance.expectNonzero && !(largestNorm > 1e-3) {
            report.failures.append("every numerical gradient is ~0 (largest norm \(largestNorm)): the check tests nothing")
        }
        return report
    }

    /// `report`, failing the calling test for every mismatch.
    @discardableResult
    static func check(_ label: String, seed: UInt64 = 1, tolerance: GradientTolerance = .standard,
                      file: StaticString = #filePath, line: UInt = #line,
                      _ build: (CheckBuilder) throws -> (terms: Tensor, targets: [Tensor])) -> GradientReport? {
        do {
            let r = try report(seed: seed, tolerance: tolerance, build)
            for failure in r.failures { XCTFail("\(label): \(failure)", file: file, line: line) }
            return r
        } catch {
            XCTFail("\(label): threw \(error)", file: file, line: line)
            return nil
        }
    }

    /// Second order: builds a scalar f, differentiates it with respect to `inner`
    /// (for WGAN-GP, the critic's input), and checks the gradient of
    ///
    ///     loss₂ = Σᵢ Σ uᵢ ⊙ ∇_{innerᵢ} f  +  Σᵢ Σ (∇_{innerᵢ} f)²
    ///
    /// (u a fixed random weighting: the first part is a Hessian-vector
    /// product, the second the "sum(square(grad))" form) with respect to
    /// `targets` against central differences of loss₂, which is itself computed
    /// from the first-order gradient graph. Pass `outer` to use another loss₂.
    @discardableResult
    static func checkSecondOrder(_ label: String, seed: UInt64 = 1, tolerance: GradientTolerance = .standard,
                                 file: StaticString = #filePath, line: UInt = #line,
                                 outer: ((CheckBuilder, [Tensor]) throws -> Tensor)? = nil,
                                 _ build: (CheckBuilder) throws -> (f: Tensor, inner: [Tensor], targets: [Tensor])) -> GradientReport? {
        check(label, seed: seed, tolerance: tolerance, file: file, line: line) { b in
            let (f, inner, targets) = try build(b)
            let firsts = try b.graph.gradients(of: f, withRespectTo: inner)
            if let outer { return (try outer(b, firsts), targets) }
            // Kept as a vector of terms, so the host sums them in Double.
            let terms = try firsts.flatMap { g in [try b.weigh(g).reshape([-1]), try g.square().reshape([-1])] }
            return (try concat(terms, axis: 0), targets)
        }
    }
}

/// Elementwise |a - e| <= tolerance · max(1, |e|).
func assertValuesClose(_ actual: [Float], _ expected: [Float], _ tolerance: Float,
                       file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() where !(Swift.abs(a - e) <= tolerance * Swift.max(1, Swift.abs(e))) {
        XCTFail("[\(i)] \(a) != \(e) (all: \(actual))", file: file, line: line)
        return
    }
}
