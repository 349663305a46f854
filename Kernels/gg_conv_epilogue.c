/*
 * gg_conv_epilogue.c: the epilogues of gg_conv2d_ep_f32 and
 * gg_conv2d_bwd_data_ep_f32. A fused program over the output (n, c, h, w)
 * runs, through gg__fused_region_acc, on output pixels soon after a method
 * has finished them (every channel of a range of flattened (n, h*w) pixels),
 * on the calling thread with that thread's scratch share.
 * Per-channel reductions (REDUCE over n, h and w) cannot fold straight into
 * their outputs: threads would race, and the order of the additions would
 * follow the thread split. Each image folds into its own partial instead (in
 * one region call, so its rows fold as in gg_fused_f32), and
 * gg__conv_ep_finish adds the partials in image order,
 * then runs the program's post pass (elementwise over the sums) if it has one.
 */
#include "gg_conv_internal.h"
#include <math.h>
#include <string.h>

/* Per image, a partial first row, the whole rows, a partial last row (boxes of
 * the 4-D iteration space). The program was validated up front, so the
 * region calls cannot fail. */
static void ep_run(const conv_ep *e, const gg_fprogram *prog, int64_t g0, int64_t g1) {
    gg_ctx one = {1, e->isa, e->scratch + (int64_t)conv_tid() * e->share, e->share};
    const int64_t hw = e->h * e->w;
    if (e->merged) { /* one box per image */
        while (g0 < g1) {
            const int64_t b = g0 / hw, q0 = g0 - b * hw, q1 = conv_min(g1 - b * hw, hw);
            const int64_t lo[3] = {b, 0, q0}, ext[3] = {1, e->c, q1 - q0};
            (void)gg__fused_region_acc(&one, prog, lo, ext);
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
            (void)gg__fused_region_acc(&one, prog, lo, ext);
            q += rows * cols;
        }
        g0 = b * hw + q1;
    }
}

static float ep_init(const gg_finstr *in) { return in->sub == GG_REDUCE_SUM ? 0.0f : -INFINITY; }

/* gg_fused.c's max: a NaN wins. */
static float ep_combine(const gg_finstr *in, float a, float b) {
    if (in->sub == GG_REDUCE_SUM) return a + b;
    return (b > a || b != b) ? b : a;
}

void gg__conv_ep_apply(const conv_ep *e, int64_t g0, int64_t g1) {
    if (!e->prog || g0 >= g1) return;
    if (!e->reduces) {
        ep_run(e, e->prog, g0, g1);
        return;
    }
    /* the same program with each REDUCE output moved to its row of the image's slot */
    const gg_fprogram *p = e->prog;
    const int rank = p->rank;
    float *outs[p->noutputs];
    int64_t st[p->noutputs * rank];
    gg_fprogram q = *p;
    q.outputs = outs;
    q.out_strides = st;
    memcpy(outs, p->outputs, sizeof outs);
    memcpy(st, p->out_strides, sizeof st);
    const int64_t hw = e->h * e->w;
    while (g0 < g1) {
        const int64_t j = g0 / hw, end = conv_min(g1, (j + 1) * hw);
        float *slot = e->partials + j * e->pstride;
        int r = 0;
        for (int32_t i = 0; i < p->ninstr; i++) {
            const gg_finstr *in = &p->instr[i];
            if (in->op != GG_FOP_REDUCE) continue;
            float *row = slot + r++ * conv_round(e->c);
            for (int64_t c = 0; c < e->c; c++) row[c] = ep_init(in);
            outs[in->dst] = row;
            for (int d = 0; d < rank; d++) st[in->dst * rank + d] = d == 1 ? 1 : 0;
        }
        ep_run(e, &q, g0, end);
        g0 = end;
    }
}

void gg__conv_ep_apply_share(const conv_ep *e, int64_t pixels, int id, int team) {
    const int64_t unit = e->reduces ? e->h * e->w : 1, units = (pixels + unit - 1) / unit;
    gg__conv_ep_apply(e, conv_min(pixels, units * id / team * unit), conv_min(pixels, units * (id + 1) / team * unit));
}

gg_status gg__conv_ep_finish(const gg_ctx *ctx, const conv_ep *e) {
    const gg_fprogram *p = e->given;
    if (!p) return GG_OK;
    int r = 0;
    for (int32_t i = 0; i < p->ninstr; i++) {
        const gg_finstr *in = &p->instr[i];
        if (in->op != GG_FOP_REDUCE) continue;
        const float *rows = e->partials + r++ * conv_round(e->c);
        float *out = p->outputs[in->dst];
        const int64_t stc = p->out_strides[4 * in->dst + 1];
        for (int64_t c = 0; c < e->c; c++) {
            float v = e->n > 0 ? rows[c] : ep_init(in);
            for (int64_t j = 1; j < e->n; j++) v = ep_combine(in, v, rows[j * e->pstride + c]);
            out[c * stc] = v;
        }
    }
    return p->post ? gg_fused_f32(ctx, p->post) : GG_OK;
}

/* Floats of scratch one thread's epilogue share needs (64-byte multiple). */
static int64_t conv_ep_share(const gg_ctx *ctx, const gg_fprogram *ep) {
    gg_ctx one = {1, ctx->isa, 0, 0};
    gg_fprogram body = *ep;
    body.post = 0;
    return conv_round(gg_fused_f32_scratch(&one, &body));
}

static int ep_reduces(const gg_fprogram *p) {
    int r = 0;
    for (int32_t i = 0; i < p->ninstr; i++) r += p->instr[i].op == GG_FOP_REDUCE;
    return r;
}

int64_t gg_conv2d_ep_f32_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s, const gg_fprogram *epilogue) {
    const int64_t need = gg_conv2d_f32_scratch(ctx, s);
    if (ctx == 0 || !epilogue) return need;
    const int r = ep_reduces(epilogue);
    const int64_t partials = r * conv_round(conv_max(s->oc, s->c)) * s->n; /* a row per output and image */
    const int64_t all = conv_round(need) + conv_threads(ctx) * conv_ep_share(ctx, epilogue) + partials;
    return epilogue->post ? conv_max(all, gg_fused_f32_scratch(ctx, epilogue->post)) : all;
}

gg_status gg__conv_ep_make(conv_ep *e, const gg_ctx *ctx, const gg_conv2d_shape *s, const gg_fprogram *prog,
                           int64_t c, int64_t h, int64_t w) {
    memset(e, 0, sizeof *e);
    e->c = c;
    e->h = h;
    e->w = w;
    e->n = s->n;
    if (!prog) return GG_OK;
    const int64_t space[4] = {s->n, c, h, w};
    if (!gg__fused_channel_epilogue_over(prog, space)) return GG_ERR_ARG;
    const int64_t need = gg_conv2d_ep_f32_scratch(ctx, s, prog);
    if (ctx->scratch_len < need || ctx->scratch == 0) return GG_ERR_SCRATCH;
    e->given = prog;
    e->body = *prog;
    e->body.post = 0;
    e->prog = &e->body;
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
        e->flat = e->body;
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
    e->reduces = ep_reduces(prog);
    e->pstride = e->reduces * conv_round(c);
    e->partials = e->scratch + conv_threads(ctx) * e->share;
    return GG_OK;
}
