/*
 * gg_conv_igemm_avx2.c: the implicit GEMM's AVX2 packer and register tile
 * (see gg_conv_igemm.h for what each piece does).
 * AVX2 has 16 ymm registers, too few for an 8 x 32 tile, so a 32-lane panel
 * is multiplied as two 16-lane halves by a 6 x 16 tile: 12 accumulators,
 * two B vectors and a broadcast of A, the shape that keeps both FMA pipes
 * busy with fewer loads than FMAs. A is packed in 6-row panels.
 * The packer builds each 32-lane B row in four ymm: stride 1 by loads
 * blended under the lane mask (masked loads where a window leaves the
 * source); stride 2 by loading the window, keeping its even elements and
 * writing them to their lanes through a small row buffer.
 */
#include "gg_conv_igemm.h"
#if GG__X86
#include <immintrin.h>

#define CV_AVX2_MR 6

/* Lanes i of 8 with bit i of bits set: all ones. */
GG__INLINE GG__TGT_AVX2 __m256i cv2_mask(uint32_t bits) {
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), sel), sel);
}

/* The even elements of 16 consecutive floats (a, b), in order. */
GG__INLINE GG__TGT_AVX2 __m256 cv2_evens(__m256 a, __m256 b) {
    const __m256 e = _mm256_shuffle_ps(a, b, 0x88); /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
}

static GG__TGT_AVX2 void cv2_pack(float *Bp, int64_t ldb, const cv_op *ops, const int32_t *start, const cv_geo *G) {
    float row[CV_NR + 16] __attribute__((aligned(32)));
    for (int64_t c = 0; c < G->cs; c++) {
        const float *sc = G->src + c * G->src_c;
        for (int64_t t = 0; t < G->T; t++) {
            __m256 v[4];
            for (int j = 0; j < 4; j++) v[j] = _mm256_setzero_ps();
            if (G->sg == 1) {
                for (int32_t i = start[t]; i < start[t + 1]; i++) {
                    const float *p = sc + ops[i].off;
                    for (int j = 0; j < 4; j++) {
                        const uint32_t bits = (ops[i].lmask >> (8 * j)) & 0xFFu;
                        if (!bits) continue;
                        const float *q = p + 8 * j;
                        const __m256i m = cv2_mask(bits);
                        const __m256 a = q >= G->src && q + 8 <= G->src_end ? _mm256_loadu_ps(q) : _mm256_maskload_ps(q, m);
                        v[j] = bits == 0xFFu ? a : _mm256_blendv_ps(v[j], a, _mm256_castsi256_ps(m));
                    }
                }
            } else if (start[t] < start[t + 1]) {
                /* each op's lanes [first, first + n) get its window's even elements;
                 * ops come in lane order, so a later op's write leaves earlier lanes
                 * alone, and lanes no op owns are cleared by the union mask */
                uint32_t owned = 0;
                for (int32_t i = start[t]; i < start[t + 1]; i++) {
                    const float *p = sc + ops[i].off;
                    __m256 w[4];
                    if (p + 32 <= G->src_end) { /* p >= src: the window starts at a valid element */
                        for (int j = 0; j < 4; j++) w[j] = _mm256_loadu_ps(p + 8 * j);
                    } else {
                        for (int j = 0; j < 4; j++) w[j] = _mm256_maskload_ps(p + 8 * j, cv2_mask(ops[i].wmask >> (8 * j)));
                    }
                    _mm256_storeu_ps(row + ops[i].first, cv2_evens(w[0], w[1]));
                    _mm256_storeu_ps(row + ops[i].first + 8, cv2_evens(w[2], w[3]));
                    owned |= ops[i].lmask;
                }
                for (int j = 0; j < 4; j++)
                    v[j] = _mm256_and_ps(_mm256_loadu_ps(row + 8 * j), _mm256_castsi256_ps(cv2_mask(owned >> (8 * j))));
            }
            float *d = Bp + (c * G->T + t) * ldb;
            for (int j = 0; j < 4; j++) _mm256_storeu_ps(d + 8 * j, v[j]);
        }
    }
}

