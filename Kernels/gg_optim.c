/*
 * gg_optim.c: in-place optimiser updates over n contiguous f32 parameters,
 * PyTorch semantics as stated in gg_kernels.h (no weight decay, no
 * dampening): SGD with optional (Nesterov) momentum, Adam with bias
 * correction, RMSProp. Each is one fused, vectorised pass over p and its
 * state; scalar factors (bias corrections) are computed once per call in
 * double. Elements are independent, so results never depend on nthreads.
 */
#include "gg_kernels.h"
#include "gg_internal.h"

#include <math.h>

typedef struct optim_args {
    int kind; /* 0 sgd, 1 adam, 2 rmsprop */
    float *p, *s1, *s2;
    const float *g;
    float lr, a, b, eps;  /* sgd: a = momentum; adam: a, b = betas; rmsprop: a = alpha */
    float c1, c2;         /* adam: step size lr / bc1, 1 / sqrt(bc2) */
    int nesterov, first;
} optim_args;

GG__INLINE void optim_body(const optim_args *o, int64_t lo, int64_t hi) {
    float *p = o->p, *s1 = o->s1, *s2 = o->s2;
    const float *g = o->g;
    float lr = o->lr, a = o->a, b = o->b, eps = o->eps;
    if (o->kind == 0) {
        if (a == 0.0f) {
            GG__VLOOP for (int64_t i = lo; i < hi; i++) p[i] -= lr * g[i];
        } else if (o->first) {
            if (o->nesterov) {
                GG__VLOOP for (int64_t i = lo; i < hi; i++) { float gi = g[i]; s1[i] = gi; p[i] -= lr * (gi + a * gi); }
            } else {
                GG__VLOOP for (int64_t i = lo; i < hi; i++) { float gi = g[i]; s1[i] = gi; p[i] -= lr * gi; }
            }
        } else if (o->nesterov) {
            GG__VLOOP for (int64_t i = lo; i < hi; i++) {
                float gi = g[i], bi = a * s1[i] + gi;
                s1[i] = bi;
                p[i] -= lr * (gi + a * bi);
            }
        } else {
            GG__VLOOP for (int64_t i = lo; i < hi; i++) {
                float bi = a * s1[i] + g[i];
                s1[i] = bi;
                p[i] -= lr * bi;
            }
        }
    } else if (o->kind == 1) {
        float ia = 1.0f - a, ib = 1.0f - b, step = o->c1, rs = o->c2;
        GG__VLOOP for (int64_t i = lo; i < hi; i++) {
            float gi = g[i];
            float mi = a * s1[i] + ia * gi;
            float vi = b * s2[i] + ib * gi * gi;
            s1[i] = mi;
            s2[i] = vi;
            p[i] -= step * mi / (sqrtf(vi) * rs + eps);
        }
    } else {
        float ia = 1.0f - a;
        GG__VLOOP for (int64_t i = lo; i < hi; i++) {
            float gi = g[i];
            float si = a * s1[i] + ia * gi * gi;
            s1[i] = si;
            p[i] -= lr * gi / (sqrtf(si) + eps);
        }
    }
}

GG__ISA_VARIANTS(void, optim, (const optim_args *o, int64_t lo, int64_t hi), optim_body(o, lo, hi))

