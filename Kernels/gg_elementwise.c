/*
 * gg_elementwise.c: elementwise kernels over f32 tensors.
 *   gg_unary_f32    y[i] = op(x[i]) over n contiguous floats (y may equal x)
 *   gg_binary_f32   y (contiguous, shape) = op(a, b), a/b read through strides
 *   gg_where_f32    y = c != 0 ? a : b, same stride rules
 *   gg_copy_f32     strided copy, y and x both strided
 *   gg_fill_f32     y[i] = value
 *   gg_one_hot_f32  y (n, depth) one-hot rows of integer-valued float labels
 * Strided kernels first drop size-1 dimensions and merge dimensions that are
 * contiguous (or broadcast) for every operand, then walk rows of the
 * innermost dimension with an index vector (no per-element division); rows
 * with unit or zero strides take vectorised fast paths.
 * Transcendentals (exp, log, log1p, tanh, sigmoid, softplus, silu, sin, cos)
 * are branch-free range reduction + polynomial so they vectorise; they are
 * within a few ulp of libm (tests hold them to rel 2e-6 / abs 1e-7) and
 * handle inf/NaN/denormals. sin and cos hand a row with an |x| over 1e6 (or
 * inf, NaN) to libm element by element, as a vectorised reduction that exact
 * would need Payne-Hanek's many bits of pi. Each kernel is compiled for
 * AVX-512F, AVX2+FMA and baseline x86-64 and picked by gg_ctx_isa(ctx);
 * results never depend on nthreads.
 * Not done here: pow is libm powf per element (not vectorised); no
 * -ffast-math anywhere, NaN propagates through max/min/clamp/relu/sign.
 */
#include "gg_kernels.h"
#include "gg_internal.h"

#include <math.h>
#include <string.h>

#if defined(__clang__)
#define VLOOP _Pragma("clang loop vectorize(assume_safety) interleave(enable)")
#elif defined(__GNUC__)
#define VLOOP _Pragma("GCC ivdep")
#else
#define VLOOP
#endif

/* ------------------------------------------------------------------ */
/* Vectorisable scalar math: branch-free, only selects.                */

/* e^x: x = k ln2 + r, |r| <= ln2/2, e^r by its degree-7 Taylor polynomial,
 * times 2^k applied in two halves so denormal results round once. */
GG__INLINE float v_exp(float x) {
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;
    xc = xc == xc ? xc : 0.0f;
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = xc * 1.44269504088896341f + shifter;
    float kf = t - shifter;
    int32_t k = (int32_t)gg__u_bits(t) - 0x4B400000;
    float r = xc - kf * 0.693145751953125f;
    r = r - kf * 1.428606820309417232e-6f;
    float p = 1.98412698412698413e-4f;
    p = p * r + 1.38888888888888889e-3f;
    p = p * r + 8.33333333333333333e-3f;
    p = p * r + 4.16666666666666667e-2f;
    p = p * r + 1.66666666666666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t k1 = k >> 1, k2 = k - k1;
    float s1 = gg__f_bits((uint32_t)(k1 + 127) << 23), s2 = gg__f_bits((uint32_t)(k2 + 127) << 23);
    float res = (p * s1) * s2;
    return x == x ? res : x;
}

/* ln x: x = 2^e m, m in [sqrt(1/2), sqrt(2)), ln m = gg__log1p_core(m - 1);
 * e ln2 added in two parts. */
GG__INLINE float v_log(float x) {
    int tiny = x < 1.17549435e-38f;
    float xs = tiny ? x * 8388608.0f : x;
    uint32_t u = gg__u_bits(xs);
    int32_t e = (int32_t)((u >> 23) & 0xff) - 127 - (tiny ? 23 : 0);
    float m = gg__f_bits((u & 0x007fffffu) | 0x3f800000u);
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e += big;
    float lm = gg__log1p_core(m - 1.0f);
    float ef = (float)e;
    float res = ef * 0.693145751953125f + (lm + ef * 1.428606820309417232e-6f);
    res = x == INFINITY ? x : res;
    res = x < 0.0f ? NAN : res;
    res = x == 0.0f ? -INFINITY : res;
    return x == x ? res : x;
}

