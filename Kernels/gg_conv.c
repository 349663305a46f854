/*
 * gg_conv.c: 2-D convolution, NCHW f32: forward, gradient w.r.t. the input
 * (which is also conv_transpose2d's forward, see gg_kernels.h) and gradient
 * w.r.t. the filter.
 *   x: (n, c, h, w)   w: (oc, c, kh, kw)   y: (n, oc, oh, ow)
 * Two methods:
 *  - implicit GEMM (AVX-512, stride <= 2, layers with enough channels; see
 *    "implicit GEMM" below): output pixels of all images are cut into 32-wide
 *    panels whose lowered columns are packed straight from the image and
 *    multiplied by pre-packed weights with an 8 x 32 micro-kernel that stores
 *    into NCHW directly. bwd_data runs as one stride-1 correlation per output
 *    phase (sub-pixel decomposition), so it needs no col2im.
 *  - per image (everything else: thin layers, other ISAs, stride > 2): each
 *    image is lowered to col (c*kh*kw, oh*ow) (im2col) and the convolution
 *    becomes a GEMM with w viewed as (oc, c*kh*kw):
 *      forward     y_b  = w * col_b
 *      bwd_data    col  = w^T * dy_b, then scattered back into dx_b (col2im)
 *      bwd_filter  dw   = sum_b dy_b * col_b^T
 *    1x1, stride-1, unpadded convolutions use x itself as col; small K goes
 *    through direct AVX-512 loops.
 * Threads: the implicit GEMM splits output panels (forward, bwd_data) or
 * fixed image chunks (bwd_filter) over threads; the per-image path gives
 * whole images (or bwd_filter chunks) to threads, or all threads to one GEMM.
 * bwd_filter sums the batch in chunks fixed by n alone, combined in chunk
 * order, and every other output element is one sum in a fixed order, so no
 * result depends on ctx->nthreads. All scratch comes from ctx->scratch
 * (gg_conv2d_f32_scratch, an upper bound for every path of the three
 * kernels); nothing allocates. Not here: bias, dilation, groups, unequal
 * strides or pads.
 * Epilogues (gg_conv2d_ep_f32, gg_conv2d_bwd_data_ep_f32): an elementwise
 * fused program over the output (n, c, h, w) runs on output pixels soon after
 * they are finished: per group of panels (implicit GEMM forward), per image
 * (per-image path), or per thread share after the phases meet (bwd_data).
 */
#include "gg_internal.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define CONV_ALIGN 16               /* floats: scratch slices start 64-byte aligned */
#define CONV_WCHUNKS 8              /* bwd_filter: the batch is summed in at most this many chunks */
#define CONV_WGROUP_FLOATS (1 << 19) /* bwd_filter: lowered floats per GEMM (sets images per GEMM) */

static inline int64_t conv_round(int64_t v) { return (v + CONV_ALIGN - 1) / CONV_ALIGN * CONV_ALIGN; }
static inline int64_t conv_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t conv_max(int64_t a, int64_t b) { return a > b ? a : b; }

static int conv_shape_ok(const gg_conv2d_shape *s) {
    if (s == 0) return 0;
    if (s->n < 0 || s->c < 1 || s->h < 1 || s->w < 1 || s->oc < 1 || s->kh < 1 || s->kw < 1) return 0;
    if (s->stride < 1 || s->pad < 0) return 0;
    if (s->h + 2 * s->pad < s->kh || s->w + 2 * s->pad < s->kw) return 0;
    return s->oh == (s->h + 2 * s->pad - s->kh) / s->stride + 1 &&
           s->ow == (s->w + 2 * s->pad - s->kw) / s->stride + 1;
}

