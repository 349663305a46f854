/*
 * gg_internal.h: helpers and tile-level workers shared between kernel files
 * (not part of the public API; names start with gg__). The workers are the
 * very loops the public kernels run, so a caller that uses them (the fused
 * interpreter) computes bit-identical results. Each pick returns the worker
 * compiled for the ISA gg_ctx_isa(ctx) selects.
 */
#ifndef GG_INTERNAL_H
#define GG_INTERNAL_H

#include "gg_kernels.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Helpers shared by the kernel files.                                 */

#define GG__INLINE static inline __attribute__((always_inline))
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__clang__) || defined(__GNUC__))
#define GG__X86 1
#define GG__TGT_AVX512 __attribute__((target("avx512f")))
#define GG__TGT_AVX2 __attribute__((target("avx2,fma")))
#else
#define GG__X86 0
#endif
#if defined(__clang__)
#define GG__VLOOP _Pragma("clang loop vectorize(assume_safety)")
#else
#define GG__VLOOP
#endif
#ifdef _OPENMP
#define GG__OMP(directive) _Pragma(directive)
#else
#define GG__OMP(directive)
#endif

GG__INLINE float gg__f_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
GG__INLINE uint32_t gg__u_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* ln(1 + f) for 1 + f in [sqrt(1/2), sqrt(2)): s = f / (2 + f),
 * ln(1 + f) = f - s (f - R) with R the atanh series in s^2. */
GG__INLINE float gg__log1p_core(float f) {
    float s = f / (2.0f + f);
    float z = s * s;
    float R = 0.222222222222222222f;
    R = R * z + 0.285714285714285714f;
    R = R * z + 0.4f;
    R = R * z + 0.666666666666666667f;
    R = R * z;
    return f - s * (f - R);
}

/* Below this many elements a kernel runs on the calling thread. */
#define GG__PAR_MIN 65536

/* Threads ctx asks for (1 when it asks for none, or without OpenMP). */
static inline int gg__threads(const gg_ctx *ctx) {
#ifdef _OPENMP
    return ctx && ctx->nthreads > 1 ? ctx->nthreads : 1;
#else
    (void)ctx;
    return 1;
#endif
}

/* Team size for `work` elements: gg__threads(ctx), or 1 below GG__PAR_MIN. */
static inline int gg__team_size(const gg_ctx *ctx, int64_t work) {
    return work < GG__PAR_MIN ? 1 : gg__threads(ctx);
}

/* Rows of the register tile that starts where rem rows of a GEMM-like loop
 * remain, tiles mr rows high: mr, except that a tail of mr + 1 .. mr + 3 rows
 * is cut 4 + the rest. A tile of 1-3 rows has too few accumulator chains to
 * hide the FMA latency (M = 32 in 6-row tiles as 6+6+6+6+4+4, not 6*5+2). */
static inline int64_t gg__tile_rows(int64_t mr, int64_t rem) {
    return rem <= mr ? rem : rem <= mr + 3 ? 4 : mr;
}

/* Start of part t of nt equal parts of [0, n), 16-element aligned. */
static inline int64_t gg__part_start(int64_t n, int nt, int t) {
    int64_t chunk = ((n + nt - 1) / nt + 15) & ~(int64_t)15;
    int64_t s = chunk * t;
    return s < n ? s : n;
}

/* Runs the statement(s) after HI once per non-empty part [LO, HI) of [0, N),
 * on gg__team_size(ctx, N) threads, or once over [0, N) on the calling
 * thread. A macro so the statement can call workers of any signature. */
#define GG__FOR_PARTS(CTX, N, LO, HI, ...)                                               \
    do {                                                                                \
        const int64_t gg__n_ = (N);                                                     \
        const int gg__nt_ = gg__team_size((CTX), gg__n_);                               \
        if (gg__nt_ > 1) {                                                              \
            GG__OMP("omp parallel for num_threads(gg__nt_) schedule(static)")           \
            for (int gg__t_ = 0; gg__t_ < gg__nt_; gg__t_++) {                          \
                int64_t LO = gg__part_start(gg__n_, gg__nt_, gg__t_);                   \
                int64_t HI = gg__part_start(gg__n_, gg__nt_, gg__t_ + 1);               \
                if (HI > LO) { __VA_ARGS__; }                                           \
            }                                                                           \
        } else {                                                                        \
            int64_t LO = 0, HI = gg__n_;                                                \
            __VA_ARGS__;                                                                \
        }                                                                               \
    } while (0)

/* Compiles one worker per ISA: NAME_portable, NAME_avx2 and NAME_avx512 all
 * run the statement after PARAMS, plus the type NAME_fn and NAME_pick(ctx),
 * which returns the variant gg_ctx_isa(ctx) selects. A macro because the
 * variants differ only in their target attribute. */
