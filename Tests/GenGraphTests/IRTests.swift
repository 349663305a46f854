@testable import GenGraph
import XCTest

final class IRTests: XCTestCase {
    // MARK: Shape inference errors

    /// Runs `body`, which must throw a GraphError for `op` whose message names every one of `shapes`,
    /// and checks that the failed build appended no node.
    private func assertShapeError(_ op: String, mentions shapes: [String], in g: Graph,
                                  file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Tensor) {
        let before = g.nodes.count
        do {
            let t = try body()
            XCTFail("expected \(op) to fail, built %\(t.id) : \(t.shape)", file: file, line: line)
        } catch let error as GraphError {
            XCTAssertEqual(error.op, op, "\(error)", file: file, line: line)
            for s in shapes {
                XCTAssertTrue(error.message.contains(s), "'\(error)' does not mention \(s)", file: file, line: line)
            }
            XCTAssertTrue(error.description.hasPrefix(op + ": "), file: file, line: line)
        } catch {
            XCTFail("expected a GraphError, got \(error)", file: file, line: line)
        }
        XCTAssertEqual(g.nodes.count, before, "a failed build left nodes behind", file: file, line: line)
    }

    func testBinaryBroadcastMismatch() throws {
        let g = Graph()
        let a = try g.input("a", [2, 3]), b = try g.input("b", [4]), c = try g.input("c", [3, 2])
        assertShapeError("add", mentions: ["[2,3]", "[4]"], in: g) { try a + b }
        assertShapeError("mul", mentions: ["[2,3]", "[3,2]"], in: g) { try a * c }
        assertShapeError("pow", mentions: ["[4]", "[3,2]"], in: g) { try b.pow(c) }
        // The IR op itself insists on equal shapes.
        assertShapeError("sub", mentions: ["[2,3]", "[3,2]"], in: g) { try g.add(.binary(.sub), [a, c]) }
        assertShapeError("select", mentions: ["[2,3]", "[4]"], in: g) { try select(a, a, b) }
    }

    func testMatmulInnerMismatch() throws {
        let g = Graph()
        let a = try g.input("a", [2, 3]), b = try g.input("b", [4, 5])
        assertShapeError("matmul", mentions: ["[2,3]", "[4,5]"], in: g) { try a.matmul(b) }
        assertShapeError("matmul", mentions: ["[2,3]", "[4,5]"], in: g) { try a.matmul(b, transposeA: true, transposeB: true) }
        let c = try g.input("c", [2, 3, 4]), d = try g.input("d", [3, 4, 5])
        assertShapeError("matmul", mentions: ["[2,3,4]", "[3,4,5]"], in: g) { try c.matmul(d) }
    }

    func testConvChannelMismatch() throws {
        let g = Graph()
        let x = try g.input("x", [1, 3, 5, 5]), w = try g.parameter("w", [4, 2, 3, 3])
        assertShapeError("conv2d", mentions: ["[1,3,5,5]", "[4,2,3,3]"], in: g) { try x.conv2d(w) }
        let wt = try g.parameter("wt", [2, 4, 3, 3])
        assertShapeError("conv_transpose2d", mentions: ["[1,3,5,5]", "[2,4,3,3]"], in: g) { try x.convTranspose2d(wt, stride: 2) }
        let big = try g.parameter("big", [4, 3, 7, 7])
        assertShapeError("conv2d", mentions: ["7", "5"], in: g) { try x.conv2d(big) }
    }

    func testReshapeCountMismatch() throws {
        let g = Graph()
        let a = try g.input("a", [2, 3])
        assertShapeError("reshape", mentions: ["[2,3]", "[7]"], in: g) { try a.reshape([7]) }
        assertShapeError("reshape", mentions: ["[2,3]", "[4,-1]"], in: g) { try a.reshape([4, -1]) }
    }

    func testConcatMismatch() throws {
        let g = Graph()
        let a = try g.input("a", [2, 3]), b = try g.input("b", [2, 4]), c = try g.input("c", [2, 3, 1])
        assertShapeError("concat", mentions: ["[2,3]", "[2,4]"], in: g) { try concat([a, b], axis: 0) }
        assertShapeError("concat", mentions: ["[2,3]", "[2,3,1]"], in: g) { try concat([a, c], axis: 1) }
    }

    func testBadPermutation() throws {
        let g = Graph()
        let a = try g.input("a", [2, 3])
        assertShapeError("permute", mentions: ["[0, 0]", "[2,3]"], in: g) { try a.permute([0, 0]) }
        assertShapeError("permute", mentions: ["[2,3]"], in: g) { try a.permute([0, 1, 2]) }
    }

