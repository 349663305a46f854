/*
 * gg_kernels.h: the one header of gengraph's C kernels.
 *
 * Conventions (every kernel follows them):
 *   - names: gg_<op>_f32[_<variant>]; the scalar reference of each kernel is
 *     gg_<op>_f32_ref with the same signature (declared at the end).
 *   - arguments: context first, then outputs, then inputs, then sizes/strides
 *     (int64_t), then scalar attributes.
 *   - tensors are f32, row-major, contiguous unless strides are passed;
 *     strides are in elements and a stride of 0 broadcasts.
 *   - kernels never allocate: scratch memory comes from the context and each
 *     kernel that needs some has a gg_<op>_f32_scratch() query (in floats).
 *   - problems the caller can cause return a gg_status; nothing aborts.
 *   - results do not depend on ctx->nthreads: reductions use fixed chunks
 *     summed in index order; random numbers are counter-based.
 */
#ifndef GG_KERNELS_H
#define GG_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gg_status {
    GG_OK = 0,
    GG_ERR_ARG = 1,     /* inconsistent sizes, bad enum, out-of-range label */
    GG_ERR_SCRATCH = 2, /* ctx->scratch_len smaller than the kernel's query */
} gg_status;

typedef enum gg_isa {
    GG_ISA_PORTABLE = 0, /* plain C, any CPU */
    GG_ISA_AVX2 = 1,     /* AVX2 + FMA */
    GG_ISA_AVX512 = 2,   /* AVX-512F */
} gg_isa;

/* Execution context, passed first to every kernel. */
typedef struct gg_ctx {
    int nthreads;        /* OpenMP team size, >= 1 */
    int isa;             /* a gg_isa to use, clamped to gg_cpu_isa(); -1 = best */
    float *scratch;      /* caller-owned, 64-byte aligned, may be NULL if len 0 */
    int64_t scratch_len; /* floats available at scratch */
} gg_ctx;

/* ---- CPU and threads (gg_cpu.c) ---- */
gg_isa gg_cpu_isa(void);              /* best ISA this CPU supports */
gg_isa gg_ctx_isa(const gg_ctx *ctx); /* ISA a kernel will use under ctx */
const char *gg_isa_name(gg_isa isa);
int gg_openmp_enabled(void);          /* 1 when built with OpenMP */
int gg_default_threads(void);         /* omp_get_max_threads(), or 1 */
/* Runs register-only FMA chains (`iterations` rounds per thread, ctx's ISA and
 * threads) for a caller that times it: the machine's FMA peak. *flops gets the
 * FLOPs done; the return value only keeps the work from being optimised away. */
float gg_fma_peak_probe(const gg_ctx *ctx, int64_t iterations, double *flops);

/* ---- GEMM (gg_gemm.c) ----
 * C[M,N] = alpha * op(A) * op(B) + beta * C, row-major.
 * op(A) is A, stored (M, K) with lda >= K, or when trans_a != 0 the transpose
 * of A stored (K, M) with lda >= M; likewise op(B) is (K, N): B stored (K, N)
 * ldb >= N, or transposed, stored (N, K) ldb >= K. beta == 0 never reads C.
 * The batched form repeats this `batch` times, advancing each pointer by its
 * batch stride (0 reuses the same matrix, e.g. a shared weight). */
int64_t gg_gemm_f32_scratch(const gg_ctx *ctx, int64_t M, int64_t N, int64_t K);
gg_status gg_gemm_f32(const gg_ctx *ctx, float *C, int64_t ldc,
                      const float *A, int64_t lda, int trans_a,
                      const float *B, int64_t ldb, int trans_b,
                      int64_t M, int64_t N, int64_t K, float alpha, float beta);
gg_status gg_gemm_batched_f32(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                              const float *A, int64_t lda, int64_t stride_a, int trans_a,
                              const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                              int64_t batch, int64_t M, int64_t N, int64_t K,
                              float alpha, float beta);