/* ln(1 + x) as ln(u) * x / (u - 1), u = 1 + x (exact when u == 1). */
GG__INLINE float v_log1p(float x) {
    float u = 1.0f + x;
    float res = v_log(u) * (x / (u - 1.0f));
    res = u == 1.0f ? x : res;
    return x == INFINITY ? x : res;
}

/* tanh: odd Taylor polynomial for |x| < 0.4375, else (1 - e)/(1 + e), e = exp(-2|x|). */
GG__INLINE float v_tanh(float x) {
    float ax = fabsf(x);
    float z = x * x;
    float q = -1.45583438705e-3f; /* Taylor coefficients of tanh, x^15 .. x^3 */
    q = q * z + 3.59212803657e-3f;
    q = q * z - 8.86323552990e-3f;
    q = q * z + 2.18694885362e-2f;
    q = q * z - 5.39682539683e-2f;
    q = q * z + 1.33333333333e-1f;
    q = q * z - 3.33333333333e-1f;
    float small = x + x * (z * q);
    float e = v_exp(-2.0f * ax);
    float large = copysignf((1.0f - e) / (1.0f + e), x);
    return ax < 0.4375f ? small : large;
}

/* 1 / (1 + e^-x) without overflow: e = exp(-|x|), (x >= 0 ? 1 : e) / (1 + e). */
GG__INLINE float v_sigmoid(float x) {
    float e = v_exp(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* ln(1 + e) for e in [0, 1] (or NaN), one division: with f = e (exact) when
 * e <= sqrt(2) - 1, else ln 2 + ln(1 + f) with f = (e - 1) / 2, so 1 + f is
 * in [sqrt(1/2), sqrt(2)) and gg__log1p_core applies. */
GG__INLINE float v_log1p_unit(float e) {
    int big = e > 0.41421356f;
    float lm = gg__log1p_core(big ? (e - 1.0f) * 0.5f : e);
    return big ? 0.693145751953125f + (lm + 1.428606820309417232e-6f) : lm;
}

/* ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|). */
GG__INLINE float v_softplus(float x) {
    float e = v_exp(-fabsf(x));
    return (x > 0.0f ? x : 0.0f) + v_log1p_unit(e);
}

/* x sigmoid(x); at -inf the product would be -inf * 0, so it is the limit, -0. */
GG__INLINE float v_silu(float x) {
    float res = x * v_sigmoid(x);
    return x == -INFINITY ? -0.0f : res;
}

/* Arguments with |x| beyond this go to libm's sinf/cosf: the reduction below
 * keeps the quadrant q = round(x 2/pi) under 2^20. */
#define TRIG_RANGE 1.0e6f

/* sin(x + quadrant pi/2) for |x| <= TRIG_RANGE: x = q pi/2 + r, |r| <= pi/4,
 * reduced in double with pi/2 in two parts (its first 33 bits, so q times
 * them is exact, then the rest), which leaves r good to ~1e-16; then sin r or
 * cos r by their Taylor polynomials (to r^11, r^12) in float, picked and
 * signed by (q + quadrant) mod 4. Any other x gives a finite value the caller
 * replaces. */
GG__INLINE float v_sin_quadrant(float x, int32_t quadrant) {
    float xc = fabsf(x) <= TRIG_RANGE ? x : 0.0f;
    double xd = xc;
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    double qd = (xd * 0.636619772367581343 + shifter) - shifter;
    int32_t q = (int32_t)qd + quadrant;
    double rd = xd - qd * 1.57079632673412561417;
    rd = rd - qd * 6.07710050650619224932e-11;
    float r = (float)rd, z = r * r;
    float sp = -2.50521083854417188e-8f; /* Taylor coefficients of sin, r^11 .. r^3 */
    sp = sp * z + 2.75573192239858907e-6f;
    sp = sp * z - 1.98412698412698413e-4f;
    sp = sp * z + 8.33333333333333333e-3f;
    sp = sp * z - 1.66666666666666667e-1f;
    float sine = r == 0.0f ? r : r + r * (z * sp); /* keeps sin(-0) = -0 */
    float cp = 2.08767569878680990e-9f; /* Taylor coefficients of cos, r^12 .. r^2 */
    cp = cp * z - 2.75573192239858907e-7f;
    cp = cp * z + 2.48015873015873016e-5f;
    cp = cp * z - 1.38888888888888889e-3f;
    cp = cp * z + 4.16666666666666667e-2f;
    cp = cp * z - 0.5f;
    float cosine = 1.0f + z * cp;
    float res = (q & 1) ? cosine : sine;
    return (q & 2) ? -res : res;
}

/* ------------------------------------------------------------------ */
/* Unary                                                               */

#define UN_LOOP(EXPR) do { VLOOP for (int64_t i = 0; i < n; i++) { float v = x[i]; y[i] = (EXPR); } } while (0)

/* sin (quadrant 0) or cos (quadrant 1) of n elements: vectorised while every
 * |x| is within TRIG_RANGE; otherwise element by element, libm beyond it
 * (and for inf and NaN). The value of an element depends on it alone. */
GG__INLINE void trig_row(float *y, const float *x, int64_t n, int32_t quadrant) {
    int wide = 0;
    VLOOP for (int64_t i = 0; i < n; i++) wide |= !(fabsf(x[i]) <= TRIG_RANGE);
    if (!wide) {
        UN_LOOP(v_sin_quadrant(v, quadrant));
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = fabsf(v) <= TRIG_RANGE ? v_sin_quadrant(v, quadrant) : (quadrant ? cosf(v) : sinf(v));
    }
}

GG__INLINE void unary_body(float *y, const float *x, int64_t n, int op, float p0, float p1) {
    switch (op) {
    case GG_UNARY_NEG: UN_LOOP(-v); break;
    case GG_UNARY_ABS: UN_LOOP(fabsf(v)); break;
    case GG_UNARY_SIGN: UN_LOOP(v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : v)); break;
    case GG_UNARY_EXP: UN_LOOP(v_exp(v)); break;
    case GG_UNARY_LOG: UN_LOOP(v_log(v)); break;
    case GG_UNARY_LOG1P: UN_LOOP(v_log1p(v)); break;
    case GG_UNARY_SQRT: UN_LOOP(sqrtf(v)); break;
    case GG_UNARY_RSQRT: UN_LOOP(1.0f / sqrtf(v)); break;
    case GG_UNARY_SQUARE: UN_LOOP(v * v); break;
    case GG_UNARY_TANH: UN_LOOP(v_tanh(v)); break;
    case GG_UNARY_SIGMOID: UN_LOOP(v_sigmoid(v)); break;
    case GG_UNARY_RELU: UN_LOOP((v > 0.0f || v != v) ? v : 0.0f); break;
    case GG_UNARY_LEAKY_RELU: UN_LOOP(v > 0.0f ? v : v * p0); break;
    case GG_UNARY_SOFTPLUS: UN_LOOP(v_softplus(v)); break;
    case GG_UNARY_SIN: trig_row(y, x, n, 0); break;
    case GG_UNARY_COS: trig_row(y, x, n, 1); break;
    case GG_UNARY_SILU: UN_LOOP(v_silu(v)); break;
    case GG_UNARY_FLOOR: UN_LOOP(floorf(v)); break;
    case GG_UNARY_CLAMP: {
        UN_LOOP(v < p0 ? p0 : (v > p1 ? p1 : v));
        break;
    }
    default: break;
    }
}

GG__ISA_VARIANTS(void, unary, (float *y, const float *x, int64_t n, int op, float p0, float p1),
                 unary_body(y, x, n, op, p0, p1))

gg_status gg_unary_f32(const gg_ctx *ctx, float *y, const float *x, int64_t n,
                       gg_unary_op op, float p0, float p1) {
    if (n < 0 || (int)op < 0 || op >= GG_UNARY_COUNT) return GG_ERR_ARG;
    if (n == 0) return GG_OK;
    unary_fn fn = unary_pick(ctx);
    GG__FOR_PARTS(ctx, n, lo, hi, fn(y + lo, x + lo, hi - lo, (int)op, p0, p1));
    return GG_OK;
}

/* ------------------------------------------------------------------ */
/* Strided iteration                                                   */

#define MAX_OPS 4

typedef struct iter_t {
    int rank, nops;
    int64_t shape[GG_MAX_RANK];
    int64_t st[MAX_OPS][GG_MAX_RANK];
} iter_t;

typedef struct cursor_t {
    int64_t idx[GG_MAX_RANK];
    int64_t off[MAX_OPS];
} cursor_t;

/* Validates shape, drops size-1 dimensions and merges a dimension into the
 * previous one when every operand's strides allow it. Returns the element
 * count, or -1 for a bad shape. Always leaves rank >= 1. */
static int64_t iter_init(iter_t *it, int nops, const int64_t *const *strides,
                         const int64_t *shape, int rank) {
    if (rank < 0 || rank > GG_MAX_RANK) return -1;
    int64_t total = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 0) return -1;
        total *= shape[d];
    }
    it->nops = nops;
    it->rank = 0;
    for (int d = 0; d < rank && total > 0; d++) {
        if (shape[d] == 1) continue;
        int r = it->rank;
        if (r > 0) {
            int merge = 1;
            for (int k = 0; k < nops; k++)
                if (it->st[k][r - 1] != strides[k][d] * shape[d]) merge = 0;
            if (merge) {
                it->shape[r - 1] *= shape[d];
                for (int k = 0; k < nops; k++) it->st[k][r - 1] = strides[k][d];
                continue;
            }
        }
        it->shape[r] = shape[d];
        for (int k = 0; k < nops; k++) it->st[k][r] = strides[k][d];
        it->rank = r + 1;
    }
    if (it->rank == 0) {
        it->rank = 1;
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++) it->st[k][0] = 0;
    }
    return total;
}

