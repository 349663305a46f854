/*
 * conv_kernels_timing.c: times gg_conv2d_f32, gg_conv2d_bwd_data_f32 and
 * gg_conv2d_bwd_filter_f32 at the model zoo's large shapes, linked against
 * whichever Kernels tree it is compiled with, so that two trees (two commits)
 * can be timed alternately on the same machine (tools/conv_before_after.sh).
 * For the current tree alone, gengraph-kernel-bench --op conv does the same
 * with the machine's peak beside it.
 *
 *   conv_kernels_timing THREADS REPS [NAME-FILTER]
 * prints one line per shape: median and best GFLOP/s of REPS samples of each
 * kernel (a sample repeats the call for at least 20 ms). GFLOP/s counts
 * 2*n*oc*oh*ow*c*kh*kw for all three kernels.
 */
#include "gg_kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct { const char *name; gg_conv2d_shape s; } conv_case;

static const conv_case cases[] = {
    {"dcgan 1->64 k4s2 28", {64, 1, 28, 28, 64, 4, 4, 2, 1, 14, 14}},
    {"dcgan 64->128 k4s2 14", {64, 64, 14, 14, 128, 4, 4, 2, 1, 7, 7}},
    {"pixelcnn 32->32 3x3 28", {64, 32, 28, 28, 32, 3, 3, 1, 1, 28, 28}},
    {"classifier 32->64 3x3 14", {128, 32, 14, 14, 64, 3, 3, 1, 1, 14, 14}},
    {"ddpm 64->64 3x3 14", {128, 64, 14, 14, 64, 3, 3, 1, 1, 14, 14}},
    {"ddpm 32->32 3x3 28", {128, 32, 28, 28, 32, 3, 3, 1, 1, 28, 28}},
    {"ddpm 64->32 3x3 28", {128, 64, 28, 28, 32, 3, 3, 1, 1, 28, 28}},
    {"realnvp 2->32 3x3 28", {64, 2, 28, 28, 32, 3, 3, 1, 1, 28, 28}},
    {"realnvp 32->2 3x3 28", {64, 32, 28, 28, 2, 3, 3, 1, 1, 28, 28}},
    {"cyclegan 32->1 7x7 28", {32, 32, 28, 28, 1, 7, 7, 1, 3, 28, 28}},
};

static float *filled(size_t n, unsigned seed) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
    }
    return p;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s THREADS REPS [NAME-FILTER]\n", argv[0]); return 2; }
    const int threads = atoi(argv[1]), reps = atoi(argv[2]);
    if (threads < 1 || threads > 1024 || reps < 1 || reps > 1000) { fprintf(stderr, "threads 1..1024, reps 1..1000\n"); return 2; }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (argc > 3 && !strstr(cases[i].name, argv[3])) continue;
        gg_conv2d_shape s = cases[i].s;
        gg_ctx ctx = {threads, -1, 0, 0};
        const int64_t need = gg_conv2d_f32_scratch(&ctx, &s);
        ctx.scratch = filled((size_t)need + 16, 9);
        ctx.scratch_len = need;
        const size_t nx = (size_t)(s.n * s.c * s.h * s.w), ny = (size_t)(s.n * s.oc * s.oh * s.ow), nw = (size_t)(s.oc * s.c * s.kh * s.kw);
        float *x = filled(nx, 1), *w = filled(nw, 2), *dy = filled(ny, 3), *y = filled(ny, 4), *dx = filled(nx, 5), *dw = filled(nw, 6);
        const double flops = 2.0 * (double)(s.n * s.oc * s.oh * s.ow) * (double)(s.c * s.kh * s.kw);
        printf("%-26s", cases[i].name);
        for (int kind = 0; kind < 3; kind++) {
            double g[1000];
            for (int r = 0; r < reps; r++) {
                const double t0 = now();
                int calls = 0;
                do {
                    const gg_status st = kind == 0 ? gg_conv2d_f32(&ctx, y, x, w, &s)
                                         : kind == 1 ? gg_conv2d_bwd_data_f32(&ctx, dx, dy, w, &s)
                                                     : gg_conv2d_bwd_filter_f32(&ctx, dw, x, dy, &s);
                    if (st != GG_OK) { fprintf(stderr, "%s: kernel %d failed (%d)\n", cases[i].name, kind, (int)st); return 1; }
                    calls++;
                } while (now() - t0 < 0.02);
                g[r] = flops * calls / (now() - t0) * 1e-9;
            }
            qsort(g, (size_t)reps, sizeof g[0], by_value);
            printf("  %s %6.1f (best %6.1f)", kind == 0 ? "fwd" : kind == 1 ? "bwd_data" : "bwd_filter", g[reps / 2], g[reps - 1]);
        }
        printf("\n");
        fflush(stdout);
        free(ctx.scratch); free(x); free(w); free(dy); free(y); free(dx); free(dw);
    }
    return 0;
}
