@testable import GenGraph
import XCTest

/// A normalisation's statistics passes and the passes over its input that read them run as
/// phases of one kernel (`mergePhases`, `gg_fused_phases_f32`), forward and backward; the step
/// computes what eager does and what the plan without phases does, within the fused == eager
/// bound, and the same bits on 1, 2 and 3 threads.
final class PhasedNormalizationTests: XCTestCase {
    private struct Case {
        let name: String
        let shape: [Int]
        /// Phased kernels the step must have: batch norm's backward sums share its input with
        /// the input gradient's pass; the others' backward sums read a product of the loss's
        /// pass, which nothing else in the backward reads, so they stay kernels of their own.
        let phasedKernels: Int
        let build: (Tensor) throws -> Tensor
    }

    private let cases = [
        Case(name: "batch norm", shape: [32, 8, 16, 16], phasedKernels: 2) { try $0.batchNorm(name: "bn", training: true).relu() },
        Case(name: "instance norm", shape: [8, 12, 20, 20], phasedKernels: 1) { try $0.instanceNorm().leakyRelu(0.2) },
        Case(name: "group norm", shape: [8, 32, 14, 14], phasedKernels: 2) { try $0.groupNorm(groups: 8, name: "gn").silu() },
        Case(name: "softmax", shape: [300, 50], phasedKernels: 1) { try $0.softmax() },
        Case(name: "log-softmax", shape: [300, 50], phasedKernels: 1) { x in
            try x - x.logSumExp(axes: [-1], keepDims: true)
        },
    ]

    /// The loss is weighted so that no gradient is a constant, and the gradient of the input
    /// runs the backward of the normalisation in full.
    private func build(_ c: Case) throws -> (Graph, [Tensor]) {
        let g = Graph()
        let x = try g.input("x", Shape(c.shape))
        let y = try c.build(x)
        let weights = try g.constant(ConstantData(name: "weights", values: (0..<y.shape.count).map { Float(($0 * 7) % 13) / 6 - 1 }),
                                     y.shape)
        let loss = try (y * weights).square().mean()
        return (g, [loss, y] + (try g.gradients(of: loss, withRespectTo: g.parameters + [x])))
    }

    private func feeds(_ c: Case) throws -> [String: TensorValue] {
        let count = c.shape.reduce(1, *)
        return ["x": try TensorValue(shape: Shape(c.shape), scalars: (0..<count).map { Float(($0 * 31) % 97) / 24 - 2 })]
    }

    func testNormalizationsRunAsPhasesForwardAndBackward() throws {
        for c in cases {
            let (g, outputs) = try build(c)
            let program = Program(g, outputs: outputs)
            let phased = try Compiler.compile(program)
            let steps = phased.plan.steps.filter { $0.kernel == "gg_fused_phases_f32" }
            XCTAssertGreaterThanOrEqual(steps.count, c.phasedKernels, c.name)
            XCTAssertTrue(steps.allSatisfy { $0.phases >= 2 && $0.bytesSaved > 0 }, c.name)
            for group in phased.fused.groups where group.kind == .phased {
                XCTAssertEqual(Set(group.phases.flatMap { $0.nodes + $0.post }), Set(group.nodes), "\(c.name): the phases hold the group's members")
            }
            // Turning phases off leaves every other kernel as it was, so the plan without them
            // moves exactly the bytes the phased steps say they save.
            let apart = try Compiler.compile(program, fusionOff: [.phases])
            XCTAssertFalse(apart.plan.steps.contains { $0.kernel == "gg_fused_phases_f32" }, c.name)
            let bytes = { (plan: Plan) in plan.steps.reduce(0) { $0 + $1.bytesRead + $1.bytesWritten } }
            XCTAssertEqual(bytes(apart.plan) - bytes(phased.plan), steps.reduce(0) { $0 + $1.bytesSaved }, c.name)
            XCTAssertEqual(apart.plan.steps.count - phased.plan.steps.count, steps.reduce(0) { $0 + $1.phases - 1 }, c.name)
        }
    }

