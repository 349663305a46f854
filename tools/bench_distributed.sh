#!/usr/bin/env bash
# The measurements of docs/distributed.md on this machine: for vae, dcgan and ddpm, one process
# with 2 kernel threads against 2 ranks (mpirun, loopback) with 1 thread each, the same global
# batch; then MPI_Allreduce's time against message size (tools/bench_allreduce.c).
#
#   bash tools/bench_distributed.sh [ROUNDS]     (default 3 rounds, the two set-ups alternating)
#
# Prints, per model and set-up, the median over rounds of samples/s and of the per-step time
# spent waiting on all-reduces (metrics.csv's allreduce_s), each round's rate taken from the
# metrics rows after the first (which holds the plan compilation).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
binary=.build/release/gengraph
[ -x "$binary" ] || { echo "build first: swift build -c release" >&2; exit 1; }
export OMP_WAIT_POLICY=PASSIVE
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_WAIT_POLICY -x OMP_NUM_THREADS=1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# model, steps, steps per metrics row
models=("vae 50 10" "dcgan 20 4" "ddpm 10 2")
batch=64

# Median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Column $2 of metrics.csv $1, over the step rows after the first.
column() {
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                          $c != "" && ++rows > 1 { print $c }' "$1"
}

echo "model   set-up              samples/s  ms/step  all-reduce wait ms/step"
for entry in "${models[@]}"; do
    read -r model steps every <<<"$entry"
    : >"$work/one.rate"; : >"$work/two.rate"; : >"$work/two.wait"
    for round in $(seq "$rounds"); do
        common=(train "$model" --steps "$steps" --batch "$batch" --limit $((batch * steps)) --test-limit "$batch"
                --samples 0 --log-every "$every")
        rm -rf "$work/run"
        "$binary" "${common[@]}" --threads 2 --out "$work/run" >/dev/null
        column "$work/run/metrics.csv" samples_per_s | median >>"$work/one.rate"
        rm -rf "$work/run"
        "${mpirun[@]}" "$binary" "${common[@]}" --threads 1 --out "$work/run" >/dev/null
        column "$work/run/metrics.csv" samples_per_s | median >>"$work/two.rate"
        column "$work/run/metrics.csv" allreduce_s | median >>"$work/two.wait"
    done
    one=$(median <"$work/one.rate"); two=$(median <"$work/two.rate"); wait=$(median <"$work/two.wait")
    awk -v m="$model" -v b="$batch" -v one="$one" -v two="$two" -v w="$wait" 'BEGIN {
        printf "%-7s 1 process x 2 thr  %9.0f  %7.1f  -\n", m, one, 1000 * b / one
        printf "%-7s 2 ranks x 1 thr    %9.0f  %7.1f  %.2f\n", m, two, 1000 * b / two, 1000 * w }'
done

echo
echo "MPI_Allreduce, 2 ranks on loopback (sum of floats in place; median of 21):"
mpicc -O2 tools/bench_allreduce.c -o "$work/bench_allreduce"
"${mpirun[@]}" "$work/bench_allreduce" 21