/* ---- Convolution (gg_conv.c, gg_conv_im2col.c, gg_conv_igemm.c) ----
 * One shape record serves the three conv kernels:
 *   x: (n, c, h, w)   w: (oc, c, kh, kw)   y: (n, oc, oh, ow)
 *   oh = (h + 2*pad - kh) / stride + 1, likewise ow; kernels check this.
 * conv_transpose2d(x', w') with x' (n, ic, h', w'), w' (ic, oc, kh, kw) (PyTorch
 * layout) is gg_conv2d_bwd_data_f32 of the conv whose input is the transposed
 * conv's output: shape {n, c=oc, h=H_out, w=W_out, oc=ic, kh, kw, stride, pad,
 * oh=h', ow=w'} with dx = the transposed conv's output and dy = x'. */
typedef struct gg_conv2d_shape {
    int64_t n, c, h, w;
    int64_t oc, kh, kw;
    int64_t stride, pad;
    int64_t oh, ow;
} gg_conv2d_shape;

int64_t gg_conv2d_f32_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s); /* any of the three */
/* y = conv2d(x, w), no bias. */
gg_status gg_conv2d_f32(const gg_ctx *ctx, float *y, const float *x, const float *w,
                        const gg_conv2d_shape *s);
/* dx = gradient of conv2d w.r.t. x given dy (= conv_transpose2d(dy, w)); dx fully written. */
gg_status gg_conv2d_bwd_data_f32(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                 const gg_conv2d_shape *s);
/* dw = gradient of conv2d w.r.t. w given x and dy; dw fully written. */
gg_status gg_conv2d_bwd_filter_f32(const gg_ctx *ctx, float *dw, const float *x, const float *dy,
                                   const gg_conv2d_shape *s);

/* ---- Pooling (gg_pool.c) ----
 * x: (n, c, h, w) -> y: (n, c, oh, ow), oh = (h + 2*pad - k) / stride + 1.
 * Padding never wins a max. The backward routes each dy to the first maximum
 * of its window in raster order (recomputed from x); dx fully written. */
typedef struct gg_pool2d_shape {
    int64_t n, c, h, w;
    int64_t k, stride, pad;
    int64_t oh, ow;
} gg_pool2d_shape;

gg_status gg_maxpool2d_f32(const gg_ctx *ctx, float *y, const float *x, const gg_pool2d_shape *s);
gg_status gg_maxpool2d_bwd_f32(const gg_ctx *ctx, float *dx, const float *x, const float *dy,
                               const gg_pool2d_shape *s);

/* ---- Elementwise (gg_elementwise.c) ---- */
typedef enum gg_unary_op {
    GG_UNARY_NEG = 0,
    GG_UNARY_ABS = 1,
    GG_UNARY_SIGN = 2,       /* -1, 0, +1; NaN stays NaN */
    GG_UNARY_EXP = 3,
    GG_UNARY_LOG = 4,
    GG_UNARY_LOG1P = 5,
    GG_UNARY_SQRT = 6,
    GG_UNARY_RSQRT = 7,
    GG_UNARY_SQUARE = 8,
    GG_UNARY_TANH = 9,
    GG_UNARY_SIGMOID = 10,   /* stable for large |x| */
    GG_UNARY_RELU = 11,
    GG_UNARY_LEAKY_RELU = 12, /* p0 = negative slope */
    GG_UNARY_SOFTPLUS = 13,   /* log(1 + exp(x)), stable */
    GG_UNARY_CLAMP = 14,      /* min(max(x, p0), p1); NaN stays NaN */
    GG_UNARY_SIN = 15,        /* sin, cos: NaN for +-inf */
    GG_UNARY_COS = 16,
    GG_UNARY_SILU = 17,       /* x * sigmoid(x); silu(-inf) = -0, the limit */
    GG_UNARY_FLOOR = 18,
    GG_UNARY_COUNT = 19,
} gg_unary_op;

