/*
 * gg_gemm.c: single-precision GEMM, C = alpha * op(A) * op(B) + beta * C.
 *
 * Layouts: everything row-major with leading dimensions (see gg_kernels.h).
 * Transposed operands are absorbed by the packing routines, so the four
 * transpose combinations share one micro-kernel and cost about the same.
 *
 * Structure (BLIS style): N is cut into NC column blocks, K into KC depth
 * blocks, M into MC row blocks. For each (NC, KC) block, B is packed into
 * NR-wide column panels (shared by the team; a row-major B's full panels are
 * read in place when few rows reuse them: b_in_place); for each MC block a
 * thread packs A into MR-tall row panels of its own (the AVX2 and AVX-512
 * kernels read a row-major A in place instead: kernel_rows); a
 * register-blocked MR x NR micro-kernel then multiplies one A panel by one B
 * panel. Edge panels are zero-padded so the micro-kernel always reads full
 * panels; it only stores the valid part.
 * Three micro-kernels exist (AVX-512, AVX2+FMA, portable C), chosen at run
 * time by gg_ctx_isa(ctx).
 *
 * Threads split the output into disjoint tiles (rows in MR units, columns in
 * NR units) and never split K, so each element is computed by the same
 * sequence of operations whatever ctx->nthreads is: results are bit-identical
 * across thread counts. Tiny problems skip packing and threads entirely.
 * A narrow output (N under one panel, many rows: the vae's 20-wide heads) is
 * computed transposed, C^T = op(B)^T op(A)^T, where the long side fills the
 * panels, then transposed into C (gemm_narrow).
 *
 * Not done here: complex/other precisions, NaN-propagation promises beyond
 * what IEEE arithmetic gives, and alpha == 0 shortcuts (A and B are still
 * read, as in the reference).
 */
#include "gg_kernels.h"
#include "gg_internal.h"

#include <stddef.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GG_GEMM_X86 1
#define GG_AVX2_TARGET __attribute__((target("avx2,fma")))
#define GG_AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))
#endif

/* Problems with fewer multiply-adds than this go straight through a simple
 * loop nest: packing and thread start-up would cost more than they save. */
#define GG_GEMM_SMALL_MACS 32768
/* Below this many multiply-adds (~5 us on one core) one thread is as fast as
 * two. Measured on Sapphire Rapids (gengraph-kernel-bench): 64^3 runs 1.47x
 * faster on two threads, and the VAE's 128x400x20-class GEMMs (1.02M MACs,
 * just under the old 2^20 cut) 1.4-1.75x; an OpenMP fork/join with spinning
 * workers costs a few us. */
#define GG_GEMM_THREAD_MACS (1 << 18)

/* One micro-kernel call: C[0:mr, 0:nr] = alpha * Ap * Bp + beta * C, where Ap
 * is an MR-interleaved A panel (kc x MR), Bp a B panel of kc rows ldbp apart
 * (packed: the padded panel width, panel_ld; read in place: B's ldb),
 * mr <= MR, nr <= NR. beta == 0 never reads C. */
typedef void (*gg_ukernel)(int64_t kc, const float *Ap, const float *Bp, int64_t ldbp, float *C, int64_t ldc,
                           int mr, int nr, float alpha, float beta);
/* Packs a panel: dst[k * R + r] = op(src)(r, k) for r < w, 0 for w <= r < R. */
typedef void (*gg_packer)(float *dst, const float *src, int64_t ld, int64_t w, int64_t R, int64_t kc);
/* As gg_ukernel, with A's mr rows read in place: element (r, k) at A[r * lda + k]. */
typedef void (*gg_ukernel_rows)(int64_t kc, const float *A, int64_t lda, const float *Bp, int64_t ldbp, float *C,
                                int64_t ldc, int mr, int nr, float alpha, float beta);

typedef struct gg_gemm_arch {
    int mr, nr;   /* micro-tile */
    int vw;       /* B panels are padded to a multiple of this (vector width) */
    int kc, mc, nc; /* largest cache blocks */
    gg_ukernel kernel;
    gg_packer pack_rows; /* source rows are the panel's r index (A, or B^T) */
    gg_packer pack_cols; /* source rows are the k index (A^T, or B) */
    /* The micro-kernel reading A's rows where they are (row-major A, lda apart),
     * or NULL: the driver then packs A for `kernel`. */
    gg_ukernel_rows kernel_rows;
} gg_gemm_arch;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }

/* ---------------------------------------------------------------- packing */

/* Portable: src(k, r) = src[k * ld + r]: each k is a contiguous run. */
static void pack_cols_c(float *dst, const float *src, int64_t ld, int64_t w, int64_t R, int64_t kc) {
    for (int64_t k = 0; k < kc; k++) {
        const float *s = src + k * ld;
        float *d = dst + k * R;
        int64_t r = 0;
        for (; r < w; r++) d[r] = s[r];
        for (; r < R; r++) d[r] = 0.0f;
    }
}

/* Portable: src(r, k) = src[r * ld + k]: a transpose. */
static void pack_rows_c(float *dst, const float *src, int64_t ld, int64_t w, int64_t R, int64_t kc) {
    for (int64_t r = 0; r < w; r++) {
        const float *s = src + r * ld;
        for (int64_t k = 0; k < kc; k++) dst[k * R + r] = s[k];
    }
    for (int64_t r = w; r < R; r++)
        for (int64_t k = 0; k < kc; k++) dst[k * R + r] = 0.0f;
}

#ifdef GG_GEMM_X86
/* Transposing pack with 8x8 AVX transposes; the scalar loop would otherwise
 * dominate NN/NT runs where A (or B^T) must be transposed. */
