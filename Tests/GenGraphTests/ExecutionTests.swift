@testable import GenGraph
import XCTest

/// Eager results of small graphs against values worked out by hand.
final class ExecutionTests: XCTestCase {
    private func value(_ shape: Shape, _ scalars: [Float]) throws -> TensorValue { try TensorValue(shape: shape, scalars: scalars) }

    private func iota(_ shape: Shape) throws -> TensorValue { try value(shape, (0..<shape.count).map(Float.init)) }

    /// Runs `outputs` of `g` in a fresh single-threaded session.
    private func run(_ g: Graph, _ outputs: [Tensor], _ feeds: [String: TensorValue] = [:]) throws -> [TensorValue] {
        try Session(graph: g, config: RunConfig(threads: 1)).run(outputs, feeds: feeds)
    }

    func testBroadcastingAddOfRowAndColumn() throws {
        let g = Graph()
        let row = try g.input("row", [3]), column = try g.input("column", [2, 1])
        let out = try run(g, [row + column, column - row], ["row": value([3], [1, 2, 3]), "column": value([2, 1], [10, 20])])
        XCTAssertEqual(out[0].shape, [2, 3])
        XCTAssertEqual(out[0].scalars, [11, 12, 13, 21, 22, 23])
        XCTAssertEqual(out[1].scalars, [9, 8, 7, 19, 18, 17])
    }

    func testSumOverNonAdjacentAxes() throws {
        // x[i,j,k] = 12i + 4j + k; Σ_{i,k} = 48 + 32j + 12 = 60 + 32j.
        let g = Graph()
        let x = try g.input("x", [2, 3, 4])
        let s = try x.sum(axes: [0, 2]), kept = try x.sum(axes: [2, 0], keepDims: true), m = try x.max(axes: [0, 2])
        // Through a permuted (non-contiguous) view: (j, i, k) summed over j and k gives Σ_{j,k} = 66 + 144i.
        let p = try x.permute([1, 0, 2]).sum(axes: [0, 2])
        let all = try x.sum(), mean = try x.mean(axes: [0, -1])
        let out = try run(g, [s, kept, m, p, all, mean], ["x": iota([2, 3, 4])])
        XCTAssertEqual(out[0].shape, [3])
        XCTAssertEqual(out[0].scalars, [60, 92, 124])
        XCTAssertEqual(out[1].shape, [1, 3, 1])
        XCTAssertEqual(out[1].scalars, [60, 92, 124])
        XCTAssertEqual(out[2].scalars, [15, 19, 23])
        XCTAssertEqual(out[3].scalars, [66, 210])
        XCTAssertEqual(out[4].shape, [])
        XCTAssertEqual(out[4].scalar, 276)
        XCTAssertEqual(out[5].scalars, [7.5, 11.5, 15.5])
    }

    func testMatmulOfTransposedAndSlicedViews() throws {
        let g = Graph()
        let a = try g.input("a", [3, 2]), b = try g.input("b", [3, 2])
        let x = try g.input("x", [3, 4]), c = try g.input("c", [2, 2]), t = try g.input("t", [2, 2, 2])
        let transposed = try a.transposed().matmul(b)                   // Aᵀ B, Aᵀ a permuted view
        let sliced = try x.slice(axis: 1, 1..<3).matmul(c)               // columns 1..<3: row stride 4
        let block = try x.slice(start: [1, 1], end: [3, 3])              // [[6,7],[10,11]]
        let gram = try block.matmul(block, transposeB: true)
        let batched = try t.permute([0, 2, 1]).matmul(t)                 // per-batch Tᵢᵀ Tᵢ
        let out = try run(g, [transposed, sliced, gram, batched], [
            "a": value([3, 2], [1, 2, 3, 4, 5, 6]), "b": value([3, 2], [1, 0, 0, 1, 1, 1]),
            "x": value([3, 4], (1...12).map(Float.init)), "c": value([2, 2], [1, 2, 3, 4]),
            "t": value([2, 2, 2], (1...8).map(Float.init)),
        ])
        XCTAssertEqual(out[0].shape, [2, 2])
        XCTAssertEqual(out[0].scalars, [6, 8, 8, 10])
        XCTAssertEqual(out[1].scalars, [11, 16, 27, 40, 43, 64])
        XCTAssertEqual(out[2].scalars, [85, 137, 137, 221])
        XCTAssertEqual(out[3].shape, [2, 2, 2])
        XCTAssertEqual(out[3].scalars, [10, 14, 14, 20, 74, 86, 86, 100])
    }

