@testable import GenGraph
import XCTest

/// Two executors, one oracle: every zoo model's losses and gradients, and
/// random graphs, computed eagerly and through compiled plans must agree.
final class FusedEagerTests: XCTestCase {
    /// Deterministic pixels in the model's range and labels 0..9 (a batch of each domain, for a model with domains).
    static func batch(_ model: Model, seed: UInt64) -> Batch {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        let b = model.batchSize * Swift.max(1, model.domains.count)
        let pixels: [Float] = (0..<(b * 784)).map { _ in
            let u = next()
            switch model.encoding {
            case .unitInterval: return u
            case .symmetric: return 2 * u - 1
            case .binarized: return u > 0.5 ? 1 : 0
            case .bytes: return (u * 256).rounded(.down)
            }
        }
        return Batch(images: pixels, labels: (0..<b).map { Int32($0 % 10) })
    }

    /// A batch's feeds, as the trainer gives them; a history pool's input gets images of a batch of its own.
    static func feeds(_ model: Model, seed: UInt64) throws -> [String: TensorValue] {
        let trainer = try Trainer(model: model, config: RunConfig(threads: 1))
        var feeds = try trainer.feeds(batch(model, seed: seed))
        for (k, history) in model.histories.enumerated() {
            let images = batch(model, seed: seed &+ 1000 &+ UInt64(k)).images
            feeds[history.name] = try TensorValue(shape: history.input.shape, scalars: Array(images[..<history.input.shape.count]))
        }
        return feeds
    }

    /// |a - e| <= atol + rtol * max|e| over the tensor: reduction order differs between
    /// the modes (fused reductions and GEMM epilogues sum in other orders), so
    /// the bound is relative to the tensor's scale. Documented in docs/compiler.md.
    func assertAgree(_ fused: TensorValue, _ eager: TensorValue, rtol: Float = 1e-4, atol: Float = 1e-6,
                     _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(fused.shape, eager.shape, what, file: file, line: line)
        let (f, e) = (fused.scalars, eager.scalars)
        // Non-finite values (a random graph may take log of a negative) must match exactly.
        let scale = e.filter(\.isFinite).map { Swift.abs($0) }.max() ?? 0
        var worst: Float = 0
        for (k, (a, b)) in zip(f, e).enumerated() {
            if a.isFinite && b.isFinite { worst = Swift.max(worst, Swift.abs(a - b)); continue }
            XCTAssertTrue(a == b || (a.isNaN && b.isNaN), "\(what): element \(k) fused \(a), eager \(b)", file: file, line: line)
        }
        XCTAssertLessThanOrEqual(worst, atol + rtol * scale, "\(what): max |fused - eager| = \(worst), scale \(scale)", file: file, line: line)
    }

    func testEveryZooModelsLossAndGradientsAgree() throws {
        for definition in Zoo.models {
            let batch = definition.name.hasPrefix("wgan") || definition.name == "dcgan" ? 4 : 8
            let eagerModel = try definition.instantiate(batch: batch)
            let fusedModel = try definition.instantiate(batch: batch)
            let eager = try Session(graph: eagerModel.graph, config: RunConfig(threads: 2, seed: 7, mode: .eager))
            let fused = try Session(graph: fusedModel.graph, config: RunConfig(threads: 2, seed: 7, mode: .fused))
            let feeds = try Self.feeds(eagerModel, seed: 1)
            for (oe, of) in zip(eagerModel.objectives, fusedModel.objectives) {
                let ge = try eagerModel.graph.gradients(of: oe.loss, withRespectTo: oe.parameters)
                let gf = try fusedModel.graph.gradients(of: of.loss, withRespectTo: of.parameters)
                let ve = try eager.run([oe.loss] + ge, feeds: feeds)
                let vf = try fused.run([of.loss] + gf, feeds: feeds)
                assertAgree(vf[0], ve[0], "\(definition.name) \(oe.name) loss")
                for (k, p) in oe.parameters.enumerated() {
                    assertAgree(vf[k + 1], ve[k + 1], "\(definition.name) \(oe.name) gradient of \(p.node.op.attributeText)")
                }
            }
        }
    }

    /// Parameters whose gradient at the first step is rounding noise (a conv bias that an
    /// instance norm removes: its true gradient is 0), with the bound they can be held to after
    /// `steps` steps. Noise follows no signal, and Adam turns noise of either sign into a step of
    /// about its learning rate, so fused and eager may move such a parameter lr apart per step.
    static func noiseDrivenParameters(_ definition: ModelDefinition, steps: Int, batch: Int = 8) throws -> [String: Float] {
        let model = try definition.instantiate(batch: batch)
        let session = try Session(graph: model.graph, config: RunConfig(threads: 2, seed: 3, mode: .eager))
        let feeds = try Self.feeds(model, seed: 1)
        var bounds: [String: Float] = [:]
        for objective in model.objectives {
            guard case .adam(let lr, _, _, _) = objective.rule else { continue }
            let gradients = try session.run(model.graph.gradients(of: objective.loss, withRespectTo: objective.parameters), feeds: feeds)
            let largest = gradients.map { $0.scalars.map(Swift.abs).max() ?? 0 }.max() ?? 0
            for (p, g) in zip(objective.parameters, gradients) where (g.scalars.map(Swift.abs).max() ?? 0) <= 1e-5 * largest {
                if case .parameter(let name) = p.node.op { bounds[name] = 2 * lr * Float(steps) }
            }
        }
        return bounds
    }