GG_AVX2_TARGET static void pack_rows_avx2(float *dst, const float *src, int64_t ld, int64_t w,
                                          int64_t R, int64_t kc) {
    int64_t r0 = 0;
    for (; r0 + 8 <= w; r0 += 8) {
        const float *s = src + r0 * ld;
        int64_t k = 0;
        for (; k + 8 <= kc; k += 8) {
            __m256 x0 = _mm256_loadu_ps(s + 0 * ld + k), x1 = _mm256_loadu_ps(s + 1 * ld + k);
            __m256 x2 = _mm256_loadu_ps(s + 2 * ld + k), x3 = _mm256_loadu_ps(s + 3 * ld + k);
            __m256 x4 = _mm256_loadu_ps(s + 4 * ld + k), x5 = _mm256_loadu_ps(s + 5 * ld + k);
            __m256 x6 = _mm256_loadu_ps(s + 6 * ld + k), x7 = _mm256_loadu_ps(s + 7 * ld + k);
            __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1);
            __m256 t2 = _mm256_unpacklo_ps(x2, x3), t3 = _mm256_unpackhi_ps(x2, x3);
            __m256 t4 = _mm256_unpacklo_ps(x4, x5), t5 = _mm256_unpackhi_ps(x4, x5);
            __m256 t6 = _mm256_unpacklo_ps(x6, x7), t7 = _mm256_unpackhi_ps(x6, x7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *d = dst + k * R + r0;
            _mm256_storeu_ps(d + 0 * R, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(d + 1 * R, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d + 2 * R, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(d + 3 * R, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d + 4 * R, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(d + 5 * R, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d + 6 * R, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(d + 7 * R, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; k < kc; k++)
            for (int64_t r = 0; r < 8; r++) dst[k * R + r0 + r] = s[r * ld + k];
    }
    for (int64_t r = r0; r < w; r++) {
        const float *s = src + r * ld;
        for (int64_t k = 0; k < kc; k++) dst[k * R + r] = s[k];
    }
    if (w < R)
        for (int64_t k = 0; k < kc; k++)
            for (int64_t r = w; r < R; r++) dst[k * R + r] = 0.0f;
}

/* Contiguous pack: vector copies; a masked load (masked lanes read as 0,
 * never fault) pads a narrow panel such as N = 20 without a scalar loop. */
GG_AVX2_TARGET static void pack_cols_avx2(float *dst, const float *src, int64_t ld, int64_t w,
                                          int64_t R, int64_t kc) {
    if (R % 8) {
        pack_cols_c(dst, src, ld, w, R, kc);
        return;
    }
    const int64_t full = w & ~(int64_t)7;
    const int rem = (int)(w - full);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int64_t k = 0; k < kc; k++) {
        const float *s = src + k * ld;
        float *d = dst + k * R;
        int64_t r = 0;
        for (; r < full; r += 8) _mm256_storeu_ps(d + r, _mm256_loadu_ps(s + r));
        if (rem) {
            _mm256_storeu_ps(d + r, _mm256_maskload_ps(s + r, mask));
            r += 8;
        }
        for (; r < R; r += 8) _mm256_storeu_ps(d + r, _mm256_setzero_ps());
    }
}
#endif

/* ---------------------------------------------------------- micro-kernels */

/* Portable micro-kernel: C[mr x nr] (mr <= 4, nr <= 16) from 4 x kc and kc x 16 panels, plain C. */
#define GG_C_MR 4
#define GG_C_NR 16
static void ukernel_c(int64_t kc, const float *Ap, const float *Bp, int64_t ldbp, float *C, int64_t ldc,
                      int mr, int nr, float alpha, float beta) {
    float acc[GG_C_MR][GG_C_NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < kc; k++) {
        const float *a = Ap + k * GG_C_MR, *b = Bp + k * ldbp;
        for (int r = 0; r < GG_C_MR; r++)
            for (int j = 0; j < GG_C_NR; j++) acc[r][j] += a[r] * b[j];
    }
    for (int r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < nr; j++) c[j] = alpha * acc[r][j];
        else
            for (int j = 0; j < nr; j++) c[j] = alpha * acc[r][j] + beta * c[j];
    }
}

#ifdef GG_GEMM_X86
/* AVX2+FMA micro-kernel: C[ROWS x nr] (nr <= NV*8) from a 6-row A panel and an NV*8-wide B panel.
 * 6 x 16 keeps 12 accumulators + 2 B vectors + 1 broadcast in the 16 ymm registers. */
#define GG_AVX2_MR 6
#define GG_AVX2_NV 2
/* Rows of a B read in place fetched ahead of the FMAs (as GG_512_B_AHEAD, below). */
#define GG_AVX2_B_AHEAD 16
/* A's element (r, k) is Ap[r * RS + k * AS]: a packed panel (RS 1, AS MR) or rows in place (RS lda, AS 1). */
GG__INLINE GG_AVX2_TARGET void uk_avx2_body(const int ROWS, const int64_t RS, const int AS, const int NV, int64_t kc,
                                           const float *restrict Ap, const float *restrict Bp, const int64_t BS,
                                           float *C, int64_t ldc, int nr, float alpha, float beta) {
    __m256 acc[GG_AVX2_MR][GG_AVX2_NV];
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m256 b[GG_AVX2_NV];
        if (BS > GG_AVX2_NV * 8) { /* B read in place: see GG_512_B_AHEAD */
            _mm_prefetch((const char *)(Bp + GG_AVX2_B_AHEAD * BS), _MM_HINT_T0);
            _mm_prefetch((const char *)(Bp + GG_AVX2_B_AHEAD * BS + GG_AVX2_NV * 8 - 1), _MM_HINT_T0);
        }
        for (int v = 0; v < NV; v++) b[v] = _mm256_loadu_ps(Bp + v * 8);
        for (int r = 0; r < ROWS; r++) {
            __m256 a = _mm256_broadcast_ss(Ap + r * RS);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(a, b[v], acc[r][v]);
        }
        Ap += AS;
        Bp += BS;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const int full = nr / 8, rem = nr % 8;
    /* Lanes 0..rem-1 active: vmaskmov keeps edge stores inside C. */
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int r = 0; r < ROWS; r++) {
        float *c = C + r * ldc;
        for (int v = 0; v < NV; v++) {
            __m256 x = _mm256_mul_ps(va, acc[r][v]);
            if (v < full) {
                if (beta != 0.0f) x = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + v * 8), x);
                _mm256_storeu_ps(c + v * 8, x);
            } else if (v == full && rem) {
                if (beta != 0.0f) x = _mm256_fmadd_ps(vb, _mm256_maskload_ps(c + v * 8, mask), x);
                _mm256_maskstore_ps(c + v * 8, mask, x);
            }
        }
    }
}

/* uk_avx2_body for mr (1..6) and nr known only at run time; inlined, so each caller's
 * strides (constants for a packed panel) still fold into its tiles. */
GG__INLINE GG_AVX2_TARGET void uk_avx2_n(int mr, const int64_t RS, const int AS, int64_t kc, const float *Ap,
                                        const float *Bp, int64_t BS, float *C, int64_t ldc, int nr, float alpha,
                                        float beta) {
    const int nv = nr > 8 ? 2 : 1;
#define GG_A2(R)                                                                         \
    case R:                                                                              \
        if (nv == 2) uk_avx2_body(R, RS, AS, 2, kc, Ap, Bp, BS, C, ldc, nr, alpha, beta);\
        else uk_avx2_body(R, RS, AS, 1, kc, Ap, Bp, BS, C, ldc, nr, alpha, beta);        \
        break;
    switch (mr) { GG_A2(1) GG_A2(2) GG_A2(3) GG_A2(4) GG_A2(5) GG_A2(6) default: break; }
#undef GG_A2
}

