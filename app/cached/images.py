"""Bundled images and uploads, decoded and converted by the engine (``ucan_core.io.images``)
and cached across sessions: as a page works with them (:class:`InputImage`, photos reduced)
or at a model's input shape (:class:`ModelInput`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from ucan_core.io.images import decode_image, to_tensor
from ucan_core.zoo.bundled import list_images

#: Photos and uploads are worked on with their longer side at most this many pixels.
MAX_SIDE = 224
DATASET_TITLES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "imagenet": "ImageNet",
                  "photo": "Photo"}
#: The bundled image a dataset's picker opens with (else its first): for ImageNet, a folding
#: chair that the photo models certify at the default settings.
DEFAULT_IMAGES = {"imagenet": "imagenet-01"}


@dataclass(frozen=True)
class InputImage:
    """An image ready for the noise: (C, H, W) floats in [0, 1] plus where it came from."""

    pixels: np.ndarray
    name: str
    original_size: tuple[int, int]  # (width, height) as decoded

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.pixels.shape
        return int(c), int(h), int(w)

    @property
    def reduced(self) -> bool:
        return (self.shape[2], self.shape[1]) != self.original_size


def working_shape(image: Image.Image) -> tuple[int, int, int]:
    """(C, H, W) to work at: the image's own size, longer side reduced to ≤ MAX_SIDE."""
    width, height = image.size
    channels = 1 if image.mode == "L" else 3
    factor = min(1.0, MAX_SIDE / max(width, height))
    return channels, max(1, round(height * factor)), max(1, round(width * factor))


def _prepare(image: Image.Image, name: str) -> InputImage:
    pixels = to_tensor(image, working_shape(image)).numpy()
    return InputImage(pixels=pixels, name=name, original_size=image.size)


def dataset_title(dataset: str) -> str:
    """``"mnist"`` → ``"MNIST"`` (unknown datasets as they are)."""
    return DATASET_TITLES.get(dataset, dataset)


def default_image(dataset: str, image_ids: list[str]) -> int:
    """Index in ``image_ids`` (a picker's bundled images of ``dataset``) of the one it opens
    with: :data:`DEFAULT_IMAGES`, else the first."""
    chosen = DEFAULT_IMAGES.get(dataset)
    return image_ids.index(chosen) if chosen in image_ids else 0


@st.cache_data(show_spinner=False)
def bundled_catalog() -> dict[str, list[tuple[str, str]]]:
    """Dataset → [(image id, display label)], in catalogue order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for image_id, image in list_images().items():
        number = image_id.rsplit("-", 1)[-1]
        label = (f"{image.label_name}" if image.dataset == "photo"
                 else f"#{number} · {image.label_name}")
        groups.setdefault(image.dataset, []).append((image_id, label))
    return groups


@st.cache_data(show_spinner=False, max_entries=64)
def bundled_image(image_id: str) -> InputImage:
    """Decode (and for photos reduce) a bundled image; cached across sessions."""
    entry = list_images()[image_id]
    return _prepare(entry.load(), f"{dataset_title(entry.dataset)} {entry.label_name} "
                                  f"({image_id})")


@st.cache_data(show_spinner=False, max_entries=16)
def uploaded_image(data: bytes, name: str) -> InputImage:
    """Validate and decode an upload with the engine; raises UcanError on a bad file."""
    return _prepare(decode_image(data, name), name)


@dataclass(frozen=True)
class ModelInput:
    """An image converted to a model's input shape (C, H, W), in [0, 1]."""

    pixels: np.ndarray
    key: str                         # "bundled:<id>" or "upload:<sha256>", + ":inverted"
    name: str
    original_size: tuple[int, int]   # (width, height) as decoded
    original_mode: str               # "L" or "RGB"
    label: str | None = None         # the true label of a bundled image
    dataset: str | None = None       # the dataset of a bundled image ("mnist", …)

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.pixels.shape
        return int(c), int(h), int(w)

    def inverted(self) -> ModelInput:
        """The same image with dark and light swapped (1 − x)."""
        return ModelInput(1.0 - self.pixels, self.key + ":inverted", self.name + " (inverted)",
                          self.original_size, self.original_mode, self.label, self.dataset)


@st.cache_data(show_spinner=False, max_entries=64)
def bundled_model_input(image_id: str, shape: tuple[int, int, int]) -> ModelInput:
    """A bundled image as the model sees it (engine's ``to_tensor`` to ``shape``)."""
    entry = list_images()[image_id]
    image = entry.load()
    return ModelInput(to_tensor(image, shape).numpy(), f"bundled:{image_id}",
                      f"{dataset_title(entry.dataset)} {entry.label_name} ({image_id})",
                      image.size, image.mode, entry.label_name, entry.dataset)


@st.cache_data(show_spinner=False, max_entries=16)
def uploaded_model_input(data: bytes, name: str, shape: tuple[int, int, int]) -> ModelInput:
    """Validate an upload with the engine and convert it to ``shape``; UcanError if bad."""
    image = decode_image(data, name)
    digest = hashlib.sha256(data).hexdigest()
    return ModelInput(to_tensor(image, shape).numpy(), f"upload:{digest}", name, image.size,
                      image.mode)


def image_key(pixels: np.ndarray) -> str:
    """A key for the pixels themselves (bundled or uploaded alike)."""
    return "pixels:" + hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()[:20]
