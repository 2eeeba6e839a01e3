"""Region page (and Learn's step 5): slices of the certified region {δ : ‖δ/s‖_p ≤ R} from
the engine's anisotropic view of a noise (``Noise.region``), the noise density's level sets on
the slice (``Noise.log_prob``), and the bundled models an empirical check can use."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import streamlit as st
import torch

from app.cached.models import model_cards
from app.cached.noise import build
from app.choices import NoiseChoice
from app.figures.region import RegionSlice
from ucan_core.certify.radii import uses_closed_form
from ucan_core.noises.base import Noise
from ucan_core.noises.region import unit_sphere_2d
from ucan_core.norms import parse_norm

#: Grid points × d evaluated for the level sets (photos get a coarser grid), and per chunk.
DENSITY_BUDGET = 30_000_000
DENSITY_CHUNK = 2_000_000
GRID_SIZES = (41, 101)
#: The level-set grid reaches this many noise standard deviations of the wider pixel.
LEVEL_SET_REACH = 2.5
#: The Region page's p_A reaches every p̲_A a certificate can have: (½, 1 − 10⁻⁹].
REGION_P_MIN, REGION_P_MAX = 0.500001, 1 - 1e-9
#: The level-set grid holds the region up to this p_A (or the p_A shown, if larger).
GRID_P = 0.999


def pixel_index(shape: tuple[int, int, int], channel: int, row: int, col: int) -> int:
    """Index of pixel (channel, row, col) in the flattened (C, H, W) input."""
    _, height, width = shape
    return (channel * height + row) * width + col


def _slice_density(noise: Noise, i: int, j: int, axis: np.ndarray) -> np.ndarray:
    """The noise density on the plane z = μ + t·e_i + u·e_j (rows u, columns t), divided by
    its largest value on the grid; from the engine's joint ``log_prob``."""
    t, u = np.meshgrid(axis, axis)
    points = torch.from_numpy(np.stack([t.ravel(), u.ravel()], axis=1))
    centre = noise.shift.double().cpu()
    rows = max(1, DENSITY_CHUNK // noise.dim)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(points), rows):
            chunk = points[start:start + rows]
            z = centre.repeat(len(chunk), 1)
            z[:, i], z[:, j] = chunk[:, 0], chunk[:, 1]
            parts.append(noise.log_prob(z).double())
    log_density = torch.cat(parts).numpy().reshape(t.shape)
    finite = log_density[np.isfinite(log_density)]
    peak = finite.max() if finite.size else 0.0
    return np.exp(log_density - peak)


def _reach(noise: Noise, p_a: float, norm: str, i: int, j: int) -> float:
    """Half-width of the slice: the noise's spread, widened to hold the region at ``p_a``."""
    std = noise.std_map().double().cpu().numpy()
    scale = noise.scale.double().cpu().numpy()
    reach = LEVEL_SET_REACH * max(std[i], std[j])
    if uses_closed_form(noise, norm):
        radius = noise.region(p_a, norm).radius
        reach = max(reach, 1.15 * max(scale[i], scale[j]) * radius)
    return reach


@st.cache_data(show_spinner=False, max_entries=32)
def _density_field(choice: NoiseChoice, norm: str, i: int, j: int,
                   reach_p: float = GRID_P) -> tuple[np.ndarray, np.ndarray]:
    """The level-set grid of the slice, on an extent that holds the region at ``reach_p``
    (:data:`GRID_P` unless a larger p_A is shown), so it is computed once per noise, norm and
    pixel pair for the usual p_A."""
    noise = build(choice)
    shift = noise.shift.double().cpu().numpy()
    half = _reach(noise, reach_p, norm, i, j) + max(abs(shift[i]), abs(shift[j]))
    size = int(min(GRID_SIZES[1], max(GRID_SIZES[0], math.sqrt(DENSITY_BUDGET / noise.dim))))
    axis = np.linspace(-half, half, size)
    return axis, _slice_density(noise, i, j, axis)


@st.cache_data(show_spinner=False, max_entries=64)
def region_slice(choice: NoiseChoice, p_a: float, norm: str, i: int, j: int,
                 with_density: bool = True) -> RegionSlice:
    """The certified region's slice in the (δ_i, δ_j) plane at ``p_a`` in ``norm`` with the
    ℓp ball and the ALM ball (when the noise has a closed-form radius), and optionally the
    noise density's level-set grid. Raises UcanError on a bad noise."""
    noise = build(choice)
    std = noise.std_map().double().cpu().numpy()
    shift = noise.shift.double().cpu().numpy()
    scale = noise.scale.double().cpu().numpy()
    fields: dict[str, Any] = {}
    if uses_closed_form(noise, norm):
        region = noise.region(p_a, norm)
        unit_x, unit_y = unit_sphere_2d(parse_norm(norm))
        fields = dict(radius=region.radius, radius_kind=noise.base.radius(p_a, norm).kind,
                      kind=noise.radius(p_a, norm).kind,
                      lp_radius=region.lp_radius, alm=region.alm, region=region.slice_2d(i, j),
                      ball=(unit_x * region.lp_radius, unit_y * region.lp_radius),
                      alm_ball=(unit_x * region.alm, unit_y * region.alm))
    if with_density:
        axis, density = _density_field(choice, norm, i, j, max(GRID_P, p_a))
        fields.update(axis=axis, density=density)
    return RegionSlice(norm=norm, scale=(float(scale[i]), float(scale[j])),
                       shift=(float(shift[i]), float(shift[j])),
                       std=(float(std[i]), float(std[j])), **fields)


def check_models(choice: NoiseChoice) -> list[str]:
    """Bundled isotropic models that take inputs of ``choice.shape`` (an MNIST digit, a
    CIFAR-10 image, a 224×224 photo): the density of ``choice`` first, then the σ nearest to
    its σ."""
    cards = {m: c for m, c in model_cards().items()
             if c.npg == "isotropic" and tuple(c.architecture.input_shape) == tuple(choice.shape)}
    return sorted(cards, key=lambda m: (cards[m].noise["name"] != choice.density,
                                        abs(float(cards[m].noise["sigma"]) - choice.sigma), m))