GG_AVX2_TARGET static void ukernel_avx2(int64_t kc, const float *Ap, const float *Bp, int64_t ldbp, float *C,
                                        int64_t ldc, int mr, int nr, float alpha, float beta) {
    uk_avx2_n(mr, 1, GG_AVX2_MR, kc, Ap, Bp, ldbp, C, ldc, nr, alpha, beta);
}

/* The same sums from A's rows in place: packing a row-major A only reordered what the
 * broadcasts read (each row is a stream along k), and cost 5-7% of the vae's GEMMs. */
GG_AVX2_TARGET static void ukernel_rows_avx2(int64_t kc, const float *A, int64_t lda, const float *Bp, int64_t ldbp,
                                             float *C, int64_t ldc, int mr, int nr, float alpha, float beta) {
    uk_avx2_n(mr, lda, 1, kc, A, Bp, ldbp, C, ldc, nr, alpha, beta);
}

/* AVX-512 micro-kernel: C[ROWS x nr] (nr <= NV*16 + HV*8) from an 8-row A panel and a B panel of
 * NV zmm vectors plus, if HV, one ymm vector (panels are padded to 8 lanes).
 * 8 x 32 = 16 zmm accumulators: enough to hide FMA latency on Zen 4 (which
 * runs a zmm FMA as two 256-bit halves, so 512-bit buys fewer instructions,
 * not more flops), and 8 divides every M of the benchmark shapes. Measured
 * on Zen 4: 16x16, 8x48, 12x32 and 6x64 are within noise or slower; this
 * kernel ran ~3-5% faster than the AVX2 one at one thread, so it stays the
 * default there. The ymm tail exists for narrow N (the VAE's N = 20): on
 * Zen 4 a ymm FMA costs half a zmm one, so a 20-wide panel runs as 16 + 8
 * lanes instead of 32. */
#ifndef GG_512_MR
#define GG_512_MR 8
#endif
#ifndef GG_512_NV
#define GG_512_NV 2
#endif
/* Rows of a B read in place fetched ahead of the FMAs. Its 32-float panel rows
 * are ldb apart, a stride the hardware prefetchers follow poorly (past 2 KiB
 * not at all: the vae decoder's ldb = 784 is 3 KiB). 16 rows ahead took the
 * vae's NN 128x400x784 from 258-279 to 297-298 GFLOP/s on 2 threads, and its
 * step 2.54 -> 2.46 ms (8 rows ahead: 2.48); packed panels (BS = their width)
 * stream and take no prefetch. */
#define GG_512_B_AHEAD 16
/* A's element (r, k) is Ap[r * RS + k * AS]: a packed panel (RS 1, AS MR) or rows in place (RS lda, AS 1). */
GG__INLINE GG_AVX512_TARGET void uk_512_body(const int ROWS, const int64_t RS, const int AS, const int NV, const int HV,
                                            int64_t kc, const float *restrict Ap, const float *restrict Bp, const int64_t BS,
                                            float *C, int64_t ldc, int nr, float alpha, float beta) {
    __m512 acc[GG_512_MR][GG_512_NV];
    __m256 acch[GG_512_MR];
    for (int r = 0; r < ROWS; r++) {
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
        if (HV) acch[r] = _mm256_setzero_ps();
    }
    for (int64_t k = 0; k < kc; k++) {
        __m512 b[GG_512_NV];
        if (BS > GG_512_NV * 16) { /* B read in place (b_in_place): its rows are ldb apart */
            _mm_prefetch((const char *)(Bp + GG_512_B_AHEAD * BS), _MM_HINT_T0);
            _mm_prefetch((const char *)(Bp + GG_512_B_AHEAD * BS + 16), _MM_HINT_T0);
        }
        for (int v = 0; v < NV; v++) b[v] = _mm512_loadu_ps(Bp + v * 16);
        const __m256 bh = HV ? _mm256_loadu_ps(Bp + NV * 16) : _mm256_setzero_ps();
        for (int r = 0; r < ROWS; r++) {
            __m512 a = _mm512_set1_ps(Ap[r * RS]);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
            /* set1 again, not a cast of `a`: with the cast clang broadcast into a ymm and
             * widened it with a shuffle, which competes with the FMAs (~15% at N = 20) */
            if (HV) acch[r] = _mm256_fmadd_ps(_mm256_set1_ps(Ap[r * RS]), bh, acch[r]);
        }
        Ap += AS;
        Bp += BS;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r = 0; r < ROWS; r++) {
        float *c = C + r * ldc;
        for (int v = 0; v < NV; v++) {
            const int n = nr - v * 16; /* valid lanes of this vector, if below 16 */
            __m512 x = _mm512_mul_ps(va, acc[r][v]);
            if (n >= 16) {
                if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + v * 16), x);
                _mm512_storeu_ps(c + v * 16, x);
            } else {
                const __mmask16 mask = (__mmask16)((1u << n) - 1u);
                if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, c + v * 16), x);
                _mm512_mask_storeu_ps(c + v * 16, mask, x);
            }
        }
        if (HV) {
            const int n = nr - NV * 16; /* 1..8: panels are padded to 8 lanes */
            const __mmask8 mask = (__mmask8)((1u << n) - 1u);
            float *ch = c + NV * 16;
            __m256 x = _mm256_mul_ps(_mm512_castps512_ps256(va), acch[r]);
            if (beta != 0.0f)
                x = _mm256_fmadd_ps(_mm512_castps512_ps256(vb), _mm256_maskz_loadu_ps(mask, ch), x);
            _mm256_mask_storeu_ps(ch, mask, x);
        }
    }
}

/* uk_512_body for mr and nr known only at run time; inlined, so each caller's
 * strides (constants for a packed panel) still fold into its tiles. */
GG__INLINE GG_AVX512_TARGET void uk_512_n(int mr, const int64_t RS, const int AS, int64_t kc, const float *Ap,
                                         const float *Bp, int64_t BS, float *C, int64_t ldc, int nr, float alpha,
                                         float beta) {
    /* The panel's width rounded to 8 lanes, as pack_b_panels pads it (vw = 8). */
    const int lanes = (nr + 7) & ~7, nv = lanes / 16, hv = (lanes % 16) / 8;
#define GG_V(R, V, H) \
    case 2 * V + H: uk_512_body(R, RS, AS, V, H, kc, Ap, Bp, BS, C, ldc, nr, alpha, beta); break;
#if GG_512_NV == 1
#define GG_R(R) case R: switch (2 * nv + hv) { GG_V(R, 0, 1) GG_V(R, 1, 0) default: break; } break;
#elif GG_512_NV == 2
#define GG_R(R) case R: switch (2 * nv + hv) { GG_V(R, 0, 1) GG_V(R, 1, 0) GG_V(R, 1, 1) GG_V(R, 2, 0) default: break; } break;
#elif GG_512_NV == 3
#define GG_R(R) case R: switch (2 * nv + hv) { GG_V(R, 0, 1) GG_V(R, 1, 0) GG_V(R, 1, 1) GG_V(R, 2, 0) \
                                               GG_V(R, 2, 1) GG_V(R, 3, 0) default: break; } break;
