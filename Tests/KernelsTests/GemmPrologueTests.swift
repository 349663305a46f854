import Kernels
import XCTest

/// gg_gemm_pro_ep_f32 must equal materialising each prologued operand with
/// gg_fused_f32 and then calling gg_gemm_ep_f32 on it, bit for bit.
final class GemmPrologueTests: XCTestCase {
    /// out = leaky_relu(x * scale) + u over (batch, rows, cols): x the operand's source
    /// (contiguous), scale broadcast along columns, u a uniform draw keyed by `key`.
    private func withOperandProgram<R>(x: AlignedBuffer, scale: AlignedBuffer, out: AlignedBuffer?,
                                       batch: Int64, rows: Int64, cols: Int64, key: UInt64, outputs: Int = 1,
                                       _ body: (UnsafePointer<gg_fprogram>) -> R) -> R {
        var instr = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                     finstr(GG_FOP_BINARY, Int32(GG_BINARY_MUL.rawValue), dst: 0, a: 0, b: 1),
                     gg_finstr(op: Int32(GG_FOP_UNARY.rawValue), sub: Int32(GG_UNARY_LEAKY_RELU.rawValue), dst: 0, a: 0,
                               b: 0, c: 0, p0: 0.2, p1: 0),
                     finstr(GG_FOP_RAND_UNIFORM, dst: 1, a: 0),
                     finstr(GG_FOP_BINARY, Int32(GG_BINARY_ADD.rawValue), dst: 0, a: 0, b: 1),
                     finstr(GG_FOP_STORE, dst: 0, a: 0)]
        var outSt: [Int64] = [max(1, rows * cols), max(1, cols), 1]
        if outputs == 2 { instr.append(finstr(GG_FOP_STORE, dst: 1, a: 0)); outSt += outSt }
        let target = out?.pointer
        return withFusedProgram(instr, nregs: 2, shape: [batch, rows, cols],
                                inputs: [UnsafePointer(x.pointer), UnsafePointer(scale.pointer)],
                                inStrides: [rows * cols, cols, 1, 0, 0, 1],
                                outputs: [UnsafeMutablePointer<Float>?](repeating: target, count: outputs),
                                outStrides: outSt, keys: [key], body)
    }

    /// One case's data: the sources and column scales the prologues read, the operands' storage
    /// shapes, and C's starting values.
    private struct Sources {
        let aRows: Int64, aCols: Int64, bRows: Int64, bCols: Int64
        let aSource: AlignedBuffer, bSource: AlignedBuffer, aScale: AlignedBuffer, bScale: AlignedBuffer
        let initialC: [Float]
        init(batch: Int64, M: Int64, N: Int64, K: Int64, ta: Int32, tb: Int32, seed: UInt64) {
            (aRows, aCols) = ta != 0 ? (K, M) : (M, K)
            (bRows, bCols) = tb != 0 ? (N, K) : (K, N)
            var g = SeededValues(seed: seed)
            aSource = AlignedBuffer(g.array(Int(batch * M * K)))
            bSource = AlignedBuffer(g.array(Int(batch * K * N)))
            aScale = AlignedBuffer(g.array(Int(aCols)))
            bScale = AlignedBuffer(g.array(Int(bCols)))
            initialC = g.array(Int(batch * M * N))
        }
    }

    /// C = prologue(A-source) * prologue(B-source) through the fused GEMM, and through
    /// gg_fused_f32 into memory then gg_gemm_ep_f32; `sides` says which operands have one.
    private func check(batch: Int64, M: Int64, N: Int64, K: Int64, ta: Int32, tb: Int32, sides: (Bool, Bool),
                       threads: Int32, file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        let what = "batch \(batch) \(M)x\(N)x\(K) ta \(ta) tb \(tb) sides \(sides) threads \(threads)"
        let d = Sources(batch: batch, M: M, N: N, K: K, ta: ta, tb: tb, seed: UInt64(M * 31 + N * 7 + K))
        let (aRows, aCols, bRows, bCols) = (d.aRows, d.aCols, d.bRows, d.bCols)
        let (aSource, bSource, aScale, bScale, initialC) = (d.aSource, d.bSource, d.aScale, d.bScale, d.initialC)
        // Reference: each prologued operand materialised first.
        let A = AlignedBuffer(aSource.array), B = AlignedBuffer(bSource.array)
        var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
        for (on, source, scale, target, rows, cols, key) in [(sides.0, aSource, aScale, A, aRows, aCols, UInt64(11)),
                                                              (sides.1, bSource, bScale, B, bRows, bCols, UInt64(12))] where on {
            let st: gg_status = withOperandProgram(x: source, scale: scale, out: target, batch: batch, rows: rows, cols: cols,
                                                   key: key) { p in
                let tc = TestContext(threads: threads, scratchFloats: Int(gg_fused_f32_scratch(&probe, p)))
                return gg_fused_f32(&tc.ctx, p)
            }
            XCTAssertEqual(st, GG_OK, what, file: file, line: line)
        }
        let C2 = AlignedBuffer(initialC)
        let tc2 = TestContext(threads: threads, scratchFloats: Int(gg_gemm_f32_scratch(&probe, M, N, K)))
        XCTAssertEqual(gg_gemm_ep_f32(&tc2.ctx, C2.pointer, N, M * N, A.pointer, aCols, M * K, ta,
                                      B.pointer, bCols, K * N, tb, batch, M, N, K, 1, 0.5, nil), GG_OK, what, file: file, line: line)
        // Fused: the operands are never in memory (their pointers are nil).
        let C1 = AlignedBuffer(initialC)
        let st: gg_status = withOperandProgram(x: aSource, scale: aScale, out: nil, batch: batch, rows: aRows, cols: aCols,
                                               key: 11) { pa in
            withOperandProgram(x: bSource, scale: bScale, out: nil, batch: batch, rows: bRows, cols: bCols, key: 12) { pb in
                let (a, b) = (sides.0 ? pa : nil, sides.1 ? pb : nil)
                let tc = TestContext(threads: threads, scratchFloats: Int(gg_gemm_pro_ep_f32_scratch(&probe, M, N, K, a, b, nil)))
                return gg_gemm_pro_ep_f32(&tc.ctx, C1.pointer, N, M * N, sides.0 ? nil : A.pointer, aCols, M * K, ta,
                                          sides.1 ? nil : B.pointer, bCols, K * N, tb, batch, M, N, K, 1, 0.5, a, b, nil)
            }
        }
        XCTAssertEqual(st, GG_OK, what, file: file, line: line)
        assertBitIdentical(C1.array, C2.array, what, file: file, line: line)
        return C1.array
    }

    /// packed path (several K blocks, edge panels), tiny path, K == 0, transposes, batches
    private let cases: [(Int64, Int64, Int64, Int64, Int32, Int32)] = [
        (1, 128, 400, 784, 0, 0), (3, 5, 7, 9, 0, 0), (2, 64, 130, 33, 1, 0), (1, 300, 257, 128, 0, 1),
        (2, 4, 4, 0, 0, 0), (1, 1, 1, 1, 0, 0), (1, 129, 200, 64, 1, 1), (2, 40, 3, 600, 0, 1),
    ]

    func testProloguesEqualMaterialisedOperands() {
        for (batch, M, N, K, ta, tb) in cases {
            for sides in [(true, false), (false, true), (true, true)] {
                assertSameOnThreadCounts(threadCounts, "batch \(batch) \(M)x\(N)x\(K) ta \(ta) tb \(tb) sides \(sides)") { threads in
                    [check(batch: batch, M: M, N: N, K: K, ta: ta, tb: tb, sides: sides, threads: threads)]
                }
            }
        }
    }

    /// Against compositions of scalar references. gg_gemm_pro_ep_f32_ref computes each element of a
    /// prologued operand with the reference interpreter where the GEMM reads it, and sums in double.
    /// The prologue (a product, leaky relu, a uniform draw, an add) is the same correctly rounded
    /// operations in both and the draw the same bits, so the operands agree bit for bit; the GEMMs
    /// then differ as in GemmEpilogueTests, by at most gamma(2K + 9) * (sum_k |a||b| + |beta c|).
    /// The reference prologues materialised (gg_fused_f32_ref) and then the kernel's GEMM keep the
    /// kernel's order: that composition matches bit for bit.
    func testProloguesMatchScalarReferences() {
        // the reference interprets the prologue for every product it reads: the smaller cases
        for (batch, M, N, K, ta, tb) in cases where batch * M * N * K <= 2_000_000 {
            let d = Sources(batch: batch, M: M, N: N, K: K, ta: ta, tb: tb, seed: UInt64(M * 13 + N * 5 + K))
            let (aRows, aCols, bRows, bCols) = (d.aRows, d.aCols, d.bRows, d.bCols)
            let (aSource, bSource, aScale, bScale, initialC) = (d.aSource, d.bSource, d.aScale, d.bScale, d.initialC)
            let ref = TestContext(threads: 1)
            // The operands as the reference prologues compute them.
            let A = AlignedBuffer(count: Int(batch * M * K)), B = AlignedBuffer(count: Int(batch * K * N))
            for (source, scale, target, rows, cols, key) in [(aSource, aScale, A, aRows, aCols, UInt64(21)),
                                                             (bSource, bScale, B, bRows, bCols, UInt64(22))] {
                XCTAssertEqual(withOperandProgram(x: source, scale: scale, out: target, batch: batch, rows: rows, cols: cols,
                                                  key: key) { gg_fused_f32_ref(&ref.ctx, $0) }, GG_OK)
            }
            let absA = AlignedBuffer(A.array.map(abs)), absB = AlignedBuffer(B.array.map(abs))
            let sums = AlignedBuffer(count: initialC.count)
            XCTAssertEqual(gg_gemm_pro_ep_f32_ref(&ref.ctx, sums.pointer, N, M * N, absA.pointer, aCols, M * K, ta,
                                                  absB.pointer, bCols, K * N, tb, batch, M, N, K, 1, 0, nil, nil, nil), GG_OK)
            let bound = (0..<initialC.count).map { k in
                gamma(2 * Int(K) + 9) * (Double(sums.pointer[k]) + Double(abs(0.5 * initialC[k])))
            }
            for sides in [(true, false), (false, true), (true, true)] {
                let what = "batch \(batch) \(M)x\(N)x\(K) ta \(ta) tb \(tb) sides \(sides)"
                var outputs: [[Float]] = []
                for reference in [false, true] {
                    let C = AlignedBuffer(initialC)
                    let st: gg_status = withOperandProgram(x: aSource, scale: aScale, out: nil, batch: batch, rows: aRows,
                                                           cols: aCols, key: 21) { pa in
                        withOperandProgram(x: bSource, scale: bScale, out: nil, batch: batch, rows: bRows, cols: bCols,
                                           key: 22) { pb in
                            let (a, b) = (sides.0 ? pa : nil, sides.1 ? pb : nil)
                            if reference {
                                return gg_gemm_pro_ep_f32_ref(&ref.ctx, C.pointer, N, M * N, sides.0 ? nil : A.pointer, aCols,
                                                              M * K, ta, sides.1 ? nil : B.pointer, bCols, K * N, tb,
                                                              batch, M, N, K, 1, 0.5, a, b, nil)
                            }
                            var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
                            let tc = TestContext(threads: 2, scratchFloats: Int(gg_gemm_pro_ep_f32_scratch(&probe, M, N, K, a, b, nil)))
                            return gg_gemm_pro_ep_f32(&tc.ctx, C.pointer, N, M * N, sides.0 ? nil : A.pointer, aCols, M * K, ta,
                                                      sides.1 ? nil : B.pointer, bCols, K * N, tb, batch, M, N, K, 1, 0.5, a, b, nil)
                        }
                    }
                    XCTAssertEqual(st, GG_OK, what)
                    outputs.append(C.array)
                }
                assertWithinBound(outputs[0], outputs[1], bound, "vs references " + what)
                // the reference operands in memory, then the kernel's GEMM
                let C = AlignedBuffer(initialC)
                var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
                let tc = TestContext(threads: 2, scratchFloats: Int(gg_gemm_f32_scratch(&probe, M, N, K)))
                XCTAssertEqual(gg_gemm_ep_f32(&tc.ctx, C.pointer, N, M * N, A.pointer, aCols, M * K, ta, B.pointer, bCols, K * N, tb,
                                              batch, M, N, K, 1, 0.5, nil), GG_OK, what)
                assertBitIdentical(outputs[0], C.array, "vs reference prologues " + what)
            }
        }
    }

    func testBadProloguesAndShortScratch() {
        let (M, N, K): (Int64, Int64, Int64) = (64, 64, 64)
        let x = AlignedBuffer(count: Int(M * K), fill: 1), scale = AlignedBuffer(count: Int(K), fill: 1)
        let B = AlignedBuffer(count: Int(K * N), fill: 1), C = AlignedBuffer(count: Int(M * N))
        let big = TestContext(threads: 1, scratchFloats: 1 << 22)
        func run(_ p: UnsafePointer<gg_fprogram>, _ ctx: inout gg_ctx, ta: Int32 = 0) -> gg_status {
            gg_gemm_pro_ep_f32(&ctx, C.pointer, N, 0, nil, K, 0, ta, B.pointer, N, 0, 0, 1, M, N, K, 1, 0, p, nil, nil)
        }
        // a space that is not A's storage (batch, M, K), for the kernel and its reference
        XCTAssertEqual(withOperandProgram(x: x, scale: scale, out: nil, batch: 1, rows: M, cols: K + 1, key: 1) { run($0, &big.ctx) },
                       GG_ERR_ARG)
        XCTAssertEqual(withOperandProgram(x: x, scale: scale, out: nil, batch: 1, rows: M, cols: K + 1, key: 1) {
            gg_gemm_pro_ep_f32_ref(&big.ctx, C.pointer, N, 0, nil, K, 0, 0, B.pointer, N, 0, 0, 1, M, N, K, 1, 0, $0, nil, nil)
        }, GG_ERR_ARG)
        // two outputs: a prologue computes exactly one operand
        XCTAssertEqual(withOperandProgram(x: x, scale: scale, out: nil, batch: 1, rows: M, cols: K, key: 1, outputs: 2) {
            run($0, &big.ctx)
        }, GG_ERR_ARG)
        // neither pointer nor prologue for A
        XCTAssertEqual(gg_gemm_pro_ep_f32(&big.ctx, C.pointer, N, 0, nil, K, 0, 0, B.pointer, N, 0, 0, 1, M, N, K, 1, 0,
                                          nil, nil, nil), GG_ERR_ARG)
        // short scratch
        let st: gg_status = withOperandProgram(x: x, scale: scale, out: nil, batch: 1, rows: M, cols: K, key: 1) { p in
            var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
            let need = gg_gemm_pro_ep_f32_scratch(&probe, M, N, K, p, nil, nil)
            XCTAssertGreaterThan(need, gg_gemm_f32_scratch(&probe, M, N, K))
            let tc = TestContext(threads: 2, scratchFloats: Int(need) - 1)
            return run(p, &tc.ctx)
        }
        XCTAssertEqual(st, GG_ERR_SCRATCH)
    }
}