/* 1x1, stride 1, pad 0: col_b is x_b, (c, h*w), and oh*ow == h*w. */
static inline int conv_pointwise(const gg_conv2d_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

static int conv_threads(const gg_ctx *ctx) {
#ifdef _OPENMP
    return ctx->nthreads > 1 ? ctx->nthreads : 1;
#else
    (void)ctx;
    return 1;
#endif
}

/* The split of one kernel's work: `workers` threads each own whole units
 * (images, or bwd_filter chunks) and run one-thread GEMMs; workers == 1 runs
 * the units in turn with a GEMM of all threads. Each worker's scratch slice is
 * `slot` floats: lowered buffers, then the GEMM's scratch. `shared` floats
 * (bwd_filter partial sums) come after all the slices. */
typedef struct conv_plan {
    int workers;
    gg_ctx gemm;       /* context for the GEMMs; scratch filled in per worker */
    int64_t col;       /* floats of the col buffer per worker */
    int64_t dycat;     /* bwd_filter: floats of the dy buffer per worker */
    int64_t gemm_scr;  /* GEMM scratch per worker */
    int64_t slot;
    int64_t shared;
    int64_t total;
    /* bwd_filter */
    int64_t chunks, group;
} conv_plan;

enum { CONV_FWD = 0, CONV_BWD_DATA = 1, CONV_BWD_FILTER = 2 };

static void conv_make_plan(conv_plan *p, const gg_ctx *ctx, const gg_conv2d_shape *s, int kind) {
    const int64_t ckk = s->c * s->kh * s->kw, ohw = s->oh * s->ow;
    const int t = conv_threads(ctx);
    int64_t units = s->n;
    memset(p, 0, sizeof *p);
    if (kind == CONV_BWD_FILTER) {
        p->chunks = conv_min(s->n, CONV_WCHUNKS);
        int64_t longest = p->chunks > 0 ? (s->n + p->chunks - 1) / p->chunks : 1;
        p->group = conv_max(1, conv_min(longest, CONV_WGROUP_FLOATS / ((ckk + s->oc) * ohw)));
        units = p->chunks;
    }
    p->workers = (t > 1 && units >= t) ? t : 1;
    p->gemm = *ctx;
    p->gemm.nthreads = p->workers > 1 ? 1 : t;
    p->gemm.scratch = 0;
    p->gemm.scratch_len = 0;
    switch (kind) {
    case CONV_FWD:
        p->col = conv_pointwise(s) ? 0 : ckk * ohw;
        p->gemm_scr = gg_gemm_f32_scratch(&p->gemm, s->oc, ohw, ckk);
        break;
    case CONV_BWD_DATA:
        p->col = conv_pointwise(s) ? 0 : ckk * ohw;
        p->gemm_scr = gg_gemm_f32_scratch(&p->gemm, ckk, ohw, s->oc);
        break;
    default:
        if (p->group > 1) {
            p->col = p->group * ckk * ohw;
            p->dycat = p->group * s->oc * ohw;
        } else {
            p->col = conv_pointwise(s) ? 0 : ckk * ohw;
        }
        /* a chunk's last GEMM may hold fewer images: take the largest need over all K used */
        for (int64_t nb = 1; nb <= p->group; nb++)
            p->gemm_scr = conv_max(p->gemm_scr, gg_gemm_f32_scratch(&p->gemm, s->oc, ckk, nb * ohw));
        p->shared = p->chunks > 1 ? (p->chunks - 1) * conv_round(s->oc * ckk) : 0;
        break;
    }
    p->slot = conv_round(p->col) + conv_round(p->dycat) + conv_round(p->gemm_scr);
    p->total = p->workers * p->slot + p->shared;
}

#define CONV_EP_MAXOPS 32 /* operands of an epilogue whose h and w axes conv_ep_make can merge */

/* An epilogue over an output (n, c, h, w): the program and each thread's
 * scratch share. prog NULL means none. When every operand walks h and w as
 * one axis, prog is `flat`, the same program over (n, c, h*w): its rows are
 * h*w long instead of w (7-28 for these layers), which the fused kernel's
 * per-row loads and stores were paying for; the flat index, and so every
 * element's value, is unchanged. */
typedef struct conv_ep {
    const gg_fprogram *prog;
    float *scratch;
    int64_t share;
    int isa;
    int64_t c, h, w;
    int merged;
    gg_fprogram flat;
    int64_t flat_shape[3], flat_strides[3 * CONV_EP_MAXOPS];
} conv_ep;

static int conv_tid(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Runs the epilogue on output pixels [g0, g1) of the flattened (n, h*w) space,
 * every channel, on the calling thread: per image, a partial first row, the
 * whole rows, a partial last row (boxes of the 4-D iteration space). The
 * program was validated up front, so the region calls cannot fail. */
static void conv_ep_apply(const conv_ep *e, int64_t g0, int64_t g1) {
    if (!e->prog || g0 >= g1) return;
    gg_ctx one = {1, e->isa, e->scratch + (int64_t)conv_tid() * e->share, e->share};
    const int64_t hw = e->h * e->w;
    if (e->merged) { /* one box per image */
        while (g0 < g1) {
            const int64_t b = g0 / hw, q0 = g0 - b * hw, q1 = conv_min(g1 - b * hw, hw);
            const int64_t lo[3] = {b, 0, q0}, ext[3] = {1, e->c, q1 - q0};
            (void)gg_fused_region_f32(&one, e->prog, lo, ext);
            g0 = b * hw + q1;
        }
        return;
    }
    while (g0 < g1) {
        const int64_t b = g0 / hw, q0 = g0 - b * hw, q1 = conv_min(g1 - b * hw, hw);
        int64_t q = q0;
        while (q < q1) {
            const int64_t y = q / e->w, x = q - y * e->w;
            int64_t rows = 1, cols = conv_min(e->w - x, q1 - q);
            if (x == 0 && q1 - q >= e->w) { rows = (q1 - q) / e->w; cols = e->w; }
            const int64_t lo[4] = {b, 0, y, x}, ext[4] = {1, e->c, rows, cols};
            (void)gg_fused_region_f32(&one, e->prog, lo, ext);
            q += rows * cols;
        }
        g0 = b * hw + q1;
    }
}

static int cv_ok(const gg_ctx *ctx, const gg_conv2d_shape *s);
#ifndef CV_FORCE
static int cv_use_fwd(const gg_ctx *ctx, const gg_conv2d_shape *s);
static int cv_use_bwd_data(const gg_ctx *ctx, const gg_conv2d_shape *s);
static int cv_use_bwd_filter(const gg_ctx *ctx, const gg_conv2d_shape *s);
#else
#define cv_use_fwd cv_ok
#define cv_use_bwd_data cv_ok
#define cv_use_bwd_filter cv_ok
#endif
static int64_t cv_fwd_scratch(const gg_conv2d_shape *s, int t);
static int64_t cv_bwd_data_scratch(const gg_conv2d_shape *s, int t);
static int64_t cv_bwd_filter_scratch(const gg_conv2d_shape *s, int t);

int64_t gg_conv2d_f32_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    if (ctx == 0 || !conv_shape_ok(s)) return 0;
    /* the largest need of the path each kernel takes for this shape */
    const int t = conv_threads(ctx);
    int64_t need = 0;
    for (int kind = CONV_FWD; kind <= CONV_BWD_FILTER; kind++) {
        int64_t k;
        if (kind == CONV_FWD && cv_use_fwd(ctx, s)) k = cv_fwd_scratch(s, t);
        else if (kind == CONV_BWD_DATA && cv_use_bwd_data(ctx, s)) k = cv_bwd_data_scratch(s, t);
        else if (kind == CONV_BWD_FILTER && cv_use_bwd_filter(ctx, s)) k = cv_bwd_filter_scratch(s, t);
        else {
            conv_plan p;
            conv_make_plan(&p, ctx, s, kind);
            k = p.total;
        }
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

/* Worker `id`'s buffers. */
static void conv_slot(const conv_plan *p, const gg_ctx *ctx, int id, float **col, float **dycat, gg_ctx *g) {
    float *base = ctx->scratch + (int64_t)id * p->slot;
    *col = base;
    *dycat = base + conv_round(p->col);
    *g = p->gemm;
    g->scratch = base + conv_round(p->col) + conv_round(p->dycat);
    g->scratch_len = p->gemm_scr;
}

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

/* x_b: (c, h, w) -> col: (c*kh*kw, oh*ow), row stride ldc >= oh*ow;
 * col[(ci*kh + ki)*kw + kj][oy*ow + ox] = x_b[ci][oy*s - p + ki][ox*s - p + kj], 0 outside. */
static void im2col(float *col, int64_t ldc, const float *xb, const gg_conv2d_shape *s) {
    const int64_t H = s->h, W = s->w, S = s->stride, P = s->pad, OH = s->oh, OW = s->ow;
    for (int64_t ci = 0; ci < s->c; ci++) {
        const float *xc = xb + ci * H * W;
        for (int64_t ki = 0; ki < s->kh; ki++)
            for (int64_t kj = 0; kj < s->kw; kj++) {
                float *row = col + ((ci * s->kh + ki) * s->kw + kj) * ldc;
                int64_t lo, hi;
                conv_valid(kj, P, S, W, OW, &lo, &hi);
                for (int64_t oy = 0; oy < OH; oy++) {
                    float *r = row + oy * OW;
                    int64_t iy = oy * S - P + ki;
                    if (iy < 0 || iy >= H) {
                        memset(r, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    for (int64_t ox = 0; ox < lo; ox++) r[ox] = 0.0f;
                    const int64_t off = iy * W + kj - P; /* xc[off + ox*S] is in the row for ox in [lo, hi) */
                    if (S == 1) {
                        if (hi > lo) memcpy(r + lo, xc + off + lo, (size_t)(hi - lo) * sizeof(float));
                    } else if (S == 2) {
                        for (int64_t ox = lo; ox < hi; ox++) r[ox] = xc[off + 2 * ox];
                    } else {
                        for (int64_t ox = lo; ox < hi; ox++) r[ox] = xc[off + ox * S];
                    }
                    for (int64_t ox = hi; ox < OW; ox++) r[ox] = 0.0f;
                }
            }
    }
}

/* col: (c*kh*kw, oh*ow) -> dx_b: (c, h, w), the adjoint of im2col: dx_b is
 * zeroed, then every col element is added where im2col read it, rows in order. */
static void col2im(float *dxb, const float *col, const gg_conv2d_shape *s) {
    const int64_t H = s->h, W = s->w, S = s->stride, P = s->pad, OH = s->oh, OW = s->ow;
    memset(dxb, 0, (size_t)(s->c * H * W) * sizeof(float));
    for (int64_t ci = 0; ci < s->c; ci++) {
        float *dc = dxb + ci * H * W;
        for (int64_t ki = 0; ki < s->kh; ki++)
            for (int64_t kj = 0; kj < s->kw; kj++) {
                const float *row = col + ((ci * s->kh + ki) * s->kw + kj) * OH * OW;
                int64_t lo, hi;
                conv_valid(kj, P, S, W, OW, &lo, &hi);
                for (int64_t oy = 0; oy < OH; oy++) {
                    int64_t iy = oy * S - P + ki;
                    if (iy < 0 || iy >= H) continue;
                    const float *r = row + oy * OW;
                    const int64_t off = iy * W + kj - P;
                    if (S == 1) {
                        for (int64_t ox = lo; ox < hi; ox++) dc[off + ox] += r[ox];
                    } else if (S == 2) {
                        for (int64_t ox = lo; ox < hi; ox++) dc[off + 2 * ox] += r[ox];
                    } else {
                        for (int64_t ox = lo; ox < hi; ox++) dc[off + ox * S] += r[ox];
                    }
                }
            }
    }
}

/* ---- small-K products ----
 * C (M, N) = A (M, K) * B (K, N) with A read as A[i*sai + r*sar] (so a
 * transposed A costs nothing) and B rows ldb apart; beta = 0. For K up to
 * CONV_SMALLK (first layers with c = 1, transposed convs into one channel) this
 * beats packing for the GEMM: C is written once, B stays in L1. Each element
 * is summed in r order by one thread, so results do not depend on threads. */
#define CONV_SMALLK 16

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CONV_AVX512 __attribute__((target("avx512f")))

/* Rows [i, i+mr) (mr <= 4), all columns, 32 at a time (masked tail). */
static inline __attribute__((always_inline)) CONV_AVX512 void
smallk_rows_avx512(float *C, int64_t ldc, const float *A, int64_t sai, int64_t sar, const float *B, int64_t ldb,
                   int64_t N, int64_t K, const int mr) {
    for (int64_t j = 0; j < N; j += 32) {
        const int64_t left = N - j;
        const __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        const __mmask16 m1 = left >= 32 ? 0xFFFF : (left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1));
        __m512 acc[4][2];
        for (int ii = 0; ii < mr; ii++) acc[ii][0] = acc[ii][1] = _mm512_setzero_ps();
        for (int64_t r = 0; r < K; r++) {
            const float *b = B + r * ldb + j;
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
            for (int ii = 0; ii < mr; ii++) {
                const __m512 a = _mm512_set1_ps(A[ii * sai + r * sar]);
                acc[ii][0] = _mm512_fmadd_ps(a, b0, acc[ii][0]);
                acc[ii][1] = _mm512_fmadd_ps(a, b1, acc[ii][1]);
            }
        }
        for (int ii = 0; ii < mr; ii++) {
            _mm512_mask_storeu_ps(C + ii * ldc + j, m0, acc[ii][0]);
            _mm512_mask_storeu_ps(C + ii * ldc + j + 16, m1, acc[ii][1]);
        }
    }
}

static CONV_AVX512 void smallk_avx512(float *C, int64_t ldc, const float *A, int64_t sai, int64_t sar,
                                      const float *B, int64_t ldb, int64_t M, int64_t N, int64_t K) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) smallk_rows_avx512(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 4);
    switch (M - i) {
    case 3: smallk_rows_avx512(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 3); break;
    case 2: smallk_rows_avx512(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 2); break;
    case 1: smallk_rows_avx512(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 1); break;
    default: break;
    }
}
/* Dot-product form for bwd_filter with a tiny dw: C (M, N) (+)= A (M, K) * B^T,
 * B stored (N, K); 4x4 blocks of 16-lane partial sums over K, each reduced in
 * a fixed order. Rows past M or N repeat the last one and are not stored. */
static CONV_AVX512 void dots_avx512(float *C, int64_t ldc, const float *A, int64_t lda, const float *B,
                                    int64_t ldb, int64_t M, int64_t N, int64_t K, int accumulate) {
    for (int64_t i = 0; i < M; i += 4)
        for (int64_t j = 0; j < N; j += 4) {
            const float *a[4], *b[4];
            for (int q = 0; q < 4; q++) {
                a[q] = A + conv_min(i + q, M - 1) * lda;
                b[q] = B + conv_min(j + q, N - 1) * ldb;
            }
            __m512 acc[4][4];
            for (int q = 0; q < 4; q++)
                for (int r = 0; r < 4; r++) acc[q][r] = _mm512_setzero_ps();
            for (int64_t k = 0; k < K; k += 16) {
                const __mmask16 m = K - k >= 16 ? 0xFFFF : (__mmask16)((1u << (K - k)) - 1);
                __m512 va[4], vb[4];
                for (int q = 0; q < 4; q++) {
                    va[q] = _mm512_maskz_loadu_ps(m, a[q] + k);
                    vb[q] = _mm512_maskz_loadu_ps(m, b[q] + k);
                }
                for (int q = 0; q < 4; q++)
                    for (int r = 0; r < 4; r++) acc[q][r] = _mm512_fmadd_ps(va[q], vb[r], acc[q][r]);
            }
            for (int q = 0; q < 4 && i + q < M; q++)
                for (int r = 0; r < 4 && j + r < N; r++) {
                    float v = _mm512_reduce_add_ps(acc[q][r]);
                    float *c = C + (i + q) * ldc + j + r;
                    *c = accumulate ? *c + v : v;
                }
        }
}
#endif

/* Portable form: the same sums in the same order (fused or not as the compiler decides). */
static void smallk_portable(float *C, int64_t ldc, const float *A, int64_t sai, int64_t sar,
                            const float *B, int64_t ldb, int64_t M, int64_t N, int64_t K) {
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        for (int64_t j = 0; j < N; j++) c[j] = 0.0f;
        for (int64_t r = 0; r < K; r++) {
            const float a = A[i * sai + r * sar];
            const float *b = B + r * ldb;
            for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

static void smallk(const gg_ctx *g, float *C, int64_t ldc, const float *A, int64_t sai, int64_t sar,
                   const float *B, int64_t ldb, int64_t M, int64_t N, int64_t K) {
#if defined(__x86_64__) || defined(__i386__)
    if (gg_ctx_isa(g) == GG_ISA_AVX512) {
        smallk_avx512(C, ldc, A, sai, sar, B, ldb, M, N, K);
        return;
    }
#endif
    (void)g;
    smallk_portable(C, ldc, A, sai, sar, B, ldb, M, N, K);
}

/* ---- implicit GEMM (AVX-512) ----
 * The lowered matrix is never materialised whole. Output pixels (of all
 * images, flattened) are cut into panels of CV_NR = 32; for each panel the
 * packer builds its B panel (K x 32, one row per (channel, tap)) straight
 * from the image with masked loads (stride 2: a load pair and a permute), and
 * an 8 x 32 register-blocked micro-kernel multiplies the pre-packed weights
 * (8-row panels, k-major) by it, storing straight into the NCHW output.
 * Panels may straddle images, so small images (7x7) waste no lanes. Every
 * output element is one micro-kernel sum over the full K, in k order, so the
 * way panels are split over threads changes no bit.
 *   forward      out[b][o][oy][ox], K = c*kh*kw, taps (ki - pad, kj - pad),
 *                source x read at (oy*stride + ty, ox*stride + tx).
 *   bwd_data     split by output phase (iy mod stride, ix mod stride): each
 *                phase is a stride-1 correlation of dy with the taps of w
 *                that reach it (sub-pixel decomposition of the transposed
 *                conv): no col2im, no scatter-add, every dx element written once.
 *   bwd_filter   dw^T (c*kh*kw, oc) = col (c*kh*kw, P) * dy^T (P, oc) over
 *                blocks of P pixels: the packer writes col for the block in
 *                32-pixel panels (the A side, read in place), dy is transposed
 *                into the B side; images are summed in fixed chunks. */
#define CV_MR 8
#define CV_NR 32
#define CV_MAXTAPS 1024
#ifndef CV_WF_FLOATS
#define CV_WF_FLOATS (1 << 17) /* bwd_filter: floats of the col block */
#endif

typedef struct cv_run { int32_t pos, len; int64_t b, gy, gx; } cv_run;
typedef struct cv_op { int64_t off; uint32_t lmask, wmask; int32_t first, pad_; } cv_op;

/* One implicit GEMM: out(b, m, g) = sum_{cs, t} A(m, cs*T + t) * src(b, cs, gy*sg + ty[t], gx*sg + tx[t]). */
typedef struct cv_geo {
    const float *src;
    int64_t src_b, src_c, hs, ws, cs, sg;
    int64_t T;
    const int64_t *ty, *tx;
    int64_t nimg, gh, gw;
    float *out;
    int64_t out_b, out_m, out_y, out_x;
    int64_t M;
    const float *Ap; /* ceil(M/8) panels of K x 8, K = cs*T */
    const float *src_end; /* src + nimg*src_b: loads inside [src, src_end) need no mask */
} cv_geo;

static inline int64_t cv_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Runs of the panel [g0, g1) of flattened grid pixels (each a piece of one grid row). */
static int cv_runs(cv_run *r, int64_t g0, int64_t g1, int64_t gh, int64_t gw, int64_t maxlen) {
    int n = 0;
    const int64_t ghw = gh * gw;
    for (int64_t g = g0; g < g1;) {
        const int64_t b = g / ghw, q = g - b * ghw, gy = q / gw, gx = q - gy * gw;
        const int64_t len = conv_min(conv_min(gw - gx, g1 - g), maxlen);
        r[n].pos = (int32_t)(g - g0);
        r[n].len = (int32_t)len;
        r[n].b = b;
        r[n].gy = gy;
        r[n].gx = gx;
        n++;
        g += len;
    }
    return n;
}

/* Load ops of every tap for these runs; ops of tap t are [start[t], start[t+1]). */
static void cv_ops(cv_op *ops, int32_t *start, const cv_run *r, int nr, const cv_geo *G) {
    int n = 0;
    const int64_t S = G->sg;
    for (int64_t t = 0; t < G->T; t++) {
        start[t] = n;
        for (int i = 0; i < nr; i++) {
            const int64_t iy = r[i].gy * S + G->ty[t];
            if (iy < 0 || iy >= G->hs) continue;
            const int64_t a = r[i].gx * S + G->tx[t]; /* ix of the run's first pixel */
            int64_t lo = a >= 0 ? 0 : (-a + S - 1) / S;
            int64_t hi = G->ws - 1 - a < 0 ? 0 : (G->ws - 1 - a) / S + 1;
            if (hi > r[i].len) hi = r[i].len;
            if (lo >= hi) continue;
            const uint64_t bits = ((1ull << (hi - lo)) - 1) << (r[i].pos + lo);
            cv_op *o = &ops[n++];
            o->lmask = (uint32_t)bits;
            const int64_t row = r[i].b * G->src_b + iy * G->ws;
            if (S == 1) {
                o->off = row + a - r[i].pos; /* lane l reads off + l */
                o->first = 0;
                o->wmask = 0;
                /* Grid rows as wide as the source rows (a 7x7 bwd_data phase,
                 * "same" convs) continue one window: one load covers them. */
                if (n - 1 > start[t] && ops[n - 2].off == o->off) {
                    ops[n - 2].lmask |= o->lmask;
                    n--;
                }
            } else { /* lanes [pos+lo, pos+hi) read row[a + S*(lane - pos)]: window from the first */
                const int64_t span = S * (hi - lo - 1) + 1;
                o->off = row + a + S * lo;
                o->first = (int32_t)(r[i].pos + lo);
                o->wmask = span >= 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << span) - 1);
            }
        }
    }
    start[G->T] = n;
}

#if defined(__x86_64__) || defined(__i386__)
/* B rows k = cs*T + t (cs in [0, G->cs)), 32 lanes each, row stride ldb. */
static CONV_AVX512 void cv_pack(float *Bp, int64_t ldb, const cv_op *ops, const int32_t *start, const cv_geo *G) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i iota16 = _mm512_add_epi32(iota, _mm512_set1_epi32(16));
    for (int64_t c = 0; c < G->cs; c++) {
        const float *sc = G->src + c * G->src_c;
        for (int64_t t = 0; t < G->T; t++) {
            __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
            if (G->sg == 1) {
                /* Masked loads whose masked-off lanes cross a page are slow on
                 * Zen 4: inside the source, load plainly and blend. */
                for (int32_t i = start[t]; i < start[t + 1]; i++) {
                    const float *p = sc + ops[i].off;
                    const __mmask16 m0 = (__mmask16)ops[i].lmask, m1 = (__mmask16)(ops[i].lmask >> 16);
                    if (p >= G->src && p + 32 <= G->src_end) {
                        if (m0) {
                            __m512 a0 = _mm512_loadu_ps(p);
                            __asm__("" : "+v"(a0)); /* keep the plain load (no folding into a masked one) */
                            v0 = _mm512_mask_mov_ps(v0, m0, a0);
                        }
                        if (m1) {
                            __m512 a1 = _mm512_loadu_ps(p + 16);
                            __asm__("" : "+v"(a1));
                            v1 = _mm512_mask_mov_ps(v1, m1, a1);
                        }
                    } else {
                        if (m0) v0 = _mm512_mask_loadu_ps(v0, m0, p);
                        if (m1) v1 = _mm512_mask_loadu_ps(v1, m1, p + 16);
                    }
                }
            } else {
                for (int32_t i = start[t]; i < start[t + 1]; i++) {
                    const float *p = sc + ops[i].off;
                    __m512 w0, w1;
                    if (p + 32 <= G->src_end) { /* p >= src: the window starts at a valid element */
                        w0 = _mm512_loadu_ps(p);
                        w1 = _mm512_loadu_ps(p + 16);
                    } else {
                        w0 = _mm512_maskz_loadu_ps((__mmask16)ops[i].wmask, p);
                        w1 = _mm512_maskz_loadu_ps((__mmask16)(ops[i].wmask >> 16), p + 16);
                    }
                    const __m512i f = _mm512_set1_epi32(ops[i].first);
                    const __m512i i0 = _mm512_slli_epi32(_mm512_sub_epi32(iota, f), 1);
                    const __m512i i1 = _mm512_slli_epi32(_mm512_sub_epi32(iota16, f), 1);
                    v0 = _mm512_mask_mov_ps(v0, (__mmask16)ops[i].lmask, _mm512_permutex2var_ps(w0, i0, w1));
                    v1 = _mm512_mask_mov_ps(v1, (__mmask16)(ops[i].lmask >> 16), _mm512_permutex2var_ps(w0, i1, w1));
                }
            }
            float *d = Bp + (c * G->T + t) * ldb;
            _mm512_storeu_ps(d, v0);
            _mm512_storeu_ps(d + 16, v1);
        }
    }
}

/* C rows r < ROWS: lanes of segment s go to segp[s] + r*ldm + lane (masked),
 * C = A * B (or C += when acc). A(r, k) = Ap[r*ars + k*aks], B(k, :) = Bp[k*ldb ..+32]. */
static inline __attribute__((always_inline)) CONV_AVX512 void
cv_ukr_body(const int ROWS, int64_t nch, int64_t K, const float *Ap, int64_t ars, int64_t aks, int64_t ach,
            const float *Bp, int64_t ldb, float *const *segp, const uint32_t *segm, int nseg, int64_t ldm, int acc_in) {
    __m512 c[CV_MR][2];
    for (int r = 0; r < ROWS; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    for (int64_t ch = 0; ch < nch; ch++) { /* K in nch chunks, A chunks ach apart */
        const float *a[CV_MR];
        for (int r = 0; r < ROWS; r++) a[r] = Ap + ch * ach + r * ars;
        for (int64_t k = 0; k < K; k++) {
            const __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
            for (int r = 0; r < ROWS; r++) {
                const __m512 av = _mm512_set1_ps(a[r][k * aks]);
                c[r][0] = _mm512_fmadd_ps(av, b0, c[r][0]);
                c[r][1] = _mm512_fmadd_ps(av, b1, c[r][1]);
            }
            Bp += ldb;
        }
    }
    for (int s = 0; s < nseg; s++) {
        const __mmask16 m0 = (__mmask16)segm[s], m1 = (__mmask16)(segm[s] >> 16);
        for (int r = 0; r < ROWS; r++) {
            float *p = segp[s] + r * ldm;
            __m512 x0 = c[r][0], x1 = c[r][1];
            if (acc_in) {
                x0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, p), x0);
                x1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, p + 16), x1);
            }
            _mm512_mask_storeu_ps(p, m0, x0);
            _mm512_mask_storeu_ps(p + 16, m1, x1);
        }
    }
}

