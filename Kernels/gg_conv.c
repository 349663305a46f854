/*
 * gg_conv.c: 2-D convolution, NCHW f32: forward, gradient w.r.t. the input
 * (which is also conv_transpose2d's forward, see gg_kernels.h) and gradient
 * w.r.t. the filter, the entry points: shape checks, the scratch query, and
 * which method runs.
 *   x: (n, c, h, w)   w: (oc, c, kh, kw)   y: (n, oc, oh, ow)
 * Three methods, one file each (shared pieces in gg_conv_internal.h):
 *  - direct loops (gg_conv_direct.c) for one output channel (oc == 1), where
 *    the GEMM would be a matrix-vector product;
 *  - implicit GEMM (gg_conv_igemm.c; AVX2/AVX-512, stride <= 2, layers with enough
 *    channels): output pixels of all images are cut into 32-wide panels whose
 *    lowered columns are packed straight from the image and multiplied by
 *    pre-packed weights; bwd_data runs as one stride-1 correlation per output
 *    phase, so it needs no col2im.
 *  - per image (gg_conv_im2col.c; everything else): each image is lowered to
 *    col (im2col) and the convolution becomes a GEMM with w viewed as
 *    (oc, c*kh*kw); small K goes through direct loops.
 * bwd_filter sums the batch in chunks fixed by n alone, combined in chunk
 * order (gg__conv_add_chunks), and every other output element is one sum in a
 * fixed order, so no result depends on ctx->nthreads. All scratch comes from
 * ctx->scratch (gg_conv2d_f32_scratch, an upper bound for every path of the
 * three kernels); nothing allocates. Not here: bias, dilation, groups,
 * unequal strides or pads.
 * Epilogues (gg_conv2d_ep_f32, gg_conv2d_bwd_data_ep_f32; gg_conv_epilogue.c):
 * an elementwise fused program over the output (n, c, h, w) runs on output
 * pixels soon after they are finished; its per-channel reductions fold each
 * image into a partial, combined in image order at the end.
 */
#include "gg_conv_internal.h"
#include <string.h>

static int conv_shape_ok(const gg_conv2d_shape *s) {
    if (s == 0) return 0;
    if (s->n < 0 || s->c < 1 || s->h < 1 || s->w < 1 || s->oc < 1 || s->kh < 1 || s->kw < 1) return 0;
    if (s->stride < 1 || s->pad < 0) return 0;
    if (s->h + 2 * s->pad < s->kh || s->w + 2 * s->pad < s->kw) return 0;
    return s->oh == (s->h + 2 * s->pad - s->kh) / s->stride + 1 &&
           s->ow == (s->w + 2 * s->pad - s->kw) / s->stride + 1;
}

int64_t gg_conv2d_f32_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    if (ctx == 0 || !conv_shape_ok(s)) return 0;
    /* the largest need of the path each kernel takes for this shape */
    const int t = conv_threads(ctx);
    int64_t need = 0;
    for (int kind = CONV_FWD; kind <= CONV_BWD_FILTER; kind++) {
        const int64_t k = gg__conv_direct_takes(s)             ? gg__conv_direct_scratch(s, t, kind)
                          : gg__conv_igemm_takes(ctx, s, kind) ? gg__conv_igemm_scratch(ctx, s, t, kind)
                                                               : gg__conv_im2col_scratch(ctx, s, kind);
        need = conv_max(need, k);
    }
    return need;
}

/* Every kernel demands the shared query (the largest of the three plans), so a
 * caller that sized scratch for one shape can run all three kernels. */
static int conv_scratch_ok(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    const int64_t need = gg_conv2d_f32_scratch(ctx, s);
    return ctx->scratch_len >= need && (need == 0 || ctx->scratch != 0);
}

void gg__conv_add_chunks(const gg_ctx *ctx, float *dw, const float *partials, int64_t wsz, int64_t chunks,
                         int64_t pstride) {
    const int t = conv_threads(ctx) > 1 && wsz * chunks >= (1 << 16) ? conv_threads(ctx) : 1;
    (void)t;
#ifdef _OPENMP
#pragma omp parallel for num_threads(t) schedule(static) if (t > 1)
#endif
    for (int64_t i = 0; i < wsz; i++) {
        float acc = dw[i];
        for (int64_t j = 1; j < chunks; j++) acc += partials[(j - 1) * pstride + i];
        dw[i] = acc;
    }
}

/* Kernel `kind` on (out, a, b) (see gg_conv_internal.h), then the epilogue over
 * out, by the method that takes this shape. */
static gg_status conv_run(const gg_ctx *ctx, int kind, float *out, const float *a, const float *b,
                          const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    if (ctx == 0 || !conv_shape_ok(s)) return GG_ERR_ARG;
    if (!conv_scratch_ok(ctx, s)) return GG_ERR_SCRATCH;
    conv_ep ep;
    gg_status st = kind == CONV_FWD ? gg__conv_ep_make(&ep, ctx, s, epilogue, s->oc, s->oh, s->ow)
                                    : gg__conv_ep_make(&ep, ctx, s, epilogue, s->c, s->h, s->w);
    if (st != GG_OK) return st;
    if (kind == CONV_BWD_FILTER && s->n == 0) {
        memset(out, 0, (size_t)(s->oc * s->c * s->kh * s->kw) * sizeof(float));
        return GG_OK;
    }
    if (gg__conv_direct_takes(s)) st = gg__conv_direct(ctx, kind, out, a, b, s, &ep);
#if GG__X86
    else if (gg__conv_igemm_takes(ctx, s, kind)) st = gg__conv_igemm(ctx, kind, out, a, b, s, &ep);
#endif
    else st = gg__conv_im2col(ctx, kind, out, a, b, s, &ep);
    return st == GG_OK ? gg__conv_ep_finish(ctx, &ep) : st;
}

/* x: (n, c, h, w), w: (oc, c, kh, kw) -> y: (n, oc, oh, ow), then the epilogue over y */
gg_status gg_conv2d_ep_f32(const gg_ctx *ctx, float *y, const float *x, const float *w,
                           const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    return conv_run(ctx, CONV_FWD, y, x, w, s, epilogue);
}

gg_status gg_conv2d_f32(const gg_ctx *ctx, float *y, const float *x, const float *w,
                        const gg_conv2d_shape *s) {
    return conv_run(ctx, CONV_FWD, y, x, w, s, 0);
}

/* dy: (n, oc, oh, ow), w: (oc, c, kh, kw) -> dx: (n, c, h, w), then the epilogue over dx */
gg_status gg_conv2d_bwd_data_ep_f32(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                    const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    return conv_run(ctx, CONV_BWD_DATA, dx, dy, w, s, epilogue);
}

gg_status gg_conv2d_bwd_data_f32(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                 const gg_conv2d_shape *s) {
    return conv_run(ctx, CONV_BWD_DATA, dx, dy, w, s, 0);
}

/* x: (n, c, h, w), dy: (n, oc, oh, ow) -> dw: (oc, c, kh, kw), summed over the batch */
gg_status gg_conv2d_bwd_filter_f32(const gg_ctx *ctx, float *dw, const float *x, const float *dy,
                                   const gg_conv2d_shape *s) {
    return conv_run(ctx, CONV_BWD_FILTER, dw, x, dy, s, 0);
}
