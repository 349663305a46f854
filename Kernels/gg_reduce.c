/*
 * gg_reduce.c: y (outer, inner) = sum or max over the middle axis of a
 * contiguous x (outer, n, inner).
 * Summation order is fixed by (n, inner) alone, never by threads or ISA:
 *   inner == 1: each row is cut into chunks of RCHUNK floats; a chunk is
 *     summed in LANES interleaved float accumulators combined by a fixed
 *     pairwise tree; chunk sums are added to the total in index order.
 *   inner > 1:  columns are processed in tiles of CTILE; rows are cut into
 *     chunks of CROWS, each summed sequentially per column, and the chunk
 *     sums are added to the total in index order.
 * Threads take whole rows/tiles when there are enough, otherwise the chunks
 * of one row/tile (their partials live on the stack and are combined in
 * order), so 1 and 2 threads give bit-identical sums. Max propagates NaN;
 * n == 0 gives 0 (sum) or -inf (max). No scratch, no allocation.
 */
#include "gg_kernels.h"
#include "gg_internal.h"

#include <math.h>

#define RCHUNK 4096   /* floats per chunk of a contiguous row */
#define LANES 64      /* interleaved accumulators within a row chunk */
#define RSUPER 256    /* row chunks per parallel super-block */
#define CTILE 256     /* columns per tile when inner > 1 */
#define CROWS 256     /* rows per chunk when inner > 1 */
#define CSUPER 16     /* column chunks per parallel super-block */

/* max that keeps a NaN once seen (either side) */
GG__INLINE float nmax(float m, float v) { return (v > m || v != v) ? v : m; }

/* ---- per-ISA chunk kernels ---- */

GG__INLINE float row_chunk_body(const float *x, int64_t n, int op) {
    float acc[LANES];
    float init = op == GG_REDUCE_SUM ? 0.0f : -INFINITY;
    for (int j = 0; j < LANES; j++) acc[j] = init;
    int64_t i = 0;
    if (op == GG_REDUCE_SUM) {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
        for (int j = 0; i + j < n; j++) acc[j] += x[i + j];
        for (int w = LANES / 2; w >= 1; w /= 2)
            for (int j = 0; j < w; j++) acc[j] += acc[j + w];
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) acc[j] = nmax(acc[j], x[i + j]);
        for (int j = 0; i + j < n; j++) acc[j] = nmax(acc[j], x[i + j]);
        for (int w = LANES / 2; w >= 1; w /= 2)
            for (int j = 0; j < w; j++) acc[j] = nmax(acc[j], acc[j + w]);
    }
    return acc[0];
}

/* acc[0..w) = reduction over `rows` rows (stride ld) of x[.. + t], t < w. */
GG__INLINE void col_chunk_body(float *acc, const float *x, int64_t rows, int64_t ld, int64_t w, int op) {
    if (op == GG_REDUCE_SUM) {
        GG__VLOOP for (int64_t t = 0; t < w; t++) acc[t] = 0.0f;
        for (int64_t i = 0; i < rows; i++) {
            const float *xr = x + i * ld;
            GG__VLOOP for (int64_t t = 0; t < w; t++) acc[t] += xr[t];
        }
    } else {
        GG__VLOOP for (int64_t t = 0; t < w; t++) acc[t] = -INFINITY;
        for (int64_t i = 0; i < rows; i++) {
            const float *xr = x + i * ld;
            GG__VLOOP for (int64_t t = 0; t < w; t++) acc[t] = nmax(acc[t], xr[t]);
        }
    }
}

#if GG__X86
/* The same lanes and tree in registers (the portable body keeps acc[] on the
 * stack, and its scalar tree reads lanes just stored: on the fused
 * interpreter's 49-float rows that store-forwarding stall dominated). Every
 * addition and max is the portable one, operands in the same order. */
#include <immintrin.h>

