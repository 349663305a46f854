/*
 * gg_conv_direct.c: direct loops for convolutions with one output channel
 * (oc == 1: an image-to-image network's last layer, e.g. CycleGAN's 7x7
 * 32 -> 1, and its transposed twin in the backward pass).
 * With one output row of the GEMM, lowering (im2col) writes and reads c*kh*kw
 * times the image for a matrix-vector product, and the implicit GEMM would
 * fill one row of its tiles; here every tap is a run of multiply-adds along
 * an image row instead, over the columns where it stays inside the image:
 *   forward      y[oy][ox]     += w[c][ki][kj] * x[c][oy*s + ki - p][ox*s + kj - p]
 *   bwd_data     dx[c][iy][ix] += w[c][ki][kj] * dy[oy][ox], iy = oy*s + ki - p, ix likewise
 *   bwd_filter   dw[c][ki][kj]  = sum over images and pixels of x[c][...] * dy[oy][ox],
 *                in lanes added pairwise at the end (16 on padded planes, 8 row by row)
 * Each output element is summed in a fixed order (taps c, ki, kj for the
 * forward; oy, ki, kj for bwd_data; images, rows, lanes for bwd_filter), and
 * images are split over threads whole (bwd_filter: the batch in the shared
 * chunks), so no result depends on the thread count.
 */
#include "gg_conv_internal.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* One image: yb (oh, ow) from xb (c, h, w). */
GG__ISA_VARIANTS(void, dc_fwd_image, (float *yb, const float *xb, const float *w, const gg_conv2d_shape *s), {
    const int64_t S = s->stride, P = s->pad;
    for (int64_t oy = 0; oy < s->oh; oy++) {
        float *yr = yb + oy * s->ow;
        memset(yr, 0, (size_t)s->ow * sizeof(float));
        for (int64_t c = 0; c < s->c; c++)
            for (int64_t ki = 0; ki < s->kh; ki++) {
                const int64_t iy = oy * S + ki - P;
                if (iy < 0 || iy >= s->h) continue;
                const float *xr = xb + (c * s->h + iy) * s->w;
                for (int64_t kj = 0; kj < s->kw; kj++) {
                    const float wv = w[(c * s->kh + ki) * s->kw + kj];
                    int64_t lo, hi;
                    conv_valid(kj, P, S, s->w, s->ow, &lo, &hi);
                    const float *xs = xr + kj - P;
                    if (S == 1) {
                        for (int64_t o = lo; o < hi; o++) yr[o] += wv * xs[o];
                    } else {
                        for (int64_t o = lo; o < hi; o++) yr[o] += wv * xs[o * S];
                    }
                }
            }
    }
})

/* One image: dxb (c, h, w) from dyb (oh, ow). */
GG__ISA_VARIANTS(void, dc_bwd_data_image, (float *dxb, const float *dyb, const float *w, const gg_conv2d_shape *s), {
    const int64_t S = s->stride, P = s->pad;
    memset(dxb, 0, (size_t)(s->c * s->h * s->w) * sizeof(float));
    for (int64_t c = 0; c < s->c; c++)
        for (int64_t oy = 0; oy < s->oh; oy++) {
            const float *dyr = dyb + oy * s->ow;
            for (int64_t ki = 0; ki < s->kh; ki++) {
                const int64_t iy = oy * S + ki - P;
                if (iy < 0 || iy >= s->h) continue;
                float *dxr = dxb + (c * s->h + iy) * s->w;
                for (int64_t kj = 0; kj < s->kw; kj++) {
                    const float wv = w[(c * s->kh + ki) * s->kw + kj];
                    int64_t lo, hi;
                    conv_valid(kj, P, S, s->w, s->ow, &lo, &hi);
                    float *xs = dxr + kj - P;
                    if (S == 1) {
                        for (int64_t o = lo; o < hi; o++) xs[o] += wv * dyr[o];
                    } else {
                        for (int64_t o = lo; o < hi; o++) xs[o * S] += wv * dyr[o];
                    }
                }
            }
        }
})

