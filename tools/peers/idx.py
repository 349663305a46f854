"""IDX files (the MNIST container format), plain or gzip-compressed, as numpy arrays."""
import gzip
import os

import numpy as np

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

# IDX type codes and their big-endian numpy element types.
ELEMENT_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read(path):
    """The array stored in one IDX file; raises ValueError naming the file when it is malformed."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as stream:
        raw = stream.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in ELEMENT_TYPES:
        raise ValueError(f"{path}: not an IDX file (magic {raw[:4].hex()})")
    rank = raw[3]
    start = 4 + 4 * rank
    if len(raw) < start:
        raise ValueError(f"{path}: header cut short")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    element = np.dtype(ELEMENT_TYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * element.itemsize
    if len(raw) - start != expected:
        raise ValueError(f"{path}: dimensions {dims} need {expected} bytes of data, the file holds {len(raw) - start}")
    return np.frombuffer(raw, dtype=element, offset=start).reshape(dims).copy()


def locate(directory, stem):
    """The file for `stem` (such as train-images-idx3) in `directory`, with or without -ubyte and .gz."""
    for suffix in ("-ubyte.gz", "-ubyte", ".gz", ""):
        candidate = os.path.join(directory, stem + suffix)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"no {stem} file in {directory} (bash tools/setup.sh installs Fashion-MNIST)")


def load(directory=FASHION_MNIST, split="train"):
    """(images uint8 N x 28 x 28, labels int64 N) of the train or test split."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images = read(locate(directory, prefix + "-images-idx3"))
    labels = read(locate(directory, prefix + "-labels-idx1")).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: {images.shape[0]} {split} images but {labels.shape[0]} labels")
    return images, labels
