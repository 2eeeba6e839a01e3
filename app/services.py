"""Cached calls into the engine (``ucan_core``) for the app's pages.

Nothing here does certification maths: it builds engine objects, asks them for maps, samples
and radius curves, and caches the results per Streamlit session-independent input. Errors from
the engine are :class:`ucan_core.errors.UcanError` and are left to the page to display.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from PIL import Image

from ucan_core.anisotropic import AnisotropicNoise
from ucan_core.errors import norm_label, parse_norm
from ucan_core.images import decode_image, list_images, to_tensor
from ucan_core.noises import NOISES, Noise
from ucan_core.npg import build_noise
from ucan_core.smoothing import noisy_samples as engine_noisy_samples

#: Photos and uploads are worked on with their longer side at most this many pixels.
MAX_SIDE = 224
DATASET_TITLES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "photo": "Photo"}
NPG_OPTIONS = {"isotropic": "isotropic", "pattern-1": "pattern ℓ1", "pattern-2": "pattern ℓ2",
               "pattern-inf": "pattern ℓ∞"}


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
    return _prepare(entry.load(), f"{DATASET_TITLES.get(entry.dataset, entry.dataset)} "
                                  f"{entry.label_name} ({image_id})")


@st.cache_data(show_spinner=False, max_entries=16)
def uploaded_image(data: bytes, name: str) -> InputImage:
    """Validate and decode an upload with the engine; raises UcanError on a bad file."""
    return _prepare(decode_image(data, name), name)


@dataclass(frozen=True)
class NoiseChoice:
    """Everything that defines the noise (hashable, so it can key the caches)."""

    density: str
    sigma: float
    shape: tuple[int, int, int]
    npg: str = "isotropic"
    kappa: float = 1.0
    iota: float = 1.0
    params: tuple[tuple[str, float], ...] = ()

    @property
    def pattern_norm(self) -> str | None:
        return self.npg.split("-", 1)[1] if self.npg.startswith("pattern-") else None


@st.cache_resource(show_spinner=False, max_entries=32)
def build(choice: NoiseChoice) -> Noise | AnisotropicNoise:
    """The engine noise for ``choice`` (isotropic, or anisotropic with a pattern map)."""
    npg = {} if choice.pattern_norm is None else dict(
        npg="pattern", pattern_norm=choice.pattern_norm, kappa=choice.kappa, iota=choice.iota)
    return build_noise(choice.density, choice.sigma, choice.shape, **npg, **dict(choice.params))


def base_of(noise: Noise | AnisotropicNoise) -> Noise:
    return noise.base if isinstance(noise, AnisotropicNoise) else noise


@st.cache_data(show_spinner=False, max_entries=32)
def noise_maps(choice: NoiseChoice) -> tuple[np.ndarray, np.ndarray]:
    """(σ map, μ map), each (C, H, W) in pixel units, from the engine's anisotropic view."""
    noise = build(choice)
    if not isinstance(noise, AnisotropicNoise):
        noise = AnisotropicNoise(noise)  # s = 1, μ = 0: the isotropic maps
    return (noise.std_map().reshape(choice.shape).cpu().numpy(),
            noise.shift.reshape(choice.shape).cpu().numpy())


@st.cache_data(show_spinner=False, max_entries=32)
def noisy_samples(choice: NoiseChoice, pixels: np.ndarray, num: int, seed: int) -> np.ndarray:
    """``num`` noisy inputs x + ε (ε from the engine's seeded sampler), shape (num, C, H, W)."""
    x = torch.from_numpy(pixels)
    return engine_noisy_samples(build(choice), x, num, seed=int(seed)).cpu().numpy()


@dataclass(frozen=True)
class Curves:
    """Engine radius curves on a p_A grid for one norm, and the values at the marker."""

    norm: str
    iso_values: np.ndarray
    iso_kind: str
    iso_marker: float
    aniso_values: np.ndarray | None = None
    aniso_kind: str | None = None
    aniso_marker: float | None = None
    alm_values: np.ndarray | None = None
    alm_marker: float | None = None


def has_closed_form(noise: Noise | AnisotropicNoise) -> bool:
    return bool(base_of(noise).direct)


def radius_curves(noise: Noise | AnisotropicNoise, p_grid: np.ndarray, p_a: float,
                  norm: str) -> Curves:
    """Isotropic radius (and, for anisotropic noise, ℓp radius and ALM) from the engine."""
    base = base_of(noise)
    iso, iso_kind = base.radius_curve(p_grid, norm)
    iso_marker = base.radius(p_a, norm)
    if not isinstance(noise, AnisotropicNoise):
        return Curves(norm, iso, iso_kind, iso_marker.value)
    aniso, aniso_kind = noise.radius_curve(p_grid, norm)
    return Curves(norm, iso, iso_kind, iso_marker.value,
                  aniso_values=aniso, aniso_kind=aniso_kind,
                  aniso_marker=noise.radius(p_a, norm).value,
                  alm_values=noise.alm_curve(p_grid, norm), alm_marker=noise.alm(p_a, norm))


def direct_radii(noise: Noise | AnisotropicNoise, p_a: float) -> dict[str, float]:
    """Symbols r_1, r_2, r_inf → the base noise's closed-form radii (for conversion rules)."""
    base = base_of(noise)
    return {f"r_{norm_label(q)}": base.radius(p_a, q).value for q in base.direct}


def native_norm_label(density: str) -> str:
    native = NOISES[density].native_norm
    return norm_label(native if isinstance(native, float) else parse_norm(native))


