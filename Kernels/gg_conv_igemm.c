/*
 * gg_conv_igemm.c: the implicit-GEMM method of the convolution kernels
 * (AVX2 or AVX-512, stride <= 2, layers with enough channels; gg_conv.c
 * sends the other shapes to gg_conv_im2col.c). This file is the ISA-neutral
 * driver; the packers and micro-kernels are in gg_conv_igemm_avx512.c
 * (8 x 32 tile) and gg_conv_igemm_avx2.c (6 x 16 tile, twice per panel).
 * The lowered matrix is never materialised whole. Output pixels (of all
 * images, flattened) are cut into panels of CV_NR = 32; for each panel the
 * packer builds its B panel (K x 32, one row per (channel, tap)) straight
 * from the image from load plans (cv_op: lanes and offsets), and a
 * register-blocked micro-kernel multiplies the pre-packed weights (mr-row
 * panels, k-major) by it, storing straight into the NCHW output.
 * Panels may straddle images, so small images (7x7) waste no lanes. Every
 * output element is one micro-kernel sum over the full K, in k order, so the
 * way panels are split over threads changes no bit.
 *   forward      out[b][o][oy][ox], K = c*kh*kw, taps (ki - pad, kj - pad),
 *                source x read at (oy*stride + ty, ox*stride + tx); a stride-2
 *                layer with even sizes reads x through a copy split into its
 *                four phase planes instead (cv_fph), where each tap is a shift.
 *   bwd_data     split by output phase (iy mod stride, ix mod stride): each
 *                phase is a stride-1 correlation of dy with the taps of w
 *                that reach it (sub-pixel decomposition of the transposed
 *                conv): no col2im, no scatter-add, every dx element written once.
 *   bwd_filter   dw^T (c*kh*kw, oc) = col (c*kh*kw, P) * dy^T (P, oc) over
 *                blocks of P pixels: the packer writes col for the block in
 *                32-pixel panels (the A side, read in place), dy is transposed
 *                into the B side; images are summed in fixed chunks. Where an
 *                image fits in L2, col's rows are read straight from x copied
 *                into zero-padded planes instead (cv_wf_padded): no packing.
 * Threads split output panels (forward, bwd_data) or fixed image chunks
 * (bwd_filter); the epilogue runs per group of panels (forward) or per
 * thread share once the phases meet (bwd_data), its reductions per image
 * either way (gg_conv_epilogue.c).
 */
#include "gg_conv_igemm.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if GG__X86
#include <immintrin.h>
#endif

#ifndef CV_WF_FLOATS
#define CV_WF_FLOATS (1 << 17) /* bwd_filter: floats of the col block */
#endif

static inline int64_t cv_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Runs of the panel [g0, g1) of flattened grid pixels (each a piece of one grid row). */
static int cv_runs(cv_run *r, int64_t g0, int64_t g1, int64_t gh, int64_t gw, int64_t maxlen) {
    int n = 0;
    const int64_t ghw = gh * gw;
    for (int64_t g = g0; g < g1;) {
        const int64_t b = g / ghw, q = g - b * ghw, gy = q / gw, gx = q - gy * gw;
        const int64_t len = conv_min(conv_min(gw - gx, g1 - g), maxlen);
        r[n].pos = (int32_t)(g - g0);
        r[n].len = (int32_t)len;
        r[n].b = b;
        r[n].gy = gy;
        r[n].gx = gx;
        n++;
        g += len;
    }
    return n;
}

/* Load ops of every tap for these runs; ops of tap t are [start[t], start[t+1]). */
static void cv_ops(cv_op *ops, int32_t *start, const cv_run *r, int nr, const cv_geo *G) {
    int n = 0;
    const int64_t S = G->sg;
    for (int64_t t = 0; t < G->T; t++) {
        start[t] = n;
        for (int i = 0; i < nr; i++) {
            const int64_t iy = r[i].gy * S + G->ty[t];
            if (iy < 0 || iy >= G->hs) continue;
            const int64_t a = r[i].gx * S + G->tx[t]; /* ix of the run's first pixel */
            int64_t lo = a >= 0 ? 0 : (-a + S - 1) / S;
            int64_t hi = G->ws - 1 - a < 0 ? 0 : (G->ws - 1 - a) / S + 1;
            if (hi > r[i].len) hi = r[i].len;
            if (lo >= hi) continue;
            const uint64_t bits = ((1ull << (hi - lo)) - 1) << (r[i].pos + lo);
            cv_op *o = &ops[n++];
            o->lmask = (uint32_t)bits;
            const int64_t row = r[i].b * G->src_b + iy * G->ws;
            if (S == 1) {
                o->off = row + a - r[i].pos; /* lane l reads off + l */
                o->first = 0;
                o->wmask = 0;
                /* Grid rows as wide as the source rows (a 7x7 bwd_data phase,
                 * "same" convs) continue one window: one load covers them. */
                if (n - 1 > start[t] && ops[n - 2].off == o->off) {
                    ops[n - 2].lmask |= o->lmask;
                    n--;
                }
            } else { /* lanes [pos+lo, pos+hi) read row[a + S*(lane - pos)]: window from the first */
                const int64_t span = S * (hi - lo - 1) + 1;
                o->off = row + a + S * lo;
                o->first = (int32_t)(r[i].pos + lo);
                o->wmask = span >= 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << span) - 1);
            }
        }
    }
    start[G->T] = n;
}

#if GG__X86
/* Prefetches the source lines the panel of grid pixels [g0, g1) will read:
 * the packer's loads are scattered over channels and rows, which the
 * hardware prefetchers miss; issued one panel ahead, they overlap the
 * micro-kernels of the current one. */
static void cv_prefetch(const cv_geo *G, int64_t g0, int64_t g1, cv_run *tmp) {
    int64_t ty0 = 0, ty1 = 0, tx0 = 0, tx1 = 0;
    for (int64_t t = 0; t < G->T; t++) {
        if (t == 0 || G->ty[t] < ty0) ty0 = G->ty[t];
        if (t == 0 || G->ty[t] > ty1) ty1 = G->ty[t];
        if (t == 0 || G->tx[t] < tx0) tx0 = G->tx[t];
        if (t == 0 || G->tx[t] > tx1) tx1 = G->tx[t];
    }
    const int nr = cv_runs(tmp, g0, g1, G->gh, G->gw, CV_NR);
    for (int i = 0; i < nr; i++) {
        const int64_t ya = conv_max(0, tmp[i].gy * G->sg + ty0), yb = conv_min(G->hs - 1, tmp[i].gy * G->sg + ty1);
        const int64_t xa = conv_max(0, tmp[i].gx * G->sg + tx0);
        const int64_t xb = conv_min(G->ws - 1, (tmp[i].gx + tmp[i].len - 1) * G->sg + tx1);
        if (ya > yb || xa > xb) continue;
        const float *base = G->src + tmp[i].b * G->src_b;
        for (int64_t c = 0; c < G->cs; c++)
            for (int64_t y = ya; y <= yb; y++) {
                const char *r = (const char *)(base + c * G->src_c + y * G->ws);
                for (int64_t x = xa * 4 & ~(int64_t)63; x <= xb * 4; x += 64) _mm_prefetch(r + x, _MM_HINT_T0);
            }
    }
}

/* One packed panel: grid pixels [g0, g1), at most 32. Scratch: Bp (K x 32), ops, start, runs. */
static void cv_panel(const cv_isa *I, const cv_geo *G, int64_t g0, int64_t g1, float *Bp, cv_op *ops, int32_t *start,
                     cv_run *runs) {
    const int64_t K = G->cs * G->T, ghw = G->gh * G->gw;
    const int dense = G->out_x == 1 && G->out_y == G->gw;
    float tile[CV_MR_MAX * CV_NR] __attribute__((aligned(64)));
    float *segp[CV_NR + 1];
    uint32_t segm[CV_NR + 1];
    const int nr = cv_runs(runs, g0, g1, G->gh, G->gw, G->sg == 1 ? CV_NR : 32 / G->sg);
    cv_ops(ops, start, runs, nr, G);
    I->pack(Bp, CV_NR, ops, start, G);
    if (dense) { /* one segment per image: its pixels are contiguous in out */
        int nseg = 0;
        for (int64_t g = g0; g < g1;) {
            const int64_t b = g / ghw, q = g - b * ghw, e = conv_min(g1, (b + 1) * ghw);
            const int64_t l0 = g - g0, l1 = e - g0;
            segp[nseg] = G->out + b * G->out_b + q - l0;
            segm[nseg] = (uint32_t)(((1ull << (l1 - l0)) - 1) << l0);
            nseg++;
            g = e;
        }
        I->ukr_packed(G->M, K, G->Ap, Bp, CV_NR, segp, segm, nseg, G->out_m);
        return;
    }
    for (int64_t m0 = 0; m0 < G->M; m0 += I->mr) {
        const int64_t rows = conv_min(I->mr, G->M - m0);
        float *tp = tile;
        const uint32_t all = 0xFFFFFFFFu;
        I->ukr_packed(rows, K, G->Ap + m0 * K, Bp, CV_NR, &tp, &all, 1, CV_NR);
        for (int i = 0; i < nr; i++) {
            float *d = G->out + runs[i].b * G->out_b + m0 * G->out_m + runs[i].gy * G->out_y + runs[i].gx * G->out_x;
            if (G->out_x == 2) {
                I->store_x2(tile, (int)rows, runs[i].pos, runs[i].len, d, G->out_m);
                continue;
            }
            for (int r = 0; r < rows; r++)
                for (int32_t l = 0; l < runs[i].len; l++) d[r * G->out_m + l * G->out_x] = tile[r * CV_NR + runs[i].pos + l];
        }
    }
}

