import Kernels
import XCTest

/// One GEMM problem: sizes, transposes, scalars and padding of the leading dimensions.
private struct GemmCase: CustomStringConvertible {
    var m: Int, n: Int, k: Int
    var transA = false, transB = false
    var alpha: Float = 1, beta: Float = 0
    var pad = 0 // added to every leading dimension

    var lda: Int { (transA ? m : k) + pad }
    var ldb: Int { (transB ? k : n) + pad }
    var ldc: Int { n + pad }
    var aCount: Int { (transA ? k : m) * lda }
    var bCount: Int { (transB ? n : k) * ldb }
    var cCount: Int { m * ldc }
    var description: String {
        "M=\(m) N=\(n) K=\(k) \(transA ? "T" : "N")\(transB ? "T" : "N") alpha=\(alpha) beta=\(beta) pad=\(pad)"
    }
}

/// Inputs of one case, generated from a seed; C starts as NaN when beta == 0
/// so that any read of C shows up in the result.
private struct GemmData {
    let a: AlignedBuffer, b: AlignedBuffer, c0: [Float]

    init(_ p: GemmCase, seed: UInt64) {
        var rng = SeededValues(seed: seed)
        a = AlignedBuffer(rng.array(p.aCount))
        b = AlignedBuffer(rng.array(p.bCount))
        c0 = p.beta == 0 ? [Float](repeating: .nan, count: p.cCount) : rng.array(p.cCount)
    }
}

/// The ISAs this CPU can run (requested 0, 1, 2 clamped by gg_ctx_isa).
private func availableISAs() -> [Int32] {
    var seen: [Int32] = []
    for isa: Int32 in 0...2 {
        var ctx = gg_ctx(nthreads: 1, isa: isa, scratch: nil, scratch_len: 0)
        let used = Int32(gg_ctx_isa(&ctx).rawValue)
        if !seen.contains(used) { seen.append(used) }
    }
    return seen
}

/// A context with exactly the scratch gg_gemm_f32_scratch asks for (plus `extra`).
private func gemmContext(threads: Int32, isa: Int32, _ p: GemmCase, extra: Int = 0) -> TestContext {
    var probe = gg_ctx(nthreads: threads, isa: isa, scratch: nil, scratch_len: 0)
    let need = Int(gg_gemm_f32_scratch(&probe, Int64(p.m), Int64(p.n), Int64(p.k)))
    return TestContext(threads: threads, isa: isa, scratchFloats: max(0, need + extra))
}

/// Runs gg_gemm_f32 and returns (status, C).
private func runGemm(_ p: GemmCase, _ d: GemmData, threads: Int32, isa: Int32) -> (gg_status, [Float]) {
    let tc = gemmContext(threads: threads, isa: isa, p)
    let c = AlignedBuffer(d.c0)
    let st = gg_gemm_f32(&tc.ctx, c.pointer, Int64(p.ldc), d.a.pointer, Int64(p.lda), p.transA ? 1 : 0,
                         d.b.pointer, Int64(p.ldb), p.transB ? 1 : 0,
                         Int64(p.m), Int64(p.n), Int64(p.k), p.alpha, p.beta)
    return (st, c.array)
}

/// The scalar reference on the same data.
private func referenceGemm(_ p: GemmCase, _ d: GemmData) -> [Float] {
    let tc = TestContext(threads: 1)
    let c = AlignedBuffer(d.c0)
    let st = gg_gemm_f32_ref(&tc.ctx, c.pointer, Int64(p.ldc), d.a.pointer, Int64(p.lda), p.transA ? 1 : 0,
                             d.b.pointer, Int64(p.ldb), p.transB ? 1 : 0,
                             Int64(p.m), Int64(p.n), Int64(p.k), p.alpha, p.beta)
    XCTAssertEqual(st, GG_OK)
    return c.array
}

/// Only the M x N window of C: padding columns must stay untouched, checked separately.
private func window(_ c: [Float], _ p: GemmCase) -> [Float] {
    (0..<p.m).flatMap { i in c[(i * p.ldc)..<(i * p.ldc + p.n)] }
}

private func padding(_ c: [Float], _ p: GemmCase) -> [Float] {
    (0..<p.m).flatMap { i in c[(i * p.ldc + p.n)..<(i * p.ldc + p.ldc)] }
}

/// f32 sums of K terms drift from the double reference by ~eps * sqrt(K) of
/// the typical magnitude (|alpha| * sqrt(K) / 3 for uniform [-1, 1) data).
private func assertMatchesReference(_ ours: [Float], _ ref: [Float], _ p: GemmCase, _ note: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
    let root = Float(max(p.k, 1)).squareRoot()
    let tol = 1e-5 * root
    let scale = abs(p.alpha) * root / 3 + abs(p.beta)
    assertClose(window(ours, p), window(ref, p), rtol: tol, atol: tol * scale,
                "\(p) \(note)", file: file, line: line)
    assertBitIdentical(padding(ours, p), padding(ref, p), "padding of C changed: \(p) \(note)",
                       file: file, line: line)
}

