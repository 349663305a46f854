/*
 * gg_conv_igemm_avx512.c: the implicit GEMM's AVX-512 packer and 8 x 32
 * register tile (see gg_conv_igemm.h for what each piece does).
 * The packer fills a 32-lane B row with two zmm: stride 1 by masked loads,
 * stride 2 by a window load pair and a two-source permute. The micro-kernel
 * keeps 8 rows x 32 lanes in 16 zmm accumulators. Stride-1 "same" layers
 * take 32-lane units inside an image instead, their tap masks as k-masks:
 * read in place (cv_ukr_direct) or packed by two zero-masking loads per B
 * row (cv_pack_unit).
 */
#include "gg_conv_igemm.h"
#if GG__X86
#include <immintrin.h>

#define CV_512_MR 8

/* B rows k = cs*T + t (cs in [0, G->cs)), 32 lanes each, row stride ldb. */
static GG__TGT_AVX512 void cv_pack(float *Bp, int64_t ldb, const cv_op *ops, const int32_t *start, const cv_geo *G) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i iota16 = _mm512_add_epi32(iota, _mm512_set1_epi32(16));
    for (int64_t c = 0; c < G->cs; c++) {
        const float *sc = G->src + c * G->src_c;
        for (int64_t t = 0; t < G->T; t++) {
            __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
            if (G->sg == 1) {
                /* Masked loads whose masked-off lanes cross a page are slow on
                 * Zen 4: inside the source, load plainly and blend. */
                for (int32_t i = start[t]; i < start[t + 1]; i++) {
                    const float *p = sc + ops[i].off;
                    const __mmask16 m0 = (__mmask16)ops[i].lmask, m1 = (__mmask16)(ops[i].lmask >> 16);
                    if (p >= G->src && p + 32 <= G->src_end) {
                        if (m0) {
                            __m512 a0 = _mm512_loadu_ps(p);
                            __asm__("" : "+v"(a0)); /* keep the plain load (no folding into a masked one) */
                            v0 = _mm512_mask_mov_ps(v0, m0, a0);
                        }
                        if (m1) {
                            __m512 a1 = _mm512_loadu_ps(p + 16);
                            __asm__("" : "+v"(a1));
                            v1 = _mm512_mask_mov_ps(v1, m1, a1);
                        }
                    } else {
                        if (m0) v0 = _mm512_mask_loadu_ps(v0, m0, p);
                        if (m1) v1 = _mm512_mask_loadu_ps(v1, m1, p + 16);
                    }
                }
            } else {
                for (int32_t i = start[t]; i < start[t + 1]; i++) {
                    const float *p = sc + ops[i].off;
                    __m512 w0, w1;
                    if (p + 32 <= G->src_end) { /* p >= src: the window starts at a valid element */
                        w0 = _mm512_loadu_ps(p);
                        w1 = _mm512_loadu_ps(p + 16);
                    } else {
                        w0 = _mm512_maskz_loadu_ps((__mmask16)ops[i].wmask, p);
                        w1 = _mm512_maskz_loadu_ps((__mmask16)(ops[i].wmask >> 16), p + 16);
                    }
                    const __m512i f = _mm512_set1_epi32(ops[i].first);
                    const __m512i i0 = _mm512_slli_epi32(_mm512_sub_epi32(iota, f), 1);
                    const __m512i i1 = _mm512_slli_epi32(_mm512_sub_epi32(iota16, f), 1);
                    v0 = _mm512_mask_mov_ps(v0, (__mmask16)ops[i].lmask, _mm512_permutex2var_ps(w0, i0, w1));
                    v1 = _mm512_mask_mov_ps(v1, (__mmask16)(ops[i].lmask >> 16), _mm512_permutex2var_ps(w0, i1, w1));
                }
            }
            float *d = Bp + (c * G->T + t) * ldb;
            _mm512_storeu_ps(d, v0);
            _mm512_storeu_ps(d + 16, v1);
        }
    }
}

