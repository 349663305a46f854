@testable import GenGraph
import XCTest

/// Checkpointing under a memory limit (`rematerialize`): copies recompute
/// activations for the backward pass, the arena shrinks, and the results stay
/// those of the plan without copies, bit for bit.
final class RematerializationTests: XCTestCase {
    /// The loss and gradients of `model`'s first objective through a fused session with this limit,
    /// and the session's compilation of them.
    private func lossAndGradients(_ definition: ModelDefinition, batch: Int, limitBytes: Int?) throws
        -> (values: [TensorValue], compilation: Compilation) {
        let model = try definition.instantiate(batch: batch)
        var config = RunConfig(threads: 2, seed: 7, mode: .fused)
        config.memoryLimitBytes = limitBytes
        let session = try Session(graph: model.graph, config: config)
        let objective = model.objectives[0]
        let outputs = [objective.loss] + (try model.graph.gradients(of: objective.loss, withRespectTo: objective.parameters))
        let values = try session.run(outputs, feeds: try FusedEagerTests.feeds(model, seed: 1))
        return (values, try session.compilation(for: outputs))
    }

    /// Conv stacks whose forward activations fill the arena at the peak: half the arena is asked
    /// for, copies appear, the arena shrinks by at least a quarter, and nothing else changes.
    func testALimitShrinksTheArenaAndKeepsEveryValue() throws {
        for name in ["pixelcnn", "realnvp"] {
            let definition = Zoo.model(named: name)!
            let free = try lossAndGradients(definition, batch: 8, limitBytes: nil)
            let limit = free.compilation.plan.arenaFloats * 4 / 2
            let limited = try lossAndGradients(definition, batch: 8, limitBytes: limit)
            XCTAssertEqual(free.compilation.copies, [:])
            XCTAssertFalse(limited.compilation.copies.isEmpty, "\(name): no value recomputed")
            XCTAssertLessThanOrEqual(limited.compilation.plan.arenaFloats * 4, free.compilation.plan.arenaFloats * 3,
                                     "\(name): arena \(limited.compilation.plan.arenaFloats) floats against \(free.compilation.plan.arenaFloats) without a limit")
            XCTAssertEqual(limited.compilation.fits, limited.compilation.plan.arenaFloats * 4 <= limit)
            for (k, (a, b)) in zip(limited.values, free.values).enumerated() {
                XCTAssertEqual(a.shape, b.shape)
                XCTAssertEqual(a.scalars, b.scalars, "\(name): output \(k) differs with copies")
            }
            // Every copy computes what its original does: same op, same shape, inputs that are the
            // original's inputs or copies of them.
            let nodes = limited.compilation.optimized.nodes
            for (copy, original) in limited.compilation.copies {
                XCTAssertEqual(nodes[copy].op, nodes[original].op)
                XCTAssertEqual(nodes[copy].shape, nodes[original].shape)
                for (i, j) in zip(nodes[copy].inputs, nodes[original].inputs) {
                    XCTAssertTrue(i == j || limited.compilation.copies[i] == j, "\(name): copy %\(copy) reads %\(i) for %\(j)")
                }
            }
        }
    }

    /// A limit no plan can meet gives the smallest plan found, says it does not fit, and still
    /// computes the same values; models whose activations no copy can free stay as they were.
    func testAnUnreachableLimitGivesTheSmallestPlanFound() throws {
        let definition = Zoo.model(named: "pixelcnn")!
        let free = try lossAndGradients(definition, batch: 4, limitBytes: nil)
        let tiny = try lossAndGradients(definition, batch: 4, limitBytes: 1)
        XCTAssertFalse(tiny.compilation.fits)
        XCTAssertLessThan(tiny.compilation.plan.arenaFloats, free.compilation.plan.arenaFloats)
        for (a, b) in zip(tiny.values, free.values) { XCTAssertEqual(a.scalars, b.scalars) }
        let roomy = try lossAndGradients(definition, batch: 4, limitBytes: free.compilation.plan.arenaFloats * 4)
        XCTAssertTrue(roomy.compilation.fits)
        XCTAssertEqual(roomy.compilation.copies, [:], "a plan that fits needs no copies")
    }