    func testPhasesComputeWhatEagerDoesOnAnyThreadCount() throws {
        for c in cases {
            let (g, outputs) = try build(c)
            let feeds = try feeds(c)
            var runs: [[TensorValue]] = []
            for (mode, threads, off) in [(ExecutionMode.eager, 2, Set<FusionKind>()), (.fused, 1, []), (.fused, 2, []),
                                         (.fused, 3, []), (.fused, 2, [.phases])] {
                var config = RunConfig(threads: threads, seed: 3, mode: mode)
                config.fusionOff = off
                runs.append(try Session(graph: g, config: config).run(outputs, feeds: feeds))
            }
            for k in outputs.indices {
                let (f, e) = (runs[1][k].scalars, runs[0][k].scalars)
                let scale = e.map { Swift.abs($0) }.max() ?? 0
                for (run, label) in [(1, "fused"), (4, "fused without phases")] {
                    let error = zip(runs[run][k].scalars, e).map { Swift.abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(error, 1e-4 * scale + 1e-6, "\(c.name) output \(k): \(label) vs eager")
                }
                for t in 2...3 {
                    XCTAssertEqual(runs[t][k].scalars.map(\.bitPattern), f.map(\.bitPattern), "\(c.name) output \(k): \(t) threads vs 1")
                }
            }
        }
    }

    /// Group norm standardises over (n, groups, c / groups, h, w), which splits the axes of its
    /// (n, c, h, w) output: the activation after it, over (n, c, h, w), reads the normalised value's
    /// register, so statistics, normalisation and activation are one kernel.
    func testGroupNormAndTheActivationAfterItAreOneKernel() throws {
        let g = Graph()
        let x = try g.input("x", [8, 32, 14, 14])
        let y = try x.groupNorm(groups: 8, name: "gn").silu()
        let compilation = try Compiler.compile(Program(g, outputs: [y]))
        let fused = compilation.fused
        let silu = try XCTUnwrap(fused.program.nodes.firstIndex { $0.op == .unary(.silu) })
        let group = try XCTUnwrap(fused.groupOf[silu].map { fused.groups[$0] })
        XCTAssertEqual(group.kind, .phased)
        XCTAssertEqual(group.space, [8, 8, 4, 14, 14])
        XCTAssertEqual(group.phases.count, 3, "mean, variance, then normalise, scale, shift and activate")
        XCTAssertEqual(compilation.plan.steps.count, 1)
        XCTAssertEqual(compilation.plan.steps[0].bytesWritten, 8 * 32 * 14 * 14 * 4 + 2 * 8 * 8 * 4 * 2,
                       "the activation, and the statistics' sums and their posts (n x groups each): nothing else stored")
    }

    func testDumpShowsThePhasesAndTheBytesSaved() throws {
        let (g, outputs) = try build(cases[0])
        let compilation = try Compiler.compile(Program(g, outputs: outputs))
        let dump = Dump(compilation, outputNames: outputs.indices.map { "out\($0)" }, forwardOutputs: 2)
        let plan = dump.render(.plan, .text)
        XCTAssertTrue(plan.contains("gg_fused_phases_f32"), plan)
        XCTAssertTrue(plan.contains("phases over slabs"), plan)
        XCTAssertTrue(plan.contains("phased kernels"), plan)
        let fused = dump.render(.fused, .text)
        XCTAssertTrue(fused.contains("phase 1, slab by slab after phase 0"), fused)
        // The page's kernel table (`dump --format html`) says it in the kernel's boundaries.
        let phased = compilation.kernels(gradientOutputs: []).filter { $0.kind == "phased" }
        XCTAssertFalse(phased.isEmpty)
        XCTAssertTrue(phased.allSatisfy { $0.boundaries.first?.contains("phases over slabs") == true })
    }
}