#else
#define GG_R(R) case R: switch (2 * nv + hv) { GG_V(R, 0, 1) GG_V(R, 1, 0) GG_V(R, 1, 1) GG_V(R, 2, 0) \
                                               GG_V(R, 2, 1) GG_V(R, 3, 0) GG_V(R, 3, 1) GG_V(R, 4, 0) default: break; } break;
#endif
    switch (mr) {
        GG_R(1) GG_R(2) GG_R(3) GG_R(4) GG_R(5) GG_R(6) GG_R(7) GG_R(8)
#if GG_512_MR > 8
        GG_R(9) GG_R(10) GG_R(11) GG_R(12)
#endif
#if GG_512_MR > 12
        GG_R(13) GG_R(14) GG_R(15) GG_R(16)
#endif
        default: break;
    }
#undef GG_R
#undef GG_V
}

GG_AVX512_TARGET static void ukernel_512(int64_t kc, const float *Ap, const float *Bp, int64_t ldbp, float *C,
                                         int64_t ldc, int mr, int nr, float alpha, float beta) {
    uk_512_n(mr, 1, GG_512_MR, kc, Ap, Bp, ldbp, C, ldc, nr, alpha, beta);
}

/* As ukernel_rows_avx2: the same sums from A's rows in place. */
GG_AVX512_TARGET static void ukernel_rows_512(int64_t kc, const float *A, int64_t lda, const float *Bp,
                                              int64_t ldbp, float *C, int64_t ldc, int mr, int nr, float alpha,
                                              float beta) {
    uk_512_n(mr, lda, 1, kc, A, Bp, ldbp, C, ldc, nr, alpha, beta);
}
#endif /* GG_GEMM_X86 */

/* Cache blocks (overridable with -D for tuning). Measured on Zen 4 (32 KiB
 * L1, 1 MiB L2 per core): KC = 512 beat 192..384 by 2-10%, mostly at 1024^3;
 * the B panel (KC x 32 floats, 64 KiB) then streams from L2, which keeps up,
 * while fewer K blocks mean fewer passes over C. MC = 128 keeps the packed A
 * block (MC x KC, 256 KiB) in L2 with room for B. NC only bounds scratch. */
#ifndef GG_AVX2_KC
#define GG_AVX2_KC 384
#endif
#ifndef GG_512_KC
#define GG_512_KC 512
#endif
#ifndef GG_512_MC
#define GG_512_MC 128
#endif
#ifndef GG_512_NC
#define GG_512_NC 3072
#endif

static const gg_gemm_arch arch_c = {GG_C_MR, GG_C_NR, GG_C_NR, 256, 96, 2048, ukernel_c, pack_rows_c, pack_cols_c, NULL};
#ifdef GG_GEMM_X86
static const gg_gemm_arch arch_avx2 = {GG_AVX2_MR, GG_AVX2_NV * 8, 8, GG_AVX2_KC, 120, 3072,
                                       ukernel_avx2, pack_rows_avx2, pack_cols_avx2, ukernel_rows_avx2};
static const gg_gemm_arch arch_512 = {GG_512_MR, GG_512_NV * 16, 8, GG_512_KC, GG_512_MC, GG_512_NC,
                                      ukernel_512, pack_rows_avx2, pack_cols_avx2, ukernel_rows_512};
#endif

static const gg_gemm_arch *arch_for(const gg_ctx *ctx) {
#ifdef GG_GEMM_X86
    switch (gg_ctx_isa(ctx)) {
    case GG_ISA_AVX512: return &arch_512;
    case GG_ISA_AVX2: return &arch_avx2;
    default: break;
    }
#else
    (void)ctx;
#endif
    return &arch_c;
}

/* ------------------------------------------------------------------ plan */

/* Everything the driver decides from (ctx, M, N, K); the scratch query and
 * the kernel build the same plan so they always agree. */
typedef struct gg_gemm_plan {
    const gg_gemm_arch *ar;
    int small;            /* 1: direct loops, no packing, no scratch */
    int nt, tm, tn;       /* team size = tm (row groups) x tn (column groups) */
    int64_t kc, mc, nc;   /* effective blocks (mc, nc multiples of MR, NR) */
    int64_t b_slots;      /* B panel slots per column group (all of them when tn == 1) */
    int64_t a_len, b_len; /* floats per A buffer (one per thread) and the B buffer */
} gg_gemm_plan;

/* Largest block <= cap that splits n into equal-ish parts, rounded to `unit`. */
static int64_t balanced_block(int64_t n, int64_t cap, int64_t unit) {
    int64_t parts = cdiv(n, cap);
    return round_up(cdiv(n, parts), unit);
}

/* The vectors of B panels the busiest of tn column groups computes over n columns
 * (panels split as gemm_thread splits them): a narrow last panel costs only its
 * vectors, so the vae's N = 20 (panels of 16 and 4) does not split into columns. */
static int64_t busiest_vectors(int64_t n, int64_t nr, int64_t vw, int tn) {
    const int64_t npan = cdiv(n, nr);
    int64_t most = 0;
    for (int tj = 0; tj < tn; tj++) {
        int64_t v = 0;
        for (int64_t q = npan * tj / tn; q < npan * (tj + 1) / tn; q++) v += cdiv(min64(nr, n - q * nr), vw);
        most = v > most ? v : most;
    }
    return most;
}

/* a_computed: a prologue computes A, once per row group but again in every
 * column group (each packs all of A), so column groups cost more. */
