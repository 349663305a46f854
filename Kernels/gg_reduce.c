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

#include <math.h>

#define INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define VLOOP _Pragma("clang loop vectorize(assume_safety)")
#else
#define VLOOP
#endif
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__clang__) || defined(__GNUC__))
#define GG_X86 1
#define TGT_AVX512 __attribute__((target("avx512f")))
#define TGT_AVX2 __attribute__((target("avx2,fma")))
#else
#define GG_X86 0
#endif

#define PAR_MIN 65536
#define RCHUNK 4096   /* floats per chunk of a contiguous row */
#define LANES 64      /* interleaved accumulators within a row chunk */
#define RSUPER 256    /* row chunks per parallel super-block */
#define CTILE 256     /* columns per tile when inner > 1 */
#define CROWS 256     /* rows per chunk when inner > 1 */
#define CSUPER 16     /* column chunks per parallel super-block */

/* max that keeps a NaN once seen (either side) */
INLINE float nmax(float m, float v) { return (v > m || v != v) ? v : m; }

/* ---- per-ISA chunk kernels ---- */

INLINE float row_chunk_body(const float *x, int64_t n, int op) {
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
INLINE void col_chunk_body(float *acc, const float *x, int64_t rows, int64_t ld, int64_t w, int op) {
    if (op == GG_REDUCE_SUM) {
        VLOOP for (int64_t t = 0; t < w; t++) acc[t] = 0.0f;
        for (int64_t i = 0; i < rows; i++) {
            const float *xr = x + i * ld;
            VLOOP for (int64_t t = 0; t < w; t++) acc[t] += xr[t];
        }
    } else {
        VLOOP for (int64_t t = 0; t < w; t++) acc[t] = -INFINITY;
        for (int64_t i = 0; i < rows; i++) {
            const float *xr = x + i * ld;
            VLOOP for (int64_t t = 0; t < w; t++) acc[t] = nmax(acc[t], xr[t]);
        }
    }
}

typedef float (*row_fn)(const float *, int64_t, int);
typedef void (*col_fn)(float *, const float *, int64_t, int64_t, int64_t, int);

static float row_portable(const float *x, int64_t n, int op) { return row_chunk_body(x, n, op); }
static void col_portable(float *acc, const float *x, int64_t rows, int64_t ld, int64_t w, int op) {
    col_chunk_body(acc, x, rows, ld, w, op);
}
#if GG_X86
TGT_AVX2 static float row_avx2(const float *x, int64_t n, int op) { return row_chunk_body(x, n, op); }
TGT_AVX2 static void col_avx2(float *acc, const float *x, int64_t rows, int64_t ld, int64_t w, int op) {
    col_chunk_body(acc, x, rows, ld, w, op);
}
TGT_AVX512 static float row_avx512(const float *x, int64_t n, int op) { return row_chunk_body(x, n, op); }
TGT_AVX512 static void col_avx512(float *acc, const float *x, int64_t rows, int64_t ld, int64_t w, int op) {
    col_chunk_body(acc, x, rows, ld, w, op);
}
#endif

static float combine(float total, float part, int op) {
    return op == GG_REDUCE_SUM ? total + part : nmax(total, part);
}

/* Whole row of length n, serially (the order every path reproduces). */
static float row_serial(row_fn rf, const float *x, int64_t n, int op) {
    float total = op == GG_REDUCE_SUM ? 0.0f : -INFINITY;
    for (int64_t s = 0; s < n; s += RCHUNK) {
        int64_t len = n - s < RCHUNK ? n - s : RCHUNK;
        total = combine(total, rf(x + s, len, op), op);
    }
    return total;
}

/* One row with its chunks spread over nt threads. */
static float row_parallel(row_fn rf, const float *x, int64_t n, int op, int nt) {
    float total = op == GG_REDUCE_SUM ? 0.0f : -INFINITY;
    float part[RSUPER];
    int64_t nchunks = (n + RCHUNK - 1) / RCHUNK;
    for (int64_t c0 = 0; c0 < nchunks; c0 += RSUPER) {
        int cnt = (int)(nchunks - c0 < RSUPER ? nchunks - c0 : RSUPER);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
        for (int k = 0; k < cnt; k++) {
            int64_t s = (c0 + k) * RCHUNK;
            int64_t len = n - s < RCHUNK ? n - s : RCHUNK;
            part[k] = rf(x + s, len, op);
        }
        for (int k = 0; k < cnt; k++) total = combine(total, part[k], op);
    }
    (void)nt;
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

static void tile_parallel(col_fn cf, float *y, const float *x, int64_t n, int64_t ld, int64_t w, int op, int nt) {
    float part[CSUPER][CTILE];
    for (int64_t t = 0; t < w; t++) y[t] = op == GG_REDUCE_SUM ? 0.0f : -INFINITY;
    int64_t nchunks = (n + CROWS - 1) / CROWS;
    for (int64_t c0 = 0; c0 < nchunks; c0 += CSUPER) {
        int cnt = (int)(nchunks - c0 < CSUPER ? nchunks - c0 : CSUPER);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
        for (int k = 0; k < cnt; k++) {
            int64_t s = (c0 + k) * CROWS;
            int64_t rows = n - s < CROWS ? n - s : CROWS;
            cf(part[k], x + s * ld, rows, ld, w, op);
        }
        for (int k = 0; k < cnt; k++)
            for (int64_t t = 0; t < w; t++) y[t] = combine(y[t], part[k][t], op);
    }
    (void)nt;
}

gg_status gg_reduce_f32(const gg_ctx *ctx, float *y, const float *x,
                        int64_t outer, int64_t n, int64_t inner, gg_reduce_op op) {
    if (outer < 0 || n < 0 || inner < 0) return GG_ERR_ARG;
    if (op != GG_REDUCE_SUM && op != GG_REDUCE_MAX) return GG_ERR_ARG;
    if (outer == 0 || inner == 0) return GG_OK;
    row_fn rf = row_portable;
    col_fn cf = col_portable;
#if GG_X86
    switch (gg_ctx_isa(ctx)) {
    case GG_ISA_AVX512: rf = row_avx512; cf = col_avx512; break;
    case GG_ISA_AVX2: rf = row_avx2; cf = col_avx2; break;
    default: break;
    }
#endif
    int nt = ctx ? ctx->nthreads : 1;
    if (nt < 1) nt = 1;
#ifndef _OPENMP
    nt = 1;
#endif
    int64_t total = outer * n * inner;
    if (total < PAR_MIN) nt = 1;
    int iop = (int)op;

    if (inner == 1) {
        if (nt > 1 && outer >= 2 * nt) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
            for (int64_t o = 0; o < outer; o++) y[o] = row_serial(rf, x + o * n, n, iop);
        } else {
            for (int64_t o = 0; o < outer; o++)
                y[o] = (nt > 1 && n >= PAR_MIN) ? row_parallel(rf, x + o * n, n, iop, nt)
                                                : row_serial(rf, x + o * n, n, iop);
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
            if (nt > 1 && n * w >= PAR_MIN)
                tile_parallel(cf, y + o * inner + j0, x + o * n * inner + j0, n, inner, w, iop, nt);
            else
                tile_serial(cf, y + o * inner + j0, x + o * n * inner + j0, n, inner, w, iop);
        }
    }
    return GG_OK;
}
