/*
 * gg_ref_gemm.c: the scalar reference GEMMs, the specification that the
 * gg_gemm*_f32 kernels are tested against. Accumulates in double.
 * gg_gemm_pro_ep_f32_ref, the reference of the batched, epilogue and
 * prologue variants, is a composition of references: the plain one item by
 * item; an operand with a prologue reads each element as the reference
 * interpreter computes it at that element of the operand's storage; the
 * epilogue is gg_fused_f32_ref over (batch, M, N) once C is complete.
 */
#include "gg_kernels.h"
#include "gg_internal.h"

/* One operand: in memory (X, ld), or computed by its prologue over the storage space of item `item`. */
typedef struct ref_operand {
    const float *X;
    int64_t ld;
    int trans;
    const gg_fprogram *pro;
    int64_t item;
} ref_operand;

/* op(X)(r, c): storage (r, c), or (c, r) when transposed. */
static gg_status ref_element(const gg_ctx *ctx, const ref_operand *o, int64_t r, int64_t c, float *v) {
    const int64_t sr = o->trans ? c : r, sc = o->trans ? r : c;
    if (!o->pro) {
        *v = o->X[sr * o->ld + sc];
        return GG_OK;
    }
    const int64_t idx[3] = {o->item, sr, sc};
    return gg__fused_ref_value(ctx, o->pro, idx, v);
}

static gg_status ref_gemm(const gg_ctx *ctx, float *C, int64_t ldc, const ref_operand *a, const ref_operand *b,
                          int64_t M, int64_t N, int64_t K, float alpha, float beta) {
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                float av, bv;
                gg_status st = ref_element(ctx, a, i, k, &av);
                if (st == GG_OK) st = ref_element(ctx, b, k, j, &bv);
                if (st != GG_OK) return st;
                acc += (double)av * (double)bv;
            }
            float prev = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
            C[i * ldc + j] = alpha * (float)acc + prev;
        }
    }
    return GG_OK;
}

gg_status gg_gemm_f32_ref(const gg_ctx *ctx, float *C, int64_t ldc,
                          const float *A, int64_t lda, int trans_a,
                          const float *B, int64_t ldb, int trans_b,
                          int64_t M, int64_t N, int64_t K, float alpha, float beta) {
    if (M < 0 || N < 0 || K < 0) return GG_ERR_ARG;
    const ref_operand a = {A, lda, trans_a, 0, 0}, b = {B, ldb, trans_b, 0, 0};
    return ref_gemm(ctx, C, ldc, &a, &b, M, N, K, alpha, beta);
}

gg_status gg_gemm_pro_ep_f32_ref(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                                 const float *A, int64_t lda, int64_t stride_a, int trans_a,
                                 const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                                 int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                                 const gg_fprogram *prologue_a, const gg_fprogram *prologue_b,
                                 const gg_fprogram *epilogue) {
    if (batch < 0 || M < 0 || N < 0 || K < 0) return GG_ERR_ARG;
    if (!gg__gemm_programs_ok(batch, M, N, K, trans_a, trans_b, prologue_a, prologue_b, epilogue)) return GG_ERR_ARG;
    for (int64_t item = 0; item < batch; item++) {
        const ref_operand a = {prologue_a ? 0 : A + item * stride_a, lda, trans_a, prologue_a, item};
        const ref_operand b = {prologue_b ? 0 : B + item * stride_b, ldb, trans_b, prologue_b, item};
        gg_status st = ref_gemm(ctx, C + item * stride_c, ldc, &a, &b, M, N, K, alpha, beta);
        if (st != GG_OK) return st;
    }
    return epilogue ? gg_fused_f32_ref(ctx, epilogue) : GG_OK;
}
