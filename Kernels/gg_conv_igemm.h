/*
 * gg_conv_igemm.h: what the implicit-GEMM driver (gg_conv_igemm.c) shares
 * with its per-ISA packers and micro-kernels (gg_conv_igemm_avx512.c,
 * gg_conv_igemm_avx2.c). Not public API.
 * A panel is CV_NR = 32 flattened output pixels on every ISA, so the load
 * plans (cv_op: which lanes a tap reads, as a 32-bit mask) are the same;
 * only the packing of a panel from those plans and the register tile that
 * multiplies it differ.
 */
#ifndef GG_CONV_IGEMM_H
#define GG_CONV_IGEMM_H

#include "gg_conv_internal.h"

#define CV_NR 32
#define CV_MR_MAX 8 /* the tallest packed A panel of any ISA */
#define CV_MAXTAPS 1024

/* A piece of one grid row inside a panel: lanes [pos, pos+len) are pixels (b, gy, gx ..). */
typedef struct cv_run { int32_t pos, len; int64_t b, gy, gx; } cv_run;

/* One load of a tap for a panel. Stride 1: lane l in lmask reads src_c-plane
 * element off + l. Stride 2: lanes in lmask read the window starting at off
 * (wmask: its elements inside the source) at 2*(l - first). */
typedef struct cv_op { int64_t off; uint32_t lmask, wmask; int32_t first, pad_; } cv_op;

/* One implicit GEMM: out(b, m, g) = sum_{cs, t} A(m, cs*T + t) * src(b, cs, gy*sg + ty[t], gx*sg + tx[t]). */
typedef struct cv_geo {
    const float *src;
    int64_t src_b, src_c, hs, ws, cs, sg;
    int64_t T;
    const int64_t *ty, *tx;
    int64_t nimg, gh, gw;
    float *out;
    int64_t out_b, out_m, out_y, out_x;
    int64_t M;
    const float *Ap; /* ceil(M/mr) panels of K x mr, K = cs*T */
    const float *src_end; /* src + nimg*src_b: loads inside [src, src_end) need no mask */
} cv_geo;

/* bwd_filter of a stride-1 "same" conv with few output channels, x read in
 * place: oc output channels, cs input channels of hw pixels, T taps at
 * offsets toff; units 16-lane pieces of an image, umask (units x 16) its
 * lanes inside the image, tmask (units x T x 16) those whose tap reads
 * inside the source. */
typedef struct cv_wfi {
    int64_t oc, cs, T, hw, units;
    const int64_t *toff;
    const uint32_t *umask, *tmask;
} cv_wfi;

/* The per-ISA half of the method.
 *   pack         B rows k = cs*T + t (cs in [0, G->cs)), 32 lanes each, row stride ldb,
 *                from the load plans: ops of tap t are [start[t], start[t+1]).
 *   ukr_packed   C (M rows) = A * B over K, A in packed panels of mr rows (panel i holds
 *                rows [i*mr, i*mr + mr): A(i*mr + r, k) = Ap[(i*K + k)*mr + r]).
 *   ukr_chunked  C (+)= A * B, A in nch chunks of 32 k: A(r, k) = A[ch*ach + r*32 + k].
 *                Both store lanes of segment s to segp[s] + r*ldm + lane under mask segm[s].
 *   store_x2     rows of a 32-lane tile, lanes [pos, pos+len), to d + r*ldm + 2*l.
 *   ukr_direct   (NULL where the ISA has none) a unit of du lanes of a stride-1
 *                conv whose grid rows continue the source rows: out (M rows)
 *                = A * B with B(c*T + t, l) = tmask[t*du + l] ? src[c*src_c + toff[t] + l] : 0,
 *                read in place; lanes under m stored to out + r*ldm + l.
 *   transpose    d[l*ldd + o] = src[o*lds + l] for o < rows, l < cols.
 *   store_pair   rows of two 32-lane tiles, lanes [pos, pos+len), interleaved:
 *                a to d + r*ldm + 2*l, b to d + r*ldm + 2*l + 1.
 *   ukr_dots     bwd_filter with few output channels: acc (oc x ckk, 8 lanes each)
 *                += dyp (npp panels: oc rows of 32 pixels) dotted with col (npp
 *                panels: ckk rows of 32 pixels), lane by lane, panels in order.
 *   wf_inplace   one image of a cv_wfi: acc (oc x cs*T, 8 lanes each) += dy
 *                rows dotted with the taps' masked shifts of x, units in order.
 *                AVX2's transpose, store_pair, ukr_dots and wf_inplace serve both ISAs. */