/* Do units of `unit` lanes inside images of hw pixels waste few enough lanes for
 * the in-place path, with M output rows? Such units stay inside an image, so
 * they pay in empty lanes what they save in packing: measured on AVX2 (one
 * thread), full units (28x28) gain 17% at M = 32; 14x14 (94% of lanes)
 * gains 11% at M = 32 and loses 5% at M = 64, where a packed panel serves
 * twice the rows. */
static int cv_fill_ok(int64_t hw, int64_t M, int64_t unit) {
    const int64_t lanes = cv_cdiv(hw, unit) * unit;
    return 100 * hw >= 99 * lanes || (M <= 32 && 8 * hw >= 7 * lanes);
}

/* Are G's units (cv_units) read in place (ukr_direct), or packed (pack_unit)
 * where the ISA packs faster than it reads in place: more than direct_m rows
 * and a K that amortises packing. */
static int cv_unit_direct(const cv_isa *I, const cv_geo *G) {
    return !I->pack_unit || G->M <= I->direct_m || G->cs * G->T < 64;
}

/* Do G's units run on from one image into the next? Packed ones of images of
 * at least a unit (so a unit meets at most two), planes no larger apart than
 * an image's grid. */
static int cv_units_straddle(const cv_isa *I, const cv_geo *G) {
    const int64_t ghw = G->gh * G->gw;
    return !cv_unit_direct(I, G) && ghw >= I->du && G->src_b >= ghw;
}

/* Can G's B rows come in units (cv_units)? Stride 1, grid rows that
 * continue the source rows (so a tap is one shift of the flattened plane), a
 * dense output, and units that fill: read in place, units stop at each
 * image's end; packed, they run on into the next image and always fill.
 * Packed units against load-plan panels, AVX-512, two threads: the
 * classifier's and ddpm's 3x3 layers at 7x7 and 14x14 with 64 rows 9-12%
 * faster, ddpm's at 28x28 2-5%; a 64 -> 64 layer at 28x28 (not in the zoo)
 * 5% slower, where the panels' prefetch pays. */
static int cv_units_ok(const cv_isa *I, const cv_geo *G) {
    return I->ukr_direct && G->sg == 1 && G->gw == G->ws && G->out_x == 1 && G->out_y == G->gw &&
           (cv_fill_ok(G->gh * G->gw, G->M, I->du) || cv_units_straddle(I, G));
}

/* toff[t]: tap t of G as a shift of the flattened source plane (G's grid
 * rows continue the source rows). */
static void cv_tap_offsets(const cv_geo *G, int64_t *toff) {
    for (int64_t t = 0; t < G->T; t++) toff[t] = G->ty[t] * G->ws + G->tx[t];
}

/* cv_tap_offsets, and the lowest and highest of them (G has a tap). */
static void cv_tap_span(const cv_geo *G, int64_t *toff, int64_t *omin, int64_t *omax) {
    cv_tap_offsets(G, toff);
    *omin = *omax = toff[0];
    for (int64_t t = 1; t < G->T; t++) {
        *omin = conv_min(*omin, toff[t]);
        *omax = conv_max(*omax, toff[t]);
    }
}

/* Whether a unit of `lanes` lanes stays inside G's source: its first lane
 * reads source offset `first`, its last image's first lane `last` (first
 * again unless it runs on into the next image), its taps span [omin, omax],
 * and G->src lies `at` floats into the source, which ends after nimg images. */
static int cv_unit_inside(const cv_geo *G, int64_t at, int64_t first, int64_t last, int64_t omin, int64_t omax,
                          int64_t lanes) {
    return at + first + omin >= 0 && at + last + (G->cs - 1) * G->src_c + omax + lanes <= G->nimg * G->src_b;
}

/* tmask[t*du + l]: all ones where lane l < len of the du-lane unit at pixel q0 of
 * an image reads tap t inside the source (G's taps are shifts of the plane). */
static void cv_tap_masks(const cv_geo *G, int64_t q0, int64_t len, int64_t du, uint32_t *tmask) {
    for (int64_t l = 0; l < du; l++) {
        const int64_t q = q0 + l, gy = q / G->gw, gx = q - gy * G->gw;
        for (int64_t t = 0; t < G->T; t++) {
            const int64_t iy = gy + G->ty[t], ix = gx + G->tx[t];
            tmask[t * du + l] = l < len && iy >= 0 && iy < G->hs && ix >= 0 && ix < G->ws ? 0xFFFFFFFFu : 0;
        }
    }
}

/* Grid pixels [lo, hi) in units of I->du lanes, B read in place or packed by
 * pack_unit (cv_unit_direct). Units read in place stay inside one image;
 * packed units of images of at least du pixels run on into the next image,
 * whose lanes pack_unit loads from their own plane and the micro-kernel
 * stores as a second segment, so no lane is left empty (the classifier's
 * 14x14 data gradient had left 1/8 of them so). A unit whose masked lanes
 * would read outside the source (the first and last rows of the whole
 * tensor) takes a panel from load plans instead: the same sums in the same
 * order, so the same bits. Scratch: Bp holds the tap masks or the unit's B. */
static void cv_units(const cv_isa *I, const cv_geo *G, int64_t lo, int64_t hi, int64_t pf_end, float *Bp, cv_op *ops,
                     int32_t *start, cv_run *runs) {
    const int64_t ghw = G->gh * G->gw, total = G->nimg * ghw;
    int64_t toff[CV_MAXTAPS];
    int64_t omin, omax;
    cv_tap_span(G, toff, &omin, &omax);
    uint32_t *tmask = (uint32_t *)Bp;
    const int direct = cv_unit_direct(I, G), straddle = cv_units_straddle(I, G);
    const int64_t src_next = G->src_b - ghw, out_next = G->out_b - ghw; /* lane l of the next image: l - split */
    for (int64_t g0 = lo; g0 < hi;) {
        const int64_t b = g0 / ghw, q0 = g0 - b * ghw, split = (b + 1) * ghw - g0;
        const int64_t g1 = conv_min(hi, g0 + (straddle ? I->du : conv_min(I->du, split)));
        if (I->unit_prefetch && g1 < pf_end) cv_prefetch(G, g1, conv_min(conv_min(total, pf_end), g1 + I->du), runs);
        const int64_t first = b * G->src_b + q0, last = g1 - g0 > split ? first + src_next : first;
        if (!cv_unit_inside(G, 0, first, last, omin, omax, I->du)) {
            cv_panel(I, G, g0, g1, Bp, ops, start, runs);
            g0 = g1;
            continue;
        }
        float *out = G->out + b * G->out_b + q0;
        const uint32_t m = (uint32_t)((1ull << (g1 - g0)) - 1);
        if (direct) {
            cv_tap_masks(G, q0, g1 - g0, I->du, tmask);
            I->ukr_direct(G->M, G->cs, G->T, G->Ap, G->src + first, G->src_c, toff, (const float *)tmask, out, m,
                          G->out_m);
        } else {
            const int two = g1 - g0 > split;
            float *segp[2] = {out, out + out_next};
            const uint32_t low = two ? (uint32_t)((1ull << split) - 1) : m, segm[2] = {low, m & ~low};
            if (G->M > I->mr) {
                const float *src = G->src + first;
                const int64_t delta = two ? src_next : 0, *offs = toff;
                I->ukr_unit(G, 1, &src, q0, g1 - g0, split, &delta, &offs, Bp, segp, segm, 1 + two, G->out_m);
            } else {
                I->pack_unit(Bp, G, G->src + first, q0, g1 - g0, split, two ? src_next : 0, toff);
                I->ukr_packed(G->M, G->cs * G->T, G->Ap, Bp, CV_NR, segp, segm, 1 + two, G->out_m);
            }
        }
        g0 = g1;
    }
}

