@testable import GenGraph
import XCTest

// One finite-difference check per op and per builder (harness and tolerances:
// GradientCheck.swift). Every op's output is contracted with a fixed random
// weighting (CheckBuilder.weigh) rather than summed, and every input is kept
// >= 0.05 away from kinks, ties and domain edges, so ε = 1e-2 never crosses one.

private typealias GC = GradientCheck

// MARK: - The harness itself

final class HarnessGradientTests: XCTestCase {
    /// stop_gradient makes the graph's gradient differ from the function's derivative by
    /// a known amount: here 2% of the gradient, which the tolerances must flag.
    func testHarnessFlagsATwoPercentError() throws {
        let report = try GC.report { b in
            let x = try b.param("x", [4, 5], .awayFromZero(0.5, 1.5))
            // d/dx = 1 + 0.04x, but the graph's gradient is 1 + 0.02x.
            return (try b.weigh(x + x * x.stopGradient() * 0.02), [x])
        }
        XCTAssertFalse(report.failures.isEmpty)
        XCTAssertTrue(report.failures.contains { $0.contains("‖analytic - numeric‖") }, "\(report.failures)")
    }

    func testHarnessAcceptsACorrectGradientAndRequiresDependence() throws {
        let good = try GC.report { b in
            let x = try b.param("x", [4, 5], .awayFromZero(0.5, 1.5))
            return (try b.weigh(x + x * x * 0.02), [x])
        }
        XCTAssertEqual(good.failures, [])
        XCTAssertEqual(good.analytic[0].count, 20)
        let unrelated = try GC.report { b in
            let x = try b.param("x", [3]), y = try b.param("y", [3])
            return (try b.weigh(y.square()), [x])
        }
        XCTAssertEqual(unrelated.analytic[0], [0, 0, 0])
        XCTAssertTrue(unrelated.failures.contains { $0.contains("tests nothing") }, "\(unrelated.failures)")
    }

    func testRandomDataIsSeeded() {
        var a = TestRNG(seed: 4), b = TestRNG(seed: 4), c = TestRNG(seed: 5)
        let xs = (0..<8).map { _ in a.normal() }
        XCTAssertEqual(xs, (0..<8).map { _ in b.normal() })
        XCTAssertNotEqual(xs, (0..<8).map { _ in c.normal() })
        var d = TestRNG(seed: 1)
        let distinct = Draw.distinct(spacing: 0.05).sample(24, &d).sorted()
        XCTAssertTrue(zip(distinct, distinct.dropFirst()).allSatisfy { $1 - $0 >= 0.049 })
    }
}

// MARK: - Elementwise

final class ElementwiseGradientTests: XCTestCase {
    func testEveryUnaryFunction() {
        for f in UnaryFunction.allCases {
            let draw: Draw
            var tolerance = GradientTolerance.standard
            switch f {
            case .log, .sqrt, .rsqrt: draw = .uniform(0.5, 2)
            case .log1p: draw = .uniform(-0.5, 2)
            case .abs, .relu: draw = .normal(avoiding: [0])
            case .sign:
                draw = .normal(avoiding: [0])
                tolerance.expectNonzero = false
            case .floor:
                draw = .uniform(1.1, 1.9)  // between integers, where floor is flat
                tolerance.expectNonzero = false
            case .neg, .exp, .square, .tanh, .sigmoid, .softplus, .silu, .sin, .cos: draw = .normal()
            }
            let report = GC.check("unary \(f)", tolerance: tolerance) { b in
                let x = try b.param("x", [3, 4], draw)
                return (try b.weigh(x.unary(f)), [x])
            }
            if f == .sign || f == .floor, let report { XCTAssertEqual(report.analytic[0], [Float](repeating: 0, count: 12)) }
            if f == .relu, let report {
                // Exactly zero where the input is negative, not just small.
                XCTAssertTrue(report.numeric[0].contains(0))
            }
        }
    }

    /// A non-negative slope's derivative tests the output's sign; a negative slope's (where y > 0
    /// also for x < 0) must test the input's.
    func testLeakyRelu() {
        for slope: Float in [0.2, 0, -0.3] {
            GC.check("leaky_relu slope \(slope)") { b in
                let x = try b.param("x", [3, 5], .normal(avoiding: [0]))
                return (try b.weigh(x.leakyRelu(slope)), [x])
            }
        }
    }

