"""Datasets as float tensors in [0, 1] (N×C×H×W) with integer labels.

MNIST is read from the original IDX files (``.gz`` or not) under ``root``, in
``root``, ``root/mnist``, ``root/MNIST/raw``; with ``download=True`` torchvision fetches it.

CIFAR-10 is read, in this order, from torchvision's folder ``root/cifar-10-batches-py``
(the official release; ``download=True`` fetches it), or from the JPEG archives
``cifar10_{train_50k,test_10k}_jpeg.zip`` (``<split>/<class>/<NNNN>.jpg``, lossy: good for
training, not for comparing certified accuracy with published numbers), and split
``test100`` is the first 100 official test images, exact, from ``cifar10_test_first100.csv``
(rows ``label,`` + 3072 HWC bytes).
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import torch

from ucan_core.checks import check_choice
from ucan_core.errors import UcanError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


_CIFAR_ZIPS = {"train": "cifar10_train_50k_jpeg.zip", "test": "cifar10_test_10k_jpeg.zip"}


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


def _cifar_from_jpeg_zip(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    images, labels = [], []
    with zipfile.ZipFile(path) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".jpg")):
            parts = name.split("/")
            if len(parts) != 3 or parts[1] not in CIFAR10_CLASSES:
                raise UcanError(f"unexpected entry {name!r} in {path.name}")
            with Image.open(io.BytesIO(archive.read(name))) as image:
                images.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
            labels.append(CIFAR10_CLASSES.index(parts[1]))
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _cifar_test100(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    if rows.shape != (100, 3073):
        raise UcanError(f"{path.name} should have 100 rows of 3073 values, got {rows.shape}")
    return rows[:, 1:].reshape(100, 32, 32, 3), rows[:, 0].astype(np.int64)


def load_cifar10(root: str | Path, split: str = "test",
                 download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 ``split`` (train, test, or test100 = the exact first 100 test images) as
    (N×3×32×32 float in [0, 1], N labels)."""
    check_choice("split", split, ("train", "test", "test100"))
    root = Path(root)
    folders = [root, root / "cifar10"]
    official = next((f for f in folders if (f / "cifar-10-batches-py").is_dir()), None)
    if split != "test100" and (official is not None or download):
        from torchvision.datasets import CIFAR10

        data = CIFAR10(str(official or root), train=split == "train", download=download)
        images, labels = np.asarray(data.data), np.asarray(data.targets, dtype=np.int64)
    else:
        stem = "cifar10_test_first100.csv" if split == "test100" else _CIFAR_ZIPS[split]
        found = next((f / stem for f in folders if (f / stem).is_file()), None)
        if found is None:
            raise UcanError(f"CIFAR-10 {split} not found under {root} (pass download=True or "
                            f"point --data-root at cifar-10-batches-py or {stem})")
        images, labels = (_cifar_test100 if split == "test100" else _cifar_from_jpeg_zip)(found)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0).contiguous()
    return x, torch.from_numpy(labels)


DATASETS = {"mnist": load_mnist, "cifar10": load_cifar10}


def load_dataset(name: str, root: str | Path, split: str = "test",
                 download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Dispatch to :func:`load_mnist` or :func:`load_cifar10`."""
    return DATASETS[check_choice("dataset", name, DATASETS)](root, split, download=download)
