import Foundation
@testable import GenGraph
import XCTest

/// The builders ddpm and cyclegan are made of (docs/zoo.md): group and instance
/// norm, softmax, nearest upsampling, L1, the sinusoidal time embedding and
/// batched attention products, each against values computed here in Double.
/// Their gradients are in GradientTests.swift (BlockGradientTests), fused ==
/// eager below (FusedEagerTests), their DSL forms in DSLBlockTests.
final class BuildingBlockTests: XCTestCase {
    private func run(_ g: Graph, _ outputs: [Tensor], feeds: [String: TensorValue] = [:],
                     parameters: [String: [Float]] = [:]) throws -> [TensorValue] {
        let session = try Session(graph: g, config: RunConfig(threads: 1, seed: 3))
        for (name, values) in parameters { try session.parameters.set(name, TensorValue(shape: session.parameters.value(name)!.shape, scalars: values)) }
        return try session.run(outputs, feeds: feeds)
    }

    private func normal(_ count: Int, seed: UInt64) -> [Float] {
        var rng = TestRNG(seed: seed)
        return (0..<count).map { _ in rng.normal() }
    }

    /// Group norm of (n, c, spatial) in Double: each sample's group of c / groups channels
    /// standardised with its biased variance, then weight and bias per channel.
    private func groupNormReference(_ x: [Float], n: Int, c: Int, spatial: Int, groups: Int,
                                    weight: [Float], bias: [Float], eps: Double) -> [Float] {
        let size = c / groups * spatial
        var y = [Float](repeating: 0, count: x.count)
        for group in 0..<(n * groups) {
            let values = x[(group * size)..<((group + 1) * size)].map(Double.init)
            let mean = values.reduce(0, +) / Double(size)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(size)
            for (k, v) in values.enumerated() {
                let index = group * size + k, channel = index / spatial % c
                y[index] = Float((v - mean) / (variance + eps).squareRoot() * Double(weight[channel]) + Double(bias[channel]))
            }
        }
        return y
    }

    func testGroupNormStandardisesEachSamplesGroupThenScalesPerChannel() throws {
        let g = Graph()
        let x = try g.input("x", [2, 6, 3, 3])
        let y = try x.groupNorm(groups: 3, name: "gn")
        XCTAssertEqual(g.initializers["gn.weight"], .ones)
        XCTAssertEqual(g.initializers["gn.bias"], .zeros)
        let xs = normal(108, seed: 1).map { $0 * 3 + 1 }, weight = normal(6, seed: 2), bias = normal(6, seed: 3)
        let out = try run(g, [y], feeds: ["x": TensorValue(shape: [2, 6, 3, 3], scalars: xs)],
                          parameters: ["gn.weight": weight, "gn.bias": bias])[0]
        XCTAssertEqual(out.shape, [2, 6, 3, 3])
        assertValuesClose(out.scalars, groupNormReference(xs, n: 2, c: 6, spatial: 9, groups: 3, weight: weight, bias: bias, eps: 1e-5), 1e-5)
        // Over (n, c) alone a group is its channels.
        let h = try g.input("h", [3, 4])
        let flat = try run(g, [h.groupNorm(groups: 2, name: "flat", epsilon: 0.1)], feeds: ["h": TensorValue(shape: [3, 4], scalars: xs.prefix(12).map { $0 })])[0]
        assertValuesClose(flat.scalars, groupNormReference(Array(xs.prefix(12)), n: 3, c: 4, spatial: 1, groups: 2, weight: [1, 1, 1, 1],
                                                           bias: [0, 0, 0, 0], eps: 0.1), 1e-5)
    }

