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
