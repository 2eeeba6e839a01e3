"""Cached universal radius curves, interpolated: the radius of a density without a closed form."""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import make_noise
from ucan_core.norms import parse_norm
from ucan_core.universal.search import Settings, universal_radius_curve

_LOOKUP_P = 1.0 - np.geomspace(0.4999, 1e-9, 80)


@functools.lru_cache(maxsize=32)
def _lookup_curve(name: str, sigma: float, dim: int, params: tuple[tuple[str, float], ...],
                  norm: float) -> tuple[np.ndarray, np.ndarray]:
    noise = make_noise(name, sigma, dim, **dict(params))
    curve = universal_radius_curve(noise, _LOOKUP_P, norm, settings=Settings(scales=16))
    return stats.norm.ppf(_LOOKUP_P), curve.radius


def interpolated_radius(noise: Noise, p_a: float, norm: float | str) -> float:
    """The approximate universal radius at ``p_a`` from a cached 80-point curve per noise
    (interpolated in Φ⁻¹(p_A)); 0 at p_A ≤ ½. For certifying with densities that have no
    closed form: one curve per noise, then a lookup per certificate."""
    if not p_a > 0.5:
        return 0.0
    params = tuple(sorted(noise.params.items()))
    z, radius = _lookup_curve(noise.name, noise.sigma, noise.dim, params, parse_norm(norm))
    return float(np.interp(stats.norm.ppf(min(p_a, _LOOKUP_P[-1])), z, radius))