    func testOutOfRangeAxis() throws {
        let g = Graph()
        let a = try g.input("a", [2, 3])
        assertShapeError("reduce_sum", mentions: ["2", "[2,3]"], in: g) { try a.sum(axes: [2]) }
        assertShapeError("reduce_max", mentions: ["-3", "[2,3]"], in: g) { try a.max(axes: [-3]) }
        assertShapeError("reduce_sum", mentions: ["5", "[2,3]"], in: g) { try g.add(.reduce(.sum, axes: [5]), [a]) }
        assertShapeError("concat", mentions: ["2", "[2,3]"], in: g) { try concat([a, a], axis: 2) }
        assertShapeError("slice", mentions: ["3", "[2,3]"], in: g) { try a.slice(axis: 3, 0..<1) }
        assertShapeError("slice", mentions: ["[2,3]"], in: g) { try a.slice(start: [0, 1], end: [2, 4]) }
    }

    // MARK: Text form

    private func smallGraph() throws -> (Graph, Tensor) {
        let g = Graph()
        let x = try g.input("x", [2, 3])
        let w = try g.parameter("w", [4, 3], initializer: .normal(mean: 0, std: 1))
        let b = try g.parameter("b", [4])
        let y = try (x.matmul(w, transposeB: true) + b).relu()
        return (g, try y.sum(axes: [1]) * 0.5)
    }

    func testTextFormSnapshot() throws {
        let (g, out) = try smallGraph()
        XCTAssertEqual(g.text(), """
            graph main {
              %0 = input["x"] : f32[2,3]
              %1 = param["w"] : f32[4,3]
              %2 = param["b"] : f32[4]
              %3 = matmul[tb](%0, %1) : f32[2,4]
              %4 = reshape(%2) : f32[1,4]
              %5 = broadcast(%4) : f32[2,4]
              %6 = add(%3, %5) : f32[2,4]
              %7 = relu(%6) : f32[2,4]
              %8 = reduce_sum[axes=1](%7) : f32[2,1]
              %9 = reshape(%8) : f32[2]
              %10 = const[0.5] : f32[]
              %11 = reshape(%10) : f32[1]
              %12 = broadcast(%11) : f32[2]
              %13 = mul(%9, %12) : f32[2]
            }
            """)
        XCTAssertEqual(out.id, 13)
    }

    func testTextFormOfAttributesStateAndOutputs() throws {
        let g = Graph()
        let x = try g.input("x", [1, 2, 4, 4])
        let k = try g.parameter("k", [3, 2, 3, 3])
        let c = try x.conv2d(k, stride: 2, padding: 1)
        let p = try c.maxPool2d(kernel: 2)
        let q = try p.leakyRelu(0.2).clamp(-1, 1)
        let s = try q.permute([0, 2, 3, 1]).slice(start: [0, 0, 0, 1], end: [1, 1, 1, 3])
        let m = try g.state("m", [1, 1, 1, 2], initializer: .ones)
        try g.updateState("m", to: s)
        let u = try concat([s, m], axis: 3)
        _ = try g.randomNormal([4])
        let t = try g.add(.convTranspose2d(Conv2DAttributes(stride: 2, padding: 1)), [c, k], shape: [1, 2, 4, 4])
        XCTAssertEqual(g.text(name: "attrs"), """
            graph attrs {
              %0 = input["x"] : f32[1,2,4,4]
              %1 = param["k"] : f32[3,2,3,3]
              %2 = conv2d[stride=2,pad=1](%0, %1) : f32[1,3,2,2]
              %3 = max_pool2d[k=2,stride=2,pad=0](%2) : f32[1,3,1,1]
              %4 = leaky_relu[slope=0.2](%3) : f32[1,3,1,1]
              %5 = clamp[min=-1.0,max=1.0](%4) : f32[1,3,1,1]
              %6 = permute[0,2,3,1](%5) : f32[1,1,1,3]
              %7 = slice[start=0,0,0,1;end=1,1,1,3](%6) : f32[1,1,1,2]
              %8 = state["m"] : f32[1,1,1,2]
              %9 = concat[axis=3](%7, %8) : f32[1,1,1,4]
              %10 = random_normal[stream=1] : f32[4]
              %11 = conv_transpose2d[stride=2,pad=1](%2, %1) : f32[1,2,4,4]
              update "m" <- %7
            }
            """)
        // With outputs: only the nodes they need, no state updates, then the outputs.
        XCTAssertEqual(g.text(outputs: [u, t]), """
            graph main {
              %0 = input["x"] : f32[1,2,4,4]
              %1 = param["k"] : f32[3,2,3,3]
              %2 = conv2d[stride=2,pad=1](%0, %1) : f32[1,3,2,2]
              %3 = max_pool2d[k=2,stride=2,pad=0](%2) : f32[1,3,1,1]
              %4 = leaky_relu[slope=0.2](%3) : f32[1,3,1,1]
              %5 = clamp[min=-1.0,max=1.0](%4) : f32[1,3,1,1]
              %6 = permute[0,2,3,1](%5) : f32[1,1,1,3]
              %7 = slice[start=0,0,0,1;end=1,1,1,3](%6) : f32[1,1,1,2]
              %8 = state["m"] : f32[1,1,1,2]
              %9 = concat[axis=3](%7, %8) : f32[1,1,1,4]
              %11 = conv_transpose2d[stride=2,pad=1](%2, %1) : f32[1,2,4,4]
              output %9
              output %11
            }
            """)
    }

