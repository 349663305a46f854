/*
 * gg_conv_im2col.c: the per-image method of the convolution kernels, for any
 * shape and ISA (gg_conv.c sends here what the implicit GEMM does not take).
 * Each image is lowered to col (c*kh*kw, oh*ow) (im2col) and the convolution
 * becomes a GEMM with w viewed as (oc, c*kh*kw):
 *   forward     y_b  = w * col_b
 *   bwd_data    col  = w^T * dy_b, then scattered back into dx_b (col2im)
 *   bwd_filter  dw   = sum_b dy_b * col_b^T
 * 1x1, stride-1, unpadded convolutions use x itself as col; small K goes
 * through direct loops (AVX-512 or portable). Threads: whole images (or
 * bwd_filter chunks) per thread with one-thread GEMMs, or all threads in one
 * GEMM; bwd_filter sums the batch in chunks fixed by n alone, combined in
 * chunk order. The epilogue runs per finished image (one chunk of its
 * reductions).
 */
#include "gg_conv_internal.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define CONV_WGROUP_FLOATS (1 << 19) /* bwd_filter: lowered floats per GEMM (sets images per GEMM) */

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

/* Worker `id`'s buffers. */
static void conv_slot(const conv_plan *p, const gg_ctx *ctx, int id, float **col, float **dycat, gg_ctx *g) {
    float *base = ctx->scratch + (int64_t)id * p->slot;
    *col = base;
    *dycat = base + conv_round(p->col);
    *g = p->gemm;
    g->scratch = base + conv_round(p->col) + conv_round(p->dycat);
    g->scratch_len = p->gemm_scr;
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

#if GG__X86
#include <immintrin.h>

/* Rows [i, i+mr) (mr <= 4), all columns, 32 at a time (masked tail). */
static inline __attribute__((always_inline)) GG__TGT_AVX512 void
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

static GG__TGT_AVX512 void smallk_avx512(float *C, int64_t ldc, const float *A, int64_t sai, int64_t sar,
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
static GG__TGT_AVX512 void dots_avx512(float *C, int64_t ldc, const float *A, int64_t lda, const float *B,
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

/* AVX2: rows [i, i+mr) (mr <= 6), 16 columns at a time (masked tail): 12
 * accumulator chains, enough to hide the FMA latency (the portable loop had
 * run dcgan's first layer at 16% of the FMA peak). */
static inline __attribute__((always_inline)) GG__TGT_AVX2 void
smallk_rows_avx2(float *C, int64_t ldc, const float *A, int64_t sai, int64_t sar, const float *B, int64_t ldb,
                 int64_t N, int64_t K, const int mr) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t j = 0; j < N; j += 16) {
        const int64_t left = N - j;
        const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)conv_min(left, 8)), lane);
        const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)conv_min(left - 8 < 0 ? 0 : left - 8, 8)), lane);
        __m256 acc[6][2];
        for (int ii = 0; ii < mr; ii++) acc[ii][0] = acc[ii][1] = _mm256_setzero_ps();
        for (int64_t r = 0; r < K; r++) {
            const float *b = B + r * ldb + j;
            const __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
            for (int ii = 0; ii < mr; ii++) {
                const __m256 a = _mm256_set1_ps(A[ii * sai + r * sar]);
                acc[ii][0] = _mm256_fmadd_ps(a, b0, acc[ii][0]);
                acc[ii][1] = _mm256_fmadd_ps(a, b1, acc[ii][1]);
            }
        }
        for (int ii = 0; ii < mr; ii++) {
            _mm256_maskstore_ps(C + ii * ldc + j, m0, acc[ii][0]);
            _mm256_maskstore_ps(C + ii * ldc + j + 8, m1, acc[ii][1]);
        }
    }
}