/* Packed A (ars = 1, aks = 8) and row-strided A (aks = 1) versions. */
static CONV_AVX512 void cv_ukr_packed(int rows, int64_t K, const float *Ap, const float *Bp, int64_t ldb,
                                      float *const *segp, const uint32_t *segm, int nseg, int64_t ldm) {
#define CV_P(R) case R: cv_ukr_body(R, 1, K, Ap, 1, CV_MR, 0, Bp, ldb, segp, segm, nseg, ldm, 0); break;
    switch (rows) { CV_P(1) CV_P(2) CV_P(3) CV_P(4) CV_P(5) CV_P(6) CV_P(7) CV_P(8) default: break; }
#undef CV_P
}
/* A in chunks of 32 k: chunk ch, row r, k at A[ch*ach + r*CV_NR + k]. */
static CONV_AVX512 void cv_ukr_chunked(int rows, int64_t nch, const float *A, int64_t ach, const float *Bp, int64_t ldb,
                                       float *const *segp, const uint32_t *segm, int nseg, int64_t ldm, int acc_in) {
#define CV_S(R) case R: cv_ukr_body(R, nch, CV_NR, A, CV_NR, 1, ach, Bp, ldb, segp, segm, nseg, ldm, acc_in); break;
    switch (rows) { CV_S(1) CV_S(2) CV_S(3) CV_S(4) CV_S(5) CV_S(6) CV_S(7) CV_S(8) default: break; }
#undef CV_S
}