/* C rows r < ROWS: lanes of segment s go to segp[s] + r*ldm + lane (masked),
 * C = A * B (or C += when acc). A(r, k) = arow[r][ch*ach + k*aks] in nch
 * chunks of K, B(k, :) = Bp[k*ldb ..+32]. */
static inline __attribute__((always_inline)) GG__TGT_AVX512 void
cv_ukr_body(const int ROWS, int64_t nch, int64_t K, const float *const *arow, int64_t aks, int64_t ach,
            const float *Bp, int64_t ldb, float *const *segp, const uint32_t *segm, int nseg, int64_t ldm, int acc_in) {
    __m512 c[CV_512_MR][2];
    for (int r = 0; r < ROWS; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    for (int64_t ch = 0; ch < nch; ch++) {
        const float *a[CV_512_MR];
        for (int r = 0; r < ROWS; r++) a[r] = arow[r] + ch * ach;
        for (int64_t k = 0; k < K; k++) {
            const __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
            for (int r = 0; r < ROWS; r++) {
                const __m512 av = _mm512_set1_ps(a[r][k * aks]);
                c[r][0] = _mm512_fmadd_ps(av, b0, c[r][0]);
                c[r][1] = _mm512_fmadd_ps(av, b1, c[r][1]);
            }
            Bp += ldb;
        }
    }
    for (int s = 0; s < nseg; s++) {
        const __mmask16 m0 = (__mmask16)segm[s], m1 = (__mmask16)(segm[s] >> 16);
        for (int r = 0; r < ROWS; r++) {
            float *p = segp[s] + r * ldm;
            __m512 x0 = c[r][0], x1 = c[r][1];
            if (acc_in) {
                x0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, p), x0);
                x1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, p + 16), x1);
            }
            _mm512_mask_storeu_ps(p, m0, x0);
            _mm512_mask_storeu_ps(p + 16, m1, x1);
        }
    }
}

/* cv_ukr_body for a tile of `rows` rows (1..8) known only at run time; inlined,
 * so each caller's constant strides still fold into its tiles. */
static inline __attribute__((always_inline)) GG__TGT_AVX512 void
cv_ukr_n(int rows, int64_t nch, int64_t K, const float *const *arow, int64_t aks, int64_t ach, const float *Bp,
         int64_t ldb, float *const *segp, const uint32_t *segm, int nseg, int64_t ldm, int acc_in) {
#define CV_N(R) case R: cv_ukr_body(R, nch, K, arow, aks, ach, Bp, ldb, segp, segm, nseg, ldm, acc_in); break;
    switch (rows) { CV_N(1) CV_N(2) CV_N(3) CV_N(4) CV_N(5) CV_N(6) CV_N(7) CV_N(8) default: break; }
#undef CV_N
}

/* Packed A (row r of a panel at A + r, k at A + k*8), one 8-row panel after another. */
static GG__TGT_AVX512 void cv_ukr_packed(int64_t M, int64_t K, const float *Ap, const float *Bp, int64_t ldb,
                                         float *const *segp, const uint32_t *segm, int nseg, int64_t ldm) {
    float *sp[CV_NR + 1];
    const float *arow[CV_512_MR];
    for (int64_t m0 = 0; m0 < M; m0 += CV_512_MR) {
        for (int s = 0; s < nseg; s++) sp[s] = segp[s] + m0 * ldm;
        for (int r = 0; r < CV_512_MR; r++) arow[r] = Ap + m0 * K + r;
        cv_ukr_n((int)conv_min(CV_512_MR, M - m0), 1, K, arow, CV_512_MR, 0, Bp, ldb, sp, segm, nseg, ldm, 0);
    }
}
/* A in chunks of 32 k: chunk ch, row r, k at A[ch*ach + r*CV_NR + k]. */
static GG__TGT_AVX512 void cv_ukr_chunked(int rows, int64_t nch, const float *A, int64_t ach, const float *Bp, int64_t ldb,
                                       float *const *segp, const uint32_t *segm, int nseg, int64_t ldm, int acc_in) {
    const float *arow[CV_512_MR];
    for (int r = 0; r < rows && r < CV_512_MR; r++) arow[r] = A + r * CV_NR;
    cv_ukr_n(rows, nch, CV_NR, arow, 1, ach, Bp, ldb, segp, segm, nseg, ldm, acc_in);
}