final class GemmTests: XCTestCase {
    func testOddSizesAllTransposesEveryISA() {
        let sizes = [1, 7, 17, 129]
        var seed: UInt64 = 1
        for isa in availableISAs() {
            for m in sizes { for n in sizes { for k in sizes { for t in 0..<4 {
                seed += 1
                // alpha/beta/padding vary with the case so every combination meets them.
                let p = GemmCase(m: m, n: n, k: k, transA: t & 1 != 0, transB: t & 2 != 0,
                                 alpha: seed % 3 == 0 ? -0.5 : 1, beta: seed % 2 == 0 ? 0 : 0.75,
                                 pad: Int(seed % 3) * 5)
                let d = GemmData(p, seed: seed)
                let (st, ours) = runGemm(p, d, threads: 2, isa: isa)
                XCTAssertEqual(st, GG_OK, "\(p)")
                assertMatchesReference(ours, referenceGemm(p, d), p, "isa \(isa)")
            } } } }
        }
    }

    /// Sizes that are not multiples of any block (MR 4/6/8, NR 16/32, KC 256/512,
    /// MC 96-128) and bigger than one KC and one MC block, so the K loop
    /// accumulates into C and threads get several row blocks each.
    func testMultiBlockSizes() {
        // (9, 7000, 70) has several NC blocks with one row group: threads pack B alone.
        let shapes = [(300, 530, 900), (257, 33, 385), (33, 1000, 260), (130, 97, 1023), (9, 7000, 70)]
        var seed: UInt64 = 100
        for isa in availableISAs() {
            for (m, n, k) in shapes { for t in 0..<4 {
                seed += 1
                let p = GemmCase(m: m, n: n, k: k, transA: t & 1 != 0, transB: t & 2 != 0,
                                 alpha: 1.5, beta: t == 3 ? 0 : -0.5, pad: 3)
                let d = GemmData(p, seed: seed)
                let (st, ours) = runGemm(p, d, threads: 2, isa: isa)
                XCTAssertEqual(st, GG_OK, "\(p)")
                assertMatchesReference(ours, referenceGemm(p, d), p, "isa \(isa)")
            } }
        }
    }

    func testBetaZeroNeverReadsC() {
        // C is all NaN (GemmData); any read of C would make the result NaN.
        for isa in availableISAs() {
            for (m, n, k) in [(5, 9, 3), (64, 80, 70), (129, 200, 300)] {
                let p = GemmCase(m: m, n: n, k: k, alpha: 2, beta: 0, pad: 4)
                let d = GemmData(p, seed: 7)
                let (st, ours) = runGemm(p, d, threads: 2, isa: isa)
                XCTAssertEqual(st, GG_OK)
                XCTAssertFalse(window(ours, p).contains { $0.isNaN }, "NaN leaked from C: \(p) isa \(isa)")
                assertMatchesReference(ours, referenceGemm(p, d), p, "isa \(isa)")
            }
        }
    }

    func testZeroKScalesC() {
        for beta: Float in [0, 0.5] {
            let p = GemmCase(m: 3, n: 4, k: 0, beta: beta, pad: 2)
            let d = GemmData(p, seed: 9)
            let (st, ours) = runGemm(p, d, threads: 2, isa: -1)
            XCTAssertEqual(st, GG_OK)
            XCTAssertEqual(window(ours, p), window(referenceGemm(p, d), p))
        }
    }

    /// Row groups, column groups and both, on teams that divide the tiles unevenly.
    func testResultsDoNotDependOnThreadCount() {
        let shapes = [(128, 400, 784), (784, 400, 128), (129, 17, 1000), (7, 500, 300), (300, 300, 300), (33, 1000, 260),
                      (9, 7000, 70), (257, 33, 385)]
        var seed: UInt64 = 200
        for isa in availableISAs() {
            for (m, n, k) in shapes { for t in 0..<4 {
                seed += 1
                let p = GemmCase(m: m, n: n, k: k, transA: t & 1 != 0, transB: t & 2 != 0,
                                 alpha: 0.75, beta: t == 0 ? 0 : 1.25, pad: 1)
                let d = GemmData(p, seed: seed)
                assertSameOnThreadCounts(threadCounts, "\(p) isa \(isa)") { threads in
                    let (st, c) = runGemm(p, d, threads: threads, isa: isa)
                    XCTAssertEqual(st, GG_OK)
                    return [c]
                }
            } }
        }
    }