/* Row-major contiguous strides of shape. */
static void contiguous_strides(int64_t *st, const int64_t *shape, int rank) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        st[d] = s;
        s *= shape[d];
    }
}

GG__INLINE void cur_seek(cursor_t *c, const iter_t *it, int64_t pos) {
    for (int k = 0; k < it->nops; k++) c->off[k] = 0;
    for (int d = it->rank - 1; d >= 0; d--) {
        int64_t i = pos % it->shape[d];
        pos /= it->shape[d];
        c->idx[d] = i;
        for (int k = 0; k < it->nops; k++) c->off[k] += i * it->st[k][d];
    }
}

/* Moves the cursor len elements along the innermost dimension (len never
 * passes the end of the row), carrying into outer dimensions at a row end. */
GG__INLINE void cur_advance(cursor_t *c, const iter_t *it, int64_t len) {
    int r = it->rank - 1;
    c->idx[r] += len;
    for (int k = 0; k < it->nops; k++) c->off[k] += len * it->st[k][r];
    if (c->idx[r] < it->shape[r]) return;
    for (int d = r; d >= 0; d--) {
        for (int k = 0; k < it->nops; k++) c->off[k] -= it->shape[d] * it->st[k][d];
        c->idx[d] = 0;
        if (d == 0) return;
        c->idx[d - 1]++;
        for (int k = 0; k < it->nops; k++) c->off[k] += it->st[k][d - 1];
        if (c->idx[d - 1] < it->shape[d - 1]) return;
    }
}

