@testable import GenGraph
import XCTest

/// Where a data-parallel training step's plan starts and awaits its gradient all-reduces
/// (`PlannedUpdates.replicas`); compiled in-process, nothing is run across ranks.
final class AllReducePlanTests: XCTestCase {
    func plan(_ model: String, replicas: Int, objective: Int = 0) throws -> (Plan, TrainingStep) {
        let definition = try XCTUnwrap(DSLZoo.definition(named: model))
        var config = RunConfig(threads: 1, mode: .fused)
        config.replicas = replicas
        let trainer = try Trainer(model: definition.instantiate(batch: 8), config: config)
        let step = trainer.trainingSteps[objective]
        return (try trainer.session.compilation(for: step.outputs, updates: step.plannedUpdates).plan, step)
    }

    func testBucketsStartOnceTheirGradientsAreDoneAndAreAwaitedRightBeforeTheirUpdates() throws {
        let (plan, step) = try plan("vae", replicas: 2)
        var started: [Int: Int] = [:]
        var bucketed: [String] = []
        var updated: [String] = []
        for (k, s) in plan.steps.enumerated() {
            switch s.op {
            case .allReduceStart(let r):
                XCTAssertNil(started[r.bucket], "bucket \(r.bucket) started twice")
                started[r.bucket] = k
                bucketed += r.parameters
                // Started only once nothing writes its gradients any more.
                for later in plan.steps[(k + 1)...] { XCTAssertTrue(Set(later.writes).isDisjoint(with: s.reads), "bucket \(r.bucket) started early") }
                XCTAssertEqual(s.reads.count, r.parameters.count)
            case .allReduceFinish(let r):
                XCTAssertNotNil(started[r.bucket], "bucket \(r.bucket) awaited before it started")
                guard k + 1 < plan.steps.count, case .update(let u) = plan.steps[k + 1].op else {
                    return XCTFail("bucket \(r.bucket) is not followed by its update")
                }
                XCTAssertEqual(u.parameters.map { plan.leafNames[$0.base - 1] }, r.parameters)
                XCTAssertEqual(u.gradients, r.gradients)
            case .update(let u):
                let names = u.parameters.map { plan.leafNames[$0.base - 1] }
                XCTAssertTrue(Set(names).isSubset(of: Set(bucketed)), "\(names) updated before their gradients were averaged")
                updated += names
            default:
                continue
            }
        }
        XCTAssertEqual(bucketed.sorted(), step.plannedUpdates.parameters.sorted(), "each gradient in exactly one bucket")
        XCTAssertEqual(updated.sorted(), bucketed.sorted())
        // vae's 652k gradient floats make more than one bucket, and the first starts while the backward pass still runs.
        XCTAssertGreaterThan(started.count, 1)
        let firstStart = try XCTUnwrap(started.values.min())
        XCTAssertTrue(plan.steps[(firstStart + 1)...].contains { if case .fused = $0.op { return true }; if case .gemm = $0.op { return true }; return false },
                      "no computation overlaps the first all-reduce")
    }

    func testOneProcessPlanHasNoAllReduce() throws {
        let (plan, _) = try plan("vae", replicas: 1)
        XCTAssertFalse(plan.steps.contains { $0.kernel.hasPrefix("gg_mpi") })
    }

    func testSynchronisedBatchNormAllReducesItsStatisticsAndTheirGradients() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "dcgan"))
        let perRank = try definition.instantiate(batch: 8)
        let synchronised = try definition.instantiate(batch: 8, batchStatisticsReplicas: 2)
        func allReduces(_ model: Model) -> Int { model.graph.nodes.filter { $0.op == .allReduce }.count }
        XCTAssertEqual(allReduces(perRank), 0)
        // Five batch norms applied (G's two, D's one in D(x), D(stop_gradient(fake)) and D(fake)), each summing its mean and variance.
        XCTAssertEqual(allReduces(synchronised), 10)
        // d_loss reaches D's batch norm through D(x) and D(stop_gradient(fake)): the cotangents of those four sums are all-reduced too.
        _ = try synchronised.graph.gradients(of: synchronised.objectives[0].loss, withRespectTo: synchronised.graph.parameters)
        XCTAssertEqual(allReduces(synchronised), 14)
    }
}