    func testBatchedWithSharedOperand() {
        for isa in availableISAs() {
            // Big items (packed path) and tiny ones (whole items per thread).
            for (m, n, k, batch) in [(40, 70, 90, 3), (6, 7, 8, 4000)] {
                for sharedB in [true, false] {
                    let p = GemmCase(m: m, n: n, k: k, transA: !sharedB, transB: sharedB,
                                     alpha: 1, beta: 0.5, pad: 2)
                    var rng = SeededValues(seed: UInt64(m * 1000 + batch))
                    let strideA = sharedB ? p.aCount : 0, strideB = sharedB ? 0 : p.bCount
                    let a = AlignedBuffer(rng.array(max(p.aCount, strideA * batch)))
                    let b = AlignedBuffer(rng.array(max(p.bCount, strideB * batch)))
                    let c0 = rng.array(p.cCount * batch)
                    let c = AlignedBuffer(c0)
                    let tc = gemmContext(threads: 2, isa: isa, p)
                    let st = gg_gemm_batched_f32(&tc.ctx, c.pointer, Int64(p.ldc), Int64(p.cCount),
                                                 a.pointer, Int64(p.lda), Int64(strideA), p.transA ? 1 : 0,
                                                 b.pointer, Int64(p.ldb), Int64(strideB), p.transB ? 1 : 0,
                                                 Int64(batch), Int64(m), Int64(n), Int64(k), p.alpha, p.beta)
                    XCTAssertEqual(st, GG_OK)
                    let ours = c.array
                    for i in 0..<batch {
                        let ref = AlignedBuffer(Array(c0[(i * p.cCount)..<((i + 1) * p.cCount)]))
                        let rc = TestContext(threads: 1)
                        _ = gg_gemm_f32_ref(&rc.ctx, ref.pointer, Int64(p.ldc),
                                            a.pointer + i * strideA, Int64(p.lda), p.transA ? 1 : 0,
                                            b.pointer + i * strideB, Int64(p.ldb), p.transB ? 1 : 0,
                                            Int64(m), Int64(n), Int64(k), p.alpha, p.beta)
                        assertMatchesReference(Array(ours[(i * p.cCount)..<((i + 1) * p.cCount)]), ref.array, p,
                                               "batch item \(i) shared \(sharedB ? "B" : "A") isa \(isa)")
                    }
                }
            }
        }
    }

    func testShortScratchIsAnError() {
        let p = GemmCase(m: 200, n: 300, k: 400, beta: 0.5)
        for threads in threadCounts {
            var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
            let need = Int(gg_gemm_f32_scratch(&probe, 200, 300, 400))
            XCTAssertGreaterThan(need, 0)
            let d = GemmData(p, seed: 11)
            let tc = gemmContext(threads: threads, isa: -1, p, extra: -1)
            let c = AlignedBuffer(d.c0)
            let st = gg_gemm_f32(&tc.ctx, c.pointer, Int64(p.ldc), d.a.pointer, Int64(p.lda), 0,
                                 d.b.pointer, Int64(p.ldb), 0, 200, 300, 400, 1, 0.5)
            XCTAssertEqual(st, GG_ERR_SCRATCH)
            assertBitIdentical(c.array, d.c0, "C must be untouched on error")
            let sb = gg_gemm_batched_f32(&tc.ctx, c.pointer, Int64(p.ldc), 0, d.a.pointer, Int64(p.lda), 0, 0,
                                         d.b.pointer, Int64(p.ldb), 0, 0, 2, 200, 300, 400, 1, 0.5)
            XCTAssertEqual(sb, GG_ERR_SCRATCH)
        }
    }

    func testBadArguments() {
        let tc = TestContext(threads: 1, scratchFloats: 0)
        let buf = AlignedBuffer(count: 64)
        // Negative size, then a leading dimension smaller than a row.
        XCTAssertEqual(gg_gemm_f32(&tc.ctx, buf.pointer, 4, buf.pointer, 4, 0, buf.pointer, 4, 0,
                                   -1, 4, 4, 1, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_gemm_f32(&tc.ctx, buf.pointer, 4, buf.pointer, 3, 0, buf.pointer, 4, 0,
                                   4, 4, 4, 1, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_gemm_f32(&tc.ctx, buf.pointer, 3, buf.pointer, 4, 0, buf.pointer, 4, 0,
                                   4, 4, 4, 1, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_gemm_batched_f32(&tc.ctx, buf.pointer, 4, 16, buf.pointer, 4, 16, 0,
                                           buf.pointer, 4, 16, 0, -1, 4, 4, 4, 1, 0), GG_ERR_ARG)
        // Empty problems succeed without touching anything.
        XCTAssertEqual(gg_gemm_f32(&tc.ctx, buf.pointer, 4, buf.pointer, 4, 0, buf.pointer, 4, 0,
                                   0, 4, 4, 1, 0), GG_OK)
    }
}
