#!/usr/bin/env python3
"""Check that PyTorch reads gengraph checkpoints into the reference modules.

Usage: python tools/check_checkpoint.py [--peers DIR] [--resave DIR] [--numpy] MODEL=PATH [MODEL=PATH ...]

MODEL is a zoo name (vae, gan, dcgan, ...) and PATH a checkpoint that
`Checkpoint.save` wrote for it. For each one this
- reads the safetensors header itself, so the tensor order is the file's,
- loads the tensors with safetensors.torch.load_file,
- pairs the file's order with the reference module's state_dict() order and
  checks names and shapes agree pair by pair,
- loads them with load_state_dict and checks every value arrived bit for bit,
and prints OK at the end. With --resave it also writes each module's tensors
back with safetensors.torch.save_file (its own order and padding, the same
metadata) as DIR/MODEL.safetensors, for gengraph to read in turn. Buffers PyTorch derives rather than learns
(batch norm's num_batches_tracked, PixelCNN's masks) are not in checkpoints.

With --numpy it needs only the safetensors and numpy packages (no torch, no
reference modules): the safetensors library's own reader must parse each file
(header order, float32, the model named in the metadata), and --resave writes
the arrays back with safetensors.numpy.save_file, for gengraph to read in turn.
"""
import argparse
import json
import os
import struct
import sys

from safetensors import safe_open

DERIVED = ("num_batches_tracked", "mask")


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
        if arrays[name].dtype != np.float32:
            raise AssertionError(f"{path}: '{name}' is {arrays[name].dtype}, expected float32")
        if not np.all(np.isfinite(arrays[name])):
            raise AssertionError(f"{path}: '{name}' has non-finite values")
    if resave:
        save_file({k: arrays[k] for k in ours}, os.path.join(resave, model + ".safetensors"), metadata=meta)
    print(f"{model}: {len(ours)} tensors read by safetensors.numpy")


def check(ref, model, path, resave):
    import torch
    from safetensors.torch import load_file, save_file
    family = {**ref.AE_FAMILY, **ref.GAN_FAMILY}
    if model not in family:
        raise AssertionError(f"{model}: not a model of the reference ({', '.join(family)})")
    module = family[model]()
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("model") != model:
        raise AssertionError(f"{path}: metadata names model {meta.get('model')!r}, expected {model!r}")

    ours = header_order(path)
    tensors = load_file(path)
    reference = [k for k in module.state_dict() if k.rsplit(".", 1)[-1] not in DERIVED]
    if len(ours) != len(reference):
        raise AssertionError(f"{path}: {len(ours)} tensors, {model} has {len(reference)}: {ours} vs {reference}")
    expected = module.state_dict()
    for a, b in zip(ours, reference):
        if a != b:
            raise AssertionError(f"{path}: tensor '{a}' is where {model} has '{b}'")
        if tuple(tensors[a].shape) != tuple(expected[b].shape):
            raise AssertionError(f"{path}: '{a}' has shape {list(tensors[a].shape)}, {model} expects {list(expected[b].shape)}")

    result = module.load_state_dict(tensors, strict=False)
    left = [k for k in result.missing_keys if k.rsplit(".", 1)[-1] not in DERIVED]
    if left or result.unexpected_keys:
        raise AssertionError(f"{path}: missing {left}, unexpected {result.unexpected_keys}")
    loaded = module.state_dict()
    for name, value in tensors.items():
        if value.dtype != torch.float32 or not torch.equal(loaded[name].view(torch.int32), value.view(torch.int32)):
            raise AssertionError(f"{path}: '{name}' did not load bit for bit")
    if resave:
        save_file({k: loaded[k] for k in reference}, os.path.join(resave, model + ".safetensors"), metadata=meta)
    print(f"{model}: {len(ours)} tensors match {type(module).__name__}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default=os.path.join(here, "..", "..", "shared", "peers"),
                        help="directory of torch_ref.py (default: ../shared/peers beside the repository)")
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
