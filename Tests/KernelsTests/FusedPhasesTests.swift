import Kernels
import XCTest

/// One program of a phases call in Swift arrays; operands name a tensor of the problem and give its
/// strides over the program's space.
struct PhaseProgram {
    var code: [gg_finstr]
    var nregs: Int32
    var shape: [Int64]
    var inputs: [(tensor: Int, strides: [Int64])]
    var outputs: [(tensor: Int, strides: [Int64])]
}

/// A gg_fused_phases_f32 call: named tensors (every run starts from their values; NaN for results),
/// the phases with their posts, and the reduced axes.
final class PhasesProblem {
    private(set) var tensors: [[Float]] = []
    private var names: [String: Int] = [:]
    var phases: [(phase: PhaseProgram, post: PhaseProgram?)] = []
    var reduced: [Int32]

    init(reduced: [Int32]) { self.reduced = reduced }

    @discardableResult
    func tensor(_ name: String, _ values: [Float]) -> Int {
        tensors.append(values)
        names[name] = tensors.count - 1
        return tensors.count - 1
    }

    @discardableResult
    func result(_ name: String, count: Int) -> Int { tensor(name, [Float](repeating: .nan, count: count)) }

    subscript(name: String) -> Int { names[name]! }

    /// Replaces a tensor's values (a larger buffer, say), keeping its name and index.
    func resize(_ name: String, count: Int) { tensors[names[name]!] = [Float](repeating: .nan, count: count) }

    enum Runner { case kernel, reference, eachPhase }

    /// The kernel, its reference, or gg_fused_f32 on each phase in turn, on fresh copies of the tensors with
    /// the scratch it asks for plus scratchDelta: its status and every tensor afterwards.
    func run(threads: Int32, _ runner: Runner = .kernel, scratchDelta: Int = 0) -> (gg_status, [[Float]]) {
        let buffers = tensors.map { AlignedBuffer($0) }
        let pinned = PinnedPhases(self, buffers)
        let status = withExtendedLifetime(pinned) { () -> gg_status in
            let programs = UnsafeBufferPointer(start: pinned.list, count: Int(pinned.count))
            var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
            let need = runner == .eachPhase ? programs.map { Int(gg_fused_f32_scratch(&probe, $0)) }.max()!
                                            : Int(gg_fused_phases_f32_scratch(&probe, pinned.count, pinned.list, reduced))
            let tc = TestContext(threads: threads, scratchFloats: max(need + scratchDelta, 0))
            switch runner {
            case .kernel: return gg_fused_phases_f32(&tc.ctx, pinned.count, pinned.list, reduced)
            case .reference: return gg_fused_phases_f32_ref(&tc.ctx, pinned.count, pinned.list, reduced)
            case .eachPhase: return programs.reduce(GG_OK) { $0 == GG_OK ? gg_fused_f32(&tc.ctx, $1) : $0 }
            }
        }
        return (status, buffers.map(\.array))
    }
}

/// A problem's programs as C structs over its buffers, in memory owned by this object.
private final class PinnedPhases {
    private var allocations: [UnsafeMutableRawPointer] = []
    private(set) var list: UnsafeMutablePointer<UnsafePointer<gg_fprogram>?>!
    let count: Int32

    init(_ problem: PhasesProblem, _ buffers: [AlignedBuffer]) {
        count = Int32(problem.phases.count)
        list = pin(problem.phases.map { phase, post -> UnsafePointer<gg_fprogram>? in
            var program = build(phase, buffers)
            if let post { program.post = UnsafePointer(pin([build(post, buffers)])) }
            return UnsafePointer(pin([program]))
        })
    }

    deinit { for a in allocations { a.deallocate() } }

    private func pin<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
        p.initialize(from: values, count: values.count)
        allocations.append(UnsafeMutableRawPointer(p))
        return p
    }

    private func build(_ s: PhaseProgram, _ buffers: [AlignedBuffer]) -> gg_fprogram {
        let inputs = s.inputs.map { UnsafePointer(buffers[$0.tensor].pointer) as UnsafePointer<Float>? }
        let outputs = s.outputs.map { buffers[$0.tensor].pointer as UnsafeMutablePointer<Float>? }
        return gg_fprogram(ninstr: Int32(s.code.count), instr: pin(s.code), nregs: s.nregs, rank: Int32(s.shape.count),
                           shape: pin(s.shape), ninputs: Int32(inputs.count), inputs: pin(inputs),
                           in_strides: pin(s.inputs.flatMap(\.strides)), noutputs: Int32(outputs.count),
                           outputs: pin(outputs), out_strides: pin(s.outputs.flatMap(\.strides)), keys: nil, post: nil)
    }
}