static gg_gemm_plan make_plan(const gg_ctx *ctx, int64_t M, int64_t N, int64_t K, int a_computed) {
    gg_gemm_plan p;
    memset(&p, 0, sizeof p);
    p.ar = arch_for(ctx);
    p.nt = p.tm = p.tn = 1;
    double macs = (double)M * (double)N * (double)K;
    if (M == 0 || N == 0 || K == 0 || macs < GG_GEMM_SMALL_MACS) {
        p.small = 1;
        return p;
    }
    const gg_gemm_arch *ar = p.ar;
    p.kc = balanced_block(K, ar->kc, 1);
    p.nc = balanced_block(N, ar->nc, ar->nr);
    int64_t mtiles = cdiv(M, ar->mr), ntiles = cdiv(min64(N, p.nc), ar->nr);
    int want = macs < GG_GEMM_THREAD_MACS ? 1 : gg__threads(ctx);
    /* Pick the tm x tn grid with the least work on the busiest thread. Row
     * groups (tm > 1) share one packed B and meet at barriers; column groups
     * pack their own B panels and never wait (each packs all of A instead).
     * Measured on Zen 4, column groups won by ~10% even with ~4% more tiles
     * on the busiest thread, hence the 1.15 weight on row groups. */
    double best = -1;
    for (int nt = want; nt >= 1 && best < 0; nt--) {
        for (int tn = nt; tn >= 1; tn--) {
            if (nt % tn) continue;
            int tm = nt / tn;
            if (tm > mtiles || tn > ntiles) continue;
            double load = (double)(cdiv(mtiles, tm) * busiest_vectors(min64(N, p.nc), ar->nr, ar->vw, tn)) *
                          (tm > 1 ? 1.15 : 1.0) * (a_computed && tn > 1 ? 1.5 : 1.0);
            if (best < 0 || load < best) { best = load; p.nt = nt; p.tm = tm; p.tn = tn; }
        }
    }
    int64_t rows = cdiv(mtiles, p.tm) * ar->mr; /* most rows any thread owns */
    p.mc = balanced_block(rows, ar->mc, ar->mr);
    p.a_len = round_up(p.mc * p.kc, 16); /* 16 floats keep each buffer 64-byte aligned */
    p.b_slots = cdiv(cdiv(p.nc, ar->nr), p.tn);
    p.b_len = round_up(p.tn * p.b_slots * ar->nr * p.kc, 16);
    return p;
}

/* Whether a GEMM with plan p is computed transposed (gemm_narrow): N under one
 * panel wastes vector lanes (N = 20 is a 16-wide and a 4-wide panel, 62% of
 * the multiply-adds useful) and leaves tiles with few accumulators, while M
 * rows would fill whole panels. Only for a transposed A (a weight gradient's
 * x^T), which the transposed problem reads as a row-major B, in place: a
 * row-major A would need a transposing pack there, and that cost more than
 * the lanes gained (NN 128x400x20 on one thread went 98 -> 72 GFLOP/s; TN
 * 400x128x20 57 -> 121). Not with prologues (their programs are laid out over
 * the operands as stored) nor beta != 0 (C would be read transposed). */
static int narrow_route(const gg_gemm_plan *p, int64_t M, int64_t N, int ta, int prologues, float beta) {
    return !p->small && ta && !prologues && beta == 0.0f && N < p->ar->nr && M >= 4 * p->ar->nr;
}

/* Floats of scratch the plain kernel needs under plan p. */
static int64_t plan_len(const gg_gemm_plan *p) { return p->small ? 0 : p->b_len + (int64_t)p->nt * p->a_len; }

/* Scratch for the GEMM under plan p: the narrow route's transposed plan and
 * its M x N result where it may take that route (whatever beta turns out to be). */
static int64_t gemm_len(const gg_ctx *ctx, const gg_gemm_plan *p, int64_t M, int64_t N, int64_t K, int ta, int prologues) {
    int64_t len = plan_len(p);
    if (narrow_route(p, M, N, ta, prologues, 0.0f)) {
        gg_gemm_plan t = make_plan(ctx, N, M, K, 0);
        int64_t narrow = plan_len(&t) + round_up(M * N, 16);
        len = narrow > len ? narrow : len;
    }
    return len;
}

int64_t gg_gemm_f32_scratch(const gg_ctx *ctx, int64_t M, int64_t N, int64_t K) {
    if (M < 0 || N < 0 || K < 0) return 0;
    gg_gemm_plan p = make_plan(ctx, M, N, K, 0);
    return gemm_len(ctx, &p, M, N, K, 1, 0); /* ta 1: room for the narrow route, whatever A's layout */
}

/* ---------------------------------------------------------------- driver */

typedef struct gg_gemm_args {
    float *C;
    int64_t ldc;
    const float *A;
    int64_t lda;
    int ta;
    const float *B;
    int64_t ldb;
    int tb;
    int64_t M, N, K;
    float alpha, beta;
    /* gg_gemm_pro_ep_f32 only (zero otherwise). item: this item's batch index
     * in the programs' spaces; isa: the programs' worker set. */
    int64_t item;
    int isa;
    /* The epilogue, with per-thread scratch shares of ep_share floats. */
    const gg_fprogram *ep;
    float *ep_scratch;
    int64_t ep_share;
    /* Prologues computing A's and B's storage (NULL: read from memory), with
     * per-thread scratch shares of pro_share floats: pro_temp floats for the
     * computed block, then the program's own scratch. */
    const gg_fprogram *pro_a, *pro_b;
    float *pro_scratch;
    int64_t pro_share, pro_temp;
} gg_gemm_args;

static int thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Applies the epilogue to C[rows i0..i0+mi, cols j0..j0+nj] of this item on
 * the calling thread, with that thread's scratch share. The program was
 * validated up front, so the region call cannot fail. */
static void epilogue_box(const gg_gemm_args *g, int64_t i0, int64_t mi, int64_t j0, int64_t nj) {
    gg_ctx one = {1, g->isa, g->ep_scratch + (int64_t)thread_num() * g->ep_share, g->ep_share};
    int64_t lo[3] = {g->item, i0, j0}, ext[3] = {1, mi, nj};
    (void)gg_fused_region_f32(&one, g->ep, lo, ext);
}

/* Rows [r0, r0 + nr) x columns [c0, c0 + nc) of this item's stored operand
 * (side 0: A, 1: B) and their leading dimension: read in place, or computed
 * by its prologue into the calling thread's temp, `at` floats in. The
 * prologue was validated up front, so the region call cannot fail. */
static const float *operand_block(const gg_gemm_args *g, int side, int64_t r0, int64_t nr, int64_t c0, int64_t nc,
                                  int64_t at, int64_t *ld) {
    const gg_fprogram *pro = side ? g->pro_b : g->pro_a;
    if (!pro) {
        *ld = side ? g->ldb : g->lda;
        return (side ? g->B : g->A) + r0 * *ld + c0;
    }
    float *share = g->pro_scratch + (int64_t)thread_num() * g->pro_share;
    gg_ctx one = {1, g->isa, share + g->pro_temp, g->pro_share - g->pro_temp};
    /* the batch stride is never stepped (extent 1) but must not be 0: a stored output cannot broadcast */
    int64_t lo[3] = {g->item, r0, c0}, ext[3] = {1, nr, nc}, st[3] = {nr * nc + 1, nc, 1};
    (void)gg__fused_region_into(&one, pro, lo, ext, share + at, st);
    *ld = nc;
    return share + at;
}

/* Is B's panel of width w read where it is? A row-major B (no prologue) has
 * each k's panel row contiguous, ldb apart, so the micro-kernel can read a
 * full panel in place. That pays where few rows reuse the panel (M <= 128:
 * the vae's 128 x 784 x 400 went 278 -> 295 GFLOP/s NN and 254 -> 266 TN,
 * dcgan's 64 x 100 x 6272 253 -> 289, 2 threads on AVX-512), not where many
 * do (1000^3 fell 311 -> 252: a packed panel streams, strided rows do not)
 * nor where rows 4 KiB multiples apart share cache sets (1024-wide B fell
 * to half). A narrower last panel is packed: its vector lanes would read
 * past B. */