typedef enum gg_binary_op {
    GG_BINARY_ADD = 0,
    GG_BINARY_SUB = 1,
    GG_BINARY_MUL = 2,
    GG_BINARY_DIV = 3,
    GG_BINARY_POW = 4,
    GG_BINARY_MAX = 5,  /* NaN in either operand gives NaN */
    GG_BINARY_MIN = 6,
    GG_BINARY_LT = 7,   /* comparisons give 1.0f or 0.0f */
    GG_BINARY_LE = 8,
    GG_BINARY_GT = 9,
    GG_BINARY_GE = 10,
    GG_BINARY_EQ = 11,
    GG_BINARY_NE = 12,
    GG_BINARY_COUNT = 13,
} gg_binary_op;

#define GG_MAX_RANK 8

/* y[i] = op(x[i]) over n contiguous elements; y may equal x. */
gg_status gg_unary_f32(const gg_ctx *ctx, float *y, const float *x, int64_t n,
                       gg_unary_op op, float p0, float p1);
/* y (contiguous, `shape`) = op(a, b) with a and b read through their strides
 * (0 broadcasts). rank <= GG_MAX_RANK; rank 0 is a scalar. y may equal a or b
 * when that operand is contiguous with y's shape. */
gg_status gg_binary_f32(const gg_ctx *ctx, float *y,
                        const float *a, const int64_t *a_strides,
                        const float *b, const int64_t *b_strides,
                        const int64_t *shape, int rank, gg_binary_op op);
/* y = (c != 0) ? a : b, same stride rules as gg_binary_f32. */
gg_status gg_where_f32(const gg_ctx *ctx, float *y,
                       const float *c, const int64_t *c_strides,
                       const float *a, const int64_t *a_strides,
                       const float *b, const int64_t *b_strides,
                       const int64_t *shape, int rank);
/* Strided copy: y[idx . y_strides] = x[idx . x_strides] for every idx in shape.
 * Materialises views (permute, broadcast, slice) and writes concat/pad parts. */
gg_status gg_copy_f32(const gg_ctx *ctx, float *y, const int64_t *y_strides,
                      const float *x, const int64_t *x_strides,
                      const int64_t *shape, int rank);
gg_status gg_fill_f32(const gg_ctx *ctx, float *y, int64_t n, float value);
/* y (n, depth) one-hot rows of integer-valued labels; a label that is not an
 * integer in [0, depth) returns GG_ERR_ARG. */
gg_status gg_one_hot_f32(const gg_ctx *ctx, float *y, const float *labels, int64_t n, int64_t depth);

/* ---- Byte lookup (gg_lookup.c) ----
 * y (nrows, row_len): y[r, i] = table[x[rows[r] * row_len + i]], table 256
 * floats; x holds x_rows rows of row_len bytes. rows NULL means rows 0, 1, ...
 * A row index outside [0, x_rows) returns GG_ERR_ARG before anything is written. */
gg_status gg_lookup_rows_u8_f32(const gg_ctx *ctx, float *y, const uint8_t *x, int64_t x_rows,
                                const int64_t *rows, int64_t nrows, int64_t row_len, const float *table);

/* ---- Reductions (gg_reduce.c) ----
 * x viewed as contiguous (outer, n, inner); y (outer, inner) reduces the
 * middle axis. Sum uses fixed-size chunks combined in index order, so the
 * result does not depend on nthreads. Max propagates NaN; n == 0 gives 0 for
 * sum and -inf for max. */
typedef enum gg_reduce_op {
    GG_REDUCE_SUM = 0,
    GG_REDUCE_MAX = 1,
} gg_reduce_op;

gg_status gg_reduce_f32(const gg_ctx *ctx, float *y, const float *x,
                        int64_t outer, int64_t n, int64_t inner, gg_reduce_op op);

/* ---- Random numbers (gg_random.c) ----
 * Philox4x32-10 keyed by seed; element i depends only on (seed, offset + i),
 * never on the thread count. Uniform is in [0, 1); normal is N(0, 1). */
gg_status gg_rand_uniform_f32(const gg_ctx *ctx, float *y, int64_t n, uint64_t seed, uint64_t offset);
gg_status gg_rand_normal_f32(const gg_ctx *ctx, float *y, int64_t n, uint64_t seed, uint64_t offset);

