/*
 * bench_allreduce.c: the time of MPI_Allreduce (sum of floats, in place, as
 * gengraph's gradient buckets use it) against message size, for
 * docs/distributed.md. Built and run by tools/bench_distributed.sh:
 *   mpicc -O2 tools/bench_allreduce.c -o /tmp/bench_allreduce
 *   mpirun -np 2 /tmp/bench_allreduce [reps]
 * Prints one line per size from rank 0: bytes, median and minimum seconds.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    if (reps < 1) reps = 1;
    double *times = malloc((size_t)reps * sizeof *times);
    if (rank == 0) printf("bytes median_s min_s ranks=%d\n", size);
    for (long floats = 256; floats <= (16L << 20); floats *= 4) {
        float *x = malloc((size_t)floats * sizeof *x);
        if (!x || !times) MPI_Abort(MPI_COMM_WORLD, 1);
        for (long i = 0; i < floats; i++) x[i] = 1e-3f * (float)(i % 1000);
        MPI_Allreduce(MPI_IN_PLACE, x, (int)floats, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);  /* warm-up */
        for (int r = 0; r < reps; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, x, (int)floats, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            times[r] = MPI_Wtime() - t;
        }
        qsort(times, (size_t)reps, sizeof *times, compare);
        if (rank == 0) printf("%ld %.3e %.3e\n", floats * 4, times[reps / 2], times[0]);
        free(x);
    }
    free(times);
    MPI_Finalize();
    return 0;
}
