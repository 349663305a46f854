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

    /// A value read only as matmul operands is computed inside those GEMMs as they pack it: no kernel, no
    /// arena slot, the same numbers as eager and on 1 and 2 threads. Read by anything else, or a result, it is
    /// stored; one that draws random numbers is a prologue of a single GEMM only.
    func testElementwiseOperandOfGEMMsBecomesTheirPrologue() throws {
        func build(alsoRead: Bool = false, asResult: Bool = false, draws: Bool = false, gradient: Bool = true)
            throws -> (Graph, [Tensor], Tensor) {
            let g = Graph()
            let x = try g.input("x", [64, 48])
            let s = try g.parameter("s", [48], initializer: .normal(mean: 0, std: 1))
            let w = try g.parameter("w", [48, 40], initializer: .normal(mean: 0, std: 0.2))
            var pre = try x * s
            if draws { pre = try pre + g.randomNormal([64, 48]) }  // drawn inside a's group
            let a = try pre.leakyRelu(0.2)  // read by y's GEMM and by dw's
            var loss = try a.matmul(w).square().sum()
            if alsoRead { loss = try loss + a.sum() }
            let grads = gradient ? try g.gradients(of: loss, withRespectTo: [w]) : []
            return (g, [loss] + grads + (asResult ? [a] : []), a)
        }
        try checkPrologue(build(), gemms: 2)
        try checkPrologue(build(draws: true, gradient: false), gemms: 1)
        for (alsoRead, asResult, draws) in [(true, false, false), (false, true, false), (false, false, true)] {
            let (g, outputs, _) = try build(alsoRead: alsoRead, asResult: asResult, draws: draws)
            let fused = try Compiler.compile(Program(g, outputs: outputs)).fused
            XCTAssertFalse(fused.groups.contains { $0.kind == .prologue },
                           "read outside GEMMs: \(alsoRead), result: \(asResult), draws for two GEMMs: \(draws)")
        }
    }

    /// Products of a stored value by per-row constants, read only by reductions over other axes
    /// (batch norm's backward), are recomputed inside those reductions instead of stored (no arena
    /// slot), and the reductions that read the same value run as one kernel; the same numbers as
    /// eager, on 1 and 2 threads. Read by a GEMM, a product is stored.
    func testCheapProductsAreRecomputedByTheReductionsThatReadThem() throws {
        func build(gemmReadsProduct: Bool) throws -> (Graph, [Tensor]) {
            let g = Graph()
            let x = try g.input("x", [64, 48])
            let w = try g.parameter("w", [48, 32], initializer: .normal(mean: 0, std: 0.3))
            let s = try g.parameter("s", [32], initializer: .normal(mean: 1, std: 0.2))
            let u = try x.matmul(w)                  // stored: a reduction reads it
            let p = try u * s, q = try p * s         // in the GEMM's epilogue
            var loss = try u.sum(axes: [0]).sum() + p.sum(axes: [0]).square().sum() + q.sum(axes: [0]).sum()
            if gemmReadsProduct { loss = try loss + p.matmul(w, transposeB: true).sum() }
            return (g, [loss] + (try g.gradients(of: loss, withRespectTo: [w, s])))
        }
        let (g, outputs) = try build(gemmReadsProduct: false)
        let compilation = try Compiler.compile(Program(g, outputs: outputs))
        let recomputed = compilation.fused.groups.flatMap(\.boundaries).compactMap { line -> Int? in
            guard line.contains("not stored: recomputed by") else { return nil }
            return Int(line.dropFirst().prefix { $0.isNumber })
        }
        XCTAssertGreaterThanOrEqual(recomputed.count, 2, "p and q: \(compilation.fused.groups.flatMap(\.boundaries))")
        for v in recomputed { XCTAssertNil(compilation.plan.slots[v], "%\(v) has no arena slot") }
        // u's three column sums read u from memory: one kernel, one pass over u.
        let nodes = compilation.fused.program.nodes
        let sums = compilation.fused.groups.map { group in
            group.nodes.filter { if case .reduce = nodes[$0].op { return true }; return false }.count
        }
        XCTAssertGreaterThanOrEqual(sums.max() ?? 0, 3, "sibling reductions merged: \(sums)")

        let feeds = ["x": try TensorValue(shape: [64, 48], scalars: (0..<(64 * 48)).map { Float($0 % 89) / 44 - 1 })]
        try assertFusedMatchesEager(g, outputs, feeds: feeds)

        let (g2, outputs2) = try build(gemmReadsProduct: true)
        let fused2 = try Compiler.compile(Program(g2, outputs: outputs2)).fused
        XCTAssertLessThan(fused2.groups.flatMap(\.boundaries).filter { $0.contains("recomputed by") }.count, recomputed.count,
                          "p, read by a GEMM too, stays stored")
    }

    /// A ReLU's derivative tests the stored activation's sign, and the data gradient's epilogue
    /// (a convolution's or a GEMM's) computes that mask itself: no mask has an arena slot, so
    /// each layer keeps one activation for the backward pass, not two. Same numbers as eager,
    /// bit-identical on 1 and 2 threads.
    func testReLUMasksAreRecomputedByTheDataGradientsEpilogues() throws {
        let g = Graph()
        let x = try g.input("x", [4, 3, 10, 10])
        let w1 = try g.parameter("w1", [8, 3, 3, 3], initializer: .normal(mean: 0, std: 0.3))
        let w2 = try g.parameter("w2", [8, 8, 3, 3], initializer: .normal(mean: 0, std: 0.2))
        let v1 = try g.parameter("v1", [800, 16], initializer: .normal(mean: 0, std: 0.05))
        let v2 = try g.parameter("v2", [16, 5], initializer: .normal(mean: 0, std: 0.3))
        let h = try x.conv2d(w1, padding: 1).relu().conv2d(w2, padding: 1).relu()
        let z = try h.reshape([4, 800]).matmul(v1).relu().matmul(v2)
        let loss = try z.square().sum()
        let outputs = [loss] + (try g.gradients(of: loss, withRespectTo: [w1, w2, v1, v2]))
        let compilation = try Compiler.compile(Program(g, outputs: outputs))
        let nodes = compilation.fused.program.nodes
        let masks = nodes.indices.filter { if case .binary(.greater) = nodes[$0].op { return true }; return false }
        XCTAssertEqual(masks.count, 3, "one mask per ReLU")
        for m in masks { XCTAssertNil(compilation.plan.slots[m], "mask %\(m) is stored") }
        // The first conv's and the hidden layer's masks scale a data gradient of their own shape (a
        // transposed conv's, a GEMM's); the second conv's gradient arrives reshaped from a GEMM's
        // [4, 800] and is scaled by an elementwise kernel, which recomputes that mask.
        let kinds = masks.map { compilation.fused.groupOf[$0].map { compilation.fused.groups[$0].kind } }
        XCTAssertEqual(kinds.filter { $0 == .contraction }.count, 2, "masks in epilogues: \(kinds)")

        let feeds = ["x": try TensorValue(shape: [4, 3, 10, 10], scalars: (0..<1200).map { Float($0 % 37) / 18 - 1 })]
        try assertFusedMatchesEager(g, outputs, feeds: feeds)
    }

    /// An elementwise consumer of a GEMM's output and of another elementwise value joins the GEMM's
    /// epilogue, not the other value's kernel: in a BCE loss's gradient, sigmoid(logits) - x reads the
    /// logits GEMM's output and -x (scaled by the loss's weight, from a leaf): the difference is
    /// computed on the GEMM's tiles, with -x recomputed there, and no kernel reads the logits'
    /// sigmoid back. Same numbers as eager, 1 and 2 threads equal.
    func testALossGradientJoinsTheLogitsGEMMsEpilogue() throws {
        let g = Graph()
        let x = try g.input("x", [16, 24])
        let w = try g.parameter("w", [12, 24], initializer: .normal(mean: 0, std: 0.3))
        let h = try g.input("h", [16, 12])
        let logits = try h.matmul(w)
        let loss = try bceWithLogits(logits, x).sum()
        let outputs = [loss] + (try g.gradients(of: loss, withRespectTo: [w]))
        let fused = try Compiler.compile(Program(g, outputs: outputs)).fused
        let nodes = fused.program.nodes
        let head = nodes.indices.first { if case .matmul = nodes[$0].op { return nodes[$0].shape == [16, 24] }; return false }!
        // The weight gradient's GEMM reads the logits' gradient: it is the GEMM's epilogue's.
        let dw = nodes.indices.first { if case .matmul = nodes[$0].op { return nodes[$0].shape == [12, 24] }; return false }!
        let dlogits = try XCTUnwrap(nodes[dw].inputs.map { fused.views[$0].root }.first { nodes[$0].shape == [16, 24] })
        XCTAssertEqual(fused.groupOf[dlogits], fused.groupOf[head], "the logits' gradient %\(dlogits) is computed on the GEMM's tiles")
        XCTAssertFalse(fused.groups.contains { $0.kind == .elementwise && $0.space == [16, 24] },
                       "no elementwise kernel over the logits: \(fused.groups.map(\.kind))")
        let feeds = ["x": try TensorValue(shape: [16, 24], scalars: (0..<384).map { Float(($0 * 7) % 3 == 0 ? 1 : 0) }),
                     "h": try TensorValue(shape: [16, 12], scalars: (0..<192).map { Float(($0 * 13) % 23) / 11 - 1 })]
        try assertFusedMatchesEager(g, outputs, feeds: feeds)
    }

    /// An elementwise or reduction kernel that reads a value for the last time writes an output
    /// of the same shape over it: in the classifier's step, the first layer's gradient (the
    /// pooled gradient times the ReLU mask, with the bias gradient's sums) takes the slot of the
    /// ReLU activation it tests, and the arena shrinks. Same numbers as eager, 1 and 2 threads equal.
    func testKernelsWriteOverAValueTheyReadForTheLastTime() throws {
        let model = try XCTUnwrap(Zoo.model(named: "classifier")).instantiate(batch: 8)
        let objective = model.objectives[0]
        let outputs = [objective.loss] + (try model.graph.gradients(of: objective.loss, withRespectTo: objective.parameters))
        let program = Program(model.graph, outputs: outputs)
        let plan = try Compiler.compile(program).plan
        XCTAssertFalse(plan.inPlace.isEmpty, "no value written in place")
        for (o, i) in plan.inPlace {
            let (so, si) = (try XCTUnwrap(plan.slots[o]), try XCTUnwrap(plan.slots[i]))
            XCTAssertEqual(so.offset, si.offset)
            XCTAssertEqual(so.firstStep, si.lastStep, "%\(o) is written at the step that reads %\(i) last")
            XCTAssertEqual(plan.program.nodes[o].shape, plan.program.nodes[i].shape)
        }
        let text = Dump(try Compiler.compile(program), outputNames: [], forwardOutputs: 1).render(.plan, .text)
        for (o, i) in plan.inPlace { XCTAssertTrue(text.contains(") over %\(i)"), "dump marks %\(o) written over %\(i)") }
        let apart = try Compiler.compile(program, fusionOff: [.memory]).plan
        XCTAssertTrue(apart.inPlace.isEmpty, "without arena reuse nothing shares a slot")
        try assertFusedMatchesEager(model.graph, outputs, feeds: try FusedEagerTests.feeds(model, seed: 2))
    }

    /// `outputs` fused on 1 and 2 threads: bit-identical to each other, and within 1e-5 of
    /// their largest magnitude (which must not be 0) of eager's.
    private func assertFusedMatchesEager(_ g: Graph, _ outputs: [Tensor], feeds: [String: TensorValue],
                                         file: StaticString = #filePath, line: UInt = #line) throws {
        var runs: [[TensorValue]] = []
        for (mode, threads) in [(ExecutionMode.eager, 2), (.fused, 1), (.fused, 2)] {
            runs.append(try Session(graph: g, config: RunConfig(threads: threads, seed: 1, mode: mode)).run(outputs, feeds: feeds))
        }
        for k in outputs.indices {
            let (f, e) = (runs[1][k].scalars, runs[0][k].scalars)
            let scale = e.map { Swift.abs($0) }.max() ?? 0
            XCTAssertGreaterThan(scale, 0, "output \(k) tests nothing", file: file, line: line)
            XCTAssertLessThanOrEqual(zip(f, e).map { Swift.abs($0 - $1) }.max() ?? 0, 1e-5 * scale + 1e-6, "output \(k) fused vs eager",
                                     file: file, line: line)
            XCTAssertEqual(runs[1][k].scalars.map(\.bitPattern), runs[2][k].scalars.map(\.bitPattern), "output \(k) 1 vs 2 threads",
                           file: file, line: line)
        }
    }

    private func checkPrologue(_ built: (Graph, [Tensor], Tensor), gemms: Int) throws {
        let (g, outputs, a) = built
        let compilation = try Compiler.compile(Program(g, outputs: outputs))
        let plan = compilation.plan
        let prologue = try XCTUnwrap(compilation.fused.groups.firstIndex { $0.kind == .prologue })
        let value = compilation.fused.groups[prologue].stored[0]
        XCTAssertEqual(compilation.fused.program.nodes[value].shape, a.shape)
        XCTAssertNil(plan.slots[value], "a prologue's value has no arena slot")
        let computing = plan.steps.filter { $0.prologues.contains(prologue) }
        XCTAssertEqual(computing.count, gemms, "the forward GEMM (and the weight-gradient GEMM)")
        XCTAssertTrue(computing.allSatisfy { $0.kernel == "gg_gemm_pro_ep_f32" && !$0.reads.contains(value) })
        XCTAssertFalse(plan.steps.contains { $0.group == prologue }, "no kernel of its own")

        let feeds = ["x": try TensorValue(shape: [64, 48], scalars: (0..<(64 * 48)).map { Float($0 % 97) / 50 - 1 })]
        var runs: [[TensorValue]] = []
        for (mode, threads) in [(ExecutionMode.eager, 2), (.fused, 1), (.fused, 2)] {
            let session = try Session(graph: g, config: RunConfig(threads: threads, seed: 3, mode: mode))
            runs.append(try session.run(outputs, feeds: feeds))
        }
        for k in outputs.indices {
            let (f, e) = (runs[1][k].scalars, runs[0][k].scalars)
            let scale = e.map { Swift.abs($0) }.max() ?? 0
            XCTAssertLessThanOrEqual(zip(f, e).map { Swift.abs($0 - $1) }.max() ?? 0, 1e-5 * scale + 1e-6, "output \(k) fused vs eager")
            XCTAssertEqual(runs[1][k].scalars.map(\.bitPattern), runs[2][k].scalars.map(\.bitPattern), "1 vs 2 threads")
        }
    }

    /// The planner's invariant: values live at the same time never overlap, and every offset is 64-byte aligned.
    func testArenaSlotsOfLiveValuesNeverOverlapOnEveryZooModel() throws {
        for definition in Zoo.models {
            let model = try definition.instantiate(batch: 4)
            for objective in model.objectives {
                let gradients = try model.graph.gradients(of: objective.loss, withRespectTo: objective.parameters)
                let plan = try Compiler.compile(Program(model.graph, outputs: [objective.loss] + gradients)).plan
                let slots = plan.slots.sorted { $0.key < $1.key }
                for (_, s) in slots { XCTAssertEqual(s.offset % 16, 0, "\(definition.name): unaligned slot") }
                // A value written in place over another shares its slot at the one step where the
                // other is read for the last time.
                func inPlace(_ u: Int, over v: Int, _ a: ArenaSlot, _ b: ArenaSlot) -> Bool {
                    plan.inPlace[u] == v && a.offset == b.offset && a.count == b.count && a.firstStep == b.lastStep
                }
                for (i, (u, a)) in slots.enumerated() {
                    for (v, b) in slots[(i + 1)...] where a.firstStep <= b.lastStep && b.firstStep <= a.lastStep {
                        XCTAssertTrue(a.offset + a.count <= b.offset || b.offset + b.count <= a.offset
                                      || inPlace(u, over: v, a, b) || inPlace(v, over: u, b, a),
                                      "\(definition.name) \(objective.name): overlapping live slots \(a) \(b)")
                    }
                }
                for (o, i) in plan.inPlace {
                    XCTAssertEqual(plan.slots[o]?.offset, plan.slots[i]?.offset, "\(definition.name): %\(o) in place over %\(i)")
                }
                XCTAssertGreaterThanOrEqual(plan.arenaFloats, plan.slots.values.map { $0.offset + $0.count }.max() ?? 0)
            }
        }
    }

    /// Elementwise consumers over a reduction's result run in the reduction's
    /// step after it finishes; consumers over the input's space (x - max) cannot:
    /// they run in a later phase of its kernel, or, without phases, in another step.
    func testConsumersOfAReductionResultJoinItsStepOnlyOverTheReducedSpace() throws {
        let g = Graph()
        let x = try g.parameter("x", [6, 5], initializer: .normal(mean: 0, std: 1))
        let scaled = try x.exp().sum(axes: [1]) * 0.5 + 1
        let centred = try x - x.max(axes: [1], keepDims: true)
        let program = Compiler.optimize(Program(g, outputs: [scaled, centred]))
        let phased = fuse(program)
        let sub = phased.program.nodes.firstIndex { $0.op == .binary(.sub) }!
        let max = phased.program.nodes.firstIndex { $0.op == .reduce(.max, axes: [1]) }!
        let group = try XCTUnwrap(phased.groupOf[max].map { phased.groups[$0] })
        XCTAssertEqual(group.kind, .phased)
        XCTAssertEqual(group.phases.map { $0.nodes.contains(max) }, [true, false])
        XCTAssertEqual(group.phases.map { $0.nodes.contains(sub) }, [false, true], "x - max runs once the max is finished")
        let fused = fuse(program, off: [.phases])
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

    /// A unary function of a constant is folded at compile time by ScalarSemantics (libm), which the
    /// plan then uses; eager runs the kernel: the two agree for every function within the kernels'
    /// bound against libm (rel 2e-6, abs 1e-7).
    func testConstantFoldingAgreesWithTheKernels() throws {
        let values: [Float] = [-20, -3.5, -0.7, -1e-3, 0, 2e-3, 0.3, 1.2, 4, 30, 1e5]
        for f in UnaryFunction.allCases {
            let g = Graph()
            let inputs = values.map { [.log, .sqrt, .rsqrt].contains(f) ? Swift.abs($0) + 0.25 : f == .log1p ? Swift.max($0, -0.5) : $0 }
            let outputs = try inputs.map { try g.constant($0, [2]).unary(f) }
            let fused = try Compiler.optimize(Program(g, outputs: outputs))
            XCTAssertTrue(fused.outputs.allSatisfy { if case .constant = fused.nodes[$0].op { return true }; return false }, "\(f) folded")
            let folded = try Session(graph: g, config: RunConfig(threads: 1, mode: .fused)).run(outputs)
            let kernel = try Session(graph: g, config: RunConfig(threads: 1, mode: .eager)).run(outputs)
            for (x, (a, b)) in zip(inputs, zip(folded, kernel)) {
                XCTAssertEqual(a.scalars[0], b.scalars[0], accuracy: 1e-7 + 2e-6 * Swift.abs(b.scalars[0]), "\(f)(\(x))")
            }
        }
    }

    /// Nearest upsampling's gradient sums 2x2 blocks along the innermost axis: the pass turns it
    /// into a tree of adds over strided slices, in the row-major order of the reduced indices, and
    /// leaves long or outer-axis sums alone. Fused (expanded) and eager (reduce kernel) agree.
    func testSmallInnermostSumsBecomeAddsOfSlices() throws {
        let g = Graph()
        let x = try g.parameter("x", [2, 3, 4, 5], initializer: .normal(mean: 0, std: 1))
        let up = try x.upsampled(by: 2)
        let loss = try (up * up.sin()).sum()
        let dx = try g.gradients(of: loss, withRespectTo: [x])[0]
        let long = try x.sum(axes: [3])      // 5 elements: above the limit
        let outer = try x.sum(axes: [0])     // innermost axis kept
        let p = expandSmallReductions(Program(g, outputs: [dx, long, outer]))
        let reductions = p.nodes.compactMap { n -> [Int]? in
            if case .reduce(.sum, let axes) = n.op { return axes }
            return nil
        }
        XCTAssertFalse(reductions.contains { $0 == [3, 5] }, "the 2x2 block sum is expanded")
        XCTAssertTrue(reductions.contains([3]) && reductions.contains([0]), "long and outer sums stay")
        let slices = p.nodes.compactMap { n -> [Int]? in
            if case .slice(let start, _) = n.op { return start }
            return nil
        }
        XCTAssertEqual(slices, [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 1]])
        let eager = try Session(graph: g, config: RunConfig(threads: 1, mode: .eager)).run([dx, long, outer])
        let fused = try Session(graph: g, config: RunConfig(threads: 2, mode: .fused)).run([dx, long, outer])
        for (a, b) in zip(eager, fused) {
            for (u, v) in zip(a.scalars, b.scalars) { XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, Swift.abs(u))) }
        }
    }
}
