/*
 * gg_conv_epilogue.c: the epilogues of gg_conv2d_ep_f32 and
 * gg_conv2d_bwd_data_ep_f32. An elementwise fused program over the output
 * (n, c, h, w) runs, through gg_fused_region_f32, on output pixels soon after
 * a method has finished them (every channel of a range of flattened (n, h*w)
 * pixels), on the calling thread with that thread's scratch share.
 */
#include "gg_conv_internal.h"

/* Per image, a partial first row, the whole rows, a partial last row (boxes of
 * the 4-D iteration space). The program was validated up front, so the
 * region calls cannot fail. */
void gg__conv_ep_apply(const conv_ep *e, int64_t g0, int64_t g1) {
    if (!e->prog || g0 >= g1) return;
    gg_ctx one = {1, e->isa, e->scratch + (int64_t)conv_tid() * e->share, e->share};
    const int64_t hw = e->h * e->w;
    if (e->merged) { /* one box per image */
        while (g0 < g1) {
            const int64_t b = g0 / hw, q0 = g0 - b * hw, q1 = conv_min(g1 - b * hw, hw);
            const int64_t lo[3] = {b, 0, q0}, ext[3] = {1, e->c, q1 - q0};
            (void)gg_fused_region_f32(&one, e->prog, lo, ext);
            g0 = b * hw + q1;
        }
        return;
    }
    while (g0 < g1) {
        const int64_t b = g0 / hw, q0 = g0 - b * hw, q1 = conv_min(g1 - b * hw, hw);
        int64_t q = q0;
        while (q < q1) {
            const int64_t y = q / e->w, x = q - y * e->w;
            int64_t rows = 1, cols = conv_min(e->w - x, q1 - q);
            if (x == 0 && q1 - q >= e->w) { rows = (q1 - q) / e->w; cols = e->w; }
            const int64_t lo[4] = {b, 0, y, x}, ext[4] = {1, e->c, rows, cols};
            (void)gg_fused_region_f32(&one, e->prog, lo, ext);
            q += rows * cols;
        }
        g0 = b * hw + q1;
    }
}

/* Floats of scratch one thread's epilogue share needs (64-byte multiple). */
static int64_t conv_ep_share(const gg_ctx *ctx, const gg_fprogram *ep) {
    gg_ctx one = {1, ctx->isa, 0, 0};
    return conv_round(gg_fused_f32_scratch(&one, ep));
}

int64_t gg_conv2d_ep_f32_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    const int64_t need = gg_conv2d_f32_scratch(ctx, s);
    if (ctx == 0 || !epilogue) return need;
    return conv_round(need) + conv_threads(ctx) * conv_ep_share(ctx, epilogue);
}

gg_status gg__conv_ep_make(conv_ep *e, const gg_ctx *ctx, const gg_conv2d_shape *s, const gg_fprogram *prog,
                           int64_t c, int64_t h, int64_t w) {
    memset(e, 0, sizeof *e);
    e->c = c;
    e->h = h;
    e->w = w;
    if (!prog) return GG_OK;
    const int64_t space[4] = {s->n, c, h, w};
    if (!gg__fused_elementwise_over(prog, 4, space)) return GG_ERR_ARG;
    const int64_t need = gg_conv2d_ep_f32_scratch(ctx, s, prog);
    if (ctx->scratch_len < need || ctx->scratch == 0) return GG_ERR_SCRATCH;
    e->prog = prog;
    const int nops = prog->ninputs + prog->noutputs;
    e->merged = nops <= CONV_EP_MAXOPS;
    for (int k = 0; k < nops && e->merged; k++) {
        const int64_t *st = k < prog->ninputs ? prog->in_strides + 4 * k : prog->out_strides + 4 * (k - prog->ninputs);
        e->merged = st[2] == st[3] * w;
        e->flat_strides[3 * k] = st[0];
        e->flat_strides[3 * k + 1] = st[1];
        e->flat_strides[3 * k + 2] = st[3];
    }
    if (e->merged) {
        e->flat = *prog;
        e->flat.rank = 3;
        e->flat_shape[0] = s->n;
        e->flat_shape[1] = c;
        e->flat_shape[2] = h * w;
        e->flat.shape = e->flat_shape;
        e->flat.in_strides = e->flat_strides;
        e->flat.out_strides = e->flat_strides + 3 * prog->ninputs;
        e->prog = &e->flat;
    }
    e->share = conv_ep_share(ctx, prog);
    e->scratch = ctx->scratch + conv_round(gg_conv2d_f32_scratch(ctx, s));
    e->isa = ctx->isa;
    return GG_OK;
}
