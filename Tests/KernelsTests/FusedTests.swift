import Kernels
import XCTest

func finstr(_ op: gg_fop, _ sub: Int32 = 0, dst: Int32 = 0, a: Int32 = 0, b: Int32 = 0, c: Int32 = 0,
            p0: Float = 0, p1: Float = 0) -> gg_finstr {
    gg_finstr(op: Int32(op.rawValue), sub: sub, dst: dst, a: a, b: b, c: c, p0: p0, p1: p1)
}

func contiguousStrides(_ shape: [Int64]) -> [Int64] {
    var s = [Int64](repeating: 0, count: shape.count)
    var acc: Int64 = 1
    for d in shape.indices.reversed() { s[d] = acc; acc *= shape[d] }
    return s
}

/// A fused program with its operand buffers; outputs are fresh per run.
final class FusedCase {
    var instr: [gg_finstr]
    var nregs: Int32
    var shape: [Int64]
    var inputs: [AlignedBuffer] = []
    var inStrides: [[Int64]] = []
    var outputSizes: [Int] = []
    var outStrides: [[Int64]] = []
    var keys: [UInt64] = []

    init(_ instr: [gg_finstr], nregs: Int32, shape: [Int64]) {
        self.instr = instr
        self.nregs = nregs
        self.shape = shape
    }

    func input(_ values: [Float], strides: [Int64]) {
        inputs.append(AlignedBuffer(values))
        inStrides.append(strides)
    }

    func output(count: Int, strides: [Int64]) {
        outputSizes.append(count)
        outStrides.append(strides)
    }

    /// Calls `body` with the program over fresh outputs (filled with NaN) and returns its status and the outputs.
    func withProgram(_ body: (UnsafePointer<gg_fprogram>) -> gg_status) -> (gg_status, [[Float]]) {
        let outs = outputSizes.map { AlignedBuffer(count: $0, fill: .nan) }
        let inPtrs: [UnsafePointer<Float>?] = inputs.map { UnsafePointer($0.pointer) }
        let outPtrs: [UnsafeMutablePointer<Float>?] = outs.map { $0.pointer }
        let status = withFusedProgram(instr, nregs: nregs, shape: shape, inputs: inPtrs, inStrides: inStrides.flatMap { $0 },
                                      outputs: outPtrs, outStrides: outStrides.flatMap { $0 }, keys: keys, body)
        return (status, outs.map(\.array))
    }

    /// gg_fused_f32 with exactly the scratch it asks for (plus `scratchDelta`).
    func run(threads: Int32, scratchDelta: Int = 0) -> (gg_status, [[Float]]) {
        withProgram { p in
            var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
            let need = Int(gg_fused_f32_scratch(&probe, p)) + scratchDelta
            let tc = TestContext(threads: threads, scratchFloats: max(need, 0))
            return gg_fused_f32(&tc.ctx, p)
        }
    }

    func runChecked(threads: Int32, file: StaticString = #filePath, line: UInt = #line) -> [[Float]] {
        let (st, outs) = run(threads: threads)
        XCTAssertEqual(st, GG_OK, file: file, line: line)
        return outs
    }

    /// gg_fused_f32 on every count of `counts`, asserted bit-identical; the one-thread outputs.
    func runOnThreadCounts(_ what: @autoclosure () -> String = "", counts: [Int32] = threadCounts,
                           file: StaticString = #filePath, line: UInt = #line) -> [[Float]] {
        assertSameOnThreadCounts(counts, what(), file: file, line: line) { runChecked(threads: $0, file: file, line: line) }
    }

    func reference() -> [[Float]] {
        let (st, outs) = withProgram { p in
            let tc = TestContext(threads: 1)
            return gg_fused_f32_ref(&tc.ctx, p)
        }
        XCTAssertEqual(st, GG_OK)
        return outs
    }
}

/// assertClose that also accepts exactly equal values (infinities included).
func assertNear(_ a: [Float], _ b: [Float], rtol: Float, atol: Float, _ message: @autoclosure () -> String = "",
                file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "length " + message(), file: file, line: line)
    for i in 0..<min(a.count, b.count) {
        let ok = a[i] == b[i] || (a[i].isNaN && b[i].isNaN) || abs(a[i] - b[i]) <= atol + rtol * abs(b[i])
        if !ok {
            XCTFail("index \(i): \(a[i]) vs \(b[i]) \(message())", file: file, line: line)
            return
        }
    }
}

