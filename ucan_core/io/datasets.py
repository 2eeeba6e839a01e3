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


#: The largest decoded dataset file read (MNIST train images are 47 MB): a gzip bomb stops
#: here instead of filling memory.
MAX_DECODED_BYTES = 256 * 1024 * 1024
#: The largest JPEG (in pixels) read from a CIFAR-10 archive (CIFAR images are 32×32).
MAX_ARCHIVE_PIXELS = 4096 * 4096


def _read_bounded(path: Path) -> bytes:
    """The bytes of ``path``, gunzipped if compressed, refused beyond MAX_DECODED_BYTES."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as stream:
            data = stream.read(MAX_DECODED_BYTES + 1)
    except (OSError, EOFError) as error:
        raise UcanError(f"{path.name} is not a readable (gzip) file: {error}") from None
    if len(data) > MAX_DECODED_BYTES:
        raise UcanError(f"{path.name} decodes to more than {MAX_DECODED_BYTES >> 20} MB: "
                        "not an MNIST file")
    return data


def read_idx(path: Path) -> np.ndarray:
    """Decode an IDX file (magic 2051 images / 2049 labels), gzip-compressed or not."""
    raw = _read_bounded(path)
    if len(raw) < 8 or raw[:2] != b"\x00\x00" or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise UcanError(f"{path.name} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) < 4 + 4 * ndim:
        raise UcanError(f"{path.name} is truncated in its header")
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape, dtype=object)):
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
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
        raise UcanError(f"MNIST {split}: images of shape {images.shape} and labels of shape "
                        f"{labels.shape} (expected N×28×28 and N)")
    if len(images) != len(labels):
        raise UcanError(f"MNIST {split}: {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise UcanError(f"MNIST {split}: label {int(labels.max())} is not a digit 0-9")
    x = torch.from_numpy(images.copy()).float().div_(255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def _cifar_from_jpeg_zip(path: Path) -> tuple[np.ndarray, np.ndarray]:

    images, labels = [], []
    try:
        with zipfile.ZipFile(path) as archive:
            for name in sorted(n for n in archive.namelist() if n.endswith(".jpg")):
                parts = name.split("/")
                if len(parts) != 3 or parts[1] not in CIFAR10_CLASSES:
                    raise UcanError(f"unexpected entry {name!r} in {path.name}")
                images.append(_archive_image(archive.read(name), name, path.name))
                labels.append(CIFAR10_CLASSES.index(parts[1]))
    except (zipfile.BadZipFile, OSError) as error:
        raise UcanError(f"{path.name} is not a readable zip archive: {error}") from None
    if not images:
        raise UcanError(f"{path.name} holds no <split>/<class>/<name>.jpg images")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _archive_image(data: bytes, name: str, archive: str) -> np.ndarray:
    """One 32×32 RGB image of a CIFAR-10 archive; a non-image, an oversized or a
    wrongly sized one is refused in one line."""
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise UcanError(f"{name} in {archive} is not a readable image: {error}") from None
    with image:
        if image.width * image.height > MAX_ARCHIVE_PIXELS:
            raise UcanError(f"{name} in {archive} is {image.width}×{image.height} pixels, "
                            "not a CIFAR-10 image")
        try:
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
        except (OSError, ValueError) as error:
            raise UcanError(f"{name} in {archive} is not a readable image: {error}") from None
    if pixels.shape != (32, 32, 3):
        raise UcanError(f"{name} in {archive} is {pixels.shape[1]}×{pixels.shape[0]}, CIFAR-10 "
                        "images are 32×32")
    return pixels


def _cifar_test100(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        values = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as error:
        first = str(error).splitlines()[0]
        raise UcanError(f"{path.name} is not a CSV of numbers: {first}") from None
    if values.size and (np.any(values != np.round(values)) or values.min() < 0
                        or values.max() > 255):
        raise UcanError(f"{path.name} holds values outside the bytes 0-255")
    rows = values.astype(np.uint8)
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

        try:
            data = CIFAR10(str(official or root), train=split == "train", download=download)
        except (OSError, RuntimeError, ValueError, EOFError) as error:
            first = (str(error).splitlines() or [type(error).__name__])[0]
            raise UcanError(f"CIFAR-10 {split}: cannot read cifar-10-batches-py under "
                            f"{official or root}: {first}") from None
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
