"""Datasets as float tensors in [0, 1] (N×C×H×W) with integer labels.

MNIST is read from the original IDX files (``.gz`` or not) under ``root``, in
``root``, ``root/mnist``, ``root/MNIST/raw``; with ``download=True`` torchvision fetches it.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from ucan_core.errors import UcanError, check_choice

_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: Path) -> np.ndarray:
    """Decode an IDX file (magic 2051 images / 2049 labels), gzip-compressed or not."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 8 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise UcanError(f"{path.name} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise UcanError(f"{path.name} is truncated: {data.size} bytes for shape {shape}")
    return data.reshape(shape)


def _find(root: Path, stem: str) -> Path | None:
    for folder in (root, root / "mnist", root / "MNIST" / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def load_mnist(root: str | Path, split: str = "test",
               download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` as (N×1×28×28 float in [0, 1], N labels)."""
    check_choice("split", split, _MNIST_FILES)
    root = Path(root)
    found = [_find(root, stem) for stem in _MNIST_FILES[split]]
    if None in found:
        if not download:
            raise UcanError(f"MNIST {split} files not found under {root} (pass download=True "
                            "or point --data-root at the IDX files)")
        from torchvision.datasets import MNIST

        MNIST(str(root), train=split == "train", download=True)
        found = [_find(root, stem) for stem in _MNIST_FILES[split]]
    images, labels = (read_idx(p) for p in found)  # type: ignore[arg-type]
    x = torch.from_numpy(images.copy()).float().div_(255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))
