#!/usr/bin/env python3
"""Times the PyTorch reference DDPM's sampling (tools/peers/torch_families.py: DDIM over
--steps steps, or ancestral over all 1000) for comparison with `gengraph sample` on a
ddpm run. The time does not depend on the weights; --load gives trained ones anyway.

    ~/.cache/gg-peers/torch/bin/python tools/bench_torch_ddpm_sampling.py --n 64 --steps 50 --threads 2

With --save-samples it draws --n images in chunks of --chunk from trained weights and
writes them (float32, N x 1 x 28 x 28, in [-1, 1]) for `gengraph judge`:

    ... bench_torch_ddpm_sampling.py --load torch-ddpm.safetensors --n 10000 --chunk 500 \
        --save-samples torch-ddpm-10k.npy --threads 1
"""
import argparse
import json
import os
import sys
import time

import torch

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--n", type=int, default=64)
ap.add_argument("--steps", type=int, default=50, help="DDIM steps, 1..1000")
ap.add_argument("--sampler", choices=["ddim", "ddpm"], default="ddim")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--rounds", type=int, default=1, help="time this many samplings; report the median")
ap.add_argument("--load", metavar="FILE.safetensors", help="a state_dict to sample from")
ap.add_argument("--save-samples", metavar="FILE.npy", help="write the images drawn (needs --load)")
ap.add_argument("--chunk", type=int, default=0, help="draw at most this many images at once (0: all)")
ap.add_argument("--peers", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"),
                help="directory of torch_families.py")
a = ap.parse_args()
if a.n < 1 or a.rounds < 1 or a.chunk < 0 or not 1 <= a.steps <= 1000:
    ap.error("--n and --rounds must be >= 1, --chunk >= 0, --steps in 1..1000")
if a.save_samples and not a.load:
    ap.error("--save-samples needs --load: samples of untrained weights are noise")
sys.path.insert(0, os.path.abspath(a.peers))
import torch_families  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(0)
model = torch_families.DDPM().eval()
if a.load:
    from safetensors.torch import load_file
    model.load_state_dict(load_file(a.load), strict=True)


def draw(n):
    return model.sample_ddpm(n) if a.sampler == "ddpm" else model.sample_ddim(n, a.steps)


def draw_all():
    chunk = a.chunk or a.n
    return torch.cat([draw(min(chunk, a.n - start)) for start in range(0, a.n, chunk)])


times = []
for _ in range(a.rounds):
    start = time.perf_counter()
    images = draw_all()
    times.append(time.perf_counter() - start)
if a.save_samples:
    import numpy as np
    np.save(a.save_samples, images.reshape(a.n, 1, 28, 28).numpy().astype(np.float32))
times.sort()
print(json.dumps({"impl": "torch", "version": torch.__version__, "n": a.n, "sampler": a.sampler,
                  "steps": a.steps if a.sampler == "ddim" else 1000, "threads": a.threads,
                  "seconds_median": times[len(times) // 2], "seconds_min": times[0]}))
