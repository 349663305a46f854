import Kernels
import XCTest

/// gg_gemm_ep_f32 must equal gg_gemm_batched_f32 followed by gg_fused_f32 with
/// the same program over (batch, M, N), bit for bit.
final class GemmEpilogueTests: XCTestCase {
    /// pre = C + bias (row broadcast) stored back into C; post = relu(pre) into a second output.
    /// Runs `body` with that program over the given buffers.
    private func withBiasRelu<R>(C: AlignedBuffer, post: AlignedBuffer, bias: AlignedBuffer,
                                 batch: Int64, M: Int64, N: Int64, _ body: (UnsafePointer<gg_fprogram>) -> R) -> R {
        let instr = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                     finstr(GG_FOP_BINARY, Int32(GG_BINARY_ADD.rawValue), dst: 0, a: 0, b: 1),
                     finstr(GG_FOP_STORE, dst: 0, a: 0),
                     finstr(GG_FOP_UNARY, Int32(GG_UNARY_RELU.rawValue), dst: 1, a: 0),
                     finstr(GG_FOP_STORE, dst: 1, a: 1)]
        let shape: [Int64] = [batch, M, N]
        let inputs: [UnsafePointer<Float>?] = [UnsafePointer(C.pointer), UnsafePointer(bias.pointer)]
        let outputs: [UnsafeMutablePointer<Float>?] = [C.pointer, post.pointer]
        let inSt: [Int64] = [M * N, N, 1, 0, 0, 1]
        let outSt: [Int64] = [M * N, N, 1, M * N, N, 1]
        return withFusedProgram(instr, nregs: 2, shape: shape, inputs: inputs, inStrides: inSt,
                                outputs: outputs, outStrides: outSt, body)
    }

    /// (batch, M, N, K, trans_a, trans_b): packed path, tiny path, K == 0, odd sizes, transposes, batches,
    /// and narrow outputs of a transposed A, computed transposed (beta 0), one of them over two K blocks
    private let cases: [(Int64, Int64, Int64, Int64, Int32, Int32)] = [
        (1, 128, 400, 784, 0, 0), (3, 5, 7, 9, 0, 0), (2, 64, 130, 33, 1, 0), (1, 300, 257, 128, 0, 1),
        (2, 4, 4, 0, 0, 0), (1, 1, 1, 1, 0, 0), (1, 129, 1000, 64, 1, 1),
        (2, 400, 20, 128, 1, 0), (1, 301, 7, 520, 1, 1),
    ]

    /// One case's operands: A per item, B shared, a bias per column and C's starting values.
    private struct Operands {
        let A: AlignedBuffer, B: AlignedBuffer, bias: AlignedBuffer, initialC: [Float]
        init(batch: Int64, M: Int64, N: Int64, K: Int64) {
            var g = SeededValues(seed: UInt64(M * N + K))
            A = AlignedBuffer(g.array(Int(batch * M * K)))
            B = AlignedBuffer(g.array(Int(K * N)))
            bias = AlignedBuffer(g.array(Int(N)))
            initialC = g.array(Int(batch * M * N))
        }
    }

    func testBiasReluEpilogueEqualsGemmThenFused() {
        for (batch, M, N, K, ta, tb) in cases {
            let o = Operands(batch: batch, M: M, N: N, K: K)
            let lda = ta != 0 ? M : K, ldb = tb != 0 ? K : N
            for beta: Float in [0, 0.5] {
                assertSameOnThreadCounts(threadCounts, "batch \(batch) \(M)x\(N)x\(K) ta \(ta) tb \(tb) beta \(beta)") { threads in
                    let what = "batch \(batch) \(M)x\(N)x\(K) ta \(ta) tb \(tb) beta \(beta) threads \(threads)"
                    // fused epilogue inside the GEMM
                    let C1 = AlignedBuffer(o.initialC), P1 = AlignedBuffer(count: Int(batch * M * N), fill: .nan)
                    let st1: gg_status = withBiasRelu(C: C1, post: P1, bias: o.bias, batch: batch, M: M, N: N) { p in
                        var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
                        let tc = TestContext(threads: threads, scratchFloats: Int(gg_gemm_ep_f32_scratch(&probe, M, N, K, p)))
                        return gg_gemm_ep_f32(&tc.ctx, C1.pointer, N, M * N, o.A.pointer, lda, M * K, ta,
                                              o.B.pointer, ldb, 0, tb, batch, M, N, K, 1.0, beta, p)
                    }
                    XCTAssertEqual(st1, GG_OK, what)
                    // GEMM, then the same program over the whole space
                    let C2 = AlignedBuffer(o.initialC), P2 = AlignedBuffer(count: Int(batch * M * N), fill: .nan)
                    let st2: gg_status = withBiasRelu(C: C2, post: P2, bias: o.bias, batch: batch, M: M, N: N) { p in
                        var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
                        let need = max(Int(gg_gemm_f32_scratch(&probe, M, N, K)), Int(gg_fused_f32_scratch(&probe, p)))
                        let tc = TestContext(threads: threads, scratchFloats: need)
                        let s = gg_gemm_batched_f32(&tc.ctx, C2.pointer, N, M * N, o.A.pointer, lda, M * K, ta,
                                                    o.B.pointer, ldb, 0, tb, batch, M, N, K, 1.0, beta)
                        return s == GG_OK ? gg_fused_f32(&tc.ctx, p) : s
                    }
                    XCTAssertEqual(st2, GG_OK, what)
                    assertBitIdentical(C1.array, C2.array, "pre-activation " + what)
                    assertBitIdentical(P1.array, P2.array, "post-activation " + what)
                    return [C1.array, P1.array]
                }
            }
        }
    }

    /// Against compositions of scalar references. gg_gemm_ep_f32's reference,
    /// gg_gemm_pro_ep_f32_ref without prologues (the reference GEMM item by item, then
    /// gg_fused_f32_ref of the epilogue), sums in double, the kernel in float in K blocks: an element
    /// is alpha * (K products) + beta * c + bias, and the kernel rounds each term at most 2K + 3 times
    /// (its product, the additions of its block, a scaling and a carry per block, the beta product,
    /// the bias add), the reference at most 6 times, so they differ by at most gamma(2K + 9) *
    /// (|alpha| sum_k |a||b| + |beta c| + |bias|); relu is 1-Lipschitz. The fast GEMM followed by the
    /// reference epilogue keeps the kernel's order, and add and relu round once either way: that
    /// composition matches bit for bit. Without an epilogue the reference is the batched GEMM's.
    func testEpilogueMatchesScalarReferences() {
        for (batch, M, N, K, ta, tb) in cases {
            let o = Operands(batch: batch, M: M, N: N, K: K)
            let lda = ta != 0 ? M : K, ldb = tb != 0 ? K : N, count = Int(batch * M * N)
            let ref = TestContext(threads: 1)
            // sum_k |a||b| per element: the reference GEMM of |A| and |B|
            let absA = AlignedBuffer(o.A.array.map(abs)), absB = AlignedBuffer(o.B.array.map(abs)), sums = AlignedBuffer(count: count)
            XCTAssertEqual(gg_gemm_pro_ep_f32_ref(&ref.ctx, sums.pointer, N, M * N, absA.pointer, lda, M * K, ta,
                                                  absB.pointer, ldb, 0, tb, batch, M, N, K, 1, 0, nil, nil, nil), GG_OK)
            for beta: Float in [0, 0.5] {
                let what = "batch \(batch) \(M)x\(N)x\(K) ta \(ta) tb \(tb) beta \(beta)"
                let bound = (0..<count).map { k in
                    gamma(2 * Int(K) + 9) * (Double(sums.pointer[k]) + Double(abs(beta * o.initialC[k])) +
                                             Double(abs(o.bias.pointer[k % Int(N)])))
                }
                var outputs: [[Float]] = []
                for how in ["kernel", "references", "kernel GEMM, reference epilogue", "batched kernel", "batched reference"] {
                    let C = AlignedBuffer(o.initialC), P = AlignedBuffer(count: count, fill: .nan)
                    let st: gg_status = withBiasRelu(C: C, post: P, bias: o.bias, batch: batch, M: M, N: N) { p in
                        let epilogue = how.hasPrefix("batched") ? nil : p
                        var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
                        let tc = TestContext(threads: 2, scratchFloats: Int(gg_gemm_ep_f32_scratch(&probe, M, N, K, epilogue)))
                        switch how {
                        case "references", "batched reference":
                            return gg_gemm_pro_ep_f32_ref(&ref.ctx, C.pointer, N, M * N, o.A.pointer, lda, M * K, ta,
                                                          o.B.pointer, ldb, 0, tb, batch, M, N, K, 1, beta, nil, nil, epilogue)
                        case "kernel GEMM, reference epilogue":
                            let s = gg_gemm_batched_f32(&tc.ctx, C.pointer, N, M * N, o.A.pointer, lda, M * K, ta,
                                                        o.B.pointer, ldb, 0, tb, batch, M, N, K, 1, beta)
                            return s == GG_OK ? gg_fused_f32_ref(&ref.ctx, p) : s
                        default:
                            return gg_gemm_ep_f32(&tc.ctx, C.pointer, N, M * N, o.A.pointer, lda, M * K, ta,
                                                  o.B.pointer, ldb, 0, tb, batch, M, N, K, 1, beta, epilogue)
                        }
                    }
                    XCTAssertEqual(st, GG_OK, how + " " + what)
                    outputs += [C.array, P.array]
                }
                assertWithinBound(outputs[0], outputs[2], bound, "pre-activation vs references " + what)
                assertWithinBound(outputs[1], outputs[3], bound, "post-activation vs references " + what)
                assertBitIdentical(outputs[0], outputs[4], "pre-activation vs reference epilogue " + what)
                assertBitIdentical(outputs[1], outputs[5], "post-activation vs reference epilogue " + what)
                assertWithinBound(outputs[6], outputs[8], bound, "batched vs its reference " + what)
            }
        }
    }

    func testNilEpilogueIsPlainBatchedGemm() {
        let (M, N, K): (Int64, Int64, Int64) = (70, 90, 110)
        var g = SeededValues(seed: 9)
        let A = AlignedBuffer(g.array(Int(2 * M * K))), B = AlignedBuffer(g.array(Int(K * N)))
        let C1 = AlignedBuffer(count: Int(2 * M * N)), C2 = AlignedBuffer(count: Int(2 * M * N))
        var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
        XCTAssertEqual(gg_gemm_ep_f32_scratch(&probe, M, N, K, nil), gg_gemm_f32_scratch(&probe, M, N, K))
        let tc = TestContext(threads: 2, scratchFloats: Int(gg_gemm_f32_scratch(&probe, M, N, K)))
        XCTAssertEqual(gg_gemm_ep_f32(&tc.ctx, C1.pointer, N, M * N, A.pointer, K, M * K, 0, B.pointer, N, 0, 0,
                                      2, M, N, K, 1, 0, nil), GG_OK)
        XCTAssertEqual(gg_gemm_batched_f32(&tc.ctx, C2.pointer, N, M * N, A.pointer, K, M * K, 0, B.pointer, N, 0, 0,
                                           2, M, N, K, 1, 0), GG_OK)
        assertBitIdentical(C1.array, C2.array)
    }

    func testBadEpilogueAndShortScratch() {
        let (M, N, K): (Int64, Int64, Int64) = (64, 64, 64)
        let A = AlignedBuffer(count: Int(M * K), fill: 1), B = AlignedBuffer(count: Int(K * N), fill: 1)
        let C = AlignedBuffer(count: Int(M * N)), P = AlignedBuffer(count: Int(M * N))
        let bias = AlignedBuffer(count: Int(N))
        // epilogue space not (batch, M, N)
        let st: gg_status = withBiasRelu(C: C, post: P, bias: bias, batch: 1, M: M, N: N + 1) { p in
            let tc = TestContext(threads: 1, scratchFloats: 1 << 20)
            XCTAssertEqual(gg_gemm_pro_ep_f32_ref(&tc.ctx, C.pointer, N, M * N, A.pointer, K, 0, 0, B.pointer, N, 0, 0, 1, M, N, K,
                                                  1, 0, nil, nil, p), GG_ERR_ARG, "the reference refuses it too")
            return gg_gemm_ep_f32(&tc.ctx, C.pointer, N, M * N, A.pointer, K, 0, 0, B.pointer, N, 0, 0, 1, M, N, K, 1, 0, p)
        }
        XCTAssertEqual(st, GG_ERR_ARG)
        // short scratch
        let st2: gg_status = withBiasRelu(C: C, post: P, bias: bias, batch: 1, M: M, N: N) { p in
            var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
            let tc = TestContext(threads: 2, scratchFloats: Int(gg_gemm_ep_f32_scratch(&probe, M, N, K, p)) - 1)
            return gg_gemm_ep_f32(&tc.ctx, C.pointer, N, M * N, A.pointer, K, 0, 0, B.pointer, N, 0, 0, 1, M, N, K, 1, 0, p)
        }
        XCTAssertEqual(st2, GG_ERR_SCRATCH)
    }
}