    func testInstanceNormIsGroupNormWithAGroupPerChannelAndNoParameters() throws {
        let g = Graph()
        let x = try g.input("x", [2, 3, 4, 5])
        let y = try x.instanceNorm()
        XCTAssertTrue(g.parameters.isEmpty)
        let xs = normal(120, seed: 4).map { $0 * 2 - 3 }
        let out = try run(g, [y], feeds: ["x": TensorValue(shape: [2, 3, 4, 5], scalars: xs)])[0]
        assertValuesClose(out.scalars, groupNormReference(xs, n: 2, c: 3, spatial: 20, groups: 3, weight: [1, 1, 1],
                                                          bias: [0, 0, 0], eps: 1e-5), 1e-5)
    }

    func testSoftmaxOverAnAxis() throws {
        let g = Graph()
        let x = try g.input("x", [2, 3, 4])
        var shifted = normal(24, seed: 5).map { $0 * 4 }
        shifted[0] = 80 // exp(80) overflows f32: the maximum is subtracted first
        let out = try run(g, [x.softmax(), x.softmax(axes: [1])], feeds: ["x": TensorValue(shape: [2, 3, 4], scalars: shifted)])
        func reference(_ axisSize: Int, _ stride: Int) -> [Float] {
            (0..<24).map { i in
                let base = i - (i / stride % axisSize) * stride
                let row = (0..<axisSize).map { Double(shifted[base + $0 * stride]) }
                let m = row.max()!
                return Float(Foundation.exp(Double(shifted[i]) - m) / row.map { Foundation.exp($0 - m) }.reduce(0, +))
            }
        }
        assertValuesClose(out[0].scalars, reference(4, 1), 1e-6)
        assertValuesClose(out[1].scalars, reference(3, 4), 1e-6)
        XCTAssertEqual(out[0].scalars[0], 1)
    }

    func testUpsampleRepeatsEachPixelAsABlock() throws {
        let g = Graph()
        let x = try g.input("x", [1, 2, 2, 3])
        let out = try run(g, [x.upsampled(by: 2), x.upsampled(by: 3), x.upsampled(by: 1)],
                          feeds: ["x": TensorValue(shape: [1, 2, 2, 3], scalars: (0..<12).map(Float.init))])
        XCTAssertEqual(out[0].shape, [1, 2, 4, 6])
        XCTAssertEqual(Array(out[0].scalars.prefix(24)), [0, 0, 1, 1, 2, 2,
                                                          0, 0, 1, 1, 2, 2,
                                                          3, 3, 4, 4, 5, 5,
                                                          3, 3, 4, 4, 5, 5])
        XCTAssertEqual(out[1].shape, [1, 2, 6, 9])
        // Output pixel (c, i, j) is input pixel (c, i / 3, j / 3).
        let source: [Int] = (0..<108).map { k in
            let (c, i, j) = (k / 54, k / 9 % 6, k % 9)
            return c * 6 + i / 3 * 3 + j / 3
        }
        XCTAssertEqual(out[1].scalars, source.map(Float.init))
        XCTAssertEqual(out[2].scalars, (0..<12).map(Float.init))
    }

    func testL1IsTheMeanAbsoluteError() throws {
        let g = Graph()
        let a = try g.input("a", [2, 3]), b = try g.input("b", [3])
        let out = try run(g, [meanAbsoluteError(a, b)], feeds: ["a": TensorValue(shape: [2, 3], scalars: [1, -2, 3, 0, 5, -6]),
                                                               "b": TensorValue(shape: [3], scalars: [1, 1, 1])])[0]
        XCTAssertEqual(out.shape, [])
        assertValuesClose(out.scalars, [(0 + 3 + 2 + 1 + 4 + 7) / 6], 1e-6)
    }