    func testClampAwayFromTheBounds() {
        let report = GC.check("clamp") { b in
            let x = try b.param("x", [4, 5], .normal(std: 0.7, avoiding: [-0.5, 0.5]))
            return (try b.weigh(x.clamp(-0.5, 0.5)), [x])
        }
        // Both the clamped (zero) and the pass-through regions are exercised.
        if let n = report?.numeric.first {
            XCTAssertTrue(n.contains(0))
            XCTAssertTrue(n.contains { $0 != 0 })
        }
    }

    /// (label, shape of a, shape of b): equal shapes, a row, a column, a scalar,
    /// a missing leading axis, both sides stretched, and the smaller operand first.
    static let broadcastCases: [(String, Shape, Shape)] = [
        ("same", [3, 4], [3, 4]),
        ("row", [3, 4], [4]),
        ("column", [3, 4], [3, 1]),
        ("scalar", [3, 4], []),
        ("leading axis", [2, 3, 4], [3, 4]),
        ("outer", [3, 1], [1, 4]),
        ("row first", [4], [3, 4]),
        ("scalar first", [], [2, 3]),
    ]

    func testEveryBinaryFunctionWithBroadcasting() {
        for f in BinaryFunction.allCases where !f.isComparison {
            let da: Draw, db: Draw
            switch f {
            case .add, .sub, .mul: (da, db) = (.normal(), .normal())
            case .div: (da, db) = (.normal(), .awayFromZero(0.5, 1.5))
            case .pow: (da, db) = (.uniform(0.5, 2), .uniform(-1.5, 2.5))
            // |a| >= 0.3 and |b| < 0.1: no ties, and each side wins somewhere.
            case .maximum, .minimum: (da, db) = (.awayFromZero(0.3, 1.5), .uniform(-0.1, 0.1))
            case .less, .lessEqual, .greater, .greaterEqual, .equal, .notEqual: continue
            }
            for (label, sa, sb) in Self.broadcastCases {
                // For max/min keep the O(1) operand on the larger side so that both win somewhere.
                let (drawA, drawB) = (f == .maximum || f == .minimum) && sa.count < sb.count ? (db, da) : (da, db)
                GC.check("\(f) \(label) \(sa) with \(sb)") { b in
                    let x = try b.param("a", sa, drawA), y = try b.param("b", sb, drawB)
                    return (try b.weigh(x.binary(f, y)), [x, y])
                }
            }
        }
    }

    func testOperatorsWithFloats() {
        GC.check("float operators") { b in
            let x = try b.param("x", [2, 3], .awayFromZero(0.5, 1.5))
            let p = try (2 - x) * 3, q = try 1 / x, r = try x / 4, t = try 0.5 * x
            let u = try x + 1, v = try x - 2, n = try -x
            let y = try p + q - r + t * u * v + n
            return (try b.weigh(y), [x])
        }
    }

    func testPowWithTensorAndScalarExponents() {
        GC.check("pow tensor exponent") { b in
            let x = try b.param("x", [3, 4], .uniform(0.5, 2))
            let e = try b.param("e", [3, 4], .uniform(-2, 3))
            return (try b.weigh(x.pow(e)), [x, e])
        }
        GC.check("pow scalar 2.5") { b in
            let x = try b.param("x", [3, 4], .uniform(0.5, 2))
            return (try b.weigh(x.pow(2.5)), [x])
        }
        GC.check("pow scalar -1.5") { b in
            let x = try b.param("x", [3, 4], .uniform(0.5, 2))
            return (try b.weigh(x.pow(-1.5)), [x])
        }
        GC.check("pow scalar 3 of negative bases") { b in
            let x = try b.param("x", [3, 4], .awayFromZero(0.3, 1.5))
            return (try b.weigh(x.pow(3)), [x])
        }
    }

    func testSelect() {
        let pattern: [Float] = [1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0]
        GC.check("select") { b in
            let c = try b.input("c", [3, 4], .values(pattern))
            let x = try b.param("x", [3, 4]), y = try b.param("y", [4])
            return (try b.weigh(select(c, x, y)), [x, y])
        }
        GC.check("select on a comparison") { b in
            let x = try b.param("x", [3, 4], .normal(avoiding: [0]))
            return (try b.weigh(select(x.greater(0), x.square(), x * 3)), [x])
        }
    }

