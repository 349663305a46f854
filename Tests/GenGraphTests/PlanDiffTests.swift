@testable import GenGraph
import XCTest

/// `PlanDiff`: kernels matched by what they compute, and the totals A -> B.
final class PlanDiffTests: XCTestCase {
    /// The vae's training-step plan at batch 4, with `off` turned off and `latent` latent dimensions.
    private func plan(off: Set<FusionKind> = [], latent: Int? = nil) throws -> Plan {
        let overrides = latent.map { ["latent": "\($0)"] } ?? [:]
        let model = try XCTUnwrap(DSLZoo.definition(named: "vae", overrides: overrides)).instantiate(batch: 4)
        var config = RunConfig(threads: 1, mode: .fused)
        config.fusionOff = off
        let trainer = try Trainer(model: model, config: config)
        let step = trainer.trainingSteps[0]
        return try trainer.session.compilation(for: step.outputs, updates: step.plannedUpdates).plan
    }

    func testThePlanAgainstItselfIsEmpty() throws {
        let a = try plan(), b = try plan()
        let diff = PlanDiff(a, b)
        XCTAssertTrue(diff.isEmpty)
        XCTAssertEqual(diff.before, PlanDiff.Totals(a))
        XCTAssertTrue(diff.text(a: "vae", b: "vae").contains("kernels only in A (0): none"))
    }

    /// Without epilogues the GEMMs run bare and their elementwise consumers run in fused kernels
    /// (the vae's join reductions and other GEMMs' prologues, so the count of kernels may stay).
    func testEpiloguesOffShowAsBareGemmsAndAddedFusedKernels() throws {
        let diff = PlanDiff(try plan(), try plan(off: [.epilogues]))
        XCTAssertTrue(diff.removed.contains { $0.signature.kernel == "gg_gemm_ep_f32" }, "\(diff.removed)")
        XCTAssertFalse(diff.added.contains { $0.signature.kernel == "gg_gemm_ep_f32" }, "\(diff.added)")
        XCTAssertTrue(diff.added.contains { $0.signature.kernel == "gg_gemm_f32" }, "\(diff.added)")
        XCTAssertTrue(diff.added.contains { $0.signature.kernel == "gg_fused_f32" && $0.signature.ops.contains("exp") }, "\(diff.added)")
        XCTAssertEqual(diff.after.kernels - diff.before.kernels,
                       diff.added.reduce(0) { $0 + $1.count } - diff.removed.reduce(0) { $0 + $1.count })
        let text = diff.text(a: "vae", b: "vae --fusion-off epilogues")
        XCTAssertTrue(text.contains("\n  + gg_gemm_f32 contraction"), text)
        XCTAssertTrue(text.contains("\n  - gg_gemm_ep_f32 contraction"), text)
        XCTAssertTrue(text.split(separator: "\n").contains { $0.hasPrefix("kernels ") }, text)
    }

    /// Memory off changes no kernel, only the arena.
    func testMemoryOffChangesOnlyTheArena() throws {
        let diff = PlanDiff(try plan(), try plan(off: [.memory]))
        XCTAssertTrue(diff.added.isEmpty && diff.removed.isEmpty)
        XCTAssertEqual(diff.before.kernels, diff.after.kernels)
        XCTAssertEqual(diff.before.bytes, diff.after.bytes)
        XCTAssertGreaterThan(diff.after.arenaBytes, diff.before.arenaBytes)
    }

    /// Another program: kernels over the latent's shapes differ, and pair up one for one.
    func testAnotherLatentSizeChangesTheKernelsOverIt() throws {
        let diff = PlanDiff(try plan(latent: 16), try plan(latent: 32))
        XCTAssertFalse(diff.added.isEmpty)
        XCTAssertEqual(diff.added.reduce(0) { $0 + $1.count }, diff.removed.reduce(0) { $0 + $1.count })
        XCTAssertTrue(diff.added.allSatisfy { $0.signature.shapes.contains { $0.dims.contains(32) } }, "\(diff.added)")
        XCTAssertGreaterThan(diff.after.flops, diff.before.flops)
    }
}