/* Images [b0, b1): dwp (c, kh, kw) = their sum. */
GG__ISA_VARIANTS(void, dc_bwd_filter_chunk, (float *dwp, const float *x, const float *dy, int64_t b0, int64_t b1,
                                             const gg_conv2d_shape *s), {
    const int64_t S = s->stride, P = s->pad, hw = s->h * s->w, ohw = s->oh * s->ow;
    for (int64_t c = 0; c < s->c; c++)
        for (int64_t ki = 0; ki < s->kh; ki++)
            for (int64_t kj = 0; kj < s->kw; kj++) {
                float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                int64_t lo, hi;
                conv_valid(kj, P, S, s->w, s->ow, &lo, &hi);
                for (int64_t b = b0; b < b1; b++)
                    for (int64_t oy = 0; oy < s->oh; oy++) {
                        const int64_t iy = oy * S + ki - P;
                        if (iy < 0 || iy >= s->h) continue;
                        const float *xs = x + (b * s->c + c) * hw + iy * s->w + kj - P;
                        const float *dyr = dy + b * ohw + oy * s->ow;
                        int64_t o = lo;
                        for (; o + 8 <= hi; o += 8)
                            for (int l = 0; l < 8; l++) lane[l] += xs[(o + l) * S] * dyr[o + l];
                        for (int l = 0; o < hi; o++, l++) lane[l] += xs[o * S] * dyr[o];
                    }
                dwp[(c * s->kh + ki) * s->kw + kj] =
                    ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
            }
})

/* Stride 1 with pad < kernel (every zoo case): planes are zero-padded so that
 * every tap reads inside them, and rows are computed at the padded width, so
 * a tap is one multiply-add run over the whole plane (oh * padded width) and
 * the columns past the output's width are dropped. kw taps of a kernel row
 * run in one pass in kj order, which adds to each element in the same order
 * as one pass per tap. */
static int dc_flat(const gg_conv2d_shape *s) { return s->stride == 1 && s->pad < s->kh && s->pad < s->kw && s->kw <= 64; }

/* Floats of a padded plane of rows x width: taps, the rounded-up dot length
 * and the rounded-up taps of a kernel row read up to a row and 24 floats past its end. */
static int64_t dc_plane(int64_t rows, int64_t width) { return conv_round(rows * width + width + 24); }

/* dst, a plane of drows x dw, = src (rows x sw) at row `top` and column `at`, zeros elsewhere. */
static void dc_pad(float *dst, int64_t drows, int64_t dw, const float *src, int64_t rows, int64_t sw, int64_t top,
                   int64_t at) {
    memset(dst, 0, (size_t)dc_plane(drows, dw) * sizeof(float));
    for (int64_t r = 0; r < rows; r++) memcpy(dst + (r + top) * dw + at, src + r * sw, (size_t)sw * sizeof(float));
}

/* acc[q] += sum over kj of wrow[kj] * src[q + kj], q < n, kj in order. */
GG__ISA_VARIANTS(void, dc_taps, (float *acc, const float *src, const float *wrow, int64_t kw, int64_t n), {
    int64_t kj = 0;
    for (; kj + 4 <= kw; kj += 4) {
        const float w0 = wrow[kj], w1 = wrow[kj + 1], w2 = wrow[kj + 2], w3 = wrow[kj + 3];
        const float *s0 = src + kj;
        for (int64_t q = 0; q < n; q++) acc[q] = (((acc[q] + w0 * s0[q]) + w1 * s0[q + 1]) + w2 * s0[q + 2]) + w3 * s0[q + 3];
    }
    for (; kj < kw; kj++) {
        const float wv = wrow[kj], *s0 = src + kj;
        for (int64_t q = 0; q < n; q++) acc[q] = acc[q] + wv * s0[q];
    }
})

/* lane[j][q mod 16] += a[q + j] * b[q], q < n (n a multiple of 16), for 4 taps j of a
 * kernel row that share b's loads; two blocks of 8 per round give 8 independent
 * chains, enough to hide the FMA latency. */
GG__ISA_VARIANTS(void, dc_dot4, (float *lane, const float *a, const float *b, int64_t n), {
    float l[4][16];
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 16; i++) l[j][i] = lane[j * 16 + i];
    for (int64_t q = 0; q < n; q += 16)
        for (int i = 0; i < 16; i++) {
            const float d = b[q + i];
            l[0][i] += a[q + i] * d;
            l[1][i] += a[q + i + 1] * d;
            l[2][i] += a[q + i + 2] * d;
            l[3][i] += a[q + i + 3] * d;
        }
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 16; i++) lane[j * 16 + i] = l[j][i];
})