    func testStopGradient() throws {
        // Gradient through stop_gradient is exactly 0, and it is not a gradient of zero that FD would see.
        let report = try GC.report { b in
            let x = try b.param("x", [3, 4])
            return (try b.weigh(x.stopGradient()), [x])
        }
        XCTAssertEqual(report.analytic[0], [Float](repeating: 0, count: 12))
        XCTAssertFalse(report.failures.isEmpty, "finite differences see through stop_gradient; the harness must flag it")
        // x ⊙ stop(x): the gradient is w ⊙ stop(x) only.
        let g = Graph()
        let x = try g.parameter("x", [2, 3], initializer: .normal(mean: 0, std: 1))
        let w = try g.parameter("w", [2, 3], initializer: .normal(mean: 0, std: 1))
        let loss = try (x * x.stopGradient() * w).sum()
        let dx = try g.gradients(of: loss, withRespectTo: [x])[0]
        let s = try Session(graph: g, config: RunConfig(threads: 1, seed: 3))
        let (xv, wv) = (s.parameters.value("x")!.scalars, s.parameters.value("w")!.scalars)
        assertValuesClose(try s.run([dx])[0].scalars, zip(xv, wv).map { $0 * $1 }, 1e-6)
    }
}

// MARK: - Reductions and movement

final class ReductionGradientTests: XCTestCase {
    func testReductions() {
        let axesCases: [[Int]?] = [[1], [-1], [0, 2], nil, [0, 1, 2]]
        for reduction in ["sum", "max", "mean", "variance", "logSumExp"] {
            for axes in axesCases {
                for keepDims in [false, true] {
                    GC.check("\(reduction) axes \(axes.map { "\($0)" } ?? "all") keepDims \(keepDims)") { b in
                        let x = try b.param("x", [2, 3, 4], reduction == "max" ? .distinct() : .normal())
                        let y: Tensor
                        switch reduction {
                        case "sum": y = try x.sum(axes: axes, keepDims: keepDims)
                        case "max": y = try x.max(axes: axes, keepDims: keepDims)
                        case "mean": y = try x.mean(axes: axes, keepDims: keepDims)
                        case "variance": y = try x.variance(axes: axes, keepDims: keepDims)
                        default: y = try x.logSumExp(axes: axes, keepDims: keepDims)
                        }
                        return (try b.weigh(y), [x])
                    }
                }
            }
        }
    }

    func testMaxTiesShareTheGradient() throws {
        let g = Graph()
        let x = try g.input("x", [2, 3])
        let dx = try g.gradients(of: x.max(axes: [1]), withRespectTo: [x])[0]
        let s = try Session(graph: g, config: RunConfig(threads: 1))
        let out = try s.run([dx], feeds: ["x": TensorValue(shape: [2, 3], scalars: [1, 3, 3, 2, 0, -1])])[0]
        XCTAssertEqual(out.scalars, [0, 0.5, 0.5, 1, 0, 0])
    }

    func testReshape() {
        GC.check("reshape") { b in
            let x = try b.param("x", [2, 6])
            return (try b.weigh(x.reshape([3, -1]).square()), [x])
        }
    }

    func testPermute3D() {
        for perm in [[2, 0, 1], [1, 2, 0], [0, 2, 1]] {
            GC.check("permute \(perm)") { b in
                let x = try b.param("x", [2, 3, 4])
                // A non-elementwise consumer, so a wrong inverse permutation cannot cancel out.
                return (try b.weigh(x.permute(perm).square()), [x])
            }
        }
    }

    func testBroadcast() {
        GC.check("expand [3,1] -> [2,3,4]") { b in
            let x = try b.param("x", [3, 1])
            return (try b.weigh(x.expand(to: [2, 3, 4])), [x])
        }
        GC.check("broadcast node [1,4,1] -> [3,4,2]") { b in
            let x = try b.param("x", [1, 4, 1])
            return (try b.weigh(b.graph.add(.broadcast, [x], shape: [3, 4, 2])), [x])
        }
    }

    func testSliceAndPad() {
        GC.check("slice (gradient is pad)") { b in
            let x = try b.param("x", [4, 5])
            return (try b.weigh(x.slice(start: [1, 2], end: [3, 5])), [x])
        }
        GC.check("slice of one axis") { b in
            let x = try b.param("x", [2, 5, 3])
            return (try b.weigh(x.slice(axis: -2, 1..<4)), [x])
        }
        GC.check("pad (gradient is slice)") { b in
            let x = try b.param("x", [2, 3])
            return (try b.weigh(b.graph.add(.pad(before: [1, 0], after: [2, 1]), [x])), [x])
        }
        GC.check("gradient of the pad that slice's gradient makes") { b in
            // d/dx Σ u ⊙ ∂(Σ w ⊙ slice(x²))/∂x: differentiates pad.
            let x = try b.param("x", [4, 5])
            let inner = try b.weigh(x.square().slice(start: [1, 1], end: [3, 4])).sum()
            let dx = try b.graph.gradients(of: inner, withRespectTo: [x])[0]
            XCTAssertTrue(b.graph.nodes.contains { if case .pad = $0.op { return true }; return false })
            return (try b.weigh(dx), [x])
        }
    }

