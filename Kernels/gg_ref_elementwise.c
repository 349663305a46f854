/*
 * gg_ref_elementwise.c: scalar references for the elementwise kernels
 * (unary, binary, where, copy) and the byte lookup. Plain loops and libm, one thread: these are
 * the specification the fast kernels in gg_elementwise.c are tested against.
 * Strided operands are walked with a div/mod index decomposition per element
 * (slow on purpose: it is the obvious reading of the contract).
 */
#include "gg_kernels.h"

#include <math.h>

static float ref_sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static float ref_unary(float x, gg_unary_op op, float p0, float p1) {
    switch (op) {
    case GG_UNARY_NEG: return -x;
    case GG_UNARY_ABS: return fabsf(x);
    case GG_UNARY_SIGN: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);
    case GG_UNARY_EXP: return expf(x);
    case GG_UNARY_LOG: return logf(x);
    case GG_UNARY_LOG1P: return log1pf(x);
    case GG_UNARY_SQRT: return sqrtf(x);
    case GG_UNARY_RSQRT: return 1.0f / sqrtf(x);
    case GG_UNARY_SQUARE: return x * x;
    case GG_UNARY_TANH: return tanhf(x);
    case GG_UNARY_SIGMOID: return ref_sigmoid(x);
    case GG_UNARY_RELU: return isnan(x) ? x : (x > 0.0f ? x : 0.0f);
    case GG_UNARY_LEAKY_RELU: return x > 0.0f ? x : x * p0;
    case GG_UNARY_SOFTPLUS:
        if (isnan(x)) return x;
        return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x)));
    case GG_UNARY_CLAMP:
        if (isnan(x)) return x;
        return fminf(fmaxf(x, p0), p1);
    case GG_UNARY_SIN: return sinf(x);
    case GG_UNARY_COS: return cosf(x);
    case GG_UNARY_SILU: return x == -INFINITY ? -0.0f : x * ref_sigmoid(x);
    case GG_UNARY_FLOOR: return floorf(x);
    default: return 0.0f;
    }
}

gg_status gg_unary_f32_ref(const gg_ctx *ctx, float *y, const float *x, int64_t n,
                           gg_unary_op op, float p0, float p1) {
    (void)ctx;
    if (n < 0 || (int)op < 0 || op >= GG_UNARY_COUNT) return GG_ERR_ARG;
    for (int64_t i = 0; i < n; i++) y[i] = ref_unary(x[i], op, p0, p1);
    return GG_OK;
}

static float ref_binary(float a, float b, gg_binary_op op) {
    switch (op) {
    case GG_BINARY_ADD: return a + b;
    case GG_BINARY_SUB: return a - b;
    case GG_BINARY_MUL: return a * b;
    case GG_BINARY_DIV: return a / b;
    case GG_BINARY_POW: return powf(a, b);
    case GG_BINARY_MAX: return (isnan(a) || isnan(b)) ? a + b : fmaxf(a, b);
    case GG_BINARY_MIN: return (isnan(a) || isnan(b)) ? a + b : fminf(a, b);
    case GG_BINARY_LT: return a < b ? 1.0f : 0.0f;
    case GG_BINARY_LE: return a <= b ? 1.0f : 0.0f;
    case GG_BINARY_GT: return a > b ? 1.0f : 0.0f;
    case GG_BINARY_GE: return a >= b ? 1.0f : 0.0f;
    case GG_BINARY_EQ: return a == b ? 1.0f : 0.0f;
    case GG_BINARY_NE: return a != b ? 1.0f : 0.0f;
    default: return 0.0f;
    }
}

/* Element count of shape, or -1 when the shape is invalid. */
static int64_t ref_count(const int64_t *shape, int rank) {
    if (rank < 0 || rank > GG_MAX_RANK) return -1;
    int64_t total = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 0) return -1;
        total *= shape[d];
    }
    return total;
}

/* Offset of flat (row-major) index i of shape under strides. */
static int64_t ref_offset(int64_t i, const int64_t *shape, const int64_t *strides, int rank) {
    int64_t off = 0;
    for (int d = rank - 1; d >= 0; d--) {
        int64_t idx = i % shape[d];
        i /= shape[d];
        off += idx * strides[d];
    }
    return off;
}

gg_status gg_binary_f32_ref(const gg_ctx *ctx, float *y,
                            const float *a, const int64_t *a_strides,
                            const float *b, const int64_t *b_strides,
                            const int64_t *shape, int rank, gg_binary_op op) {
    (void)ctx;
    int64_t total = ref_count(shape, rank);
    if (total < 0 || (int)op < 0 || op >= GG_BINARY_COUNT) return GG_ERR_ARG;
    for (int64_t i = 0; i < total; i++)
        y[i] = ref_binary(a[ref_offset(i, shape, a_strides, rank)],
                          b[ref_offset(i, shape, b_strides, rank)], op);
    return GG_OK;
}

gg_status gg_where_f32_ref(const gg_ctx *ctx, float *y,
                           const float *c, const int64_t *c_strides,
                           const float *a, const int64_t *a_strides,
                           const float *b, const int64_t *b_strides,
                           const int64_t *shape, int rank) {
    (void)ctx;
    int64_t total = ref_count(shape, rank);
    if (total < 0) return GG_ERR_ARG;
    for (int64_t i = 0; i < total; i++) {
        float cv = c[ref_offset(i, shape, c_strides, rank)];
        y[i] = cv != 0.0f ? a[ref_offset(i, shape, a_strides, rank)]
                          : b[ref_offset(i, shape, b_strides, rank)];
    }
    return GG_OK;
}

gg_status gg_copy_f32_ref(const gg_ctx *ctx, float *y, const int64_t *y_strides,
                          const float *x, const int64_t *x_strides,
                          const int64_t *shape, int rank) {
    (void)ctx;
    int64_t total = ref_count(shape, rank);
    if (total < 0) return GG_ERR_ARG;
    for (int64_t i = 0; i < total; i++)
        y[ref_offset(i, shape, y_strides, rank)] = x[ref_offset(i, shape, x_strides, rank)];
    return GG_OK;
}

gg_status gg_lookup_rows_u8_f32_ref(const gg_ctx *ctx, float *y, const uint8_t *x, int64_t x_rows,
                                    const int64_t *rows, int64_t nrows, int64_t row_len, const float *table) {
    (void)ctx;
    if (nrows < 0 || row_len < 0 || x_rows < 0 || !table) return GG_ERR_ARG;
    for (int64_t r = 0; r < nrows; r++) {
        int64_t src = rows ? rows[r] : r;
        if (src < 0 || src >= x_rows) return GG_ERR_ARG;
    }
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t i = 0; i < row_len; i++)
            y[r * row_len + i] = table[x[(rows ? rows[r] : r) * row_len + i]];
    return GG_OK;
}