final class FusedTests: XCTestCase {
    /// Values with the special cases the elementwise kernels care about.
    private func specialValues(_ n: Int, seed: UInt64, scale: Float = 5) -> [Float] {
        var g = SeededValues(seed: seed)
        var v = g.array(n, -scale, scale)
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, Float(bitPattern: 0x116C2), -Float(bitPattern: 0x116C2), 100, -100, 1]
        for (i, s) in specials.enumerated() where i * 13 < n { v[i * 13] = s }
        return v
    }

    func testUnaryOpsBitIdenticalToEager() {
        let shape: [Int64] = [7, 129]
        let n = 7 * 129
        let x = specialValues(n, seed: 1)
        for op in 0..<Int32(GG_UNARY_COUNT.rawValue) {
            let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0),
                                finstr(GG_FOP_UNARY, op, dst: 1, a: 0, p0: 0.1, p1: 0.5),
                                finstr(GG_FOP_STORE, dst: 0, a: 1)], nregs: 2, shape: shape)
            fc.input(x, strides: [129, 1])
            fc.output(count: n, strides: [129, 1])
            let eager = AlignedBuffer(count: n)
            let xb = AlignedBuffer(x)
            let tc = TestContext(threads: 1)
            XCTAssertEqual(gg_unary_f32(&tc.ctx, eager.pointer, xb.pointer, Int64(n), gg_unary_op(rawValue: UInt32(op)), 0.1, 0.5), GG_OK)
            let fused = fc.runOnThreadCounts("unary \(op)")[0]
            assertBitIdentical(fused, eager.array, "unary \(op)")
            assertNear(fused, fc.reference()[0], rtol: 1e-5, atol: 1e-6, "unary \(op) vs reference")
        }
    }

    func testBinaryOpsBitIdenticalToEagerWithBroadcasts() {
        let shape: [Int64] = [9, 131]
        let n = 9 * 131
        var g = SeededValues(seed: 2)
        let a = specialValues(n, seed: 3)
        let row = g.array(131, -2, 2), col = g.array(9, -2, 2)
        let scalar: [Float] = [0.75]
        // (values, strides) of the second operand: full, row broadcast, column broadcast, scalar
        let seconds: [([Float], [Int64])] = [(g.array(n, -3, 3), [131, 1]), (row, [0, 1]), (col, [1, 0]), (scalar, [0, 0])]
        for op in 0..<Int32(GG_BINARY_COUNT.rawValue) {
            for (k, (bv, bs)) in seconds.enumerated() {
                let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                                    finstr(GG_FOP_BINARY, op, dst: 2, a: 0, b: 1),
                                    finstr(GG_FOP_STORE, dst: 0, a: 2)], nregs: 3, shape: shape)
                fc.input(a, strides: [131, 1])
                fc.input(bv, strides: bs)
                fc.output(count: n, strides: [131, 1])
                let eager = AlignedBuffer(count: n)
                let ab = AlignedBuffer(a), bb = AlignedBuffer(bv)
                let tc = TestContext(threads: 2)
                let ast: [Int64] = [131, 1]
                XCTAssertEqual(gg_binary_f32(&tc.ctx, eager.pointer, ab.pointer, ast, bb.pointer, bs, shape, 2,
                                             gg_binary_op(rawValue: UInt32(op))), GG_OK)
                let fused = fc.runOnThreadCounts("binary \(op) operand \(k)")[0]
                assertBitIdentical(fused, eager.array, "binary \(op) operand \(k)")
                assertNear(fused, fc.reference()[0], rtol: 1e-6, atol: 0, "binary \(op) vs reference")
            }
        }
    }

    func testSelectAndConstMatchWhere() {
        let shape: [Int64] = [5, 77]
        let n = 5 * 77
        var g = SeededValues(seed: 4)
        let cond: [Float] = (0..<77).map { $0 % 3 == 0 ? 0 : ($0 % 3 == 1 ? 1 : .nan) }
        let a = g.array(n)
        // r3 = cond(row broadcast) != 0 ? a : 2.5
        let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                            finstr(GG_FOP_CONST, dst: 2, p0: 2.5),
                            finstr(GG_FOP_SELECT, dst: 3, a: 0, b: 1, c: 2),
                            finstr(GG_FOP_STORE, dst: 0, a: 3)], nregs: 4, shape: shape)
        fc.input(cond, strides: [0, 1])
        fc.input(a, strides: [77, 1])
        fc.output(count: n, strides: [77, 1])
        let eager = AlignedBuffer(count: n)
        let cb = AlignedBuffer(cond), ab = AlignedBuffer(a), kb = AlignedBuffer([2.5])
        let tc = TestContext(threads: 1)
        XCTAssertEqual(gg_where_f32(&tc.ctx, eager.pointer, cb.pointer, [0, 1], ab.pointer, [77, 1], kb.pointer, [0, 0], shape, 2), GG_OK)
        assertBitIdentical(fc.runChecked(threads: 1)[0], eager.array)
        assertBitIdentical(fc.reference()[0], eager.array)
    }

    /// y = tanh(x + bias) * 0.5 and z = x * x, two outputs, over spaces of odd sizes and ranks 1..4.
    func testChainOverOddShapes() {
        let shapes: [[Int64]] = [[1], [7], [129], [1_000_003], [3, 1, 5, 7], [2, 3, 129], [1, 1], [4, 2, 3, 1000], [64, 1025]]
        for shape in shapes {
            let n = Int(shape.reduce(1, *))
            var g = SeededValues(seed: UInt64(n))
            let x = g.array(n, -3, 3)
            let inner = Int(shape.last!)
            let bias = g.array(inner)
            var biasStrides = [Int64](repeating: 0, count: shape.count)
            biasStrides[shape.count - 1] = 1
            let cs = contiguousStrides(shape)
            let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                                finstr(GG_FOP_BINARY, Int32(GG_BINARY_ADD.rawValue), dst: 1, a: 0, b: 1),
                                finstr(GG_FOP_UNARY, Int32(GG_UNARY_TANH.rawValue), dst: 1, a: 1),
                                finstr(GG_FOP_CONST, dst: 2, p0: 0.5),
                                finstr(GG_FOP_BINARY, Int32(GG_BINARY_MUL.rawValue), dst: 1, a: 1, b: 2),
                                finstr(GG_FOP_STORE, dst: 0, a: 1),
                                finstr(GG_FOP_BINARY, Int32(GG_BINARY_MUL.rawValue), dst: 0, a: 0, b: 0),
                                finstr(GG_FOP_STORE, dst: 1, a: 0)], nregs: 3, shape: shape)
            fc.input(x, strides: cs)
            fc.input(bias, strides: biasStrides)
            fc.output(count: n, strides: cs)
            fc.output(count: n, strides: cs)
            let one = fc.runOnThreadCounts("\(shape)")
            if n <= 200_000 {
                let ref = fc.reference()
                assertNear(one[0], ref[0], rtol: 1e-5, atol: 1e-6, "\(shape)")
                assertBitIdentical(one[1], ref[1], "\(shape)")
            } else {
                // spot checks against the eager kernels
                let tc = TestContext(threads: 2)
                let xb = AlignedBuffer(x), bb = AlignedBuffer(bias), t = AlignedBuffer(count: n)
                XCTAssertEqual(gg_binary_f32(&tc.ctx, t.pointer, xb.pointer, cs, bb.pointer, biasStrides, shape, Int32(shape.count), GG_BINARY_ADD), GG_OK)
                XCTAssertEqual(gg_unary_f32(&tc.ctx, t.pointer, t.pointer, Int64(n), GG_UNARY_TANH, 0, 0), GG_OK)
                let half = AlignedBuffer([0.5])
                XCTAssertEqual(gg_binary_f32(&tc.ctx, t.pointer, t.pointer, cs, half.pointer, [0], shape, Int32(shape.count), GG_BINARY_MUL), GG_OK)
                assertBitIdentical(one[0], t.array, "\(shape) vs eager")
            }
        }
    }

    /// Transposed (strided) loads and stores: x is stored (C, R) and read as (R, C); outputs go to
    /// a contiguous and a transposed layout; a column vector broadcasts along rows.
    func testStridedLoadsAndStores() {
        for (R, C) in [(3, 5), (64, 33), (300, 257)] {
            let shape: [Int64] = [Int64(R), Int64(C)]
            var g = SeededValues(seed: UInt64(R * C))
            let xt = g.array(R * C), colv = g.array(R)
            let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                                finstr(GG_FOP_BINARY, Int32(GG_BINARY_SUB.rawValue), dst: 2, a: 0, b: 1),
                                finstr(GG_FOP_STORE, dst: 0, a: 2), finstr(GG_FOP_STORE, dst: 1, a: 2)],
                               nregs: 3, shape: shape)
            fc.input(xt, strides: [1, Int64(R)])
            fc.input(colv, strides: [1, 0])
            fc.output(count: R * C, strides: [Int64(C), 1])
            fc.output(count: R * C, strides: [1, Int64(R)])
            let out = fc.runOnThreadCounts("\(R)x\(C)")
            var want = [Float](repeating: 0, count: R * C), wantT = want
            for i in 0..<R { for j in 0..<C {
                want[i * C + j] = xt[j * R + i] - colv[i]
                wantT[j * R + i] = want[i * C + j]
            } }
            assertBitIdentical(out[0], want, "\(R)x\(C)")
            assertBitIdentical(out[1], wantT, "\(R)x\(C)")
        }
    }

    func testRandomMatchesEagerBitForBit() {
        for shape: [Int64] in [[3, 7, 129, 5], [1_000_003], [1], [2, 3]] {
            let n = Int(shape.reduce(1, *))
            for normal in [false, true] {
                let key: UInt64 = normal ? 0xDEAD_BEEF_CAFE : 42
                let fc = FusedCase([finstr(normal ? GG_FOP_RAND_NORMAL : GG_FOP_RAND_UNIFORM, dst: 0, a: 1),
                                    finstr(GG_FOP_STORE, dst: 0, a: 0)], nregs: 1, shape: shape)
                fc.keys = [7, key]
                fc.output(count: n, strides: contiguousStrides(shape))
                let eager = AlignedBuffer(count: n)
                let tc = TestContext(threads: 2)
                if normal {
                    XCTAssertEqual(gg_rand_normal_f32(&tc.ctx, eager.pointer, Int64(n), key, 0), GG_OK)
                } else {
                    XCTAssertEqual(gg_rand_uniform_f32(&tc.ctx, eager.pointer, Int64(n), key, 0), GG_OK)
                }
                let fused = fc.runOnThreadCounts("\(shape) normal \(normal)")[0]
                assertBitIdentical(fused, eager.array, "\(shape) normal \(normal)")
                if n < 10_000 {
                    assertNear(fused, fc.reference()[0], rtol: 1e-5, atol: 1e-5)
                }
            }
        }
        // a transposed store of a random draw keeps the flat index of the iteration space
        let fc = FusedCase([finstr(GG_FOP_RAND_UNIFORM, dst: 0, a: 0), finstr(GG_FOP_STORE, dst: 0, a: 0)], nregs: 1, shape: [17, 9])
        fc.keys = [99]
        fc.output(count: 153, strides: [1, 17])
        let out = fc.runChecked(threads: 1)[0]
        let eager = AlignedBuffer(count: 153)
        let tc = TestContext(threads: 1)
        XCTAssertEqual(gg_rand_uniform_f32(&tc.ctx, eager.pointer, 153, 99, 0), GG_OK)
        let e = eager.array
        for i in 0..<17 { for j in 0..<9 { XCTAssertEqual(out[j * 17 + i].bitPattern, e[i * 9 + j].bitPattern) } }
    }

    /// v = x*x - 1 stored, plus REDUCE sum and max of v over every subset of the axes of (A, B, C).
    func testReductionsOverEveryAxisSubset() {
        let dims: [[Int64]] = [[1, 1, 1], [1, 1, 7], [3, 5, 129], [5, 4, 9000], [300, 3, 20], [2, 1_000_003, 1],
                              [64, 50, 2], [9, 4, 63], [6, 3, 64]]  // rows shorter than, and as long as, the 64 lanes
        for s in dims {
            let n = Int(s.reduce(1, *))
            var g = SeededValues(seed: UInt64(n) &+ 11)
            let x = g.array(n, -2, 2)
            let xs = contiguousStrides(s)
            for mask in 1..<8 {
                var os = [Int64](repeating: 0, count: 3)
                var acc: Int64 = 1
                for d in (0..<3).reversed() where mask & (1 << d) == 0 { os[d] = acc; acc *= s[d] }
                let osz = Int(acc)
                let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0),
                                    finstr(GG_FOP_UNARY, Int32(GG_UNARY_SQUARE.rawValue), dst: 1, a: 0),
                                    finstr(GG_FOP_CONST, dst: 2, p0: 1),
                                    finstr(GG_FOP_BINARY, Int32(GG_BINARY_SUB.rawValue), dst: 1, a: 1, b: 2),
                                    finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 0, a: 1),
                                    finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_MAX.rawValue), dst: 1, a: 1),
                                    finstr(GG_FOP_STORE, dst: 2, a: 1)], nregs: 3, shape: s)
                fc.input(x, strides: xs)
                fc.output(count: osz, strides: os)
                fc.output(count: osz, strides: os)
                fc.output(count: n, strides: xs)
                let what = "shape \(s) reduced axes mask \(mask)"
                let one = fc.runOnThreadCounts(what, counts: n < 1_000_000 ? threadCounts : fewThreadCounts)
                if n < 200_000 {
                    let ref = fc.reference()
                    assertNear(one[0], ref[0], rtol: 1e-4, atol: 1e-4, "sum " + what)
                    assertBitIdentical(one[1], ref[1], "max " + what)
                    assertBitIdentical(one[2], ref[2], "store " + what)
                }
                // Against gg_reduce_f32 over the stored v where the reduced axes are contiguous.
                let (A, B, C) = (s[0], s[1], s[2])
                let layout: (Int64, Int64, Int64)?
                switch mask {
                case 4: layout = (A * B, C, 1)
                case 6: layout = (A, B * C, 1)
                case 7: layout = (1, A * B * C, 1)
                case 1: layout = (1, A, B * C)
                case 3: layout = (1, A * B, C)
                case 2: layout = (A, B, C)
                default: layout = nil
                }
                if let (o, m, i) = layout {
                    let v = AlignedBuffer(one[2]), ys = AlignedBuffer(count: osz), ym = AlignedBuffer(count: osz)
                    let tc = TestContext(threads: 2)
                    XCTAssertEqual(gg_reduce_f32(&tc.ctx, ys.pointer, v.pointer, o, m, i, GG_REDUCE_SUM), GG_OK)
                    XCTAssertEqual(gg_reduce_f32(&tc.ctx, ym.pointer, v.pointer, o, m, i, GG_REDUCE_MAX), GG_OK)
                    assertBitIdentical(one[1], ym.array, "max vs gg_reduce " + what)
                    if i == 1 || m <= 256 {
                        assertBitIdentical(one[0], ys.array, "sum vs gg_reduce " + what)
                    } else {
                        assertNear(one[0], ys.array, rtol: 1e-5, atol: 1e-3, "sum vs gg_reduce " + what)
                    }
                }
            }
        }
    }

    /// Column sums and row sums of the same values in one program: no axis is free of reductions,
    /// so long rows run chunk-parallel; results must not depend on the thread count.
    func testRowAndColumnSumsTogether() {
        for s: [Int64] in [[3, 20000], [2, 9000], [70, 130]] {
            let n = Int(s[0] * s[1])
            var g = SeededValues(seed: UInt64(n))
            let x = g.array(n, 0, 1)
            let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0),
                                finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 0, a: 0),
                                finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 1, a: 0),
                                finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_MAX.rawValue), dst: 2, a: 0)], nregs: 1, shape: s)
            fc.input(x, strides: [s[1], 1])
            fc.output(count: Int(s[1]), strides: [0, 1])
            fc.output(count: Int(s[0]), strides: [1, 0])
            fc.output(count: Int(s[1]), strides: [0, 1])
            let one = fc.runOnThreadCounts("\(s)"), ref = fc.reference()
            assertNear(one[0], ref[0], rtol: 1e-6, atol: 0, "\(s) column sums")
            assertNear(one[1], ref[1], rtol: 1e-4, atol: 0, "\(s) row sums")
            assertBitIdentical(one[2], ref[2], "\(s) column max")
            // row sums are gg_reduce_f32's order exactly
            let xb = AlignedBuffer(x), y = AlignedBuffer(count: Int(s[0]))
            let tc = TestContext(threads: 2)
            XCTAssertEqual(gg_reduce_f32(&tc.ctx, y.pointer, xb.pointer, s[0], s[1], 1, GG_REDUCE_SUM), GG_OK)
            assertBitIdentical(one[1], y.array, "\(s) row sums vs gg_reduce_f32")
        }
    }

    /// Reduction over a middle axis of a rank-4 space with a transposed input (no collapsing).
    func testReduceMiddleAxisOfTransposedInput() {
        let s: [Int64] = [3, 50, 4, 70]
        let n = Int(s.reduce(1, *))
        var g = SeededValues(seed: 5)
        let x = g.array(n)
        // x stored as (3, 4, 70, 50): read with permuted strides
        let xs: [Int64] = [4 * 70 * 50, 1, 70 * 50, 50]
        let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0),
                            finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 0, a: 0),
                            finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_MAX.rawValue), dst: 1, a: 0)], nregs: 1, shape: s)
        fc.input(x, strides: xs)
        fc.output(count: 3 * 4 * 70, strides: [280, 0, 70, 1])
        fc.output(count: 3 * 70, strides: [70, 0, 0, 1])
        let one = fc.runOnThreadCounts(), ref = fc.reference()
        assertNear(one[0], ref[0], rtol: 1e-5, atol: 1e-5)
        assertBitIdentical(one[1], ref[1])
    }

    /// The VAE's KL term, sum over (128, 20) of 1 + lv - mu^2 - exp(lv), equals the eager kernel sequence.
    func testKLTermMatchesEagerKernels() {
        let shape: [Int64] = [128, 20]
        let n = 128 * 20
        var g = SeededValues(seed: 6)
        let mu = g.array(n), lv = g.array(n, -2, 1)
        let fc = FusedCase([finstr(GG_FOP_CONST, dst: 0, p0: 1),
                            finstr(GG_FOP_LOAD, dst: 1, a: 0),
                            finstr(GG_FOP_BINARY, Int32(GG_BINARY_ADD.rawValue), dst: 2, a: 0, b: 1),
                            finstr(GG_FOP_LOAD, dst: 3, a: 1),
                            finstr(GG_FOP_UNARY, Int32(GG_UNARY_SQUARE.rawValue), dst: 3, a: 3),
                            finstr(GG_FOP_BINARY, Int32(GG_BINARY_SUB.rawValue), dst: 2, a: 2, b: 3),
                            finstr(GG_FOP_UNARY, Int32(GG_UNARY_EXP.rawValue), dst: 1, a: 1),
                            finstr(GG_FOP_BINARY, Int32(GG_BINARY_SUB.rawValue), dst: 2, a: 2, b: 1),
                            finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 0, a: 2)], nregs: 4, shape: shape)
        fc.input(lv, strides: [20, 1])
        fc.input(mu, strides: [20, 1])
        fc.output(count: 1, strides: [0, 0])
        let fused = fc.runChecked(threads: 2)[0]
        let tc = TestContext(threads: 2)
        let one = AlignedBuffer([1]), lvb = AlignedBuffer(lv), mub = AlignedBuffer(mu)
        let t = AlignedBuffer(count: n), m2 = AlignedBuffer(count: n), e = AlignedBuffer(count: n), y = AlignedBuffer(count: 1)
        let cs: [Int64] = [20, 1], bc: [Int64] = [0, 0]
        XCTAssertEqual(gg_binary_f32(&tc.ctx, t.pointer, one.pointer, bc, lvb.pointer, cs, shape, 2, GG_BINARY_ADD), GG_OK)
        XCTAssertEqual(gg_unary_f32(&tc.ctx, m2.pointer, mub.pointer, Int64(n), GG_UNARY_SQUARE, 0, 0), GG_OK)
        XCTAssertEqual(gg_binary_f32(&tc.ctx, t.pointer, t.pointer, cs, m2.pointer, cs, shape, 2, GG_BINARY_SUB), GG_OK)
        XCTAssertEqual(gg_unary_f32(&tc.ctx, e.pointer, lvb.pointer, Int64(n), GG_UNARY_EXP, 0, 0), GG_OK)
        XCTAssertEqual(gg_binary_f32(&tc.ctx, t.pointer, t.pointer, cs, e.pointer, cs, shape, 2, GG_BINARY_SUB), GG_OK)
        XCTAssertEqual(gg_reduce_f32(&tc.ctx, y.pointer, t.pointer, 1, Int64(n), 1, GG_REDUCE_SUM), GG_OK)
        assertBitIdentical(fused, y.array)
    }

    /// Programs with a post program against the composition of scalar references (gg_fused_f32_ref
    /// runs the program, then its post program). v = x * x - 0.25 is the same two roundings in both.
    /// Column sums keep the innermost axis: the kernel and the reference add the rows in the same
    /// order, and the post program's product by 0.5 and add round once either way, so the column
    /// post matches bit for bit. Row sums are chunked and folded pairwise in the kernel but added in
    /// order by the reference, both in float: each is within gamma(C) * sum |v| of the exact sum, so
    /// they differ by at most 2 gamma(C) * sum |v|; the post scales that by 0.5 (exactly) and its add
    /// rounds once on each side, within gamma(3) * (|sum / 2| + |max|). Maxima are exact.
    func testPostProgramsMatchScalarReferences() {
        for (R, C) in [(3, 20_000), (70, 130), (300, 9)] {
            var g = SeededValues(seed: UInt64(R * C) &+ 3)
            let xs = g.array(R * C), x = AlignedBuffer(xs), bias = AlignedBuffer(g.array(C))
            let (r, c) = (Int64(R), Int64(C))
            let main = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_BINARY, Int32(GG_BINARY_MUL.rawValue), dst: 0, a: 0, b: 0),
                        finstr(GG_FOP_CONST, dst: 1, p0: 0.25), finstr(GG_FOP_BINARY, Int32(GG_BINARY_SUB.rawValue), dst: 0, a: 0, b: 1),
                        finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 0, a: 0),
                        finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 1, a: 0),
                        finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_MAX.rawValue), dst: 2, a: 0)]
            // out = first * 0.5 + second over the post space
            let post = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_CONST, dst: 1, p0: 0.5),
                        finstr(GG_FOP_BINARY, Int32(GG_BINARY_MUL.rawValue), dst: 0, a: 0, b: 1), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                        finstr(GG_FOP_BINARY, Int32(GG_BINARY_ADD.rawValue), dst: 0, a: 0, b: 1), finstr(GG_FOP_STORE, dst: 0, a: 0)]
            for columns in [true, false] {
                // column sums, row sums, row maxima, post output
                func run(reference: Bool) -> [[Float]] {
                    let colSums = AlignedBuffer(count: C, fill: .nan), rowSums = AlignedBuffer(count: R, fill: .nan)
                    let rowMax = AlignedBuffer(count: R, fill: .nan), out = AlignedBuffer(count: columns ? C : R, fill: .nan)
                    let postIn: [UnsafePointer<Float>?] = columns ? [UnsafePointer(colSums.pointer), UnsafePointer(bias.pointer)]
                                                                  : [UnsafePointer(rowSums.pointer), UnsafePointer(rowMax.pointer)]
                    let st: gg_status = withFusedProgram(post, nregs: 2, shape: [columns ? c : r], inputs: postIn, inStrides: [1, 1],
                                                         outputs: [out.pointer], outStrides: [1]) { postProgram in
                        withFusedProgram(main, nregs: 2, shape: [r, c], inputs: [UnsafePointer(x.pointer)], inStrides: [c, 1],
                                         outputs: [colSums.pointer, rowSums.pointer, rowMax.pointer],
                                         outStrides: [0, 1, 1, 0, 1, 0]) { mainProgram in
                            var p = mainProgram.pointee
                            p.post = postProgram
                            if reference {
                                let tc = TestContext(threads: 1)
                                return gg_fused_f32_ref(&tc.ctx, &p)
                            }
                            var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
                            let tc = TestContext(threads: 2, scratchFloats: Int(gg_fused_f32_scratch(&probe, &p)))
                            return gg_fused_f32(&tc.ctx, &p)
                        }
                    }
                    XCTAssertEqual(st, GG_OK)
                    return [colSums.array, rowSums.array, rowMax.array, out.array]
                }
                let fast = run(reference: false), ref = run(reference: true)
                let what = "\(R)x\(C) \(columns ? "column" : "row") post"
                assertBitIdentical(fast[0], ref[0], "column sums " + what)
                assertBitIdentical(fast[2], ref[2], "row maxima " + what)
                if columns {
                    assertBitIdentical(fast[3], ref[3], what)
                    continue
                }
                let magnitudes = (0..<R).map { i in (0..<C).reduce(0.0) { $0 + Double(abs(xs[i * C + $1] * xs[i * C + $1] - 0.25)) } }
                assertWithinBound(fast[1], ref[1], magnitudes.map { 2 * gamma(C) * $0 }, "row sums " + what)
                let bound = (0..<R).map { i in
                    gamma(C) * magnitudes[i] + gamma(3) * (Double(abs(ref[1][i])) / 2 + Double(abs(ref[2][i])))
                }
                assertWithinBound(fast[3], ref[3], bound, what)
            }
        }
    }

    func testEmptyReductionsAreInitialised() {
        let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0),
                            finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 0, a: 0),
                            finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_MAX.rawValue), dst: 1, a: 0)], nregs: 1, shape: [3, 0])
        fc.input([], strides: [0, 1])
        fc.output(count: 3, strides: [1, 0])
        fc.output(count: 3, strides: [1, 0])
        let out = fc.runChecked(threads: 2)
        XCTAssertEqual(out[0], [0, 0, 0])
        XCTAssertEqual(out[1], [-.infinity, -.infinity, -.infinity])
    }

    func testRegionRunsOnlyItsBox() {
        let shape: [Int64] = [2, 37, 50]
        let n = 2 * 37 * 50
        var g = SeededValues(seed: 8)
        let x = g.array(n), bias = g.array(50)
        let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                            finstr(GG_FOP_BINARY, Int32(GG_BINARY_ADD.rawValue), dst: 0, a: 0, b: 1),
                            finstr(GG_FOP_UNARY, Int32(GG_UNARY_RELU.rawValue), dst: 1, a: 0),
                            finstr(GG_FOP_RAND_UNIFORM, dst: 2, a: 0),
                            finstr(GG_FOP_BINARY, Int32(GG_BINARY_ADD.rawValue), dst: 1, a: 1, b: 2),
                            finstr(GG_FOP_STORE, dst: 0, a: 1)], nregs: 3, shape: shape)
        fc.keys = [5]
        fc.input(x, strides: [1850, 50, 1])
        fc.input(bias, strides: [0, 0, 1])
        fc.output(count: n, strides: [1850, 50, 1])
        let full = fc.runChecked(threads: 1)[0]
        let lo: [Int64] = [1, 3, 5], ext: [Int64] = [1, 30, 40]
        let (st, outs) = fc.withProgram { p in
            var probe = gg_ctx(nthreads: 1, isa: -1, scratch: nil, scratch_len: 0)
            let tc = TestContext(threads: 1, scratchFloats: Int(gg_fused_f32_scratch(&probe, p)))
            return gg_fused_region_f32(&tc.ctx, p, lo, ext)
        }
        XCTAssertEqual(st, GG_OK)
        let region = outs[0]
        // the scalar reference over the whole space: add, relu and the uniform draw are the same bits
        let ref = fc.reference()[0]
        for b in 0..<2 { for i in 0..<37 { for j in 0..<50 {
            let k = b * 1850 + i * 50 + j
            let inside = b == 1 && i >= 3 && i < 33 && j >= 5 && j < 45
            if inside {
                XCTAssertEqual(region[k].bitPattern, full[k].bitPattern, "\(b),\(i),\(j)")
                XCTAssertEqual(region[k].bitPattern, ref[k].bitPattern, "reference \(b),\(i),\(j)")
            }
            else { XCTAssertTrue(region[k].isNaN, "outside the box written at \(b),\(i),\(j)") }
        } } }
    }

    /// A box narrower than its rows makes every tile's rows non-contiguous, so LOAD copies them (and
    /// splats a per-row value) and STORE copies them back, for each row length 1...40 (every vector
    /// tail): the same bits as the scalar reference on every ISA, nothing written outside the box.
    func testNonContiguousRowsOnEveryISA() {
        let shape: [Int64] = [3, 9, 45]
        let n = 3 * 9 * 45
        var g = SeededValues(seed: 11)
        let x = g.array(n), rowScale = g.array(3 * 9)
        let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                            finstr(GG_FOP_BINARY, Int32(GG_BINARY_MUL.rawValue), dst: 2, a: 0, b: 1),
                            finstr(GG_FOP_UNARY, Int32(GG_UNARY_NEG.rawValue), dst: 2, a: 2),
                            finstr(GG_FOP_STORE, dst: 0, a: 2)], nregs: 3, shape: shape)
        fc.input(x, strides: [405, 45, 1])
        fc.input(rowScale, strides: [9, 1, 0])
        fc.output(count: n, strides: [405, 45, 1])
        let ref = fc.reference()[0]
        for isa: Int32 in [0, 1, 2] {
            for width in 1...40 {
                let lo: [Int64] = [0, 1, 2], ext: [Int64] = [3, 7, Int64(width)]
                let (st, outs) = fc.withProgram { p in
                    var probe = gg_ctx(nthreads: 1, isa: isa, scratch: nil, scratch_len: 0)
                    let tc = TestContext(threads: 1, isa: isa, scratchFloats: Int(gg_fused_f32_scratch(&probe, p)))
                    return gg_fused_region_f32(&tc.ctx, p, lo, ext)
                }
                XCTAssertEqual(st, GG_OK)
                for b in 0..<3 { for i in 0..<9 { for j in 0..<45 {
                    let k = b * 405 + i * 45 + j
                    if i >= 1 && i < 8 && j >= 2 && j < 2 + width {
                        XCTAssertEqual(outs[0][k].bitPattern, ref[k].bitPattern, "isa \(isa) width \(width) at \(b),\(i),\(j)")
                    } else {
                        XCTAssertTrue(outs[0][k].isNaN, "isa \(isa) width \(width): written outside the box at \(b),\(i),\(j)")
                    }
                } } }
            }
        }
    }

    func testMalformedProgramsAndShortScratch() {
        func base() -> FusedCase {
            let fc = FusedCase([finstr(GG_FOP_LOAD, dst: 0, a: 0),
                                finstr(GG_FOP_UNARY, Int32(GG_UNARY_EXP.rawValue), dst: 1, a: 0),
                                finstr(GG_FOP_STORE, dst: 0, a: 1)], nregs: 2, shape: [4, 5])
            fc.input([Float](repeating: 1, count: 20), strides: [5, 1])
            fc.output(count: 20, strides: [5, 1])
            return fc
        }
        XCTAssertEqual(base().run(threads: 2).0, GG_OK)
        var bad: [(String, FusedCase)] = []
        var fc = base(); fc.instr[1].dst = 2; bad.append(("register out of range", fc))
        fc = base(); fc.instr[1].a = -1; bad.append(("negative register", fc))
        fc = base(); fc.instr[0].a = 1; bad.append(("input out of range", fc))
        fc = base(); fc.instr[2].dst = 1; bad.append(("output out of range", fc))
        fc = base(); fc.instr[1].op = 42; bad.append(("unknown op", fc))
        fc = base(); fc.instr[1].sub = Int32(GG_UNARY_COUNT.rawValue); bad.append(("unknown unary", fc))
        fc = base(); fc.instr[1] = finstr(GG_FOP_BINARY, 99, dst: 1, a: 0, b: 0); bad.append(("unknown binary", fc))
        fc = base(); fc.instr[2] = finstr(GG_FOP_REDUCE, 7, dst: 0, a: 1); bad.append(("unknown reduce", fc))
        fc = base(); fc.instr.append(finstr(GG_FOP_STORE, dst: 0, a: 0)); bad.append(("output written twice", fc))
        fc = base(); fc.outStrides[0] = [0, 1]; bad.append(("stored output broadcast", fc))
        fc = base(); fc.instr[0] = finstr(GG_FOP_RAND_NORMAL, dst: 0, a: 0); bad.append(("random without keys", fc))
        fc = base(); fc.shape = [Int64](repeating: 1, count: 9); fc.inStrides[0] = [Int64](repeating: 0, count: 9)
        fc.outStrides[0] = [Int64](repeating: 0, count: 9); bad.append(("rank 9", fc))
        fc = base(); fc.shape = [4, -5]; bad.append(("negative extent", fc))
        fc = base(); fc.nregs = -1; bad.append(("negative nregs", fc))
        for (what, c) in bad {
            XCTAssertEqual(c.run(threads: 2).0, GG_ERR_ARG, what)
            XCTAssertEqual(c.withProgram { p in
                let tc = TestContext(threads: 1)
                return gg_fused_f32_ref(&tc.ctx, p)
            }.0, GG_ERR_ARG, what + " (reference)")
        }
        // REDUCE is not allowed in a region
        fc = base(); fc.instr[2] = finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 0, a: 1)
        XCTAssertEqual(fc.run(threads: 1).0, GG_OK)
        XCTAssertEqual(fc.withProgram { p in
            let tc = TestContext(threads: 1, scratchFloats: 1 << 16)
            return gg_fused_region_f32(&tc.ctx, p, [0, 0], [4, 5])
        }.0, GG_ERR_ARG)
        // region box outside the space
        XCTAssertEqual(base().withProgram { p in
            let tc = TestContext(threads: 1, scratchFloats: 1 << 16)
            return gg_fused_region_f32(&tc.ctx, p, [2, 0], [3, 5])
        }.0, GG_ERR_ARG)
        // short scratch
        XCTAssertEqual(base().run(threads: 1, scratchDelta: -1).0, GG_ERR_SCRATCH)
        XCTAssertEqual(base().run(threads: 2, scratchDelta: -1).0, GG_ERR_SCRATCH)
        XCTAssertEqual(base().withProgram { p in
            let tc = TestContext(threads: 1, scratchFloats: 8)
            return gg_fused_region_f32(&tc.ctx, p, [0, 0], [4, 5])
        }.0, GG_ERR_SCRATCH)
    }
}
