@testable import GenGraph
import XCTest

/// Each fusion kind turned off (`RunConfig.fusionOff`) still compiles a correct
/// plan: training follows full fusion to the fused == eager bounds, and the
/// plan changes the way that kind's absence must change it.
final class FusionAblationTests: XCTestCase {
    static let models = ["vae", "dcgan"]
    static let steps = 2

    /// A trainer of zoo model `name` at batch 4 with `off` turned off.
    private func trainer(_ name: String, off: Set<FusionKind>) throws -> Trainer {
        let model = try XCTUnwrap(Zoo.model(named: name)).instantiate(batch: 4)
        var config = RunConfig(threads: 2, seed: 3, mode: .fused)
        config.fusionOff = off
        return try Trainer(model: model, config: config)
    }

    /// Each objective's training-step plan, as the trainer runs it.
    private func plans(_ trainer: Trainer) throws -> [Plan] {
        try trainer.trainingSteps.map { try trainer.session.compilation(for: $0.outputs, updates: $0.plannedUpdates).plan }
    }

    func testEachKindOffTrainsLikeFullFusion() throws {
        for name in Self.models {
            let definition = try XCTUnwrap(Zoo.model(named: name))
            let noise = try FusedEagerTests.noiseDrivenParameters(definition, steps: Self.steps, batch: 4)
            func train(_ off: Set<FusionKind>) throws -> ([Float], ParameterStore) {
                let t = try trainer(name, off: off)
                var losses: [Float] = []
                var k: UInt64 = 0
                for _ in 0..<Self.steps {
                    losses += try t.step { k += 1; return FusedEagerTests.batch(t.model, seed: k) }.map(\.loss)
                }
                return (losses, t.session.parameters)
            }
            let (fullLosses, fullParameters) = try train([])
            for kind in FusionKind.allCases {
                let (losses, parameters) = try train([kind])
                for (l, f) in zip(losses, fullLosses) {
                    XCTAssertEqual(l, f, accuracy: 1e-3 * Swift.max(1, Swift.abs(f)), "\(name) -\(kind): losses \(losses) vs \(fullLosses)")
                }
                for p in fullParameters.names {
                    let (a, b) = (try XCTUnwrap(parameters.value(p)).scalars, try XCTUnwrap(fullParameters.value(p)).scalars)
                    let (rtol, atol) = noise[p].map { (Float(0), $0) } ?? (1e-3, 1e-5)
                    let scale = b.map(Swift.abs).max() ?? 0
                    let worst = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, atol + rtol * scale, "\(name) -\(kind) parameter \(p): max |diff| \(worst), scale \(scale)")
                }
            }
        }
    }

    /// What must hold of each plan whatever the model: only what a kind's absence forces.
    func testPlansChangeAsEachKindOffRequires() throws {
        for name in Self.models {
            let full = try plans(trainer(name, off: []))
            func check(_ kind: FusionKind, _ test: (Plan, Plan) -> Void) throws {
                for (plan, reference) in zip(try plans(trainer(name, off: [kind])), full) { test(plan, reference) }
            }
            // The same kernels, each value in storage of its own.
            try check(.memory) { plan, full in
                XCTAssertEqual(plan.steps.map(\.kernel), full.steps.map(\.kernel), name)
                XCTAssertGreaterThanOrEqual(plan.arenaFloats, full.arenaFloats, name)
                let slots = plan.slots.values.sorted { $0.offset < $1.offset }
                for (x, y) in zip(slots, slots.dropFirst()) { XCTAssertLessThanOrEqual(x.offset + x.count, y.offset, "\(name): slots overlap") }
            }
            // Every prologue group of full fusion becomes a kernel of its own.
            try check(.prologues) { plan, full in
                XCTAssertFalse(plan.fused.groups.contains { $0.kind == .prologue }, name)
                let prologues = full.fused.groups.filter { $0.kind == .prologue }.count
                XCTAssertGreaterThanOrEqual(plan.steps.count, full.steps.count + prologues, name)
            }
            // Merging only ever removes kernels.
            try check(.siblings) { plan, full in XCTAssertGreaterThanOrEqual(plan.steps.count, full.steps.count, name) }
            // Each phased kernel becomes its phases' kernels.
            try check(.phases) { plan, full in
                XCTAssertFalse(plan.fused.groups.contains { $0.kind == .phased }, name)
                XCTAssertEqual(plan.steps.count, full.steps.count + full.steps.reduce(0) { $0 + max($1.phases - 1, 0) }, name)
            }
            // GEMMs and convolutions run bare.
            try check(.epilogues) { plan, _ in
                for group in plan.fused.groups where group.kind == .contraction { XCTAssertEqual(group.nodes.count, 1, name) }
            }
            // The plan returns every gradient and updates nothing.
            try check(.updates) { plan, _ in
                XCTAssertFalse(plan.steps.contains { if case .update = $0.op { return true }; return false }, name)
                XCTAssertEqual(plan.results.count, plan.program.outputs.count, name)
            }
        }
    }

    /// With the passes after the greedy partition off too (they may add members to groups),
    /// elementwise off leaves one elementwise op per elementwise kernel, and reductions off one reduction per reduction kernel.
    func testElementwiseAndReductionsOffLeaveSingleOpGroups() throws {
        let later: Set<FusionKind> = [.recompute, .siblings, .prologues, .phases]
        for name in Self.models {
            let t = try trainer(name, off: [])
            let steps = t.trainingSteps
            for step in steps {
                let program = Compiler.optimize(Program(t.model.graph, outputs: step.outputs))
                for group in fuse(program, off: later.union([.elementwise])).groups where group.kind == .elementwise {
                    XCTAssertEqual(group.nodes.count, 1, "\(name): \(group.nodes)")
                }
                let reductions = fuse(program, off: later.union([.reductions])).groups.filter { $0.kind == .reduction }
                XCTAssertFalse(reductions.isEmpty, name)
                for group in reductions {
                    XCTAssertEqual(group.nodes.count, 1, "\(name): \(group.nodes)")
                    XCTAssertTrue(group.post.isEmpty, name)
                }
            }
        }
    }

    func testKindNamesParseAndAnUnknownOneNamesTheValidOnes() throws {
        XCTAssertEqual(try FusionKind.parse("epilogues,memory"), [.epilogues, .memory])
        XCTAssertEqual(FusionKind.describe([.memory, .elementwise]), "elementwise,memory")
        XCTAssertThrowsError(try FusionKind.parse("epilogues,epilogue")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("unknown fusion kind 'epilogue'"), text)
            XCTAssertTrue(text.contains("valid kinds: elementwise, reductions, siblings, epilogues, prologues, recompute, phases, updates, memory"), text)
        }
    }

    /// Plans with different kinds off are cached apart.
    func testThePlanCacheKeysOnTheKindsOff() throws {
        let model = try XCTUnwrap(Zoo.model(named: "vae")).instantiate(batch: 4)
        let program = Program(model.graph, outputs: [model.objectives[0].loss])
        let cache = PlanCache()
        let full = try cache.compilation(for: program)
        let bare = try cache.compilation(for: program, fusionOff: [.epilogues])
        XCTAssertEqual(cache.misses, 2)
        XCTAssertNotEqual(full.plan.steps.map(\.kernel), bare.plan.steps.map(\.kernel))
        _ = try cache.compilation(for: program, fusionOff: [.epilogues])
        XCTAssertEqual(cache.hits, 1)
    }
}
