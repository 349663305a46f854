@testable import GenGraph
import XCTest

/// A compiled training step applies its optimiser updates itself (`PlannedUpdates`),
/// each as soon as the parameter's gradient is done and nothing later reads the parameter.
final class PlannedUpdateTests: XCTestCase {
    /// Bit for bit what the same plan computes when the optimiser runs after it: Adam (vae),
    /// a GAN's generator step that reads the discriminator's parameters, RMSProp with clipping (wgan),
    /// Adam on gradients clipped to a global norm (realnvp: no update before the norm of all of them).
    /// An update placed before a read of its parameter would change later gradients.
    func testPlannedUpdatesEqualUpdatesAfterThePlan() throws {
        for name in ["vae", "gan", "wgan", "realnvp"] {
            let model = try Zoo.model(named: name)!.instantiate(batch: 8)
            let trainer = try Trainer(model: model, config: RunConfig(threads: 2, seed: 3, mode: .fused))
            let feeds = try (0..<3).map { try trainer.feeds(FusedEagerTests.batch(model, seed: UInt64($0))) }
            try assertPlannedEqualsAfter(model.graph, model.objectives.map { ($0.loss, $0.parameters, $0.rule, $0.clip, $0.clipNorm) },
                                         feeds: feeds, name)
        }
    }

    /// The same for SGD: plain, with momentum (the first step seeds the buffer) and Nesterov.
    func testPlannedSGDEqualsSGDAfterThePlan() throws {
        for rule in [OptimizerRule.sgd(learningRate: 0.05), .sgd(learningRate: 0.05, momentum: 0.9),
                     .sgd(learningRate: 0.05, momentum: 0.9, nesterov: true)] {
            let g = Graph()
            let x = try g.input("x", [16, 300])
            let h = try x.dense(256, name: "fc1").relu()  // 76,800 weights: updated as soon as its gradient is done
            let loss = try h.dense(10, name: "fc2").square().mean()
            var feeds: [[String: TensorValue]] = []
            for k in 0..<3 {
                let pixels: [Float] = (0..<(16 * 300)).map { i in Float((i * 7 + k * 13) % 101) / 50 - 1 }
                feeds.append(["x": try TensorValue(shape: [16, 300], scalars: pixels)])
            }
            try assertPlannedEqualsAfter(g, [(loss, g.parameters, rule, nil, nil)], feeds: feeds, "\(rule)")
        }
    }

    /// Trains `objectives` on `feeds` twice in fused mode: with the plan applying the updates,
    /// and with the plan computing gradients that the optimiser applies after it.
    private func assertPlannedEqualsAfter(_ graph: Graph, _ objectives: [(Tensor, [Tensor], OptimizerRule, ClosedRange<Float>?, Float?)],
                                          feeds: [[String: TensorValue]], _ name: String,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let config = RunConfig(threads: 2, seed: 3, mode: .fused)
        let planned = try Session(graph: graph, config: config)
        let after = try Session(graph: graph, config: config)
        func steps(_ s: Session) throws -> [TrainingStep] {
            try objectives.map { try s.minimize($0.0, over: $0.1, using: $0.2, clip: $0.3, clipNorm: $0.4) }
        }
        let (plannedSteps, afterSteps) = (try steps(planned), try steps(after))
        for (k, feed) in feeds.enumerated() {
            for (p, a) in zip(plannedSteps, afterSteps) {
                let loss = try planned.train(p, feeds: feed)
                let n = a.gradients.count
                let values = try after.execute(a.outputs.map(\.id), feeds: feed).map { try after.executor.contiguous($0) }
                try a.optimizer.update(after.parameters, gradients: Array(values[1..<(1 + n)]), kernels: after.kernels)
                for (update, value) in zip(a.stateUpdates, values[(1 + n)...]) {  // batch norm's running statistics
                    after.parameters.buffer(update.name)!.pointer.update(from: value.pointer, count: value.shape.count)
                }
                XCTAssertEqual(loss.bitPattern, values[0].pointer[0].bitPattern, "\(name) step \(k): loss", file: file, line: line)
            }
        }
        for n in after.parameters.names {
            XCTAssertEqual(planned.parameters.value(n)!.scalars.map(\.bitPattern),
                           after.parameters.value(n)!.scalars.map(\.bitPattern), "\(name): parameter \(n)", file: file, line: line)
        }
    }

    /// A step that fails before its plan runs (a wrong feed) updates nothing and counts nothing,
    /// so Adam's bias correction stays in step with the updates actually applied.
    func testAFailedStepLeavesParametersAndTheStepCount() throws {
        let model = try Zoo.model(named: "vae")!.instantiate(batch: 8)
        let session = try Session(graph: model.graph, config: RunConfig(threads: 2, seed: 3, mode: .fused))
        let o = model.objectives[0]
        let step = try session.minimize(o.loss, over: o.parameters, using: o.rule, clip: o.clip)
        let before = session.parameters.names.map { session.parameters.value($0)!.scalars }
        XCTAssertThrowsError(try session.train(step, feeds: ["x": try TensorValue(shape: [8, 784], scalars: [Float](repeating: 0, count: 8 * 784))]))
        XCTAssertEqual(step.optimizer.step, 0)
        XCTAssertEqual(session.parameters.names.map { session.parameters.value($0)!.scalars }, before)
        let feeds = try Trainer(model: model, config: RunConfig(threads: 2, seed: 3, mode: .fused)).feeds(FusedEagerTests.batch(model, seed: 1))
        try session.train(step, feeds: feeds)
        XCTAssertEqual(step.optimizer.step, 1)
        XCTAssertNotEqual(session.parameters.names.map { session.parameters.value($0)!.scalars }, before)
    }

    /// Gradients stop being live to the end of the step: the vae's arena shrinks, the plan
    /// returns only the loss, and each parameter is updated exactly once.
    func testUpdatesFreeGradientsAndEachParameterIsUpdatedOnce() throws {
        let model = try Zoo.model(named: "vae")!.instantiate(batch: 32)
        let objective = model.objectives[0]
        let gradients = try model.graph.gradients(of: objective.loss, withRespectTo: objective.parameters)
        let program = Program(model.graph, outputs: [objective.loss] + gradients)
        let names = objective.parameters.map { t -> String in
            guard case .parameter(let name) = t.node.op else { return "" }
            return name
        }
        let updates = PlannedUpdates(rule: objective.rule, clip: objective.clip,
                                     gradientOutputs: Array(1...gradients.count), parameters: names)
        let without = try Compiler.compile(program).plan
        let with = try Compiler.compile(program, updates: updates).plan
        XCTAssertLessThan(Double(with.arenaFloats), 0.9 * Double(without.arenaFloats))
        XCTAssertEqual(with.results, [0])
        var updated: [String] = []
        for step in with.steps {
            if case .update(let u) = step.op { updated += u.parameters.map { with.leafNames[$0.base - 1] } }
        }
        XCTAssertEqual(updated.sorted(), names.sorted())
        // The plan cache tells the two apart.
        let cache = PlanCache()
        _ = try cache.compilation(for: program)
        _ = try cache.compilation(for: program, updates: updates)
        XCTAssertEqual(cache.misses, 2)
    }
}