private let sumOp = Int32(GG_REDUCE_SUM.rawValue), maxOp = Int32(GG_REDUCE_MAX.rawValue)

private func binary(_ op: gg_binary_op, dst: Int32, _ a: Int32, _ b: Int32) -> gg_finstr {
    finstr(GG_FOP_BINARY, Int32(op.rawValue), dst: dst, a: a, b: b)
}

private func unary(_ op: gg_unary_op, dst: Int32, _ a: Int32) -> gg_finstr {
    finstr(GG_FOP_UNARY, Int32(op.rawValue), dst: dst, a: a)
}

/// The statistics' shape (1 on the reduced axes), their strides (contiguous, 0 on the reduced axes), the
/// number of statistics and the number of elements each folds.
private func statistics(_ shape: [Int64], _ reduced: [Int32]) -> (shape: [Int64], strides: [Int64], count: Int, n: Int) {
    let statShape = zip(shape, reduced).map { $1 != 0 ? 1 : $0 }
    let strides = zip(contiguousStrides(statShape), reduced).map { $1 != 0 ? 0 : $0 }
    let n = zip(shape, reduced).reduce(1) { $1.1 != 0 ? $0 * Int($1.0) : $0 }
    return (statShape, strides, Int(statShape.reduce(1, *)), n)
}

/// Post program: out = in * scale.
private func scalePost(_ st: (shape: [Int64], strides: [Int64], count: Int, n: Int), from: Int, to: Int,
                       scale: Float) -> PhaseProgram {
    PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_CONST, dst: 1, p0: scale),
                        binary(GG_BINARY_MUL, dst: 0, 0, 1), finstr(GG_FOP_STORE, dst: 0, a: 0)],
                 nregs: 2, shape: st.shape, inputs: [(from, st.strides)], outputs: [(to, st.strides)])
}

/// Phases 0 and 1 of a normalisation over the reduced axes: "mean" and "rstd" from x, through the sums
/// "s1" and "s2".
private func addMeanAndRstd(_ p: PhasesProblem, shape: [Int64], eps: Float = 1e-5) {
    let st = statistics(shape, p.reduced), xs = contiguousStrides(shape)
    for name in ["s1", "mean", "s2", "rstd"] { p.result(name, count: st.count) }
    let phase0 = PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_REDUCE, sumOp, dst: 0, a: 0)],
                              nregs: 1, shape: shape, inputs: [(p["x"], xs)], outputs: [(p["s1"], st.strides)])
    let phase1 = PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                                     binary(GG_BINARY_SUB, dst: 0, 0, 1), unary(GG_UNARY_SQUARE, dst: 0, 0),
                                     finstr(GG_FOP_REDUCE, sumOp, dst: 0, a: 0)],
                              nregs: 2, shape: shape, inputs: [(p["x"], xs), (p["mean"], st.strides)],
                              outputs: [(p["s2"], st.strides)])
    let rstd = PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_CONST, dst: 1, p0: 1 / Float(st.n)),
                                   binary(GG_BINARY_MUL, dst: 0, 0, 1), finstr(GG_FOP_CONST, dst: 1, p0: eps),
                                   binary(GG_BINARY_ADD, dst: 0, 0, 1), unary(GG_UNARY_RSQRT, dst: 0, 0),
                                   finstr(GG_FOP_STORE, dst: 0, a: 0)],
                            nregs: 2, shape: st.shape, inputs: [(p["s2"], st.strides)], outputs: [(p["rstd"], st.strides)])
    p.phases += [(phase0, scalePost(st, from: p["s1"], to: p["mean"], scale: 1 / Float(st.n))), (phase1, rstd)]
}