typedef struct cv_isa {
    int mr, du;
    int64_t direct_m; /* the most output rows for which ukr_direct beats packing (K >= 64) */
    int unit_prefetch; /* cv_units prefetches the next unit's source lines */
    void (*pack)(float *Bp, int64_t ldb, const cv_op *ops, const int32_t *start, const cv_geo *G);
    void (*ukr_packed)(int64_t M, int64_t K, const float *Ap, const float *Bp, int64_t ldb, float *const *segp,
                       const uint32_t *segm, int nseg, int64_t ldm);
    void (*ukr_chunked)(int rows, int64_t nch, const float *A, int64_t ach, const float *Bp, int64_t ldb,
                        float *const *segp, const uint32_t *segm, int nseg, int64_t ldm, int acc_in);
    void (*store_x2)(const float *tile, int rows, int32_t pos, int32_t len, float *d, int64_t ldm);
    void (*ukr_direct)(int64_t M, int64_t cs, int64_t T, const float *Ap, const float *src, int64_t src_c,
                       const int64_t *toff, const float *tmask, float *out, uint32_t m, int64_t ldm);
    void (*transpose)(float *d, int64_t ldd, const float *src, int64_t lds, int64_t rows, int64_t cols);
    void (*store_pair)(const float *a, const float *b, int64_t rows, int32_t pos, int32_t len, float *d, int64_t ldm);
    void (*ukr_dots)(int64_t oc, int64_t ckk, int64_t npp, const float *col, const float *dyp, float *acc);
    void (*wf_inplace)(const cv_wfi *W, const float *xb, const float *dyb, float *acc);
    /* A's rows read where they are: chunk ch, row r, k at arow[r][ch * ach + k * aks]; B k-major (ldb),
     * one 32-lane panel stored to out (rows ldm apart) under lane mask m, added to it with acc_in.
     * NULL: bwd_filter packs col instead (cv_wf_padded). */
    void (*ukr_rows)(int rows, int64_t nch, int64_t K, const float *const *arow, int64_t aks, int64_t ach,
                     const float *Bp, int64_t ldb, float *out, uint32_t m, int64_t ldm, int acc_in);
    /* B rows k = c*T + t (32 lanes, stride CV_NR) of the du-lane unit at pixel q0 (len lanes) of an
     * image of G, whose planes start at src (tap t of lane l at src + c*src_c + toff[t] + l): lanes
     * whose tap falls outside the image, and lanes past len, are zero. Lanes l >= split are pixels
     * l - split of the next image, read delta further on (split >= len: one image). Where
     * ukr_direct does not pay (more than direct_m rows) the units are packed this way instead of
     * from load plans. NULL: such units take ukr_direct whatever M is. */
    void (*pack_unit)(float *Bp, const cv_geo *G, const float *src, int64_t q0, int64_t len, int64_t split,
                      int64_t delta, const int64_t *toff);
    /* C (G[0].M > mr rows, A at G[0].Ap) = A * B of a unit whose B rows are those pack_unit packs for
     * G[0], then G[1] .. G[n - 1] (src[q], delta[q], toff[q] as pack_unit takes them), packed into Bp
     * while the first row tile runs; C's lanes of segment s go to segp[s] + r*ldm under segm[s].
     * NULL where pack_unit is. */
    void (*ukr_unit)(const cv_geo *G, int n, const float *const *src, int64_t q0, int64_t len, int64_t split,
                     const int64_t *delta, const int64_t *const *toff, float *Bp, float *const *segp,
                     const uint32_t *segm, int nseg, int64_t ldm);
    /* even[q] = row[2q], odd[q] = row[2q + 1] for q < half: x's rows into its phase planes (cv_fph).
     * NULL where pack_unit is. */
    void (*split_row)(float *even, float *odd, const float *row, int64_t half);
} cv_isa;

#if GG__X86
extern const cv_isa gg__cv_avx512, gg__cv_avx2;
void gg__cv2_transpose(float *d, int64_t ldd, const float *src, int64_t lds, int64_t rows, int64_t cols);
void gg__cv2_store_pair(const float *a, const float *b, int64_t rows, int32_t pos, int32_t len, float *d, int64_t ldm);
void gg__cv2_ukr_dots(int64_t oc, int64_t ckk, int64_t npp, const float *col, const float *dyp, float *acc);
void gg__cv2_wf_inplace(const cv_wfi *W, const float *xb, const float *dyb, float *acc);
#endif

#endif /* GG_CONV_IGEMM_H */