    func testConcat() {
        GC.check("concat axis 0") { b in
            let x = try b.param("x", [2, 3]), y = try b.param("y", [1, 3]), z = try b.param("z", [3, 3])
            return (try b.weigh(concat([x, y, z], axis: 0).square()), [x, y, z])
        }
        GC.check("concat axis 1") { b in
            let x = try b.param("x", [2, 3]), y = try b.param("y", [2, 1]), z = try b.param("z", [2, 2])
            return (try b.weigh(concat([x, y, z], axis: 1).square()), [x, y, z])
        }
        GC.check("concat axis -1 of 3-D") { b in
            let x = try b.param("x", [2, 2, 3]), y = try b.param("y", [2, 2, 2])
            return (try b.weigh(concat([x, y], axis: -1)), [x, y])
        }
    }
}

// MARK: - Contractions

final class ContractionGradientTests: XCTestCase {
    func testMatmulAllTransposeFlags() {
        let (m, k, n) = (3, 4, 2)
        for ta in [false, true] {
            for tb in [false, true] {
                GC.check("matmul ta=\(ta) tb=\(tb)") { b in
                    let a = try b.param("a", ta ? [k, m] : [m, k]), c = try b.param("b", tb ? [n, k] : [k, n])
                    return (try b.weigh(a.matmul(c, transposeA: ta, transposeB: tb)), [a, c])
                }
                GC.check("batched matmul ta=\(ta) tb=\(tb)") { b in
                    let a = try b.param("a", ta ? [2, k, m] : [2, m, k]), c = try b.param("b", tb ? [2, n, k] : [2, k, n])
                    return (try b.weigh(a.matmul(c, transposeA: ta, transposeB: tb)), [a, c])
                }
            }
        }
    }

    func testMatmul3DBy2DFolded() {
        for tb in [false, true] {
            GC.check("folded [2,3,4] x 2-D tb=\(tb)") { b in
                let a = try b.param("a", [2, 3, 4]), w = try b.param("w", tb ? [5, 4] : [4, 5])
                let y = try a.matmul(w, transposeB: tb)
                XCTAssertEqual(y.shape, [2, 3, 5])
                return (try b.weigh(y), [a, w])
            }
        }
    }

    func testMatmulOfViews() {
        GC.check("matmul of a permuted and a sliced operand") { b in
            let a = try b.param("a", [4, 3]), c = try b.param("c", [4, 6])
            let y = try a.transposed().matmul(c.slice(axis: 1, 1..<4))
            return (try b.weigh(y), [a, c])
        }
    }

    func testConv2d() {
        for (stride, padding) in [(1, 0), (1, 1), (2, 0), (2, 1)] {
            GC.check("conv2d stride \(stride) padding \(padding)") { b in
                let x = try b.param("x", [2, 2, 5, 5]), w = try b.param("w", [3, 2, 3, 3])
                return (try b.weigh(x.conv2d(w, stride: stride, padding: padding)), [x, w])
            }
        }
        GC.check("conv2d stride 2 leaving the last row and column unused") { b in
            let x = try b.param("x", [1, 2, 6, 6]), w = try b.param("w", [2, 2, 3, 3])
            return (try b.weigh(x.conv2d(w, stride: 2)), [x, w])
        }
        GC.check("conv2d 1x2 kernel, padding 1") { b in
            let x = try b.param("x", [1, 2, 4, 4]), w = try b.param("w", [2, 2, 3, 1])
            return (try b.weigh(x.conv2d(w, padding: 1)), [x, w])
        }
    }

    func testConvTranspose2d() {
        for outputPadding in [0, 1] {
            GC.check("conv_transpose2d stride 2 padding 1 output padding \(outputPadding)") { b in
                let x = try b.param("x", [2, 3, 3, 3]), w = try b.param("w", [3, 2, 3, 3])
                let y = try x.convTranspose2d(w, stride: 2, padding: 1, outputPadding: outputPadding)
                XCTAssertEqual(y.shape, [2, 2, 5 + outputPadding, 5 + outputPadding])
                return (try b.weigh(y), [x, w])
            }
        }
        GC.check("conv_transpose2d stride 2 padding 0 output padding 1") { b in
            let x = try b.param("x", [1, 2, 3, 3]), w = try b.param("w", [2, 3, 4, 4])
            return (try b.weigh(x.convTranspose2d(w, stride: 2, outputPadding: 1)), [x, w])
        }
    }