/* ------------------------------------------------------------------ */
/* Binary                                                              */

GG__INLINE float bin_max(float a, float b) { float r = a > b ? a : b; return (a != a || b != b) ? a + b : r; }
GG__INLINE float bin_min(float a, float b) { float r = a < b ? a : b; return (a != a || b != b) ? a + b : r; }

/* One row: y[i] = op(A[i*sa], B[i*sb]); called with constant strides so each
 * call site specialises. */
#define BIN_CASES(SA, SB)                                                              \
    switch (op) {                                                                      \
    case GG_BINARY_ADD: BIN_ROW(SA, SB, a + b); break;                                 \
    case GG_BINARY_SUB: BIN_ROW(SA, SB, a - b); break;                                 \
    case GG_BINARY_MUL: BIN_ROW(SA, SB, a * b); break;                                 \
    case GG_BINARY_DIV: BIN_ROW(SA, SB, a / b); break;                                 \
    case GG_BINARY_POW: for (int64_t i = 0; i < n; i++) Y[i] = powf(A[i * (SA)], B[i * (SB)]); break; \
    case GG_BINARY_MAX: BIN_ROW(SA, SB, bin_max(a, b)); break;                         \
    case GG_BINARY_MIN: BIN_ROW(SA, SB, bin_min(a, b)); break;                         \
    case GG_BINARY_LT: BIN_ROW(SA, SB, a < b ? 1.0f : 0.0f); break;                    \
    case GG_BINARY_LE: BIN_ROW(SA, SB, a <= b ? 1.0f : 0.0f); break;                   \
    case GG_BINARY_GT: BIN_ROW(SA, SB, a > b ? 1.0f : 0.0f); break;                    \
    case GG_BINARY_GE: BIN_ROW(SA, SB, a >= b ? 1.0f : 0.0f); break;                   \
    case GG_BINARY_EQ: BIN_ROW(SA, SB, a == b ? 1.0f : 0.0f); break;                   \
    case GG_BINARY_NE: BIN_ROW(SA, SB, a != b ? 1.0f : 0.0f); break;                   \
    default: break;                                                                    \
    }