/* Grid pixels [lo, hi) of geometry G in panels of 32 from lo (or direct
 * units), prefetching the next panel while it starts below pf_end.
 * Scratch: Bp (K x 32), ops, start, runs. */
static void cv_panels(const cv_isa *I, const cv_geo *G, int64_t lo, int64_t hi, int64_t pf_end, float *Bp, cv_op *ops,
                      int32_t *start, cv_run *runs) {
    if (cv_units_ok(I, G)) {
        cv_units(I, G, lo, hi, pf_end, Bp, ops, start, runs);
        return;
    }
    const int64_t total = G->nimg * G->gh * G->gw;
    for (int64_t g0 = lo; g0 < hi; g0 += CV_NR) {
        const int64_t g1 = conv_min(hi, g0 + CV_NR);
        if (g1 < pf_end) cv_prefetch(G, g1, conv_min(conv_min(total, pf_end), g1 + CV_NR), runs);
        cv_panel(I, G, g0, g1, Bp, ops, start, runs);
    }
}
#endif

/* The packer and micro-kernels for ctx's ISA; NULL on the portable path. */
static const cv_isa *cv_isa_for(const gg_ctx *ctx) {
#if GG__X86
    switch (gg_ctx_isa(ctx)) {
    case GG_ISA_AVX512: return &gg__cv_avx512;
    case GG_ISA_AVX2: return &gg__cv_avx2;
    default: return 0;
    }
#else
    (void)ctx;
    return 0;
#endif
}

/* Can the implicit GEMM run this shape? (AVX2 or AVX-512, stride <= 2, tap tables fit) */
static int cv_ok(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    return cv_isa_for(ctx) != 0 && s->kh * s->kw <= CV_MAXTAPS && s->stride <= 2;
}

/* Rows of packed A for M output rows: ceil(M/mr)*mr for every ISA's mr. */
static int64_t cv_rows_bound(int64_t M) { return M + CV_MR_MAX - 1; }

/* bwd_filter with fewer output channels than a 16-lane half of the GEMM
 * tile, or a K too short to amortise packing, takes lane dot products over
 * the pixels instead (ukr_dots): the GEMM would waste 15/16 of its lanes on
 * realnvp's 32 -> 2 layer. */
static int cv_wf_dots(const gg_conv2d_shape *s) { return s->oc < 16 || s->c * s->kh * s->kw < 64; }

/* ... and of a stride-1 "same" conv whose units fill, reads x in place
 * (wf_inplace) rather than packing col, which the dots would read once:
 * realnvp's 32 -> 2 and 2 -> 32 weight gradients 3x and 1.6x faster. The
 * only way in for K < 64 (cv_use_bwd_filter). */
static int cv_wf_in_place(const gg_conv2d_shape *s) {
    return cv_wf_dots(s) && s->stride == 1 && s->oh == s->h && s->ow == s->w && cv_fill_ok(s->h * s->w, s->oc, 16);
}

/* Which kernels take the implicit GEMM. Its packed path wants >= 8 output
 * rows (oc forward, c for bwd_data, c*kh*kw for bwd_filter) and a K long
 * enough (>= 64) to amortise packing; thin layers (one input channel, K
 * below 64, e.g. 1x1 32 -> 32) measured as fast or faster on the small-K
 * and per-image paths, except with few output channels (oc < 8), where
 * the per-image GEMMs have 1-7 rows (forward) or lower a huge col for
 * col2im (bwd_data): realnvp's 32 -> 2 layer ran at 3-7% of one core's
 * FMA peak there. Those layers take the in-place path when it applies
 * (stride 1, "same", units that fill), which packs nothing: 22-34%. With
 * more output channels the per-image GEMMs win over it (2 -> 32: 43-46
 * against 24-35 GFLOP/s on one core). */
static int cv_in_place(const gg_ctx *ctx, const gg_conv2d_shape *s, int64_t M) {
    const cv_isa *I = cv_isa_for(ctx);
    return I && I->ukr_direct && s->stride == 1 && s->oh == s->h && s->ow == s->w && cv_fill_ok(s->h * s->w, M, I->du);
}
static int cv_use_fwd(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    return cv_ok(ctx, s) &&
           ((s->oc >= 8 && s->c >= 2 && s->c * s->kh * s->kw >= 64) || (s->oc < 8 && cv_in_place(ctx, s, s->oc)));
}
static int cv_use_bwd_data(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    const int64_t tmax = cv_cdiv(s->kh, s->stride) * cv_cdiv(s->kw, s->stride);
    return cv_ok(ctx, s) && ((s->c >= 8 && s->oc * tmax >= 64) || (s->oc < 8 && cv_in_place(ctx, s, s->c)));
}
static int cv_use_bwd_filter(const gg_ctx *ctx, const gg_conv2d_shape *s) {
    return cv_ok(ctx, s) && (s->c * s->kh * s->kw >= 64 || cv_wf_in_place(s));
}

/* Per-thread scratch of the panel loop for K rows, T taps (floats). */
static int64_t cv_slot_floats(int64_t K, int64_t T) {
    const int64_t ops = T * (CV_NR + 1) * (int64_t)sizeof(cv_op), start = (T + 1) * 4, runs = (CV_NR + 1) * (int64_t)sizeof(cv_run);
    return conv_round(K * CV_NR) + conv_round((ops + start + runs + 3) / 4) + CONV_ALIGN;
}
static void cv_slot_ptrs(float *base, int64_t K, int64_t T, float **Bp, cv_op **ops, int32_t **start, cv_run **runs) {
    *Bp = base;
    char *q = (char *)(base + conv_round(K * CV_NR));
    *ops = (cv_op *)q;
    q += T * (CV_NR + 1) * sizeof(cv_op);
    *runs = (cv_run *)q;
    q += (CV_NR + 1) * sizeof(cv_run);
    *start = (int32_t *)q;
}

/* Does the forward read a stride-2 layer through x's phase planes
 * (cv_fph)? Packed units (more than direct_m output rows) of images of at
 * least a unit, even sizes and an output half the input's: every tap is then
 * a shift of one phase plane as wide as the output. */
static int cv_fwd_phased(const gg_ctx *ctx, const gg_conv2d_shape *s) {
#if GG__X86
    const cv_isa *I = cv_isa_for(ctx);
    return I && I->pack_unit && I->split_row && s->stride == 2 && s->h % 2 == 0 && s->w % 2 == 0 && 2 * s->oh == s->h &&
           2 * s->ow == s->w && s->oh * s->ow >= CV_NR && s->oc > I->direct_m;
#else
    (void)ctx;
    (void)s;
    return 0;
#endif
}

/* Scratch of the implicit-GEMM forward for t threads: packed w, the threads'
 * slots, and (phased) x's phase planes. */
static int64_t cv_fwd_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s, int t) {
    const int64_t ckk = s->c * s->kh * s->kw, T = s->kh * s->kw;
    const int64_t planes = cv_fwd_phased(ctx, s) ? conv_round(s->n * s->c * s->h * s->w) : 0;
    return conv_round(cv_rows_bound(s->oc) * ckk) + t * cv_slot_floats(ckk, T) + planes;
}
/* bwd_data, stride 2: per thread, two c x 32 tiles for a pair of phases (cv_panel_pair). */
static int64_t cv_pair_floats(const gg_conv2d_shape *s) { return s->stride == 2 ? 2 * conv_round(s->c * CV_NR) : 0; }

/* bwd_data's taps per B panel: a phase's, or (stride 2) a pair's union,
 * whose column offsets span at most one more than a phase's (cv_pack_union). */
static int64_t cv_bwd_data_taps(const gg_conv2d_shape *s) {
    const int64_t S = s->stride;
    return conv_max(1, cv_cdiv(s->kh, S) * (cv_cdiv(s->kw, S) + (S == 2)));
}

/* Per-thread slot of bwd_data: the panel loop's scratch, then cv_pair_floats. */
static int64_t cv_bwd_data_slot(const gg_conv2d_shape *s) {
    const int64_t tu = cv_bwd_data_taps(s);
    return cv_slot_floats(s->oc * tu, tu) + cv_pair_floats(s);
}

static int64_t cv_bwd_data_scratch(const gg_conv2d_shape *s, int t) {
    /* every tap lands in exactly one phase: packed A of all phases <= rows * oc*kh*kw + slack */
    const int64_t S = s->stride, T = s->kh * s->kw;
    return conv_round(cv_rows_bound(s->c) * s->oc * T) + S * S * CONV_ALIGN + t * cv_bwd_data_slot(s);
}

