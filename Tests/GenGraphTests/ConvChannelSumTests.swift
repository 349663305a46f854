@testable import GenGraph
import XCTest

/// Sums over every axis but the channel of a convolution's output, or of an elementwise function of
/// it in the epilogue (batch norm's statistics and backward sums, bias gradients), join the
/// convolution's kernel; the step computes what eager does, within the fused == eager bound, and
/// the same bits on 1, 2 and 3 threads.
final class ConvChannelSumTests: XCTestCase {
    /// conv -> batch norm -> leaky relu -> transposed conv -> tanh, squared: channel sums in the
    /// forward (batch norm's mean) and in the backward (the bias gradients, batch norm's two sums).
    private func build() throws -> (Graph, [Tensor]) {
        let g = Graph()
        let x = try g.input("x", [6, 3, 12, 12])
        let h = try x.conv2d(16, kernel: 4, stride: 2, padding: 1, name: "c1")
            .batchNorm(name: "bn", training: true).leakyRelu(0.2)
        let y = try h.convTranspose2d(3, kernel: 4, stride: 2, padding: 1, name: "t1").tanh()
        let loss = try y.square().mean()
        return (g, [loss] + (try g.gradients(of: loss, withRespectTo: g.parameters)))
    }

    private func channelSums(_ fused: FusedProgram) -> [Int] {
        fused.groups.indices.flatMap { g -> [Int] in
            guard fused.groups[g].kind == .contraction else { return [] }
            return fused.groups[g].nodes.filter { isChannelSum(fused.program.nodes[$0].op, rank: 4) }
        }
    }

    func testChannelSumsJoinTheConvolutionsKernel() throws {
        let (g, outputs) = try build()
        let compilation = try Compiler.compile(Program(g, outputs: outputs))
        let sums = channelSums(compilation.fused)
        XCTAssertGreaterThanOrEqual(sums.count, 3, "batch norm's mean, its backward sums, the bias gradients")
        for s in sums {
            let step = try XCTUnwrap(compilation.plan.steps.first { $0.writes.contains(s) })
            XCTAssertTrue(["gg_conv2d_ep_f32", "gg_conv2d_bwd_data_ep_f32"].contains(step.kernel), step.kernel)
        }
        XCTAssertTrue(compilation.fused.groups.contains { $0.kind == .contraction && !$0.post.isEmpty },
                      "the mean's scale runs in the convolution's pass after its sums")
        for kind in [FusionKind.epilogues, .reductions] {
            let bare = try Compiler.compile(Program(g, outputs: outputs), fusionOff: [kind])
            XCTAssertEqual(channelSums(bare.fused), [], "\(kind) off: no sums inside convolutions")
        }
    }

    func testFusedEqualsEagerAndThreadCountsAgree() throws {
        let (g, outputs) = try build()
        let feeds = ["x": try TensorValue(shape: [6, 3, 12, 12], scalars: (0..<(6 * 3 * 144)).map { Float($0 % 97) / 48 - 1 })]
        var runs: [[TensorValue]] = []
        for (mode, threads) in [(ExecutionMode.eager, 2), (.fused, 1), (.fused, 2), (.fused, 3)] {
            runs.append(try Session(graph: g, config: RunConfig(threads: threads, seed: 5, mode: mode)).run(outputs, feeds: feeds))
        }
        for k in outputs.indices {
            let (f, e) = (runs[1][k].scalars, runs[0][k].scalars)
            let scale = e.map { Swift.abs($0) }.max() ?? 0
            XCTAssertLessThanOrEqual(zip(f, e).map { Swift.abs($0 - $1) }.max() ?? 0, 1e-4 * scale + 1e-6, "output \(k) fused vs eager")
            for t in 2...3 {
                XCTAssertEqual(runs[t][k].scalars.map(\.bitPattern), f.map(\.bitPattern), "output \(k): \(t) threads vs 1")
            }
        }
    }
}