#define BIN_ROW(SA, SB, EXPR)                                   \
    do {                                                        \
        VLOOP for (int64_t i = 0; i < n; i++) {                 \
            float a = A[i * (SA)], b = B[i * (SB)];             \
            Y[i] = (EXPR);                                      \
        }                                                       \
    } while (0)

GG__INLINE void binary_row(int op, float *Y, const float *A, int64_t sa, const float *B, int64_t sb, int64_t n) {
    if (sa == 1 && sb == 1) { BIN_CASES(1, 1) }
    else if (sa == 1 && sb == 0) { BIN_CASES(1, 0) }
    else if (sa == 0 && sb == 1) { BIN_CASES(0, 1) }
    else { BIN_CASES(sa, sb) }
}

GG__INLINE void binary_body(const iter_t *it, int op, float *y, const float *a, const float *b,
                        int64_t lo, int64_t hi) {
    cursor_t c;
    cur_seek(&c, it, lo);
    int r = it->rank - 1;
    int64_t L = it->shape[r], sa = it->st[1][r], sb = it->st[2][r];
    for (int64_t pos = lo; pos < hi;) {
        int64_t len = L - c.idx[r];
        if (len > hi - pos) len = hi - pos;
        binary_row(op, y + c.off[0], a + c.off[1], sa, b + c.off[2], sb, len);
        pos += len;
        cur_advance(&c, it, len);
    }
}

GG__ISA_VARIANTS(void, binary, (const iter_t *it, int op, float *y, const float *a, const float *b, int64_t lo, int64_t hi),
                 binary_body(it, op, y, a, b, lo, hi))

gg_status gg_binary_f32(const gg_ctx *ctx, float *y,
                        const float *a, const int64_t *a_strides,
                        const float *b, const int64_t *b_strides,
                        const int64_t *shape, int rank, gg_binary_op op) {
    if ((int)op < 0 || op >= GG_BINARY_COUNT || rank < 0 || rank > GG_MAX_RANK) return GG_ERR_ARG;
    int64_t yst[GG_MAX_RANK];
    for (int d = 0; d < rank; d++) if (shape[d] < 0) return GG_ERR_ARG;
    contiguous_strides(yst, shape, rank);
    const int64_t *strides[3] = {yst, a_strides, b_strides};
    iter_t it;
    int64_t total = iter_init(&it, 3, strides, shape, rank);
    if (total < 0) return GG_ERR_ARG;
    if (total == 0) return GG_OK;
    binary_fn fn = binary_pick(ctx);
    GG__FOR_PARTS(ctx, total, lo, hi, fn(&it, (int)op, y, a, b, lo, hi));
    return GG_OK;
}

