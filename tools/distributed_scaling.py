#!/usr/bin/env python3
"""The scaling model of docs/distributed.md: data-parallel training on N machines, each
computing a batch of 64 at the speed measured on this 2-core machine, gradients averaged
by a ring all-reduce over a network of the given bandwidth.

  ring all-reduce of S bytes in k buckets over N machines:
      T_comm = 2 (N - 1) / N * S / bandwidth + 2 (N - 1) * k * latency
  no overlap:    step = T_compute + T_comm
  full overlap:  step = max(T_compute, T_comm)   (the bound bucketing works towards: every
                 bucket's transfer hidden behind the backward pass still running)

  python3 tools/distributed_scaling.py [--latency-us 20]

Each model's numbers (compute ms per step, gradient bytes, buckets per step) are the
measurements of tools/bench_distributed.sh and `gengraph dump --ranks 2`; pass others with
--model NAME:MS:BYTES:BUCKETS (repeatable)."""
import argparse

MEASURED = [  # name, compute ms per step (1 process x 2 threads, batch 64), gradient bytes, buckets per step
    ("vae", 4.2, 652824 * 4, 2),
    ("dcgan", 277.0, 917122 * 4, 2),
    ("ddpm", 912.0, 584673 * 4, 3),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-us", type=float, default=20.0, help="per message step, microseconds (default 20: TCP through one switch)")
    parser.add_argument("--faster", type=float, default=1.0, help="machines this many times faster than this 2-core one (compute divided by it)")
    parser.add_argument("--model", action="append", default=[], help="NAME:MS:BYTES:BUCKETS instead of the measured models")
    args = parser.parse_args()
    models = MEASURED
    if args.model:
        models = []
        for spec in args.model:
            name, ms, size, buckets = spec.split(":")
            models.append((name, float(ms), int(size), int(buckets)))
    latency = args.latency_us * 1e-6
    machines = [2, 4, 8, 16, 32, 64]
    for name, ms, size, buckets in models:
        compute = ms / 1000 / args.faster
        print(f"{name}: compute {ms / args.faster:.1f} ms/step, gradients {size / 1e6:.2f} MB in {buckets} buckets")
        print("  Gbit/s  " + "".join(f"{'N=' + str(n):>17}" for n in machines))
        for gbits in [10, 25, 100]:
            bandwidth = gbits * 1e9 / 8
            cells = []
            for n in machines:
                comm = 2 * (n - 1) / n * size / bandwidth + 2 * (n - 1) * buckets * latency
                plain = compute / (compute + comm)
                overlapped = compute / max(compute, comm)
                cells.append(f"{comm * 1000:6.1f}ms {100 * plain:3.0f}/{100 * overlapped:3.0f}%")
            print(f"  {gbits:>6}  " + "".join(f"{c:>17}" for c in cells))
        print()
    print("cells: all-reduce ms per step, then efficiency (compute / step time) without / with full overlap")


if __name__ == "__main__":
    main()
