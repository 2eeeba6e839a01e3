"""The noise library: isotropic smoothing noises with one interface.

Every noise ε ∈ ℝ^d is parameterised by ``sigma``, the per-coordinate standard deviation
(σ² = E‖ε‖²/d, the rs4a convention), and derives its own scale λ(σ) from it (table in
``prior-art.md`` §2.1). Each noise offers

* ``sample(num, generator)`` — ``num`` i.i.d. draws of shape ``(num, d)`` on its device,
  reproducible through a ``torch.Generator``;
* ``log_prob(eps)`` — the normalised joint log-density, summed over the last axis;
* ``perturb(x, num, generator)`` — the noisy inputs the base classifier reads: x + ε in
  float32, or an exact integer sum on the 1/255 grid for the float-sound noise (:mod:`.discrete`);
* ``radius(p_a, norm)`` / ``radius_curve(p_a, norm)`` — the certified radius of the smoothed
  classifier for a lower bound ``p_a`` on the top-class probability (binary form
  p_B = 1 − p_A), tagged with its :data:`Kind`.

Kinds of radius:

* ``exact`` — tight: some base classifier with this p_A is fooled just beyond it;
* ``sound`` — a valid certificate that may be loose (e.g. a cross-norm conversion, or a
  lower bound from the differential method of Yang et al. 2020);
* ``approximate`` — an estimate, not a guarantee.

For a symmetric i.i.d. log-concave marginal F the ℓ1 radius is the 1-D quantile F⁻¹(p_A),
and it is exact: the differential method's worst direction over the ℓ1 ball is an axis
(the directional derivative is linear in the direction, so its maximum over the
cross-polytope is at a vertex; log-concavity makes the Neyman–Pearson set a half-space),
and along an axis the 1-D Neyman–Pearson radius is exactly F⁻¹(p_A).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch

from ucan_core.checks import check_count, check_positive
from ucan_core.errors import UcanError
from ucan_core.labels import FLOAT_NOTE, Kind, Radius
from ucan_core.noises.region import CertifiedRegion
from ucan_core.norms import STANDARD_NORMS, convert_radius, norm_label, parse_norm

#: The σ range in which float32 sampling keeps the certificate's assumptions (pixel units,
#: inputs in [0, 1]). Below 1e-4 the draws near a pixel value of 1 are not far above float32's
#: spacing there (6·10⁻⁸), so x + ε starts to round back to x; above 1000 the spacing of
#: x + ε at 6σ (6σ·2⁻²³) exceeds half a grey level (1/510), so the sum loses the input.
SIGMA_RANGE = (1e-4, 1e3)


class Noise(ABC):
    """An isotropic (exchangeable) noise ε ∈ ℝ^d with per-coordinate standard deviation σ.

    Subclasses set ``name``, ``title``, ``native_norm`` (the norm the noise is designed to
    certify), ``direct`` (norms with a closed-form radius and the kind of each) and
    ``defaults`` (extra parameters), and implement ``lambd``, ``sample``, ``log_prob`` and
    ``_direct_radius``.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    native_norm: ClassVar[float] = 2.0
    direct: ClassVar[dict[float, Kind]] = {}
    defaults: ClassVar[dict[str, float]] = {}
    formulas: ClassVar[dict[float, str]] = {}
    #: Whether the certificate holds in floating point (:mod:`.discrete`), and what it assumes.
    float_sound: ClassVar[bool] = False
    assumption: ClassVar[str] = FLOAT_NOTE

    def __init__(self, sigma: float, dim: int, device: str | torch.device | None = None,
                 **params: float) -> None:
        self.sigma = check_positive("sigma", sigma)
        low, high = SIGMA_RANGE
        if not low <= self.sigma <= high:
            raise UcanError(f"sigma must lie in [{low:g}, {high:g}] (pixel units, inputs in "
                            f"[0, 1]), got {sigma!r}: outside it float32 noise loses the input "
                            "or vanishes against its rounding")
        self.dim = check_count("dim", dim)
        self.device = torch.device(device or "cpu")
        unknown = set(params) - set(self.defaults)
        if unknown:
            allowed = ", ".join(self.defaults) or "none"
            raise UcanError(f"noise {self.name!r} has no parameter {sorted(unknown)[0]!r} "
                            f"(parameters: {allowed})")
        self.params = {**self.defaults, **{k: float(v) for k, v in params.items()}}
        for key, value in self.params.items():
            if not math.isfinite(value):
                raise UcanError(f"noise parameter {key} must be finite, got {value!r}")
        self._check_params()
        if not (math.isfinite(self.lambd) and self.lambd > 0):
            raise UcanError(f"noise {self.name!r} with sigma={self.sigma:g} and {self.params} "
                            f"has scale lambda={self.lambd!r}: not a finite positive number")

    def _check_params(self) -> None:
        """Validate ``self.params``; raise :class:`UcanError` on a bad value."""

    @property
    @abstractmethod
    def lambd(self) -> float:
        """The distribution's scale λ(σ)."""

    @abstractmethod
    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` draws of ε as a float32 tensor of shape ``(num, dim)`` on ``self.device``."""

    def perturb(self, x: torch.Tensor, num: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` noisy copies x + ε of each row of ``x`` (B, d), shape (B, num, d): exactly
        what the base classifier reads (a float32 sum, no clipping)."""
        eps = self.sample(x.shape[0] * num, generator).view(x.shape[0], num, -1)
        return x[:, None, :] + eps

    @abstractmethod
    def log_prob(self, eps: torch.Tensor) -> torch.Tensor:
        """Normalised joint log-density of ``eps`` (last axis = the d coordinates)."""

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        """Closed-form radius for ``norm`` in ``self.direct``, for p ∈ (½, 1]."""
        raise NotImplementedError

    def radius_curve(self, p_a: np.ndarray | float, norm: float | str) -> tuple[np.ndarray, Kind]:
        """Certified ℓ_norm radius for each lower bound in ``p_a`` (0 where p_A ≤ ½).

        Uses the closed form where the noise has one for ``norm`` and the sound cross-norm
        conversion from the direct norms otherwise. Raises :class:`UcanError` when the noise
        has no closed-form radius at all (use the universal engine).
        """
        q = parse_norm(norm)
        p = np.atleast_1d(np.asarray(p_a, dtype=np.float64))
        if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
            raise UcanError("p_A must lie in [0, 1]")
        if not self.direct:
            raise UcanError(f"noise {self.name!r} has no closed-form radius; "
                            "use the universal (numerical) radius engine")
        live = p > 0.5
        pl = np.where(live, p, 0.75)
        with np.errstate(divide="ignore"):  # p_A = 1: the radius is +∞, not a warning
            if q in self.direct:
                values, kind = self._direct_radius(pl, q), self.direct[q]
            else:
                values = convert_radius({a: self._direct_radius(pl, a) for a in self.direct}, q,
                                        self.dim)
                kind = "sound"
        return np.where(live, values, 0.0), kind

    def radius(self, p_a: float, norm: float | str | None = None) -> Radius:
        """Certified radius at lower bound ``p_a`` in ``norm`` (default: the native norm)."""
        q = self.native_norm if norm is None else parse_norm(norm)
        values, kind = self.radius_curve(p_a, q)
        return Radius(float(values[0]), norm_label(q), kind, self.formula(q))

    # ---- the anisotropic view (UCAN): an isotropic noise is μ + s ⊙ ε with s = 1, μ = 0 ----
    npg: str = "isotropic"
    input_dependent: bool = False

    @property
    def base(self) -> Noise:
        """The isotropic noise ε underneath (the noise itself when isotropic)."""
        return self

    @property
    def scale(self) -> torch.Tensor:
        """The scale map s (dimensionless, d entries): coordinate i has std s_i·σ."""
        return torch.ones(self.dim, device=self.device)

    @property
    def shift(self) -> torch.Tensor:
        """The shift map μ (pixel units, d entries)."""
        return torch.zeros(self.dim, device=self.device)

    @property
    def isotropic(self) -> bool:
        """Whether every coordinate has the same standard deviation."""
        return True

    @property
    def alm_factor(self) -> float:
        """(∏ s_i)^{1/d}: ALM = alm_factor · R_base (1 for an isotropic noise)."""
        return 1.0

    def std_map(self) -> torch.Tensor:
        """Per-coordinate standard deviation s_i·σ (pixel units)."""
        return self.scale * self.sigma

    def alm_curve(self, p_a: np.ndarray | float, norm: float | str) -> np.ndarray:
        """ALM (∏ s_i)^{1/d} · R_base(p_A), the volume-equivalent radius of the region."""
        values, _ = self.base.radius_curve(p_a, norm)
        return values * self.alm_factor

    def alm(self, p_a: float, norm: float | str | None = None) -> float:
        q = self.native_norm if norm is None else parse_norm(norm)
        return float(self.alm_curve(p_a, q)[0])

    def region(self, p_a: float, norm: float | str | None = None) -> CertifiedRegion:
        """The certified region {δ : ‖δ/s‖_p ≤ R_base(p_A)}."""
        q = self.native_norm if norm is None else parse_norm(norm)
        base = self.base.radius(p_a, q)
        return CertifiedRegion(self.scale.double().cpu().numpy(), base.value, q)

    def radii(self, p_a: float) -> dict[str, Radius]:
        """Radii in ℓ1, ℓ2 and ℓ∞ (empty if the noise has no closed form)."""
        if not self.direct:
            return {}
        return {norm_label(q): self.radius(p_a, q) for q in STANDARD_NORMS}

    def formula(self, norm: float) -> str:
        """The radius formula for ``norm`` as text (conversion rule if not direct)."""
        if norm in self.formulas:
            return self.formulas[norm]
        parts = [f"r_{norm_label(a)}/d^{{max(0,1/{norm_label(a)}-1/{norm_label(norm)})}}"
                 for a in self.direct]
        return "max(" + ", ".join(parts) + ")  [norm conversion]"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description: name, σ, λ, d, parameters, native norm."""
        return {"name": self.name, "title": self.title, "sigma": self.sigma,
                "lambda": self.lambd, "dim": self.dim, "params": dict(self.params),
                "native_norm": norm_label(self.native_norm)}

    def to(self, device: str | torch.device) -> Noise:
        """The same noise on another device."""
        return type(self)(self.sigma, self.dim, device=device, **self.params)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v:g}" for k, v in self.params.items())
        return f"{type(self).__name__}(sigma={self.sigma:g}, dim={self.dim}{extra})"