/* ------------------------------------------------------------------ */
/* Where                                                               */

#define WHERE_ROW(SC, SA, SB)                                                   \
    do {                                                                        \
        VLOOP for (int64_t i = 0; i < n; i++) {                                 \
            float cv = C[i * (SC)], av = A[i * (SA)], bv = B[i * (SB)];         \
            Y[i] = cv != 0.0f ? av : bv;                                        \
        }                                                                       \
    } while (0)

GG__INLINE void where_row(float *Y, const float *C, int64_t sc, const float *A, int64_t sa,
                      const float *B, int64_t sb, int64_t n) {
    if (sc == 1) {
        if (sa == 1 && sb == 1) WHERE_ROW(1, 1, 1);
        else if (sa == 1 && sb == 0) WHERE_ROW(1, 1, 0);
        else if (sa == 0 && sb == 1) WHERE_ROW(1, 0, 1);
        else if (sa == 0 && sb == 0) WHERE_ROW(1, 0, 0);
        else WHERE_ROW(1, sa, sb);
    } else if (sc == 0) {
        const float *src = C[0] != 0.0f ? A : B;
        int64_t s = C[0] != 0.0f ? sa : sb;
        if (s == 1) { VLOOP for (int64_t i = 0; i < n; i++) Y[i] = src[i]; }
        else if (s == 0) { float v = src[0]; VLOOP for (int64_t i = 0; i < n; i++) Y[i] = v; }
        else { VLOOP for (int64_t i = 0; i < n; i++) Y[i] = src[i * s]; }
    } else {
        WHERE_ROW(sc, sa, sb);
    }
}

GG__INLINE void where_body(const iter_t *it, float *y, const float *c, const float *a, const float *b,
                       int64_t lo, int64_t hi) {
    cursor_t cur;
    cur_seek(&cur, it, lo);
    int r = it->rank - 1;
    int64_t L = it->shape[r], sc = it->st[1][r], sa = it->st[2][r], sb = it->st[3][r];
    for (int64_t pos = lo; pos < hi;) {
        int64_t len = L - cur.idx[r];
        if (len > hi - pos) len = hi - pos;
        where_row(y + cur.off[0], c + cur.off[1], sc, a + cur.off[2], sa, b + cur.off[3], sb, len);
        pos += len;
        cur_advance(&cur, it, len);
    }
}

GG__ISA_VARIANTS(void, where, (const iter_t *it, float *y, const float *c, const float *a, const float *b, int64_t lo, int64_t hi),
                 where_body(it, y, c, a, b, lo, hi))

gg_status gg_where_f32(const gg_ctx *ctx, float *y,
                       const float *c, const int64_t *c_strides,
                       const float *a, const int64_t *a_strides,
                       const float *b, const int64_t *b_strides,
                       const int64_t *shape, int rank) {
    if (rank < 0 || rank > GG_MAX_RANK) return GG_ERR_ARG;
    for (int d = 0; d < rank; d++) if (shape[d] < 0) return GG_ERR_ARG;
    int64_t yst[GG_MAX_RANK];
    contiguous_strides(yst, shape, rank);
    const int64_t *strides[4] = {yst, c_strides, a_strides, b_strides};
    iter_t it;
    int64_t total = iter_init(&it, 4, strides, shape, rank);
    if (total < 0) return GG_ERR_ARG;
    if (total == 0) return GG_OK;
    where_fn fn = where_pick(ctx);
    GG__FOR_PARTS(ctx, total, lo, hi, fn(&it, y, c, a, b, lo, hi));
    return GG_OK;
}

/* ------------------------------------------------------------------ */
/* Copy                                                                */