/* ---- Optimiser updates (gg_optim.c), in place over n parameters, PyTorch semantics ---- */
/* SGD: buf = momentum * buf + g (buf = g when first != 0); p -= lr * (nesterov ? g + momentum * buf : buf).
 * momentum == 0 ignores buf (may be NULL). */
gg_status gg_sgd_f32(const gg_ctx *ctx, float *p, float *buf, const float *g, int64_t n,
                     float lr, float momentum, int nesterov, int first);
/* Adam (bias-corrected, step >= 1): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr * (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps). */
gg_status gg_adam_f32(const gg_ctx *ctx, float *p, float *m, float *v, const float *g, int64_t n,
                      float lr, float beta1, float beta2, float eps, int64_t step);
/* RMSProp: sq = alpha sq + (1-alpha) g^2; p -= lr * g / (sqrt(sq) + eps). */
gg_status gg_rmsprop_f32(const gg_ctx *ctx, float *p, float *sq, const float *g, int64_t n,
                         float lr, float alpha, float eps);

/* ---- Fused elementwise/reduction programs (gg_fused.c) ----
 * The compiler's fused kernels: a small instruction program, compiled by the
 * Swift fusion pass, run over an iteration space `shape`. Registers each hold
 * one tile of consecutive elements along the innermost axis; every instruction
 * runs over a whole tile (vectorised), so there is no per-element dispatch.
 * Operands are read and written through per-operand element strides over the
 * iteration space (0 broadcasts a load; 0 on an output's axis reduces it).
 * Random numbers use the flat index of the iteration space as the Philox
 * counter, so a fused draw equals gg_rand_*_f32(key, offset 0) over the same
 * shape. Results do not depend on ctx->nthreads. */
typedef enum gg_fop {
    GG_FOP_LOAD = 0,         /* r[dst] = inputs[a] */
    GG_FOP_CONST = 1,        /* r[dst] = p0 */
    GG_FOP_RAND_UNIFORM = 2, /* r[dst] = U[0,1) keyed by keys[a], element index + offset (b low, c high 32 bits) */
    GG_FOP_RAND_NORMAL = 3,  /* r[dst] = N(0,1), likewise */
    GG_FOP_UNARY = 4,        /* r[dst] = (gg_unary_op)sub (r[a]; p0, p1) */
    GG_FOP_BINARY = 5,       /* r[dst] = (gg_binary_op)sub (r[a], r[b]) */
    GG_FOP_SELECT = 6,       /* r[dst] = r[a] != 0 ? r[b] : r[c] */
    GG_FOP_STORE = 7,        /* outputs[dst] = r[a] */
    GG_FOP_REDUCE = 8,       /* outputs[dst] = (gg_reduce_op)sub of r[a] over the axes where
                                out_strides[dst] is 0; the kernel initialises it */
} gg_fop;

typedef struct gg_finstr {
    int32_t op, sub, dst, a, b, c;
    float p0, p1;
} gg_finstr;

typedef struct gg_fprogram {
    int32_t ninstr;
    const gg_finstr *instr;
    int32_t nregs;
    int32_t rank;                  /* iteration space, rank <= GG_MAX_RANK */
    const int64_t *shape;
    int32_t ninputs;
    const float *const *inputs;
    const int64_t *in_strides;     /* ninputs x rank */
    int32_t noutputs;
    float *const *outputs;
    const int64_t *out_strides;    /* noutputs x rank */
    const uint64_t *keys;          /* random keys, indexed by the `a` of RAND instructions */
    /* A program run after this one completes (may be NULL): elementwise work
     * over the reduced space that reads this program's finished reductions. */
    const struct gg_fprogram *post;
} gg_fprogram;

/* Scratch (floats) gg_fused_f32 needs for this program under ctx. */
int64_t gg_fused_f32_scratch(const gg_ctx *ctx, const gg_fprogram *p);
/* Runs the program over its whole iteration space, then its `post` program.
 * GG_ERR_ARG on a malformed program (bad register/operand index, unknown op,
 * rank too large). */
gg_status gg_fused_f32(const gg_ctx *ctx, const gg_fprogram *p);
/* Runs an elementwise program (no REDUCE, no post) over the box [lo, lo + extent)
 * of its iteration space only, single-threaded: the GEMM epilogue entry point. */