/* bwd_filter: pixels per block (a multiple of 32) so that the col block stays near 512 KiB. */
static int64_t cv_wf_kb(const gg_conv2d_shape *s) {
    const int64_t ckk = s->c * s->kh * s->kw;
    int64_t kb = (int64_t)CV_WF_FLOATS / ckk / CV_NR * CV_NR;
    return conv_max(CV_NR, conv_min(kb, 1024));
}
/* bwd_filter's padded path (an ISA with ukr_rows): pad below the kernel, not
 * the dots. Each image's x is copied once into zero-padded planes of pitch
 * wp = w + pad (a row's right pad is the next row's left pad: a tap past a
 * row's end reads the next row's left pad, zero as it should be), so col row
 * (c, ki, kj) at output pixel (oy, ox) is plane c at
 * (oy * stride + ki) * wp + ox * stride + kj: the micro-kernel reads col's rows
 * where they are, one output row (ow pixels, stride apart) per chunk, and
 * nothing is packed. Packing col had been a fifth of a 32-channel weight
 * gradient (each col value feeds only oc FMAs). Taken when an image's planes
 * and dy^T stay in L2 (CV_WF_FLOATS). */
static int64_t cv_wf_pitch(const gg_conv2d_shape *s) { return s->w + s->pad; }
/* oc rounded up to whole 32-lane panels: the width of dy^T and dw^T. */
static int64_t cv_wf_ocp(const gg_conv2d_shape *s) { return cv_cdiv(s->oc, CV_NR) * CV_NR; }
static int64_t cv_wf_plane(const gg_conv2d_shape *s) { return (s->h + 2 * s->pad + 1) * cv_wf_pitch(s); }
static int cv_wf_padded(const gg_conv2d_shape *s) {
    const int64_t ocp = cv_wf_ocp(s);
    return !cv_wf_dots(s) && s->pad < s->kh && s->pad < s->kw &&
           s->c * cv_wf_plane(s) + s->oh * s->ow * ocp <= CV_WF_FLOATS;
}

/* Per-thread slot: col block, dy^T block (or dy rows), dw^T (or the dots'
 * lane sums), load plans; in place: the lane sums and the units' masks; padded
 * (when the ISA has no ukr_rows the packed path runs instead: room for both). */
static int64_t cv_wf_slot(const gg_conv2d_shape *s) {
    const int64_t ckk = s->c * s->kh * s->kw, kb = cv_wf_kb(s), ocp = cv_wf_ocp(s);
    const int64_t T = s->kh * s->kw;
    if (cv_wf_in_place(s)) return conv_round(s->oc * ckk * 8) + conv_round(cv_cdiv(s->h * s->w, 16) * (T + 1) * 16);
    const int64_t out = cv_wf_dots(s) ? s->oc * ckk * 8 : ckk * ocp;
    const int64_t packed = conv_round(ckk * kb) + conv_round(kb * ocp) + conv_round(out) + cv_slot_floats(0, T);
    if (!cv_wf_padded(s)) return packed;
    const int64_t padded = conv_round(s->c * cv_wf_plane(s)) + conv_round(s->oh * s->ow * ocp);
    return conv_max(packed, padded);
}

/* dwp[i] = the sum of acc's 8 lanes of i, pairwise in a fixed order. */
static void cv_lane_sums(float *dwp, const float *acc, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float *v = acc + i * 8;
        dwp[i] = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
    }
}

/* Images [b0, b1) -> dwp (oc, ckk), their sum, x read in place (cv_wf_in_place). */
static void cv_wf_chunk_in_place(const cv_isa *I, const cv_geo *G, float *slot, float *dwp, const float *dy, int64_t b0,
                                 int64_t b1, const gg_conv2d_shape *s) {
    const int64_t T = s->kh * s->kw, hw = s->h * s->w, ckk = s->c * T, units = cv_cdiv(hw, 16);
    int64_t toff[CV_MAXTAPS];
    cv_tap_offsets(G, toff);
    float *acc = slot;
    uint32_t *umask = (uint32_t *)(acc + conv_round(s->oc * ckk * 8)), *tmask = umask + units * 16;
    for (int64_t u = 0; u < units; u++) {
        const int64_t len = conv_min(16, hw - u * 16);
        for (int64_t l = 0; l < 16; l++) umask[u * 16 + l] = l < len ? 0xFFFFFFFFu : 0;
        cv_tap_masks(G, u * 16, len, 16, tmask + u * T * 16);
    }
    const cv_wfi W = {s->oc, s->c, T, hw, units, toff, umask, tmask};
    memset(acc, 0, (size_t)(s->oc * ckk * 8) * sizeof(float));
    for (int64_t b = b0; b < b1; b++) I->wf_inplace(&W, G->src + b * G->src_b, dy + b * s->oc * hw, acc);
    cv_lane_sums(dwp, acc, s->oc * ckk);
}

/* The padded path's chunks leave dw^T (ckk, ocp) in partials of their own. */
static int64_t cv_wf_partial(const gg_conv2d_shape *s) {
    return conv_round(s->c * s->kh * s->kw * cv_wf_ocp(s));
}

static int64_t cv_bwd_filter_scratch(const gg_conv2d_shape *s, int t) {
    const int64_t chunks = conv_min(s->n, CONV_WCHUNKS);
    if (cv_wf_padded(s)) return t * cv_wf_slot(s) + chunks * cv_wf_partial(s);
    return t * cv_wf_slot(s) + (chunks > 1 ? (chunks - 1) * conv_round(s->oc * s->c * s->kh * s->kw) : 0);
}

#if GG__X86
static int cv_team(int t, int64_t units) { return t > 1 && units >= 2 * t ? t : 1; }

/* Panels per epilogue call: 8 x 32 pixels of every channel, still in L2. */
#define CV_EP_PANELS 8

/* A stride-2 forward read through x's phase planes: plane (py, px) of
 * channel c of image b holds x[b][c][2r + py][2s + px], and tap (ki, kj)
 * reads plane ((ki - pad) mod 2, (kj - pad) mod 2) at the shift
 * (floor((ki - pad) / 2), floor((kj - pad) / 2)) of the output pixel. Each
 * phase is then a stride-1 geometry whose grid rows continue its planes' rows,
 * packed by pack_unit (a masked load per 16 lanes) where the strided
 * geometry took a load, a permute and a blend per run of the output row.
 * B rows go phase by phase (rows koff[q] + c*T + t of phase q), and A's
 * columns follow them (korig). */
typedef struct cv_fph {
    int n;
    cv_geo g[4];
    int64_t koff[4];
    int64_t ty[CV_MAXTAPS], tx[CV_MAXTAPS], korig[CV_MAXTAPS]; /* korig: ki*kw + kj of each phase tap */
    const float *x;
    float *xp;
    const gg_conv2d_shape *s;
} cv_fph;

static void cv_make_fph(cv_fph *F, const cv_geo *G, const float *x, float *xp, const gg_conv2d_shape *s) {
    const int64_t hp = s->h / 2, wp = s->w / 2, plane = hp * wp;
    int64_t at = 0, k = 0;
    F->n = 0;
    F->x = x;
    F->xp = xp;
    F->s = s;
    for (int64_t py = 0; py < 2; py++)
        for (int64_t px = 0; px < 2; px++) {
            const int64_t t0 = at;
            for (int64_t ki = 0; ki < s->kh; ki++)
                for (int64_t kj = 0; kj < s->kw; kj++) {
                    const int64_t ey = ki - s->pad, ex = kj - s->pad;
                    if ((ey & 1) != py || (ex & 1) != px) continue;
                    F->ty[at] = (ey - py) / 2;
                    F->tx[at] = (ex - px) / 2;
                    F->korig[at++] = ki * s->kw + kj;
                }
            if (at == t0) continue;
            cv_geo P = *G;
            P.src = xp + (py * 2 + px) * plane;
            P.src_b = 4 * s->c * plane;
            P.src_c = 4 * plane;
            P.hs = hp;
            P.ws = wp;
            P.sg = 1;
            P.T = at - t0;
            P.ty = F->ty + t0;
            P.tx = F->tx + t0;
            P.src_end = xp + s->n * s->c * s->h * s->w;
            F->koff[F->n] = k;
            F->g[F->n++] = P;
            k += s->c * P.T;
        }
}

/* Images [b0, b1) of x into their phase planes (channel c's four planes in a row). */
static void cv_fph_split(const cv_isa *I, const cv_fph *F, int64_t b0, int64_t b1) {
    const gg_conv2d_shape *s = F->s;
    const int64_t hp = s->h / 2, wp = s->w / 2, plane = hp * wp;
    for (int64_t bc = b0 * s->c; bc < b1 * s->c; bc++) {
        const float *src = F->x + bc * s->h * s->w;
        float *d = F->xp + bc * 4 * plane;
        for (int64_t y = 0; y < s->h; y++) {
            float *e = d + (y & 1) * 2 * plane + (y >> 1) * wp;
            I->split_row(e, e + plane, src + y * s->w, wp);
        }
    }
}