GG__INLINE void copy_row(float *Y, int64_t sy, const float *X, int64_t sx, int64_t n) {
    if (sy == 1) {
        if (sx == 1) { VLOOP for (int64_t i = 0; i < n; i++) Y[i] = X[i]; }
        else if (sx == 0) { float v = X[0]; VLOOP for (int64_t i = 0; i < n; i++) Y[i] = v; }
        else { VLOOP for (int64_t i = 0; i < n; i++) Y[i] = X[i * sx]; }
    } else if (sx == 1) {
        VLOOP for (int64_t i = 0; i < n; i++) Y[i * sy] = X[i];
    } else {
        for (int64_t i = 0; i < n; i++) Y[i * sy] = X[i * sx];
    }
}

GG__INLINE void copy_body(const iter_t *it, float *y, const float *x, int64_t lo, int64_t hi) {
    cursor_t cur;
    cur_seek(&cur, it, lo);
    int r = it->rank - 1;
    int64_t L = it->shape[r], sy = it->st[0][r], sx = it->st[1][r];
    for (int64_t pos = lo; pos < hi;) {
        int64_t len = L - cur.idx[r];
        if (len > hi - pos) len = hi - pos;
        copy_row(y + cur.off[0], sy, x + cur.off[1], sx, len);
        pos += len;
        cur_advance(&cur, it, len);
    }
}

GG__ISA_VARIANTS(void, copy, (const iter_t *it, float *y, const float *x, int64_t lo, int64_t hi),
                 copy_body(it, y, x, lo, hi))

/* Transposing copy, blocked: y rows are contiguous, x is contiguous along the
 * row index instead. Blocks of TB rows (8: larger blocks thrash L1 sets when
 * the strides are powers of two) keep both sides' cache lines in L1. */
#define TB 8

static void transpose_rows(float *y, int64_t syr, const float *x, int64_t sxc, int64_t rows, int64_t cols) {
    for (int64_t j0 = 0; j0 < cols; j0 += TB) {
        int64_t j1 = j0 + TB < cols ? j0 + TB : cols;
        for (int64_t j = j0; j < j1; j++) {
            const float *xc = x + j * sxc;
            for (int64_t i = 0; i < rows; i++) y[i * syr + j] = xc[i];
        }
    }
}

/* Handles the copy when its two innermost (merged) dimensions form a
 * transpose; returns 0 when they do not. */
static int copy_transposed(const gg_ctx *ctx, const iter_t *it, float *y, const float *x, int64_t total) {
    int r = it->rank - 1;
    if (r < 1 || it->st[0][r] != 1 || it->st[1][r - 1] != 1 || it->st[1][r] == 1 ||
        it->shape[r] < 16 || it->shape[r - 1] < 16)
        return 0;
    int64_t R = it->shape[r - 1], C = it->shape[r];
    int64_t syr = it->st[0][r - 1], sxc = it->st[1][r];
    int64_t rblocks = (R + TB - 1) / TB;
    int64_t items = total / (R * C) * rblocks;
    int nt = gg__team_size(ctx, total);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (int64_t item = 0; item < items; item++) {
        int64_t plane = item / rblocks, i0 = (item % rblocks) * TB;
        int64_t oy = 0, ox = 0;
        for (int d = r - 2; d >= 0; d--) {
            int64_t i = plane % it->shape[d];
            plane /= it->shape[d];
            oy += i * it->st[0][d];
            ox += i * it->st[1][d];
        }
        int64_t rows = R - i0 < TB ? R - i0 : TB;
        transpose_rows(y + oy + i0 * syr, syr, x + ox + i0, sxc, rows, C);
    }
    (void)nt;
    return 1;
}

/* y row of n*R floats = each of n x values (stride sx) repeated R times. */
static void repeat_row(float *y, const float *x, int64_t sx, int64_t n, int64_t R) {
    if (R == 2) {
        for (int64_t j = 0; j < n; j++) y[2 * j] = y[2 * j + 1] = x[j * sx];
        return;
    }
    for (int64_t j = 0; j < n; j++)
        for (int64_t k = 0; k < R; k++) y[j * R + k] = x[j * sx];
}

