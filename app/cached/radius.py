"""Radius page: cached calls into the universal radius engine (``ucan_core.universal``).

Every cached function is keyed by plain arguments (density name, σ, d, norm, mode and the
numerical settings), so a curve is computed once per process. Nothing here does maths: the
engine computes the universal curve, the closed form and PixelDP's radius. Errors are
:class:`ucan_core.errors.UcanError`, left to the page to display.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ucan_core.noises.catalog import NOISES, make_noise
from ucan_core.norms import parse_norm
from ucan_core.universal.compare import Comparison, compare_with_closed, pixeldp_radius
from ucan_core.universal.search import Mode, Settings, worst_direction_is_known

#: The p_A grid spans (½, 1): from P_LOW to P_HIGH in ``points`` steps.
P_LOW, P_HIGH = 0.51, 0.999
DEFAULT_POINTS = 25
DEFAULT_SCALES = 16


def p_grid(points: int) -> np.ndarray:
    """The p_A values at which every curve of the page is computed."""
    return np.linspace(P_LOW, P_HIGH, int(points))


@dataclass(frozen=True)
class DensityCurves:
    """One density's universal curve beside its closed form (``comparison.closed`` is None
    when the density has none), and whether the searched directions provably contain the
    worst one."""

    name: str
    title: str
    comparison: Comparison
    direction_known: bool


@st.cache_data(show_spinner=False, max_entries=64)
def density_curves(density: str, sigma: float, dim: int, norm: str, mode: Mode, points: int,
                   scales: int) -> DensityCurves:
    """``compare_with_closed`` for the density at σ (default parameters) in ℝ^dim."""
    noise = make_noise(density, sigma, dim)
    comparison = compare_with_closed(noise, p_grid(points), norm, mode=mode,
                                     settings=Settings(scales=scales))
    return DensityCurves(density, NOISES[density].title, comparison,
                         worst_direction_is_known(noise, parse_norm(norm)))


@st.cache_data(show_spinner=False, max_entries=32)
def pixeldp(sigma: float, points: int) -> np.ndarray:
    """PixelDP's ℓ2 radius of Gaussian noise σ on the page's p_A grid."""
    return pixeldp_radius(p_grid(points), sigma)