static int b_in_place(const gg_gemm_args *g, int64_t w, int64_t NR) {
    return !g->tb && !g->pro_b && w == NR && g->M <= 128 && g->ldb % 1024 != 0;
}

/* Row stride of a packed B panel of width w: padded to the vector width, so a
 * narrow last panel's kernel uses fewer vectors. */
static int64_t panel_ld(const gg_gemm_arch *ar, int64_t w) { return round_up(w, ar->vw); }

/* Packs panels [p0, p1) of B[pc:pc+kc, jc:jc+nc]; panel q goes to slot q - qoff
 * of `slots`. Slots are sized for the largest kc, so a thread that runs ahead
 * into the next block never overwrites a panel another thread still reads. */
static void pack_b_panels(const gg_gemm_plan *p, const gg_gemm_args *g, float *slots, int64_t qoff,
                          int64_t jc, int64_t nc, int64_t pc, int64_t kc, int64_t p0, int64_t p1) {
    const gg_gemm_arch *ar = p->ar;
    for (int64_t q = p0; q < p1; q++) {
        int64_t j = jc + q * ar->nr, w = min64(ar->nr, nc - q * ar->nr);
        if (b_in_place(g, w, ar->nr)) continue;
        int64_t R = panel_ld(ar, w);
        float *dst = slots + (q - qoff) * ar->nr * p->kc;
        int64_t ld;
        if (g->tb) ar->pack_rows(dst, operand_block(g, 1, j, w, pc, kc, 0, &ld), ld, w, R, kc);
        else ar->pack_cols(dst, operand_block(g, 1, pc, kc, j, w, 0, &ld), ld, w, R, kc);
    }
}

/* One thread's share of the work: rows [m0, m1), B panels [q0, q1) of each
 * NC block. `shared` means B is packed by the whole team (barriers needed). */
static void gemm_thread(const gg_gemm_plan *p, const gg_gemm_args *g, float *Ap, float *Bp,
                        int tid, int ti, int tj) {
    const gg_gemm_arch *ar = p->ar;
    const int64_t MR = ar->mr, NR = ar->nr;
    const int64_t mtiles = cdiv(g->M, MR);
    const int64_t m0 = mtiles * ti / p->tm * MR, m1 = min64(g->M, mtiles * (ti + 1) / p->tm * MR);
    /* Shared: the team packs all panels of B together, with barriers around
     * each block. Otherwise (one row group) each thread packs only its own
     * panels into slots of its own, and never waits for the others. */
    const int shared = p->tm > 1;
    float *slots = shared ? Bp : Bp + tj * p->b_slots * NR * p->kc;
    for (int64_t jc = 0; jc < g->N; jc += p->nc) {
        const int64_t nc = min64(p->nc, g->N - jc), npan = cdiv(nc, NR);
        const int64_t q0 = npan * tj / p->tn, q1 = npan * (tj + 1) / p->tn;
        const int64_t qoff = shared ? 0 : q0;
        for (int64_t pc = 0; pc < g->K; pc += p->kc) {
            const int64_t kc = min64(p->kc, g->K - pc);
            const float beta = pc == 0 ? g->beta : 1.0f; /* later K blocks accumulate */
            if (shared) {
                /* Everyone packs an equal slice of all panels, then waits. */
                pack_b_panels(p, g, slots, 0, jc, nc, pc, kc, npan * tid / p->nt, npan * (tid + 1) / p->nt);
#ifdef _OPENMP
#pragma omp barrier
#endif
            } else {
                pack_b_panels(p, g, slots, qoff, jc, nc, pc, kc, q0, q1);
            }
            for (int64_t ic = m0; ic < m1; ic += p->mc) {
                const int64_t mc = min64(p->mc, m1 - ic);
                /* The whole mc x kc block of A (a prologue computes it in one call, over long rows), then its panels. */
                int64_t ld;
                const float *blk = g->ta ? operand_block(g, 0, pc, kc, ic, mc, 0, &ld) : operand_block(g, 0, ic, mc, pc, kc, 0, &ld);
                /* Row tiles as gg__tile_rows cuts them (the vae's M = 128 had ended a
                 * 62-row block with a 2-row tile), each in an MR-row panel: the cut
                 * leaves the number of panels, and so the scratch, as it was. */
                const int in_place = !g->ta && ar->kernel_rows;
                for (int64_t ir = 0, pi = 0, w; ir < mc && !in_place; ir += w, pi++) {
                    w = gg__tile_rows(MR, mc - ir);
                    float *dst = Ap + pi * MR * kc;
                    if (g->ta) ar->pack_cols(dst, blk + ir, ld, w, MR, kc);
                    else ar->pack_rows(dst, blk + ir * ld, ld, w, MR, kc);
                }
                /* One B panel is reused across all A panels of the block. */
                for (int64_t q = q0; q < q1; q++) {
                    const int64_t j = jc + q * NR;
                    const int nr = (int)min64(NR, g->N - j);
                    const int b_here = b_in_place(g, nr, NR);
                    const float *bp = b_here ? g->B + pc * g->ldb + j : slots + (q - qoff) * NR * p->kc;
                    const int64_t ldbp = b_here ? g->ldb : panel_ld(ar, nr);
                    for (int64_t ir = 0, pi = 0, w; ir < mc; ir += w, pi++) {
                        w = gg__tile_rows(MR, mc - ir);
                        float *c = g->C + (ic + ir) * g->ldc + j;
                        if (in_place) ar->kernel_rows(kc, blk + ir * ld, ld, bp, ldbp, c, g->ldc, (int)w, nr, g->alpha, beta);
                        else ar->kernel(kc, Ap + pi * MR * kc, bp, ldbp, c, g->ldc, (int)w, nr, g->alpha, beta);
                    }
                }
                /* After the last K block this thread's mc rows x its panels of
                 * the NC block are final: apply the epilogue while they are in
                 * cache (one call per block measured better than per panel
                 * group: fewer, wider rows and less L2 churn next to packed A). */
                if (g->ep && pc + kc == g->K && q1 > q0) {
                    const int64_t j0 = jc + q0 * NR;
                    epilogue_box(g, ic, mc, j0, min64(jc + q1 * NR, g->N) - j0);
                }
            }
            if (shared) {
#ifdef _OPENMP
#pragma omp barrier /* the next K block overwrites Bp */
#endif
            }
        }
    }
}

/* Tiny problems: straightforward loops over strided views, no scratch
 * (but for operands a prologue computes: whole, into the thread's temp). */
