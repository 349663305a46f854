/*
 * gg_optim.c: in-place optimiser updates over n contiguous f32 parameters,
 * PyTorch semantics as stated in gg_kernels.h (no weight decay, no
 * dampening): SGD with optional (Nesterov) momentum, Adam with bias
 * correction, RMSProp. Each is one fused, vectorised pass over p and its
 * state; scalar factors (bias corrections) are computed once per call in
 * double. Elements are independent, so results never depend on nthreads.
 */
#include "gg_kernels.h"

#include <math.h>

#define INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define VLOOP _Pragma("clang loop vectorize(assume_safety)")
#else
#define VLOOP
#endif
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__clang__) || defined(__GNUC__))
#define GG_X86 1
#define TGT_AVX512 __attribute__((target("avx512f")))
#define TGT_AVX2 __attribute__((target("avx2,fma")))
#else
#define GG_X86 0
#endif

#define PAR_MIN 65536

typedef struct optim_args {
    int kind; /* 0 sgd, 1 adam, 2 rmsprop */
    float *p, *s1, *s2;
    const float *g;
    float lr, a, b, eps;  /* sgd: a = momentum; adam: a, b = betas; rmsprop: a = alpha */
    float c1, c2;         /* adam: step size lr / bc1, 1 / sqrt(bc2) */
    int nesterov, first;
} optim_args;

INLINE void optim_body(const optim_args *o, int64_t lo, int64_t hi) {
    float *p = o->p, *s1 = o->s1, *s2 = o->s2;
    const float *g = o->g;
    float lr = o->lr, a = o->a, b = o->b, eps = o->eps;
    if (o->kind == 0) {
        if (a == 0.0f) {
            VLOOP for (int64_t i = lo; i < hi; i++) p[i] -= lr * g[i];
        } else if (o->first) {
            if (o->nesterov) {
                VLOOP for (int64_t i = lo; i < hi; i++) { float gi = g[i]; s1[i] = gi; p[i] -= lr * (gi + a * gi); }
            } else {
                VLOOP for (int64_t i = lo; i < hi; i++) { float gi = g[i]; s1[i] = gi; p[i] -= lr * gi; }
            }
        } else if (o->nesterov) {
            VLOOP for (int64_t i = lo; i < hi; i++) {
                float gi = g[i], bi = a * s1[i] + gi;
                s1[i] = bi;
                p[i] -= lr * (gi + a * bi);
            }
        } else {
            VLOOP for (int64_t i = lo; i < hi; i++) {
                float bi = a * s1[i] + g[i];
                s1[i] = bi;
                p[i] -= lr * bi;
            }
        }
    } else if (o->kind == 1) {
        float ia = 1.0f - a, ib = 1.0f - b, step = o->c1, rs = o->c2;
        VLOOP for (int64_t i = lo; i < hi; i++) {
            float gi = g[i];
            float mi = a * s1[i] + ia * gi;
            float vi = b * s2[i] + ib * gi * gi;
            s1[i] = mi;
            s2[i] = vi;
            p[i] -= step * mi / (sqrtf(vi) * rs + eps);
        }
    } else {
        float ia = 1.0f - a;
        VLOOP for (int64_t i = lo; i < hi; i++) {
            float gi = g[i];
            float si = a * s1[i] + ia * gi * gi;
            s1[i] = si;
            p[i] -= lr * gi / (sqrtf(si) + eps);
        }
    }
}

typedef void (*optim_fn)(const optim_args *, int64_t, int64_t);
static void optim_portable(const optim_args *o, int64_t lo, int64_t hi) { optim_body(o, lo, hi); }
#if GG_X86
TGT_AVX2 static void optim_avx2(const optim_args *o, int64_t lo, int64_t hi) { optim_body(o, lo, hi); }
TGT_AVX512 static void optim_avx512(const optim_args *o, int64_t lo, int64_t hi) { optim_body(o, lo, hi); }
#endif

static gg_status optim_run(const gg_ctx *ctx, const optim_args *o, int64_t n) {
    if (n <= 0) return GG_OK;
    optim_fn fn = optim_portable;
#if GG_X86
    switch (gg_ctx_isa(ctx)) {
    case GG_ISA_AVX512: fn = optim_avx512; break;
    case GG_ISA_AVX2: fn = optim_avx2; break;
    default: break;
    }
#endif
    int nt = ctx ? ctx->nthreads : 1;
    if (nt < 1 || n < PAR_MIN) nt = 1;
#ifdef _OPENMP
    if (nt > 1) {
        int64_t chunk = ((n + nt - 1) / nt + 15) & ~(int64_t)15;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int t = 0; t < nt; t++) {
            int64_t lo = chunk * t < n ? chunk * t : n;
            int64_t hi = chunk * (t + 1) < n ? chunk * (t + 1) : n;
            if (hi > lo) fn(o, lo, hi);
        }
        return GG_OK;
    }
#endif
    fn(o, 0, n);
    return GG_OK;
}

gg_status gg_sgd_f32(const gg_ctx *ctx, float *p, float *buf, const float *g, int64_t n,
                     float lr, float momentum, int nesterov, int first) {
    if (n < 0) return GG_ERR_ARG;
    if (momentum != 0.0f && buf == 0 && n > 0) return GG_ERR_ARG;
    optim_args o = {0, p, buf, 0, g, lr, momentum, 0.0f, 0.0f, 0.0f, 0.0f, nesterov, first};
    return optim_run(ctx, &o, n);
}

gg_status gg_adam_f32(const gg_ctx *ctx, float *p, float *m, float *v, const float *g, int64_t n,
                      float lr, float beta1, float beta2, float eps, int64_t step) {
    if (n < 0 || step < 1) return GG_ERR_ARG;
    double bc1 = 1.0 - pow((double)beta1, (double)step);
    double bc2 = 1.0 - pow((double)beta2, (double)step);
    optim_args o = {1, p, m, v, g, lr, beta1, beta2, eps,
                    (float)(lr / bc1), (float)(1.0 / sqrt(bc2)), 0, 0};
    return optim_run(ctx, &o, n);
}

gg_status gg_rmsprop_f32(const gg_ctx *ctx, float *p, float *sq, const float *g, int64_t n,
                         float lr, float alpha, float eps) {
    if (n < 0) return GG_ERR_ARG;
    optim_args o = {2, p, sq, 0, g, lr, alpha, 0.0f, eps, 0.0f, 0.0f, 0, 0};
    return optim_run(ctx, &o, n);
}
