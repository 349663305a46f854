/*
 * gg_conv_internal.h: what the convolution files share (not public API).
 *   gg_conv.c           entry points: shape checks, the scratch query, which method runs
 *   gg_conv_direct.c    direct loops for one output channel
 *   gg_conv_im2col.c    the per-image method: im2col / col2im around GEMMs, small-K loops
 *   gg_conv_igemm.c     the implicit-GEMM method (AVX2, AVX-512; per-ISA halves in gg_conv_igemm_*.c)
 *   gg_conv_epilogue.c  fused epilogues over finished output pixels, and their per-channel sums
 * Helpers here are static inline; functions shared between the files start
 * with gg__conv_.
 */
#ifndef GG_CONV_INTERNAL_H
#define GG_CONV_INTERNAL_H

#include "gg_internal.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define CONV_ALIGN 16  /* floats: scratch slices start 64-byte aligned */
#define CONV_WCHUNKS 8 /* bwd_filter: the batch is summed in at most this many chunks */

static inline int64_t conv_round(int64_t v) { return (v + CONV_ALIGN - 1) / CONV_ALIGN * CONV_ALIGN; }
static inline int64_t conv_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t conv_max(int64_t a, int64_t b) { return a > b ? a : b; }

/* Valid output columns for kernel column kj: ox in [*lo, *hi) reads ix = ox*stride - pad + kj in [0, w). */
static inline void conv_valid(int64_t kj, int64_t pad, int64_t stride, int64_t w, int64_t ow,
                              int64_t *lo, int64_t *hi) {
    int64_t a = pad - kj;                 /* need ox*stride >= a */
    int64_t l = a <= 0 ? 0 : (a + stride - 1) / stride;
    int64_t b = w - 1 + pad - kj;         /* need ox*stride <= b */
    int64_t h = b < 0 ? 0 : b / stride + 1;
    if (h > ow) h = ow;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* 1x1, stride 1, pad 0: col_b is x_b, (c, h*w), and oh*ow == h*w. */
static inline int conv_pointwise(const gg_conv2d_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

static inline int conv_tid(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static inline int conv_threads(const gg_ctx *ctx) {
#ifdef _OPENMP
    return ctx->nthreads > 1 ? ctx->nthreads : 1;
#else
    (void)ctx;
    return 1;
#endif
}

/* The three kernels, as the methods' kind arguments name them. */
enum { CONV_FWD = 0, CONV_BWD_DATA = 1, CONV_BWD_FILTER = 2 };

#define CONV_EP_MAXOPS 32 /* operands of an epilogue whose h and w axes gg__conv_ep_make can merge */

/* An epilogue over an output (n, c, h, w): the program and each thread's
 * scratch share. prog NULL means none. When every operand walks h and w as
 * one axis, prog is `flat`, the same program over (n, c, h*w): its rows are
 * h*w long instead of w (7-28 for these layers), which the fused kernel's
 * per-row loads and stores were paying for; the flat index, and so every
 * element's value, is unchanged.
 * Reductions (per channel): image j folds into partial slot j (one row of c
 * floats per REDUCE output), and gg__conv_ep_finish combines the slots in
 * order. A method must hand each image whole to one gg__conv_ep_apply call,
 * so an image's partial is the same whatever the thread count; and since an
 * image's rows fold as gg_fused_f32 folds them, the sums are bit for bit
 * those of a separate fused reduction kernel over the stored output. */
typedef struct conv_ep {
    const gg_fprogram *prog;  /* `body` or `flat` */
    const gg_fprogram *given; /* the caller's program */
    gg_fprogram body;         /* given without its post program (regions take none) */
    float *scratch;
    int64_t share;
    int isa;
    int64_t n, c, h, w;
    int merged;
    gg_fprogram flat;
    int64_t flat_shape[3], flat_strides[3 * CONV_EP_MAXOPS];
    int reduces;              /* REDUCE outputs */
    float *partials;
    int64_t pstride;          /* floats per partial slot: reduces rows of c, rounded */
} conv_ep;

/* gg_conv.c: dw[i] = ((dw[i] + part_1[i]) + part_2[i]) + ... for the bwd_filter
 * chunks 1 .. chunks-1 (part_j at partials + (j-1)*pstride), elementwise, so
 * any split over threads is exact. */
void gg__conv_add_chunks(const gg_ctx *ctx, float *dw, const float *partials, int64_t wsz, int64_t chunks,
                         int64_t pstride);

/* gg_conv_epilogue.c: checks an epilogue against the output (n, c, h, w) and
 * places its scratch shares and partials after the convolution's; NULL gives
 * none. */
gg_status gg__conv_ep_make(conv_ep *e, const gg_ctx *ctx, const gg_conv2d_shape *s, const gg_fprogram *prog,
                           int64_t c, int64_t h, int64_t w);
/* Runs the epilogue on output pixels [g0, g1) of the flattened (n, h*w) space,
 * every channel, on the calling thread. With reductions, g0 and g1 are
 * multiples of h*w (whole images). */
void gg__conv_ep_apply(const conv_ep *e, int64_t g0, int64_t g1);
/* Thread id of team's share of pixels [0, pixels), in whole images. */
void gg__conv_ep_apply_share(const conv_ep *e, int64_t pixels, int id, int team);
/* After every pixel's epilogue: each reduction output = its partials combined
 * in chunk order, then the post program (if any) over the finished sums. */
gg_status gg__conv_ep_finish(const gg_ctx *ctx, const conv_ep *e);

/* The methods run kernel `kind` on (out, a, b): forward (y, x, w), bwd_data
 * (dx, dy, w) or bwd_filter (dw, x, dy, and n >= 1), then the epilogue `ep`.
 * gg_conv_im2col.c: the per-image method, for any shape and ISA. */
int64_t gg__conv_im2col_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s, int kind);
gg_status gg__conv_im2col(const gg_ctx *ctx, int kind, float *out, const float *a, const float *b,
                          const gg_conv2d_shape *s, const conv_ep *ep);
/* gg_conv_direct.c: direct loops, for one output channel (gg__conv_direct_takes). */
int gg__conv_direct_takes(const gg_conv2d_shape *s);
int64_t gg__conv_direct_scratch(const gg_conv2d_shape *s, int t, int kind);
gg_status gg__conv_direct(const gg_ctx *ctx, int kind, float *out, const float *a, const float *b,
                          const gg_conv2d_shape *s, const conv_ep *ep);
/* gg_conv_igemm.c: the implicit GEMM, for the shapes gg__conv_igemm_takes accepts. */
int gg__conv_igemm_takes(const gg_ctx *ctx, const gg_conv2d_shape *s, int kind);
int64_t gg__conv_igemm_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s, int t, int kind);
#if GG__X86
gg_status gg__conv_igemm(const gg_ctx *ctx, int kind, float *out, const float *a, const float *b,
                         const gg_conv2d_shape *s, const conv_ep *ep);
#endif

#endif /* GG_CONV_INTERNAL_H */
