/*
 * gg_cpu.c: which instruction set the kernels may use, and OpenMP's defaults.
 * The ISA is chosen at run time from CPUID (via the compiler's builtins), so
 * one binary runs on any x86-64 and uses AVX-512 where the CPU has it.
 */
#include "gg_kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

gg_isa gg_cpu_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return GG_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return GG_ISA_AVX2;
#endif
    return GG_ISA_PORTABLE;
}

gg_isa gg_ctx_isa(const gg_ctx *ctx) {
    gg_isa best = gg_cpu_isa();
    if (ctx == 0 || ctx->isa < 0 || ctx->isa > (int)best) return best;
    return (gg_isa)ctx->isa;
}

const char *gg_isa_name(gg_isa isa) {
    switch (isa) {
    case GG_ISA_AVX512: return "avx512";
    case GG_ISA_AVX2: return "avx2";
    case GG_ISA_PORTABLE: return "portable";
    }
    return "unknown";
}

int gg_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int gg_default_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* The FMA peak: 12 independent chains of register-only FMAs (enough to hide
 * the latency on every core we know), `iterations` rounds on each of
 * ctx->nthreads threads, in the widest vectors of ctx's ISA. The caller times
 * the call; the result keeps the chains alive. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static float fma_chains_avx512(int64_t iterations) {
    __m512 a[12];
    const __m512 m = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (int64_t k = 0; k < iterations; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], m, b);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx2,fma"))) static float fma_chains_avx2(int64_t iterations) {
    __m256 a[12];
    const __m256 m = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (int64_t k = 0; k < iterations; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, b);
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
}
#endif
static float fma_chains_portable(int64_t iterations) {
    float a[12];
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    for (int64_t k = 0; k < iterations; k++)
        for (int i = 0; i < 12; i++) a[i] = a[i] * 0.999999f + 1e-7f;
    float s = 0;
    for (int i = 0; i < 12; i++) s += a[i];
    return s;
}

static float fma_chains(gg_isa isa, int64_t iterations) {
#if defined(__x86_64__) || defined(__i386__)
    if (isa == GG_ISA_AVX512) return fma_chains_avx512(iterations);
    if (isa == GG_ISA_AVX2) return fma_chains_avx2(iterations);
#endif
    (void)isa;
    return fma_chains_portable(iterations);
}

float gg_fma_peak_probe(const gg_ctx *ctx, int64_t iterations, double *flops) {
    const gg_isa isa = gg_ctx_isa(ctx);
    const int nt = ctx && ctx->nthreads > 1 && gg_openmp_enabled() ? ctx->nthreads : 1;
    const int lanes = isa == GG_ISA_AVX512 ? 16 : isa == GG_ISA_AVX2 ? 8 : 1;
    float sum = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(+ : sum)
#endif
    sum += fma_chains(isa, iterations);
    if (flops) *flops = 2.0 * 12 * lanes * (double)iterations * nt;
    return sum;
}
