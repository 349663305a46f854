#!/bin/bash
# Alternated rounds of one model's step under several configurations, each a
# gengraph binary and its bench flags, one process per run (docs/benchmarks.md).
# One JSON line per run, prefixed "MODEL|LABEL|"; then each configuration's
# per-round medians.
#   tools/bench_ab.sh MODEL STEPS WARMUP ROUNDS 'LABEL=BIN FLAGS...' ...   (THREADS=N: kernel threads, default 2)
# e.g. phases on and off, and eager, in the working tree's build:
#   B=.build/release/gengraph; tools/bench_ab.sh ddpm 4 1 3 "fused=$B --modes fused" \
#     "no-phases=$B --modes fused --fusion-off phases" "eager=$B --modes eager"
set -euo pipefail
if [ $# -lt 5 ]; then echo "usage: $0 MODEL STEPS WARMUP ROUNDS 'LABEL=BIN FLAGS...' ..." >&2; exit 2; fi
model=$1 steps=$2 warmup=$3 rounds=$4
shift 4
for config in "$@"; do
  [[ $config == *=* ]] || { echo "bench_ab: '$config' is not LABEL=BIN FLAGS" >&2; exit 2; }
  read -r -a cmd <<< "${config#*=}"
  [ -x "${cmd[0]:-}" ] || { echo "bench_ab: '${cmd[0]:-}' (in '$config') is not an executable" >&2; exit 2; }
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq 1 "$rounds"); do
  for config in "$@"; do
    label=${config%%=*}
    read -r -a cmd <<< "${config#*=}"
    line=$("${cmd[0]}" bench "$model" "${cmd[@]:1}" --steps "$steps" --warmup "$warmup" \
           --threads "${THREADS:-2}" --json | grep '"mode"' | tail -1)
    echo "$model|$label|$line" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import collections, json, statistics, sys
medians = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, label, record = line.rstrip("\n").split("|", 2)
    medians[label].append(json.loads(record)["step_ms_median"])
digits = 2 if max(v for values in medians.values() for v in values) < 10 else 1  # the vae's steps are ~2.6 ms
for label, values in medians.items():
    print(f"{label:16s} " + ", ".join(f"{v:.{digits}f}" for v in values) +
          f" ms (median {statistics.median(values):.{digits}f})")
PY