/* cv_isa.ukr_rows: A's rows where they are (bwd_filter's padded x). */
static GG__TGT_AVX512 void cv_ukr_rows(int rows, int64_t nch, int64_t K, const float *const *arow, int64_t aks,
                                       int64_t ach, const float *Bp, int64_t ldb, float *out, uint32_t m, int64_t ldm,
                                       int acc_in) {
    float *const segp[1] = {out};
    cv_ukr_n(rows, nch, K, arow, aks, ach, Bp, ldb, segp, &m, 1, ldm, acc_in);
}

/* Rows r < ROWS of a 32-lane unit read straight from the source: B row
 * k = c*T + t is src[c*src_c + toff[t] + l] under tap t's lane masks km, so
 * no panel is packed. Zero-masking loads cost no ALU slot (the FMAs own
 * both ports); the driver keeps every address inside the source. With acc
 * the chains start from what out holds (the sums of the earlier channels):
 * same k order and FMA chain as cv_ukr_body, so the same bits. */
static inline __attribute__((always_inline)) GG__TGT_AVX512 void
cv_dtile(const int ROWS, int64_t cs, int64_t T, const float *const *arow, int64_t ka, const float *src, int64_t src_c,
         const int64_t *toff, const __mmask16 *km, float *out, uint32_t m, int64_t ldm, int acc) {
    const __mmask16 m0 = (__mmask16)m, m1 = (__mmask16)(m >> 16);
    __m512 c[CV_512_MR][2];
    for (int r = 0; r < ROWS; r++) {
        c[r][0] = acc ? _mm512_maskz_loadu_ps(m0, out + r * ldm) : _mm512_setzero_ps();
        c[r][1] = acc ? _mm512_maskz_loadu_ps(m1, out + r * ldm + 16) : _mm512_setzero_ps();
    }
    for (int64_t ci = 0; ci < cs; ci++) {
        const float *s = src + ci * src_c;
        for (int64_t t = 0; t < T; t++) {
            const float *p = s + toff[t];
            const __m512 b0 = _mm512_maskz_loadu_ps(km[2 * t], p), b1 = _mm512_maskz_loadu_ps(km[2 * t + 1], p + 16);
            for (int r = 0; r < ROWS; r++) {
                const __m512 av = _mm512_set1_ps(arow[r][ka]);
                c[r][0] = _mm512_fmadd_ps(av, b0, c[r][0]);
                c[r][1] = _mm512_fmadd_ps(av, b1, c[r][1]);
            }
            ka += CV_512_MR;
        }
    }
    for (int r = 0; r < ROWS; r++) {
        _mm512_mask_storeu_ps(out + r * ldm, m0, c[r][0]);
        _mm512_mask_storeu_ps(out + r * ldm + 16, m1, c[r][1]);
    }
}

/* Channels in blocks of at most 288 / T rows of B, as on AVX2: every row
 * tile re-reads the block's source lines, which must stay in L1. */