/* Output pixels [lo, hi) of G in 32-lane units that run on into the next
 * image: every phase's B rows packed as units while the first row tile
 * multiplies them (ukr_unit) or, where some phase's lanes would read outside
 * the planes, all from load plans. */
static void cv_fph_units(const cv_isa *I, const cv_fph *F, const cv_geo *G, int64_t lo, int64_t hi, float *Bp,
                         cv_op *ops, int32_t *start, cv_run *runs) {
    const int64_t ghw = G->gh * G->gw, out_next = G->out_b - ghw;
    int64_t toff[4][CV_MAXTAPS], omin[4], omax[4];
    const int64_t *offs[4];
    for (int q = 0; q < F->n; q++) {
        cv_tap_span(&F->g[q], toff[q], &omin[q], &omax[q]);
        offs[q] = toff[q];
    }
    for (int64_t g0 = lo; g0 < hi;) {
        const int64_t b = g0 / ghw, q0 = g0 - b * ghw, split = (b + 1) * ghw - g0;
        const int64_t g1 = conv_min(hi, g0 + CV_NR), len = g1 - g0;
        const int two = len > split;
        const float *src[4];
        int64_t delta[4];
        int units = 1;
        for (int q = 0; q < F->n; q++) {
            const cv_geo *P = &F->g[q];
            /* offsets from the first plane of x's copy, whose end bounds every phase */
            const int64_t at = P->src - F->xp, first = b * P->src_b + q0, last = two ? first + P->src_b - ghw : first;
            units &= cv_unit_inside(P, at, first, last, omin[q], omax[q], CV_NR);
            src[q] = P->src + first;
            delta[q] = two ? P->src_b - ghw : 0;
        }
        float *out = G->out + b * G->out_b + q0;
        const uint32_t m = (uint32_t)((1ull << len) - 1), low = two ? (uint32_t)((1ull << split) - 1) : m;
        float *segp[2] = {out, out + out_next};
        const uint32_t segm[2] = {low, m & ~low};
        if (units && G->M > I->mr) {
            I->ukr_unit(F->g, F->n, src, q0, len, split, delta, offs, Bp, segp, segm, 1 + two, G->out_m);
            g0 = g1;
            continue;
        }
        const int nr = cv_runs(runs, g0, g1, G->gh, G->gw, CV_NR);
        for (int q = 0; q < F->n; q++) {
            float *Bq = Bp + F->koff[q] * CV_NR;
            if (units) {
                I->pack_unit(Bq, &F->g[q], src[q], q0, len, split, delta[q], offs[q]);
                continue;
            }
            cv_ops(ops, start, runs, nr, &F->g[q]);
            I->pack(Bq, CV_NR, ops, start, &F->g[q]);
        }
        I->ukr_packed(G->M, G->cs * G->T, G->Ap, Bp, CV_NR, segp, segm, 1 + two, G->out_m);
        g0 = g1;
    }
}

/* Output pixels [lo, hi) of the forward: phase units or panels. */
static void cv_fwd_pixels(const cv_isa *I, const cv_fph *F, const cv_geo *G, int64_t lo, int64_t hi, float *Bp,
                          cv_op *ops, int32_t *start, cv_run *runs) {
    if (F) cv_fph_units(I, F, G, lo, hi, Bp, ops, start, runs);
    else cv_panels(I, G, lo, hi, hi, Bp, ops, start, runs);
}

/* Thread id of nt: its share of the packed w, a barrier, then its even share
 * of the panels, each group of CV_EP_PANELS followed by the epilogue. With
 * reductions in the epilogue (summed per image) the shares are whole images,
 * and after each group the epilogue runs on the images it completed. */
static void cv_fwd_body(const cv_isa *I, const cv_geo *G, const cv_fph *F, const float *w, float *scr, int64_t K,
                        const conv_ep *ep, int id, int nt) {
    float *Ap = (float *)G->Ap;
    const int64_t mr = I->mr, mp = cv_cdiv(G->M, mr);
    for (int64_t i = mp * id / nt; i < mp * (id + 1) / nt; i++)
        for (int64_t k = 0; k < K; k++) {
            /* phased: B row k is tap korig[t] of channel c of phase q */
            int64_t kw = k;
            for (int q = F ? F->n - 1 : -1; q >= 0; q--) {
                if (k < F->koff[q]) continue;
                const int64_t T = F->g[q].T, c = (k - F->koff[q]) / T;
                kw = c * G->T + F->korig[F->g[q].ty - F->ty + (k - F->koff[q] - c * T)];
                break;
            }
            for (int64_t r = 0; r < mr; r++)
                Ap[(i * K + k) * mr + r] = i * mr + r < G->M ? w[(i * mr + r) * K + kw] : 0.0f;
        }
    if (F) cv_fph_split(I, F, G->nimg * id / nt, G->nimg * (id + 1) / nt);
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp barrier
    }
#endif
    float *Bp;
    cv_op *ops;
    int32_t *start;
    cv_run *runs;
    cv_slot_ptrs(scr + id * cv_slot_floats(K, G->T), K, G->T, &Bp, &ops, &start, &runs);
    const int64_t ghw = G->gh * G->gw, total = G->nimg * ghw, np = cv_cdiv(total, CV_NR);
    const int64_t lo = ep->reduces ? G->nimg * id / nt * ghw : conv_min(total, np * id / nt * CV_NR);
    const int64_t hi = ep->reduces ? G->nimg * (id + 1) / nt * ghw : conv_min(total, np * (id + 1) / nt * CV_NR);
    if (!ep->prog) {
        cv_fwd_pixels(I, F, G, lo, hi, Bp, ops, start, runs);
        return;
    }
    int64_t done = lo; /* the epilogue has run on [lo, done) */
    for (int64_t g = lo; g < hi; g += CV_EP_PANELS * CV_NR) {
        const int64_t ge = conv_min(hi, g + CV_EP_PANELS * CV_NR), upto = ep->reduces && ge < hi ? ge / ghw * ghw : ge;
        cv_fwd_pixels(I, F, G, g, ge, Bp, ops, start, runs);
        gg__conv_ep_apply(ep, done, upto);
        done = conv_max(done, upto);
    }
}

static gg_status cv_forward(const gg_ctx *ctx, const cv_isa *I, float *y, const float *x, const float *w,
                            const gg_conv2d_shape *s, const conv_ep *ep) {
    const int64_t T = s->kh * s->kw, K = s->c * T;
    int64_t ty[CV_MAXTAPS], tx[CV_MAXTAPS];
    for (int64_t ki = 0; ki < s->kh; ki++)
        for (int64_t kj = 0; kj < s->kw; kj++) {
            ty[ki * s->kw + kj] = ki - s->pad;
            tx[ki * s->kw + kj] = kj - s->pad;
        }
    float *Ap = ctx->scratch, *slots = Ap + conv_round(cv_rows_bound(s->oc) * K);
    const cv_geo G = {x, s->c * s->h * s->w, s->h * s->w, s->h, s->w, s->c, s->stride, T, ty, tx,
                      s->n, s->oh, s->ow, y, s->oc * s->oh * s->ow, s->oh * s->ow, s->ow, 1, s->oc, Ap,
                      x + s->n * s->c * s->h * s->w};
    const int nt = cv_team(conv_threads(ctx), cv_cdiv(s->n * s->oh * s->ow, CV_NR));
    cv_fph phases, *F = 0;
    if (cv_fwd_phased(ctx, s)) {
        cv_make_fph(&phases, &G, x, slots + conv_threads(ctx) * cv_slot_floats(K, T), s);
        F = &phases;
    }
    if (nt == 1) {
        cv_fwd_body(I, &G, F, w, slots, K, ep, 0, 1);
        return GG_OK;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        cv_fwd_body(I, &G, F, w, slots, K, ep, omp_get_thread_num(), omp_get_num_threads());
    }
#endif
    return GG_OK;
}

/* bwd_data phases: for ry in [0, S): taps ki with ki = ry + pad (mod S), ty = (ry + pad - ki) / S. */
typedef struct cv_phases {
    int n;
    cv_geo g[4];
    int64_t kis[4], kjs[4]; /* first ki / kj of the phase (steps of S) */
    int64_t nki[4], nkj[4];
    int64_t panels[4];
    int64_t ty[CV_MAXTAPS], tx[CV_MAXTAPS];
    /* Stride 2: phases q and q + 1 (q even) paired (cv_pairable) share one B
     * panel of the union of their column offsets tx, ulo[q] .. ulo[q] + nu[q] - 1;
     * a paired phase's A is then tx-major (cv_pack_union). */
    int paired[4];
    int64_t ulo[4], nu[4];
} cv_phases;

