/*
 * gg_pool.c: 2-D max pooling, forward and backward, NCHW f32.
 *   x: (n, c, h, w) -> y: (n, c, oh, ow), oh = (h + 2*pad - k) / stride + 1
 * Square window k, one stride and pad for both axes; 2*pad <= k (so every
 * window holds an image element; padding never wins). The pick of a window is
 * the first NaN in raster order if any, else the first maximum; the backward
 * recomputes it from x and adds dy there (dx fully written). Planes (n*c) are
 * split over threads; each plane is done by one thread in a fixed order, so
 * results do not depend on ctx->nthreads. No scratch, no average pooling.
 */
#include "gg_kernels.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int pool_shape_ok(const gg_pool2d_shape *s) {
    if (s == 0) return 0;
    if (s->n < 0 || s->c < 1 || s->h < 1 || s->w < 1) return 0;
    if (s->k < 1 || s->stride < 1 || s->pad < 0 || 2 * s->pad > s->k) return 0;
    if (s->h + 2 * s->pad < s->k || s->w + 2 * s->pad < s->k) return 0;
    return s->oh == (s->h + 2 * s->pad - s->k) / s->stride + 1 &&
           s->ow == (s->w + 2 * s->pad - s->k) / s->stride + 1;
}

/* Does v replace m as the pick? (greater, or the first NaN) */
static inline int pool_takes(float v, float m) { return v > m || (v != v && m == m); }

static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Index in the (h, w) plane of window (oy, ox)'s pick. */
static inline int64_t pool_pick(const float *xp, const gg_pool2d_shape *s, int64_t oy, int64_t ox) {
    const int64_t y0 = oy * s->stride - s->pad, x0 = ox * s->stride - s->pad;
    const int64_t ya = clamp64(y0, 0, s->h), yb = clamp64(y0 + s->k, 0, s->h);
    const int64_t xa = clamp64(x0, 0, s->w), xb = clamp64(x0 + s->k, 0, s->w);
    int64_t best = ya * s->w + xa;
    float m = xp[best];
    for (int64_t iy = ya; iy < yb; iy++)
        for (int64_t ix = xa; ix < xb; ix++) {
            float v = xp[iy * s->w + ix];
            if (pool_takes(v, m)) { m = v; best = iy * s->w + ix; }
        }
    return best;
}

/* One plane, k = 2, stride 2, pad 0 (the common case): xp (h, w) -> yp (oh, ow). */
static void pool_fwd_2x2(float *yp, const float *xp, const gg_pool2d_shape *s) {
    for (int64_t oy = 0; oy < s->oh; oy++) {
        const float *r0 = xp + 2 * oy * s->w, *r1 = r0 + s->w;
        float *yr = yp + oy * s->ow;
        for (int64_t ox = 0; ox < s->ow; ox++) {
            float m = r0[2 * ox];
            float v = r0[2 * ox + 1];
            m = pool_takes(v, m) ? v : m;
            v = r1[2 * ox];
            m = pool_takes(v, m) ? v : m;
            v = r1[2 * ox + 1];
            m = pool_takes(v, m) ? v : m;
            yr[ox] = m;
        }
    }
}

static void pool_fwd_plane(float *yp, const float *xp, const gg_pool2d_shape *s) {
    if (s->k == 2 && s->stride == 2 && s->pad == 0) { pool_fwd_2x2(yp, xp, s); return; }
    for (int64_t oy = 0; oy < s->oh; oy++)
        for (int64_t ox = 0; ox < s->ow; ox++) yp[oy * s->ow + ox] = xp[pool_pick(xp, s, oy, ox)];
}

/* One plane, k = 2, stride 2, pad 0: each window's four dx get dy at the pick
 * (same raster-order rule as pool_fwd_2x2) and 0 elsewhere, in one pass; an
 * odd last row or column belongs to no window and is zeroed. */
