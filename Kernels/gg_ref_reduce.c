/*
 * gg_ref_reduce.c: scalar reference for gg_reduce_f32. x is contiguous
 * (outer, n, inner); y is (outer, inner). Sums accumulate in double in index
 * order (the exact-ish answer the chunked float sum is compared with); max
 * propagates NaN. n == 0 gives 0 (sum) or -inf (max).
 */
#include "gg_kernels.h"

#include <math.h>

gg_status gg_reduce_f32_ref(const gg_ctx *ctx, float *y, const float *x,
                            int64_t outer, int64_t n, int64_t inner, gg_reduce_op op) {
    (void)ctx;
    if (outer < 0 || n < 0 || inner < 0) return GG_ERR_ARG;
    if (op != GG_REDUCE_SUM && op != GG_REDUCE_MAX) return GG_ERR_ARG;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            const float *col = x + o * n * inner + j;
            if (op == GG_REDUCE_SUM) {
                double acc = 0.0;
                for (int64_t i = 0; i < n; i++) acc += col[i * inner];
                y[o * inner + j] = (float)acc;
            } else {
                float m = -INFINITY;
                for (int64_t i = 0; i < n; i++) {
                    float v = col[i * inner];
                    if (isnan(v) || isnan(m)) m = isnan(m) ? m : v;
                    else if (v > m) m = v;
                }
                y[o * inner + j] = m;
            }
        }
    }
    return GG_OK;
}