gg_status gg_fused_region_f32(const gg_ctx *ctx, const gg_fprogram *p, const int64_t *lo, const int64_t *extent);

/* ---- Fused programs in phases over slabs (gg_fused.c) ----
 * A normalisation's statistics and apply passes as one kernel. The nphases programs share
 * one iteration space (same rank and shape; not collapsed here: the caller merges axes);
 * each may have a post program over the same rank with extent 1 on the reduced axes.
 * reduced[d] != 0 marks the axes that every REDUCE of every phase folds: a REDUCE output
 * has stride 0 on each of them and a non-zero stride on every other axis of extent > 1.
 * The kept axes' index combinations are the slabs. Boxes of consecutive slabs (about
 * 16K floats) run on one thread each: phase 0 over the box, its post over the box's
 * slabs in the reduced space, phase 1, and so on, so a later phase reads the slabs'
 * finished reductions through stride-0 loads while their inputs are still in cache.
 * An input of a phase (or post) that overlaps an output of another phase (or post) must
 * read it at the same address with the same strides (0 on the reduced axes for a
 * reduction's output), so that every element read was finished by an earlier phase of
 * the same slab: GG_ERR_ARG otherwise, and for mismatched shapes or malformed programs.
 * Outputs of two programs that overlap obey the same rule, both ways round.
 * Every reduction output is initialised before anything runs, so no earlier phase or
 * post may touch it (GG_ERR_ARG). With an empty reduced axis the posts still run.
 * Each slab's reductions fold its rows in the box's row-major order as gg_fused_f32 does
 * on one thread over the uncollapsed space, so results do not depend on ctx->nthreads. */
int64_t gg_fused_phases_f32_scratch(const gg_ctx *ctx, int32_t nphases, const gg_fprogram *const *phases,
                                    const int32_t *reduced);
gg_status gg_fused_phases_f32(const gg_ctx *ctx, int32_t nphases, const gg_fprogram *const *phases,
                              const int32_t *reduced);

/* ---- Multi-tensor optimiser updates (gg_optim.c) ----
 * One call updates a whole parameter group: params[i], grads[i], and the
 * rule's state slots, each of sizes[i] elements; same arithmetic as the
 * single-tensor kernels (so results are identical), then optionally clamps
 * the parameters to [clip_lo, clip_hi] when clip != 0. */
gg_status gg_adam_multi_f32(const gg_ctx *ctx, int32_t count, float *const *params, float *const *m,
                            float *const *v, const float *const *grads, const int64_t *sizes,
                            float lr, float beta1, float beta2, float eps, int64_t step,
                            int clip, float clip_lo, float clip_hi);
gg_status gg_rmsprop_multi_f32(const gg_ctx *ctx, int32_t count, float *const *params, float *const *sq,
                               const float *const *grads, const int64_t *sizes,
                               float lr, float alpha, float eps, int clip, float clip_lo, float clip_hi);
gg_status gg_sgd_multi_f32(const gg_ctx *ctx, int32_t count, float *const *params, float *const *bufs,
                           const float *const *grads, const int64_t *sizes,
                           float lr, float momentum, int nesterov, int first,
                           int clip, float clip_lo, float clip_hi);

/* ---- Convolutions with an epilogue (gg_conv.c, gg_conv_epilogue.c) ----
 * As gg_conv2d_f32 / gg_conv2d_bwd_data_f32, then applies `epilogue` (may be
 * NULL) to the output soon after its pixels are finished, through
 * gg_fused_region_f32. The epilogue is an elementwise program whose iteration
 * space is the output, (n, oc, oh, ow) or (n, c, h, w); its input 0 is
 * normally the output itself, and it normally stores back into it. It may
 * also REDUCE (sum or max) over every axis but the channel axis (a bias
 * gradient, batch norm's sums): each image folds into its own partial, rows
 * as gg_fused_f32 folds them, and the partials are added in image order at
 * the end, so the sums do not depend on ctx->nthreads (and where the program
 * lets h and w merge, equal gg_fused_f32's over the finished output bit for
 * bit, but for the sign of a zero). Its post
 * program (elementwise, over the reduced space: a mean's scale) runs once the
 * sums are complete. Scratch: gg_conv2d_ep_f32_scratch (the convolution's,
 * per-thread shares, partials; at least what the post program needs). */
