/*
 * gg_mpi.c: gg_mpi.h over MPI when the build found it (GG_HAVE_MPI), else
 * stand-ins that report that this build has no MPI.
 */
/* clock_gettime under -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include "gg_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double wait_seconds = 0;
static int64_t reductions = 0;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double gg_mpi_wait_seconds(void) { return wait_seconds; }
int64_t gg_mpi_reductions(void) { return reductions; }

#ifdef GG_HAVE_MPI
#include <mpi.h>

/* MPI counts are ints: longer messages go in pieces. */
#define GG_MPI_CHUNK ((int64_t)1 << 30)

/* Started all-reduces that gg_mpi_progress tests; a plan has a handful of buckets. */
#define GG_MPI_ACTIVE 256

struct gg_mpi_bucket {
    float *data;
    int64_t floats;
    MPI_Request request;
    int active;
};

static gg_mpi_bucket *active[GG_MPI_ACTIVE];
static int nactive = 0;

int gg_mpi_available(void) { return 1; }

int gg_mpi_init(int *rank, int *size, char *err, int errlen) {
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        snprintf(err, (size_t)errlen, "MPI_Init_thread failed");
        return -1;
    }
    if (provided < MPI_THREAD_FUNNELED) {
        snprintf(err, (size_t)errlen, "this MPI library does not support calls from the main thread of a threaded program");
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

int gg_mpi_finalize(void) { return MPI_Finalize() == MPI_SUCCESS ? 0 : -1; }

void gg_mpi_abort(int code) {
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int gg_mpi_allreduce_sum(float *x, int64_t n) {
    double t = now();
    for (int64_t at = 0; at < n; at += GG_MPI_CHUNK) {
        int count = (int)(n - at < GG_MPI_CHUNK ? n - at : GG_MPI_CHUNK);
        if (MPI_Allreduce(MPI_IN_PLACE, x + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
    }
    wait_seconds += now() - t;
    reductions++;
    return 0;
}

int gg_mpi_broadcast(void *x, int64_t bytes, int root) {
    for (int64_t at = 0; at < bytes; at += GG_MPI_CHUNK) {
        int count = (int)(bytes - at < GG_MPI_CHUNK ? bytes - at : GG_MPI_CHUNK);
        if (MPI_Bcast((char *)x + at, count, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
    }
    return 0;
}

gg_mpi_bucket *gg_mpi_bucket_new(int64_t floats) {
    if (floats < 1 || floats > GG_MPI_CHUNK) return NULL;
    gg_mpi_bucket *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->data = malloc((size_t)floats * sizeof(float));
    if (!b->data) {
        free(b);
        return NULL;
    }
    b->floats = floats;
    b->request = MPI_REQUEST_NULL;
    return b;
}

static void forget(gg_mpi_bucket *b) {
    for (int k = 0; k < nactive; k++) {
        if (active[k] == b) {
            active[k] = active[--nactive];
            return;
        }
    }
}

void gg_mpi_bucket_free(gg_mpi_bucket *b) {
    if (!b) return;
    if (b->active) {
        MPI_Wait(&b->request, MPI_STATUS_IGNORE);
        forget(b);
    }
    free(b->data);
    free(b);
}

int gg_mpi_bucket_start(gg_mpi_bucket *b, float *const *parts, const int64_t *sizes, int nparts) {
    if (!b || b->active || nactive == GG_MPI_ACTIVE) return -1;
    int64_t at = 0;
    for (int k = 0; k < nparts; k++) {
        if (sizes[k] < 0 || at + sizes[k] > b->floats) return -1;
        memcpy(b->data + at, parts[k], (size_t)sizes[k] * sizeof(float));
        at += sizes[k];
    }
    if (MPI_Iallreduce(MPI_IN_PLACE, b->data, (int)at, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &b->request) != MPI_SUCCESS) return -1;
    b->active = 1;
    active[nactive++] = b;
    return 0;
}

int gg_mpi_bucket_finish(gg_mpi_bucket *b, float *const *parts, const int64_t *sizes, int nparts, float scale) {
    if (!b || !b->active) return -1;
    double t = now();
    int status = MPI_Wait(&b->request, MPI_STATUS_IGNORE);
    wait_seconds += now() - t;
    reductions++;
    b->active = 0;
    forget(b);
    if (status != MPI_SUCCESS) return -1;
    int64_t at = 0;
    for (int k = 0; k < nparts; k++) {
        const float *src = b->data + at;
        float *dst = parts[k];
        for (int64_t i = 0; i < sizes[k]; i++) dst[i] = src[i] * scale;
        at += sizes[k];
    }
    return 0;
}

void gg_mpi_progress(void) {
    for (int k = 0; k < nactive; k++) {
        int done = 0;
        MPI_Test(&active[k]->request, &done, MPI_STATUS_IGNORE);
        /* A completed request is MPI_REQUEST_NULL now; its wait returns at once. */
    }
}

#else

int gg_mpi_available(void) { return 0; }

int gg_mpi_init(int *rank, int *size, char *err, int errlen) {
    *rank = 0;
    *size = 1;
    snprintf(err, (size_t)errlen, "this build of gengraph has no MPI");
    return -1;
}

int gg_mpi_finalize(void) { return 0; }
void gg_mpi_abort(int code) { exit(code); }
int gg_mpi_allreduce_sum(float *x, int64_t n) { (void)x; (void)n; return -1; }
int gg_mpi_broadcast(void *x, int64_t bytes, int root) { (void)x; (void)bytes; (void)root; return -1; }
gg_mpi_bucket *gg_mpi_bucket_new(int64_t floats) { (void)floats; return NULL; }
void gg_mpi_bucket_free(gg_mpi_bucket *b) { (void)b; }
int gg_mpi_bucket_start(gg_mpi_bucket *b, float *const *parts, const int64_t *sizes, int nparts) {
    (void)b; (void)parts; (void)sizes; (void)nparts;
    return -1;
}
int gg_mpi_bucket_finish(gg_mpi_bucket *b, float *const *parts, const int64_t *sizes, int nparts, float scale) {
    (void)b; (void)parts; (void)sizes; (void)nparts; (void)scale;
    return -1;
}
void gg_mpi_progress(void) {}

#endif
