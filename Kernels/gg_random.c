/*
 * gg_random.c: counter-based random numbers, Philox4x32-10 keyed by the
 * 64-bit seed. The stream is defined in gg_ref_random.c: element e =
 * offset + i uses counter e >> 2 and output word e & 3, so element i depends
 * only on (seed, offset + i) and never on threads or how a request is split.
 *   uniform: (word >> 8) * 2^-24, in [0, 1 - 2^-24] (never 1.0).
 *   normal:  Box-Muller on the pair of words (2p, 2p+1) of the same counter,
 *            u1 = ((w >> 8) + 1) * 2^-24 in (0, 1] so log(u1) is finite;
 *            even e takes r cos(2 pi u2), odd e takes r sin(2 pi u2).
 * Whole counters are generated four floats at a time by a vectorisable
 * loop (branch-free log and sin/cos polynomials, within a few ulp); the
 * partial counters at either end go through the same per-element formula.
 */
#include "gg_kernels.h"
#include "gg_internal.h"

#include <math.h>
#include <string.h>

GG__INLINE void philox(uint32_t r[4], uint64_t ctr, uint64_t seed) {
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
#if defined(__clang__)
#pragma clang loop unroll(full)
#endif
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    r[0] = c0; r[1] = c1; r[2] = c2; r[3] = c3;
}

GG__INLINE float unit24(uint32_t w) { return (float)(int32_t)(w >> 8) * 0x1p-24f; }
GG__INLINE float unit24_open(uint32_t w) { return (float)(int32_t)((w >> 8) + 1) * 0x1p-24f; }

/* ln x for normal finite x > 0 (here x in [2^-24, 1]): x = 2^e m,
 * m in [sqrt(1/2), sqrt(2)), ln m = gg__log1p_core(m - 1). */
GG__INLINE float log_pos(float x) {
    uint32_t u = gg__u_bits(x);
    int32_t e = (int32_t)((u >> 23) & 0xff) - 127;
    float m = gg__f_bits((u & 0x007fffffu) | 0x3f800000u);
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e += big;
    float lm = gg__log1p_core(m - 1.0f);
    float ef = (float)e;
    return ef * 0.693145751953125f + (lm + ef * 1.428606820309417232e-6f);
}

/* sin and cos of 2 pi u for u in [0, 1): quadrant q = round(4u),
 * a = 2 pi (u - q/4) in [-pi/4, pi/4] (the subtraction is exact). */
GG__INLINE void sincos_2pi(float u, float *s_out, float *c_out) {
    float qf = rintf(u * 4.0f);
    int q = (int)qf & 3;
    float a = (u - qf * 0.25f) * 6.28318530717958648f;
    float z = a * a;
    float s = 2.75573192239858907e-6f;
    s = s * z - 1.98412698412698413e-4f;
    s = s * z + 8.33333333333333333e-3f;
    s = s * z - 1.66666666666666667e-1f;
    s = a + a * (z * s);
    float c = -2.75573192239858907e-7f;
    c = c * z + 2.48015873015873016e-5f;
    c = c * z - 1.38888888888888889e-3f;
    c = c * z + 4.16666666666666667e-2f;
    c = c * z - 0.5f;
    c = c * z + 1.0f;
    float sn = (q & 1) ? c : s;
    float cs = (q & 1) ? s : c;
    sn = (q & 2) ? -sn : sn;
    cs = ((q + 1) & 2) ? -cs : cs;
    *s_out = sn;
    *c_out = cs;
}

GG__INLINE float uniform_at(uint64_t e, uint64_t seed) {
    uint32_t r[4];
    philox(r, e >> 2, seed);
    return unit24(r[e & 3]);
}

GG__INLINE float normal_at(uint64_t e, uint64_t seed) {
    uint32_t r[4];
    philox(r, e >> 2, seed);
    int p = (int)((e >> 1) & 1);
    float rad = sqrtf(-2.0f * log_pos(unit24_open(r[2 * p])));
    float s, c;
    sincos_2pi(unit24(r[2 * p + 1]), &s, &c);
    return (e & 1) ? rad * s : rad * c;
}

/* y[0..n) for elements offset .. offset + n - 1 (normal: a constant at each
 * call, so each worker keeps one distribution's loop). */
GG__INLINE void rand_body(float *y, int64_t n, uint64_t seed, uint64_t offset, int normal) {
    int64_t i = 0;
    for (; i < n && ((offset + (uint64_t)i) & 3) != 0; i++)
        y[i] = normal ? normal_at(offset + (uint64_t)i, seed) : uniform_at(offset + (uint64_t)i, seed);
    int64_t full = (n - i) / 4;
    uint64_t ctr0 = (offset + (uint64_t)i) >> 2;
    float *yb = y + i;
    GG__VLOOP for (int64_t j = 0; j < full; j++) {
        uint32_t r[4];
        philox(r, ctr0 + (uint64_t)j, seed);
        if (normal) {
            float ra = sqrtf(-2.0f * log_pos(unit24_open(r[0])));
            float rb = sqrtf(-2.0f * log_pos(unit24_open(r[2])));
            float sa, ca, sb, cb;
            sincos_2pi(unit24(r[1]), &sa, &ca);
            sincos_2pi(unit24(r[3]), &sb, &cb);
            yb[4 * j + 0] = ra * ca;
            yb[4 * j + 1] = ra * sa;
            yb[4 * j + 2] = rb * cb;
            yb[4 * j + 3] = rb * sb;
        } else {
            yb[4 * j + 0] = unit24(r[0]);
            yb[4 * j + 1] = unit24(r[1]);
            yb[4 * j + 2] = unit24(r[2]);
            yb[4 * j + 3] = unit24(r[3]);
        }
    }
    for (i += 4 * full; i < n; i++)
        y[i] = normal ? normal_at(offset + (uint64_t)i, seed) : uniform_at(offset + (uint64_t)i, seed);
}

GG__ISA_VARIANTS(void, uniform, (float *y, int64_t n, uint64_t s, uint64_t o), rand_body(y, n, s, o, 0))
GG__ISA_VARIANTS(void, normal, (float *y, int64_t n, uint64_t s, uint64_t o), rand_body(y, n, s, o, 1))

static gg_status run(const gg_ctx *ctx, gg__rand_fn fn, float *y, int64_t n, uint64_t seed, uint64_t offset) {
    if (n < 0) return GG_ERR_ARG;
    if (n == 0) return GG_OK;
    GG__FOR_PARTS(ctx, n, lo, hi, fn(y + lo, hi - lo, seed, offset + (uint64_t)lo));
    return GG_OK;
}

gg_status gg_rand_uniform_f32(const gg_ctx *ctx, float *y, int64_t n, uint64_t seed, uint64_t offset) {
    return run(ctx, uniform_pick(ctx), y, n, seed, offset);
}

gg_status gg_rand_normal_f32(const gg_ctx *ctx, float *y, int64_t n, uint64_t seed, uint64_t offset) {
    return run(ctx, normal_pick(ctx), y, n, seed, offset);
}

/* Tile workers for the fused interpreter (gg_internal.h). */
gg__rand_fn gg__rand_uniform_pick(const gg_ctx *ctx) { return uniform_pick(ctx); }
gg__rand_fn gg__rand_normal_pick(const gg_ctx *ctx) { return normal_pick(ctx); }