    func testMaxPool2d() {
        for (kernel, stride, padding) in [(2, 2, 0), (3, 1, 1), (3, 2, 0), (2, 1, 1)] {
            GC.check("max_pool2d k=\(kernel) s=\(stride) p=\(padding)") { b in
                let x = try b.param("x", [2, 2, 5, 5], .distinct())
                return (try b.weigh(x.maxPool2d(kernel: kernel, stride: stride, padding: padding)), [x])
            }
        }
    }

    func testConv2dFilterGrad() {
        for (stride, padding) in [(1, 0), (2, 1)] {
            GC.check("conv2d_filter_grad stride \(stride) padding \(padding)") { b in
                let x = try b.param("x", [2, 2, 5, 5])
                let oh = (5 + 2 * padding - 3) / stride + 1
                let dy = try b.param("dy", [2, 3, oh, oh])
                let dw = try b.graph.add(.conv2dFilterGrad(Conv2DAttributes(stride: stride, padding: padding)), [x, dy],
                                         shape: [3, 2, 3, 3])
                return (try b.weigh(dw), [x, dy])
            }
        }
    }

    func testSecondDerivativeOfMaxPoolIsRefused() throws {
        let g = Graph()
        let x = try g.parameter("x", [1, 1, 4, 4])
        let dx = try g.gradients(of: x.maxPool2d(kernel: 2).sum(), withRespectTo: [x])[0]
        XCTAssertThrowsError(try g.gradients(of: dx.square().sum(), withRespectTo: [x])) { error in
            XCTAssertEqual((error as? GraphError)?.op, "max_pool2d_grad")
        }
    }
}

// MARK: - Layers and losses

final class LayerGradientTests: XCTestCase {
    /// The parameter `name` the layer declared (same name and shape returns the same leaf).
    private func declared(_ b: CheckBuilder, _ name: String) throws -> Tensor {
        let t = b.graph.parameters.first { $0.node.op == .parameter(name) }
        guard let t else { throw GraphError(op: "test", "no parameter \(name)") }
        return t
    }

    func testDense() {
        GC.check("dense") { b in
            let x = try b.param("x", [3, 4])
            let y = try x.dense(5, name: "fc")
            return try (b.weigh(y), [x, declared(b, "fc.weight"), declared(b, "fc.bias")])
        }
    }

    func testConv2dLayer() {
        GC.check("conv2d layer") { b in
            let x = try b.param("x", [2, 2, 5, 5])
            let y = try x.conv2d(3, kernel: 3, stride: 2, padding: 1, name: "conv")
            return try (b.weigh(y), [x, declared(b, "conv.weight"), declared(b, "conv.bias")])
        }
    }

    func testConvTranspose2dLayer() {
        GC.check("conv_transpose2d layer") { b in
            let x = try b.param("x", [2, 3, 3, 3])
            let y = try x.convTranspose2d(2, kernel: 3, stride: 2, padding: 1, outputPadding: 1, name: "deconv")
            XCTAssertEqual(y.shape, [2, 2, 6, 6])
            return try (b.weigh(y), [x, declared(b, "deconv.weight"), declared(b, "deconv.bias")])
        }
    }

    func testMaskedConv() {
        for mask in ConvMask.allCases {
            let report = GC.check("masked conv \(mask)") { b in
                let x = try b.param("x", [2, 2, 4, 4])
                let y = try x.conv2d(2, kernel: 3, padding: 1, name: "pixel", mask: mask)
                return try (b.weigh(y), [x, declared(b, "pixel.weight"), declared(b, "pixel.bias")])
            }
            guard let report else { continue }
            let dw = report.analytic("pixel.weight")
            XCTAssertEqual(dw.count, 2 * 2 * 9)
            for (i, value) in dw.enumerated() {
                let p = i % 9  // position in the 3x3 kernel, raster order; the centre is 4
                let visible = p < 4 || (p == 4 && mask == .b)
                if visible {
                    XCTAssertNotEqual(value, 0, "mask \(mask): weight \(i) is visible but got no gradient")
                } else {
                    XCTAssertEqual(value, 0, "mask \(mask): masked-out weight \(i) got gradient \(value)")
                }
            }
        }
    }