    /// Values of docs/zoo.md's formula, [sin(t f_i)..., cos(t f_i)...] with f_i =
    /// exp(-ln(10000) i / 32), computed in Double. The embedding runs in f32, as PyTorch's
    /// does: exp within 2 ulp (2.4e-7 t f_i), the rounding of its argument (at most 4.4e-8 t)
    /// and of the product (6e-8 t f_i) keep the angle t f_i within 4e-7 t of exact.
    func testSinusoidalEmbeddingFollowsTheDDPMConvention() throws {
        let g = Graph()
        let timesteps: [Float] = [0, 1, 7, 500, 999, 1000]
        let t = try g.input("t", [6])
        let out = try run(g, [t.sinusoidalEmbedding(dim: 64), t.sinusoidalEmbedding(dim: 2)],
                          feeds: ["t": TensorValue(shape: [6], scalars: timesteps)])
        XCTAssertEqual(out[0].shape, [6, 64])
        for (row, step) in timesteps.enumerated() {
            let tolerance = 1e-6 + 4e-7 * Double(step)
            for i in 0..<32 {
                let angle = Double(step) * Foundation.exp(-Foundation.log(10000.0) * Double(i) / 32)
                XCTAssertEqual(Double(out[0].scalars[row * 64 + i]), Foundation.sin(angle), accuracy: tolerance, "t \(step) sin \(i)")
                XCTAssertEqual(Double(out[0].scalars[row * 64 + 32 + i]), Foundation.cos(angle), accuracy: tolerance, "t \(step) cos \(i)")
            }
            XCTAssertEqual(Double(out[1].scalars[row * 2]), Foundation.sin(Double(step)), accuracy: tolerance)
        }
        // From tools/peers/torch_families.py's sinusoidal (PyTorch, f32) for t = 1, 500, 1000 at
        // columns 1, 17, 33, 49 (sin f_1, sin f_17, cos f_1, cos f_17).
        let torch: [Float: [Float]] = [1: [0.6815614, 0.007498871, 0.731761, 0.9999719],
                                       500: [-0.8901104, -0.5711268, -0.455745, -0.8208619],
                                       1000: [0.8113268, 0.9376323, -0.5845929, 0.3476285]]
        for (step, values) in torch {
            let row = timesteps.firstIndex(of: step)!
            for (column, value) in zip([1, 17, 33, 49], values) {
                XCTAssertEqual(out[0].scalars[row * 64 + column], value, accuracy: Float(1e-6 + 8e-7 * Double(step)), "t \(step) column \(column)")
            }
        }
    }

    /// Attention's products on (batch, channels, positions) tensors, q k^T and v weights^T,
    /// through matmul's transpose flags or permuted operands: one result, as per-batch loops.
    func testBatchedAttentionProducts() throws {
        let g = Graph()
        let (b, c, p) = (2, 3, 5)
        let q = try g.input("q", [b, c, p]), k = try g.input("k", [b, c, p]), v = try g.input("v", [b, c, p])
        let scores = try q.matmul(k, transposeA: true)                              // (b, p, p): q_i . k_j
        let weights = try (scores * (1 / Float(c).squareRoot())).softmax()
        let flagged = try v.matmul(weights, transposeB: true)                       // (b, c, p)
        let permuted = try weights.matmul(v.permute([0, 2, 1])).permute([0, 2, 1])   // PyTorch's (w @ v^T)^T
        let (qs, ks, vs) = (normal(30, seed: 6), normal(30, seed: 7), normal(30, seed: 8))
        let out = try run(g, [scores, flagged, permuted], feeds: ["q": TensorValue(shape: [b, c, p], scalars: qs),
                                                                  "k": TensorValue(shape: [b, c, p], scalars: ks),
                                                                  "v": TensorValue(shape: [b, c, p], scalars: vs)])
        var expectScores = [Float](), expectOut = [Float](repeating: 0, count: b * c * p)
        for n in 0..<b {
            let at = { (m: [Float], ch: Int, pos: Int) in Double(m[n * c * p + ch * p + pos]) }
            for i in 0..<p {
                let s = (0..<p).map { j in (0..<c).map { at(qs, $0, i) * at(ks, $0, j) }.reduce(0, +) }
                expectScores += s.map(Float.init)
                let e = s.map { Foundation.exp(($0 - s.max()!) / Double(c).squareRoot()) }
                let w = e.map { $0 / e.reduce(0, +) }
                for ch in 0..<c { expectOut[n * c * p + ch * p + i] = Float((0..<p).map { w[$0] * at(vs, ch, $0) }.reduce(0, +)) }
            }
        }
        assertValuesClose(out[0].scalars, expectScores, 1e-5)
        assertValuesClose(out[1].scalars, expectOut, 1e-5)
        assertValuesClose(out[2].scalars, expectOut, 1e-5)
    }

