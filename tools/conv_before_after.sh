#!/usr/bin/env bash
# Times the convolution kernels of commit REV against the working tree's,
# alternately (ROUNDS rounds), on THREADS threads: tools/conv_kernels_timing.c
# built twice with the same flags the package uses (-O3, OpenMP).
#
#   bash tools/conv_before_after.sh REV [THREADS] [ROUNDS] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bash tools/conv_before_after.sh REV [THREADS] [ROUNDS] [REPS]}
threads=${2:-2} rounds=${3:-2} reps=${4:-7}
git rev-parse --verify --quiet "$rev^{commit}" >/dev/null || { echo "conv_before_after: no commit $rev" >&2; exit 2; }
omp_h=$(find /usr/lib/llvm-*/lib/clang -name omp.h 2>/dev/null | sort -V | tail -1)
omp_lib=$(dirname "$(find /usr/lib/llvm-*/lib -maxdepth 1 -name 'libomp.so*' 2>/dev/null | sort -V | tail -1)")
[ -n "$omp_h" ] && [ -n "$omp_lib" ] || { echo "conv_before_after: libomp-dev is missing (bash tools/setup.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git archive "$rev" Kernels | tar -x -C "$work"
flags=(-O3 -fno-math-errno -fopenmp -isystem "$(dirname "$omp_h")")
link=(-L"$omp_lib" -lomp -Wl,-rpath,"$omp_lib" -lm)
clang "${flags[@]}" -I"$work/Kernels/include" -I"$work/Kernels" "$work"/Kernels/*.c tools/conv_kernels_timing.c "${link[@]}" -o "$work/before"
clang "${flags[@]}" -IKernels/include -IKernels Kernels/*.c tools/conv_kernels_timing.c "${link[@]}" -o "$work/after"
for r in $(seq "$rounds"); do
    echo "round $r, $threads threads, median of $reps (GFLOP/s)"
    "$work/before" "$threads" "$reps" | sed "s/^/before $rev  /"
    "$work/after" "$threads" "$reps" | sed "s/^/after         /"
done