    func testBatchNormTraining() {
        for shape: Shape in [[6, 3], [2, 3, 2, 2]] {
            GC.check("batch norm (training) \(shape)") { b in
                let x = try b.param("x", shape)
                let y = try x.batchNorm(name: "bn", training: true, gammaInit: .uniform(low: 0.5, high: 1.5))
                return try (b.weigh(y), [x, declared(b, "bn.weight"), declared(b, "bn.bias")])
            }
        }
    }

    func testBCEWithLogits() {
        GC.check("bce with logits, elementwise") { b in
            let logits = try b.param("logits", [4, 3], .normal(std: 2, avoiding: [0]))
            let targets = try b.input("targets", [4, 3], .uniform(0, 1))
            return (try b.weigh(bceWithLogits(logits, targets)), [logits])
        }
    }

    func testBCEWithLogitsIsFiniteForHugeLogits() throws {
        let g = Graph()
        let logits = try g.parameter("logits", [4])
        let targets = try g.input("targets", [4])
        let terms = try bceWithLogits(logits, targets)
        let dl = try g.gradients(of: terms.sum(), withRespectTo: [logits])[0]
        let s = try Session(graph: g, config: RunConfig(threads: 1))
        try s.parameters.set("logits", TensorValue(shape: [4], scalars: [1e4, 1e4, -1e4, -1e4]))
        let out = try s.run([terms, dl], feeds: ["targets": TensorValue(shape: [4], scalars: [0, 1, 0, 1])])
        XCTAssertTrue(out[0].scalars.allSatisfy(\.isFinite), "\(out[0].scalars)")
        XCTAssertTrue(out[1].scalars.allSatisfy(\.isFinite), "\(out[1].scalars)")
        assertValuesClose(out[0].scalars, [1e4, 0, 0, 1e4], 1e-3)
        assertValuesClose(out[1].scalars, [1, 0, 0, -1], 1e-6)  // sigmoid(l) - t
    }

    func testCrossEntropy() {
        GC.check("cross entropy") { b in
            let logits = try b.param("logits", [4, 5], .normal(std: 1.5))
            let labels = try b.input("labels", [4], .values([0, 3, 1, 4]))
            return (try crossEntropy(logits: logits, labels: labels), [logits])
        }
    }

    func testMeanSquaredError() {
        GC.check("mean squared error") { b in
            let a = try b.param("a", [3, 4]), c = try b.param("b", [3, 4])
            return (try meanSquaredError(a, c), [a, c])
        }
    }

    func testPerSampleMean() {
        GC.check("per-sample mean") { b in
            let x = try b.param("x", [3, 2, 2])
            return (try perSampleMean(x.square()), [x])
        }
    }
}

// MARK: - Second order (what WGAN-GP differentiates)

final class SecondOrderGradientTests: XCTestCase {
    // Convolutions use values of std 0.5: with std 1 a 3x3x2 filter makes loss₂ ~1e4 and its
    // finite differences mostly rounding noise.
    func testMatmul() {
        for tb in [false, true] {
            GC.checkSecondOrder("matmul tb=\(tb)") { b in
                let x = try b.param("x", [3, 4]), w = try b.param("w", tb ? [2, 4] : [4, 2])
                let f = try b.weigh(x.matmul(w, transposeB: tb).square()).sum()
                return (f, [x], [x, w])
            }
        }
        GC.checkSecondOrder("matmul ta, both inner") { b in
            let x = try b.param("x", [4, 3]), w = try b.param("w", [4, 2])
            let f = try b.weigh(x.matmul(w, transposeA: true).tanh()).sum()
            return (f, [x, w], [x, w])
        }
    }

    func testConv2d() {
        GC.checkSecondOrder("conv2d, gradient w.r.t. the input") { b in
            let x = try b.param("x", [1, 2, 4, 4], .normal(std: 0.5)), w = try b.param("w", [2, 2, 3, 3], .normal(std: 0.5))
            let f = try b.weigh(x.conv2d(w, stride: 2, padding: 1).square()).sum()
            return (f, [x], [x, w])
        }
        GC.checkSecondOrder("conv2d, gradients w.r.t. input and filter") { b in
            let x = try b.param("x", [1, 2, 4, 4], .normal(std: 0.5)), w = try b.param("w", [2, 2, 3, 3], .normal(std: 0.5))
            let f = try b.weigh(x.conv2d(w, padding: 1).square()).sum()
            return (f, [x, w], [x, w])
        }
    }