/* Phases (ry, 0) and (ry, 1) of a stride-2 bwd_data cover the same grid
 * when w is even, and their outputs alternate along dx's rows: one panel of
 * each goes to a tile, and the two are stored interleaved, whole rows at a
 * time, instead of every other element (which had cost 13% of dcgan's
 * 128 -> 64 transposed conv). */
static int cv_pairable(const cv_geo *a, const cv_geo *b) {
    return a->T > 0 && b->T > 0 && a->gh == b->gh && a->gw == b->gw && a->out_x == 2 && b->out == a->out + 1;
}

/* The lowest column offset of phase q's taps (tx falls as kj grows). */
static int64_t cv_tx_lo(const cv_phases *ph, int q) { return ph->g[q].tx[ph->nkj[q] - 1]; }

static void cv_make_phases(cv_phases *ph, int64_t mr, float *dx, const float *dy, float *Ap, const gg_conv2d_shape *s) {
    const int64_t S = s->stride, P = s->pad;
    int64_t toff = 0, aoff = 0;
    ph->n = 0;
    for (int64_t ry = 0; ry < S && ry < s->h; ry++)
        for (int64_t rx = 0; rx < S && rx < s->w; rx++) {
            const int i = ph->n++;
            const int64_t ki0 = ((ry + P) % S), kj0 = ((rx + P) % S);
            const int64_t nki = ki0 < s->kh ? (s->kh - ki0 + S - 1) / S : 0;
            const int64_t nkj = kj0 < s->kw ? (s->kw - kj0 + S - 1) / S : 0;
            int64_t *ty = ph->ty + toff, *tx = ph->tx + toff;
            for (int64_t a = 0; a < nki; a++)
                for (int64_t b = 0; b < nkj; b++) {
                    ty[a * nkj + b] = (ry + P - (ki0 + a * S)) / S;
                    tx[a * nkj + b] = (rx + P - (kj0 + b * S)) / S;
                }
            const int64_t T = nki * nkj, gh = (s->h - ry + S - 1) / S, gw = (s->w - rx + S - 1) / S;
            ph->kis[i] = ki0;
            ph->kjs[i] = kj0;
            ph->nki[i] = nki;
            ph->nkj[i] = nkj;
            const cv_geo G = {dy, s->oc * s->oh * s->ow, s->oh * s->ow, s->oh, s->ow, s->oc, 1, T, ty, tx,
                              s->n, gh, gw, dx + ry * s->w + rx, s->c * s->h * s->w, s->h * s->w, S * s->w, S,
                              s->c, Ap + aoff, dy + s->n * s->oc * s->oh * s->ow};
            ph->g[i] = G;
            ph->panels[i] = cv_cdiv(s->n * gh * gw, CV_NR);
            ph->paired[i] = 0;
            toff += T;
            aoff += conv_round(cv_cdiv(s->c, mr) * mr * s->oc * T);
        }
    for (int q = 0; S == 2 && q + 1 < ph->n; q += 2) {
        if (!cv_pairable(&ph->g[q], &ph->g[q + 1])) continue;
        ph->paired[q] = ph->paired[q + 1] = 1;
        const int64_t lo = conv_min(cv_tx_lo(ph, q), cv_tx_lo(ph, q + 1));
        const int64_t hi = conv_max(cv_tx_lo(ph, q) + ph->nkj[q], cv_tx_lo(ph, q + 1) + ph->nkj[q + 1]);
        ph->ulo[q] = lo;
        ph->nu[q] = hi - lo;
    }
}

/* The B panel of the pair (q, q + 1) for grid pixels [g0, g1) (runs: their
 * runs), once: the two phases read the same rows of dy (same ry) at column
 * offsets that overlap (a 4x4 kernel: {-1, 0} and {0, 1}), so the union is
 * packed tx-major, one block of cs x nki rows per tx, and each phase's K rows
 * are a contiguous range of it (6 rows per dy channel where the phases apart
 * packed 8). Where the grid rows continue dy's rows (dcgan's 7x7 dy) a tap
 * is a shift of dy's flattened planes, so each block is packed as a unit
 * (pack_unit: a masked load per 16 lanes, running on into the next image)
 * rather than from load plans (a load per run of 7): the same values, so the
 * same bits. Units whose lanes would read outside dy keep the load plans. */
static void cv_pack_union(const cv_isa *I, const cv_phases *ph, int q, int64_t g0, int64_t g1, const cv_run *runs,
                          int nr, float *Bp, cv_op *ops, int32_t *start) {
    const cv_geo *A = &ph->g[q];
    const int64_t nty = ph->nki[q], blk = A->cs * nty, ghw = A->gh * A->gw;
    int64_t ty[CV_MAXTAPS], tx[CV_MAXTAPS];
    int64_t ty0 = A->ty[0], ty1 = A->ty[0];
    for (int64_t a = 0; a < nty; a++) {
        ty[a] = A->ty[a * ph->nkj[q]];
        ty0 = conv_min(ty0, ty[a]);
        ty1 = conv_max(ty1, ty[a]);
    }
    const int64_t b = g0 / ghw, q0 = g0 - b * ghw, split = (b + 1) * ghw - g0, len = g1 - g0;
    const int64_t first = b * A->src_b + q0, last = len > split ? first + A->src_b - ghw : first;
    const int64_t omin = ty0 * A->ws + ph->ulo[q], omax = ty1 * A->ws + ph->ulo[q] + ph->nu[q] - 1;
    const int unit = I->pack_unit && A->gw == A->ws && ghw >= CV_NR && A->src_b >= ghw &&
                     cv_unit_inside(A, 0, first, last, omin, omax, CV_NR);
    for (int64_t u = 0; u < ph->nu[q]; u++) {
        int64_t toff[CV_MAXTAPS];
        for (int64_t a = 0; a < nty; a++) {
            tx[a] = ph->ulo[q] + u;
            toff[a] = ty[a] * A->ws + tx[a];
        }
        cv_geo U = *A;
        U.T = nty;
        U.ty = ty;
        U.tx = tx;
        if (unit) {
            I->pack_unit(Bp + u * blk * CV_NR, &U, A->src + first, q0, len, split, len > split ? A->src_b - ghw : 0, toff);
            continue;
        }
        cv_ops(ops, start, runs, nr, &U);
        I->pack(Bp + u * blk * CV_NR, CV_NR, ops, start, &U);
    }
}

static void cv_panel_pair(const cv_isa *I, const cv_phases *ph, int q, int64_t g0, int64_t g1, float *Bp, cv_op *ops,
                          int32_t *start, cv_run *runs, float *ta, float *tb) {
    const uint32_t all = 0xFFFFFFFFu;
    const cv_geo *A = &ph->g[q], *B = A + 1;
    const int64_t blk = A->cs * ph->nki[q] * CV_NR;
    const int nr = cv_runs(runs, g0, g1, A->gh, A->gw, CV_NR);
    cv_pack_union(I, ph, q, g0, g1, runs, nr, Bp, ops, start);
    I->ukr_packed(A->M, A->cs * A->T, A->Ap, Bp + (cv_tx_lo(ph, q) - ph->ulo[q]) * blk, CV_NR, &ta, &all, 1, CV_NR);
    I->ukr_packed(B->M, B->cs * B->T, B->Ap, Bp + (cv_tx_lo(ph, q + 1) - ph->ulo[q]) * blk, CV_NR, &tb, &all, 1, CV_NR);
    for (int i = 0; i < nr; i++)
        I->store_pair(ta, tb, A->M, runs[i].pos, runs[i].len,
                      A->out + runs[i].b * A->out_b + runs[i].gy * A->out_y + runs[i].gx * A->out_x, A->out_m);
}

static void cv_bwd_data_body(const cv_isa *I, const cv_phases *ph, const float *w, const gg_conv2d_shape *s, float *scr,
                             int id, int nt) {
    const int64_t mr = I->mr, mp = cv_cdiv(s->c, mr), KH = s->kh, KW = s->kw, S = s->stride, C = s->c;
    for (int64_t i = mp * id / nt; i < mp * (id + 1) / nt; i++)
        for (int q = 0; q < ph->n; q++) {
            const int64_t nki = ph->nki[q], nkj = ph->nkj[q], T = nki * nkj, K = s->oc * T;
            float *Ap = (float *)ph->g[q].Ap + i * K * mr;
            for (int64_t o = 0; o < s->oc; o++)
                for (int64_t a = 0; a < nki; a++)
                    for (int64_t b = 0; b < nkj; b++) {
                        const int64_t ki = ph->kis[q] + a * S, kj = ph->kjs[q] + b * S;
                        /* k of a paired phase: tx-major, tx rising (b falling), as the union packs B */
                        const int64_t k = ph->paired[q] ? ((nkj - 1 - b) * s->oc + o) * nki + a : o * T + a * nkj + b;
                        float *d = Ap + k * mr;
                        for (int64_t r = 0; r < mr; r++) {
                            const int64_t ci = i * mr + r;
                            d[r] = ci < C ? w[((o * C + ci) * KH + ki) * KW + kj] : 0.0f;
                        }
                    }
        }
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp barrier
    }
