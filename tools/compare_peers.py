#!/usr/bin/env python3
"""Side-by-side training-step times: gengraph (eager, fused) against the PyTorch and JAX
references in tools/peers, measured in one run, alternating rounds so that machine noise
hits every implementation alike. Prints a markdown table of medians and ratios.

    python3 tools/compare_peers.py --model vae --rounds 3 --steps 100

Needs `swift build -c release` and the peers' virtual environments (`bash tools/setup.sh --peers`,
see tools/peers/README.md).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers")
TORCH = os.path.expanduser("~/.cache/gg-peers/torch/bin/python")
JAX = os.path.expanduser("~/.cache/gg-peers/jax/bin/python")
GENGRAPH = os.path.join(ROOT, ".build", "release", "gengraph")
JAX_MODELS = {"vae", "gan"}


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vae")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", default=PEERS, help="directory of torch_ref.py and jax_ref.py")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to warm up)")
    a = ap.parse_args()

    peers = a.peers
    common = ["--steps", str(a.steps), "--warmup", str(a.warmup), "--threads", str(a.threads)]
    runs = {}
    for r in range(a.rounds):
        for res in run_json([GENGRAPH, "bench", a.model, "--json"] + common):
            if "mode" in res:
                runs.setdefault("gengraph " + res["mode"], []).append(res)
        if os.path.exists(TORCH):
            modes = ["eager"] if a.no_compile else ["eager", "compile"]
            for mode in modes:
                res = run_json([TORCH, os.path.join(peers, "torch_ref.py"), "--model", a.model, "--mode", mode, "--json"] + common)[-1]
                runs.setdefault("torch " + mode, []).append(res)
        if os.path.exists(JAX) and a.model in JAX_MODELS:
            # jax_ref has no --threads: XLA uses every core (2 on the reference machine).
            res = run_json([JAX, os.path.join(peers, "jax_ref.py"), "--model", a.model, "--json",
                            "--steps", str(a.steps), "--warmup", str(a.warmup)])[-1]
            runs.setdefault("jax jit", []).append(res)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    medians = {k: statistics.median(x["step_ms_median"] for x in v) for k, v in runs.items()}
    fused = medians.get("gengraph fused")
    print(f"| {a.model} ({a.threads} threads) | step ms (median of {a.rounds} rounds of {a.steps} steps) "
          f"| rounds' medians, min..max | gengraph fused speed-up |")
    print("|---|---|---|---|")
    for k, ms in sorted(medians.items(), key=lambda kv: kv[1]):
        speedup = f"{ms / fused:.2f}x" if fused else ""
        each = [x["step_ms_median"] for x in runs[k]]
        print(f"| {k} | {ms:.2f} | {min(each):.2f}..{max(each):.2f} | {speedup} |")


if __name__ == "__main__":
    main()