    func testConvTranspose2d() {
        GC.checkSecondOrder("conv_transpose2d") { b in
            let x = try b.param("x", [1, 2, 3, 3], .normal(std: 0.5)), w = try b.param("w", [2, 2, 3, 3], .normal(std: 0.5))
            let f = try b.weigh(x.convTranspose2d(w, stride: 2, padding: 1, outputPadding: 1).square()).sum()
            return (f, [x, w], [x, w])
        }
    }

    func testLeakyRelu() {
        GC.checkSecondOrder("leaky_relu") { b in
            // |x|, |w| >= 0.3, so |x·w| >= 0.09 stays clear of the kink under ε·1.5.
            let x = try b.param("x", [3, 4], .awayFromZero(0.3, 1.5)), w = try b.param("w", [3, 4], .awayFromZero(0.3, 1.5))
            let f = try b.weigh((x * w).leakyRelu(0.2).square()).sum()
            return (f, [x], [x, w])
        }
    }

    func testAddSubMul() {
        GC.checkSecondOrder("add/sub/mul with broadcasting") { b in
            let x = try b.param("x", [3, 4]), w = try b.param("w", [4]), v = try b.param("v", [3, 1])
            let f = try b.weigh((x + w) * (x - v) * x - w * v).sum()
            return (f, [x], [x, w, v])
        }
    }

    func testSumAndMean() {
        GC.checkSecondOrder("sum/mean") { b in
            let x = try b.param("x", [3, 4]), w = try b.param("w", [4])
            let s = try x.sum(axes: [1], keepDims: true), m = try x.mean(axes: [0])
            // The w term is O(1) in ∇x f, so loss₂'s dependence on w is not lost in the rounding of the x terms.
            let f = try b.weigh(s * x * m).sum() * 0.25 + b.weigh((x * w).mean(axes: [0]).square()).sum() + (x * w).mean().square()
            return (f, [x], [x, w])
        }
    }

    func testSquare() {
        GC.checkSecondOrder("square") { b in
            let x = try b.param("x", [3, 4]), w = try b.param("w", [3, 4])
            let f = try b.weigh(x.square() * w).sum()
            return (f, [x], [x, w])
        }
    }

    func testSqrtOfPositive() {
        GC.checkSecondOrder("sqrt") { b in
            let x = try b.param("x", [3, 4], .uniform(0.5, 2)), w = try b.param("w", [3, 4], .uniform(0.5, 2))
            let f = try b.weigh((x * w).sqrt()).sum()
            return (f, [x], [x, w])
        }
    }

    func testTanh() {
        GC.checkSecondOrder("tanh") { b in
            let x = try b.param("x", [3, 4]), w = try b.param("w", [3, 4])
            let f = try b.weigh((x * w).tanh()).sum()
            return (f, [x], [x, w])
        }
    }

    /// The WGAN-GP penalty mean((‖∇ₓ f(x)‖₂ - 1)²) of a small critic
    /// conv2d → leaky_relu → dense, differentiated w.r.t. the critic's weights.
    func testGradientPenaltyOfACritic() throws {
        func critic(_ b: CheckBuilder) throws -> (penaltyTerms: Tensor, preActivation: Tensor, weights: [Tensor]) {
            let x = try b.input("x", [2, 1, 5, 5], .uniform(-1.5, 1.5))
            let h = try x.conv2d(3, kernel: 3, stride: 2, padding: 1, name: "critic.conv")
            let out = try h.leakyRelu(0.2).flatten().dense(1, name: "critic.fc")
            let dx = try b.graph.gradients(of: out.sum(), withRespectTo: [x])[0]
            let norm = try dx.square().sum(axes: [1, 2, 3]).sqrt()
            let terms = try (norm - 1).square() * 0.5  // Σ terms = mean over the batch of 2
            return (terms, h, b.graph.parameters)
        }
        // The penalty is smooth except where a pre-activation crosses 0. Perturbing one conv
        // weight or bias by ε = 2e-3 moves a pre-activation by at most ε·max(1, |x|) <= 3e-3
        // (|x| < 1.5), so take the first seed whose pre-activations are all >= 0.02 from 0
        // (the choice is deterministic and checked here, not assumed).
        var tolerance = GradientTolerance.standard
        tolerance.eps = 2e-3
        var chosen: UInt64?
        for seed: UInt64 in 1...200 {
            let b = CheckBuilder(seed: seed)
            let (_, h, _) = try critic(b)
            let s = try Session(graph: b.graph, config: RunConfig(threads: 1, seed: seed))
            let hv = try s.run([h], feeds: b.feeds)[0].scalars
            if hv.allSatisfy({ Swift.abs($0) >= 0.02 }) { chosen = seed; break }
        }
        let seed = try XCTUnwrap(chosen, "no seed in 1...200 keeps the critic's pre-activations away from 0")
        let report = GC.check("WGAN-GP penalty of a conv2d + leaky_relu + dense critic", seed: seed, tolerance: tolerance) { b in
            let (terms, _, weights) = try critic(b)
            XCTAssertEqual(weights.count, 4)
            return (terms, weights)
        }
        XCTAssertEqual(report?.names.sorted(), ["critic.conv.bias", "critic.conv.weight", "critic.fc.bias", "critic.fc.weight"])
    }
}