static GG__TGT_AVX512 void cv_ukr_direct(int64_t M, int64_t cs, int64_t T, const float *Ap, const float *src,
                                         int64_t src_c, const int64_t *toff, const float *tmask, float *out, uint32_t m,
                                         int64_t ldm) {
    const int64_t K = cs * T, cb = T >= 288 ? 1 : 288 / T;
    __mmask16 km[2 * CV_MAXTAPS];
    for (int64_t t = 0; t < 2 * T; t++) {
        const __m512i v = _mm512_loadu_si512(tmask + 16 * t);
        km[t] = _mm512_test_epi32_mask(v, v);
    }
    const float *arow[CV_512_MR];
    for (int64_t c0 = 0; c0 < cs; c0 += cb) {
        const int64_t nc = conv_min(cb, cs - c0);
        for (int64_t m0 = 0; m0 < M; m0 += CV_512_MR) {
            for (int r = 0; r < CV_512_MR; r++) arow[r] = Ap + m0 * K + r;
            float *o = out + m0 * ldm;
#define CV_D(R) case R: cv_dtile(R, nc, T, arow, c0 * T * CV_512_MR, src + c0 * src_c, src_c, toff, km, o, m, ldm, c0 > 0); break;
            switch (conv_min(CV_512_MR, M - m0)) { CV_D(1) CV_D(2) CV_D(3) CV_D(4) CV_D(5) CV_D(6) CV_D(7) CV_D(8) default: break; }
#undef CV_D
        }
    }
}

/* The tap masks of a unit: km for its lanes in this image, kn for those
 * (from split on) in the next one, whose rows restart at 0. */
static GG__TGT_AVX512 void cv_unit_masks(const cv_geo *G, int64_t q0, int64_t len, int64_t split, __mmask16 *km,
                                         __mmask16 *kn) {
    int32_t gy[CV_NR], gx[CV_NR];
    for (int64_t l = 0, y = q0 / G->gw, x = q0 - y * G->gw; l < CV_NR; l++) {
        gy[l] = (int32_t)y;
        gx[l] = (int32_t)x;
        if (++x == G->gw) { x = 0; y++; }
        if (y == G->gh) y = 0;
    }
    const __m512i gy0 = _mm512_loadu_si512(gy), gy1 = _mm512_loadu_si512(gy + 16);
    const __m512i gx0 = _mm512_loadu_si512(gx), gx1 = _mm512_loadu_si512(gx + 16);
    const __m512i hs = _mm512_set1_epi32((int32_t)G->hs), ws = _mm512_set1_epi32((int32_t)G->ws);
    const uint32_t live = len >= 32 ? 0xFFFFFFFFu : (uint32_t)((1u << len) - 1);
    const uint32_t next = split >= 32 ? 0 : live & ~(uint32_t)((1u << split) - 1);
    for (int64_t t = 0; t < G->T; t++) {
        const __m512i ty = _mm512_set1_epi32((int32_t)G->ty[t]), tx = _mm512_set1_epi32((int32_t)G->tx[t]);
        /* unsigned compares: a negative row or column wraps past hs or ws */
        const uint32_t in = (uint32_t)(_mm512_cmplt_epu32_mask(_mm512_add_epi32(gy0, ty), hs) &
                                       _mm512_cmplt_epu32_mask(_mm512_add_epi32(gx0, tx), ws)) |
                            (uint32_t)(_mm512_cmplt_epu32_mask(_mm512_add_epi32(gy1, ty), hs) &
                                       _mm512_cmplt_epu32_mask(_mm512_add_epi32(gx1, tx), ws)) << 16;
        km[2 * t] = (__mmask16)(in & live & ~next);
        km[2 * t + 1] = (__mmask16)((in & live & ~next) >> 16);
        kn[2 * t] = (__mmask16)(in & next);
        kn[2 * t + 1] = (__mmask16)((in & next) >> 16);
    }
}

/* Row k = c*T + t of a unit's B: the two halves, this image's lanes and the next one's. */
static inline __attribute__((always_inline)) GG__TGT_AVX512 void
cv_unit_row(const float *p, int64_t delta, const __mmask16 *km, const __mmask16 *kn, __m512 *b0, __m512 *b1) {
    *b0 = _mm512_maskz_loadu_ps(km[0], p);
    *b1 = _mm512_maskz_loadu_ps(km[1], p + 16);
    if (kn[0] | kn[1]) {
        *b0 = _mm512_mask_loadu_ps(*b0, kn[0], p + delta);
        *b1 = _mm512_mask_loadu_ps(*b1, kn[1], p + delta + 16);
    }
}

