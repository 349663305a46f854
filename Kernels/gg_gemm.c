/* TEMPORARY placeholder until the real GEMM lands: forwards to the reference. */
#include "gg_kernels.h"
int64_t gg_gemm_f32_scratch(const gg_ctx *ctx, int64_t M, int64_t N, int64_t K) { (void)ctx; (void)M; (void)N; (void)K; return 0; }
gg_status gg_gemm_f32(const gg_ctx *ctx, float *C, int64_t ldc, const float *A, int64_t lda, int trans_a,
                      const float *B, int64_t ldb, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, float beta) {
    return gg_gemm_f32_ref(ctx, C, ldc, A, lda, trans_a, B, ldb, trans_b, M, N, K, alpha, beta);
}
gg_status gg_gemm_batched_f32(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                              const float *A, int64_t lda, int64_t stride_a, int trans_a,
                              const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                              int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta) {
    for (int64_t i = 0; i < batch; i++) {
        gg_status s = gg_gemm_f32(ctx, C + i * stride_c, ldc, A + i * stride_a, lda, trans_a, B + i * stride_b, ldb, trans_b, M, N, K, alpha, beta);
        if (s != GG_OK) return s;
    }
    return GG_OK;
}