/* Floats of one thread's planes for the flat path. */
static int64_t dc_flat_slot(const gg_conv2d_shape *s) {
    const int64_t hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad;
    const int64_t qh = s->kh - 1 - s->pad, qw = s->kw - 1 - s->pad;
    const int64_t xp = dc_plane(hp, wp), yp = dc_plane(s->oh, wp), lanes = s->c * s->kh * ((s->kw + 3) / 4 * 4) * 16;
    const int64_t dyp = dc_plane(s->oh + 2 * qh, s->ow + 2 * qw), dxp = dc_plane(s->h, s->ow + 2 * qw);
    return conv_max(xp + yp + lanes, dyp + dxp);
}

static void dc_flat_fwd(const gg_ctx *ctx, float *slot, float *yb, const float *xb, const float *w, const gg_conv2d_shape *s) {
    const int64_t hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad, n = s->oh * wp;
    const dc_taps_fn taps = dc_taps_pick(ctx);
    float *xp = slot, *yp = slot + dc_plane(hp, wp);
    memset(yp, 0, (size_t)n * sizeof(float));
    for (int64_t c = 0; c < s->c; c++) {
        dc_pad(xp, hp, wp, xb + c * s->h * s->w, s->h, s->w, s->pad, s->pad);
        for (int64_t ki = 0; ki < s->kh; ki++) taps(yp, xp + ki * wp, w + (c * s->kh + ki) * s->kw, s->kw, n);
    }
    for (int64_t oy = 0; oy < s->oh; oy++) memcpy(yb + oy * s->ow, yp + oy * wp, (size_t)s->ow * sizeof(float));
}

/* dx[c][iy][ix] = sum w[c][ki][kj] dy[iy + p - ki][ix + p - kj]: dy padded by k - 1 - p
 * and the kernel flipped, a correlation like the forward's. */
static void dc_flat_bwd_data(const gg_ctx *ctx, float *slot, float *dxb, const float *dyb, const float *w,
                             const gg_conv2d_shape *s) {
    const int64_t qh = s->kh - 1 - s->pad, qw = s->kw - 1 - s->pad, hp = s->oh + 2 * qh, wp = s->ow + 2 * qw;
    const int64_t n = s->h * wp;
    const dc_taps_fn taps = dc_taps_pick(ctx);
    float *dyp = slot, *dxp = slot + dc_plane(hp, wp), flip[64];
    dc_pad(dyp, hp, wp, dyb, s->oh, s->ow, qh, qw);
    for (int64_t c = 0; c < s->c; c++) {
        memset(dxp, 0, (size_t)n * sizeof(float));
        for (int64_t a = 0; a < s->kh; a++) {
            for (int64_t b = 0; b < s->kw; b++) flip[b] = w[(c * s->kh + s->kh - 1 - a) * s->kw + s->kw - 1 - b];
            taps(dxp, dyp + a * wp, flip, s->kw, n);
        }
        for (int64_t iy = 0; iy < s->h; iy++) memcpy(dxb + (c * s->h + iy) * s->w, dxp + iy * wp, (size_t)s->w * sizeof(float));
    }
}

/* Images [b0, b1): dwp (c, kh, kw) as the sum over images of dots of padded x planes and
 * dy at the padded width (zeros past ow), in 16 lanes added pairwise at the end. A kernel
 * row's taps go 4 at a time (kw rounded up to kw4: the extra taps' lanes are dropped). */