    func testMisuseIsAnErrorNamingTheBuilder() throws {
        let g = Graph()
        let image = try g.input("x", [2, 6, 4, 4]), flat = try g.input("f", [2, 6]), t = try g.input("t", [2, 1])
        func assertError(_ expected: String, _ build: () throws -> Tensor, line: UInt = #line) {
            XCTAssertThrowsError(try build(), line: line) { XCTAssertEqual("\($0)", expected, line: line) }
        }
        assertError("group_norm: 'gn': 4 groups do not divide 6 channels") { try image.groupNorm(groups: 4, name: "gn") }
        assertError("group_norm: 'gn': 0 groups do not divide 6 channels") { try image.groupNorm(groups: 0, name: "gn") }
        assertError("group_norm: 'gn' needs (n, c, ...), got [2]") { try t.reshape([2]).groupNorm(groups: 1, name: "gn") }
        assertError("instance_norm: needs (n, c, h, ...), got [2,6]") { try flat.instanceNorm() }
        assertError("upsample: needs (n, c, h, w), got [2,6]") { try flat.upsampled(by: 2) }
        assertError("upsample: factor 0 must be in 1...2147483648") { try image.upsampled(by: 0) }
        assertError("upsample: shape [2,6,4,65536,4,65536] has more than 2147483648 elements (8 GiB of f32)") { try image.upsampled(by: 65536) }
        assertError("softmax: axis 3 out of range for [2,6]") { try flat.softmax(axes: [3]) }
        assertError("sinusoidal: needs timesteps (n), got [2,1]") { try t.sinusoidalEmbedding(dim: 8) }
        assertError("sinusoidal: dim 7 must be even, in 2...33554432") { try flat.sum(axes: [1]).sinusoidalEmbedding(dim: 7) }
        assertError("sinusoidal: dim 4611686018427387904 must be even, in 2...33554432") {
            try flat.sum(axes: [1]).sinusoidalEmbedding(dim: 1 << 62)
        }
    }
}

// MARK: - Fused == eager

extension FusedEagerTests {
    /// The outputs of `build` and the gradients of Σ_k Σ w_k ⊙ output_k (w_k fixed random
    /// weightings, so that softmax's and the norms' outputs do not sum to constants) for every
    /// parameter: fused within FusedEagerTests' bounds of eager, and fused on 1 and 2 threads
    /// bit for bit.
    private func assertBlockAgrees(_ label: String, feeds: [String: TensorValue] = [:],
                                   _ build: (Graph) throws -> [Tensor], file: StaticString = #filePath, line: UInt = #line) throws {
        let g = Graph()
        let outputs = try build(g)
        let targets = g.parameters
        var loss = try g.constant(0)
        for (k, y) in outputs.enumerated() {
            loss = try loss + (y * g.parameter("weighting\(k)", y.shape, initializer: .normal(mean: 0, std: 1))).sum()
        }
        let all = try outputs + g.gradients(of: loss, withRespectTo: targets)
        func values(_ mode: ExecutionMode, threads: Int) throws -> [TensorValue] {
            try Session(graph: g, config: RunConfig(threads: threads, seed: 11, mode: mode)).run(all, feeds: feeds)
        }
        let eager = try values(.eager, threads: 2), fused = try values(.fused, threads: 1), fusedTwo = try values(.fused, threads: 2)
        for k in all.indices {
            let what = k < outputs.count ? "\(label) output \(k)" : "\(label) gradient of \(targets[k - outputs.count].node.op.attributeText)"
            assertAgree(fused[k], eager[k], what, file: file, line: line)
            XCTAssertEqual(fused[k].scalars.map(\.bitPattern), fusedTwo[k].scalars.map(\.bitPattern), "\(what): 1 and 2 threads", file: file, line: line)
        }
    }