    /// GEMM reads strided views directly (leading dimension, transpose flag, batch stride) or copies
    /// them first; either way the product must equal that of a contiguous copy (`view + 0`).
    func testMatmulOfViewsMatchesContiguousCopies() throws {
        var rng = TestRNG(seed: 21)
        let g = Graph()
        var feeds: [String: TensorValue] = [:]
        func input(_ name: String, _ shape: Shape) throws -> Tensor {
            feeds[name] = try value(shape, (0..<shape.count).map { _ in rng.normal() })
            return try g.input(name, shape)
        }
        let x = try input("x", [7, 6]), y = try input("y", [6, 5]), t = try input("t", [3, 2, 4, 5])
        let u = try input("u", [4, 2, 5]), row = try input("row", [1, 6]), w = try input("w", [1, 5, 3])
        let cases: [(String, Tensor, Tensor, Bool, Bool)] = [
            ("transposed", try x.transposed(), try input("a", [7, 3]), false, false),
            ("row slice", try x.slice(axis: 0, 2..<5), y, false, false),
            ("column slice (ld 6)", try x.slice(axis: 1, 1..<4), try y.slice(axis: 0, 0..<3), false, false),
            ("slice of both axes", try x.slice(start: [1, 2], end: [4, 6]), try y.slice(start: [1, 0], end: [5, 3]), false, false),
            ("transposed column slice", try x.slice(axis: 0, 1..<5).transposed(), try x.slice(axis: 0, 2..<6), false, false),
            ("view with flags", try x.slice(axis: 1, 0..<4).transposed(), try y.slice(axis: 0, 0..<4), true, false),
            ("view with tb", try x.slice(axis: 0, 1..<4), try y.transposed().slice(axis: 0, 1..<4), false, true),
            ("broadcast rows", try row.expand(to: [4, 6]), y, false, false),
            ("permuted batch (ld 10, batch stride 5)", try u.permute([1, 0, 2]), try input("b", [2, 5, 3]), false, false),
            ("permuted batch axes (copied)", try t.permute([1, 0, 2, 3]), try input("c", [2, 3, 5, 2]), false, false),
            ("batch slice", try t.slice(axis: 0, 1..<3), try input("d", [2, 2, 5, 3]), false, false),
            ("broadcast batch", try input("e", [2, 4, 5]), try w.expand(to: [2, 5, 3]), false, false),
            ("batched transposed both", try t.slice(axis: 1, 0..<1).permute([0, 1, 3, 2]), try t.slice(axis: 1, 1..<2), true, true),
        ]
        var outputs: [Tensor] = []
        for (_, a, b, ta, tb) in cases {
            outputs.append(try a.matmul(b, transposeA: ta, transposeB: tb))
            outputs.append(try (a + 0).matmul(b + 0, transposeA: ta, transposeB: tb))
        }
        let out = try run(g, outputs, feeds)
        for (i, c) in cases.enumerated() {
            XCTAssertEqual(out[2 * i].shape, out[2 * i + 1].shape, c.0)
            assertValuesClose(out[2 * i].scalars, out[2 * i + 1].scalars, 1e-5)
            XCTAssertTrue(out[2 * i].scalars.contains { $0 != 0 }, c.0)
        }
    }

    func testConcat() throws {
        let g = Graph()
        let a = try g.input("a", [2, 2]), b = try g.input("b", [2, 1]), c = try g.input("c", [1, 2])
        let feeds = ["a": try value([2, 2], [1, 2, 3, 4]), "b": try value([2, 1], [5, 6]), "c": try value([1, 2], [7, 8])]
        let out = try run(g, [concat([a, b], axis: 1), concat([a, c], axis: 0), concat([a.transposed(), c], axis: -2)], feeds)
        XCTAssertEqual(out[0].shape, [2, 3])
        XCTAssertEqual(out[0].scalars, [1, 2, 5, 3, 4, 6])
        XCTAssertEqual(out[1].shape, [3, 2])
        XCTAssertEqual(out[1].scalars, [1, 2, 3, 4, 7, 8])
        XCTAssertEqual(out[2].scalars, [1, 3, 2, 4, 7, 8])
    }

    func testPad() throws {
        let g = Graph()
        let x = try g.input("x", [2, 2])
        let padded = try g.add(.pad(before: [1, 0], after: [0, 2]), [x])
        let paddedView = try g.add(.pad(before: [0, 1], after: [1, 0]), [x.transposed()])
        let out = try run(g, [padded, paddedView], ["x": value([2, 2], [1, 2, 3, 4])])
        XCTAssertEqual(out[0].shape, [3, 4])
        XCTAssertEqual(out[0].scalars, [0, 0, 0, 0,
                                        1, 2, 0, 0,
                                        3, 4, 0, 0])
        XCTAssertEqual(out[1].shape, [3, 3])
        XCTAssertEqual(out[1].scalars, [0, 1, 3,
                                        0, 2, 4,
                                        0, 0, 0])
    }