/// Batch norm's forward with a ReLU over the reduced axes of x: y = relu((x - mean) * rstd * gamma + beta),
/// stored into x itself when inPlace.
private func batchNorm(shape: [Int64], reduced: [Int32], inPlace: Bool = false, seed: UInt64) -> PhasesProblem {
    let p = PhasesProblem(reduced: reduced)
    let st = statistics(shape, reduced), xs = contiguousStrides(shape), count = Int(shape.reduce(1, *))
    var values = SeededValues(seed: seed)
    p.tensor("x", values.array(count, -2, 3))
    p.tensor("gamma", values.array(st.count, 0.5, 1.5))
    p.tensor("beta", values.array(st.count, -0.5, 0.5))
    if !inPlace { p.result("y", count: count) }
    addMeanAndRstd(p, shape: shape)
    let apply = PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                                    binary(GG_BINARY_SUB, dst: 0, 0, 1), finstr(GG_FOP_LOAD, dst: 1, a: 2),
                                    binary(GG_BINARY_MUL, dst: 0, 0, 1), finstr(GG_FOP_LOAD, dst: 1, a: 3),
                                    binary(GG_BINARY_MUL, dst: 0, 0, 1), finstr(GG_FOP_LOAD, dst: 1, a: 4),
                                    binary(GG_BINARY_ADD, dst: 0, 0, 1), unary(GG_UNARY_RELU, dst: 0, 0),
                                    finstr(GG_FOP_STORE, dst: 0, a: 0)],
                             nregs: 2, shape: shape,
                             inputs: [(p["x"], xs), (p["mean"], st.strides), (p["rstd"], st.strides),
                                      (p["gamma"], st.strides), (p["beta"], st.strides)],
                             outputs: [(p[inPlace ? "x" : "y"], xs)])
    p.phases.append((apply, nil))
    return p
}

/// Softmax over the rows of x (B, K): phase 0 the row max, phase 1 e = exp(x - max) and its row sum,
/// phase 2 y = e / sum; no posts.
private func softmax(rows: Int64, cols: Int64, seed: UInt64) -> PhasesProblem {
    let p = PhasesProblem(reduced: [0, 1])
    let shape = [rows, cols], xs = contiguousStrides(shape), ss: [Int64] = [1, 0], count = Int(rows * cols)
    var values = SeededValues(seed: seed)
    p.tensor("x", values.array(count, -6, 6))
    p.result("max", count: Int(rows))
    p.result("e", count: count)
    p.result("sum", count: Int(rows))
    p.result("y", count: count)
    p.phases = [
        (PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_REDUCE, maxOp, dst: 0, a: 0)],
                      nregs: 1, shape: shape, inputs: [(p["x"], xs)], outputs: [(p["max"], ss)]), nil),
        (PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                             binary(GG_BINARY_SUB, dst: 0, 0, 1), unary(GG_UNARY_EXP, dst: 0, 0),
                             finstr(GG_FOP_STORE, dst: 0, a: 0), finstr(GG_FOP_REDUCE, sumOp, dst: 1, a: 0)],
                      nregs: 2, shape: shape, inputs: [(p["x"], xs), (p["max"], ss)],
                      outputs: [(p["e"], xs), (p["sum"], ss)]), nil),
        (PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                             binary(GG_BINARY_DIV, dst: 0, 0, 1), finstr(GG_FOP_STORE, dst: 0, a: 0)],
                      nregs: 2, shape: shape, inputs: [(p["e"], xs), (p["sum"], ss)], outputs: [(p["y"], xs)]), nil),
    ]
    return p
}

/// Group norm's statistics over (N, G, K) reduced {2}, then its backward: phase 2 folds sum(dy * xhat) and
/// sum(dy) (post: their means), phase 3 stores dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)).
private func groupNormBackward(shape: [Int64], seed: UInt64) -> PhasesProblem {
    let p = PhasesProblem(reduced: [0, 0, 1])
    let st = statistics(shape, p.reduced), xs = contiguousStrides(shape), count = Int(shape.reduce(1, *))
    var values = SeededValues(seed: seed)
    p.tensor("x", values.array(count, -1, 2))
    p.tensor("dy", values.array(count))
    for name in ["sdyx", "sdy", "mdyx", "mdy"] { p.result(name, count: st.count) }
    p.result("dx", count: count)
    addMeanAndRstd(p, shape: shape)
    // r0 = xhat = (x - mean) * rstd; r1 = dy
    let xhat = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 2, a: 1), binary(GG_BINARY_SUB, dst: 0, 0, 2),
                finstr(GG_FOP_LOAD, dst: 2, a: 2), binary(GG_BINARY_MUL, dst: 0, 0, 2), finstr(GG_FOP_LOAD, dst: 1, a: 3)]
    let xhatInputs = [(p["x"], xs), (p["mean"], st.strides), (p["rstd"], st.strides), (p["dy"], xs)]
    let sums = PhaseProgram(code: xhat + [binary(GG_BINARY_MUL, dst: 2, 0, 1), finstr(GG_FOP_REDUCE, sumOp, dst: 0, a: 2),
                                          finstr(GG_FOP_REDUCE, sumOp, dst: 1, a: 1)],
                            nregs: 3, shape: shape, inputs: xhatInputs, outputs: [(p["sdyx"], st.strides), (p["sdy"], st.strides)])
    let inv = 1 / Float(st.n)
    let means = PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                                    finstr(GG_FOP_CONST, dst: 2, p0: inv), binary(GG_BINARY_MUL, dst: 0, 0, 2),
                                    binary(GG_BINARY_MUL, dst: 1, 1, 2), finstr(GG_FOP_STORE, dst: 0, a: 0),
                                    finstr(GG_FOP_STORE, dst: 1, a: 1)],
                             nregs: 3, shape: st.shape, inputs: [(p["sdyx"], st.strides), (p["sdy"], st.strides)],
                             outputs: [(p["mdyx"], st.strides), (p["mdy"], st.strides)])
    let dx = PhaseProgram(code: xhat + [finstr(GG_FOP_LOAD, dst: 2, a: 4), binary(GG_BINARY_SUB, dst: 1, 1, 2),
                                        finstr(GG_FOP_LOAD, dst: 2, a: 5), binary(GG_BINARY_MUL, dst: 0, 0, 2),
                                        binary(GG_BINARY_SUB, dst: 1, 1, 0), finstr(GG_FOP_LOAD, dst: 2, a: 2),
                                        binary(GG_BINARY_MUL, dst: 1, 1, 2), finstr(GG_FOP_STORE, dst: 0, a: 1)],
                          nregs: 3, shape: shape,
                          inputs: xhatInputs + [(p["mdy"], st.strides), (p["mdyx"], st.strides)], outputs: [(p["dx"], xs)])
    p.phases += [(sums, means), (dx, nil)]
    return p
}