static gg_status optim_run(const gg_ctx *ctx, const optim_args *o, int64_t n) {
    if (n <= 0) return GG_OK;
    optim_fn fn = optim_pick(ctx);
    GG__FOR_PARTS(ctx, n, lo, hi, fn(o, lo, hi));
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

/* ------------------------------------------------------------------ */
/* Multi-tensor updates: one call per parameter group. The concatenation of
 * the group's tensors is cut into one contiguous range per thread; each
 * thread walks its (tensor, chunk) pieces, running the single-tensor loop
 * above on a chunk and then, when asked, clamping that chunk while it is in
 * cache. Elements are independent, so results equal the single kernels
 * (followed by gg_unary_f32 CLAMP) bit for bit, for any nthreads. */

#define MULTI_CHUNK 8192

GG__INLINE void multi_body(const optim_args *o, int64_t lo, int64_t hi, int clip, float clo, float chi) {
    for (int64_t c = lo; c < hi; c += MULTI_CHUNK) {
        int64_t e = hi - c < MULTI_CHUNK ? hi - c : MULTI_CHUNK;
        e += c;
        optim_body(o, c, e);
        if (clip) {
            float *p = o->p;
            GG__VLOOP for (int64_t i = c; i < e; i++) {
                float v = p[i];
                p[i] = v < clo ? clo : (v > chi ? chi : v);
            }
        }
    }
}

GG__ISA_VARIANTS(void, multi, (const optim_args *o, int64_t lo, int64_t hi, int clip, float a, float b),
                 multi_body(o, lo, hi, clip, a, b))

/* Runs tmpl over every tensor i (p = params[i], s1 = s1s[i], s2 = s2s[i], g = grads[i]). */
static gg_status multi_run(const gg_ctx *ctx, const optim_args *tmpl, int32_t count, float *const *params,
                           float *const *s1s, float *const *s2s, const float *const *grads,
                           const int64_t *sizes, int clip, float clo, float chi) {
    multi_fn fn = multi_pick(ctx);
    int64_t total = 0;
    for (int32_t i = 0; i < count; i++) total += sizes[i];
    if (total == 0) return GG_OK;
    GG__FOR_PARTS(ctx, total, lo, hi, {
        int64_t start = 0;
        for (int32_t i = 0; i < count && start < hi; start += sizes[i], i++) {
            int64_t a = lo - start > 0 ? lo - start : 0;
            int64_t b = hi - start < sizes[i] ? hi - start : sizes[i];
            if (a >= b) continue;
            optim_args o = *tmpl;
            o.p = params[i];
            o.s1 = s1s ? s1s[i] : 0;
            o.s2 = s2s ? s2s[i] : 0;
            o.g = grads[i];
            fn(&o, a, b, clip, clo, chi);
        }
    });
    return GG_OK;
}

/* Checks the group: count >= 0, sizes >= 0, and every array a non-empty
 * tensor needs (state arrays only where need_s1 / need_s2). */
static int multi_ok(int32_t count, float *const *params, float *const *s1s, float *const *s2s,
                    const float *const *grads, const int64_t *sizes, int need_s1, int need_s2) {
    if (count < 0) return 0;
    if (count == 0) return 1;
    if (!params || !grads || !sizes || (need_s1 && !s1s) || (need_s2 && !s2s)) return 0;
    for (int32_t i = 0; i < count; i++) {
        if (sizes[i] < 0) return 0;
        if (sizes[i] == 0) continue;
        if (!params[i] || !grads[i] || (need_s1 && !s1s[i]) || (need_s2 && !s2s[i])) return 0;
    }
    return 1;
}

gg_status gg_adam_multi_f32(const gg_ctx *ctx, int32_t count, float *const *params, float *const *m,
                            float *const *v, const float *const *grads, const int64_t *sizes,
                            float lr, float beta1, float beta2, float eps, int64_t step,
                            int clip, float clip_lo, float clip_hi) {
    if (step < 1 || !multi_ok(count, params, m, v, grads, sizes, 1, 1)) return GG_ERR_ARG;
    double bc1 = 1.0 - pow((double)beta1, (double)step);
    double bc2 = 1.0 - pow((double)beta2, (double)step);
    optim_args o = {1, 0, 0, 0, 0, lr, beta1, beta2, eps,
                    (float)(lr / bc1), (float)(1.0 / sqrt(bc2)), 0, 0};
    return multi_run(ctx, &o, count, params, m, v, grads, sizes, clip, clip_lo, clip_hi);
}

gg_status gg_rmsprop_multi_f32(const gg_ctx *ctx, int32_t count, float *const *params, float *const *sq,
                               const float *const *grads, const int64_t *sizes,
                               float lr, float alpha, float eps, int clip, float clip_lo, float clip_hi) {
    if (!multi_ok(count, params, sq, 0, grads, sizes, 1, 0)) return GG_ERR_ARG;
    optim_args o = {2, 0, 0, 0, 0, lr, alpha, 0.0f, eps, 0.0f, 0.0f, 0, 0};
    return multi_run(ctx, &o, count, params, sq, 0, grads, sizes, clip, clip_lo, clip_hi);
}

gg_status gg_sgd_multi_f32(const gg_ctx *ctx, int32_t count, float *const *params, float *const *bufs,
                           const float *const *grads, const int64_t *sizes,
                           float lr, float momentum, int nesterov, int first,
                           int clip, float clip_lo, float clip_hi) {
    if (!multi_ok(count, params, bufs, 0, grads, sizes, momentum != 0.0f, 0)) return GG_ERR_ARG;
    optim_args o = {0, 0, 0, 0, 0, lr, momentum, 0.0f, 0.0f, 0.0f, 0.0f, nesterov, first};
    return multi_run(ctx, &o, count, params, momentum != 0.0f ? bufs : 0, 0, grads, sizes, clip, clip_lo, clip_hi);
}