/* Prefetches the source lines the panel of grid pixels [g0, g1) will read:
 * the packer's loads are scattered over channels and rows, which the
 * hardware prefetchers miss; issued one panel ahead, they overlap the
 * micro-kernels of the current one. */
static void cv_prefetch(const cv_geo *G, int64_t g0, int64_t g1, cv_run *tmp) {
    int64_t ty0 = 0, ty1 = 0, tx0 = 0, tx1 = 0;
    for (int64_t t = 0; t < G->T; t++) {
        if (t == 0 || G->ty[t] < ty0) ty0 = G->ty[t];
        if (t == 0 || G->ty[t] > ty1) ty1 = G->ty[t];
        if (t == 0 || G->tx[t] < tx0) tx0 = G->tx[t];
        if (t == 0 || G->tx[t] > tx1) tx1 = G->tx[t];
    }
    const int nr = cv_runs(tmp, g0, g1, G->gh, G->gw, CV_NR);
    for (int i = 0; i < nr; i++) {
        const int64_t ya = conv_max(0, tmp[i].gy * G->sg + ty0), yb = conv_min(G->hs - 1, tmp[i].gy * G->sg + ty1);
        const int64_t xa = conv_max(0, tmp[i].gx * G->sg + tx0);
        const int64_t xb = conv_min(G->ws - 1, (tmp[i].gx + tmp[i].len - 1) * G->sg + tx1);
        if (ya > yb || xa > xb) continue;
        const float *base = G->src + tmp[i].b * G->src_b;
        for (int64_t c = 0; c < G->cs; c++)
            for (int64_t y = ya; y <= yb; y++) {
                const char *r = (const char *)(base + c * G->src_c + y * G->ws);
                for (int64_t x = xa * 4 & ~(int64_t)63; x <= xb * 4; x += 64) _mm_prefetch(r + x, _MM_HINT_T0);
            }
    }
}

/* Panels [p0, p1) of geometry G, prefetching the next one if below pf_end.
 * Scratch: Bp (K x 32), ops, start, runs. */
static CONV_AVX512 void cv_panels(const cv_geo *G, int64_t p0, int64_t p1, int64_t pf_end, float *Bp, cv_op *ops, int32_t *start,
                      cv_run *runs) {
    const int64_t total = G->nimg * G->gh * G->gw, K = G->cs * G->T, ghw = G->gh * G->gw;
    const int dense = G->out_x == 1 && G->out_y == G->gw;
    float tile[CV_MR * CV_NR] __attribute__((aligned(64)));
    float *segp[CV_NR + 1];
    uint32_t segm[CV_NR + 1];
    for (int64_t p = p0; p < p1; p++) {
        const int64_t g0 = p * CV_NR, g1 = conv_min(total, g0 + CV_NR);
        if (p + 1 < pf_end) cv_prefetch(G, g1, conv_min(total, g1 + CV_NR), runs);
        const int nr = cv_runs(runs, g0, g1, G->gh, G->gw, G->sg == 1 ? CV_NR : 32 / G->sg);
        cv_ops(ops, start, runs, nr, G);
        cv_pack(Bp, CV_NR, ops, start, G);
        int nseg = 0;
        if (dense) { /* one segment per image: its pixels are contiguous in out */
            for (int64_t g = g0; g < g1;) {
                const int64_t b = g / ghw, q = g - b * ghw, e = conv_min(g1, (b + 1) * ghw);
                const int64_t l0 = g - g0, l1 = e - g0;
                segp[nseg] = G->out + b * G->out_b + q - l0;
                segm[nseg] = (uint32_t)(((1ull << (l1 - l0)) - 1) << l0);
                nseg++;
                g = e;
            }
        }
        for (int64_t m0 = 0; m0 < G->M; m0 += CV_MR) {
            const int rows = (int)conv_min(CV_MR, G->M - m0);
            const float *Ap = G->Ap + m0 * K;
            if (dense) {
                float *sp[CV_NR + 1];
                for (int s = 0; s < nseg; s++) sp[s] = segp[s] + m0 * G->out_m;
                cv_ukr_packed(rows, K, Ap, Bp, CV_NR, sp, segm, nseg, G->out_m);
            } else {
                float *tp = tile;
                const uint32_t all = 0xFFFFFFFFu;
                cv_ukr_packed(rows, K, Ap, Bp, CV_NR, &tp, &all, 1, CV_NR);
                for (int i = 0; i < nr; i++) {
                    float *d = G->out + runs[i].b * G->out_b + m0 * G->out_m + runs[i].gy * G->out_y +
                               runs[i].gx * G->out_x;
                    if (G->out_x == 2) { /* 8 values to the even lanes of 16, masked stores */
                        const __m512i half = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
                        for (int32_t c0 = 0; c0 < runs[i].len; c0 += 8) {
                            const int32_t nv = runs[i].len - c0 < 8 ? runs[i].len - c0 : 8;
                            const __mmask16 m = (__mmask16)(0x5555u & ((1u << (2 * nv)) - 1));
                            const __m512i idx = _mm512_add_epi32(half, _mm512_set1_epi32(runs[i].pos + c0));
                            for (int r = 0; r < rows; r++) {
                                const __m512 t0 = _mm512_load_ps(tile + r * CV_NR), t1 = _mm512_load_ps(tile + r * CV_NR + 16);
                                _mm512_mask_storeu_ps(d + r * G->out_m + 2 * c0, m, _mm512_permutex2var_ps(t0, idx, t1));
                            }
                        }
                        continue;
                    }
                    for (int r = 0; r < rows; r++)
                        for (int32_t l = 0; l < runs[i].len; l++)
                            d[r * G->out_m + l * G->out_x] = tile[r * CV_NR + runs[i].pos + l];
                }
            }
        }
    }
}
#endif