int64_t gg_conv2d_ep_f32_scratch(const gg_ctx *ctx, const gg_conv2d_shape *s, const gg_fprogram *epilogue);
gg_status gg_conv2d_ep_f32(const gg_ctx *ctx, float *y, const float *x, const float *w,
                           const gg_conv2d_shape *s, const gg_fprogram *epilogue);
gg_status gg_conv2d_bwd_data_ep_f32(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                    const gg_conv2d_shape *s, const gg_fprogram *epilogue);

/* ---- GEMM with an epilogue (gg_gemm.c) ----
 * As gg_gemm_batched_f32, then applies `epilogue` (may be NULL) to each finished
 * output tile while it is in cache, through gg_fused_region_f32. The epilogue's
 * iteration space is (batch, M, N); its input 0 is C itself (stride ldc), and it
 * normally stores back into C. */
int64_t gg_gemm_ep_f32_scratch(const gg_ctx *ctx, int64_t M, int64_t N, int64_t K, const gg_fprogram *epilogue);
gg_status gg_gemm_ep_f32(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                         const float *A, int64_t lda, int64_t stride_a, int trans_a,
                         const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                         int64_t batch, int64_t M, int64_t N, int64_t K,
                         float alpha, float beta, const gg_fprogram *epilogue);

/* ---- GEMM with prologues and an epilogue (gg_gemm.c) ----
 * As gg_gemm_ep_f32, but an operand with a prologue is not read from memory:
 * its prologue, an elementwise program with one output (no REDUCE) over the
 * operand's storage space (batch, rows, cols), computes each block of it as
 * GEMM packs it, into per-thread scratch (the operand's pointer, ld and
 * stride, and the prologue's own output pointer and strides, are unused). The storage space of A is (batch, M, K), or
 * (batch, K, M) when trans_a; of B (batch, K, N), or (batch, N, K). Results
 * are bit-identical to running the prologue with gg_fused_f32 into memory and
 * calling gg_gemm_ep_f32 on it; random draws keep their counters over the
 * prologue's whole space. Blocks are recomputed where GEMM packs them more
 * than once (per column group of threads for A). */
int64_t gg_gemm_pro_ep_f32_scratch(const gg_ctx *ctx, int64_t M, int64_t N, int64_t K, const gg_fprogram *prologue_a,
                                   const gg_fprogram *prologue_b, const gg_fprogram *epilogue);
gg_status gg_gemm_pro_ep_f32(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                             const float *A, int64_t lda, int64_t stride_a, int trans_a,
                             const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                             int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                             const gg_fprogram *prologue_a, const gg_fprogram *prologue_b, const gg_fprogram *epilogue);

/* ---- Scalar references (gg_ref_*.c): same contracts, plain loops, one thread ---- */
gg_status gg_gemm_f32_ref(const gg_ctx *ctx, float *C, int64_t ldc,
                          const float *A, int64_t lda, int trans_a,
                          const float *B, int64_t ldb, int trans_b,
                          int64_t M, int64_t N, int64_t K, float alpha, float beta);
/* The GEMM variants' reference, a composition: the plain reference per item,
 * each element of a prologued operand computed by the reference interpreter,
 * then gg_fused_f32_ref(epilogue) over the finished C. With NULL prologues it
 * is gg_gemm_ep_f32's reference; with no programs, gg_gemm_batched_f32's. */
gg_status gg_gemm_pro_ep_f32_ref(const gg_ctx *ctx, float *C, int64_t ldc, int64_t stride_c,
                                 const float *A, int64_t lda, int64_t stride_a, int trans_a,
                                 const float *B, int64_t ldb, int64_t stride_b, int trans_b,
                                 int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                                 const gg_fprogram *prologue_a, const gg_fprogram *prologue_b,
                                 const gg_fprogram *epilogue);
