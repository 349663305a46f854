/*
 * gg_lookup.c: bytes to floats through a 256-entry table, gathering rows.
 *   gg_lookup_rows_u8_f32  y[r, i] = table[x[rows[r], i]]
 * The data loader's kernel: a batch is the rows of shuffled images, each
 * pixel byte mapped by its encoding's table. A table, not a formula, so that
 * every path that encodes a byte gives the same float. Every variant reads
 * the same table entry, so results are identical on every ISA and thread count.
 */
#include "gg_kernels.h"
#include "gg_internal.h"

/* y[0, n) = table[x[0, n)]. Under AVX-512 clang turns the loop into gathers
 * from the table (it is in L1); under AVX2 its cost model keeps it scalar. */
GG__ISA_VARIANTS(void, lookup_run, (float *y, const uint8_t *x, int64_t n, const float *table),
                 GG__VLOOP for (int64_t i = 0; i < n; i++) y[i] = table[x[i]])

/* Rows fetched ahead: a shuffled batch's rows are scattered over the whole
 * split, each a few cache lines, so the hardware prefetcher cannot see the
 * next one coming and every row would wait on memory. */
#define LOOKUP_AHEAD 8

/* Elements [lo, hi) of y, row by row; rows up to LOOKUP_AHEAD ahead are prefetched. */
static void lookup_part(lookup_run_fn run, float *y, const uint8_t *x, const int64_t *rows, int64_t nrows,
                        int64_t row_len, const float *table, int64_t lo, int64_t hi) {
    int64_t fetched = lo / row_len;
    while (lo < hi) {
        int64_t r = lo / row_len, i = lo - r * row_len;
        int64_t n = row_len - i < hi - lo ? row_len - i : hi - lo;
        for (; fetched < nrows && fetched <= r + LOOKUP_AHEAD && fetched * row_len < hi; fetched++) {
            const uint8_t *row = x + (rows ? rows[fetched] : fetched) * row_len;
            for (int64_t b = 0; b < row_len; b += 64) __builtin_prefetch(row + b);
            __builtin_prefetch(row + row_len - 1);
        }
        int64_t src = rows ? rows[r] : r;
        run(y + lo, x + src * row_len + i, n, table);
        lo += n;
    }
}

gg_status gg_lookup_rows_u8_f32(const gg_ctx *ctx, float *y, const uint8_t *x, int64_t x_rows,
                                const int64_t *rows, int64_t nrows, int64_t row_len, const float *table) {
    if (nrows < 0 || row_len < 0 || x_rows < 0 || !table) return GG_ERR_ARG;
    if (!rows && nrows > x_rows) return GG_ERR_ARG;
    if (rows)
        for (int64_t r = 0; r < nrows; r++)
            if (rows[r] < 0 || rows[r] >= x_rows) return GG_ERR_ARG;
    if (nrows == 0 || row_len == 0) return GG_OK;
    if (!y || !x || nrows > INT64_MAX / row_len) return GG_ERR_ARG;
    lookup_run_fn run = lookup_run_pick(ctx);
    GG__FOR_PARTS(ctx, nrows * row_len, lo, hi, lookup_part(run, y, x, rows, nrows, row_len, table, lo, hi));
    return GG_OK;
}