/* Can the implicit GEMM run this shape? (AVX-512, stride <= 2, tap tables fit) */
static int cv_ok(const gg_ctx *ctx, const gg_conv2d_shape *s) {
#if defined(__x86_64__) || defined(__i386__)
    return gg_ctx_isa(ctx) == GG_ISA_AVX512 && s->kh * s->kw <= CV_MAXTAPS && s->stride <= 2;
#else
    (void)ctx; (void)s;
    return 0;
#endif
}

/* Which kernels take the implicit GEMM. Its micro-kernel wants >= 8 output
 * rows (oc forward, c for bwd_data, c*kh*kw for bwd_filter) and a K long
 * enough (>= 64) to amortise packing; thin layers (one input channel, K
 * below 64, e.g. 1x1 32 -> 32) measured as fast or faster on the small-K
 * and per-image paths below. */
#ifndef CV_FORCE /* testing: -DCV_FORCE sends every shape cv_ok accepts to the implicit GEMM */
static int cv_use_fwd(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    return cv_ok(ctx, s) && s->oc >= CV_MR && s->c >= 2 && s->c * s->kh * s->kw >= 64;
}
static int cv_use_bwd_data(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    const int64_t tmax = cv_cdiv(s->kh, s->stride) * cv_cdiv(s->kw, s->stride);
    return cv_ok(ctx, s) && s->c >= CV_MR && s->oc * tmax >= 64;
}
static int cv_use_bwd_filter(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    return cv_ok(ctx, s) && s->c * s->kh * s->kw >= 64 && s->oc >= 16;
}
#endif

/* Per-thread scratch of the panel loop for K rows, T taps (floats). */
static int64_t cv_slot_floats(int64_t K, int64_t T) {
    const int64_t ops = T * (CV_NR + 1) * (int64_t)sizeof(cv_op), start = (T + 1) * 4, runs = (CV_NR + 1) * (int64_t)sizeof(cv_run);
    return conv_round(K * CV_NR) + conv_round((ops + start + runs + 3) / 4) + CONV_ALIGN;
}
static void cv_slot_ptrs(float *base, int64_t K, int64_t T, float **Bp, cv_op **ops, int32_t **start, cv_run **runs) {
    *Bp = base;
    char *q = (char *)(base + conv_round(K * CV_NR));
    *ops = (cv_op *)q;
    q += T * (CV_NR + 1) * sizeof(cv_op);
    *runs = (cv_run *)q;
    q += (CV_NR + 1) * sizeof(cv_run);
    *start = (int32_t *)q;
}

/* Scratch of the implicit-GEMM forward / bwd_data for t threads. */
static int64_t cv_fwd_scratch(const gg_conv2d_shape *s, int t) {
    const int64_t ckk = s->c * s->kh * s->kw, T = s->kh * s->kw;
    return conv_round(cv_cdiv(s->oc, CV_MR) * CV_MR * ckk) + t * cv_slot_floats(ckk, T);
}
static int64_t cv_bwd_data_scratch(const gg_conv2d_shape *s, int t) {
    /* every tap lands in exactly one phase: packed A of all phases <= ceil(c/8)*8 * oc*kh*kw + slack */
    const int64_t S = s->stride, T = s->kh * s->kw;
    const int64_t tmax = cv_cdiv(s->kh, S) * cv_cdiv(s->kw, S);
    return conv_round(cv_cdiv(s->c, CV_MR) * CV_MR * s->oc * T) + S * S * CONV_ALIGN +
           t * cv_slot_floats(s->oc * tmax, conv_max(tmax, 1)) + (T > 0 ? 0 : 0);
}

#if defined(__x86_64__) || defined(__i386__)
static int cv_team(int t, int64_t units) { return t > 1 && units >= 2 * t ? t : 1; }

/* Panels per epilogue call: 8 x 32 pixels of every channel, still in L2. */
#define CV_EP_PANELS 8

/* Thread id of nt: its share of the packed w, a barrier, then its even share
 * of the panels, each group of CV_EP_PANELS followed by the epilogue. */
static void cv_fwd_body(const cv_geo *G, const float *w, float *scr, int64_t K, const conv_ep *ep, int id, int nt) {
    float *Ap = (float *)G->Ap;
    const int64_t mp = cv_cdiv(G->M, CV_MR);
    for (int64_t i = mp * id / nt; i < mp * (id + 1) / nt; i++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t r = 0; r < CV_MR; r++)
                Ap[(i * K + k) * CV_MR + r] = i * CV_MR + r < G->M ? w[(i * CV_MR + r) * K + k] : 0.0f;
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp barrier
    }
#endif
    float *Bp;
    cv_op *ops;
    int32_t *start;
    cv_run *runs;
    cv_slot_ptrs(scr + id * cv_slot_floats(K, G->T), K, G->T, &Bp, &ops, &start, &runs);
    const int64_t total = G->nimg * G->gh * G->gw, np = cv_cdiv(total, CV_NR);
    const int64_t p0 = np * id / nt, p1 = np * (id + 1) / nt;
    if (!ep->prog) {
        cv_panels(G, p0, p1, p1, Bp, ops, start, runs);
        return;
    }
    for (int64_t p = p0; p < p1; p += CV_EP_PANELS) {
        const int64_t pe = conv_min(p1, p + CV_EP_PANELS);
        cv_panels(G, p, pe, p1, Bp, ops, start, runs);
        conv_ep_apply(ep, p * CV_NR, conv_min(total, pe * CV_NR));
    }
}

static gg_status cv_forward(const gg_ctx *ctx, float *y, const float *x, const float *w, const gg_conv2d_shape *s,
                            const conv_ep *ep) {
    const int64_t T = s->kh * s->kw, K = s->c * T;
    int64_t ty[CV_MAXTAPS], tx[CV_MAXTAPS];
    for (int64_t ki = 0; ki < s->kh; ki++)
        for (int64_t kj = 0; kj < s->kw; kj++) {
            ty[ki * s->kw + kj] = ki - s->pad;
            tx[ki * s->kw + kj] = kj - s->pad;
        }
    float *Ap = ctx->scratch, *slots = Ap + conv_round(cv_cdiv(s->oc, CV_MR) * CV_MR * K);
    const cv_geo G = {x, s->c * s->h * s->w, s->h * s->w, s->h, s->w, s->c, s->stride, T, ty, tx,
                      s->n, s->oh, s->ow, y, s->oc * s->oh * s->ow, s->oh * s->ow, s->ow, 1, s->oc, Ap,
                      x + s->n * s->c * s->h * s->w};
    const int nt = cv_team(conv_threads(ctx), cv_cdiv(s->n * s->oh * s->ow, CV_NR));
    if (nt == 1) {
        cv_fwd_body(&G, w, slots, K, ep, 0, 1);
        return GG_OK;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        cv_fwd_body(&G, w, slots, K, ep, omp_get_thread_num(), omp_get_num_threads());
    }
#endif
    return GG_OK;
}

/* bwd_data phases: for ry in [0, S): taps ki with ki = ry + pad (mod S), ty = (ry + pad - ki) / S. */
typedef struct cv_phases {
    int n;
    cv_geo g[4];
    int64_t kis[4], kjs[4]; /* first ki / kj of the phase (steps of S) */
    int64_t nki[4], nkj[4];
    int64_t panels[4];
    int64_t ty[CV_MAXTAPS], tx[CV_MAXTAPS];
} cv_phases;

