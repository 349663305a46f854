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

    func testBiasReluEpilogueEqualsGemmThenFused() {
        // (batch, M, N, K, trans_a, trans_b): packed path, tiny path, K == 0, odd sizes, transposes, batches
        let cases: [(Int64, Int64, Int64, Int64, Int32, Int32)] = [
            (1, 128, 400, 784, 0, 0), (3, 5, 7, 9, 0, 0), (2, 64, 130, 33, 1, 0), (1, 300, 257, 128, 0, 1),
            (2, 4, 4, 0, 0, 0), (1, 1, 1, 1, 0, 0), (1, 129, 1000, 64, 1, 1),
        ]
        for (batch, M, N, K, ta, tb) in cases {
            var g = SeededValues(seed: UInt64(M * N + K))
            let A = AlignedBuffer(g.array(Int(batch * M * K)))
            let B = AlignedBuffer(g.array(Int(K * N)))
            let bias = AlignedBuffer(g.array(Int(N)))
            let initialC = g.array(Int(batch * M * N))
            let lda = ta != 0 ? M : K, ldb = tb != 0 ? K : N
            for threads: Int32 in [1, 2] {
                let what = "batch \(batch) \(M)x\(N)x\(K) ta \(ta) tb \(tb) threads \(threads)"
                for beta: Float in [0, 0.5] {
                    // fused epilogue inside the GEMM
                    let C1 = AlignedBuffer(initialC), P1 = AlignedBuffer(count: Int(batch * M * N), fill: .nan)
                    let st1: gg_status = withBiasRelu(C: C1, post: P1, bias: bias, batch: batch, M: M, N: N) { p in
                        var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
                        let tc = TestContext(threads: threads, scratchFloats: Int(gg_gemm_ep_f32_scratch(&probe, M, N, K, p)))
                        return gg_gemm_ep_f32(&tc.ctx, C1.pointer, N, M * N, A.pointer, lda, M * K, ta,
                                              B.pointer, ldb, 0, tb, batch, M, N, K, 1.0, beta, p)
                    }
                    XCTAssertEqual(st1, GG_OK, what)
                    // GEMM, then the same program over the whole space
                    let C2 = AlignedBuffer(initialC), P2 = AlignedBuffer(count: Int(batch * M * N), fill: .nan)
                    let st2: gg_status = withBiasRelu(C: C2, post: P2, bias: bias, batch: batch, M: M, N: N) { p in
                        var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
                        let need = max(Int(gg_gemm_f32_scratch(&probe, M, N, K)), Int(gg_fused_f32_scratch(&probe, p)))
                        let tc = TestContext(threads: threads, scratchFloats: need)
                        let s = gg_gemm_batched_f32(&tc.ctx, C2.pointer, N, M * N, A.pointer, lda, M * K, ta,
                                                    B.pointer, ldb, 0, tb, batch, M, N, K, 1.0, beta)
                        return s == GG_OK ? gg_fused_f32(&tc.ctx, p) : s
                    }
                    XCTAssertEqual(st2, GG_OK, what)
                    assertBitIdentical(C1.array, C2.array, "pre-activation " + what)
                    assertBitIdentical(P1.array, P2.array, "post-activation " + what)
                }
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
