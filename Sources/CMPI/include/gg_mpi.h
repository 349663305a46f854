/*
 * gg_mpi.h: the few plain functions through which gengraph uses MPI.
 * Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, ...) are macros over
 * internal symbols that Swift cannot import, so every MPI call stays in
 * gg_mpi.c. Built without MPI, gg_mpi_available() is 0 and the rest fail.
 */
#ifndef GG_MPI_H
#define GG_MPI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this build links MPI. */
int gg_mpi_available(void);

/* Initialises MPI (funneled threads: only the main thread calls MPI) and
 * reports this process's rank and the world size. 0 on success, else -1
 * with a message in err. */
int gg_mpi_init(int *rank, int *size, char *err, int errlen);
int gg_mpi_finalize(void);
/* Ends every rank of the job with `code`; does not return. */
void gg_mpi_abort(int code);

/* Blocking sum over ranks of n floats, in place. */
int gg_mpi_allreduce_sum(float *x, int64_t n);
/* Bytes from `root` to every rank, in place. */
int gg_mpi_broadcast(void *x, int64_t bytes, int root);

/* A bucket of gradients summed across ranks as one message: start packs the
 * parts into the bucket's buffer and starts a non-blocking all-reduce;
 * finish waits for it and writes the sums times `scale` back to the parts. */
typedef struct gg_mpi_bucket gg_mpi_bucket;
gg_mpi_bucket *gg_mpi_bucket_new(int64_t floats);
void gg_mpi_bucket_free(gg_mpi_bucket *b);
int gg_mpi_bucket_start(gg_mpi_bucket *b, float *const *parts, const int64_t *sizes, int nparts);
int gg_mpi_bucket_finish(gg_mpi_bucket *b, float *const *parts, const int64_t *sizes, int nparts, float scale);
/* Lets started all-reduces advance (MPI progresses them only inside MPI calls). */
void gg_mpi_progress(void);

/* Seconds spent inside all-reduces (blocking ones and waits on started ones),
 * and their count, since the process started. */
double gg_mpi_wait_seconds(void);
int64_t gg_mpi_reductions(void);

#ifdef __cplusplus
}
#endif
#endif