GG__TGT_AVX512 GG__INLINE __m512 nmax16(__m512 m, __m512 v) {
    __mmask16 k = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(k, m, v);
}
GG__TGT_AVX2 GG__INLINE __m256 nmax8(__m256 m, __m256 v) {
    __m256 k = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_ps(m, v, k);
}
GG__TGT_AVX2 GG__INLINE __m128 nmax4(__m128 m, __m128 v) {
    __m128 k = _mm_or_ps(_mm_cmp_ps(v, m, _CMP_GT_OQ), _mm_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm_blendv_ps(m, v, k);
}

/* Lanes 0..3 of the tree (w = 4, 2, 1) from 8 folded lanes held as lo, hi. */
GG__TGT_AVX2 GG__INLINE float fold4(__m128 lo, __m128 hi, int sum) {
    __m128 v = sum ? _mm_add_ps(lo, hi) : nmax4(lo, hi);
    __m128 h = _mm_movehl_ps(v, v);
    v = sum ? _mm_add_ps(v, h) : nmax4(v, h);
    h = _mm_movehdup_ps(v);
    v = sum ? _mm_add_ss(v, h) : nmax4(v, h);
    return _mm_cvtss_f32(v);
}

GG__TGT_AVX512 static float row_avx512(const float *x, int64_t n, int op) {
    const int sum = op == GG_REDUCE_SUM;
    const __m512 init = _mm512_set1_ps(sum ? 0.0f : -INFINITY);
    __m512 a[4] = {init, init, init, init};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int q = 0; q < 4; q++) {
            __m512 v = _mm512_loadu_ps(x + i + 16 * q);
            a[q] = sum ? _mm512_add_ps(a[q], v) : nmax16(a[q], v);
        }
    for (int q = 0; q < 4 && i + 16 * q < n; q++) {
        int64_t left = n - i - 16 * q;
        __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i + 16 * q);
        a[q] = sum ? _mm512_mask_add_ps(a[q], m, a[q], v) : _mm512_mask_mov_ps(a[q], m, nmax16(a[q], v));
    }
    __m512 b0 = sum ? _mm512_add_ps(a[0], a[2]) : nmax16(a[0], a[2]);
    __m512 b1 = sum ? _mm512_add_ps(a[1], a[3]) : nmax16(a[1], a[3]);
    b0 = sum ? _mm512_add_ps(b0, b1) : nmax16(b0, b1);
    __m256 lo = _mm512_castps512_ps256(b0), hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(b0), 1));
    __m256 c = sum ? _mm256_add_ps(lo, hi) : nmax8(lo, hi);
    return fold4(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1), sum);
}

GG__TGT_AVX2 static float row_avx2(const float *x, int64_t n, int op) {
    const int sum = op == GG_REDUCE_SUM;
    const __m256 init = _mm256_set1_ps(sum ? 0.0f : -INFINITY);
    __m256 a[8];
    for (int q = 0; q < 8; q++) a[q] = init;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int q = 0; q < 8; q++) {
            __m256 v = _mm256_loadu_ps(x + i + 8 * q);
            a[q] = sum ? _mm256_add_ps(a[q], v) : nmax8(a[q], v);
        }
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int q = 0; q < 8 && i + 8 * q < n; q++) {
        int64_t left = n - i - 8 * q;
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(left >= 8 ? 8 : (int)left), iota);
        __m256 v = _mm256_maskload_ps(x + i + 8 * q, m);
        __m256 r = sum ? _mm256_add_ps(a[q], v) : nmax8(a[q], v);
        a[q] = _mm256_blendv_ps(a[q], r, _mm256_castsi256_ps(m));
    }
    for (int w = 4; w >= 1; w /= 2)
        for (int q = 0; q < w; q++) a[q] = sum ? _mm256_add_ps(a[q], a[q + w]) : nmax8(a[q], a[q + w]);
    return fold4(_mm256_castps256_ps128(a[0]), _mm256_extractf128_ps(a[0], 1), sum);
}
#endif

static float row_portable(const float *x, int64_t n, int op) { return row_chunk_body(x, n, op); }

gg__row_chunk_fn gg__row_chunk_pick(const gg_ctx *ctx) {
#if GG__X86
    switch (gg_ctx_isa(ctx)) {
    case GG_ISA_AVX512: return row_avx512;
    case GG_ISA_AVX2: return row_avx2;
    default: break;
    }
#endif
    (void)ctx;
    return row_portable;
}
GG__ISA_VARIANTS(void, col, (float *acc, const float *x, int64_t rows, int64_t ld, int64_t w, int op),
                 col_chunk_body(acc, x, rows, ld, w, op))

static float combine(float total, float part, int op) {
    return op == GG_REDUCE_SUM ? total + part : nmax(total, part);
}

/* Whole row of length n, serially (the order every path reproduces). */
static float row_serial(gg__row_chunk_fn rf, const float *x, int64_t n, int op) {
    float total = op == GG_REDUCE_SUM ? 0.0f : -INFINITY;
    for (int64_t s = 0; s < n; s += RCHUNK) {
        int64_t len = n - s < RCHUNK ? n - s : RCHUNK;
        total = combine(total, rf(x + s, len, op), op);
    }
    return total;
}


