"""The universal radius beside a closed form and PixelDP's bound."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ucan_core.labels import Kind
from ucan_core.noises.base import Noise
from ucan_core.universal.search import Mode, Settings, UniversalCurve, universal_radius_curve


def pixeldp_radius(p_a: np.ndarray | float, sigma: float) -> np.ndarray:
    """PixelDP's ℓ2 radius for Gaussian noise (Lecuyer et al. 2019), binary p_B = 1 − p_A.

    Noise σ = √(2 ln(1.25/δ))·L/ε (ε ≤ 1) makes the smoothed scores (ε, δ)-DP at ℓ2 distance
    L; robust if p_A > e^{2ε}p_B + (1 + e^ε)δ. The radius is the largest L over (ε, δ) —
    sound but loose.
    """
    p = np.atleast_1d(np.asarray(p_a, dtype=np.float64))
    eps = np.linspace(1e-3, 1.0, 400)[:, None]
    delta_max = (p[None, :] - np.exp(2 * eps) * (1 - p[None, :])) / (1 + np.exp(eps))
    delta = np.clip(delta_max, 1e-300, 0.8)
    radius = np.where(delta_max > 0, sigma * eps / np.sqrt(2 * np.log(1.25 / delta)), 0.0)
    return radius.max(axis=0)


@dataclass
class Comparison:
    """The closed form (if the noise has one for the norm) beside the universal radius."""

    universal: UniversalCurve
    closed: np.ndarray | None
    closed_kind: Kind | None

    @property
    def relative_difference(self) -> np.ndarray | None:
        """(universal − closed)/closed where closed > 0: ≈ 0 for a tight closed form, > 0 where
        the closed form is loose."""
        if self.closed is None:
            return None
        safe = np.where(self.closed > 0, self.closed, np.nan)
        return (self.universal.radius - self.closed) / safe


def compare_with_closed(noise: Noise, p_a: np.ndarray | float, norm: float | str,
                        mode: Mode = "approximate", settings: Settings | None = None) -> Comparison:
    """Universal radius vs the noise's closed form at the same p_A values."""
    curve = universal_radius_curve(noise, p_a, norm, mode, settings)
    if not noise.direct:
        return Comparison(curve, None, None)
    closed, kind = noise.radius_curve(curve.p_a, norm)
    return Comparison(curve, closed, kind)
