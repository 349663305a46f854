/*
 * gg_fused.c: the compiler's fused kernel, an interpreter of a gg_fprogram
 * (see gg_kernels.h) that runs each instruction over a whole tile at a time.
 *
 * Layout. The iteration space is first simplified (size-1 axes dropped,
 * neighbouring axes merged where every operand, and the flat index, walk
 * them contiguously), so rows along the innermost axis are as long as
 * possible. A tile is either a piece of one row (up to T floats, T a power
 * of two in [64, 1024] picked from nregs so the registers stay in L1/L2) or,
 * when rows are shorter than T/2, up to 128 whole consecutive rows. Register
 * r owns scratch[r*T ..) (per thread); per-operand row offsets are advanced
 * incrementally (no per-element division). LOAD/STORE copy rows inline for inner
 * stride 1, a splat for stride 0 and a gather/scatter otherwise; a unit-stride
 * LOAD of an input that overlaps no output is not copied (the register points
 * at the input), and an instruction whose result is STOREd next to a
 * unit-stride output that overlaps no input writes straight into it.
 *
 * Arithmetic. UNARY/BINARY call the workers of gg_elementwise.c and RAND the
 * workers of gg_random.c (through gg_internal.h), so results are bit-identical
 * to gg_unary_f32 / gg_binary_f32 / gg_rand_*_f32(key, offset) over the
 * same space (RAND is keyed by the flat row-major index plus the
 * instruction's offset). SELECT is the
 * element select of gg_where_f32.
 *
 * Reduction order (REDUCE; outputs are initialised to 0 / -inf first):
 *   - innermost axis reduced: each row is reduced like gg_reduce_f32 with
 *     inner == 1 (chunks of 4096 floats, 64 interleaved lanes per chunk
 *     folded by a pairwise tree, chunk values added in order to a row total
 *     that starts at 0 / -inf), then out = out + row total, rows in
 *     row-major order. A contiguous full reduction (or row sums) is therefore
 *     bit-identical to gg_reduce_f32.
 *   - innermost axis kept: out[j] = out[j] + x[j], rows in row-major order
 *     (sequential). gg_reduce_f32 adds chunks of 256 rows, so the two agree
 *     bit for bit up to 256 reduced rows and within rounding beyond.
 * Threads: the space is split into boxes along one axis that no REDUCE output
 * reduces (each output element then has one owner and keeps its order), or,
 * when every axis is reduced and rows are long, the 4096-float chunks of each
 * row run in parallel and their values are combined in order. Either way
 * results are bit-identical for any nthreads. Spaces under 65536 elements run
 * on the calling thread.
 *
 * Phases (gg_fused_phases_f32): the programs of a normalisation run box by
 * box over slabs (index combinations of the kept axes), each box on one
 * thread: phase 0 over the box, its post over the box's slabs, phase 1, ...,
 * with the uncollapsed axes, so a later phase reads each slab's finished
 * statistics while the slab is still in cache. A box holds several slabs
 * along the innermost kept axis (channels) where they fit, sized so that the
 * team's shares are equal, and its tiles of short rows stop at each run of
 * those channels (one image's), so each tile is one contiguous run that LOAD
 * and STORE use in place instead of copying rows 50 KB apart. Each slab's
 * rows are folded in the same order whatever the boxes, so results do not
 * depend on nthreads.
 *
 * Not done here: no checks that registers are written before being read,
 * that keys[a] exists (keys has no length), or that outputs do not overlap
 * inputs with different strides (in-place is fine with equal strides).
 */
#include "gg_kernels.h"
#include "gg_internal.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define RCHUNK 4096    /* row chunk: must match gg_reduce.c */
#define LANES 64       /* interleaved accumulators per chunk: must match gg_reduce.c */
#define RSUPER 256     /* chunks per parallel super-block (chunk mode) */
#define MAX_ROWS 128   /* whole rows per tile when rows are short */
#define RED_FLOATS 80  /* reduce state per output: LANES lanes, a row total, padding */

static int64_t round16(int64_t n) { return (n + 15) & ~(int64_t)15; }