    func testFusedTrainingStepsFollowEagerOnes() throws {
        // realnvp: its first step moves the zero-initialised last convs, so later steps differentiate every layer.
        // cyclegan: its discriminators read the pools the trainer fills from the generators' step.
        for name in ["vae", "gan", "wgan", "realnvp", "cyclegan"] {
            let definition = Zoo.model(named: name)!
            var losses: [ExecutionMode: [Float]] = [:]
            var params: [ExecutionMode: ParameterStore] = [:]
            for mode in ExecutionMode.allCases {
                let model = try definition.instantiate(batch: 8)
                let trainer = try Trainer(model: model, config: RunConfig(threads: 2, seed: 3, mode: mode))
                var k: UInt64 = 0
                for _ in 0..<3 {
                    let step = try trainer.step { k += 1; return Self.batch(model, seed: k) }
                    losses[mode, default: []] += step.map(\.loss)
                }
                params[mode] = trainer.session.parameters
            }
            for (e, f) in zip(losses[.eager]!, losses[.fused]!) {
                XCTAssertEqual(f, e, accuracy: 1e-3 * Swift.max(1, Swift.abs(e)), "\(name): losses diverge \(losses)")
            }
            let noise = try Self.noiseDrivenParameters(definition, steps: 3)
            for n in params[.eager]!.names {
                if let bound = noise[n] {
                    assertAgree(params[.fused]!.value(n)!, params[.eager]!.value(n)!, rtol: 0, atol: bound, "\(name) parameter \(n) (noise-driven)")
                } else {
                    assertAgree(params[.fused]!.value(n)!, params[.eager]!.value(n)!, rtol: 1e-3, atol: 1e-5, "\(name) parameter \(n)")
                }
            }
        }
    }

    /// Property test: seeded random graphs of elementwise, broadcast, reduction and matmul ops.
    func testRandomGraphsAgree() throws {
        var rng = TestRNG(seed: 42)
        var trialsWithPrologues = 0
        for trial in 0..<200 {
            let g = Graph()
            let m = 1 + rng.below(9), n = 1 + rng.below(17)
            var pool: [Tensor] = [try g.parameter("a", [m, n], initializer: .normal(mean: 0, std: 1)),
                                  try g.parameter("b", [m, n], initializer: .uniform(low: 0.5, high: 2)),
                                  try g.parameter("row", [n], initializer: .normal(mean: 0, std: 1)),
                                  try g.parameter("col", [m, 1], initializer: .normal(mean: 0, std: 1))]
            let w = try g.parameter("w", [n, n], initializer: .normal(mean: 0, std: 0.5))
            var outputs: [Tensor] = []
            for _ in 0..<(4 + rng.below(10)) {
                let x = pool[rng.below(pool.count)], y = pool[rng.below(pool.count)]
                let t: Tensor
                switch rng.below(12) {
                case 0: t = try x + y
                case 1: t = try x * y
                case 2: t = try x - y.exp().log1p()
                case 3: t = try x.tanh() * y.sigmoid()
                case 4: t = try x.relu() + y.abs().sqrt()
                case 5: t = try select(x.greater(y), x, y.square())
                case 6: t = try x.sum(axes: [-1], keepDims: true) + y
                case 7: t = try x.max(axes: [0], keepDims: true) - y.leakyRelu(0.1)
                case 8: t = x.rank == 2 && x.shape[1] == n ? try x.matmul(w) + y : try x + y
                case 9: t = x.rank == 2 && x.shape[1] == n ? try x.matmul(w, transposeB: true).relu() : try x.softplus()
                case 10: t = try (x * 0.5 + 1).clamp(-1, 1.5) + g.randomNormal(x.shape) * y.mean()
                default: t = try x.logSumExp(axes: [-1], keepDims: true) * y
                }
                pool.append(t)
                if rng.below(3) == 0 { outputs.append(t) }
            }
            outputs.append(try pool.last!.sum())
            let params = g.parameters
            let grads = try g.gradients(of: outputs.last!, withRespectTo: params)
            let eager = try Session(graph: g, config: RunConfig(threads: 2, seed: UInt64(trial), mode: .eager))
            let fused = try Session(graph: g, config: RunConfig(threads: 2, seed: UInt64(trial), mode: .fused))
            let ve = try eager.run(outputs + grads), vf = try fused.run(outputs + grads)
            if fuse(Compiler.optimize(Program(g, outputs: outputs + grads))).groups.contains(where: { $0.kind == .prologue }) {
                trialsWithPrologues += 1
            }
            for (k, (f, e)) in zip(vf, ve).enumerated() { assertAgree(f, e, "trial \(trial) output \(k)") }
        }
        XCTAssertGreaterThan(trialsWithPrologues, 10, "the generator should exercise GEMM prologues")
    }
}
