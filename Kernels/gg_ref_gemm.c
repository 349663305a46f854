/*
 * gg_ref_gemm.c: the scalar reference GEMM, the specification that
 * gg_gemm_f32 is tested against. Accumulates in double.
 */
#include "gg_kernels.h"

gg_status gg_gemm_f32_ref(const gg_ctx *ctx, float *C, int64_t ldc,
                          const float *A, int64_t lda, int trans_a,
                          const float *B, int64_t ldb, int trans_b,
                          int64_t M, int64_t N, int64_t K, float alpha, float beta) {
    (void)ctx;
    if (M < 0 || N < 0 || K < 0) return GG_ERR_ARG;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                float a = trans_a ? A[k * lda + i] : A[i * lda + k];
                float b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
                acc += (double)a * (double)b;
            }
            float prev = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
            C[i * ldc + j] = alpha * (float)acc + prev;
        }
    }
    return GG_OK;
}
