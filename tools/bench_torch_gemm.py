#!/usr/bin/env python3
"""Time torch.mm (f32, CPU) at gengraph's GEMM benchmark shapes, for comparison
with `gengraph-kernel-bench`. Same shapes, transposes, thread counts and
statistic (median GFLOP/s over repeated runs after warm-up).

Usage: python tools/bench_torch_gemm.py [--threads 1,2] [--reps N] [--json]
       [--ours ours.json]   # also print a markdown table, ours vs torch
       [--interleave .build/release/gengraph-kernel-bench --rounds 3]

ours.json is the output of `gengraph-kernel-bench --json`. --interleave runs
the gengraph bench for one configuration, then torch for the same one, and so
on; with --rounds R it repeats everything R times and keeps, for each side and
configuration, the best of the R medians (configurations are shuffled between
rounds). On a machine shared with other work that keeps a burst of outside
load from landing on one side only.
"""
import argparse
import json
import random
import statistics
import subprocess
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
    p.add_argument("--interleave", metavar="BENCH", help="path of gengraph-kernel-bench to run alongside")
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args()
    if args.interleave:
        return interleaved(args)
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


def interleaved(args):
    best_ours, best_torch = {}, {}
    configs = [(int(t), tr, s) for t in args.threads.split(",") for tr in args.trans.split(",") for s in SHAPES]
    for r in range(args.rounds):
        # A fresh order each round, so a long burst of outside load does not
        # hit the same configurations every time.
        order = configs[:] if r == 0 else random.Random(r).sample(configs, len(configs))
        for (t, tr, (m, k, n)) in order:
            # torch's OpenMP workers keep spinning for a while after torch.mm
            # returns; give them time to sleep so they do not steal a core
            # from the gengraph run.
            time.sleep(0.5)
            out = subprocess.run([args.interleave, "--json", "--threads", str(t), "--trans", tr,
                                  "--shapes", f"{m}x{k}x{n}", "--reps", str(args.reps),
                                  "--min-time", str(args.min_time)],
                                 check=True, capture_output=True, text=True).stdout
            o = json.loads(out)["rows"][0]
            torch.set_num_threads(t)
            g = bench(m, k, n, tr, args.reps, args.min_time)
            key = (t, tr, m, k, n)
            if key not in best_ours or o["gflops"] > best_ours[key]["gflops"]:
                best_ours[key] = o
            if key not in best_torch or g > best_torch[key]["gflops"]:
                best_torch[key] = {"threads": t, "trans": tr, "M": m, "K": k, "N": n, "gflops": g}
            print(f"round {r + 1} threads={t} {tr} M={m} K={k} N={n}: gengraph {o['gflops']:.1f} "
                  f"torch {g:.1f}", flush=True)
    rows = list(best_torch.values())
    if args.json:
        print(json.dumps({"library": f"torch {torch.__version__}", "rows": rows,
                          "gengraph": list(best_ours.values())}, indent=1))
    print_comparison(list(best_ours.values()), rows)


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
