/*
 * gg_lookup.c: bytes to floats through a 256-entry table, gathering rows.
 *   gg_lookup_rows_u8_f32  y[r, i] = table[x[rows[r], i]]
 * The data loader's kernel: a batch is the rows of shuffled images, each
 * pixel byte mapped by its encoding's table. A table, not a formula, so that
 * every path that encodes a byte gives the same float. AVX-512 and AVX2
 * widen 16 (8) bytes to lane indices and gather from the table, which stays
 * in L1; the portable variant is the plain loop. Every variant reads the
 * same table entry, so results are identical on every ISA and thread count.
 */
#include "gg_kernels.h"
#include "gg_internal.h"

#if GG__X86
#include <immintrin.h>
#endif

/* y[0, n) = table[x[0, n)]. */
static void lookup_run_portable(float *y, const uint8_t *x, int64_t n, const float *table) {
    for (int64_t i = 0; i < n; i++) y[i] = table[x[i]];
}

#if GG__X86
GG__TGT_AVX2 static void lookup_run_avx2(float *y, const uint8_t *x, int64_t n, const float *table) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_i32gather_ps(table, idx, 4));
    }
    for (; i < n; i++) y[i] = table[x[i]];
}

GG__TGT_AVX512 static void lookup_run_avx512(float *y, const uint8_t *x, int64_t n, const float *table) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm512_storeu_ps(y + i, _mm512_i32gather_ps(idx, table, 4));
    }
    for (; i < n; i++) y[i] = table[x[i]];
}
#endif

typedef void (*lookup_run_fn)(float *y, const uint8_t *x, int64_t n, const float *table);

static lookup_run_fn lookup_run_pick(const gg_ctx *ctx) {
#if GG__X86
    switch (gg_ctx_isa(ctx)) {
    case GG_ISA_AVX512: return lookup_run_avx512;
    case GG_ISA_AVX2: return lookup_run_avx2;
    default: break;
    }
#else
    (void)ctx;
#endif
    return lookup_run_portable;
}

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