    func testTextIsDeterministicAcrossIdenticalBuilds() throws {
        func build() throws -> String {
            let (g, out) = try smallGraph()
            let params = g.parameters
            let grads = try g.gradients(of: out.square().mean(), withRespectTo: params)
            let second = try g.gradients(of: grads[0].square().sum(), withRespectTo: params)
            return g.text(outputs: grads + second)
        }
        let first = try build(), again = try build()
        XCTAssertEqual(first, again)
        XCTAssertGreaterThan(first.split(separator: "\n").count, 20)
    }

    // MARK: Graph queries and autodiff structure

    func testNeededNodes() throws {
        let g = Graph()
        let x = try g.input("x", [2]), y = try g.input("y", [2])  // %0, %1
        let ex = try x.exp(), ey = try y.exp()                     // %2, %3
        let a = try g.add(.binary(.add), [ex, x])                  // %4
        XCTAssertEqual(g.neededNodes(for: [a.id]), [0, 2, 4])
        XCTAssertEqual(g.neededNodes(for: [ey.id]), [1, 3])
        XCTAssertEqual(g.neededNodes(for: [ey.id, a.id]), [0, 1, 2, 3, 4])
        XCTAssertEqual(g.neededNodes(for: [x.id]), [0])
        XCTAssertEqual(g.neededNodes(for: []), [])
    }

    func testGradientOfAnUnrelatedTargetIsZeros() throws {
        let g = Graph()
        let x = try g.parameter("x", [2, 3], initializer: .normal(mean: 0, std: 1))
        let z = try g.parameter("z", [3, 1], initializer: .normal(mean: 0, std: 1))
        let loss = try x.square().sum()
        let late = try g.parameter("late", [4], initializer: .ones)  // declared after the loss
        let grads = try g.gradients(of: loss, withRespectTo: [z, x, late, loss])
        XCTAssertEqual(grads.map(\.shape), [[3, 1], [2, 3], [4], []])
        let s = try Session(graph: g, config: RunConfig(threads: 1, seed: 5))
        let out = try s.run(grads)
        XCTAssertEqual(out[0].scalars, [0, 0, 0])
        XCTAssertEqual(out[2].scalars, [0, 0, 0, 0])
        XCTAssertEqual(out[3].scalars, [1])
        let xv = s.parameters.value("x")!.scalars
        XCTAssertEqual(out[1].scalars, xv.map { 2 * $0 })
        XCTAssertFalse(xv.allSatisfy { $0 == 0 })
    }

    func testGradientsRejectTensorsOfAnotherGraph() throws {
        let g = Graph(), h = Graph()
        let x = try g.input("x", [2]), y = try h.input("y", [2])
        XCTAssertThrowsError(try g.gradients(of: x.sum(), withRespectTo: [y])) { error in
            XCTAssertEqual((error as? GraphError)?.op, "gradients")
        }
        XCTAssertThrowsError(try x + y)
    }

    // MARK: Session errors

    func testRunErrorsForMissingAndWrongShapedFeeds() throws {
        let g = Graph()
        let x = try g.input("x", [2, 3])
        let y = try x.exp()
        let s = try Session(graph: g, config: RunConfig(threads: 1))
        XCTAssertThrowsError(try s.run([y])) { error in
            let e = error as? GraphError
            XCTAssertEqual(e?.op, "input")
            XCTAssertTrue(e?.message.contains("'x'") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try s.run([y], feeds: ["x": TensorValue(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])])) { error in
            let e = error as? GraphError
            XCTAssertEqual(e?.op, "input")
            XCTAssertTrue(e?.message.contains("[2,3]") ?? false, "\(error)")
            XCTAssertTrue(e?.message.contains("[3,2]") ?? false, "\(error)")
        }
        // A feed of the right shape works after the failures, and feeding a node that is not needed is fine.
        let ok = try s.run([y], feeds: ["x": TensorValue(shape: [2, 3], scalars: [0, 0, 0, 0, 0, 0]),
                                        "unused": TensorValue(shape: [1], scalars: [1])])
        XCTAssertEqual(ok[0].scalars, [1, 1, 1, 1, 1, 1])
        XCTAssertThrowsError(try TensorValue(shape: [2, 2], scalars: [1, 2, 3]))
    }
}