gg_status gg_conv2d_f32_ref(const gg_ctx *ctx, float *y, const float *x, const float *w,
                            const gg_conv2d_shape *s);
gg_status gg_conv2d_bwd_data_f32_ref(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                     const gg_conv2d_shape *s);
gg_status gg_conv2d_bwd_filter_f32_ref(const gg_ctx *ctx, float *dw, const float *x, const float *dy,
                                       const gg_conv2d_shape *s);
/* The convolution's reference, then gg_fused_f32_ref(epilogue) over its output. */
gg_status gg_conv2d_ep_f32_ref(const gg_ctx *ctx, float *y, const float *x, const float *w,
                               const gg_conv2d_shape *s, const gg_fprogram *epilogue);
gg_status gg_conv2d_bwd_data_ep_f32_ref(const gg_ctx *ctx, float *dx, const float *dy, const float *w,
                                        const gg_conv2d_shape *s, const gg_fprogram *epilogue);
gg_status gg_maxpool2d_f32_ref(const gg_ctx *ctx, float *y, const float *x, const gg_pool2d_shape *s);
gg_status gg_maxpool2d_bwd_f32_ref(const gg_ctx *ctx, float *dx, const float *x, const float *dy,
                                   const gg_pool2d_shape *s);
gg_status gg_unary_f32_ref(const gg_ctx *ctx, float *y, const float *x, int64_t n,
                           gg_unary_op op, float p0, float p1);
gg_status gg_binary_f32_ref(const gg_ctx *ctx, float *y,
                            const float *a, const int64_t *a_strides,
                            const float *b, const int64_t *b_strides,
                            const int64_t *shape, int rank, gg_binary_op op);
gg_status gg_where_f32_ref(const gg_ctx *ctx, float *y,
                           const float *c, const int64_t *c_strides,
                           const float *a, const int64_t *a_strides,
                           const float *b, const int64_t *b_strides,
                           const int64_t *shape, int rank);
gg_status gg_copy_f32_ref(const gg_ctx *ctx, float *y, const int64_t *y_strides,
                          const float *x, const int64_t *x_strides,
                          const int64_t *shape, int rank);
gg_status gg_lookup_rows_u8_f32_ref(const gg_ctx *ctx, float *y, const uint8_t *x, int64_t x_rows,
                                    const int64_t *rows, int64_t nrows, int64_t row_len, const float *table);
gg_status gg_reduce_f32_ref(const gg_ctx *ctx, float *y, const float *x,
                            int64_t outer, int64_t n, int64_t inner, gg_reduce_op op);
gg_status gg_rand_uniform_f32_ref(const gg_ctx *ctx, float *y, int64_t n, uint64_t seed, uint64_t offset);
gg_status gg_rand_normal_f32_ref(const gg_ctx *ctx, float *y, int64_t n, uint64_t seed, uint64_t offset);
/* Interprets the program one element at a time (flat row-major order) with the
 * reference unary/binary/random functions; reductions accumulate sequentially
 * into the outputs. Needs no scratch for nregs <= 1024. */
gg_status gg_fused_f32_ref(const gg_ctx *ctx, const gg_fprogram *p);
/* gg_fused_phases_f32's reference: the same checks, then each phase and its post by gg_fused_f32_ref in turn. */
gg_status gg_fused_phases_f32_ref(const gg_ctx *ctx, int32_t nphases, const gg_fprogram *const *phases,
                                  const int32_t *reduced);
gg_status gg_sgd_f32_ref(const gg_ctx *ctx, float *p, float *buf, const float *g, int64_t n,
                         float lr, float momentum, int nesterov, int first);
gg_status gg_adam_f32_ref(const gg_ctx *ctx, float *p, float *m, float *v, const float *g, int64_t n,
                          float lr, float beta1, float beta2, float eps, int64_t step);
gg_status gg_rmsprop_f32_ref(const gg_ctx *ctx, float *p, float *sq, const float *g, int64_t n,
                             float lr, float alpha, float eps);

#ifdef __cplusplus
}
#endif
#endif /* GG_KERNELS_H */
