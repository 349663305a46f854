/*
 * gg_ref_random.c: scalar reference for the counter-based generators, one
 * Philox4x32-10 evaluation per element (the specification of the stream):
 *   element index e = offset + i (mod 2^64); counter = (e >> 2) as 128 bits
 *   (low word first, upper two words 0); key = (seed low 32, seed high 32).
 *   uniform: out[e & 3] >> 8 scaled by 2^-24, so it is in [0, 1 - 2^-24].
 *   normal:  pair p = (e >> 1) & 1 of the same counter gives u1 from out[2p]
 *            as ((bits >> 8) + 1) * 2^-24 in (0, 1] (so log never sees 0) and
 *            u2 from out[2p+1] in [0, 1); r = sqrt(-2 ln u1), t = 2 pi u2;
 *            even e gives r cos t, odd e gives r sin t (Box-Muller).
 * The reference evaluates the transcendentals in double and rounds once.
 */
#include "gg_kernels.h"

#include <math.h>

static void ref_philox(uint32_t out[4], uint64_t ctr, uint64_t seed) {
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

gg_status gg_rand_uniform_f32_ref(const gg_ctx *ctx, float *y, int64_t n, uint64_t seed, uint64_t offset) {
    (void)ctx;
    if (n < 0) return GG_ERR_ARG;
    for (int64_t i = 0; i < n; i++) {
        uint64_t e = offset + (uint64_t)i;
        uint32_t out[4];
        ref_philox(out, e >> 2, seed);
        y[i] = (float)(out[e & 3] >> 8) * 0x1p-24f;
    }
    return GG_OK;
}

gg_status gg_rand_normal_f32_ref(const gg_ctx *ctx, float *y, int64_t n, uint64_t seed, uint64_t offset) {
    (void)ctx;
    if (n < 0) return GG_ERR_ARG;
    const double two_pi = 6.283185307179586476925286766559;
    for (int64_t i = 0; i < n; i++) {
        uint64_t e = offset + (uint64_t)i;
        uint32_t out[4];
        ref_philox(out, e >> 2, seed);
        int p = (int)((e >> 1) & 1);
        double u1 = (double)((out[2 * p] >> 8) + 1) * 0x1p-24;
        double u2 = (double)(out[2 * p + 1] >> 8) * 0x1p-24;
        double r = sqrt(-2.0 * log(u1));
        y[i] = (float)((e & 1) ? r * sin(two_pi * u2) : r * cos(two_pi * u2));
    }
    return GG_OK;
}
