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
from typing import Any

import numpy as np
import torch

from ucan_core.errors import UcanError
from ucan_core.labels import Kind
from ucan_core.noises.base import Noise


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


class AnisotropicNoise(Noise):
    """Noise μ + s ⊙ ε with ε from an isotropic ``base`` noise; a :class:`Noise` itself.

    ``scale`` and ``shift`` are maps with ``base.dim`` entries (any shape, e.g. C×H×W) or
    scalars. ``input_dependent=True`` marks maps computed from the certified input: its
    certificates then hold only for the classifier frozen at that input.
    """

    name, title = "anisotropic", "Anisotropic"

    def __init__(self, base: Noise, scale: torch.Tensor | np.ndarray | float = 1.0,
                 shift: torch.Tensor | np.ndarray | float = 0.0, *, name: str = "anisotropic",
                 input_dependent: bool = False) -> None:
        if base.base is not base:
            raise UcanError("the base of an anisotropic noise must be an isotropic noise")
        if base.float_sound:
            raise UcanError(f"the float-sound noise {base.name!r} lives on the 1/255 grid, which "
                            "a scale map would leave: use it isotropic")
        self._base = base
        self._scale = _as_map("scale", scale, base.dim, base.device)
        if (self._scale <= 0).any():
            raise UcanError("scale map must be > 0 everywhere")
        self._shift = _as_map("shift", shift, base.dim, base.device)
        self.npg = name
        self.input_dependent = input_dependent

    @property
    def base(self) -> Noise:
        return self._base

    @property
    def scale(self) -> torch.Tensor:
        return self._scale

    @property
    def shift(self) -> torch.Tensor:
        return self._shift

    @property
    def sigma(self) -> float:  # type: ignore[override]
        return self._base.sigma

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self._base.dim

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return self._base.device

    @property
    def params(self) -> dict[str, float]:  # type: ignore[override]
        return self._base.params

    @property
    def native_norm(self) -> float:  # type: ignore[override]
        return self._base.native_norm

    @property
    def direct(self) -> dict[float, Kind]:  # type: ignore[override]
        return self._base.direct

    @property
    def lambd(self) -> float:
        return self._base.lambd

    @property
    def isotropic(self) -> bool:
        return bool((self._scale == self._scale[0]).all())

    @property
    def alm_factor(self) -> float:
        """(∏ s_i)^{1/d}, computed in log space: ALM = alm_factor · R_base."""
        return math.exp(log_geometric_mean(self._scale))

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` draws of μ + s ⊙ ε, shape ``(num, dim)``."""
        return self._base.sample(num, generator) * self._scale + self._shift

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log-density of z = μ + s ⊙ ε: log p_ε((z − μ)/s) − Σ log s_i."""
        return self._base.log_prob((z - self._shift) / self._scale) - torch.log(self._scale).sum()

    def radius_curve(self, p_a: np.ndarray | float, norm: float | str) -> tuple[np.ndarray, Kind]:
        """ℓp radius min_i s_i · R_base(p_A); sound (exact only when s is constant)."""
        values, kind = self._base.radius_curve(p_a, norm)
        if not self.isotropic and kind == "exact":
            kind = "sound"
        return values * float(self._scale.min()), kind

    def formula(self, norm: float) -> str:
        return f"min_i s_i · [{self._base.formula(norm)}]"

    def describe(self) -> dict[str, Any]:
        s = self._scale.double()
        return {**self._base.describe(), "npg": self.npg, "input_dependent": self.input_dependent,
                "scale_min": float(s.min()), "scale_max": float(s.max()),
                "scale_geomean": self.alm_factor,
                "shift_abs_max": float(self._shift.abs().max())}

    def to(self, device: str | torch.device) -> AnisotropicNoise:
        base = self._base.to(device)
        return AnisotropicNoise(base, self._scale.to(base.device), self._shift.to(base.device),
                                name=self.npg, input_dependent=self.input_dependent)

    def __repr__(self) -> str:
        return f"AnisotropicNoise({self._base!r}, npg={self.npg!r})"