    func testOneHotAndOutOfRangeLabels() throws {
        let g = Graph()
        let labels = try g.input("labels", [3])
        let hot = try labels.oneHot(depth: 3)
        let s = try Session(graph: g, config: RunConfig(threads: 1))
        XCTAssertEqual(try s.run([hot], feeds: ["labels": value([3], [0, 2, 1])])[0].scalars, [1, 0, 0, 0, 0, 1, 0, 1, 0])
        for bad: [Float] in [[0, 3, 1], [0, -1, 1], [0, 1.5, 1]] {
            XCTAssertThrowsError(try s.run([hot], feeds: ["labels": value([3], bad)]), "labels \(bad)") { error in
                XCTAssertEqual((error as? GraphError)?.op, "one_hot", "\(error)")
            }
        }
    }

    func testRandomDrawsFreshPerRunButReproducible() throws {
        func graph() throws -> (Graph, [Tensor]) {
            let g = Graph()
            return (g, [try g.randomNormal([1000]), try g.randomUniform([1000])])
        }
        func draws(seed: UInt64, threads: Int, runs: Int) throws -> [[[Float]]] {
            let (g, outs) = try graph()
            let s = try Session(graph: g, config: RunConfig(threads: threads, seed: seed))
            return try (0..<runs).map { _ in try s.run(outs).map(\.scalars) }
        }
        let one = try draws(seed: 7, threads: 1, runs: 2)
        XCTAssertNotEqual(one[0][0], one[1][0], "two runs drew the same normals")
        XCTAssertNotEqual(one[0][1], one[1][1], "two runs drew the same uniforms")
        XCTAssertNotEqual(one[0][0].prefix(100).map { $0 }, one[0][1].prefix(100).map { $0 })
        XCTAssertEqual(try draws(seed: 7, threads: 1, runs: 2), one, "same seed, another session")
        XCTAssertEqual(try draws(seed: 7, threads: 2, runs: 2), one, "1 and 2 threads differ")
        XCTAssertNotEqual(try draws(seed: 8, threads: 1, runs: 1)[0][0], one[0][0], "the seed is ignored")

        let normals = one[0][0], uniforms = one[0][1]
        XCTAssertTrue(uniforms.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = normals.reduce(0, +) / 1000, variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1000
        XCTAssertEqual(mean, 0, accuracy: 0.15)   // 1000 draws: standard error ~0.03
        XCTAssertEqual(variance, 1, accuracy: 0.2)
        XCTAssertEqual(uniforms.reduce(0, +) / 1000, 0.5, accuracy: 0.05)
    }

    func testReductionDoesNotDependOnThreads() throws {
        func total(threads: Int) throws -> [Float] {
            let g = Graph()
            let r = try g.randomNormal([300, 1000])
            let s = try Session(graph: g, config: RunConfig(threads: threads, seed: 11))
            return try s.run([r.sum(), r.sum(axes: [0]), r.max(axes: [1])]).flatMap(\.scalars)
        }
        XCTAssertEqual(try total(threads: 1), try total(threads: 2))
    }

    func testParameterInitIsDeterministicPerSeedAndName() throws {
        func values(seed: UInt64, declare: (Graph) throws -> Void) throws -> ParameterStore {
            let g = Graph()
            try declare(g)
            return try Session(graph: g, config: RunConfig(threads: 1, seed: seed)).parameters
        }
        let first = try values(seed: 3) { g in
            _ = try g.parameter("a", [3, 4], initializer: .normal(mean: 0, std: 1))
            _ = try g.parameter("b", [5], initializer: .uniform(low: -2, high: 2))
        }
        // Another order, an extra parameter, another thread count's default: a and b are unchanged.
        let second = try values(seed: 3) { g in
            _ = try g.parameter("b", [5], initializer: .uniform(low: -2, high: 2))
            _ = try g.parameter("c", [3, 4], initializer: .normal(mean: 0, std: 1))
            _ = try g.parameter("a", [3, 4], initializer: .normal(mean: 0, std: 1))
        }
        let otherSeed = try values(seed: 4) { g in
            _ = try g.parameter("a", [3, 4], initializer: .normal(mean: 0, std: 1))
        }
        let a = first.value("a")!.scalars, b = first.value("b")!.scalars
        XCTAssertEqual(second.value("a")!.scalars, a)
        XCTAssertEqual(second.value("b")!.scalars, b)
        XCTAssertNotEqual(second.value("c")!.scalars, a, "two names drew the same values")
        XCTAssertNotEqual(otherSeed.value("a")!.scalars, a, "the seed is ignored")
        XCTAssertTrue(b.allSatisfy { $0 >= -2 && $0 < 2 })
        XCTAssertEqual(Set(a).count, 12)
        XCTAssertEqual(first.names, ["a", "b"])

        // An existing value is kept, not redrawn, by a new session sharing the store.
        let g = Graph()
        _ = try g.parameter("a", [3, 4], initializer: .zeros)
        let shared = try Session(graph: g, config: RunConfig(threads: 1, seed: 99), parameters: first)
        XCTAssertEqual(shared.parameters.value("a")!.scalars, a)
        XCTAssertThrowsError(try first.set("a", value([4, 3], [Float](repeating: 0, count: 12))))
    }

    func testStopGradientAndConstantsExecute() throws {
        let g = Graph()
        let x = try g.input("x", [2, 2])
        let y = try x.stopGradient() * 2 + g.constant(1, [2, 2])
        let z = try g.constant(3, [2])
        let out = try run(g, [y, z], ["x": value([2, 2], [1, 2, 3, 4])])
        XCTAssertEqual(out[0].scalars, [3, 5, 7, 9])
        XCTAssertEqual(out[1].scalars, [3, 3])
    }

    /// A session's compiled plans share one arena, as long as the longest plan's: running a small
    /// plan between two runs of a large one neither grows it nor changes the large one's results.
    func testASessionsPlansShareOneArena() throws {
        let g = Graph()
        let x = try g.input("x", [32, 64])
        let w = try g.parameter("w", [64, 64], initializer: .normal(mean: 0, std: 0.2))
        let large = try x.matmul(w).tanh().matmul(w).sigmoid().sum(axes: [1])
        let small = try x.sum(axes: [0]).square()
        let feeds = ["x": try TensorValue(shape: [32, 64], scalars: (0..<2048).map { Float($0 % 23) / 11 - 1 })]
        let session = try Session(graph: g, config: RunConfig(threads: 2, seed: 1, mode: .fused))
        let arenas = try [large, small].map { try session.compilation(for: [$0]).plan.arenaFloats * 4 }
        XCTAssertGreaterThan(arenas[0], arenas[1])
        let first = try session.run([large], feeds: feeds)[0].scalars
        let other = try session.run([small], feeds: feeds)[0].scalars
        let again = try session.run([large], feeds: feeds)[0].scalars
        XCTAssertEqual(session.statistics.workingSetBytes, arenas[0], "one arena, the longer plan's")
        XCTAssertEqual(first.map(\.bitPattern), again.map(\.bitPattern))
        let eager = try Session(graph: g, config: RunConfig(threads: 2, seed: 1, mode: .eager))
        XCTAssertEqual(other, try eager.run([small], feeds: feeds)[0].scalars)

        // The small plan first, then the large one: the arena grows to the large plan's length.
        let grown = try Session(graph: g, config: RunConfig(threads: 2, seed: 1, mode: .fused))
        XCTAssertEqual(try grown.run([small], feeds: feeds)[0].scalars, other)
        XCTAssertEqual(grown.statistics.workingSetBytes, arenas[1])
        XCTAssertEqual(try grown.run([large], feeds: feeds)[0].scalars.map(\.bitPattern), first.map(\.bitPattern))
        XCTAssertEqual(grown.statistics.workingSetBytes, arenas[0])
    }

    /// Eager training reuses its buffers: after the first steps it allocates nothing more
    /// (it once freed and re-allocated a few buffers every step, and the C heap grew).
    func testEagerTrainingStepsReachASteadyWorkingSet() throws {
        for name in ["vae", "gan", "pixelcnn"] {
            let model = try XCTUnwrap(Zoo.model(named: name)).instantiate(batch: 4)
            let trainer = try Trainer(model: model, config: RunConfig(threads: 1, seed: 1, mode: .eager))
            var working: [Int] = []
            for step in 0..<6 {
                try trainer.step { FusedEagerTests.batch(model, seed: UInt64(step)) }
                working.append(trainer.session.statistics.workingSetBytes)
            }
            XCTAssertEqual(Set(working.dropFirst(2)).count, 1, "\(name): working set by step \(working)")
        }
    }
}
