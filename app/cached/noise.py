"""A page's noise from the engine, cached: the noise of a :class:`~app.choices.NoiseChoice`
(isotropic or pattern-fixed, ``ucan_core.npg.source.build_noise``) or of a bundled model's
learned NPG on an image (``NoiseSource``), with its σ and μ maps, seeded noisy samples and
radius curves."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from app.cached.models import learned_model, noise_source, router_on
from app.choices import LEARNED, LEARNED_NPG_OPTIONS, NoiseChoice
from ucan_core.certify.smoothed import noisy_samples as engine_noisy_samples
from ucan_core.errors import UcanError
from ucan_core.labels import SOUNDNESS_NOTES
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import NOISES
from ucan_core.norms import norm_label, parse_norm
from ucan_core.npg.source import build_noise
from ucan_core.zoo.bundled import model_card


@st.cache_resource(show_spinner=False, max_entries=32)
def build(choice: NoiseChoice) -> Noise:
    """The engine noise for ``choice`` on the CPU (isotropic, or anisotropic with a pattern
    map); cached across sessions."""
    return build_noise(choice.density, choice.sigma, choice.shape, device="cpu",
                       **choice.fixed_npg(), **dict(choice.params))


def maps_of(noise: Noise, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(σ map, μ map) of ``noise`` reshaped to ``shape`` (s = 1, μ = 0 when isotropic)."""
    return (noise.std_map().reshape(shape).cpu().numpy(),
            noise.shift.reshape(shape).cpu().numpy())


@st.cache_data(show_spinner=False, max_entries=32)
def noise_maps(choice: NoiseChoice) -> tuple[np.ndarray, np.ndarray]:
    """(σ map, μ map), each (C, H, W) in pixel units, of the noise of ``choice``."""
    return maps_of(build(choice), choice.shape)


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


def radius_curves(noise: Noise, p_grid: np.ndarray, p_a: float, norm: str) -> Curves:
    """Isotropic radius (and, for anisotropic noise, ℓp radius and ALM) from the engine."""
    base = noise.base
    iso, iso_kind = base.radius_curve(p_grid, norm)
    iso_marker = base.radius(p_a, norm)
    if base is noise:
        return Curves(norm, iso, iso_kind, iso_marker.value)
    aniso, aniso_kind = noise.radius_curve(p_grid, norm)
    return Curves(norm, iso, iso_kind, iso_marker.value,
                  aniso_values=aniso, aniso_kind=aniso_kind,
                  aniso_marker=noise.radius(p_a, norm).value,
                  alm_values=noise.alm_curve(p_grid, norm), alm_marker=noise.alm(p_a, norm))


def direct_radii(noise: Noise, p_a: float) -> dict[str, float]:
    """Symbols r_1, r_2, r_inf → the base noise's closed-form radii (for conversion rules)."""
    base = noise.base
    return {f"r_{norm_label(q)}": base.radius(p_a, q).value for q in base.direct}


def native_norm_label(density: str) -> str:
    native = NOISES[density].native_norm
    return norm_label(native if isinstance(native, float) else parse_norm(native))


# --------------------------------------------------------------------------------------------
# The bundled models' learned NPGs (Noise Lab, Compare, Noise maps, Certify's routing maps)


@st.cache_resource(show_spinner=False, max_entries=16)
def learned_noise(choice: NoiseChoice, pixels: np.ndarray) -> Noise:
    """The chosen density and σ shaped by the maps (s, μ) that the learned generator of
    :func:`~app.cached.models.learned_model` computes for ``pixels``; UcanError for inputs it
    was not made for."""
    model_id = learned_model(choice.npg, choice.sigma)
    expected = model_card(model_id).architecture.input_shape
    if tuple(choice.shape) != tuple(expected):
        raise UcanError(f"the learned noise generators were trained on "
                        f"{'×'.join(map(str, expected))} MNIST digits, this image is "
                        f"{'×'.join(map(str, choice.shape))}: pick an MNIST image")
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    return noise_source(model_id, dataclasses.replace(choice, npg=LEARNED)).at(x)


@st.cache_data(show_spinner=False, max_entries=32)
def _learned_samples(choice: NoiseChoice, pixels: np.ndarray, num: int,
                     seed: int) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    return engine_noisy_samples(learned_noise(choice, pixels), x, num, seed=int(seed)).cpu().numpy()


@dataclass(frozen=True)
class NoiseView:
    """One noise on one image: the engine noise, its σ and μ maps ((C, H, W), pixel units),
    ``num`` seeded noisy samples x + μ + s ⊙ ε and the soundness tag of its certificates."""

    noise: Noise
    std_map: np.ndarray
    shift: np.ndarray
    samples: np.ndarray

    @property
    def soundness(self) -> str:
        return "input-dependent" if self.noise.input_dependent else "sound"


def noise_view(choice: NoiseChoice, pixels: np.ndarray, num: int, seed: int) -> NoiseView:
    """The noise of ``choice`` (isotropic, pattern or learned NPG) on ``pixels``, with its
    maps and samples, all cached. Raises UcanError on a bad noise."""
    if choice.npg not in LEARNED_NPG_OPTIONS:
        std_map, shift = noise_maps(choice)
        return NoiseView(build(choice), std_map, shift, noisy_samples(choice, pixels, num, seed))
    noise = learned_noise(choice, pixels)
    std_map, shift = maps_of(noise, choice.shape)
    return NoiseView(noise, std_map, shift, _learned_samples(choice, pixels, num, seed))


@dataclass(frozen=True)
class NoiseMaps:
    """σ and μ maps (C, H, W, pixel units) of one smoothing noise, with its soundness tag."""

    title: str
    std_map: np.ndarray
    shift: np.ndarray
    soundness: str
    note: str
    stats: dict[str, float]


def _noise_maps(noise: Noise, title: str, shape: tuple[int, int, int]) -> NoiseMaps:
    tag = "input-dependent" if noise.input_dependent else "sound"
    scale = noise.scale.double()
    stats = {"scale_min": float(scale.min()), "scale_max": float(scale.max()),
             "scale_geomean": noise.alm_factor, "shift_abs_max": float(noise.shift.abs().max())}
    std_map, shift = maps_of(noise, shape)
    return NoiseMaps(title, std_map, shift, tag, SOUNDNESS_NOTES[tag], stats)


@st.cache_data(show_spinner=False, max_entries=32)
def fixed_maps(choice: NoiseChoice, title: str) -> NoiseMaps:
    """Maps of an isotropic or pattern-fixed noise (fixed maps: sound)."""
    return _noise_maps(build(choice), title, choice.shape)


@st.cache_data(show_spinner=False, max_entries=32)
def learned_maps(model_id: str, pixels: np.ndarray, title: str) -> NoiseMaps:
    """The maps of a bundled model's learned NPG (universal or input-dependent) on ``pixels``."""
    card = model_card(model_id)
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    noise = noise_source(model_id, NoiseChoice.of_card(card, npg=LEARNED)).at(x)
    return _noise_maps(noise, title, card.architecture.input_shape)


@st.cache_data(show_spinner=False, max_entries=32)
def route_maps(selector_id: str, config: str) -> tuple[np.ndarray, np.ndarray]:
    """(σ map, μ map) of the menu entry ``config`` of a bundled selector, (C, H, W)."""
    router = router_on(selector_id, "cpu")
    index = router.names.index(config)
    return maps_of(router.stages[index].noise, tuple(router.entries[index].scale.shape))