/* Column tile: y[0..w) over n rows of stride ld, serially. */
static void tile_serial(col_fn cf, float *y, const float *x, int64_t n, int64_t ld, int64_t w, int op) {
    float acc[CTILE];
    for (int64_t t = 0; t < w; t++) y[t] = op == GG_REDUCE_SUM ? 0.0f : -INFINITY;
    for (int64_t s = 0; s < n; s += CROWS) {
        int64_t rows = n - s < CROWS ? n - s : CROWS;
        cf(acc, x + s * ld, rows, ld, w, op);
        for (int64_t t = 0; t < w; t++) y[t] = combine(y[t], acc[t], op);
    }
}

/* The chunks of one row (rf given: y[0] over x[0..n)) or of one column tile
 * (cf given: y[0..w) over n rows of stride ld) spread over nt threads, a
 * super-block at a time; chunk values are combined in index order, as the
 * serial paths do. */
static void chunks_parallel(gg__row_chunk_fn rf, col_fn cf, float *y, const float *x, int64_t n, int64_t ld, int64_t w,
                            int op, int nt) {
    float part[CSUPER * CTILE]; /* RSUPER row values, or CSUPER tile rows of CTILE */
    const int64_t clen = rf ? RCHUNK : CROWS, pw = rf ? 1 : CTILE;
    const int64_t super = rf ? RSUPER : CSUPER;
    for (int64_t t = 0; t < w; t++) y[t] = op == GG_REDUCE_SUM ? 0.0f : -INFINITY;
    int64_t nchunks = (n + clen - 1) / clen;
    for (int64_t c0 = 0; c0 < nchunks; c0 += super) {
        int cnt = (int)(nchunks - c0 < super ? nchunks - c0 : super);
        GG__OMP("omp parallel for num_threads(nt) schedule(static)")
        for (int k = 0; k < cnt; k++) {
            int64_t s = (c0 + k) * clen;
            int64_t len = n - s < clen ? n - s : clen;
            if (rf) part[k] = rf(x + s, len, op);
            else cf(part + k * CTILE, x + s * ld, len, ld, w, op);
        }
        for (int k = 0; k < cnt; k++)
            for (int64_t t = 0; t < w; t++) y[t] = combine(y[t], part[k * pw + t], op);
    }
    (void)nt;
}

gg_status gg_reduce_f32(const gg_ctx *ctx, float *y, const float *x,
                        int64_t outer, int64_t n, int64_t inner, gg_reduce_op op) {
    if (outer < 0 || n < 0 || inner < 0) return GG_ERR_ARG;
    if (op != GG_REDUCE_SUM && op != GG_REDUCE_MAX) return GG_ERR_ARG;
    if (outer == 0 || inner == 0) return GG_OK;
    gg__row_chunk_fn rf = gg__row_chunk_pick(ctx);
    col_fn cf = col_pick(ctx);
    int nt = gg__team_size(ctx, outer * n * inner);
    int iop = (int)op;

    if (inner == 1) {
        if (nt > 1 && outer >= 2 * nt) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
            for (int64_t o = 0; o < outer; o++) y[o] = row_serial(rf, x + o * n, n, iop);
        } else {
            for (int64_t o = 0; o < outer; o++) {
                if (nt > 1 && n >= GG__PAR_MIN) chunks_parallel(rf, 0, y + o, x + o * n, n, 1, 1, iop, nt);
                else y[o] = row_serial(rf, x + o * n, n, iop);
            }
        }
        return GG_OK;
    }

    int64_t tiles = (inner + CTILE - 1) / CTILE;
    int64_t items = outer * tiles;
    if (nt > 1 && items >= 2 * nt) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
        for (int64_t it = 0; it < items; it++) {
            int64_t o = it / tiles, j0 = (it % tiles) * CTILE;
            int64_t w = inner - j0 < CTILE ? inner - j0 : CTILE;
            tile_serial(cf, y + o * inner + j0, x + o * n * inner + j0, n, inner, w, iop);
        }
    } else {
        for (int64_t it = 0; it < items; it++) {
            int64_t o = it / tiles, j0 = (it % tiles) * CTILE;
            int64_t w = inner - j0 < CTILE ? inner - j0 : CTILE;
            if (nt > 1 && n * w >= GG__PAR_MIN)
                chunks_parallel(0, cf, y + o * inner + j0, x + o * n * inner + j0, n, inner, w, iop, nt);
            else
                tile_serial(cf, y + o * inner + j0, x + o * n * inner + j0, n, inner, w, iop);
        }
    }
    return GG_OK;
}