#if GG__X86
#define GG__ISA_VARIANTS(RET, NAME, PARAMS, ...)                                         \
    typedef RET (*NAME##_fn) PARAMS;                                                    \
    static RET NAME##_portable PARAMS { __VA_ARGS__; }                                  \
    GG__TGT_AVX2 static RET NAME##_avx2 PARAMS { __VA_ARGS__; }                         \
    GG__TGT_AVX512 static RET NAME##_avx512 PARAMS { __VA_ARGS__; }                     \
    static inline NAME##_fn NAME##_pick(const gg_ctx *ctx) {                            \
        switch (gg_ctx_isa(ctx)) {                                                      \
        case GG_ISA_AVX512: return NAME##_avx512;                                       \
        case GG_ISA_AVX2: return NAME##_avx2;                                           \
        default: return NAME##_portable;                                                \
        }                                                                               \
    }
#else
#define GG__ISA_VARIANTS(RET, NAME, PARAMS, ...)                                         \
    typedef RET (*NAME##_fn) PARAMS;                                                    \
    static RET NAME##_portable PARAMS { __VA_ARGS__; }                                  \
    static inline NAME##_fn NAME##_pick(const gg_ctx *ctx) {                            \
        (void)ctx;                                                                      \
        return NAME##_portable;                                                         \
    }
#endif

/* y[i] = (gg_unary_op)op (x[i]; p0, p1), i < n; y may equal x. */
typedef void (*gg__unary_fn)(float *y, const float *x, int64_t n, int op, float p0, float p1);
/* y[i] = (gg_binary_op)op (a[i], b[i]), i < n, all contiguous; y may equal a or b. */
typedef void (*gg__binary_fn)(float *y, const float *a, const float *b, int64_t n, int op);
/* y[i] = element offset + i of the Philox stream keyed by seed. */
typedef void (*gg__rand_fn)(float *y, int64_t n, uint64_t seed, uint64_t offset);

/* One chunk x[0, n), n <= 4096, of a contiguous row reduced (op: gg_reduce_op)
 * in fresh interleaved lanes and folded: what gg_reduce_f32 adds per chunk. */
typedef float (*gg__row_chunk_fn)(const float *x, int64_t n, int op);

gg__unary_fn gg__unary_pick(const gg_ctx *ctx);       /* gg_elementwise.c */
gg__binary_fn gg__binary_pick(const gg_ctx *ctx);     /* gg_elementwise.c */
gg__rand_fn gg__rand_uniform_pick(const gg_ctx *ctx); /* gg_random.c */
gg__rand_fn gg__rand_normal_pick(const gg_ctx *ctx);  /* gg_random.c */
gg__row_chunk_fn gg__row_chunk_pick(const gg_ctx *ctx); /* gg_reduce.c */

/* gg_gemm.c: 1 when the epilogue (if any) is elementwise over (batch, M, N)
 * and each prologue (if any) computes its operand's storage (batch, rows,
 * cols): (M, K) or, transposed, (K, M) for A; (K, N) or (N, K) for B. */
int gg__gemm_programs_ok(int64_t batch, int64_t M, int64_t N, int64_t K, int trans_a, int trans_b,
                         const gg_fprogram *prologue_a, const gg_fprogram *prologue_b, const gg_fprogram *epilogue);

/* gg_fused.c: program checks shared with the reference interpreter. */
gg_status gg__fused_validate(const gg_fprogram *p, int allow_reduce);
/* 1 when p is an elementwise program (no REDUCE, no post) over exactly
 * shape[0..rank): what an epilogue must be. */
int gg__fused_elementwise_over(const gg_fprogram *p, int rank, const int64_t *shape);
/* 1 when p is a program over exactly shape[0..4) (an NCHW output) whose
 * REDUCE outputs, if any, sum or max over every axis but the channel axis 1,
 * and whose post program, if any, is elementwise: what a convolution's
 * epilogue may be (gg_conv_epilogue.c). */
int gg__fused_channel_epilogue_over(const gg_fprogram *p, const int64_t *shape);
/* gg_fused.c: gg_fused_region_f32 that also runs REDUCE, folding the box into
 * what its outputs already hold (the caller initialises them). */
gg_status gg__fused_region_acc(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *lo, const int64_t *extent);
/* 1 when gg__fused_region_into can run p over boxes of `shape`: one output,
 * elementwise over the shape (p's own output pointer and strides are unused). */
int gg__fused_region_into_ok(const gg_fprogram *p, int rank, const int64_t *shape);
/* Fills every REDUCE output's footprint with 0 (sum) or -inf (max). */
void gg__fused_init_reductions(const gg_fprogram *p);
/* gg_fused.c: GG_OK when gg_fused_phases_f32 may run these phases (shapes,
 * reductions over exactly the reduced axes, memory shared only slab by slab). */
gg_status gg__fused_phases_validate(int32_t nphases, const gg_fprogram *const *phases, const int32_t *reduced);
/* gg_fused.c: gg_fused_region_f32 for a program with one output, written to
 * dst (strides dst_strides) addressed from the box's corner rather than the
 * space's origin: a GEMM prologue computes one panel of its operand into a
 * small buffer. Random draws keep the space's own counters. */
gg_status gg__fused_region_into(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *lo, const int64_t *extent,
                                float *dst, const int64_t *dst_strides);
/* gg_ref_fused.c: the value p's one STORE writes at element idx of its space,
 * from the reference interpreter, written to *value and nowhere else. */
gg_status gg__fused_ref_value(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *idx, float *value);

#endif /* GG_INTERNAL_H */