/* Handles the copy when its innermost (merged) dimension repeats x a few
 * times into contiguous y (nearest upsampling's broadcast: rows of R = 2
 * would otherwise cost a row's overhead per 2 floats); returns 0 when it
 * does not. Rows of n*R floats, n along the next dimension. */
static int copy_repeated(const gg_ctx *ctx, const iter_t *it, float *y, const float *x, int64_t total) {
    const int r = it->rank - 1;
    if (r < 1 || it->st[0][r] != 1 || it->st[1][r] != 0 || it->shape[r] > 8 || it->st[0][r - 1] != it->shape[r])
        return 0;
    iter_t outer = *it; /* its rows are the n x values of each y row */
    outer.rank = r;
    const int64_t R = it->shape[r], n = it->shape[r - 1], sx = it->st[1][r - 1], rows = total / (n * R);
    const int nt = gg__team_size(ctx, total);
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (int t = 0; t < nt; t++) {
        const int64_t lo = gg__part_start(rows, nt, t), hi = gg__part_start(rows, nt, t + 1);
        if (lo >= hi) continue;
        cursor_t cur;
        cur_seek(&cur, &outer, lo * n);
        for (int64_t row = lo; row < hi; row++) {
            repeat_row(y + cur.off[0], x + cur.off[1], sx, n, R);
            cur_advance(&cur, &outer, n);
        }
    }
    return 1;
}

gg_status gg_copy_f32(const gg_ctx *ctx, float *y, const int64_t *y_strides,
                      const float *x, const int64_t *x_strides,
                      const int64_t *shape, int rank) {
    const int64_t *strides[2] = {y_strides, x_strides};
    iter_t it;
    int64_t total = iter_init(&it, 2, strides, shape, rank);
    if (total < 0) return GG_ERR_ARG;
    if (total == 0) return GG_OK;
    if (copy_transposed(ctx, &it, y, x, total) || copy_repeated(ctx, &it, y, x, total)) return GG_OK;
    copy_fn fn = copy_pick(ctx);
    GG__FOR_PARTS(ctx, total, lo, hi, fn(&it, y, x, lo, hi));
    return GG_OK;
}

/* ------------------------------------------------------------------ */
/* Fill and one-hot                                                    */

static void fill_range(float *y, int64_t n, float value) {
    for (int64_t i = 0; i < n; i++) y[i] = value;
}

gg_status gg_fill_f32(const gg_ctx *ctx, float *y, int64_t n, float value) {
    if (n < 0) return GG_ERR_ARG;
    GG__FOR_PARTS(ctx, n, lo, hi, fill_range(y + lo, hi - lo, value));
    return GG_OK;
}

gg_status gg_one_hot_f32(const gg_ctx *ctx, float *y, const float *labels, int64_t n, int64_t depth) {
    if (n < 0 || depth < 0) return GG_ERR_ARG;
    for (int64_t i = 0; i < n; i++) {
        double l = labels[i];
        if (!(l >= 0.0 && l < (double)depth) || l != floor(l)) return GG_ERR_ARG;
    }
    gg_status st = gg_fill_f32(ctx, y, n * depth, 0.0f);
    if (st != GG_OK) return st;
    for (int64_t i = 0; i < n; i++) y[i * depth + (int64_t)labels[i]] = 1.0f;
    return GG_OK;
}

/* ------------------------------------------------------------------ */
/* Tile workers for the fused interpreter (gg_internal.h): the same loops
 * the kernels above run, on contiguous operands.                      */

GG__ISA_VARIANTS(void, binary_tile, (float *y, const float *a, const float *b, int64_t n, int op),
                 binary_row(op, y, a, 1, b, 1, n))

gg__unary_fn gg__unary_pick(const gg_ctx *ctx) { return unary_pick(ctx); }
gg__binary_fn gg__binary_pick(const gg_ctx *ctx) { return binary_tile_pick(ctx); }
