/*
 * gg_ref_optim.c: scalar references for the optimiser updates, written as
 * the formulas in gg_kernels.h read (PyTorch semantics, no weight decay, no
 * dampening): one plain loop per parameter tensor, in place.
 */
#include "gg_kernels.h"

#include <math.h>

gg_status gg_sgd_f32_ref(const gg_ctx *ctx, float *p, float *buf, const float *g, int64_t n,
                         float lr, float momentum, int nesterov, int first) {
    (void)ctx;
    if (n < 0) return GG_ERR_ARG;
    if (momentum != 0.0f && buf == 0 && n > 0) return GG_ERR_ARG;
    for (int64_t i = 0; i < n; i++) {
        float d = g[i];
        if (momentum != 0.0f) {
            float b = first ? g[i] : momentum * buf[i] + g[i];
            buf[i] = b;
            d = nesterov ? g[i] + momentum * b : b;
        }
        p[i] -= lr * d;
    }
    return GG_OK;
}

gg_status gg_adam_f32_ref(const gg_ctx *ctx, float *p, float *m, float *v, const float *g, int64_t n,
                          float lr, float beta1, float beta2, float eps, int64_t step) {
    (void)ctx;
    if (n < 0 || step < 1) return GG_ERR_ARG;
    double bc1 = 1.0 - pow((double)beta1, (double)step);
    double bc2 = 1.0 - pow((double)beta2, (double)step);
    for (int64_t i = 0; i < n; i++) {
        m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        double mhat = m[i] / bc1;
        double vhat = v[i] / bc2;
        p[i] = (float)(p[i] - lr * mhat / (sqrt(vhat) + eps));
    }
    return GG_OK;
}

gg_status gg_rmsprop_f32_ref(const gg_ctx *ctx, float *p, float *sq, const float *g, int64_t n,
                             float lr, float alpha, float eps) {
    (void)ctx;
    if (n < 0) return GG_ERR_ARG;
    for (int64_t i = 0; i < n; i++) {
        sq[i] = alpha * sq[i] + (1.0f - alpha) * g[i] * g[i];
        p[i] -= lr * g[i] / (sqrtf(sq[i]) + eps);
    }
    return GG_OK;
}
