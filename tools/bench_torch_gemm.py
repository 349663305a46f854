#!/usr/bin/env python3
"""Time torch.mm (f32, CPU) at gengraph's GEMM benchmark shapes, for comparison
with `gengraph-kernel-bench`. Same shapes, transposes, thread counts and
statistic (median GFLOP/s over repeated runs after warm-up).

Usage: python tools/bench_torch_gemm.py [--threads 1,2] [--reps N] [--json]
       [--ours ours.json]   # also print a markdown table, ours vs torch

ours.json is the output of `gengraph-kernel-bench --json`.
"""
import argparse
import json
import statistics
import time

import torch

SHAPES = [(128, 784, 400), (128, 400, 784), (784, 128, 400),
          (400, 128, 784), (512, 512, 512), (1024, 1024, 1024)]  # (M, K, N)
TRANS = ["NN", "TN", "NT"]  # op(A) op(B): T means the operand is stored transposed


def operands(m, k, n, trans):
    # Stored layouts match the Swift bench: A is (M,K) or, for T, (K,M) used as .t().
    a = torch.rand(k, m).t() if trans[0] == "T" else torch.rand(m, k)
    b = torch.rand(n, k).t() if trans[1] == "T" else torch.rand(k, n)
    return a, b


def bench(m, k, n, trans, reps, min_time):
    a, b = operands(m, k, n, trans)
    out = torch.empty(m, n)
    flops = 2.0 * m * n * k
    # Warm up for 50 ms, then size the inner loop so each sample lasts >= min_time.
    warm = time.perf_counter()
    while time.perf_counter() - warm < 0.05:  # caches, the OpenMP team, clocks
        torch.mm(a, b, out=out)
    inner = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b, out=out)
        if time.perf_counter() - t0 >= min_time:
            break
        inner *= 2
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b, out=out)
        samples.append(flops * inner / (time.perf_counter() - t0) / 1e9)
    return statistics.median(samples)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", default="1,2")
    p.add_argument("--trans", default=",".join(TRANS))
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--min-time", type=float, default=0.02, help="seconds per sample")
    p.add_argument("--json", action="store_true")
    p.add_argument("--ours", help="gengraph-kernel-bench --json output to compare against")
    args = p.parse_args()
    rows = []
    for t in [int(x) for x in args.threads.split(",")]:
        torch.set_num_threads(t)
        for tr in args.trans.split(","):
            for (m, k, n) in SHAPES:
                g = bench(m, k, n, tr, args.reps, args.min_time)
                rows.append({"threads": t, "trans": tr, "M": m, "K": k, "N": n, "gflops": g})
                if not args.json:
                    print(f"torch  threads={t} {tr} M={m:5d} K={k:5d} N={n:5d}  {g:8.1f} GFLOP/s", flush=True)
    if args.json:
        print(json.dumps({"library": f"torch {torch.__version__}", "rows": rows}, indent=1))
    if args.ours:
        print_comparison(json.load(open(args.ours))["rows"], rows)


def print_comparison(ours, theirs):
    """Markdown table: one row per (threads, trans, shape) both sides measured."""
    key = lambda r: (r["threads"], r["trans"], r["M"], r["K"], r["N"])
    mine = {key(r): r for r in ours}
    print(f"\n| threads | op | M | K | N | gengraph GFLOP/s | torch {torch.__version__} GFLOP/s | ratio |")
    print("|---:|:--:|---:|---:|---:|---:|---:|---:|")
    for t in sorted(theirs, key=lambda r: (-r["threads"], r["trans"])):
        o = mine.get(key(t))
        if o is None:
            continue
        print(f"| {t['threads']} | {t['trans']} | {t['M']} | {t['K']} | {t['N']} | "
              f"{o['gflops']:.1f} | {t['gflops']:.1f} | {o['gflops'] / t['gflops']:.2f} |")


if __name__ == "__main__":
    main()