static void gemm_small(const gg_gemm_args *g0) {
    gg_gemm_args h = *g0;
    const gg_gemm_args *g = &h;
    if (h.pro_a) {
        h.A = operand_block(g0, 0, 0, h.ta ? h.K : h.M, 0, h.ta ? h.M : h.K, 0, &h.lda);
        h.pro_a = 0;
    }
    if (h.pro_b) h.B = operand_block(g0, 1, 0, h.tb ? h.N : h.K, 0, h.tb ? h.K : h.N, g0->pro_a ? h.M * h.K : 0, &h.ldb);
    const int64_t a_i = g->ta ? 1 : g->lda, a_k = g->ta ? g->lda : 1;
    const int64_t b_k = g->tb ? 1 : g->ldb, b_j = g->tb ? g->ldb : 1;
    enum { CHUNK = 256 };
    float acc[CHUNK];
    for (int64_t i = 0; i < g->M; i++) {
        float *c = g->C + i * g->ldc;
        for (int64_t j0 = 0; j0 < g->N; j0 += CHUNK) {
            const int64_t nj = min64(CHUNK, g->N - j0);
            for (int64_t j = 0; j < nj; j++) acc[j] = 0.0f;
            for (int64_t k = 0; k < g->K; k++) {
                const float a = g->A[i * a_i + k * a_k];
                const float *b = g->B + k * b_k + j0 * b_j;
                if (b_j == 1)
                    for (int64_t j = 0; j < nj; j++) acc[j] += a * b[j];
                else
                    for (int64_t j = 0; j < nj; j++) acc[j] += a * b[j * b_j];
            }
            if (g->beta == 0.0f)
                for (int64_t j = 0; j < nj; j++) c[j0 + j] = g->alpha * acc[j];
            else
                for (int64_t j = 0; j < nj; j++) c[j0 + j] = g->alpha * acc[j] + g->beta * c[j0 + j];
        }
    }
}

/* a_computed / b_computed: a prologue computes that operand (its pointer and ld are unused). */
static gg_status check_args(const gg_ctx *ctx, const float *C, int64_t ldc, const float *A, int64_t lda,
                            int ta, const float *B, int64_t ldb, int tb, int64_t M, int64_t N, int64_t K,
                            int a_computed, int b_computed) {
    if (!ctx || M < 0 || N < 0 || K < 0) return GG_ERR_ARG;
    if (M == 0 || N == 0) return GG_OK;
    if (!C || ldc < N) return GG_ERR_ARG;
    if (K == 0) return GG_OK;
    if (!a_computed && (!A || lda < (ta ? M : K))) return GG_ERR_ARG;
    if (!b_computed && (!B || ldb < (tb ? K : N))) return GG_ERR_ARG;
    return GG_OK;
}

