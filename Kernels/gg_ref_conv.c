/*
 * gg_ref_conv.c: scalar references for the 2-D convolution kernels, the
 * specification gg_conv.c is tested against. NCHW, f32 in and out, double
 * accumulation, one thread, no scratch. No bias, dilation or groups.
 *   x: (n, c, h, w)   w: (oc, c, kh, kw)   y: (n, oc, oh, ow)
 *   y[b,o,oy,ox] = sum_{ci,ki,kj} x[b,ci,oy*stride-pad+ki, ox*stride-pad+kj] * w[o,ci,ki,kj]
 * with x read as 0 outside the image. The two backward kernels are written as
 * gathers (each output element one sum), not as scatters. The epilogue forms
 * are compositions: the convolution, then gg_fused_f32_ref over its output.
 */
#include "gg_kernels.h"
#include "gg_internal.h"

/* Same rule as gg_conv.c: every size positive (n may be 0), oh/ow from the
 * floor formula, so a transposed conv's output padding is accepted. */
static int ref_conv_shape_ok(const gg_conv2d_shape *s) {
    if (s == 0) return 0;
    if (s->n < 0 || s->c < 1 || s->h < 1 || s->w < 1 || s->oc < 1 || s->kh < 1 || s->kw < 1) return 0;
    if (s->stride < 1 || s->pad < 0) return 0;
    if (s->h + 2 * s->pad < s->kh || s->w + 2 * s->pad < s->kw) return 0;
    return s->oh == (s->h + 2 * s->pad - s->kh) / s->stride + 1 &&
           s->ow == (s->w + 2 * s->pad - s->kw) / s->stride + 1;
}

/* x: (n, c, h, w), w: (oc, c, kh, kw) -> y: (n, oc, oh, ow) */
gg_status gg_conv2d_f32_ref(const gg_ctx *ctx, float *y, const float *x, const float *w,
                            const gg_conv2d_shape *s) {
    (void)ctx;
    if (!ref_conv_shape_ok(s)) return GG_ERR_ARG;
    const int64_t C = s->c, H = s->h, W = s->w, OC = s->oc, KH = s->kh, KW = s->kw;
    const int64_t S = s->stride, P = s->pad, OH = s->oh, OW = s->ow;
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t o = 0; o < OC; o++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    double acc = 0.0;
                    for (int64_t ci = 0; ci < C; ci++)
                        for (int64_t ki = 0; ki < KH; ki++) {
                            int64_t iy = oy * S - P + ki;
                            if (iy < 0 || iy >= H) continue;
                            for (int64_t kj = 0; kj < KW; kj++) {
                                int64_t ix = ox * S - P + kj;
                                if (ix < 0 || ix >= W) continue;
                                acc += (double)x[((b * C + ci) * H + iy) * W + ix] *
                                       (double)w[((o * C + ci) * KH + ki) * KW + kj];
                            }
                        }
                    y[((b * OC + o) * OH + oy) * OW + ox] = (float)acc;
                }
    return GG_OK;
}

/* dy: (n, oc, oh, ow), w: (oc, c, kh, kw) -> dx: (n, c, h, w)
 * dx[b,ci,iy,ix] = sum over (o, ki, kj) with oy = (iy + pad - ki) / stride exact
 * and in range (likewise ox) of dy[b,o,oy,ox] * w[o,ci,ki,kj]. */