#endif
    const int64_t tu = cv_bwd_data_taps(s);
    float *Bp;
    cv_op *ops;
    int32_t *start;
    cv_run *runs;
    float *slot = scr + id * cv_bwd_data_slot(s);
    cv_slot_ptrs(slot, s->oc * tu, tu, &Bp, &ops, &start, &runs);
    float *ta = slot + cv_slot_floats(s->oc * tu, tu), *tb = ta + conv_round(s->c * CV_NR);
    /* Panel p of every phase in turn: the phases interleave in dx, so its
     * lines are written while in cache. Threads take ranges of p. The phases
     * read nearly the same dy around panel p, so only the first prefetches
     * the next panel (prefetching from every phase cost more than it saved). */
    int64_t np = 0;
    for (int q = 0; q < ph->n; q++) np = conv_max(np, ph->panels[q]);
    const int64_t lo = np * id / nt, hi = np * (id + 1) / nt;
    for (int64_t p = lo; p < hi; p++)
        for (int q = 0; q < ph->n; q++) {
            const cv_geo *G = &ph->g[q];
            if (p >= ph->panels[q]) continue;
            if (ph->paired[q]) {
                const int64_t gt = G->nimg * G->gh * G->gw, g1 = conv_min(gt, (p + 1) * CV_NR);
                if (q == 0 && g1 < conv_min(gt, hi * CV_NR)) cv_prefetch(G, g1, conv_min(conv_min(gt, hi * CV_NR), g1 + CV_NR), runs);
                cv_panel_pair(I, ph, q, p * CV_NR, g1, Bp, ops, start, runs, ta, tb);
                q++;
                continue;
            }
            if (G->T > 0) {
                const int64_t gt = G->nimg * G->gh * G->gw;
                cv_panels(I, G, p * CV_NR, conv_min(gt, (p + 1) * CV_NR), q == 0 ? conv_min(gt, hi * CV_NR) : 0, Bp, ops,
                          start, runs);
            } else { /* no tap reaches this phase: zeros */
                const int64_t ghw = G->gh * G->gw, g1 = conv_min((p + 1) * CV_NR, G->nimg * ghw);
                for (int64_t g = p * CV_NR; g < g1; g++) {
                    const int64_t bi = g / ghw, qq = g - bi * ghw, gy = qq / G->gw, gx = qq - gy * G->gw;
                    float *d = G->out + bi * G->out_b + gy * G->out_y + gx * G->out_x;
                    for (int64_t m = 0; m < G->M; m++) d[m * G->out_m] = 0.0f;
                }
            }
        }
}

static gg_status cv_bwd_data(const gg_ctx *ctx, const cv_isa *I, float *dx, const float *dy, const float *w,
                              const gg_conv2d_shape *s, const conv_ep *ep) {
    cv_phases ph;
    cv_make_phases(&ph, I->mr, dx, dy, ctx->scratch, s);
    const int64_t S = s->stride, T = s->kh * s->kw;
    float *slots = ctx->scratch + conv_round(cv_rows_bound(s->c) * s->oc * T) + S * S * CONV_ALIGN;
    int64_t np = 0;
    for (int q = 0; q < ph.n; q++) np = conv_max(np, ph.panels[q]);
    const int nt = cv_team(conv_threads(ctx), np);
    /* The phases interleave in dx, so a pixel is finished only when every
     * phase's panels are: the epilogue waits for the team, then takes even
     * shares (close to what each thread just wrote), whole images when it has sums. */
    const int64_t pixels = s->n * s->h * s->w;
    if (nt == 1) {
        cv_bwd_data_body(I, &ph, w, s, slots, 0, 1);
        gg__conv_ep_apply_share(ep, pixels, 0, 1);
        return GG_OK;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        const int id = omp_get_thread_num(), team = omp_get_num_threads();
        cv_bwd_data_body(I, &ph, w, s, slots, id, team);
        if (ep->prog) {
#pragma omp barrier
            gg__conv_ep_apply_share(ep, pixels, id, team);
        }
    }
#endif
    return GG_OK;
}

/* Images [b0, b1) -> dwp (oc, ckk), their sum: blocks of kb pixels, each
 * dwT (ckk, ocp) (+)= col_blk (ckk, kb) * dyT_blk (kb, ocp), then dwp = dwT^T;
 * or, with few output channels (cv_wf_dots), lane sums acc (oc, ckk, 8) +=
 * dy rows dotted with col rows, then dwp = the sums of the lanes. */
static void cv_wf_chunk(const cv_isa *I, const cv_geo *G, float *slot, float *dwp, const float *dy, int64_t b0,
                        int64_t b1, const gg_conv2d_shape *s) {
    const int64_t ckk = s->c * s->kh * s->kw, kb = cv_wf_kb(s), ocp = cv_wf_ocp(s);
    const int64_t ohw = s->oh * s->ow, ys = s->oc * ohw, T = s->kh * s->kw;
    const int dots = cv_wf_dots(s);
    float *col = slot, *dyT = col + conv_round(ckk * kb), *dwT = dyT + conv_round(kb * ocp);
    float *unusedB;
    cv_op *ops;
    int32_t *start;
    cv_run *runs;
    cv_slot_ptrs(dwT + conv_round(dots ? s->oc * ckk * 8 : ckk * ocp), 0, T, &unusedB, &ops, &start, &runs);
    if (dots) memset(dwT, 0, (size_t)(s->oc * ckk * 8) * sizeof(float));
    const int64_t p0 = b0 * ohw, p1 = b1 * ohw;
    for (int64_t k0 = p0; k0 < p1; k0 += kb) {
        const int64_t k1 = conv_min(p1, k0 + kb), npp = cv_cdiv(k1 - k0, CV_NR);
        for (int64_t pp = 0; pp < npp; pp++) {
            const int64_t g0 = k0 + pp * CV_NR, g1 = conv_min(k1, g0 + CV_NR);
            const int nr = cv_runs(runs, g0, g1, G->gh, G->gw, G->sg == 1 ? CV_NR : 32 / G->sg);
            cv_ops(ops, start, runs, nr, G);
            I->pack(col + pp * ckk * CV_NR, CV_NR, ops, start, G);
            /* dy of these pixels: transposed into dyT (a 1/ckk share of the
             * block's work), or as oc rows of 32 lanes for the dots */
            float *d = dyT + pp * CV_NR * (dots ? s->oc : ocp);
            for (int64_t g = g0; g < g1;) {
                const int64_t b = g / ohw, q = g - b * ohw, e = conv_min(g1, (b + 1) * ohw);
                if (dots)
                    for (int64_t o = 0; o < s->oc; o++)
                        memcpy(d + o * CV_NR + (g - g0), dy + b * ys + o * ohw + q, (size_t)(e - g) * sizeof(float));
                else
                    I->transpose(d + (g - g0) * ocp, ocp, dy + b * ys + q, ohw, s->oc, e - g);
                g = e;
            }
            for (int64_t l = g1 - g0; l < CV_NR; l++)
                for (int64_t o = 0; o < s->oc; o++) d[dots ? o * CV_NR + l : l * ocp + o] = 0.0f;
        }
        /* pixels past k1 are zero in col and dyT; while the block computes,
         * fetch the next block's x and dy (the packer's reads are scattered) */
        const int64_t k2 = conv_min(p1, k1 + kb);
        for (int64_t g = k1; g < k2; g += CV_NR) cv_prefetch(G, g, conv_min(k2, g + CV_NR), runs);
        for (int64_t g = k1; g < k2;) {
            const int64_t b = g / ohw, q = g - b * ohw, e = conv_min(k2, (b + 1) * ohw);
            for (int64_t o = 0; o < s->oc; o++) {
                const char *r = (const char *)(dy + b * ys + o * ohw);
                for (int64_t xb = q * 4 & ~(int64_t)63; xb < (e - b * ohw) * 4; xb += 64) _mm_prefetch(r + xb, _MM_HINT_T0);
            }
            g = e;
        }
        if (dots) {
            I->ukr_dots(s->oc, ckk, npp, col, dyT, dwT);
            continue;
        }
        const int acc = k0 != p0;
        for (int64_t n0 = 0; n0 < s->oc; n0 += CV_NR) {
            const int64_t nn = conv_min(CV_NR, s->oc - n0);
            for (int64_t m0 = 0; m0 < ckk; m0 += I->mr) {
                const int rows = (int)conv_min(I->mr, ckk - m0);
                float *sp = dwT + m0 * ocp + n0;
                const uint32_t m = nn >= 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << nn) - 1);
                I->ukr_chunked(rows, npp, col + m0 * CV_NR, ckk * CV_NR, dyT + n0, ocp, &sp, &m, 1, ocp, acc);
            }
        }
    }
    if (dots) cv_lane_sums(dwp, dwT, s->oc * ckk);
    else I->transpose(dwp, ckk, dwT, ocp, ckk, s->oc);
}