static GG__TGT_AVX2 void smallk_avx2(float *C, int64_t ldc, const float *A, int64_t sai, int64_t sar,
                                     const float *B, int64_t ldb, int64_t M, int64_t N, int64_t K) {
    int64_t i = 0;
    for (; i + 6 <= M; i += 6) smallk_rows_avx2(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 6);
    switch (M - i) {
    case 5: smallk_rows_avx2(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 5); break;
    case 4: smallk_rows_avx2(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 4); break;
    case 3: smallk_rows_avx2(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 3); break;
    case 2: smallk_rows_avx2(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 2); break;
    case 1: smallk_rows_avx2(C + i * ldc, ldc, A + i * sai, sai, sar, B, ldb, N, K, 1); break;
    default: break;
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
#if GG__X86
    if (gg_ctx_isa(g) == GG_ISA_AVX512) {
        smallk_avx512(C, ldc, A, sai, sar, B, ldb, M, N, K);
        return;
    }
    if (gg_ctx_isa(g) == GG_ISA_AVX2) {
        smallk_avx2(C, ldc, A, sai, sar, B, ldb, M, N, K);
        return;
    }
#endif
    (void)g;
    smallk_portable(C, ldc, A, sai, sar, B, ldb, M, N, K);
}

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
            if (err == GG_OK) gg__conv_ep_apply(ep, b * hw, (b + 1) * hw);
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
            if (e == GG_OK) gg__conv_ep_apply(ep, b * hw, (b + 1) * hw);
            if (e > err) err = e;
        }
    }
#endif
    return (gg_status)err;
}

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
#if GG__X86
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

int64_t gg__conv_im2col_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s, int kind) {
    conv_plan p;
    conv_make_plan(&p, ctx, s, kind);
    return p.total;
}

/* Chunk j holds images [n*j/chunks, n*(j+1)/chunks); chunk 0 sums into dw, the
 * others into partials that are then added to dw in chunk order. n >= 1. */
static gg_status conv_bwd_filter(const conv_plan *p, const gg_ctx *ctx, float *dw, const float *x, const float *dy,
                                 const gg_conv2d_shape *s) {
    const int64_t wsz = s->oc * s->c * s->kh * s->kw, n = s->n, chunks = p->chunks;
    float *partials = ctx->scratch + p->workers * p->slot;
    const int64_t pstride = conv_round(wsz);
    int err = GG_OK;
    if (p->workers == 1) {
        float *col, *dycat;
        gg_ctx g;
        conv_slot(p, ctx, 0, &col, &dycat, &g);
        for (int64_t j = 0; j < chunks && err == GG_OK; j++) {
            float *dwp = j == 0 ? dw : partials + (j - 1) * pstride;
            err = conv_bwd_filter_chunk(p, &g, col, dycat, dwp, x, dy, n * j / chunks, n * (j + 1) / chunks, s);
        }
    }
#ifdef _OPENMP
    else {
#pragma omp parallel num_threads(p->workers) reduction(max : err)
        {
            float *col, *dycat;
            gg_ctx g;
            conv_slot(p, ctx, omp_get_thread_num(), &col, &dycat, &g);
#pragma omp for schedule(static)
            for (int64_t j = 0; j < chunks; j++) {
                float *dwp = j == 0 ? dw : partials + (j - 1) * pstride;
                int e = conv_bwd_filter_chunk(p, &g, col, dycat, dwp, x, dy, n * j / chunks,
                                              n * (j + 1) / chunks, s);
                if (e > err) err = e;
            }
        }
    }
#endif
    if (err != GG_OK || chunks < 2) return (gg_status)err;
    gg__conv_add_chunks(ctx, dw, partials, wsz, chunks, pstride);
    return GG_OK;
}

gg_status gg__conv_im2col(const gg_ctx *ctx, int kind, float *out, const float *a, const float *b,
                          const gg_conv2d_shape *s, const conv_ep *ep) {
    conv_plan p;
    conv_make_plan(&p, ctx, s, kind);
    const int64_t xs = s->c * s->h * s->w, ys = s->oc * s->oh * s->ow;
    switch (kind) {
    case CONV_FWD: return conv_each_image(&p, ctx, conv_fwd_image, out, ys, a, xs, b, s, ep);
    case CONV_BWD_DATA: return conv_each_image(&p, ctx, conv_bwd_data_image, out, xs, a, ys, b, s, ep);
    default: return conv_bwd_filter(&p, ctx, out, a, b, s);
    }
}