    private func image(_ g: Graph, _ name: String, _ shape: Shape) throws -> Tensor {
        try g.parameter(name, shape, initializer: .normal(mean: 0.5, std: 2))
    }

    func testGroupNormSiluConvAgree() throws {
        try assertBlockAgrees("group_norm, silu, conv") { g in
            let h = try image(g, "x", [2, 8, 6, 6]).groupNorm(groups: 4, name: "gn").silu().conv2d(8, kernel: 3, padding: 1, name: "conv")
            return [h, try h.groupNorm(groups: 8, name: "gn2").silu()]
        }
    }

    func testInstanceNormBlocksAgree() throws {
        try assertBlockAgrees("instance_norm, relu, conv, residual") { g in
            let x = try image(g, "x", [2, 4, 7, 7])
            let h = try x.conv2d(4, kernel: 3, padding: 1, name: "c1").instanceNorm().relu().conv2d(4, kernel: 3, padding: 1, name: "c2")
            return [try h.instanceNorm() + x]
        }
    }

    func testUpsampleConcatAgree() throws {
        try assertBlockAgrees("upsample, conv, concat") { g in
            let low = try image(g, "low", [2, 3, 4, 4]), skip = try image(g, "skip", [2, 2, 8, 8])
            return [try concat([low.upsampled(by: 2).conv2d(3, kernel: 3, padding: 1, name: "up"), skip], axis: 1).silu()]
        }
    }

    func testSelfAttentionAgrees() throws {
        try assertBlockAgrees("self-attention") { g in
            let x = try image(g, "x", [2, 8, 3, 3])
            let h = try x.groupNorm(groups: 4, name: "norm")
            let (q, k, v) = (try h.conv2d(8, kernel: 1, name: "q").reshape([2, 8, 9]), try h.conv2d(8, kernel: 1, name: "k").reshape([2, 8, 9]),
                             try h.conv2d(8, kernel: 1, name: "v").reshape([2, 8, 9]))
            let weights = try (q.matmul(k, transposeA: true) / Float(8).squareRoot()).softmax()
            let attended = try v.matmul(weights, transposeB: true).reshape([2, 8, 3, 3])
            return [try x + attended.conv2d(8, kernel: 1, name: "out"), weights]
        }
    }

    func testTimeEmbeddingAndLossesAgree() throws {
        let t = try TensorValue(shape: [4], scalars: [1, 10, 500, 1000])
        try assertBlockAgrees("sinusoidal, dense, silu, l1, mse", feeds: ["t": t]) { g in
            let time = try g.input("t", [4]).sinusoidalEmbedding(dim: 16).dense(8, name: "time1").silu().dense(8, name: "time2")
            let a = try image(g, "a", [4, 8]), b = try image(g, "b", [4, 8])
            return [time, try meanAbsoluteError(a, b) + meanSquaredError(time, b), try a.sin() * b.cos() + a.silu()]
        }
    }
}

// MARK: - In the DSL

/// A model written with every new built-in: it lowers, names group norm's parameters as
/// PyTorch does, samples, and trains the same in both modes.
final class DSLBlockTests: XCTestCase {
    static let source = """
        model blocks "the blocks of ddpm and cyclegan"
        hyper batch = 4
        hyper lr = 1e-3
        input x : images[batch, 1, 28, 28] symmetric
        input y : labels[batch] of 10

        network N(x, t) {
          time = sinusoidal(t, 16) -> dense(32) as time1 -> silu
          h = x -> conv(8, 3, stride=2, pad=1) as c1 -> group_norm(4) as n1 -> silu
          g = h + reshape(dense(time, 8) as proj, [-1, 8, 1, 1])
          q = reshape(g, [-1, 8, 196])
          w = softmax(matmul(transpose(q), q) / 8, axis=-1)
          a = reshape(matmul(q, transpose(w)), [-1, 8, 14, 14]) * cos(g) + sin(g)
          return a -> upsample(2) -> conv(1, 3, pad=1) as out -> instance_norm -> tanh
        }

        loss = l1(N(x, y), x) + mse(N(x, y), x)
        minimize loss with adam(lr)
        sample n, y = N(normal([n, 1, 28, 28]), y)
        """

