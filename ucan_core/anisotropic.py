"""Anisotropic noise (UCAN, Hong et al.): x + μ + s ⊙ ε from any isotropic noise ε.

``scale`` s is a positive multiplier map (dimensionless): coordinate i gets standard
deviation s_i·σ, where σ is the base noise's. ``shift`` μ is in pixel units.

Guarantee (UCAN Theorem 3.2): if the base noise certifies the ℓp radius R at p_A, the
smoothed classifier with anisotropic noise is constant on the region
``{δ : ‖δ/s‖_p ≤ R}`` (μ does not enter). From it (Corollary 3.3):

* the ℓp radius ``min_i s_i · R`` — the largest ℓp ball inside the region (sound);
* the ALM ``(∏ s_i)^{1/d} · R`` — the radius of the isotropic region of equal volume, a
  *size measure* of the region, not a radius of a ball inside it.

These hold for a fixed (μ, s). When μ and s are computed from the input being certified
(UCAN's input-dependent NPG), they certify only the classifier frozen at that input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ucan_core.errors import UcanError, norm_label, parse_norm
from ucan_core.noises import Kind, Noise, Radius


def _as_map(name: str, values: torch.Tensor | np.ndarray | float, dim: int,
            device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(values, dtype=torch.float32, device=device)
    if t.numel() == 1:
        t = t.reshape(1).expand(dim)
    if t.numel() != dim:
        raise UcanError(f"{name} map has {t.numel()} entries but the noise has dim {dim}")
    if not torch.isfinite(t).all():
        raise UcanError(f"{name} map contains NaN or infinite values")
    return t.reshape(dim).contiguous()


def log_geometric_mean(scale: torch.Tensor) -> float:
    """log((∏ s_i)^{1/d}) = mean(log s_i), computed in log space (no under/overflow)."""
    return float(torch.log(scale.double()).mean())


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


class AnisotropicNoise:
    """Noise μ + s ⊙ ε with ε from an isotropic ``base`` noise; same interface as a noise.

    ``scale`` and ``shift`` are maps with ``base.dim`` entries (any shape, e.g. C×H×W) or
    scalars. ``input_dependent=True`` marks maps computed from the certified input: its
    certificates then hold only for the classifier frozen at that input.
    """

    def __init__(self, base: Noise, scale: torch.Tensor | np.ndarray | float = 1.0,
                 shift: torch.Tensor | np.ndarray | float = 0.0, *, name: str = "anisotropic",
                 input_dependent: bool = False) -> None:
        self.base = base
        self.scale = _as_map("scale", scale, base.dim, base.device)
        if (self.scale <= 0).any():
            raise UcanError("scale map must be > 0 everywhere")
        self.shift = _as_map("shift", shift, base.dim, base.device)
        self.npg = name
        self.input_dependent = input_dependent

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def device(self) -> torch.device:
        return self.base.device

    @property
    def sigma(self) -> float:
        return self.base.sigma

    @property
    def native_norm(self) -> float:
        return self.base.native_norm

    @property
    def isotropic(self) -> bool:
        return bool((self.scale == self.scale[0]).all())

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` draws of μ + s ⊙ ε, shape ``(num, dim)``."""
        return self.base.sample(num, generator) * self.scale + self.shift

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log-density of z = μ + s ⊙ ε: log p_ε((z − μ)/s) − Σ log s_i."""
        return self.base.log_prob((z - self.shift) / self.scale) - torch.log(self.scale).sum()

    def std_map(self) -> torch.Tensor:
        """Per-coordinate standard deviation s_i·σ (pixel units)."""
        return self.scale * self.base.sigma

    def region(self, p_a: float, norm: float | str | None = None) -> CertifiedRegion:
        """The certified region {δ : ‖δ/s‖_p ≤ R_base(p_A)}."""
        q = self.native_norm if norm is None else parse_norm(norm)
        base = self.base.radius(p_a, q)
        return CertifiedRegion(self.scale.double().cpu().numpy(), base.value, q)

    def radius_curve(self, p_a: np.ndarray | float, norm: float | str) -> tuple[np.ndarray, Kind]:
        """ℓp radius min_i s_i · R_base(p_A); sound (exact only when s is constant)."""
        values, kind = self.base.radius_curve(p_a, norm)
        if not self.isotropic and kind == "exact":
            kind = "sound"
        return values * float(self.scale.min()), kind

    @property
    def alm_factor(self) -> float:
        """(∏ s_i)^{1/d}, computed in log space: ALM = alm_factor · R_base."""
        return math.exp(log_geometric_mean(self.scale))

    def alm_curve(self, p_a: np.ndarray | float, norm: float | str) -> np.ndarray:
        """ALM (∏ s_i)^{1/d} · R_base(p_A), the volume-equivalent radius of the region."""
        values, _ = self.base.radius_curve(p_a, norm)
        return values * self.alm_factor

    def radius(self, p_a: float, norm: float | str | None = None) -> Radius:
        q = self.native_norm if norm is None else parse_norm(norm)
        values, kind = self.radius_curve(p_a, q)
        formula = f"min_i s_i · [{self.base.formula(q)}]"
        return Radius(float(values[0]), norm_label(q), kind, formula)

    def radii(self, p_a: float) -> dict[str, Radius]:
        if not self.base.direct:
            return {}
        return {label: self.radius(p_a, label) for label in ("1", "2", "inf")}

    def alm(self, p_a: float, norm: float | str | None = None) -> float:
        q = self.native_norm if norm is None else parse_norm(norm)
        return float(self.alm_curve(p_a, q)[0])

    def describe(self) -> dict[str, Any]:
        s = self.scale.double()
        return {**self.base.describe(), "npg": self.npg, "input_dependent": self.input_dependent,
                "scale_min": float(s.min()), "scale_max": float(s.max()),
                "scale_geomean": self.alm_factor,
                "shift_abs_max": float(self.shift.abs().max())}

    def __repr__(self) -> str:
        return f"AnisotropicNoise({self.base!r}, npg={self.npg!r})"