static void cv_make_phases(cv_phases *ph, float *dx, const float *dy, float *Ap, const gg_conv2d_shape *s) {
    const int64_t S = s->stride, P = s->pad;
    int64_t toff = 0, aoff = 0;
    ph->n = 0;
    for (int64_t ry = 0; ry < S && ry < s->h; ry++)
        for (int64_t rx = 0; rx < S && rx < s->w; rx++) {
            const int i = ph->n++;
            const int64_t ki0 = ((ry + P) % S), kj0 = ((rx + P) % S);
            const int64_t nki = ki0 < s->kh ? (s->kh - ki0 + S - 1) / S : 0;
            const int64_t nkj = kj0 < s->kw ? (s->kw - kj0 + S - 1) / S : 0;
            int64_t *ty = ph->ty + toff, *tx = ph->tx + toff;
            for (int64_t a = 0; a < nki; a++)
                for (int64_t b = 0; b < nkj; b++) {
                    ty[a * nkj + b] = (ry + P - (ki0 + a * S)) / S;
                    tx[a * nkj + b] = (rx + P - (kj0 + b * S)) / S;
                }
            const int64_t T = nki * nkj, gh = (s->h - ry + S - 1) / S, gw = (s->w - rx + S - 1) / S;
            ph->kis[i] = ki0;
            ph->kjs[i] = kj0;
            ph->nki[i] = nki;
            ph->nkj[i] = nkj;
            const cv_geo G = {dy, s->oc * s->oh * s->ow, s->oh * s->ow, s->oh, s->ow, s->oc, 1, T, ty, tx,
                              s->n, gh, gw, dx + ry * s->w + rx, s->c * s->h * s->w, s->h * s->w, S * s->w, S,
                              s->c, Ap + aoff, dy + s->n * s->oc * s->oh * s->ow};
            ph->g[i] = G;
            ph->panels[i] = cv_cdiv(s->n * gh * gw, CV_NR);
            toff += T;
            aoff += conv_round(cv_cdiv(s->c, CV_MR) * CV_MR * s->oc * T);
        }
}

static void cv_bwd_data_body(const cv_phases *ph, const float *w, const gg_conv2d_shape *s, float *scr, int id, int nt) {
    const int64_t mp = cv_cdiv(s->c, CV_MR), KH = s->kh, KW = s->kw, S = s->stride, C = s->c;
    for (int64_t i = mp * id / nt; i < mp * (id + 1) / nt; i++)
        for (int q = 0; q < ph->n; q++) {
            const int64_t T = ph->nki[q] * ph->nkj[q], K = s->oc * T;
            float *Ap = (float *)ph->g[q].Ap + i * K * CV_MR;
            for (int64_t o = 0; o < s->oc; o++)
                for (int64_t a = 0; a < ph->nki[q]; a++)
                    for (int64_t b = 0; b < ph->nkj[q]; b++) {
                        const int64_t ki = ph->kis[q] + a * S, kj = ph->kjs[q] + b * S;
                        float *d = Ap + (o * T + a * ph->nkj[q] + b) * CV_MR;
                        for (int64_t r = 0; r < CV_MR; r++) {
                            const int64_t ci = i * CV_MR + r;
                            d[r] = ci < C ? w[((o * C + ci) * KH + ki) * KW + kj] : 0.0f;
                        }
                    }
        }
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp barrier
    }
#endif
    const int64_t tmax = cv_cdiv(KH, S) * cv_cdiv(KW, S);
    float *Bp;
    cv_op *ops;
    int32_t *start;
    cv_run *runs;
    cv_slot_ptrs(scr + id * cv_slot_floats(s->oc * tmax, conv_max(tmax, 1)), s->oc * tmax, conv_max(tmax, 1), &Bp, &ops,
                 &start, &runs);
    /* Panel p of every phase in turn: the phases interleave in dx, so its
     * lines are written while in cache. Threads take ranges of p. The phases
     * read nearly the same dy around panel p, so only the first prefetches
     * the next panel (prefetching from every phase cost more than it saved). */
    int64_t np = 0;
    for (int q = 0; q < ph->n; q++) np = conv_max(np, ph->panels[q]);
    const int64_t lo = np * id / nt, hi = np * (id + 1) / nt;
    for (int64_t p = lo; p < hi; p++)
        for (int q = 0; q < ph->n; q++) {
            const cv_geo *G = &ph->g[q];
            if (p >= ph->panels[q]) continue;
            if (G->T > 0) {
                cv_panels(G, p, p + 1, q == 0 ? conv_min(hi, ph->panels[q]) : 0, Bp, ops, start, runs);
            } else { /* no tap reaches this phase: zeros */
                const int64_t ghw = G->gh * G->gw, g1 = conv_min((p + 1) * CV_NR, G->nimg * ghw);
                for (int64_t g = p * CV_NR; g < g1; g++) {
                    const int64_t bi = g / ghw, qq = g - bi * ghw, gy = qq / G->gw, gx = qq - gy * G->gw;
                    float *d = G->out + bi * G->out_b + gy * G->out_y + gx * G->out_x;
                    for (int64_t m = 0; m < G->M; m++) d[m * G->out_m] = 0.0f;
                }
            }
        }
}

static gg_status cv_bwd_data(const gg_ctx *ctx, float *dx, const float *dy, const float *w, const gg_conv2d_shape *s,
                              const conv_ep *ep) {
    cv_phases ph;
    cv_make_phases(&ph, dx, dy, ctx->scratch, s);
    const int64_t S = s->stride, T = s->kh * s->kw;
    float *slots = ctx->scratch + conv_round(cv_cdiv(s->c, CV_MR) * CV_MR * s->oc * T) + S * S * CONV_ALIGN;
    int64_t np = 0;
    for (int q = 0; q < ph.n; q++) np = conv_max(np, ph.panels[q]);
    const int nt = cv_team(conv_threads(ctx), np);
    /* The phases interleave in dx, so a pixel is finished only when every
     * phase's panels are: the epilogue waits for the team, then takes even
     * shares (close to what each thread just wrote). */
    const int64_t pixels = s->n * s->h * s->w;
    if (nt == 1) {
        cv_bwd_data_body(&ph, w, s, slots, 0, 1);
        conv_ep_apply(ep, 0, pixels);
        return GG_OK;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        const int id = omp_get_thread_num(), team = omp_get_num_threads();
        cv_bwd_data_body(&ph, w, s, slots, id, team);
        if (ep->prog) {
#pragma omp barrier
            conv_ep_apply(ep, pixels * id / team, pixels * (id + 1) / team);
        }
    }
#endif
    return GG_OK;
}
#endif


#if defined(__x86_64__) || defined(__i386__)
/* bwd_filter: pixels per block (a multiple of 32) so that the col block stays near 512 KiB. */
static int64_t cv_wf_kb(const gg_conv2d_shape *s) {
    const int64_t ckk = s->c * s->kh * s->kw;
    int64_t kb = (int64_t)CV_WF_FLOATS / ckk / CV_NR * CV_NR;
    return conv_max(CV_NR, conv_min(kb, 1024));
}
static int64_t cv_wf_slot(const gg_conv2d_shape *s) {
    const int64_t ckk = s->c * s->kh * s->kw, kb = cv_wf_kb(s), ocp = cv_cdiv(s->oc, CV_NR) * CV_NR;
    return conv_round(ckk * kb) + conv_round(kb * ocp) + conv_round(ckk * ocp) + cv_slot_floats(0, s->kh * s->kw);
}

/* Images [b0, b1) -> dwp (oc, ckk), their sum: blocks of kb pixels, each
 * dwT (ckk, ocp) (+)= col_blk (ckk, kb) * dyT_blk (kb, ocp), then dwp = dwT^T. */
static CONV_AVX512 void cv_wf_chunk(const cv_geo *G, float *slot, float *dwp, const float *dy, int64_t b0, int64_t b1,
                                    const gg_conv2d_shape *s) {
    const int64_t ckk = s->c * s->kh * s->kw, kb = cv_wf_kb(s), ocp = cv_cdiv(s->oc, CV_NR) * CV_NR;
    const int64_t ohw = s->oh * s->ow, ys = s->oc * ohw, T = s->kh * s->kw;
    float *col = slot, *dyT = col + conv_round(ckk * kb), *dwT = dyT + conv_round(kb * ocp);
    float *unusedB;
    cv_op *ops;
    int32_t *start;
    cv_run *runs;
    cv_slot_ptrs(dwT + conv_round(ckk * ocp), 0, T, &unusedB, &ops, &start, &runs);
    const int64_t p0 = b0 * ohw, p1 = b1 * ohw;
    float tmp[CV_NR] __attribute__((aligned(64)));
    for (int64_t k0 = p0; k0 < p1; k0 += kb) {
        const int64_t k1 = conv_min(p1, k0 + kb), npp = cv_cdiv(k1 - k0, CV_NR);
        for (int64_t pp = 0; pp < npp; pp++) {
            const int64_t g0 = k0 + pp * CV_NR, g1 = conv_min(k1, g0 + CV_NR);
            const int nr = cv_runs(runs, g0, g1, G->gh, G->gw, G->sg == 1 ? CV_NR : 32 / G->sg);
            cv_ops(ops, start, runs, nr, G);
            cv_pack(col + pp * ckk * CV_NR, CV_NR, ops, start, G);
            /* dy rows of these pixels, transposed into dyT */
            for (int64_t o = 0; o < s->oc; o++) {
                __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
                for (int64_t g = g0; g < g1;) {
                    const int64_t b = g / ohw, q = g - b * ohw, e = conv_min(g1, (b + 1) * ohw);
                    const int64_t l0 = g - g0, l1 = e - g0;
                    const uint32_t m = (uint32_t)(((1ull << (l1 - l0)) - 1) << l0);
                    const float *src = dy + b * ys + o * ohw + q - l0;
                    if ((__mmask16)m) v0 = _mm512_mask_loadu_ps(v0, (__mmask16)m, src);
                    if ((__mmask16)(m >> 16)) v1 = _mm512_mask_loadu_ps(v1, (__mmask16)(m >> 16), src + 16);
                    g = e;
                }
                _mm512_store_ps(tmp, v0);
                _mm512_store_ps(tmp + 16, v1);
                float *d = dyT + pp * CV_NR * ocp + o;
                for (int l = 0; l < CV_NR; l++) d[l * ocp] = tmp[l];
            }
        }
        /* pixels past k1 are zero in col and dyT; while the block computes,
         * fetch the next block's x and dy (the packer's reads are scattered) */
        const int64_t k2 = conv_min(p1, k1 + kb);
        for (int64_t g = k1; g < k2; g += CV_NR) cv_prefetch(G, g, conv_min(k2, g + CV_NR), runs);
        for (int64_t g = k1; g < k2;) {
            const int64_t b = g / ohw, q = g - b * ohw, e = conv_min(k2, (b + 1) * ohw);
            for (int64_t o = 0; o < s->oc; o++) {
                const char *r = (const char *)(dy + b * ys + o * ohw);
                for (int64_t xb = q * 4 & ~(int64_t)63; xb < (e - b * ohw) * 4; xb += 64) _mm_prefetch(r + xb, _MM_HINT_T0);
            }
            g = e;
        }
        const int acc = k0 != p0;
        for (int64_t n0 = 0; n0 < s->oc; n0 += CV_NR) {
            const int64_t nn = conv_min(CV_NR, s->oc - n0);
            for (int64_t m0 = 0; m0 < ckk; m0 += CV_MR) {
                const int rows = (int)conv_min(CV_MR, ckk - m0);
                float *sp = dwT + m0 * ocp + n0;
                const uint32_t m = nn >= 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << nn) - 1);
                cv_ukr_chunked(rows, npp, col + m0 * CV_NR, ckk * CV_NR, dyT + n0, ocp, &sp, &m, 1, ocp, acc);
            }
        }
    }
    for (int64_t o = 0; o < s->oc; o++)
        for (int64_t k = 0; k < ckk; k++) dwp[o * ckk + k] = dwT[k * ocp + o];
}

