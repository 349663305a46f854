#!/usr/bin/env python3
"""Times the PyTorch reference PixelCNN's sampling (784 full-canvas passes, as in
tools/peers/torch_ref.py) for comparison with `gengraph sample` on a pixelcnn run.

    ~/.cache/gg-peers/torch/bin/python tools/bench_torch_pixelcnn_sampling.py --n 64 --threads 2
"""
import argparse
import json
import os
import sys
import time

import torch

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--n", type=int, default=64)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--peers", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"),
                help="directory of torch_ref.py")
a = ap.parse_args()
sys.path.insert(0, os.path.abspath(a.peers))
import torch_ref  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(0)
net = torch_ref.PixelCNN().eval()
start = time.perf_counter()
with torch.no_grad():
    net.generate(a.n, None)
print(json.dumps({"impl": "torch", "version": torch.__version__, "n": a.n, "threads": a.threads,
                  "sample_s": time.perf_counter() - start}))