private let phaseThreadCounts: [Int32] = [1, 2, 3, 4, 7]

final class FusedPhasesTests: XCTestCase {
    /// Runs the kernel on every thread count (bit-identical results), against gg_fused_f32 phase by phase
    /// (bit-identical too: these spaces are already collapsed, so each slab folds its rows as gg_fused_f32
    /// does) and against the reference; returns the kernel's tensors.
    @discardableResult
    private func check(_ p: PhasesProblem, _ what: String, rtol: Float = 1e-5, atol: Float = 1e-5,
                       file: StaticString = #filePath, line: UInt = #line) -> [[Float]] {
        let fast = assertSameOnThreadCounts(phaseThreadCounts, what, file: file, line: line) { threads in
            let (status, out) = p.run(threads: threads)
            XCTAssertEqual(status, GG_OK, "\(what), \(threads) threads", file: file, line: line)
            return out
        }
        let (eachStatus, each) = p.run(threads: 1, .eachPhase)
        XCTAssertEqual(eachStatus, GG_OK, "\(what) phase by phase", file: file, line: line)
        for (k, (a, b)) in zip(fast, each).enumerated() {
            assertBitIdentical(a, b, "\(what) tensor \(k) against gg_fused_f32 phase by phase", file: file, line: line)
        }
        let (refStatus, ref) = p.run(threads: 1, .reference)
        XCTAssertEqual(refStatus, GG_OK, "\(what) reference", file: file, line: line)
        for (k, (a, b)) in zip(fast, ref).enumerated() {
            assertNear(a, b, rtol: rtol, atol: atol, "\(what) tensor \(k)", file: file, line: line)
        }
        return fast
    }

    func testBatchNormForwardWithReLU() {
        let shape: [Int64] = [5, 6, 37]
        for inPlace in [false, true] {
            let p = batchNorm(shape: shape, reduced: [1, 0, 1], inPlace: inPlace, seed: 1)
            let out = check(p, "batch norm, in place \(inPlace)")
            // The statistics are the channels' own: mean over (N, HW) of x.
            let x = p.tensors[p["x"]]
            let means = (0..<6).map { (c: Int) -> Float in
                var sum: Float = 0
                for n in 0..<5 { for i in 0..<37 { sum += x[(n * 6 + c) * 37 + i] } }
                return sum / Float(5 * 37)
            }
            assertClose(out[p["mean"]], means, rtol: 1e-5, atol: 1e-6, "means")
        }
    }

    func testSoftmaxRows() {
        let p = softmax(rows: 33, cols: 10, seed: 2)
        let y = check(p, "softmax")[p["y"]]
        for r in 0..<33 { XCTAssertEqual(y[r * 10..<(r + 1) * 10].reduce(0, +), 1, accuracy: 1e-5) }
    }

    func testGroupNormBackwardFoldsTwoSumsPerSlab() {
        check(groupNormBackward(shape: [3, 4, 700], seed: 3), "group norm backward")
    }

