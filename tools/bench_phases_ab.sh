#!/bin/bash
# Alternated rounds of one model's step: fused, fused without phases, eager (docs/benchmarks.md,
# "Phases"). One JSON line per run, prefixed "MODEL|CONFIG|"; then each configuration's
# per-round medians.
#   tools/bench_phases_ab.sh MODEL STEPS WARMUP ROUNDS      (THREADS=N: kernel threads, default 2)
set -euo pipefail
if [ $# -ne 4 ]; then echo "usage: $0 MODEL STEPS WARMUP ROUNDS" >&2; exit 2; fi
model=$1 steps=$2 warmup=$3 rounds=$4
bin=${GENGRAPH:-.build/release/gengraph}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq 1 "$rounds"); do
  for config in "fused" "fused --fusion-off phases" "eager"; do
    read -r -a args <<< "$config"
    line=$("$bin" bench "$model" --modes "${args[@]}" --steps "$steps" --warmup "$warmup" \
           --threads "${THREADS:-2}" --json | grep '"mode"' | tail -1)
    echo "$model|$config|$line" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import collections, json, sys
medians = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, config, record = line.rstrip("\n").split("|", 2)
    medians[config].append(json.loads(record)["step_ms_median"])
for config, values in medians.items():
    print(f"{config:28s} " + ", ".join(f"{v:.1f}" for v in values) + " ms")
PY