static gg_status cv_bwd_filter(const gg_ctx *ctx, float *dw, const float *x, const float *dy, const gg_conv2d_shape *s) {
    const int64_t T = s->kh * s->kw, wsz = s->oc * s->c * T, n = s->n;
    const int64_t chunks = conv_min(n, CONV_WCHUNKS);
    int64_t ty[CV_MAXTAPS], tx[CV_MAXTAPS];
    for (int64_t ki = 0; ki < s->kh; ki++)
        for (int64_t kj = 0; kj < s->kw; kj++) {
            ty[ki * s->kw + kj] = ki - s->pad;
            tx[ki * s->kw + kj] = kj - s->pad;
        }
    const cv_geo G = {x, s->c * s->h * s->w, s->h * s->w, s->h, s->w, s->c, s->stride, T, ty, tx,
                      s->n, s->oh, s->ow, 0, 0, 0, 0, 0, 0, 0, x + s->n * s->c * s->h * s->w};
    const int t = conv_threads(ctx), nt = t > 1 && chunks >= t ? t : 1;
    const int64_t slot = cv_wf_slot(s), pstride = conv_round(wsz);
    float *partials = ctx->scratch + t * slot;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (int64_t j = 0; j < chunks; j++) {
        int id = 0;
#ifdef _OPENMP
        id = omp_get_thread_num();
#endif
        cv_wf_chunk(&G, ctx->scratch + id * slot, j == 0 ? dw : partials + (j - 1) * pstride, dy, n * j / chunks,
                    n * (j + 1) / chunks, s);
    }
    if (chunks < 2) return GG_OK;
    const int rt = t > 1 && wsz * chunks >= (1 << 16) ? t : 1;
    (void)rt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(rt) schedule(static) if (rt > 1)
#endif
    for (int64_t i = 0; i < wsz; i++) {
        float a = dw[i];
        for (int64_t j = 1; j < chunks; j++) a += partials[(j - 1) * pstride + i];
        dw[i] = a;
    }
    return GG_OK;
}
#endif
static int64_t cv_bwd_filter_scratch(const gg_conv2d_shape *s, int t) {
    const int64_t chunks = conv_min(s->n, CONV_WCHUNKS);
    return t * cv_wf_slot(s) + (chunks > 1 ? (chunks - 1) * conv_round(s->oc * s->c * s->kh * s->kw) : 0);
}

/* ---- forward ---- */

/* x_b: (c, h, w), w: (oc, c*kh*kw) -> y_b: (oc, oh*ow) */
static gg_status conv_fwd_image(const gg_ctx *g, float *col, float *yb, const float *xb, const float *w,
                                const gg_conv2d_shape *s) {
    const int64_t ckk = s->c * s->kh * s->kw, ohw = s->oh * s->ow;
    const float *b = xb;
    if (!conv_pointwise(s)) {
        im2col(col, ohw, xb, s);
        b = col;
    }
    if (ckk <= CONV_SMALLK) {
        smallk(g, yb, ohw, w, ckk, 1, b, ohw, s->oc, ohw, ckk);
        return GG_OK;
    }
    return gg_gemm_f32(g, yb, ohw, w, ckk, 0, b, ohw, 0, s->oc, ohw, ckk, 1.0f, 0.0f);
}

/* One image's forward or data gradient: out_b from in_b and w, using col. */
typedef gg_status (*conv_image_fn)(const gg_ctx *g, float *col, float *out_b, const float *in_b, const float *w,
                                   const gg_conv2d_shape *s);

/* Runs `image` over the batch as the plan says: images one after another with
 * every thread inside the GEMM, or whole images per thread with one-thread
 * GEMMs (never nested OpenMP regions). */
static gg_status conv_each_image(const conv_plan *p, const gg_ctx *ctx, conv_image_fn image,
                                 float *out, int64_t out_stride, const float *in, int64_t in_stride,
                                 const float *w, const gg_conv2d_shape *s, const conv_ep *ep) {
    int err = GG_OK;
    const int64_t hw = ep->h * ep->w;
    if (p->workers == 1) {
        float *col, *unused;
        gg_ctx g;
        conv_slot(p, ctx, 0, &col, &unused, &g);
        for (int64_t b = 0; b < s->n && err == GG_OK; b++) {
            err = image(&g, col, out + b * out_stride, in + b * in_stride, w, s);
            if (err == GG_OK) conv_ep_apply(ep, b * hw, (b + 1) * hw);
        }
        return (gg_status)err;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(p->workers) reduction(max : err)
    {
        float *col, *unused;
        gg_ctx g;
        conv_slot(p, ctx, omp_get_thread_num(), &col, &unused, &g);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < s->n; b++) {
            int e = image(&g, col, out + b * out_stride, in + b * in_stride, w, s);
            if (e == GG_OK) conv_ep_apply(ep, b * hw, (b + 1) * hw);
            if (e > err) err = e;
        }
    }
#endif
    return (gg_status)err;
}

/* Floats of scratch one thread's epilogue share needs (64-byte multiple). */
static int64_t conv_ep_share(const gg_ctx *ctx, const gg_fprogram *ep) {
    gg_ctx one = {1, ctx->isa, 0, 0};
    return conv_round(gg_fused_f32_scratch(&one, ep));
}

int64_t gg_conv2d_ep_f32_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    const int64_t need = gg_conv2d_f32_scratch(ctx, s);
    if (ctx == 0 || !epilogue) return need;
    return conv_round(need) + conv_threads(ctx) * conv_ep_share(ctx, epilogue);
}

/* Checks an epilogue against the output (n, c, h, w) and places its scratch
 * shares after the convolution's. */
static gg_status conv_ep_make(conv_ep *e, const gg_ctx *ctx, const gg_conv2d_shape *s, const gg_fprogram *prog,
                              int64_t c, int64_t h, int64_t w) {
    memset(e, 0, sizeof *e);
    e->c = c;
    e->h = h;
    e->w = w;
    if (!prog) return GG_OK;
    if (gg__fused_validate(prog, 0) != GG_OK || prog->post || prog->rank != 4 || prog->shape[0] != s->n ||
        prog->shape[1] != c || prog->shape[2] != h || prog->shape[3] != w)
        return GG_ERR_ARG;
    const int64_t need = gg_conv2d_ep_f32_scratch(ctx, s, prog);
    if (ctx->scratch_len < need || ctx->scratch == 0) return GG_ERR_SCRATCH;
    e->prog = prog;
    const int nops = prog->ninputs + prog->noutputs;
    e->merged = nops <= CONV_EP_MAXOPS;
    for (int k = 0; k < nops && e->merged; k++) {
        const int64_t *st = k < prog->ninputs ? prog->in_strides + 4 * k : prog->out_strides + 4 * (k - prog->ninputs);
        e->merged = st[2] == st[3] * w;
        e->flat_strides[3 * k] = st[0];
        e->flat_strides[3 * k + 1] = st[1];
        e->flat_strides[3 * k + 2] = st[3];
    }
    if (e->merged) {
        e->flat = *prog;
        e->flat.rank = 3;
        e->flat_shape[0] = s->n;
        e->flat_shape[1] = c;
        e->flat_shape[2] = h * w;
        e->flat.shape = e->flat_shape;
        e->flat.in_strides = e->flat_strides;
        e->flat.out_strides = e->flat_strides + 3 * prog->ninputs;
        e->prog = &e->flat;
    }
    e->share = conv_ep_share(ctx, prog);
    e->scratch = ctx->scratch + conv_round(gg_conv2d_f32_scratch(ctx, s));
    e->isa = ctx->isa;
    return GG_OK;
}

