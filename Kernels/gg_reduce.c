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

GG__ISA_VARIANTS(float, row, (const float *x, int64_t n, int op), return row_chunk_body(x, n, op))
GG__ISA_VARIANTS(void, col, (float *acc, const float *x, int64_t rows, int64_t ld, int64_t w, int op),
                 col_chunk_body(acc, x, rows, ld, w, op))

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
static void chunks_parallel(row_fn rf, col_fn cf, float *y, const float *x, int64_t n, int64_t ld, int64_t w,
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
    row_fn rf = row_pick(ctx);
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
