"""The certified region of (anisotropic) smoothing: {δ : ‖δ/s‖_p ≤ R}, its radius and 2-D slices."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ucan_core.errors import UcanError


@dataclass(frozen=True)
class CertifiedRegion:
    """The certified region {δ : ‖δ/s‖_p ≤ R} of anisotropic smoothing."""

    scale: np.ndarray
    radius: float
    norm: float

    def contains(self, delta: np.ndarray | torch.Tensor) -> np.ndarray:
        """Membership test for perturbations ``delta`` (last axis = d coordinates)."""
        d = np.asarray(delta, dtype=np.float64)
        if d.shape[-1] != self.scale.size:
            raise UcanError(f"perturbation has {d.shape[-1]} coordinates, region has {self.scale.size}")
        return np.linalg.norm(d / self.scale, ord=self.norm, axis=-1) <= self.radius * (1 + 1e-12)

    @property
    def lp_radius(self) -> float:
        """The largest ℓp ball inside the region: min_i s_i · R."""
        return float(self.scale.min()) * self.radius

    @property
    def alm(self) -> float:
        """The volume-equivalent radius (∏ s_i)^{1/d} · R."""
        return float(np.exp(np.log(self.scale).mean())) * self.radius

    def slice_2d(self, i: int, j: int, num: int = 361) -> tuple[np.ndarray, np.ndarray]:
        """Boundary of the region's slice in the (δ_i, δ_j) plane (other coordinates 0).

        The slice is {‖(δ_i/s_i, δ_j/s_j)‖_p ≤ R}: a rhombus (p = 1), an ellipse (p = 2), a
        box (p = ∞), a superellipse otherwise.
        """
        for k in (i, j):
            if not 0 <= k < self.scale.size:
                raise UcanError(f"coordinate {k} out of range 0..{self.scale.size - 1}")
        x, y = unit_sphere_2d(self.norm, num)
        return x * self.scale[i] * self.radius, y * self.scale[j] * self.radius


def unit_sphere_2d(norm: float, num: int = 361) -> tuple[np.ndarray, np.ndarray]:
    """Closed curve of the unit ℓp sphere in 2-D, parameterised by angle."""
    t = np.linspace(0.0, 2.0 * np.pi, num)
    c, s = np.cos(t), np.sin(t)
    if math.isinf(norm):
        m = np.maximum(np.abs(c), np.abs(s))
        return c / m, s / m
    radius = (np.abs(c) ** norm + np.abs(s) ** norm) ** (-1.0 / norm)
    return c * radius, s * radius