/* Tile length (floats) for a program with nregs registers. */
static int64_t tile_len(int32_t nregs) {
    if (nregs <= 4) return 1024;
    if (nregs <= 12) return 512;
    if (nregs <= 32) return 256;
    if (nregs <= 64) return 128;
    return 64;
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

static int64_t op_stride(const gg_fprogram *p, int op, int d) {
    if (op < p->ninputs) return p->in_strides[(int64_t)op * p->rank + d];
    return p->out_strides[(int64_t)(op - p->ninputs) * p->rank + d];
}

gg_status gg__fused_validate(const gg_fprogram *p, int allow_reduce) {
    if (!p || p->ninstr < 0 || p->nregs < 0 || p->ninputs < 0 || p->noutputs < 0) return GG_ERR_ARG;
    if (p->rank < 0 || p->rank > GG_MAX_RANK) return GG_ERR_ARG;
    if (p->rank > 0 && !p->shape) return GG_ERR_ARG;
    for (int d = 0; d < p->rank; d++) if (p->shape[d] < 0) return GG_ERR_ARG;
    if (p->ninstr > 0 && !p->instr) return GG_ERR_ARG;
    if (p->ninputs > 0 && (!p->inputs || (p->rank > 0 && !p->in_strides))) return GG_ERR_ARG;
    if (p->noutputs > 0 && (!p->outputs || (p->rank > 0 && !p->out_strides))) return GG_ERR_ARG;
    int32_t R = p->nregs;
#define REG_OK(r) ((r) >= 0 && (r) < R)
    for (int32_t i = 0; i < p->ninstr; i++) {
        const gg_finstr *in = &p->instr[i];
        switch (in->op) {
        case GG_FOP_LOAD:
            if (!REG_OK(in->dst) || in->a < 0 || in->a >= p->ninputs || !p->inputs[in->a]) return GG_ERR_ARG;
            break;
        case GG_FOP_CONST:
            if (!REG_OK(in->dst)) return GG_ERR_ARG;
            break;
        case GG_FOP_RAND_UNIFORM:
        case GG_FOP_RAND_NORMAL:
            if (!REG_OK(in->dst) || in->a < 0 || !p->keys) return GG_ERR_ARG;
            break;
        case GG_FOP_UNARY:
            if (!REG_OK(in->dst) || !REG_OK(in->a) || in->sub < 0 || in->sub >= GG_UNARY_COUNT) return GG_ERR_ARG;
            break;
        case GG_FOP_BINARY:
            if (!REG_OK(in->dst) || !REG_OK(in->a) || !REG_OK(in->b) || in->sub < 0 || in->sub >= GG_BINARY_COUNT)
                return GG_ERR_ARG;
            break;
        case GG_FOP_SELECT:
            if (!REG_OK(in->dst) || !REG_OK(in->a) || !REG_OK(in->b) || !REG_OK(in->c)) return GG_ERR_ARG;
            break;
        case GG_FOP_STORE:
        case GG_FOP_REDUCE: {
            if (in->op == GG_FOP_REDUCE &&
                (!allow_reduce || (in->sub != GG_REDUCE_SUM && in->sub != GG_REDUCE_MAX)))
                return GG_ERR_ARG;
            if (in->dst < 0 || in->dst >= p->noutputs || !REG_OK(in->a) || !p->outputs[in->dst]) return GG_ERR_ARG;
            /* each output is written by one instruction */
            for (int32_t j = 0; j < i; j++) {
                const gg_finstr *o = &p->instr[j];
                if ((o->op == GG_FOP_STORE || o->op == GG_FOP_REDUCE) && o->dst == in->dst) return GG_ERR_ARG;
            }
            /* a stored (not reduced) output cannot broadcast over an axis: writes would race */
            if (in->op == GG_FOP_STORE)
                for (int d = 0; d < p->rank; d++)
                    if (p->shape[d] > 1 && op_stride(p, p->ninputs + in->dst, d) == 0) return GG_ERR_ARG;
            break;
        }
        default:
            return GG_ERR_ARG;
        }
    }
#undef REG_OK
    return GG_OK;
}

int gg__fused_elementwise_over(const gg_fprogram *p, int rank, const int64_t *shape) {
    if (gg__fused_validate(p, 0) != GG_OK || p->post || p->rank != rank) return 0;
    for (int d = 0; d < rank; d++)
        if (p->shape[d] != shape[d]) return 0;
    return 1;
}

int gg__fused_channel_epilogue_over(const gg_fprogram *p, const int64_t *shape) {
    if (gg__fused_validate(p, 1) != GG_OK || p->rank != 4) return 0;
    if (p->post && (gg__fused_validate(p->post, 0) != GG_OK || p->post->post)) return 0;
    for (int d = 0; d < 4; d++)
        if (p->shape[d] != shape[d]) return 0;
    for (int32_t i = 0; i < p->ninstr; i++) {
        if (p->instr[i].op != GG_FOP_REDUCE) continue;
        const int64_t *st = p->out_strides + 4 * (int64_t)p->instr[i].dst;
        if (st[0] != 0 || st[2] != 0 || st[3] != 0 || (st[1] == 0 && shape[1] > 1)) return 0;
    }
    return 1;
}

int gg__fused_region_into_ok(const gg_fprogram *p, int rank, const int64_t *shape) {
    if (!p || p->noutputs != 1 || rank < 0 || rank > GG_MAX_RANK) return 0;
    gg_fprogram q = *p;
    float block;
    float *out[1] = {&block};
    int64_t st[GG_MAX_RANK];
    for (int d = 0; d < rank; d++) st[d] = 1; /* never 0: a stored output cannot broadcast */
    q.outputs = out;
    q.out_strides = st;
    return gg__fused_elementwise_over(&q, rank, shape);
}

/* Strided fill of the positions `base + sum idx[d] * st[d]` over shape. */
static void strided_fill(float *base, const int64_t *shape, const int64_t *st, int rank, float v) {
    int64_t idx[GG_MAX_RANK] = {0};
    if (rank == 0) { base[0] = v; return; }
    for (int d = 0; d < rank; d++) if (shape[d] == 0) return;
    int r = rank - 1;
    int64_t off = 0;
    for (;;) {
        float *row = base + off;
        int64_t s = st[r];
        if (s == 1) { for (int64_t i = 0; i < shape[r]; i++) row[i] = v; }
        else { for (int64_t i = 0; i < shape[r]; i++) row[i * s] = v; }
        int d = r - 1;
        for (; d >= 0; d--) {
            idx[d]++;
            off += st[d];
            if (idx[d] < shape[d]) break;
            off -= idx[d] * st[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

void gg__fused_init_reductions(const gg_fprogram *p) {
    for (int32_t i = 0; i < p->ninstr; i++) {
        const gg_finstr *in = &p->instr[i];
        if (in->op != GG_FOP_REDUCE) continue;
        int64_t shape[GG_MAX_RANK], st[GG_MAX_RANK];
        for (int d = 0; d < p->rank; d++) {
            st[d] = op_stride(p, p->ninputs + in->dst, d);
            shape[d] = st[d] == 0 ? 1 : p->shape[d]; /* a reduced axis, even an empty one */
        }
        strided_fill(p->outputs[in->dst], shape, st, p->rank, in->sub == GG_REDUCE_SUM ? 0.0f : -INFINITY);
    }
}

/* ------------------------------------------------------------------ */
/* Execution state                                                     */

typedef struct fexec {
    const gg_fprogram *p;
    int rank;                    /* >= 1 */
    int64_t shape[GG_MAX_RANK];
    int nin, nout, nops;         /* operands: inputs, outputs, then the flat index */
    const int64_t *st;           /* nops x GG_MAX_RANK strides over this space */
    int64_t T;
    int64_t thread_floats;
    gg__unary_fn un;
    gg__binary_fn bin;
    gg__rand_fn ru, rn;
    gg__row_chunk_fn row;
    float *partial;              /* chunk mode: RSUPER x nout chunk values, then nout row totals */
    const int32_t *inplace;      /* ninstr: 1 for a LOAD that may read its input in place */
    int box_outputs;             /* 1: outputs are addressed from the box's corner, not the space's origin */
    int runs;                    /* 1: a tile of whole rows ends where the next-outer axis steps */
} fexec;

typedef struct fthr {
    float *regs;      /* nregs x T */
    float **rp;       /* nregs: where each register's current tile is (its buffer, an input or an output) */
    float *red;       /* nout x RED_FLOATS */
    int64_t *base;    /* nops: offsets at the current row's first column (of the box) */
    int64_t *rowoff;  /* nops x MAX_ROWS: offsets of the tile's rows */
    int64_t idx[GG_MAX_RANK];
    float *chunk_out; /* chunk mode: chunk values go to chunk_out[o], rows are not finished */
} fthr;

static void sizes(const gg_fprogram *p, int64_t *shared, int64_t *per_thread) {
    int64_t nops = (int64_t)p->ninputs + p->noutputs + 1;
    int64_t nout = p->noutputs;
    *shared = round16(2 * nops * GG_MAX_RANK) + round16((RSUPER + 1) * nout) + round16(p->ninstr > 0 ? p->ninstr : 0);
    *per_thread = round16((int64_t)p->nregs * tile_len(p->nregs)) + round16(2 * (int64_t)p->nregs) +
                  round16(nout * RED_FLOATS) +
                  round16(2 * nops) + round16(2 * nops * MAX_ROWS);
}

static void thr_init(const fexec *e, fthr *t, float *mem) {
    const gg_fprogram *p = e->p;
    t->regs = mem;
    mem += round16((int64_t)p->nregs * e->T);
    t->rp = (float **)mem;
    mem += round16(2 * (int64_t)p->nregs);
    t->red = mem;
    mem += round16((int64_t)e->nout * RED_FLOATS);
    t->base = (int64_t *)mem;
    mem += round16(2 * (int64_t)e->nops);
    t->rowoff = (int64_t *)mem;
    t->chunk_out = 0;
}

GG__INLINE int64_t ST(const fexec *e, int op, int d) { return e->st[op * GG_MAX_RANK + d]; }

/* Cursor at box corner lo: idx and base offsets (inner column lo[r]). */
GG__INLINE void cursor_start(const fexec *e, fthr *t, const int64_t *lo) {
    for (int k = 0; k < e->nops; k++) {
        int64_t off = 0;
        if (!(e->box_outputs && k >= e->nin && k < e->nin + e->nout))
            for (int d = 0; d < e->rank; d++) off += lo[d] * ST(e, k, d);
        t->base[k] = off;
    }
    for (int d = 0; d < e->rank; d++) t->idx[d] = lo[d];
}

/* Next row of the box (row-major over the outer axes). */
GG__INLINE void cursor_next_row(const fexec *e, fthr *t, const int64_t *lo, const int64_t *hi) {
    for (int d = e->rank - 2; d >= 0; d--) {
        t->idx[d]++;
        for (int k = 0; k < e->nops; k++) t->base[k] += ST(e, k, d);
        if (t->idx[d] < hi[d]) return;
        int64_t back = t->idx[d] - lo[d];
        for (int k = 0; k < e->nops; k++) t->base[k] -= back * ST(e, k, d);
        t->idx[d] = lo[d];
    }
}

/* y[0, n) = x[0, n), inline: LOAD and STORE copy rows of a few dozen floats
 * (batch norm's 7x7 planes), where a memcpy call cost more than the copy. */
__attribute__((no_builtin("memcpy"))) GG__INLINE void copy_row(float *y, const float *x, int64_t n) {
    GG__VLOOP for (int64_t i = 0; i < n; i++) y[i] = x[i];
}

GG__INLINE float nmax(float m, float v) { return (v > m || v != v) ? v : m; }

GG__INLINE void lanes_acc(float *accp, const float *x, int64_t n, int sum) {
    float acc[LANES];
    memcpy(acc, accp, sizeof acc);
    int64_t i = 0;
    if (sum) {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
        for (int j = 0; i + j < n; j++) acc[j] += x[i + j];
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) acc[j] = nmax(acc[j], x[i + j]);
        for (int j = 0; i + j < n; j++) acc[j] = nmax(acc[j], x[i + j]);
    }
    memcpy(accp, acc, sizeof acc);
}

/* Folds the lanes by gg_reduce.c's pairwise tree and resets them. */
GG__INLINE float lanes_fold(float *acc, int sum) {
    for (int w = LANES / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) acc[j] = sum ? acc[j] + acc[j + w] : nmax(acc[j], acc[j + w]);
    float v = acc[0];
    float init = sum ? 0.0f : -INFINITY;
    for (int j = 0; j < LANES; j++) acc[j] = init;
    return v;
}

GG__INLINE float combine(float a, float b, int sum) { return sum ? a + b : nmax(a, b); }

/* 1 when the nr rows at offsets ro (len floats each) are one contiguous run. */
GG__INLINE int rows_contiguous(const int64_t *ro, int nr, int64_t len) {
    for (int k = 1; k < nr; k++) if (ro[k] != ro[0] + k * len) return 0;
    return 1;
}

/* Runs the program over one tile: nr rows of len floats whose offsets are in
 * t->rowoff. whole: the rows are complete box rows; otherwise nr == 1 and the
 * piece starts at column col of its row (rowlen long in the box).
 * A unit-stride LOAD marked in e->inplace reads its input in place; an
 * instruction followed by a STORE of its result to a unit-stride output
 * computes straight into that output (it writes what the STORE would, at the
 * same point of the program, so it is exactly as safe). */
GG__INLINE void run_tile(const fexec *e, fthr *t, int nr, int64_t len, int whole, int64_t col, int64_t rowlen) {
    const gg_fprogram *p = e->p;
    const int64_t T = e->T;
    const int64_t n = (int64_t)nr * len;
    const int r = e->rank - 1;
    float **rp = t->rp;
    int stored = 0; /* the next STORE was done by the instruction before it */
    for (int32_t ii = 0; ii < p->ninstr; ii++) {
        const gg_finstr *in = &p->instr[ii];
        float *d = t->regs + (int64_t)in->dst * T;
        if (in->op != GG_FOP_LOAD && in->op != GG_FOP_STORE && in->op != GG_FOP_REDUCE && ii + 1 < p->ninstr) {
            const gg_finstr *nx = &p->instr[ii + 1];
            int op = e->nin + nx->dst;
            if (nx->op == GG_FOP_STORE && nx->a == in->dst && ST(e, op, r) == 1) {
                const int64_t *ro = t->rowoff + (int64_t)op * MAX_ROWS;
                if (rows_contiguous(ro, nr, len)) {
                    d = p->outputs[nx->dst] + ro[0];
                    stored = 1;
                }
            }
        }
        switch (in->op) {
        case GG_FOP_LOAD: {
            const float *src = p->inputs[in->a];
            const int64_t *ro = t->rowoff + (int64_t)in->a * MAX_ROWS;
            int64_t s = ST(e, in->a, r);
            if (s == 1 && e->inplace[ii] && rows_contiguous(ro, nr, len)) {
                rp[in->dst] = (float *)(src + ro[0]);
                break;
            }
            for (int k = 0; k < nr; k++) {
                const float *x = src + ro[k];
                float *y = d + (int64_t)k * len;
                if (s == 1) copy_row(y, x, len);
                else if (s == 0) { float v = x[0]; GG__VLOOP for (int64_t i = 0; i < len; i++) y[i] = v; }
                else { for (int64_t i = 0; i < len; i++) y[i] = x[i * s]; }
            }
            rp[in->dst] = d;
            break;
        }
        case GG_FOP_CONST: {
            float v = in->p0;
            GG__VLOOP for (int64_t i = 0; i < n; i++) d[i] = v;
            rp[in->dst] = d;
            break;
        }
        case GG_FOP_RAND_UNIFORM:
        case GG_FOP_RAND_NORMAL: {
            gg__rand_fn fn = in->op == GG_FOP_RAND_UNIFORM ? e->ru : e->rn;
            const int64_t *ro = t->rowoff + (int64_t)(e->nops - 1) * MAX_ROWS;
            uint64_t key = p->keys[in->a];
            uint64_t offset = (uint64_t)(uint32_t)in->b | (uint64_t)(uint32_t)in->c << 32;
            for (int k = 0; k < nr; k++) fn(d + (int64_t)k * len, len, key, (uint64_t)ro[k] + offset);
            rp[in->dst] = d;
            break;
        }
        case GG_FOP_UNARY:
            e->un(d, rp[in->a], n, in->sub, in->p0, in->p1);
            rp[in->dst] = d;
            break;
        case GG_FOP_BINARY:
            e->bin(d, rp[in->a], rp[in->b], n, in->sub);
            rp[in->dst] = d;
            break;
        case GG_FOP_SELECT: {
            const float *c = rp[in->a], *a = rp[in->b], *b = rp[in->c];
            /* both loaded unconditionally: a blend. Written as c ? a[i] : b[i] the
             * compiler may not speculate the loads and selected addresses per
             * element, which had cost a third of this interpreter's time in dcgan */
            GG__VLOOP for (int64_t i = 0; i < n; i++) {
                const float ai = a[i], bi = b[i];
                d[i] = c[i] != 0.0f ? ai : bi;
            }
            rp[in->dst] = d;
            break;
        }
        case GG_FOP_STORE: {
            if (stored) { stored = 0; break; }
            float *dst = p->outputs[in->dst];
            const float *x = rp[in->a];
            int op = e->nin + in->dst;
            const int64_t *ro = t->rowoff + (int64_t)op * MAX_ROWS;
            int64_t s = ST(e, op, r);
            for (int k = 0; k < nr; k++) {
                float *y = dst + ro[k];
                const float *xk = x + (int64_t)k * len;
                if (s == 1) copy_row(y, xk, len);
                else { for (int64_t i = 0; i < len; i++) y[i * s] = xk[i]; }
            }
            break;
        }
        case GG_FOP_REDUCE: {
            float *dst = p->outputs[in->dst];
            const float *x = rp[in->a];
            int op = e->nin + in->dst;
            const int64_t *ro = t->rowoff + (int64_t)op * MAX_ROWS;
            int64_t s = ST(e, op, r);
            int sum = in->sub == GG_REDUCE_SUM;
            if (s == 0) {
                float *acc = t->red + (int64_t)in->dst * RED_FLOATS;
                if (whole) {
                    /* whole rows shorter than a chunk: one chunk each, folded in
                     * registers by gg_reduce.c's own worker */
                    for (int k = 0; k < nr; k++) {
                        float row = e->row(x + (int64_t)k * len, len, in->sub);
                        float total = combine(sum ? 0.0f : -INFINITY, row, sum);
                        dst[ro[k]] = combine(dst[ro[k]], total, sum);
                    }
                } else {
                    lanes_acc(acc, x, len, sum);
                    int64_t end = col + len;
                    if (end == rowlen || end % RCHUNK == 0) {
                        float v = lanes_fold(acc, sum);
                        if (t->chunk_out) {
                            t->chunk_out[in->dst] = v;
                        } else {
                            acc[LANES] = combine(acc[LANES], v, sum);
                            if (end == rowlen) {
                                dst[ro[0]] = combine(dst[ro[0]], acc[LANES], sum);
                                acc[LANES] = sum ? 0.0f : -INFINITY;
                            }
                        }
                    }
                }
            } else {
                for (int k = 0; k < nr; k++) {
                    float *y = dst + ro[k];
                    const float *xk = x + (int64_t)k * len;
                    if (s == 1) {
                        if (sum) { GG__VLOOP for (int64_t i = 0; i < len; i++) y[i] = y[i] + xk[i]; }
                        else { GG__VLOOP for (int64_t i = 0; i < len; i++) y[i] = nmax(y[i], xk[i]); }
                    } else {
                        if (sum) { for (int64_t i = 0; i < len; i++) y[i * s] = y[i * s] + xk[i]; }
                        else { for (int64_t i = 0; i < len; i++) y[i * s] = nmax(y[i * s], xk[i]); }
                    }
                }
            }
            break;
        }
        default:
            break;
        }
    }
}

GG__INLINE void reset_reduce_state(const fexec *e, fthr *t) {
    const gg_fprogram *p = e->p;
    for (int32_t i = 0; i < p->ninstr; i++) {
        const gg_finstr *in = &p->instr[i];
        if (in->op != GG_FOP_REDUCE) continue;
        float *acc = t->red + (int64_t)in->dst * RED_FLOATS;
        float init = in->sub == GG_REDUCE_SUM ? 0.0f : -INFINITY;
        for (int j = 0; j <= LANES; j++) acc[j] = init;
    }
}

/* Columns [c_lo, c_hi) (relative to the box's first column) of the current
 * row, as single-row tiles; rowlen is the box's row length. */
GG__INLINE void run_row_piece(const fexec *e, fthr *t, int64_t c_lo, int64_t c_hi, int64_t rowlen) {
    const int r = e->rank - 1;
    for (int64_t c = c_lo; c < c_hi; c += e->T) {
        int64_t len = c_hi - c < e->T ? c_hi - c : e->T;
        for (int k = 0; k < e->nops; k++) t->rowoff[(int64_t)k * MAX_ROWS] = t->base[k] + c * ST(e, k, r);
        run_tile(e, t, 1, len, 0, c, rowlen);
    }
}

/* The whole box [lo, hi), rows in row-major order. */
GG__INLINE void run_box_body(const fexec *e, fthr *t, const int64_t *lo, const int64_t *hi) {
    const int r = e->rank - 1;
    int64_t nrows = 1;
    for (int d = 0; d < r; d++) nrows *= hi[d] - lo[d];
    int64_t L = hi[r] - lo[r];
    if (nrows == 0 || L == 0) return;
    reset_reduce_state(e, t);
    cursor_start(e, t, lo);
    if (2 * L <= e->T && nrows > 1) {
        int64_t per = e->T / L < MAX_ROWS ? e->T / L : MAX_ROWS;
        const int64_t run = e->runs && r >= 1 ? hi[r - 1] - lo[r - 1] : nrows;
        for (int64_t row = 0; row < nrows;) {
            int64_t left = run - row % run;
            int nr = (int)(left < per ? left : per);
            for (int j = 0; j < nr; j++) {
                for (int k = 0; k < e->nops; k++) t->rowoff[(int64_t)k * MAX_ROWS + j] = t->base[k];
                if (row + j + 1 < nrows) cursor_next_row(e, t, lo, hi);
            }
            run_tile(e, t, nr, L, 1, 0, L);
            row += nr;
        }
    } else {
        for (int64_t row = 0; row < nrows; row++) {
            run_row_piece(e, t, 0, L, L);
            if (row + 1 < nrows) cursor_next_row(e, t, lo, hi);
        }
    }
}

GG__ISA_VARIANTS(void, box, (const fexec *e, fthr *t, const int64_t *lo, const int64_t *hi), run_box_body(e, t, lo, hi))
GG__ISA_VARIANTS(void, piece, (const fexec *e, fthr *t, int64_t a, int64_t b, int64_t L), run_row_piece(e, t, a, b, L))

static void pick(const gg_ctx *ctx, fexec *e, box_fn *bf, piece_fn *pf) {
    e->un = gg__unary_pick(ctx);
    e->bin = gg__binary_pick(ctx);
    e->ru = gg__rand_uniform_pick(ctx);
    e->rn = gg__rand_normal_pick(ctx);
    e->row = gg__row_chunk_pick(ctx);
    *bf = box_pick(ctx);
    *pf = piece_pick(ctx);
}

/* Bytes [lo, hi] an operand can touch over the program's space. */
static void extent(const gg_fprogram *p, int op, const char *base, const char **lo, const char **hi) {
    int64_t a = 0, b = 0;
    for (int d = 0; d < p->rank; d++) {
        int64_t span = (p->shape[d] - 1) * op_stride(p, op, d);
        if (span < 0) a += span; else b += span;
    }
    *lo = base + a * (int64_t)sizeof(float);
    *hi = base + b * (int64_t)sizeof(float) + sizeof(float) - 1;
}

/* Fills e (space, strides cache in `shared`). collapse: simplify the space;
 * otherwise keep the program's axes (rank 0 becomes a 1-element rank 1). */
static void exec_init(fexec *e, const gg_fprogram *p, float *shared, int collapse) {
    e->p = p;
    e->box_outputs = 0;
    e->runs = 0;
    e->nin = p->ninputs;
    e->nout = p->noutputs;
    e->nops = p->ninputs + p->noutputs + 1;
    e->T = tile_len(p->nregs);
    int64_t flat[GG_MAX_RANK];
    int64_t f = 1;
    for (int d = p->rank - 1; d >= 0; d--) { flat[d] = f; f *= p->shape[d]; }
    int64_t *st = (int64_t *)shared;
    e->st = st;
    e->partial = shared + round16(2 * (int64_t)e->nops * GG_MAX_RANK);
    int32_t *inplace = (int32_t *)(e->partial + round16((RSUPER + 1) * (int64_t)e->nout));
    e->inplace = inplace;
    /* A LOAD may leave its register pointing into the input unless an output
     * overlapping that input is written (STORE/REDUCE, or the instruction
     * computing into that output just before its STORE) before the loaded
     * value's last read. */
    for (int32_t k = 0; k < p->ninstr; k++) {
        const gg_finstr *ld = &p->instr[k];
        inplace[k] = 0;
        if (ld->op != GG_FOP_LOAD) continue;
        int32_t last = k;
        for (int32_t j = k + 1; j < p->ninstr; j++) {
            const gg_finstr *u = &p->instr[j];
            int reads = 0, writes = 0;
            switch (u->op) {
            case GG_FOP_UNARY: reads = u->a == ld->dst; writes = 1; break;
            case GG_FOP_BINARY: reads = u->a == ld->dst || u->b == ld->dst; writes = 1; break;
            case GG_FOP_SELECT: reads = u->a == ld->dst || u->b == ld->dst || u->c == ld->dst; writes = 1; break;
            case GG_FOP_STORE: case GG_FOP_REDUCE: reads = u->a == ld->dst; break;
            default: writes = 1; break;
            }
            if (reads) last = j;
            if (writes && u->dst == ld->dst) break;
        }
        const char *ilo, *ihi;
        extent(p, ld->a, (const char *)p->inputs[ld->a], &ilo, &ihi);
        int ok = 1;
        for (int32_t j = k + 1; j <= last + 1 && j < p->ninstr && ok; j++) {
            const gg_finstr *w = &p->instr[j];
            if (w->op != GG_FOP_STORE && w->op != GG_FOP_REDUCE) continue;
            const char *olo, *ohi;
            extent(p, p->ninputs + w->dst, (const char *)p->outputs[w->dst], &olo, &ohi);
            if (ilo <= ohi && olo <= ihi) ok = 0;
        }
        inplace[k] = ok;
    }
    int orig[GG_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < p->rank; d++) {
        if (collapse && p->shape[d] == 1) continue;
        if (collapse && rank > 0) {
            int merge = 1;
            int prev = orig[rank - 1];
            for (int k = 0; k < e->nops - 1 && merge; k++)
                if (op_stride(p, k, prev) != op_stride(p, k, d) * p->shape[d]) merge = 0;
            if (merge) {
                e->shape[rank - 1] *= p->shape[d];
                orig[rank - 1] = d;
                continue;
            }
        }
        e->shape[rank] = p->shape[d];
        orig[rank] = d;
        rank++;
    }
    if (rank == 0) {
        e->rank = 1;
        e->shape[0] = 1;
        for (int k = 0; k < e->nops; k++) st[k * GG_MAX_RANK] = 0;
        return;
    }
    e->rank = rank;
    for (int k = 0; k < e->nops; k++)
        for (int d = 0; d < rank; d++)
            st[k * GG_MAX_RANK + d] = k < e->nops - 1 ? op_stride(p, k, orig[d]) : flat[orig[d]];
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */

int64_t gg_fused_f32_scratch(const gg_ctx *ctx, const gg_fprogram *p) {
    if (!p || p->nregs < 0 || p->ninputs < 0 || p->noutputs < 0) return 0;
    int64_t shared, per;
    sizes(p, &shared, &per);
    int64_t need = shared + gg__threads(ctx) * per;
    if (p->post) {  /* the post program runs after this one, in the same scratch */
        int64_t post = gg_fused_f32_scratch(ctx, p->post);
        if (post > need) need = post;
    }
    return need;
}

static int has_reduce(const gg_fprogram *p) {
    for (int32_t i = 0; i < p->ninstr; i++) if (p->instr[i].op == GG_FOP_REDUCE) return 1;
    return 0;
}

static gg_status fused_pass(const gg_ctx *ctx, const gg_fprogram *p);

gg_status gg_fused_f32(const gg_ctx *ctx, const gg_fprogram *p) {
    gg_status st = fused_pass(ctx, p);
    if (st == GG_OK && p && p->post) st = gg_fused_f32(ctx, p->post);
    return st;
}

/* One program over its whole iteration space (its post program not included). */
static gg_status fused_pass(const gg_ctx *ctx, const gg_fprogram *p) {
    gg_status stt = gg__fused_validate(p, 1);
    if (stt != GG_OK) return stt;
    int64_t need = gg_fused_f32_scratch(ctx, p);
    if (need > 0 && (!ctx || !ctx->scratch || ctx->scratch_len < need)) return GG_ERR_SCRATCH;
    int reduce = has_reduce(p);
    if (reduce) gg__fused_init_reductions(p);
    int64_t total = 1;
    for (int d = 0; d < p->rank; d++) total *= p->shape[d];
    if (total == 0 || p->ninstr == 0) return GG_OK;

    int64_t shared, per;
    sizes(p, &shared, &per);
    fexec e;
    exec_init(&e, p, ctx->scratch, 1);
    float *thread_mem = ctx->scratch + shared;
    box_fn bf;
    piece_fn pf;
    pick(ctx, &e, &bf, &pf);
    const int R = e.rank, r = R - 1;
    int64_t lo[GG_MAX_RANK], hi[GG_MAX_RANK];
    for (int d = 0; d < R; d++) { lo[d] = 0; hi[d] = e.shape[d]; }

    int nt = gg__team_size(ctx, total);
    if (nt == 1) {
        fthr t;
        thr_init(&e, &t, thread_mem);
        bf(&e, &t, lo, hi);
        return GG_OK;
    }

    /* Split along an axis that no REDUCE output reduces: the outermost one
     * with at least 4 units per thread, else the one with the most units. */
    int freeax[GG_MAX_RANK];
    for (int d = 0; d < R; d++) freeax[d] = 1;
    for (int32_t i = 0; i < p->ninstr; i++) {
        if (p->instr[i].op != GG_FOP_REDUCE) continue;
        for (int d = 0; d < R; d++) if (ST(&e, e.nin + p->instr[i].dst, d) == 0) freeax[d] = 0;
    }
    int split = -1, cand = -1;
    int64_t best = 0;
    for (int d = 0; d < R; d++) {
        if (!freeax[d]) continue;
        int64_t units = d == r ? (e.shape[r] + 15) / 16 : e.shape[d];
        if (units >= 4 * (int64_t)nt) { split = d; break; }
        if (units > best) { best = units; cand = d; }
    }
    if (split < 0 && best >= nt) split = cand;
    if (split >= 0) {
        int64_t units = split == r ? (e.shape[r] + 15) / 16 : e.shape[split];
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
        {
            int tid = 0, team = 1;
#ifdef _OPENMP
            tid = omp_get_thread_num();
            team = omp_get_num_threads();
#endif
            int64_t a = units * tid / team, b = units * (tid + 1) / team;
            if (split == r) {
                a *= 16;
                b = b * 16 < e.shape[r] ? b * 16 : e.shape[r];
            }
            if (b > a) {
                int64_t blo[GG_MAX_RANK], bhi[GG_MAX_RANK];
                for (int d = 0; d < R; d++) { blo[d] = lo[d]; bhi[d] = hi[d]; }
                blo[split] = a;
                bhi[split] = b;
                fthr t;
                thr_init(&e, &t, thread_mem + tid * per);
                bf(&e, &t, blo, bhi);
            }
        }
        return GG_OK;
    }

    if (e.shape[r] < 2 * RCHUNK) {
        fthr t;
        thr_init(&e, &t, thread_mem);
        bf(&e, &t, lo, hi);
        return GG_OK;
    }

    /* Chunk mode: rows in order; the 4096-float chunks of a row in parallel,
     * their values combined in index order (gg_reduce.c's row_parallel). */
    fthr m;
    thr_init(&e, &m, thread_mem);
    int64_t *row_base = m.base; /* read-only for the workers */
    float *totals = e.partial + (int64_t)RSUPER * e.nout;
    int64_t nrows = 1;
    for (int d = 0; d < r; d++) nrows *= e.shape[d];
    const int64_t L = e.shape[r];
    const int64_t nch = (L + RCHUNK - 1) / RCHUNK;
    cursor_start(&e, &m, lo);
    for (int64_t row = 0; row < nrows; row++) {
        for (int32_t i = 0; i < p->ninstr; i++)
            if (p->instr[i].op == GG_FOP_REDUCE)
                totals[p->instr[i].dst] = p->instr[i].sub == GG_REDUCE_SUM ? 0.0f : -INFINITY;
        for (int64_t c0 = 0; c0 < nch; c0 += RSUPER) {
            int cnt = (int)(nch - c0 < RSUPER ? nch - c0 : RSUPER);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
            for (int k = 0; k < cnt; k++) {
                int tid = 0;
#ifdef _OPENMP
                tid = omp_get_thread_num();
#endif
                fthr t;
                thr_init(&e, &t, thread_mem + tid * per);
                t.base = row_base;
                t.chunk_out = e.partial + (int64_t)k * e.nout;
                reset_reduce_state(&e, &t);
                int64_t s = (c0 + k) * RCHUNK;
                pf(&e, &t, s, s + RCHUNK < L ? s + RCHUNK : L, L);
            }
            for (int32_t i = 0; i < p->ninstr; i++) {
                const gg_finstr *in = &p->instr[i];
                if (in->op != GG_FOP_REDUCE || ST(&e, e.nin + in->dst, r) != 0) continue;
                int sum = in->sub == GG_REDUCE_SUM;
                for (int k = 0; k < cnt; k++)
                    totals[in->dst] = combine(totals[in->dst], e.partial[(int64_t)k * e.nout + in->dst], sum);
            }
        }
        for (int32_t i = 0; i < p->ninstr; i++) {
            const gg_finstr *in = &p->instr[i];
            if (in->op != GG_FOP_REDUCE || ST(&e, e.nin + in->dst, r) != 0) continue;
            float *y = p->outputs[in->dst] + row_base[e.nin + in->dst];
            *y = combine(*y, totals[in->dst], in->sub == GG_REDUCE_SUM);
        }
        if (row + 1 < nrows) cursor_next_row(&e, &m, lo, hi);
    }
    return GG_OK;
}

/* The box [lo, lo + extent) on the calling thread; box_outputs: see fexec.
 * accumulate: REDUCE is allowed and adds into what its outputs hold. */
static gg_status region(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *lo, const int64_t *extent,
                        int box_outputs, int accumulate) {
    gg_status stt = gg__fused_validate(p, accumulate);
    if (stt != GG_OK) return stt;
    if (p->post) return GG_ERR_ARG;
    if (p->rank > 0 && (!lo || !extent)) return GG_ERR_ARG;
    int64_t count = 1;
    for (int d = 0; d < p->rank; d++) {
        if (lo[d] < 0 || extent[d] < 0 || lo[d] > p->shape[d] || extent[d] > p->shape[d] - lo[d]) return GG_ERR_ARG;
        count *= extent[d];
    }
    gg_ctx one = ctx ? *ctx : (gg_ctx){1, -1, 0, 0};
    one.nthreads = 1;
    int64_t need = gg_fused_f32_scratch(&one, p);
    if (need > 0 && (!one.scratch || one.scratch_len < need)) return GG_ERR_SCRATCH;
    if (count == 0 || p->ninstr == 0) return GG_OK;
    int64_t shared, per;
    sizes(p, &shared, &per);
    fexec e;
    exec_init(&e, p, one.scratch, 0);
    e.box_outputs = box_outputs;
    box_fn bf;
    piece_fn pf;
    pick(&one, &e, &bf, &pf);
    (void)pf;
    int64_t blo[GG_MAX_RANK], bhi[GG_MAX_RANK];
    if (p->rank == 0) {
        blo[0] = 0;
        bhi[0] = 1;
    } else {
        for (int d = 0; d < p->rank; d++) { blo[d] = lo[d]; bhi[d] = lo[d] + extent[d]; }
    }
    fthr t;
    thr_init(&e, &t, one.scratch + shared);
    bf(&e, &t, blo, bhi);
    return GG_OK;
}

gg_status gg_fused_region_f32(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *lo, const int64_t *extent) {
    return region(ctx, p, lo, extent, 0, 0);
}

gg_status gg__fused_region_acc(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *lo, const int64_t *extent) {
    return region(ctx, p, lo, extent, 0, 1);
}

gg_status gg__fused_region_into(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *lo, const int64_t *extent,
                                float *dst, const int64_t *dst_strides) {
    if (!p || p->noutputs != 1 || !dst || !dst_strides) return GG_ERR_ARG;
    gg_fprogram q = *p;
    float *out[1] = {dst};
    q.outputs = out;
    q.out_strides = dst_strides;
    return region(ctx, &q, lo, extent, 1, 0);
}

/* ------------------------------------------------------------------ */
/* Phases over slabs                                                   */

/* Elements of the phases' space per box, at most: 256 KiB per operand, so a
 * box's inputs stay in L2 between its phases. 16384 had left dcgan's 14x14
 * batch norms one channel per box, 64 rows 50 KB apart. */
#define BOX_FLOATS 65536

/* Program i of a phases call: phase i / 2, or its post (maybe NULL) when i is odd. */
static const gg_fprogram *phase_prog(const gg_fprogram *const *phases, int32_t i) {
    return i % 2 ? phases[i / 2]->post : phases[i / 2];
}

static int reduces_into(const gg_fprogram *p, int32_t out) {
    for (int32_t i = 0; i < p->ninstr; i++)
        if (p->instr[i].op == GG_FOP_REDUCE && p->instr[i].dst == out) return 1;
    return 0;
}

/* Bytes [lo, hi] operand op of p may touch; 0 when it touches none. An axis the
 * operand does not move along counts even when empty: a REDUCE output over an
 * empty axis is still initialised. */
static int touched(const gg_fprogram *p, int op, const char **lo, const char **hi) {
    const float *base = op < p->ninputs ? p->inputs[op] : p->outputs[op - p->ninputs];
    if (!base) return 0;
    for (int d = 0; d < p->rank; d++)
        if (p->shape[d] == 0 && op_stride(p, op, d) != 0) return 0;
    extent(p, op, (const char *)base, lo, hi);
    return 1;
}

/* 1 when operand qop of q reaches, at each index of a slab, an element that
 * output wop of w writes at an index of the same slab: same base, same strides
 * on the kept axes. On a reduced axis a phase's operand must move as w's output
 * does, which for a post's output (one element per slab) is not at all; a
 * post's own operand sits at reduced index 0, so it has no constraint there.
 * Axes of extent 1 move nothing and are skipped. */
static int same_slab_view(const gg_fprogram *q, int qop, int q_post, const gg_fprogram *w, int wop, int w_post,
                          const int64_t *shape, const int32_t *reduced) {
    const float *qb = qop < q->ninputs ? q->inputs[qop] : q->outputs[qop - q->ninputs];
    if (qb != w->outputs[wop - w->ninputs]) return 0;
    for (int d = 0; d < q->rank; d++) {
        if (shape[d] <= 1) continue;
        int64_t a = op_stride(q, qop, d), b = op_stride(w, wop, d);
        if (!reduced[d]) { if (a != b) return 0; }
        else if (!q_post && a != (w_post ? 0 : b)) return 0;
    }
    return 1;
}

gg_status gg__fused_phases_validate(int32_t nphases, const gg_fprogram *const *phases, const int32_t *reduced) {
    if (nphases < 1 || !phases || gg__fused_validate(phases[0], 1) != GG_OK) return GG_ERR_ARG;
    const int R = phases[0]->rank;
    const int64_t *shape = phases[0]->shape;
    if (R > 0 && !reduced) return GG_ERR_ARG;
    for (int32_t k = 0; k < nphases; k++) {
        const gg_fprogram *p = phases[k];
        if (gg__fused_validate(p, 1) != GG_OK || p->rank != R) return GG_ERR_ARG;
        for (int d = 0; d < R; d++) if (p->shape[d] != shape[d]) return GG_ERR_ARG;
        /* each slab's reductions are its own: folded over the reduced axes, apart on the kept ones */
        for (int32_t i = 0; i < p->ninstr; i++) {
            if (p->instr[i].op != GG_FOP_REDUCE) continue;
            for (int d = 0; d < R; d++)
                if (shape[d] > 1 && (op_stride(p, p->ninputs + p->instr[i].dst, d) == 0) != (reduced[d] != 0))
                    return GG_ERR_ARG;
        }
        const gg_fprogram *q = p->post;
        if (!q) continue;
        if (gg__fused_validate(q, 0) != GG_OK || q->post || q->rank != R) return GG_ERR_ARG;
        for (int d = 0; d < R; d++) if (q->shape[d] != (reduced[d] ? 1 : shape[d])) return GG_ERR_ARG;
    }
    /* Programs that share memory must meet in the same slab, which one box runs
     * in program order as the reference does; and a reduction's output, set to
     * 0 / -inf before anything runs, must be left alone by every earlier program. */
    for (int32_t i = 0; i < 2 * nphases; i++) {
        const gg_fprogram *q = phase_prog(phases, i);
        if (!q) continue;
        for (int32_t j = 0; j < 2 * nphases; j++) {
            const gg_fprogram *w = phase_prog(phases, j);
            if (!w || j == i) continue;
            for (int a = 0; a < q->ninputs + q->noutputs; a++) {
                const char *alo, *ahi;
                if (!touched(q, a, &alo, &ahi)) continue;
                for (int32_t o = 0; o < w->noutputs; o++) {
                    const char *olo, *ohi;
                    if (!touched(w, w->ninputs + o, &olo, &ohi) || ahi < olo || ohi < alo) continue;
                    if (!same_slab_view(q, a, i % 2, w, w->ninputs + o, j % 2, shape, reduced)) return GG_ERR_ARG;
                    if (i < j && reduces_into(w, o)) return GG_ERR_ARG;
                }
            }
        }
    }
    return GG_OK;
}

/* One program of a phases call, built once and shared by the threads. */
typedef struct phase_exec {
    fexec e;              /* e.p is NULL for a phase without a post */
    float *thread_mem;    /* per floats per thread */
    int64_t per;
} phase_exec;

static int64_t phase_execs_floats(int32_t nphases) {
    return round16((2 * (int64_t)nphases * (int64_t)sizeof(phase_exec) + sizeof(float) - 1) / sizeof(float));
}

int64_t gg_fused_phases_f32_scratch(const gg_ctx *ctx, int32_t nphases, const gg_fprogram *const *phases,
                                    const int32_t *reduced) {
    (void)reduced;
    if (nphases < 1 || !phases) return 0;
    const int64_t threads = gg__threads(ctx);
    int64_t need = phase_execs_floats(nphases);
    for (int32_t i = 0; i < 2 * nphases; i++) {
        if (!phases[i / 2]) return 0;
        const gg_fprogram *q = phase_prog(phases, i);
        if (!q) continue;
        if (q->nregs < 0 || q->ninputs < 0 || q->noutputs < 0) return 0;
        int64_t shared, per;
        sizes(q, &shared, &per);
        need += shared + threads * per;
    }
    return need;
}

/* Boxes over the kept axes: extent 1 on each but the innermost kept axis,
 * which goes in chunks of m; the reduced axes whole. */
typedef struct slab_boxes {
    int rank; /* of the execs' spaces (>= 1) */
    int64_t shape[GG_MAX_RANK];
    int kept[GG_MAX_RANK], nk;
    int64_t m, nchunks;
} slab_boxes;

/* Box b (row-major over the kept axes): [lo, hi) in the phases' space, [plo, phi) in the posts'. */
static void box_bounds(const slab_boxes *g, int64_t b, int64_t *lo, int64_t *hi, int64_t *plo, int64_t *phi) {
    for (int d = 0; d < g->rank; d++) { lo[d] = 0; hi[d] = g->shape[d]; plo[d] = 0; phi[d] = 1; }
    for (int i = g->nk - 1; i >= 0; i--) {
        int d = g->kept[i];
        int64_t a, z;
        if (i == g->nk - 1) {
            a = b % g->nchunks * g->m;
            z = a + g->m < g->shape[d] ? a + g->m : g->shape[d];
            b /= g->nchunks;
        } else {
            a = b % g->shape[d];
            z = a + 1;
            b /= g->shape[d];
        }
        lo[d] = plo[d] = a;
        hi[d] = phi[d] = z;
    }
}

/* Indices of the innermost kept axis per box, at most cap: the largest that
 * cuts the inner indices into equal chunks and the boxes into equal shares of
 * the team (dcgan's 64 channels of 14x14 went in 13 boxes of 5, 7 on one
 * thread and 6 on the other), looking down to half of cap; else cap. Each
 * slab is still folded row by row in the same order, so the results do not
 * depend on it. */
static int64_t box_channels(int64_t inner, int64_t outer, int64_t cap, int64_t team) {
    const int64_t fewest = (inner + cap - 1) / cap;
    for (int64_t c = fewest; c <= 2 * fewest; c++)
        if (inner % c == 0 && outer * c % team == 0) return inner / c;
    return cap;
}

/* Boxes [b0, b1) on thread tid: each phase over the box, then its post over the box's slabs. */
static void run_boxes(const slab_boxes *g, const phase_exec *pe, int32_t nprog, box_fn bf, int64_t b0, int64_t b1,
                      int tid) {
    int64_t lo[GG_MAX_RANK], hi[GG_MAX_RANK], plo[GG_MAX_RANK], phi[GG_MAX_RANK];
    for (int64_t b = b0; b < b1; b++) {
        box_bounds(g, b, lo, hi, plo, phi);
        for (int32_t i = 0; i < nprog; i++) {
            if (!pe[i].e.p) continue;
            fthr t;
            thr_init(&pe[i].e, &t, pe[i].thread_mem + tid * pe[i].per);
            bf(&pe[i].e, &t, i % 2 ? plo : lo, i % 2 ? phi : hi);
        }
    }
}

gg_status gg_fused_phases_f32(const gg_ctx *ctx, int32_t nphases, const gg_fprogram *const *phases,
                              const int32_t *reduced) {
    gg_status stt = gg__fused_phases_validate(nphases, phases, reduced);
    if (stt != GG_OK) return stt;
    int64_t need = gg_fused_phases_f32_scratch(ctx, nphases, phases, reduced);
    if (!ctx || !ctx->scratch || ctx->scratch_len < need) return GG_ERR_SCRATCH;
    for (int32_t k = 0; k < nphases; k++) gg__fused_init_reductions(phases[k]);

    const gg_fprogram *p0 = phases[0];
    slab_boxes g;
    g.rank = p0->rank > 0 ? p0->rank : 1; /* exec_init's rank for a rank-0 space */
    g.shape[0] = 1;
    g.nk = 0;
    int64_t total = 1, slab = 1;
    for (int d = 0; d < p0->rank; d++) {
        g.shape[d] = p0->shape[d];
        total *= p0->shape[d];
        if (reduced[d]) slab *= p0->shape[d];
        else g.kept[g.nk++] = d;
    }
    int64_t nb = 1;
    g.m = g.nchunks = 1;
    if (g.nk > 0) {
        int64_t inner = g.shape[g.kept[g.nk - 1]];
        int64_t outer = 1;
        for (int i = 0; i < g.nk - 1; i++) outer *= g.shape[g.kept[i]];
        /* an empty slab still has its posts to run (over the kept axes): one chunk */
        g.m = slab > 0 ? BOX_FLOATS / slab : inner;
        if (g.m < 1) g.m = 1;
        if (g.m > inner) g.m = inner;
        if (slab > 0) g.m = box_channels(inner, outer, g.m, gg__team_size(ctx, total));
        g.nchunks = inner > 0 ? (inner + g.m - 1) / g.m : 0;
        nb = g.nchunks * outer;
    }
    if (nb == 0) return GG_OK;

    const int32_t nprog = 2 * nphases;
    const int64_t threads = gg__threads(ctx);
    phase_exec *pe = (phase_exec *)ctx->scratch;
    float *mem = ctx->scratch + phase_execs_floats(nphases);
    box_fn bf = box_pick(ctx);
    for (int32_t i = 0; i < nprog; i++) {
        const gg_fprogram *q = phase_prog(phases, i);
        pe[i].e.p = 0;
        if (!q) continue;
        int64_t shared;
        sizes(q, &shared, &pe[i].per);
        exec_init(&pe[i].e, q, mem, 0);
        pe[i].e.runs = 1;
        piece_fn pf;
        pick(ctx, &pe[i].e, &bf, &pf);
        (void)pf;
        pe[i].thread_mem = mem + shared;
        mem += shared + threads * pe[i].per;
    }

    int nt = gg__team_size(ctx, total);
    if (nt > nb) nt = (int)nb;
    if (nt == 1) {
        run_boxes(&g, pe, nprog, bf, 0, nb, 0);
        return GG_OK;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int tid = 0, team = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        run_boxes(&g, pe, nprog, bf, nb * tid / team, nb * (tid + 1) / team, tid);
    }
    return GG_OK;
}