// MARK: - The blocks of ddpm and cyclegan

final class BlockGradientTests: XCTestCase {
    private func declared(_ b: CheckBuilder, _ name: String) throws -> Tensor {
        try XCTUnwrap(b.graph.parameters.first { $0.node.op == .parameter(name) }, name)
    }

    func testGroupNorm() {
        for (shape, groups) in [([2, 6, 3, 3], 3), ([2, 4, 2, 2], 1), ([3, 4], 4)] as [(Shape, Int)] {
            GC.check("group norm \(shape), \(groups) groups") { b in
                let x = try b.param("x", shape)
                let y = try x.groupNorm(groups: groups, name: "gn", weightInit: .uniform(low: 0.5, high: 1.5),
                                        biasInit: .uniform(low: -0.5, high: 0.5))
                return try (b.weigh(y), [x, declared(b, "gn.weight"), declared(b, "gn.bias")])
            }
        }
    }

    func testInstanceNorm() {
        GC.check("instance norm") { b in
            let x = try b.param("x", [2, 3, 3, 3])
            return (try b.weigh(x.instanceNorm()), [x])
        }
    }

    func testSoftmax() {
        for axes in [[-1], [1], [0, 2]] {
            GC.check("softmax over \(axes)") { b in
                let x = try b.param("x", [2, 3, 4], .normal(std: 2))
                return (try b.weigh(x.softmax(axes: axes)), [x])
            }
        }
    }

    func testNearestUpsampling() {
        GC.check("upsample x2") { b in
            let x = try b.param("x", [2, 2, 3, 3])
            let y = try x.upsampled(by: 2)
            XCTAssertEqual(y.shape, [2, 2, 6, 6])
            return (try b.weigh(y), [x])
        }
    }

    func testL1() {
        GC.check("l1") { b in
            // a - b is at least 0.1 away from 0, the kink of |.|.
            let a = try b.param("a", [3, 4], .awayFromZero(0.1, 1.5)), c = try b.param("b", [3, 4], .uniform(-0.05, 0.05))
            return (try meanAbsoluteError(a, c), [a, c])
        }
    }

    func testSinusoidalEmbeddingInTheTimestep() {
        GC.check("sinusoidal embedding") { b in
            // d/dt sin(t f) = f cos(t f): small t keeps f_0 t's curvature within what ε resolves.
            let t = try b.param("t", [3], .values([0.5, 1.25, 3]))
            return (try b.weigh(t.sinusoidalEmbedding(dim: 8)), [t])
        }
    }

    /// Attention's two batched products with transposed operands, and the softmax between.
    func testBatchedAttention() {
        GC.check("attention") { b in
            let q = try b.param("q", [2, 3, 4]), k = try b.param("k", [2, 3, 4]), v = try b.param("v", [2, 3, 4])
            let weights = try (q.matmul(k, transposeA: true) * 0.5).softmax()
            return (try b.weigh(v.matmul(weights, transposeB: true)), [q, k, v])
        }
    }

    func testSiluSecondOrder() {
        GC.checkSecondOrder("silu") { b in
            let x = try b.param("x", [3, 4]), w = try b.param("w", [3, 4])
            let f = try b.weigh((x * w).silu()).sum()
            return (f, [x], [x, w])
        }
    }

    func testSinAndCosSecondOrder() {
        GC.checkSecondOrder("sin, cos") { b in
            let x = try b.param("x", [3, 4]), w = try b.param("w", [3, 4])
            let f = try b.weigh((x * w).sin() + x.cos() * w).sum()
            return (f, [x], [x, w])
        }
    }
}