/* Images [b0, b1) -> dwT (ckk, ocp), their sum transposed, through padded
 * planes (cv_wf_padded): per image, the planes and dyT (oh*ow, ocp), then for
 * every 32 output channels and row tile of ckk, dwT (+)= rows of the planes *
 * dyT, one chain per element over the image's pixels in order. */
static void cv_wf_chunk_padded(const cv_isa *I, float *slot, float *dwT, const float *x, const float *dy, int64_t b0,
                               int64_t b1, const gg_conv2d_shape *s) {
    const int64_t T = s->kh * s->kw, ckk = s->c * T, ocp = cv_wf_ocp(s), ohw = s->oh * s->ow;
    const int64_t wp = cv_wf_pitch(s), plane = cv_wf_plane(s), hw = s->h * s->w;
    float *pad = slot, *dyT = pad + conv_round(s->c * plane);
    memset(pad, 0, (size_t)(s->c * plane) * sizeof(float)); /* the borders stay zero */
    memset(dyT, 0, (size_t)(ohw * ocp) * sizeof(float));    /* and the lanes past oc */
    int64_t tap_off[CV_MAXTAPS]; /* tap t's offset in a plane: the row pointers are found without divisions */
    for (int64_t t = 0; t < T; t++) tap_off[t] = (t / s->kw) * wp + t % s->kw;
    for (int64_t b = b0; b < b1; b++) {
        for (int64_t ci = 0; ci < s->c; ci++)
            for (int64_t y = 0; y < s->h; y++)
                memcpy(pad + ci * plane + (y + s->pad) * wp + s->pad, x + (b * s->c + ci) * hw + y * s->w,
                       (size_t)s->w * sizeof(float));
        I->transpose(dyT, ocp, dy + b * s->oc * ohw, ohw, s->oc, ohw);
        for (int64_t n0 = 0; n0 < s->oc; n0 += CV_NR) {
            const int64_t nn = conv_min(CV_NR, s->oc - n0);
            const uint32_t m = nn >= 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << nn) - 1);
            int64_t ci = 0, t = 0; /* row m0 of col is (ci, tap t) */
            for (int64_t m0 = 0, rows; m0 < ckk; m0 += rows) {
                rows = gg__tile_rows(I->mr, ckk - m0);
                const float *arow[CV_MR_MAX];
                for (int r = 0; r < rows; r++) {
                    arow[r] = pad + ci * plane + tap_off[t];
                    if (++t == T) { t = 0; ci++; }
                }
                I->ukr_rows((int)rows, s->oh, s->ow, arow, s->stride, s->stride * wp, dyT + n0, ocp, dwT + m0 * ocp + n0,
                            m, ocp, b != b0);
            }
        }
    }
}

/* dw (oc, ckk) = the chunks' dw^T (ckk, ocp) partials added in chunk order and
 * transposed, 16 x 16 blocks at a time: one pass, where transposing each chunk
 * (rows ckk floats apart, 4 KiB for 64 channels of 4 x 4: every store in one
 * cache set) and then adding had cost a fifth of dcgan's weight gradient. */
static void cv_wf_combine(const gg_ctx *ctx, float *dw, const float *P, int64_t chunks, int64_t pstride,
                          int64_t ckk, int64_t oc, int64_t ocp) {
    const int64_t kblocks = cv_cdiv(ckk, 16);
    const int t = conv_threads(ctx) > 1 && kblocks >= 2 * conv_threads(ctx) ? conv_threads(ctx) : 1;
    (void)t;
#ifdef _OPENMP
#pragma omp parallel for num_threads(t) schedule(static) if (t > 1)
#endif
    for (int64_t kb = 0; kb < kblocks; kb++) {
        const int64_t k0 = kb * 16, nk = conv_min(16, ckk - k0);
        for (int64_t o0 = 0; o0 < oc; o0 += 16) {
            const int64_t no = conv_min(16, oc - o0);
            float tile[16][16];
            for (int64_t k = 0; k < nk; k++)
                for (int64_t o = 0; o < no; o++) tile[k][o] = P[(k0 + k) * ocp + o0 + o];
            for (int64_t j = 1; j < chunks; j++)
                for (int64_t k = 0; k < nk; k++)
                    for (int64_t o = 0; o < no; o++) tile[k][o] += P[j * pstride + (k0 + k) * ocp + o0 + o];
            for (int64_t o = 0; o < no; o++)
                for (int64_t k = 0; k < nk; k++) dw[(o0 + o) * ckk + k0 + k] = tile[k][o];
        }
    }
}

/* Chunk j holds images [n*j/chunks, n*(j+1)/chunks); chunk 0 sums into dw, the
 * others into partials that are then added to dw in chunk order (the padded
 * path: every chunk into a dw^T partial, added and transposed by
 * cv_wf_combine, the same sums in the same order). n >= 1. */
static gg_status cv_bwd_filter(const gg_ctx *ctx, const cv_isa *I, float *dw, const float *x, const float *dy, const gg_conv2d_shape *s) {
    const int64_t T = s->kh * s->kw, wsz = s->oc * s->c * T, n = s->n;
    const int64_t chunks = conv_min(n, CONV_WCHUNKS);
    int64_t ty[CV_MAXTAPS], tx[CV_MAXTAPS];
    for (int64_t ki = 0; ki < s->kh; ki++)
        for (int64_t kj = 0; kj < s->kw; kj++) {
            ty[ki * s->kw + kj] = ki - s->pad;
            tx[ki * s->kw + kj] = kj - s->pad;
        }
    const cv_geo G = {x, s->c * s->h * s->w, s->h * s->w, s->h, s->w, s->c, s->stride, T, ty, tx,
                      s->n, s->oh, s->ow, 0, 0, 0, 0, 0, 0, 0, x + s->n * s->c * s->h * s->w};
    const int t = conv_threads(ctx), nt = t > 1 && chunks >= t ? t : 1;
    const int padded = I->ukr_rows && cv_wf_padded(s); /* never with cv_wf_in_place: that takes the dots' shapes */
    const int64_t slot = cv_wf_slot(s), pstride = padded ? cv_wf_partial(s) : conv_round(wsz);
    float *partials = ctx->scratch + t * slot;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (int64_t j = 0; j < chunks; j++) {
        float *sl = ctx->scratch + conv_tid() * slot, *dwp = j == 0 ? dw : partials + (j - 1) * pstride;
        if (padded) cv_wf_chunk_padded(I, sl, partials + j * pstride, x, dy, n * j / chunks, n * (j + 1) / chunks, s);
        else if (cv_wf_in_place(s)) cv_wf_chunk_in_place(I, &G, sl, dwp, dy, n * j / chunks, n * (j + 1) / chunks, s);
        else cv_wf_chunk(I, &G, sl, dwp, dy, n * j / chunks, n * (j + 1) / chunks, s);
    }
    if (padded) cv_wf_combine(ctx, dw, partials, chunks, pstride, s->c * T, s->oc, cv_wf_ocp(s));
    else if (chunks > 1) gg__conv_add_chunks(ctx, dw, partials, wsz, chunks, pstride);
    return GG_OK;
}
#endif

int gg__conv_igemm_takes(const gg_ctx *ctx, const gg_conv2d_shape *s, int kind) {
    switch (kind) {
    case CONV_FWD: return cv_use_fwd(ctx, s);
    case CONV_BWD_DATA: return cv_use_bwd_data(ctx, s);
    default: return cv_use_bwd_filter(ctx, s);
    }
}

int64_t gg__conv_igemm_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s, int t, int kind) {
    switch (kind) {
    case CONV_FWD: return cv_fwd_scratch(ctx, s, t);
    case CONV_BWD_DATA: return cv_bwd_data_scratch(s, t);
    default: return cv_bwd_filter_scratch(s, t);
    }
}

#if GG__X86
gg_status gg__conv_igemm(const gg_ctx *ctx, int kind, float *out, const float *a, const float *b,
                         const gg_conv2d_shape *s, const conv_ep *ep) {
    const cv_isa *I = cv_isa_for(ctx);
    switch (kind) {
    case CONV_FWD: return cv_forward(ctx, I, out, a, b, s, ep);
    case CONV_BWD_DATA: return cv_bwd_data(ctx, I, out, a, b, s, ep);
    default: return cv_bwd_filter(ctx, I, out, a, b, s);
    }
}
#endif