    /// Copies wait for their readers: in a chain of layers whose activations are kept for the
    /// backward pass, every copy runs after the loss, and the arena is what the limit asked.
    func testCopiesRunInTheBackwardPass() throws {
        let g = Graph()
        var x = try g.input("x", [256, 64])
        var weights: [Tensor] = []
        for k in 0..<6 {
            let w = try g.parameter("w\(k)", [64, 64], initializer: .normal(mean: 0, std: 0.1))
            weights.append(w)
            x = try x.matmul(w).relu()
        }
        let loss = try x.square().mean()
        let program = Program(g, outputs: [loss] + (try g.gradients(of: loss, withRespectTo: weights)))
        let free = try Compiler.compile(program)
        let limited = try Compiler.compile(program, limitFloats: free.plan.arenaFloats * 3 / 4)
        XCTAssertFalse(limited.copies.isEmpty)
        XCTAssertTrue(limited.fits, "arena \(limited.plan.arenaFloats) floats, \(free.plan.arenaFloats) without a limit")
        let plan = limited.plan
        let copySteps = plan.steps.indices.filter { s in
            plan.steps[s].group.map { limited.fused.groups[$0].nodes.contains { limited.copies[$0] != nil } } ?? false
        }
        let lossRoot = limited.fused.views[limited.optimized.outputs[0]].root
        let lossStep = plan.steps.indices.first { plan.steps[$0].writes.contains(lossRoot) }!
        XCTAssertFalse(copySteps.isEmpty)
        XCTAssertTrue(copySteps.allSatisfy { $0 > lossStep }, "copies at steps \(copySteps), the loss at \(lossStep)")
        // The plan page's kernels say what each copy recomputes, in the backward phase.
        let marked = limited.kernels(gradientOutputs: Array(1...weights.count)).filter { k in
            k.boundaries.contains { $0.hasPrefix("recomputes %") && $0.hasSuffix("(memory limit: checkpointing)") }
        }
        XCTAssertEqual(marked.map(\.index), copySteps)
        XCTAssertTrue(marked.allSatisfy { $0.phase == .backward })
    }

    /// Property test: random networks (layers of matmul or convolution with activations, skip
    /// connections to any earlier value, reductions, random draws) compiled under a limit no plan
    /// meets give what they give without one: copies never change a value, never form a cycle
    /// between kernels, and never leave a value unwritten.
    func testRandomNetworksUnderATightLimitAgree() throws {
        var rng = TestRNG(seed: 7)
        var trialsWithCopies = 0
        for trial in 0..<40 {
            let g = Graph()
            let batch = 24 + rng.below(40), width = 8 + rng.below(16)
            let image = try g.input("image", [batch, 2, 6, 6])
            let filters = try g.parameter("filters", [width / 4 + 1, 2, 3, 3], initializer: .normal(mean: 0, std: 0.3))
            let features = try image.conv2d(filters, padding: 1).relu().reshape([batch, (width / 4 + 1) * 36])
            let project = try g.parameter("project", [(width / 4 + 1) * 36, width], initializer: .normal(mean: 0, std: 0.1))
            var pool = [try features.matmul(project)]
            for layer in 0..<(3 + rng.below(6)) {
                let x = pool[pool.count - 1 - rng.below(min(3, pool.count))], y = pool[rng.below(pool.count)]
                let w = try g.parameter("w\(layer)", [width, width], initializer: .normal(mean: 0, std: 0.4))
                let t: Tensor
                switch rng.below(6) {
                case 0: t = try x.matmul(w).relu()
                case 1: t = try (x.matmul(w) + y).tanh()
                case 2: t = try x.matmul(w, transposeB: true).sigmoid() * y
                case 3: t = try x.matmul(w).leakyRelu(0.2) + y.sum(axes: [-1], keepDims: true)
                case 4: t = try (x.matmul(w) + g.randomNormal([batch, width]) * 0.1).softplus()
                default: t = try x.matmul(w) - y.logSumExp(axes: [-1], keepDims: true)
                }
                pool.append(t)
            }
            let loss = try pool.last!.square().mean() + pool[rng.below(pool.count)].mean()
            let params = g.parameters
            let outputs = [loss] + (try g.gradients(of: loss, withRespectTo: params))
            var feeds: [String: TensorValue] = [:]
            feeds["image"] = try TensorValue(shape: image.shape, scalars: (0..<image.shape.count).map { _ in Float(rng.below(1000)) / 500 - 1 })
            var values: [[TensorValue]] = []
            for limit in [nil, 1] as [Int?] {
                var config = RunConfig(threads: 2, seed: UInt64(trial), mode: .fused)
                config.memoryLimitBytes = limit
                let session = try Session(graph: g, config: config)
                values.append(try session.run(outputs, feeds: feeds))
                if limit != nil, !(try session.compilation(for: outputs).copies.isEmpty) { trialsWithCopies += 1 }
            }
            for (k, (a, b)) in zip(values[1], values[0]).enumerated() {
                XCTAssertEqual(a.shape, b.shape)
                let scale = b.scalars.map { Swift.abs($0) }.max() ?? 0
                let worst = zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-5 * scale + 1e-7, "trial \(trial) output \(k)")
            }
        }
        XCTAssertGreaterThan(trialsWithCopies, 10, "the generator should give the search values to recompute")
    }
}