/* cv_isa.pack_unit. Tap masks by lane compares on (gy, gx) of the unit's
 * lanes, then two zero-masking loads and two stores per B row: no load
 * plans, no blends. A 32 -> 32 layer at 28x28 (forward and data gradient)
 * had spent 16% of its cycles in cv_pack, its load plans and prefetches;
 * packing units takes 8%. Lanes from split on belong to the next image:
 * their loads come from delta further on (two more loads per B row, only in
 * the one unit per image that straddles). */
static GG__TGT_AVX512 void cv_pack_unit(float *Bp, const cv_geo *G, const float *src, int64_t q0, int64_t len,
                                        int64_t split, int64_t delta, const int64_t *toff) {
    __mmask16 km[2 * CV_MAXTAPS], kn[2 * CV_MAXTAPS];
    cv_unit_masks(G, q0, len, split, km, kn);
    for (int64_t c = 0; c < G->cs; c++) {
        const float *sc = src + c * G->src_c;
        float *d = Bp + c * G->T * CV_NR;
        for (int64_t t = 0; t < G->T; t++) {
            __m512 b0, b1;
            cv_unit_row(sc + toff[t], delta, km + 2 * t, kn + 2 * t, &b0, &b1);
            _mm512_storeu_ps(d + t * CV_NR, b0);
            _mm512_storeu_ps(d + t * CV_NR + 16, b1);
        }
    }
}

/* cv_isa.ukr_unit: C (M > 8 rows) = A * B of a unit whose B rows come from
 * n geometries in turn (one, or a stride-2 forward's phases, whose first is
 * G[0]; unit q's source src[q], tap offsets toff[q]), packing B (as
 * cv_pack_unit) while its first 8 rows multiply it: the loads feed both the
 * stores and the FMAs, and no pass re-reads B for them. The other rows then
 * read the packed B. Same B values, same k order: the same bits as packing
 * first. */
