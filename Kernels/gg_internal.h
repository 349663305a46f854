/*
 * gg_internal.h: tile-level workers shared between kernel files (not part of
 * the public API; names start with gg__). They are the very loops the public
 * kernels run, so a caller that uses them (the fused interpreter) computes
 * bit-identical results. Each pick returns the worker compiled for the ISA
 * gg_ctx_isa(ctx) selects.
 */
#ifndef GG_INTERNAL_H
#define GG_INTERNAL_H

#include "gg_kernels.h"

/* y[i] = (gg_unary_op)op (x[i]; p0, p1), i < n; y may equal x. */
typedef void (*gg__unary_fn)(float *y, const float *x, int64_t n, int op, float p0, float p1);
/* y[i] = (gg_binary_op)op (a[i], b[i]), i < n, all contiguous; y may equal a or b. */
typedef void (*gg__binary_fn)(float *y, const float *a, const float *b, int64_t n, int op);
/* y[i] = element offset + i of the Philox stream keyed by seed. */
typedef void (*gg__rand_fn)(float *y, int64_t n, uint64_t seed, uint64_t offset);

gg__unary_fn gg__unary_pick(const gg_ctx *ctx);       /* gg_elementwise.c */
gg__binary_fn gg__binary_pick(const gg_ctx *ctx);     /* gg_elementwise.c */
gg__rand_fn gg__rand_uniform_pick(const gg_ctx *ctx); /* gg_random.c */
gg__rand_fn gg__rand_normal_pick(const gg_ctx *ctx);  /* gg_random.c */

/* gg_fused.c: program checks shared with the reference interpreter. */
gg_status gg__fused_validate(const gg_fprogram *p, int allow_reduce);
/* Fills every REDUCE output's footprint with 0 (sum) or -inf (max). */
void gg__fused_init_reductions(const gg_fprogram *p);

#endif /* GG_INTERNAL_H */