static void dc_flat_bwd_filter(const gg_ctx *ctx, float *slot, float *dwp, const float *x, const float *dy, int64_t b0,
                               int64_t b1, const gg_conv2d_shape *s) {
    const int64_t hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad, n = (s->oh * wp + 15) / 16 * 16;
    const int64_t kw4 = (s->kw + 3) / 4 * 4, rows = s->c * s->kh;
    const dc_dot4_fn dot4 = dc_dot4_pick(ctx);
    float *xp = slot, *dyw = slot + dc_plane(hp, wp), *lanes = dyw + dc_plane(s->oh, wp);
    memset(lanes, 0, (size_t)(rows * kw4 * 16) * sizeof(float));
    for (int64_t b = b0; b < b1; b++) {
        dc_pad(dyw, s->oh, wp, dy + b * s->oh * s->ow, s->oh, s->ow, 0, 0);
        for (int64_t c = 0; c < s->c; c++) {
            dc_pad(xp, hp, wp, x + (b * s->c + c) * s->h * s->w, s->h, s->w, s->pad, s->pad);
            for (int64_t ki = 0; ki < s->kh; ki++)
                for (int64_t kj = 0; kj < s->kw; kj += 4) dot4(lanes + ((c * s->kh + ki) * kw4 + kj) * 16, xp + ki * wp + kj, dyw, n);
        }
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t kj = 0; kj < s->kw; kj++) {
            float l[16];
            memcpy(l, lanes + (r * kw4 + kj) * 16, sizeof l);
            for (int w = 8; w >= 1; w /= 2)
                for (int i = 0; i < w; i++) l[i] += l[i + w];
            dwp[r * s->kw + kj] = l[0];
        }
}

int gg__conv_direct_takes(const gg_conv2d_shape *s) { return s->oc == 1; }

/* Per-thread planes (flat path), then bwd_filter's chunk partials. */
int64_t gg__conv_direct_scratch(const gg_conv2d_shape *s, int t, int kind) {
    const int64_t chunks = conv_min(s->n, CONV_WCHUNKS);
    const int64_t partials = kind == CONV_BWD_FILTER && chunks > 1 ? (chunks - 1) * conv_round(s->c * s->kh * s->kw) : 0;
    return (dc_flat(s) ? t * dc_flat_slot(s) : 0) + partials;
}

gg_status gg__conv_direct(const gg_ctx *ctx, int kind, float *out, const float *a, const float *b,
                          const gg_conv2d_shape *s, const conv_ep *ep) {
    const int t = conv_threads(ctx), flat = dc_flat(s);
    const int64_t slot = flat ? dc_flat_slot(s) : 0;
    if (kind == CONV_BWD_FILTER) {
        const dc_bwd_filter_chunk_fn chunk = dc_bwd_filter_chunk_pick(ctx);
        const int64_t n = s->n, chunks = conv_min(n, CONV_WCHUNKS), wsz = s->c * s->kh * s->kw;
        float *partials = ctx->scratch + t * slot;
        const int nt = t > 1 && chunks >= t ? t : 1;
        (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
        for (int64_t j = 0; j < chunks; j++) {
            float *dwp = j == 0 ? out : partials + (j - 1) * conv_round(wsz);
            const int64_t b0 = n * j / chunks, b1 = n * (j + 1) / chunks;
            if (flat) dc_flat_bwd_filter(ctx, ctx->scratch + conv_tid() * slot, dwp, a, b, b0, b1, s);
            else chunk(dwp, a, b, b0, b1, s);
        }
        if (chunks > 1) gg__conv_add_chunks(ctx, out, partials, wsz, chunks, conv_round(wsz));
        return GG_OK;
    }
    /* forward: out y, a x; bwd_data: out dx, a dy. Whole images per thread. */
    const int fwd = kind == CONV_FWD;
    const dc_fwd_image_fn fimage = dc_fwd_image_pick(ctx);
    const dc_bwd_data_image_fn dimage = dc_bwd_data_image_pick(ctx);
    const int64_t out_img = fwd ? s->oh * s->ow : s->c * s->h * s->w, in_img = fwd ? s->c * s->h * s->w : s->oh * s->ow;
    const int64_t pixels = fwd ? s->oh * s->ow : s->h * s->w;
    const int nt = t > 1 && s->n >= t ? t : 1;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (int64_t img = 0; img < s->n; img++) {
        float *o = out + img * out_img, *scr = ctx->scratch + conv_tid() * slot;
        const float *in = a + img * in_img;
        if (fwd && flat) dc_flat_fwd(ctx, scr, o, in, b, s);
        else if (fwd) fimage(o, in, b, s);
        else if (flat) dc_flat_bwd_data(ctx, scr, o, in, b, s);
        else dimage(o, in, b, s);
        gg__conv_ep_apply(ep, img * pixels, (img + 1) * pixels);
    }
    return GG_OK;
}