/* x: (n, c, h, w), w: (oc, c, kh, kw) -> y: (n, oc, oh, ow), then the epilogue over y */
gg_status gg_conv2d_ep_f32(const gg_ctx *ctx, float *y, const float *x, const float *w,
                           const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    if (ctx == 0 || !conv_shape_ok(s)) return GG_ERR_ARG;
    conv_plan p;
    conv_make_plan(&p, ctx, s, CONV_FWD);
    if (!conv_scratch_ok(ctx, s)) return GG_ERR_SCRATCH;
    conv_ep ep;
    gg_status st = conv_ep_make(&ep, ctx, s, epilogue, s->oc, s->oh, s->ow);
    if (st != GG_OK) return st;
#if defined(__x86_64__) || defined(__i386__)
    if (cv_use_fwd(ctx, s)) return cv_forward(ctx, y, x, w, s, &ep);
#endif
    const int64_t xs = s->c * s->h * s->w, ys = s->oc * s->oh * s->ow;
    return conv_each_image(&p, ctx, conv_fwd_image, y, ys, x, xs, w, s, &ep);
}

gg_status gg_conv2d_f32(const gg_ctx *ctx, float *y, const float *x, const float *w,
                        const gg_conv2d_shape *s) {
    return gg_conv2d_ep_f32(ctx, y, x, w, s, 0);
}

/* ---- backward w.r.t. the input ---- */

/* dy_b: (oc, oh*ow), w: (oc, c*kh*kw) -> dx_b: (c, h, w) */
static gg_status conv_bwd_data_image(const gg_ctx *g, float *col, float *dxb, const float *dyb,
                                     const float *w, const gg_conv2d_shape *s) {
    const int64_t ckk = s->c * s->kh * s->kw, ohw = s->oh * s->ow;
    float *out = conv_pointwise(s) ? dxb : col; /* 1x1: dx_b (c, h*w) = w^T dy_b directly */
    if (s->oc <= CONV_SMALLK) {
        smallk(g, out, ohw, w, 1, ckk, dyb, ohw, ckk, ohw, s->oc);
        if (out == col) col2im(dxb, col, s);
        return GG_OK;
    }
    if (conv_pointwise(s))
        return gg_gemm_f32(g, dxb, ohw, w, ckk, 1, dyb, ohw, 0, ckk, ohw, s->oc, 1.0f, 0.0f);
    gg_status e = gg_gemm_f32(g, col, ohw, w, ckk, 1, dyb, ohw, 0, ckk, ohw, s->oc, 1.0f, 0.0f);
    if (e == GG_OK) col2im(dxb, col, s);
    return e;
}

/* dy: (n, oc, oh, ow), w: (oc, c, kh, kw) -> dx: (n, c, h, w), then the epilogue over dx */
gg_status gg_conv2d_bwd_data_ep_f32(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                    const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    if (ctx == 0 || !conv_shape_ok(s)) return GG_ERR_ARG;
    conv_plan p;
    conv_make_plan(&p, ctx, s, CONV_BWD_DATA);
    if (!conv_scratch_ok(ctx, s)) return GG_ERR_SCRATCH;
    conv_ep ep;
    gg_status st = conv_ep_make(&ep, ctx, s, epilogue, s->c, s->h, s->w);
    if (st != GG_OK) return st;
#if defined(__x86_64__) || defined(__i386__)
    if (cv_use_bwd_data(ctx, s)) return cv_bwd_data(ctx, dx, dy, w, s, &ep);
#endif
    const int64_t xs = s->c * s->h * s->w, ys = s->oc * s->oh * s->ow;
    return conv_each_image(&p, ctx, conv_bwd_data_image, dx, xs, dy, ys, w, s, &ep);
}

gg_status gg_conv2d_bwd_data_f32(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                 const gg_conv2d_shape *s) {
    return gg_conv2d_bwd_data_ep_f32(ctx, dx, dy, w, s, 0);
}

/* ---- backward w.r.t. the filter ---- */

/* Images [b0, b1) of x: (n, c, h, w) and dy: (n, oc, oh, ow) -> dwp: (oc, c*kh*kw),
 * their sum, in GEMMs of p->group images each (first one overwrites, later ones add). */
static gg_status conv_bwd_filter_chunk(const conv_plan *p, const gg_ctx *g, float *col, float *dycat,
                                       float *dwp, const float *x, const float *dy, int64_t b0, int64_t b1,
                                       const gg_conv2d_shape *s) {
    const int64_t ckk = s->c * s->kh * s->kw, ohw = s->oh * s->ow;
    const int64_t xs = s->c * s->h * s->w, ys = s->oc * ohw;
    for (int64_t b = b0; b < b1; b += p->group) {
        const int64_t nb = conv_min(p->group, b1 - b), K = nb * ohw;
        const float beta = b == b0 ? 0.0f : 1.0f;
        gg_status e;
        if (p->group == 1) { /* dw (oc, ckk) += dy_b (oc, ohw) * col_b^T, col_b (ckk, ohw) */
            const float *cb = x + b * xs;
            if (!conv_pointwise(s)) {
                im2col(col, ohw, x + b * xs, s);
                cb = col;
            }
            e = gg_gemm_f32(g, dwp, ckk, dy + b * ys, ohw, 0, cb, ohw, 1, s->oc, ckk, ohw, 1.0f, beta);
        } else { /* the nb images side by side along K: col (ckk, K), dycat (oc, K) */
            for (int64_t j = 0; j < nb; j++) {
                im2col(col + j * ohw, K, x + (b + j) * xs, s);
                for (int64_t o = 0; o < s->oc; o++)
                    memcpy(dycat + o * K + j * ohw, dy + (b + j) * ys + o * ohw, (size_t)ohw * sizeof(float));
            }
#if defined(__x86_64__) || defined(__i386__)
            if (ckk <= CONV_SMALLK && gg_ctx_isa(g) == GG_ISA_AVX512) {
                dots_avx512(dwp, ckk, dycat, K, col, K, s->oc, ckk, K, beta != 0.0f);
                continue;
            }
#endif
            e = gg_gemm_f32(g, dwp, ckk, dycat, K, 0, col, K, 1, s->oc, ckk, K, 1.0f, beta);
        }
        if (e != GG_OK) return e;
    }
    return GG_OK;
}

/* x: (n, c, h, w), dy: (n, oc, oh, ow) -> dw: (oc, c, kh, kw)
 * Chunk j holds images [n*j/chunks, n*(j+1)/chunks); chunk 0 sums into dw, the
 * others into partials that are then added to dw in chunk order. */
gg_status gg_conv2d_bwd_filter_f32(const gg_ctx *ctx, float *dw, const float *x, const float *dy,
                                   const gg_conv2d_shape *s) {
    if (ctx == 0 || !conv_shape_ok(s)) return GG_ERR_ARG;
    conv_plan p;
    conv_make_plan(&p, ctx, s, CONV_BWD_FILTER);
    if (!conv_scratch_ok(ctx, s)) return GG_ERR_SCRATCH;
    const int64_t wsz = s->oc * s->c * s->kh * s->kw, n = s->n, chunks = p.chunks;
    if (n == 0) {
        memset(dw, 0, (size_t)wsz * sizeof(float));
        return GG_OK;
    }
#if defined(__x86_64__) || defined(__i386__)
    if (cv_use_bwd_filter(ctx, s)) return cv_bwd_filter(ctx, dw, x, dy, s);
#endif
    float *partials = ctx->scratch + p.workers * p.slot;
    const int64_t pstride = conv_round(wsz);
    int err = GG_OK;
    if (p.workers == 1) {
        float *col, *dycat;
        gg_ctx g;
        conv_slot(&p, ctx, 0, &col, &dycat, &g);
        for (int64_t j = 0; j < chunks && err == GG_OK; j++) {
            float *dwp = j == 0 ? dw : partials + (j - 1) * pstride;
            err = conv_bwd_filter_chunk(&p, &g, col, dycat, dwp, x, dy, n * j / chunks, n * (j + 1) / chunks, s);
        }
    }
#ifdef _OPENMP
    else {
#pragma omp parallel num_threads(p.workers) reduction(max : err)
        {
            float *col, *dycat;
            gg_ctx g;
            conv_slot(&p, ctx, omp_get_thread_num(), &col, &dycat, &g);
#pragma omp for schedule(static)
            for (int64_t j = 0; j < chunks; j++) {
                float *dwp = j == 0 ? dw : partials + (j - 1) * pstride;
                int e = conv_bwd_filter_chunk(&p, &g, col, dycat, dwp, x, dy, n * j / chunks,
                                              n * (j + 1) / chunks, s);
                if (e > err) err = e;
            }
        }
    }
#endif
    if (err != GG_OK || chunks < 2) return (gg_status)err;
    /* dw[i] = ((dw[i] + part_1[i]) + part_2[i]) + ..., elementwise, so any split is exact. */
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
    return GG_OK;
}