static GG__TGT_AVX512 void cv_ukr_unit(const cv_geo *G, int n, const float *const *src, int64_t q0, int64_t len,
                                       int64_t split, const int64_t *delta, const int64_t *const *toff, float *Bp,
                                       float *const *segp, const uint32_t *segm, int nseg, int64_t ldm) {
    __m512 c[CV_512_MR][2];
    for (int r = 0; r < CV_512_MR; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    const float *a = G[0].Ap;
    float *d = Bp;
    int64_t K = 0;
    for (int q = 0; q < n; q++) {
        const cv_geo *P = &G[q];
        __mmask16 km[2 * CV_MAXTAPS], kn[2 * CV_MAXTAPS];
        cv_unit_masks(P, q0, len, split, km, kn);
        for (int64_t ci = 0; ci < P->cs; ci++) {
            const float *sc = src[q] + ci * P->src_c;
            for (int64_t t = 0; t < P->T; t++) {
                __m512 b0, b1;
                cv_unit_row(sc + toff[q][t], delta[q], km + 2 * t, kn + 2 * t, &b0, &b1);
                _mm512_storeu_ps(d, b0);
                _mm512_storeu_ps(d + 16, b1);
                d += CV_NR;
                for (int r = 0; r < CV_512_MR; r++) {
                    const __m512 av = _mm512_set1_ps(a[r]);
                    c[r][0] = _mm512_fmadd_ps(av, b0, c[r][0]);
                    c[r][1] = _mm512_fmadd_ps(av, b1, c[r][1]);
                }
                a += CV_512_MR;
            }
        }
        K += P->cs * P->T;
    }
    float *sp[2];
    for (int s = 0; s < nseg; s++) {
        const __mmask16 m0 = (__mmask16)segm[s], m1 = (__mmask16)(segm[s] >> 16);
        for (int r = 0; r < CV_512_MR; r++) {
            _mm512_mask_storeu_ps(segp[s] + r * ldm, m0, c[r][0]);
            _mm512_mask_storeu_ps(segp[s] + r * ldm + 16, m1, c[r][1]);
        }
        sp[s] = segp[s] + CV_512_MR * ldm;
    }
    cv_ukr_packed(G[0].M - CV_512_MR, K, G[0].Ap + CV_512_MR * K, Bp, CV_NR, sp, segm, nseg, ldm);
}

/* cv_isa.split_row: row[2q] to even[q], row[2q + 1] to odd[q], q < half;
 * 16 pairs per two loads, two permutes and two stores. */
static GG__TGT_AVX512 void cv_split_row(float *even, float *odd, const float *row, int64_t half) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_add_epi32(ie, _mm512_set1_epi32(1));
    for (int64_t q = 0; q < half; q += 16) {
        const int64_t n = half - q < 16 ? half - q : 16;
        const uint32_t in = n == 16 ? 0xFFFFFFFFu : (uint32_t)((1ull << (2 * n)) - 1);
        const __mmask16 out = (__mmask16)((1u << n) - 1);
        const __m512 a = _mm512_maskz_loadu_ps((__mmask16)in, row + 2 * q);
        const __m512 b = _mm512_maskz_loadu_ps((__mmask16)(in >> 16), row + 2 * q + 16);
        _mm512_mask_storeu_ps(even + q, out, _mm512_permutex2var_ps(a, ie, b));
        _mm512_mask_storeu_ps(odd + q, out, _mm512_permutex2var_ps(a, io, b));
    }
}

/* 8 values to the even lanes of 16 per masked store. */
static GG__TGT_AVX512 void cv_store_x2(const float *tile, int rows, int32_t pos, int32_t len, float *d, int64_t ldm) {
    const __m512i half = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    for (int32_t c0 = 0; c0 < len; c0 += 8) {
        const int32_t nv = len - c0 < 8 ? len - c0 : 8;
        const __mmask16 m = (__mmask16)(0x5555u & ((1u << (2 * nv)) - 1));
        const __m512i idx = _mm512_add_epi32(half, _mm512_set1_epi32(pos + c0));
        for (int r = 0; r < rows; r++) {
            const __m512 t0 = _mm512_load_ps(tile + r * CV_NR), t1 = _mm512_load_ps(tile + r * CV_NR + 16);
            _mm512_mask_storeu_ps(d + r * ldm + 2 * c0, m, _mm512_permutex2var_ps(t0, idx, t1));
        }
    }
}

const cv_isa gg__cv_avx512 = {
    .mr = CV_512_MR,
    /* Read in place against packed units at 28x28 with 32 input channels:
     * 8 output rows 26% faster, 16 even (one thread), 32 slower (ukr_direct's
     * unaligned 64-byte loads split cache lines for every row tile; a packed
     * unit is read aligned) */
    .du = 32,
    .direct_m = 8,
    /* Sapphire Rapids' prefetchers follow the units: prefetching by hand cost 5% (one thread) */
    .unit_prefetch = 0,
    .pack = cv_pack,
    .ukr_packed = cv_ukr_packed,
    .ukr_chunked = cv_ukr_chunked,
    .store_x2 = cv_store_x2,
    .ukr_direct = cv_ukr_direct,
    .pack_unit = cv_pack_unit,
    .ukr_unit = cv_ukr_unit,
    .split_row = cv_split_row,
    .transpose = gg__cv2_transpose,
    .store_pair = gg__cv2_store_pair,
    .ukr_dots = gg__cv2_ukr_dots,
    .wf_inplace = gg__cv2_wf_inplace,
    .ukr_rows = cv_ukr_rows,
};
#endif