/* 8 lanes of x to p under the lane bits m (plus what is there when acc). */
GG__INLINE GG__TGT_AVX2 void cv2_store8(float *p, __m256 x, uint32_t m, int acc) {
    if (m == 0xFFu) {
        if (acc) x = _mm256_add_ps(_mm256_loadu_ps(p), x);
        _mm256_storeu_ps(p, x);
    } else if (m) {
        const __m256i mv = cv2_mask(m);
        if (acc) x = _mm256_add_ps(_mm256_maskload_ps(p, mv), x);
        _mm256_maskstore_ps(p, mv, x);
    }
}

/* Lanes [16*half, 16*half + 16) of C rows r < ROWS: C = A * B (or C += when acc).
 * A(r, k) = arow[r][k*aks] in nch chunks ach apart, B(k, :) = Bp[k*ldb ..]. */
GG__INLINE GG__TGT_AVX2 void cv2_tile(const int ROWS, int half, int64_t nch, int64_t K, const float *const *arow,
                                      int64_t aks, int64_t ach, const float *Bp, int64_t ldb, float *const *segp,
                                      const uint32_t *segm, int nseg, int64_t ldm, int acc_in) {
    __m256 c[CV_AVX2_MR][2];
    for (int r = 0; r < ROWS; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
    const float *b = Bp + 16 * half;
    for (int64_t ch = 0; ch < nch; ch++) {
        const float *a[CV_AVX2_MR];
        for (int r = 0; r < ROWS; r++) a[r] = arow[r] + ch * ach;
        for (int64_t k = 0; k < K; k++) {
            const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            for (int r = 0; r < ROWS; r++) {
                const __m256 av = _mm256_broadcast_ss(a[r] + k * aks);
                c[r][0] = _mm256_fmadd_ps(av, b0, c[r][0]);
                c[r][1] = _mm256_fmadd_ps(av, b1, c[r][1]);
            }
            b += ldb;
        }
    }
    for (int s = 0; s < nseg; s++) {
        const uint32_t m = segm[s] >> (16 * half);
        if (!(m & 0xFFFFu)) continue;
        for (int r = 0; r < ROWS; r++) {
            float *p = segp[s] + r * ldm + 16 * half;
            cv2_store8(p, c[r][0], m & 0xFFu, acc_in);
            cv2_store8(p + 8, c[r][1], (m >> 8) & 0xFFu, acc_in);
        }
    }
}

/* cv2_tile for a tile of `rows` rows (1..6) known only at run time; inlined, so each
 * caller's constant strides still fold into its tiles. */
GG__INLINE GG__TGT_AVX2 void cv2_tile_n(int rows, int half, int64_t nch, int64_t K, const float *const *arow, int64_t aks,
                                    int64_t ach, const float *Bp, int64_t ldb, float *const *segp, const uint32_t *segm,
                                    int nseg, int64_t ldm, int acc_in) {
#define CV2_N(R) case R: cv2_tile(R, half, nch, K, arow, aks, ach, Bp, ldb, segp, segm, nseg, ldm, acc_in); break;
    switch (rows) { CV2_N(1) CV2_N(2) CV2_N(3) CV2_N(4) CV2_N(5) CV2_N(6) default: break; }
#undef CV2_N
}

/* Height of the row tile that starts at m0 of M rows (gg__tile_rows). */
static inline int cv2_rows(int64_t M, int64_t m0) { return (int)gg__tile_rows(CV_AVX2_MR, M - m0); }

/* Row pointers of a tile of packed A (6-row panels, k-major: row m, k at
 * Ap[((m/6)*K + k)*6 + m%6]): a tile may span two panels. */
static inline void cv2_arows(const float **arow, int rows, const float *Ap, int64_t K, int64_t m0) {
    for (int r = 0; r < rows; r++) {
        const int64_t m = m0 + r;
        arow[r] = Ap + (m / CV_AVX2_MR) * K * CV_AVX2_MR + m % CV_AVX2_MR;
    }
}

/* Packed A (panels of 6 rows). Half-panel outer: one 16-lane half of B
 * (K x 64 bytes) stays in L1 while every row tile of A passes over it. */
static GG__TGT_AVX2 void cv2_ukr_packed(int64_t M, int64_t K, const float *Ap, const float *Bp, int64_t ldb,
                                        float *const *segp, const uint32_t *segm, int nseg, int64_t ldm) {
    float *sp[CV_NR + 1];
    const float *arow[CV_AVX2_MR];
    for (int h = 0; h < 2; h++)
        for (int64_t m0 = 0, rows; m0 < M; m0 += rows) {
            rows = cv2_rows(M, m0);
            for (int s = 0; s < nseg; s++) sp[s] = segp[s] + m0 * ldm;
            cv2_arows(arow, (int)rows, Ap, K, m0);
            cv2_tile_n((int)rows, h, 1, K, arow, CV_AVX2_MR, 0, Bp, ldb, sp, segm, nseg, ldm, 0);
        }
}

/* A in chunks of 32 k: chunk ch, row r, k at A[ch*ach + r*CV_NR + k]. */
static GG__TGT_AVX2 void cv2_ukr_chunked(int rows, int64_t nch, const float *A, int64_t ach, const float *Bp, int64_t ldb,
                                         float *const *segp, const uint32_t *segm, int nseg, int64_t ldm, int acc_in) {
    const float *arow[CV_AVX2_MR];
    for (int r = 0; r < rows && r < CV_AVX2_MR; r++) arow[r] = A + r * CV_NR;
    for (int h = 0; h < 2; h++) cv2_tile_n(rows, h, nch, CV_NR, arow, 1, ach, Bp, ldb, segp, segm, nseg, ldm, acc_in);
}

/* cv_isa.ukr_rows: the tile of cv2_tile with A's rows where they are (bwd_filter's padded x). */
static GG__TGT_AVX2 void cv2_ukr_rows(int rows, int64_t nch, int64_t K, const float *const *arow, int64_t aks,
                                      int64_t ach, const float *Bp, int64_t ldb, float *out, uint32_t m, int64_t ldm,
                                      int acc_in) {
    float *const segp[1] = {out};
    for (int h = 0; h < 2; h++)
        if ((m >> (16 * h)) & 0xFFFFu) cv2_tile_n(rows, h, nch, K, arow, aks, ach, Bp, ldb, segp, &m, 1, ldm, acc_in);
}

/* Rows r < ROWS of a 16-lane unit read straight from the source: B row
 * k = c*T + t is src[c*src_c + toff[t] + l] under tap t's lane mask, so no
 * panel is packed. With acc the chains start from what out holds (the sums
 * of the earlier channels), so splitting the channels changes no bit: same
 * k order and FMA chain as cv2_tile. */
GG__INLINE GG__TGT_AVX2 void cv2_dtile(const int ROWS, int64_t cs, int64_t T, const float *const *arow, int64_t ka,
                                       const float *src, int64_t src_c, const int64_t *toff, const float *tmask,
                                       float *out, uint32_t m, int64_t ldm, int acc) {
    const __m256i m0 = cv2_mask(m & 0xFFu), m1 = cv2_mask((m >> 8) & 0xFFu);
    __m256 c[CV_AVX2_MR][2];
    for (int r = 0; r < ROWS; r++) {
        c[r][0] = acc ? _mm256_maskload_ps(out + r * ldm, m0) : _mm256_setzero_ps();
        c[r][1] = acc ? _mm256_maskload_ps(out + r * ldm + 8, m1) : _mm256_setzero_ps();
    }
    for (int64_t ci = 0; ci < cs; ci++) {
        const float *s = src + ci * src_c;
        for (int64_t t = 0; t < T; t++) {
            const float *p = s + toff[t];
            const __m256 b0 = _mm256_and_ps(_mm256_loadu_ps(p), _mm256_load_ps(tmask + 16 * t));
            const __m256 b1 = _mm256_and_ps(_mm256_loadu_ps(p + 8), _mm256_load_ps(tmask + 16 * t + 8));
            for (int r = 0; r < ROWS; r++) {
                const __m256 av = _mm256_broadcast_ss(arow[r] + ka);
                c[r][0] = _mm256_fmadd_ps(av, b0, c[r][0]);
                c[r][1] = _mm256_fmadd_ps(av, b1, c[r][1]);
            }
            ka += CV_AVX2_MR;
        }
    }
    for (int r = 0; r < ROWS; r++) {
        cv2_store8(out + r * ldm, c[r][0], m & 0xFFu, 0);
        cv2_store8(out + r * ldm + 8, c[r][1], (m >> 8) & 0xFFu, 0);
    }
}

/* Channels in blocks of at most 288 / T rows of B (32 channels of 3x3):
 * every row tile re-reads the block's source lines, which must stay in L1
 * (64 channels at 28x28 ran 15-20% slower unsplit). */
static GG__TGT_AVX2 void cv2_ukr_direct(int64_t M, int64_t cs, int64_t T, const float *Ap, const float *src,
                                        int64_t src_c, const int64_t *toff, const float *tmask, float *out, uint32_t m,
                                        int64_t ldm) {
    const int64_t K = cs * T, cb = T >= 288 ? 1 : 288 / T;
    const float *arow[CV_AVX2_MR];
    for (int64_t c0 = 0; c0 < cs; c0 += cb) {
        const int64_t nc = conv_min(cb, cs - c0);
        for (int64_t m0 = 0, rows; m0 < M; m0 += rows) {
            rows = cv2_rows(M, m0);
            cv2_arows(arow, (int)rows, Ap, K, m0);
            float *o = out + m0 * ldm;
#define CV2_D(R) case R: cv2_dtile(R, nc, T, arow, c0 * T * CV_AVX2_MR, src + c0 * src_c, src_c, toff, tmask, o, m, ldm, c0 > 0); break;
            switch (rows) { CV2_D(1) CV2_D(2) CV2_D(3) CV2_D(4) CV2_D(5) CV2_D(6) default: break; }
#undef CV2_D
        }
    }
}

/* 4 values to the even lanes of 8 per masked store. The tile has CV_MR_MAX
 * rows of 32, so the 8-float reads past a row's lane 31 stay inside it. */
static GG__TGT_AVX2 void cv2_store_x2(const float *tile, int rows, int32_t pos, int32_t len, float *d, int64_t ldm) {
    const __m256i spread = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    for (int32_t c0 = 0; c0 < len; c0 += 4) {
        const int32_t nv = len - c0 < 4 ? len - c0 : 4;
        const __m256i m = cv2_mask(0x55u & ((1u << (2 * nv)) - 1));
        for (int r = 0; r < rows; r++) {
            const __m256 t = _mm256_loadu_ps(tile + r * CV_NR + pos + c0);
            _mm256_maskstore_ps(d + r * ldm + 2 * c0, m, _mm256_permutevar8x32_ps(t, spread));
        }
    }
}

/* acc rows o < RO, k < RK of the dots tile (12 chains at 2 x 6), over npp
 * panels of 32 pixels: acc[o][k] (8 lanes) += dy[o][l] * col[k][l]. */
GG__INLINE GG__TGT_AVX2 void cv2_dots_tile(const int RO, const int RK, int64_t oc, int64_t ckk, int64_t npp,
                                           const float *col, const float *dyp, float *acc, int64_t o0, int64_t k0) {
    __m256 c[2][6];
    for (int o = 0; o < RO; o++)
        for (int k = 0; k < RK; k++) c[o][k] = _mm256_loadu_ps(acc + ((o0 + o) * ckk + k0 + k) * 8);
    for (int64_t pp = 0; pp < npp; pp++) {
        const float *cp = col + (pp * ckk + k0) * CV_NR, *dp = dyp + (pp * oc + o0) * CV_NR;
        for (int j = 0; j < CV_NR; j += 8) {
            __m256 d[2];
            for (int o = 0; o < RO; o++) d[o] = _mm256_loadu_ps(dp + o * CV_NR + j);
            for (int k = 0; k < RK; k++) {
                const __m256 x = _mm256_loadu_ps(cp + k * CV_NR + j);
                for (int o = 0; o < RO; o++) c[o][k] = _mm256_fmadd_ps(d[o], x, c[o][k]);
            }
        }
    }
    for (int o = 0; o < RO; o++)
        for (int k = 0; k < RK; k++) _mm256_storeu_ps(acc + ((o0 + o) * ckk + k0 + k) * 8, c[o][k]);
}

/* bwd_filter with few output channels: acc (oc x ckk, 8 lanes each) +=
 * dyp (npp panels of oc x 32) times col (npp panels of ckk x 32), as lane
 * dot products over the pixels, each summed in panel order. */
GG__TGT_AVX2 void gg__cv2_ukr_dots(int64_t oc, int64_t ckk, int64_t npp, const float *col, const float *dyp, float *acc) {
    for (int64_t o0 = 0; o0 < oc; o0 += 2)
        for (int64_t k0 = 0; k0 < ckk; k0 += 6) {
            const int ro = (int)conv_min(2, oc - o0), rk = (int)conv_min(6, ckk - k0);
#define CV2_T(RK)                                                                                                      \
    case RK:                                                                                                           \
        if (ro == 2) cv2_dots_tile(2, RK, oc, ckk, npp, col, dyp, acc, o0, k0);                                        \
        else cv2_dots_tile(1, RK, oc, ckk, npp, col, dyp, acc, o0, k0);                                                \
        break;
            switch (rk) { CV2_T(1) CV2_T(2) CV2_T(3) CV2_T(4) CV2_T(5) CV2_T(6) default: break; }
#undef CV2_T
        }
}

/* One image's share of the in-place dots: acc rows o < RO (from o0), taps
 * k < RK (from t0) of channel c, over the image's 16-lane units. */
GG__INLINE GG__TGT_AVX2 void cv2_wfi_tile(const int RO, const int RK, const cv_wfi *W, const float *xb,
                                          const float *dyb, float *acc, int64_t o0, int64_t c, int64_t t0) {
    const int64_t ckk = W->cs * W->T;
    __m256 a[2][6];
    for (int o = 0; o < RO; o++)
        for (int k = 0; k < RK; k++) a[o][k] = _mm256_loadu_ps(acc + ((o0 + o) * ckk + c * W->T + t0 + k) * 8);
    const float *xc = xb + c * W->hw;
    for (int64_t u = 0; u < W->units; u++) {
        const int64_t q0 = u * 16;
        const uint32_t *um = W->umask + u * 16, *tm = W->tmask + (u * W->T + t0) * 16;
        for (int h = 0; h < 2; h++) {
            __m256 d[2];
            const __m256i lm = _mm256_loadu_si256((const __m256i *)(um + 8 * h));
            for (int o = 0; o < RO; o++) d[o] = _mm256_maskload_ps(dyb + (o0 + o) * W->hw + q0 + 8 * h, lm);
            for (int k = 0; k < RK; k++) {
                const __m256i m = _mm256_loadu_si256((const __m256i *)(tm + k * 16 + 8 * h));
                const __m256 x = _mm256_maskload_ps(xc + q0 + W->toff[t0 + k] + 8 * h, m);
                for (int o = 0; o < RO; o++) a[o][k] = _mm256_fmadd_ps(d[o], x, a[o][k]);
            }
        }
    }
    for (int o = 0; o < RO; o++)
        for (int k = 0; k < RK; k++) _mm256_storeu_ps(acc + ((o0 + o) * ckk + c * W->T + t0 + k) * 8, a[o][k]);
}

/* bwd_filter of one image of a stride-1 "same" conv with few output
 * channels, x read in place: acc (oc x cs*T, 8 lanes each) += dy rows
 * dotted with the taps' masked shifts of x, units in order, each unit's
 * lanes 0-7 then 8-15. Masked loads never touch lanes off the tensor. */
GG__TGT_AVX2 void gg__cv2_wf_inplace(const cv_wfi *W, const float *xb, const float *dyb, float *acc) {
    for (int64_t o0 = 0; o0 < W->oc; o0 += 2)
        for (int64_t c = 0; c < W->cs; c++)
            for (int64_t t0 = 0; t0 < W->T; t0 += 6) {
                const int ro = (int)conv_min(2, W->oc - o0), rk = (int)conv_min(6, W->T - t0);
#define CV2_W(RK)                                                                                                      \
    case RK:                                                                                                           \
        if (ro == 2) cv2_wfi_tile(2, RK, W, xb, dyb, acc, o0, c, t0);                                                  \
        else cv2_wfi_tile(1, RK, W, xb, dyb, acc, o0, c, t0);                                                          \
        break;
                switch (rk) { CV2_W(1) CV2_W(2) CV2_W(3) CV2_W(4) CV2_W(5) CV2_W(6) default: break; }
#undef CV2_W
            }
}

/* d[l*ldd + o] = src[o*lds + l] for o < rows, l < cols: 8 x 8 blocks in
 * registers (bwd_filter's dy^T; scalar stores 128 bytes apart had cost as
 * much as the packer). */
GG__TGT_AVX2 void gg__cv2_transpose(float *d, int64_t ldd, const float *src, int64_t lds, int64_t rows, int64_t cols) {
    int64_t o0 = 0;
    for (; o0 + 8 <= rows; o0 += 8) {
        int64_t l0 = 0;
        for (; l0 + 8 <= cols; l0 += 8) {
            __m256 r[8], t[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + (o0 + i) * lds + l0);
            for (int i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) {
                r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
                r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
                r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
                r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
            }
            for (int i = 0; i < 4; i++) {
                _mm256_storeu_ps(d + (l0 + i) * ldd + o0, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
                _mm256_storeu_ps(d + (l0 + i + 4) * ldd + o0, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
            }
        }
        for (; l0 < cols; l0++)
            for (int64_t o = o0; o < o0 + 8; o++) d[l0 * ldd + o] = src[o * lds + l0];
    }
    for (; o0 < rows; o0++)
        for (int64_t l = 0; l < cols; l++) d[l * ldd + o0] = src[o0 * lds + l];
}

GG__TGT_AVX2 void gg__cv2_store_pair(const float *a, const float *b, int64_t rows, int32_t pos, int32_t len, float *d,
                                     int64_t ldm) {
    for (int64_t r = 0; r < rows; r++) {
        const float *x = a + r * CV_NR + pos, *y = b + r * CV_NR + pos;
        float *o = d + r * ldm;
        int32_t l = 0;
        for (; l + 8 <= len; l += 8) {
            const __m256 u = _mm256_loadu_ps(x + l), v = _mm256_loadu_ps(y + l);
            const __m256 lo = _mm256_unpacklo_ps(u, v), hi = _mm256_unpackhi_ps(u, v); /* u0 v0 u1 v1 | u4 v4 u5 v5 */
            _mm256_storeu_ps(o + 2 * l, _mm256_permute2f128_ps(lo, hi, 0x20));
            _mm256_storeu_ps(o + 2 * l + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
        }
        for (; l < len; l++) {
            o[2 * l] = x[l];
            o[2 * l + 1] = y[l];
        }
    }
}

const cv_isa gg__cv_avx2 = {
    .mr = CV_AVX2_MR,
    .du = 16,
    .direct_m = INT64_MAX, /* M = 32 gained 17% at 28x28 (cv_fill_ok limits M = 64) */
    .unit_prefetch = 1,
    .pack = cv2_pack,
    .ukr_packed = cv2_ukr_packed,
    .ukr_chunked = cv2_ukr_chunked,
    .store_x2 = cv2_store_x2,
    .ukr_direct = cv2_ukr_direct,
    .transpose = gg__cv2_transpose,
    .store_pair = gg__cv2_store_pair,
    .ukr_dots = gg__cv2_ukr_dots,
    .wf_inplace = gg__cv2_wf_inplace,
    .ukr_rows = cv2_ukr_rows,
};
#endif