/* Runs one GEMM whose arguments were checked, with a plan for its shape. */
static void gemm_run(const gg_ctx *ctx, const gg_gemm_plan *p, const gg_gemm_args *g) {
    if (g->M == 0 || g->N == 0) return;
    if (g->K == 0) { /* no products: C = beta * C, and beta == 0 writes zeros */
        for (int64_t i = 0; i < g->M; i++) {
            float *c = g->C + i * g->ldc;
            for (int64_t j = 0; j < g->N; j++) c[j] = g->beta == 0.0f ? 0.0f : g->beta * c[j];
        }
        if (g->ep) epilogue_box(g, 0, g->M, 0, g->N);
        return;
    }
    if (p->small) {
        gemm_small(g);
        if (g->ep) epilogue_box(g, 0, g->M, 0, g->N);
        return;
    }
    float *Bp = ctx->scratch, *A0 = ctx->scratch + p->b_len;
    if (p->nt == 1) {
        gemm_thread(p, g, A0, Bp, 0, 0, 0);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(p->nt)
    {
        int tid = omp_get_thread_num();
        /* A smaller team than asked would leave tiles undone: do them all here. */
        if (omp_get_num_threads() != p->nt) {
            if (tid == 0) {
                gg_gemm_plan one = *p;
                one.nt = one.tm = one.tn = 1;
                gemm_thread(&one, g, A0, Bp, 0, 0, 0);
            }
        } else {
            gemm_thread(p, g, A0 + (int64_t)tid * p->a_len, Bp, tid, tid / p->tn, tid % p->tn);
        }
    }
#endif
}

/* Floats of scratch one thread needs to run program `p` (64-byte multiple; 0 without one). */
static int64_t program_share(const gg_ctx *ctx, const gg_fprogram *p) {
    if (!p) return 0;
    gg_ctx one = {1, ctx ? ctx->isa : -1, 0, 0};
    return round_up(gg_fused_f32_scratch(&one, p), 16);
}

/* Floats of one thread's prologue temp: a whole operand per item on the
 * small path, else one packing block (an mc x kc block of A, a kc x NR panel of B). */
static int64_t prologue_temp(const gg_gemm_plan *p, int64_t M, int64_t N, int64_t K,
                             const gg_fprogram *pa, const gg_fprogram *pb) {
    if (!pa && !pb) return 0;
    if (p->small) return round_up((pa ? M * K : 0) + (pb ? K * N : 0), 16);
    int64_t r = p->mc > p->ar->nr ? p->mc : p->ar->nr;
    return round_up(r * p->kc, 16);
}

static int64_t prologue_share(const gg_ctx *ctx, const gg_gemm_plan *p, int64_t M, int64_t N, int64_t K,
                              const gg_fprogram *pa, const gg_fprogram *pb) {
    if (!pa && !pb) return 0;
    int64_t sa = program_share(ctx, pa), sb = program_share(ctx, pb);
    return prologue_temp(p, M, N, K, pa, pb) + (sa > sb ? sa : sb);
}

/* The narrow route: T = op(B)^T op(A)^T (N x M) into scratch after the
 * transposed plan's own, then C = T^T, then the epilogue over all of C on the
 * calling thread (it is small: N < NR). Each element is the same sum, in the
 * same k order, as the direct route computes. */
static void gemm_narrow(const gg_ctx *ctx, const gg_gemm_args *g) {
    gg_gemm_plan t = make_plan(ctx, g->N, g->M, g->K, 0);
    float *T = ctx->scratch + plan_len(&t);
    gg_gemm_args tg = {T, g->M, g->B, g->ldb, !g->tb, g->A, g->lda, !g->ta, g->N, g->M, g->K, g->alpha, 0.0f};
    tg.isa = g->isa;
    gemm_run(ctx, &t, &tg);
    for (int64_t i = 0; i < g->M; i++)
        for (int64_t j = 0; j < g->N; j++) g->C[i * g->ldc + j] = T[j * g->M + i];
    if (g->ep) epilogue_box(g, 0, g->M, 0, g->N);
}

/* Item b of a batch: its own C, A, B and epilogue batch index. */
static void gemm_item(const gg_ctx *ctx, const gg_gemm_plan *p, const gg_gemm_args *g0, int64_t b,
                      int64_t stride_c, int64_t stride_a, int64_t stride_b) {
    gg_gemm_args g = *g0;
    g.C += b * stride_c;
    if (g.A) g.A += b * stride_a;
    if (g.B) g.B += b * stride_b;
    g.item = b;
    if (narrow_route(p, g.M, g.N, g.ta, g.pro_a || g.pro_b, g.beta) && g.K > 0) gemm_narrow(ctx, &g);
    else gemm_run(ctx, p, &g);
}

static gg_status gemm_batched(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                              const float *A, int64_t lda, int64_t stride_a, int trans_a,
                              const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                              int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                              const gg_fprogram *pa, const gg_fprogram *pb, const gg_fprogram *ep) {
    if (batch < 0) return GG_ERR_ARG;
    gg_status s = check_args(ctx, C, ldc, A, lda, trans_a, B, ldb, trans_b, M, N, K, pa != 0, pb != 0);
    if (s != GG_OK || batch == 0) return s;
    gg_gemm_plan p = make_plan(ctx, M, N, K, pa != 0);
    int64_t glen = gemm_len(ctx, &p, M, N, K, trans_a, pa || pb);
    int64_t eshare = program_share(ctx, ep), pshare = prologue_share(ctx, &p, M, N, K, pa, pb);
    int threads = gg__threads(ctx);
    int64_t need = glen + (int64_t)threads * (eshare + pshare);
    if (need > 0 && (ctx->scratch == 0 || ctx->scratch_len < need))
        return GG_ERR_SCRATCH;
    if (M == 0 || N == 0) return GG_OK;
    float *ep_scratch = ctx->scratch + glen, *pro_scratch = ep_scratch + (int64_t)threads * eshare;
    gg_gemm_args g0 = {C, ldc, A, lda, trans_a != 0, B, ldb, trans_b != 0, M, N, K, alpha, beta,
                       0, ctx->isa, ep, ep ? ep_scratch : 0, eshare,
                       pa, pb, pa || pb ? pro_scratch : 0, pshare, prologue_temp(&p, M, N, K, pa, pb)};
    /* Tiny GEMMs need no scratch, so whole items can go to different threads
     * (each item is still computed by one thread: same bits as serial). */
    int par = gg__threads(ctx);
    if (par > 1 && p.small && batch > 1 && (double)batch * M * N * K >= GG_GEMM_THREAD_MACS) {
        GG__OMP("omp parallel for num_threads(par) schedule(static)")
        for (int64_t b = 0; b < batch; b++) gemm_item(ctx, &p, &g0, b, stride_c, stride_a, stride_b);
        return GG_OK;
    }
    for (int64_t b = 0; b < batch; b++) gemm_item(ctx, &p, &g0, b, stride_c, stride_a, stride_b);
    return GG_OK;
}

gg_status gg_gemm_f32(const gg_ctx *ctx, float *C, int64_t ldc,
                      const float *A, int64_t lda, int trans_a,
                      const float *B, int64_t ldb, int trans_b,
                      int64_t M, int64_t N, int64_t K, float alpha, float beta) {
    return gemm_batched(ctx, C, ldc, 0, A, lda, 0, trans_a, B, ldb, 0, trans_b, 1, M, N, K, alpha, beta, 0, 0, 0);
}

gg_status gg_gemm_batched_f32(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                              const float *A, int64_t lda, int64_t stride_a, int trans_a,
                              const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                              int64_t batch, int64_t M, int64_t N, int64_t K,
                              float alpha, float beta) {
    return gemm_batched(ctx, C, ldc, stride_c, A, lda, stride_a, trans_a, B, ldb, stride_b, trans_b,
                        batch, M, N, K, alpha, beta, 0, 0, 0);
}

/* ------------------------------------------- GEMM + prologues + epilogue */

int gg__gemm_programs_ok(int64_t batch, int64_t M, int64_t N, int64_t K, int trans_a, int trans_b,
                         const gg_fprogram *prologue_a, const gg_fprogram *prologue_b, const gg_fprogram *epilogue) {
    const int64_t space[3] = {batch, M, N};
    const int64_t a_space[3] = {batch, trans_a ? K : M, trans_a ? M : K};
    const int64_t b_space[3] = {batch, trans_b ? N : K, trans_b ? K : N};
    return (!epilogue || gg__fused_elementwise_over(epilogue, 3, space)) &&
           (!prologue_a || gg__fused_region_into_ok(prologue_a, 3, a_space)) &&
           (!prologue_b || gg__fused_region_into_ok(prologue_b, 3, b_space));
}

int64_t gg_gemm_pro_ep_f32_scratch(const gg_ctx *ctx, int64_t M, int64_t N, int64_t K, const gg_fprogram *prologue_a,
                                   const gg_fprogram *prologue_b, const gg_fprogram *epilogue) {
    if (M < 0 || N < 0 || K < 0) return 0;
    gg_gemm_plan p = make_plan(ctx, M, N, K, prologue_a != 0);
    return gemm_len(ctx, &p, M, N, K, 1, prologue_a || prologue_b) + /* ta 1: as gg_gemm_f32_scratch */ (int64_t)gg__threads(ctx) * (program_share(ctx, epilogue) +
                                                    prologue_share(ctx, &p, M, N, K, prologue_a, prologue_b));
}

gg_status gg_gemm_pro_ep_f32(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                             const float *A, int64_t lda, int64_t stride_a, int trans_a,
                             const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                             int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                             const gg_fprogram *prologue_a, const gg_fprogram *prologue_b, const gg_fprogram *epilogue) {
    if (!gg__gemm_programs_ok(batch, M, N, K, trans_a, trans_b, prologue_a, prologue_b, epilogue)) return GG_ERR_ARG;
    return gemm_batched(ctx, C, ldc, stride_c, A, lda, stride_a, trans_a, B, ldb, stride_b, trans_b,
                        batch, M, N, K, alpha, beta, prologue_a, prologue_b, epilogue);
}

int64_t gg_gemm_ep_f32_scratch(const gg_ctx *ctx, int64_t M, int64_t N, int64_t K, const gg_fprogram *epilogue) {
    return gg_gemm_pro_ep_f32_scratch(ctx, M, N, K, 0, 0, epilogue);
}

gg_status gg_gemm_ep_f32(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                         const float *A, int64_t lda, int64_t stride_a, int trans_a,
                         const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                         int64_t batch, int64_t M, int64_t N, int64_t K,
                         float alpha, float beta, const gg_fprogram *epilogue) {
    return gg_gemm_pro_ep_f32(ctx, C, ldc, stride_c, A, lda, stride_a, trans_a, B, ldb, stride_b, trans_b,
                              batch, M, N, K, alpha, beta, 0, 0, epilogue);
}