static void pool_bwd_2x2(float *dxp, const float *xp, const float *dyp, const gg_pool2d_shape *s) {
    const int64_t W = s->w;
    for (int64_t oy = 0; oy < s->oh; oy++) {
        const float *r0 = xp + 2 * oy * W, *r1 = r0 + W;
        float *d0 = dxp + 2 * oy * W, *d1 = d0 + W;
        const float *g = dyp + oy * s->ow;
        for (int64_t ox = 0; ox < s->ow; ox++) {
            const int64_t j = 2 * ox;
            float m = r0[j];
            int pick = 0;
            if (pool_takes(r0[j + 1], m)) { m = r0[j + 1]; pick = 1; }
            if (pool_takes(r1[j], m)) { m = r1[j]; pick = 2; }
            if (pool_takes(r1[j + 1], m)) pick = 3;
            const float v = 0.0f + g[ox]; /* as 0 + dy in the general path (-0 becomes +0) */
            d0[j] = pick == 0 ? v : 0.0f;
            d0[j + 1] = pick == 1 ? v : 0.0f;
            d1[j] = pick == 2 ? v : 0.0f;
            d1[j + 1] = pick == 3 ? v : 0.0f;
        }
        if (2 * s->ow < W) { d0[W - 1] = 0.0f; d1[W - 1] = 0.0f; }
    }
    if (2 * s->oh < s->h) memset(dxp + 2 * s->oh * W, 0, (size_t)((s->h - 2 * s->oh) * W) * sizeof(float));
}

static void pool_bwd_plane(float *dxp, const float *xp, const float *dyp, const gg_pool2d_shape *s) {
    if (s->k == 2 && s->stride == 2 && s->pad == 0) { pool_bwd_2x2(dxp, xp, dyp, s); return; }
    memset(dxp, 0, (size_t)(s->h * s->w) * sizeof(float));
    for (int64_t oy = 0; oy < s->oh; oy++)
        for (int64_t ox = 0; ox < s->ow; ox++) dxp[pool_pick(xp, s, oy, ox)] += dyp[oy * s->ow + ox];
}

static int pool_threads(const gg_ctx *ctx, int64_t planes, int64_t work) {
    int t = ctx && ctx->nthreads > 1 ? ctx->nthreads : 1;
    if (work < (1 << 15)) t = 1; /* too little to pay for a parallel region */
    if (t > planes) t = (int)(planes > 0 ? planes : 1);
    return t;
}

/* x: (n, c, h, w) -> y: (n, c, oh, ow) */
gg_status gg_maxpool2d_f32(const gg_ctx *ctx, float *y, const float *x, const gg_pool2d_shape *s) {
    if (!pool_shape_ok(s)) return GG_ERR_ARG;
    const int64_t planes = s->n * s->c, hw = s->h * s->w, ohw = s->oh * s->ow;
    const int t = pool_threads(ctx, planes, planes * hw);
    (void)t;
#ifdef _OPENMP
#pragma omp parallel for num_threads(t) schedule(static) if (t > 1)
#endif
    for (int64_t p = 0; p < planes; p++) pool_fwd_plane(y + p * ohw, x + p * hw, s);
    return GG_OK;
}

/* x: (n, c, h, w), dy: (n, c, oh, ow) -> dx: (n, c, h, w) */
gg_status gg_maxpool2d_bwd_f32(const gg_ctx *ctx, float *dx, const float *x, const float *dy,
                               const gg_pool2d_shape *s) {
    if (!pool_shape_ok(s)) return GG_ERR_ARG;
    const int64_t planes = s->n * s->c, hw = s->h * s->w, ohw = s->oh * s->ow;
    const int t = pool_threads(ctx, planes, planes * hw);
    (void)t;
#ifdef _OPENMP
#pragma omp parallel for num_threads(t) schedule(static) if (t > 1)
#endif
    for (int64_t p = 0; p < planes; p++) pool_bwd_plane(dx + p * hw, x + p * hw, dy + p * ohw, s);
    return GG_OK;
}
