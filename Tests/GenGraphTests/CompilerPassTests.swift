@testable import GenGraph
import XCTest

/// Each pass alone, through the program's text form, plus the planner's invariants.
final class CompilerPassTests: XCTestCase {
    func testSimplifyRemovesIdentitiesAndFoldsTransposesIntoMatmul() throws {
        let g = Graph()
        let x = try g.input("x", [4, 3])
        let w = try g.parameter("w", [5, 3])
        let y = try (x.matmul(w.transposed()) + 0) * 1
        let folded = try (g.constant(2) * g.constant(3)) + y.stopGradient()
        let p = Compiler.optimize(Program(g, outputs: [folded]))
        XCTAssertEqual(p.text(), """
            graph main {
              %0 = input["x"] : f32[4,3]
              %1 = param["w"] : f32[5,3]
              %2 = matmul[tb](%0, %1) : f32[4,5]
              %3 = const[6.0] : f32[4,5]
              %4 = add(%3, %2) : f32[4,5]
              output %4
            }
            """)
    }

    func testCSEMergesEqualNodesButNotRandomDraws() throws {
        let g = Graph()
        let x = try g.input("x", [8])
        let a = try x.exp() + x.exp()
        let r = try g.randomNormal([8]) + g.randomNormal([8])
        let p = eliminateDeadCode(eliminateCommonSubexpressions(Program(g, outputs: [a, r])))
        XCTAssertEqual(p.nodes.filter { $0.op == .unary(.exp) }.count, 1)
        XCTAssertEqual(p.nodes.filter { $0.op.category == .random }.count, 2)
        try p.verify()
    }

    func testDCEKeepsOnlyWhatOutputsNeed() throws {
        let g = Graph()
        let x = try g.input("x", [3])
        _ = try x.exp().log()
        let kept = try x.square()
        let p = eliminateDeadCode(Program(nodes: g.nodes, outputs: [kept.id]))
        XCTAssertEqual(p.nodes.map(\.op), [.input("x"), .unary(.square)])
    }

    func testReshapedStridesOfViews() {
        XCTAssertEqual(ViewInfo.reshapedStrides(from: [4, 6], [6, 1], to: [2, 2, 6]), [12, 6, 1])
        XCTAssertEqual(ViewInfo.reshapedStrides(from: [4, 6], [6, 1], to: [24]), [1])
        // A transposed (4, 6) view cannot be flattened without a copy, but can gain size-1 axes.
        XCTAssertNil(ViewInfo.reshapedStrides(from: [4, 6], [1, 4], to: [24]))
        XCTAssertEqual(ViewInfo.reshapedStrides(from: [4, 6], [1, 4], to: [4, 1, 6])?.enumerated().filter { $0.offset != 1 }.map(\.element), [1, 4])
    }

    func testFusionOfADenseLayerIsOneGEMMWithEpilogue() throws {
        let g = Graph()
        let x = try g.input("x", [16, 8])
        let h = try x.dense(32, name: "fc").relu()
        let loss = try h.square().sum()
        let fused = fuse(Compiler.optimize(Program(g, outputs: [loss])))
        let kinds = fused.groups.map(\.kind)
        XCTAssertEqual(kinds.first, .contraction)
        let gemm = fused.groups[0]
        XCTAssertTrue(gemm.nodes.count >= 3, "bias add and relu should join the GEMM: \(gemm.nodes)")
        XCTAssertTrue(kinds.contains(.reduction))
        XCTAssertFalse(fused.groups.flatMap(\.boundaries).isEmpty)
    }

    /// The planner's invariant: values live at the same time never overlap, and every offset is 64-byte aligned.
    func testArenaSlotsOfLiveValuesNeverOverlapOnEveryZooModel() throws {
        for definition in Zoo.models {
            let model = try definition.instantiate(batch: 4)
            for objective in model.objectives {
                let gradients = try model.graph.gradients(of: objective.loss, withRespectTo: objective.parameters)
                let plan = try Compiler.compile(Program(model.graph, outputs: [objective.loss] + gradients)).plan
                let slots = Array(plan.slots.values)
                for s in slots { XCTAssertEqual(s.offset % 16, 0, "\(definition.name): unaligned slot") }
                for (i, a) in slots.enumerated() {
                    for b in slots[(i + 1)...] where a.firstStep <= b.lastStep && b.firstStep <= a.lastStep {
                        XCTAssertTrue(a.offset + a.count <= b.offset || b.offset + b.count <= a.offset,
                                      "\(definition.name) \(objective.name): overlapping live slots \(a) \(b)")
                    }
                }
                XCTAssertGreaterThanOrEqual(plan.arenaFloats, slots.map { $0.offset + $0.count }.max() ?? 0)
            }
        }
    }

    /// Elementwise consumers over a reduction's result run in the reduction's
    /// step after it finishes; consumers over the input's space (x - max) cannot.
    func testConsumersOfAReductionResultJoinItsStepOnlyOverTheReducedSpace() throws {
        let g = Graph()
        let x = try g.parameter("x", [6, 5], initializer: .normal(mean: 0, std: 1))
        let scaled = try x.exp().sum(axes: [1]) * 0.5 + 1
        let centred = try x - x.max(axes: [1], keepDims: true)
        let fused = fuse(Compiler.optimize(Program(g, outputs: [scaled, centred])))
        let withPost = fused.groups.filter { !$0.post.isEmpty }
        XCTAssertEqual(withPost.count, 1)
        XCTAssertEqual(withPost.first?.postSpace, [6])
        XCTAssertEqual(withPost.first?.post.count, 2, "both the scale and the shift run after the sum")
        let subtract = fused.program.nodes.firstIndex { $0.op == .binary(.sub) }!
        let maxNode = fused.program.nodes.firstIndex { $0.op == .reduce(.max, axes: [1]) }!
        XCTAssertNotEqual(fused.groupOf[subtract], fused.groupOf[maxNode], "x - max needs the finished max: another step")
        // And the values still match eager execution.
        let eager = try Session(graph: g, config: RunConfig(threads: 1, mode: .eager)).run([scaled, centred])
        let plan = try Session(graph: g, config: RunConfig(threads: 1, mode: .fused)).run([scaled, centred])
        for (a, b) in zip(eager, plan) { XCTAssertEqual(a.scalars, b.scalars) }
    }
}