gg_status gg_conv2d_bwd_data_f32_ref(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                     const gg_conv2d_shape *s) {
    (void)ctx;
    if (!ref_conv_shape_ok(s)) return GG_ERR_ARG;
    const int64_t C = s->c, H = s->h, W = s->w, OC = s->oc, KH = s->kh, KW = s->kw;
    const int64_t S = s->stride, P = s->pad, OH = s->oh, OW = s->ow;
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t ci = 0; ci < C; ci++)
            for (int64_t iy = 0; iy < H; iy++)
                for (int64_t ix = 0; ix < W; ix++) {
                    double acc = 0.0;
                    for (int64_t o = 0; o < OC; o++)
                        for (int64_t ki = 0; ki < KH; ki++) {
                            int64_t ty = iy + P - ki;
                            if (ty < 0 || ty % S != 0 || ty / S >= OH) continue;
                            int64_t oy = ty / S;
                            for (int64_t kj = 0; kj < KW; kj++) {
                                int64_t tx = ix + P - kj;
                                if (tx < 0 || tx % S != 0 || tx / S >= OW) continue;
                                int64_t ox = tx / S;
                                acc += (double)dy[((b * OC + o) * OH + oy) * OW + ox] *
                                       (double)w[((o * C + ci) * KH + ki) * KW + kj];
                            }
                        }
                    dx[((b * C + ci) * H + iy) * W + ix] = (float)acc;
                }
    return GG_OK;
}

/* x: (n, c, h, w), dy: (n, oc, oh, ow) -> dw: (oc, c, kh, kw), summed over the batch */
gg_status gg_conv2d_bwd_filter_f32_ref(const gg_ctx *ctx, float *dw, const float *x, const float *dy,
                                       const gg_conv2d_shape *s) {
    (void)ctx;
    if (!ref_conv_shape_ok(s)) return GG_ERR_ARG;
    const int64_t C = s->c, H = s->h, W = s->w, OC = s->oc, KH = s->kh, KW = s->kw;
    const int64_t S = s->stride, P = s->pad, OH = s->oh, OW = s->ow;
    for (int64_t o = 0; o < OC; o++)
        for (int64_t ci = 0; ci < C; ci++)
            for (int64_t ki = 0; ki < KH; ki++)
                for (int64_t kj = 0; kj < KW; kj++) {
                    double acc = 0.0;
                    for (int64_t b = 0; b < s->n; b++)
                        for (int64_t oy = 0; oy < OH; oy++) {
                            int64_t iy = oy * S - P + ki;
                            if (iy < 0 || iy >= H) continue;
                            for (int64_t ox = 0; ox < OW; ox++) {
                                int64_t ix = ox * S - P + kj;
                                if (ix < 0 || ix >= W) continue;
                                acc += (double)x[((b * C + ci) * H + iy) * W + ix] *
                                       (double)dy[((b * OC + o) * OH + oy) * OW + ox];
                            }
                        }
                    dw[((o * C + ci) * KH + ki) * KW + kj] = (float)acc;
                }
    return GG_OK;
}

/* The epilogue (may be NULL) over the output (n, c, h, w), once it is complete. */
static gg_status ref_epilogue(const gg_ctx *ctx, gg_status conv, const gg_fprogram *epilogue) {
    return conv == GG_OK && epilogue ? gg_fused_f32_ref(ctx, epilogue) : conv;
}

/* An epilogue must be elementwise over that output, with per-channel reductions at most
 * (gg__fused_channel_epilogue_over); checked before anything is written. */
static int ref_epilogue_ok(const gg_fprogram *epilogue, int64_t n, int64_t c, int64_t h, int64_t w) {
    const int64_t space[4] = {n, c, h, w};
    return !epilogue || gg__fused_channel_epilogue_over(epilogue, space);
}

gg_status gg_conv2d_ep_f32_ref(const gg_ctx *ctx, float *y, const float *x, const float *w,
                               const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    if (!ref_conv_shape_ok(s) || !ref_epilogue_ok(epilogue, s->n, s->oc, s->oh, s->ow)) return GG_ERR_ARG;
    return ref_epilogue(ctx, gg_conv2d_f32_ref(ctx, y, x, w, s), epilogue);
}

gg_status gg_conv2d_bwd_data_ep_f32_ref(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                        const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    if (!ref_conv_shape_ok(s) || !ref_epilogue_ok(epilogue, s->n, s->c, s->h, s->w)) return GG_ERR_ARG;
    return ref_epilogue(ctx, gg_conv2d_bwd_data_f32_ref(ctx, dx, dy, w, s), epilogue);
}