    func testAModelOfTheBlocksTrainsTheSameFusedAndEager() throws {
        let definition = try ModelSource.parse(Self.source, file: "blocks.gg").definition()
        var losses: [ExecutionMode: [Float]] = [:]
        for mode in ExecutionMode.allCases {
            let model = try definition.instantiate(batch: 4)
            var shapes: [String: Shape] = [:]
            for p in model.graph.parameters { if case .parameter(let name) = p.node.op { shapes[name] = p.shape } }
            XCTAssertEqual(shapes["N.n1.weight"], [8])
            XCTAssertEqual(shapes["N.n1.bias"], [8])
            XCTAssertEqual(model.graph.initializers["N.n1.weight"], .ones)
            XCTAssertEqual(model.graph.initializers["N.n1.bias"], .zeros)
            let trainer = try Trainer(model: model, config: RunConfig(threads: 2, seed: 3, mode: mode))
            var k: UInt64 = 0
            for _ in 0..<3 {
                losses[mode, default: []] += try trainer.step { k += 1; return FusedEagerTests.batch(model, seed: k) }.map(\.loss)
            }
        }
        for (e, f) in zip(losses[.eager]!, losses[.fused]!) {
            XCTAssertEqual(f, e, accuracy: 1e-3 * Swift.max(1, Swift.abs(e)), "\(losses)")
        }
        XCTAssertNotEqual(losses[.eager]!.first, losses[.eager]!.last, "training moves the loss")
        let sampler = try XCTUnwrap(definition.sampleGraph(count: 3))
        guard case .images(let images) = sampler.output else { return XCTFail("sampled images expected") }
        XCTAssertEqual(images.shape, [3, 1, 28, 28])
        XCTAssertTrue(sampler.graph.stateUpdates.isEmpty)
    }
}

// MARK: - Fusion

final class BlockFusionTests: XCTestCase {
    /// group_norm, silu, conv (ddpm's residual block), forward: one kernel whose phases are the
    /// mean, the variance, and a pass over x that normalises, scales, shifts and applies silu
    /// (over (n, groups, c / groups, h, w), which splits x's axes), then the conv; nothing is copied.
    func testGroupNormAndSiluAreOnePassBeforeTheConv() throws {
        let g = Graph()
        let x = try g.input("x", [4, 8, 6, 6])
        let y = try x.groupNorm(groups: 4, name: "gn").silu().conv2d(8, kernel: 3, padding: 1, name: "conv")
        let fused = try Compiler.compile(Program(g, outputs: [y])).fused
        let nodes = fused.program.nodes
        XCTAssertEqual(fused.groups.map(\.kind), [.phased, .contraction], "\(fused.groups.map { "\($0.kind) \($0.space)" })")
        let norm = fused.groups[0]
        XCTAssertEqual(norm.space, [4, 4, 2, 6, 6])
        XCTAssertEqual(norm.phases.count, 3)
        let last = norm.phases.last?.nodes ?? []
        XCTAssertTrue(last.contains { nodes[$0].op == .unary(.silu) })
        XCTAssertTrue(last.contains { nodes[$0].op == .binary(.sub) })
        XCTAssertEqual(norm.phases.prefix(2).map { $0.nodes.filter { if case .reduce = nodes[$0].op { return true }; return false }.count }, [1, 1])
    }
}
