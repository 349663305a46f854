/*
 * gg_ref_fused.c: scalar reference for gg_fused_f32. Walks the iteration
 * space one element at a time in flat row-major order, decomposing the flat
 * index by div/mod, and runs the whole program on that element with the
 * reference unary/binary/random kernels (libm, double-precision random).
 * REDUCE outputs are initialised to 0 / -inf and then accumulate each
 * element in flat order (plain sequential float sums). gg__fused_ref_value
 * runs the same interpreter on one element and returns what it stores: the
 * reference value of a GEMM prologue's operand element. The phases' reference
 * runs each phase and its post over their whole spaces in turn.
 */
#include "gg_kernels.h"
#include "gg_internal.h"

#include <math.h>

#define REF_REGS 1024

static float ref_nmax(float m, float v) { return (v > m || v != v) ? v : m; }

/* Runs the whole program on element `idx` (flat row-major index `flat`) of
 * its space, registers in reg. STOREs write their output, or, when capture is
 * given, write it instead (the program then stores one value, written nowhere). */
static void ref_element(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *idx, int64_t flat, float *reg,
                        float *capture) {
    for (int32_t k = 0; k < p->ninstr; k++) {
        const gg_finstr *in = &p->instr[k];
        switch (in->op) {
        case GG_FOP_LOAD: {
            int64_t off = 0;
            for (int d = 0; d < p->rank; d++) off += idx[d] * p->in_strides[(int64_t)in->a * p->rank + d];
            reg[in->dst] = p->inputs[in->a][off];
            break;
        }
        case GG_FOP_CONST: reg[in->dst] = in->p0; break;
        case GG_FOP_RAND_UNIFORM:
        case GG_FOP_RAND_NORMAL: {
            uint64_t e = (uint64_t)flat + ((uint64_t)(uint32_t)in->b | (uint64_t)(uint32_t)in->c << 32);
            if (in->op == GG_FOP_RAND_UNIFORM) gg_rand_uniform_f32_ref(ctx, &reg[in->dst], 1, p->keys[in->a], e);
            else gg_rand_normal_f32_ref(ctx, &reg[in->dst], 1, p->keys[in->a], e);
            break;
        }
        case GG_FOP_UNARY: {
            float x = reg[in->a], y;
            gg_unary_f32_ref(ctx, &y, &x, 1, (gg_unary_op)in->sub, in->p0, in->p1);
            reg[in->dst] = y;
            break;
        }
        case GG_FOP_BINARY: {
            float a = reg[in->a], b = reg[in->b], y;
            gg_binary_f32_ref(ctx, &y, &a, 0, &b, 0, 0, 0, (gg_binary_op)in->sub);
            reg[in->dst] = y;
            break;
        }
        case GG_FOP_SELECT: reg[in->dst] = reg[in->a] != 0.0f ? reg[in->b] : reg[in->c]; break;
        case GG_FOP_STORE:
        case GG_FOP_REDUCE: {
            if (capture) {
                *capture = reg[in->a];
                break;
            }
            int64_t off = 0;
            for (int d = 0; d < p->rank; d++) off += idx[d] * p->out_strides[(int64_t)in->dst * p->rank + d];
            float *y = p->outputs[in->dst] + off;
            if (in->op == GG_FOP_STORE) *y = reg[in->a];
            else if (in->sub == GG_REDUCE_SUM) *y = *y + reg[in->a];
            else *y = ref_nmax(*y, reg[in->a]);
            break;
        }
        default: break;
        }
    }
}

static gg_status fused_pass_ref(const gg_ctx *ctx, const gg_fprogram *p);

gg_status gg_fused_f32_ref(const gg_ctx *ctx, const gg_fprogram *p) {
    gg_status st = fused_pass_ref(ctx, p);
    if (st == GG_OK && p && p->post) st = gg_fused_f32_ref(ctx, p->post);
    return st;
}

static gg_status fused_pass_ref(const gg_ctx *ctx, const gg_fprogram *p) {
    gg_status st = gg__fused_validate(p, 1);
    if (st != GG_OK) return st;
    float stack_regs[REF_REGS];
    float *reg = stack_regs;
    if (p->nregs > REF_REGS) {
        if (!ctx || !ctx->scratch || ctx->scratch_len < p->nregs) return GG_ERR_SCRATCH;
        reg = ctx->scratch;
    }
    gg__fused_init_reductions(p);
    int64_t total = 1;
    for (int d = 0; d < p->rank; d++) total *= p->shape[d];
    for (int64_t i = 0; i < total; i++) {
        int64_t idx[GG_MAX_RANK];
        int64_t rest = i;
        for (int d = p->rank - 1; d >= 0; d--) {
            idx[d] = rest % p->shape[d];
            rest /= p->shape[d];
        }
        ref_element(ctx, p, idx, i, reg, 0);
    }
    return GG_OK;
}

gg_status gg_fused_phases_f32_ref(const gg_ctx *ctx, int32_t nphases, const gg_fprogram *const *phases,
                                  const int32_t *reduced) {
    gg_status st = gg__fused_phases_validate(nphases, phases, reduced);
    for (int32_t k = 0; k < nphases && st == GG_OK; k++) st = gg_fused_f32_ref(ctx, phases[k]);
    return st;
}

gg_status gg__fused_ref_value(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *idx, float *value) {
    float stack_regs[REF_REGS];
    float *reg = stack_regs;
    if (p->nregs > REF_REGS) {
        if (!ctx || !ctx->scratch || ctx->scratch_len < p->nregs) return GG_ERR_SCRATCH;
        reg = ctx->scratch;
    }
    int64_t flat = 0;
    for (int d = 0; d < p->rank; d++) flat = flat * p->shape[d] + idx[d];
    ref_element(ctx, p, idx, flat, reg, value);
    return GG_OK;
}