    /// Over 65536 elements, so the boxes spread over threads: slabs of one channel each (N, C, HW), several
    /// channels per box along an innermost kept axis (channels last), and fewer boxes than threads with rows
    /// longer than a reduction chunk. The reference adds each slab's 4000 to 50176 terms one after another,
    /// an error that grows like sqrt(n) ulps (2e-5 relative at 20000 terms), hence the wider tolerance.
    func testLargeProblemsOnThreads() {
        check(batchNorm(shape: [64, 16, 784], reduced: [1, 0, 1], seed: 4), "batch norm NCHW", rtol: 1e-4)
        check(batchNorm(shape: [4096, 32], reduced: [1, 0], seed: 5), "batch norm channels last", rtol: 1e-4)
        check(softmax(rows: 4, cols: 20000, seed: 6), "softmax, long rows", rtol: 1e-4)
        check(groupNormBackward(shape: [8, 4, 4000], seed: 7), "group norm backward", rtol: 1e-4)
    }

    /// Boxes of several channels with short rows: a tile of whole rows ends where the next channel's
    /// run of rows would start a new image (40 channels of 49 floats: two tiles per image), and channel
    /// counts that no box size splits evenly over the threads (7 channels, 13 images).
    func testTilesStopAtEachImagesRunOfChannels() {
        check(batchNorm(shape: [3, 40, 49], reduced: [1, 0, 1], seed: 8), "batch norm, 40 channels of 7x7")
        check(batchNorm(shape: [13, 7, 49], reduced: [1, 0, 1], seed: 9), "batch norm, 7 channels")
        check(batchNorm(shape: [2, 30, 100], reduced: [1, 0, 1], inPlace: true, seed: 10), "batch norm in place, 10x10")
    }

    /// With an empty reduced axis the reductions are initialised and the posts still run over the kept axes.
    func testEmptyReducedAxisStillRunsPosts() {
        let p = PhasesProblem(reduced: [0, 1])
        let st = statistics([4, 0], p.reduced)
        p.tensor("x", [])
        p.result("s", count: 4)
        p.result("t", count: 4)
        p.phases = [(PhaseProgram(code: [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_REDUCE, sumOp, dst: 0, a: 0)],
                                  nregs: 1, shape: [4, 0], inputs: [(p["x"], [0, 1])], outputs: [(p["s"], st.strides)]),
                     scalePost(st, from: p["s"], to: p["t"], scale: 2))]
        let out = check(p, "empty")
        XCTAssertEqual(out[p["s"]], [0, 0, 0, 0])
        XCTAssertEqual(out[p["t"]], [0, 0, 0, 0])
    }

    func testMalformedPhasesAreRefused() {
        let shape: [Int64] = [5, 6, 37]
        let cases: [(String, (PhasesProblem) -> Void)] = [
            ("a reduction output that moves along a reduced axis", { p in
                p.resize("s1", count: 64)
                p.phases[0].phase.outputs[0].strides = [0, 1, 1]
            }),
            ("a reduction output that stays put along a kept axis", { p in p.phases[0].phase.outputs[0].strides = [0, 0, 0] }),
            ("phases of different shapes", { p in p.phases[2].phase.shape = [5, 6, 36] }),
            ("a read of an earlier phase's statistics across slabs", { p in
                p.resize("mean", count: 16)
                p.phases[1].phase.inputs[1].strides = [1, 1, 0]
            }),
            ("a post over the wrong shape", { p in p.phases[0].post!.shape = [1, 3, 1] }),
            ("a reduction output written before its phase runs", { p in
                p.phases[0].post!.outputs[0].tensor = p["s2"]
                p.phases[1].phase.inputs[1].tensor = p["s2"]
            }),
        ]
        for (what, spoil) in cases {
            let p = batchNorm(shape: shape, reduced: [1, 0, 1], seed: 8)
            spoil(p)
            XCTAssertEqual(p.run(threads: 2).0, GG_ERR_ARG, what)
            XCTAssertEqual(p.run(threads: 1, .reference).0, GG_ERR_ARG, "\(what), reference")
        }
        let p = batchNorm(shape: shape, reduced: [1, 0, 1], seed: 8)
        XCTAssertEqual(p.run(threads: 2, scratchDelta: -1).0, GG_ERR_SCRATCH)
        p.reduced = [1, 1, 1]
        XCTAssertEqual(p.run(threads: 2).0, GG_ERR_ARG, "a reduced axis that the reductions keep")
    }
}
