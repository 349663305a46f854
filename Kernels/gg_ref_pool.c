/*
 * gg_ref_pool.c: scalar references for 2-D max pooling, the specification
 * gg_pool.c is tested against. NCHW, f32, square window k, stride, pad:
 *   x: (n, c, h, w) -> y: (n, c, oh, ow), oh = (h + 2*pad - k) / stride + 1.
 * Padding never wins: a window's maximum is taken over its in-image elements
 * only, so 2*pad <= k is required (PyTorch's rule; it keeps every window
 * non-empty). Scanning a window in raster order, an element replaces the
 * current pick when it is greater, or when it is NaN and the pick is not: the
 * pick is the first NaN if any, else the first maximum. The backward adds each
 * dy to dx at its window's pick (recomputed from x). No average pooling here.
 */
#include "gg_kernels.h"

static int ref_pool_shape_ok(const gg_pool2d_shape *s) {
    if (s == 0) return 0;
    if (s->n < 0 || s->c < 1 || s->h < 1 || s->w < 1) return 0;
    if (s->k < 1 || s->stride < 1 || s->pad < 0 || 2 * s->pad > s->k) return 0;
    if (s->h + 2 * s->pad < s->k || s->w + 2 * s->pad < s->k) return 0;
    return s->oh == (s->h + 2 * s->pad - s->k) / s->stride + 1 &&
           s->ow == (s->w + 2 * s->pad - s->k) / s->stride + 1;
}

/* Index within the (h, w) plane of the window's pick. */
static int64_t ref_pool_pick(const float *xp, const gg_pool2d_shape *s, int64_t oy, int64_t ox) {
    int64_t best = -1;
    for (int64_t ki = 0; ki < s->k; ki++) {
        int64_t iy = oy * s->stride - s->pad + ki;
        if (iy < 0 || iy >= s->h) continue;
        for (int64_t kj = 0; kj < s->k; kj++) {
            int64_t ix = ox * s->stride - s->pad + kj;
            if (ix < 0 || ix >= s->w) continue;
            int64_t i = iy * s->w + ix;
            if (best < 0) { best = i; continue; }
            float v = xp[i], m = xp[best];
            if (v > m || (v != v && m == m)) best = i;
        }
    }
    return best; /* never -1 when the shape is accepted */
}

/* x: (n, c, h, w) -> y: (n, c, oh, ow) */
gg_status gg_maxpool2d_f32_ref(const gg_ctx *ctx, float *y, const float *x, const gg_pool2d_shape *s) {
    (void)ctx;
    if (!ref_pool_shape_ok(s)) return GG_ERR_ARG;
    for (int64_t p = 0; p < s->n * s->c; p++) {
        const float *xp = x + p * s->h * s->w;
        float *yp = y + p * s->oh * s->ow;
        for (int64_t oy = 0; oy < s->oh; oy++)
            for (int64_t ox = 0; ox < s->ow; ox++)
                yp[oy * s->ow + ox] = xp[ref_pool_pick(xp, s, oy, ox)];
    }
    return GG_OK;
}

/* x: (n, c, h, w), dy: (n, c, oh, ow) -> dx: (n, c, h, w) */
gg_status gg_maxpool2d_bwd_f32_ref(const gg_ctx *ctx, float *dx, const float *x, const float *dy,
                                   const gg_pool2d_shape *s) {
    (void)ctx;
    if (!ref_pool_shape_ok(s)) return GG_ERR_ARG;
    for (int64_t i = 0; i < s->n * s->c * s->h * s->w; i++) dx[i] = 0.0f;
    for (int64_t p = 0; p < s->n * s->c; p++) {
        const float *xp = x + p * s->h * s->w;
        const float *dyp = dy + p * s->oh * s->ow;
        float *dxp = dx + p * s->h * s->w;
        for (int64_t oy = 0; oy < s->oh; oy++)
            for (int64_t ox = 0; ox < s->ow; ox++)
                dxp[ref_pool_pick(xp, s, oy, ox)] += dyp[oy * s->ow + ox];
    }
    return GG_OK;
}
