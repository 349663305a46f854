#!/usr/bin/env python3
"""Check that PyTorch reads gengraph checkpoints into the reference modules, strictly.

Usage: python tools/check_checkpoint.py [--peers DIR] [--resave DIR] [--numpy] MODEL=PATH [MODEL=PATH ...]

MODEL is a zoo name (vae, gan, dcgan, ...) and PATH a checkpoint that
`Checkpoint.save` wrote for it. For each one this
- reads the safetensors header itself, so the tensor order is the file's,
- loads the tensors with safetensors.torch.load_file,
- checks the file's order, names, shapes and dtypes against the reference
  module's state_dict() pair by pair: parameters, running statistics, and the
  buffers gengraph derives (batch norm's int64 num_batches_tracked, PixelCNN's masks),
- loads them with load_state_dict(strict=True) and checks every value arrived bit for bit,
and prints OK at the end. With --resave it also writes each module's state_dict
back with safetensors.torch.save_file (its own order and padding, the same
metadata) as DIR/MODEL.safetensors, for gengraph to read in turn.

With --numpy it needs only the safetensors and numpy packages (no torch, no
reference modules): the safetensors library's own reader must parse each file
(header order, float32 tensors and int64 batch counters, the model named in the
metadata), and --resave writes the arrays back with safetensors.numpy.save_file.
"""
import argparse
import json
import os
import struct
import sys

from safetensors import safe_open

# The one int64 tensor a zoo model has; everything else is float32.
COUNTER = "num_batches_tracked"


def header_order(path):
    """Tensor names in the order the header lists them (json keeps key order)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    names = [k for k in header if k != "__metadata__"]
    by_offset = sorted(names, key=lambda k: header[k]["data_offsets"][0])
    if names != by_offset:
        raise AssertionError(f"{path}: header order {names} differs from data order {by_offset}")
    return names


def check_numpy(model, path, resave):
    import numpy as np
    from safetensors.numpy import load_file, save_file
    with safe_open(path, framework="np") as f:
        meta = f.metadata() or {}
    if meta.get("model") != model:
        raise AssertionError(f"{path}: metadata names model {meta.get('model')!r}, expected {model!r}")
    ours = header_order(path)
    arrays = load_file(path)
    if sorted(arrays) != sorted(ours):
        raise AssertionError(f"{path}: the library read {sorted(arrays)}, the header lists {sorted(ours)}")
    for name in ours:
        expected = np.int64 if name.rsplit(".", 1)[-1] == COUNTER else np.float32
        if arrays[name].dtype != expected:
            raise AssertionError(f"{path}: '{name}' is {arrays[name].dtype}, expected {np.dtype(expected)}")
        if not np.all(np.isfinite(arrays[name])):
            raise AssertionError(f"{path}: '{name}' has non-finite values")
    if resave:
        save_file({k: arrays[k] for k in ours}, os.path.join(resave, model + ".safetensors"), metadata=meta)
    print(f"{model}: {len(ours)} tensors read by safetensors.numpy")


def check(ref, model, path, resave):
    import torch
    from safetensors.torch import load_file, save_file
    if model not in ref.MODELS:
        raise AssertionError(f"{model}: not a model of the reference ({', '.join(ref.MODELS)})")
    module = ref.build(model)
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("model") != model:
        raise AssertionError(f"{path}: metadata names model {meta.get('model')!r}, expected {model!r}")

    ours = header_order(path)
    tensors = load_file(path)
    expected = module.state_dict()
    if len(ours) != len(expected):
        raise AssertionError(f"{path}: {len(ours)} tensors, {model} has {len(expected)}: {ours} vs {list(expected)}")
    for a, (b, want) in zip(ours, expected.items()):
        if a != b:
            raise AssertionError(f"{path}: tensor '{a}' is where {model} has '{b}'")
        if tensors[a].shape != want.shape or tensors[a].dtype != want.dtype:
            raise AssertionError(f"{path}: '{a}' is {tensors[a].dtype} {list(tensors[a].shape)}, "
                                 f"{model} expects {want.dtype} {list(want.shape)}")

    module.load_state_dict(tensors, strict=True)
    loaded = module.state_dict()
    for name, value in tensors.items():
        same = torch.equal(loaded[name], value) if value.dtype == torch.int64 else \
            torch.equal(loaded[name].view(torch.int32), value.view(torch.int32))
        if not same:
            raise AssertionError(f"{path}: '{name}' did not load bit for bit")
    if resave:
        save_file({k: v.contiguous() for k, v in loaded.items()}, os.path.join(resave, model + ".safetensors"), metadata=meta)
    print(f"{model}: {len(ours)} tensors load strictly into {type(module).__name__}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default=os.path.join(here, "peers"),
                        help="directory of torch_ref.py (default: tools/peers)")
    parser.add_argument("--resave", metavar="DIR", help="write the loaded tensors back with save_file into DIR")
    parser.add_argument("--numpy", action="store_true", help="check with safetensors.numpy alone (no torch)")
    parser.add_argument("checkpoints", nargs="+", metavar="MODEL=PATH")
    args = parser.parse_args()
    if not args.numpy:
        sys.path.insert(0, os.path.abspath(args.peers))
        import torch_ref  # noqa: E402

    try:
        for item in args.checkpoints:
            model, _, path = item.partition("=")
            if args.numpy:
                check_numpy(model, path, args.resave)
            else:
                check(torch_ref, model, path, args.resave)
    except AssertionError as e:
        print(f"FAIL {e}")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
