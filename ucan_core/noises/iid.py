"""Noises with i.i.d. coordinates and a closed-form radius (Gaussian, Laplace, uniform, generalized
normal, hyperbolic secant, Pareto): ε_i ~ F, a symmetric 1-D law of scale λ(σ); Cauchy and the
mixtures are in :mod:`.heavy`.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import numpy as np
import torch
from scipy import special, stats

from ucan_core.errors import UcanError
from ucan_core.labels import Kind
from ucan_core.noises._sampling import _LOG_2, _random_sign, _uniform, standard_gamma
from ucan_core.noises.base import Noise
from ucan_core.norms import parse_norm


class IIDNoise(Noise):
    """Noise with i.i.d. coordinates: ε_i ~ F, a symmetric 1-D law of scale λ."""

    @abstractmethod
    def marginal(self) -> Any:
        """The 1-D marginal as a frozen ``scipy.stats`` distribution."""

    @abstractmethod
    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        """Per-coordinate log-density."""

    def log_prob(self, eps: torch.Tensor) -> torch.Tensor:
        return self._log_density_1d(eps).sum(dim=-1)

    def _quantile_radius(self, p: np.ndarray) -> np.ndarray:
        """ℓ1 radius F⁻¹(p) of an i.i.d. log-concave noise (module docstring)."""
        return self.marginal().ppf(p)


class Gaussian(IIDNoise):
    """N(0, σ²I), λ = σ. Radius λΦ⁻¹(p_A) in ℓ2 (Cohen et al. 2019).

    All ℓp radii are exact: the Neyman–Pearson worst case depends only on ‖δ‖₂, and the
    largest ℓ2 norm in the ℓp ball of radius r is r·d^{max(0, 1/2 − 1/p)}.
    """

    name, title, native_norm = "gaussian", "Gaussian", 2.0
    direct = {1.0: "exact", 2.0: "exact", math.inf: "exact"}
    formulas = {1.0: "σ·Φ⁻¹(p_A)", 2.0: "σ·Φ⁻¹(p_A)", math.inf: "σ·Φ⁻¹(p_A)/√d"}

    @property
    def lambd(self) -> float:
        return self.sigma

    def marginal(self) -> Any:
        return stats.norm(scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(num, self.dim, device=self.device, generator=generator) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        return -0.5 * (x / self.lambd) ** 2 - math.log(self.lambd * math.sqrt(2 * math.pi))

    def radius_curve(self, p_a: np.ndarray | float, norm: float | str) -> tuple[np.ndarray, Kind]:
        q = parse_norm(norm)
        values, _ = super().radius_curve(p_a, 2.0)
        return values / self.dim ** max(0.0, 0.5 - 1.0 / q), "exact"

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        return self.lambd * stats.norm.ppf(p) / self.dim ** max(0.0, 0.5 - 1.0 / norm)


class Laplace(IIDNoise):
    """i.i.d. Laplace, density ∝ exp(−‖x‖₁/λ), λ = σ/√2. ℓ1 radius −λ·ln(2(1 − p_A)), exact."""

    name, title, native_norm = "laplace", "Laplace", 1.0
    direct = {1.0: "exact"}
    formulas = {1.0: "−λ·ln(2(1−p_A)),  λ = σ/√2"}

    @property
    def lambd(self) -> float:
        return self.sigma / math.sqrt(2.0)

    def marginal(self) -> Any:
        return stats.laplace(scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        e = torch.empty(num, self.dim, device=self.device).exponential_(generator=generator)
        return e * _random_sign(num, self.dim, generator, self.device) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        return -x.abs() / self.lambd - math.log(2 * self.lambd)

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        return -self.lambd * np.log(2.0 * (1.0 - p))


class Uniform(IIDNoise):
    """Uniform on the cube [−λ, λ]^d, λ = √3·σ.

    ℓ1: 2λ(p_A − ½); ℓ∞: 2λ(1 − (3/2 − p_A)^{1/d}); both exact (the shifted cube loses
    mass 1 − ∏(1 − |δ_i|/2λ), maximised at an axis for ℓ1 and a corner for ℓ∞).
    """

    name, title, native_norm = "uniform", "Uniform (cube)", 1.0
    direct = {1.0: "exact", math.inf: "exact"}
    formulas = {1.0: "2λ(p_A − ½),  λ = √3·σ",
                math.inf: "2λ(1 − (3/2 − p_A)^{1/d}),  λ = √3·σ"}

    @property
    def lambd(self) -> float:
        return math.sqrt(3.0) * self.sigma

    def marginal(self) -> Any:
        return stats.uniform(loc=-self.lambd, scale=2 * self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return (_uniform(num, self.dim, generator, self.device) * 2.0 - 1.0) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        inside = torch.full_like(x, -math.log(2 * self.lambd))
        return torch.where(x.abs() <= self.lambd, inside, torch.full_like(x, -math.inf))

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        if norm == 1.0:
            return 2.0 * self.lambd * (p - 0.5)
        return 2.0 * self.lambd * -np.expm1(np.log1p(0.5 - p) / self.dim)


#: Smallest generalized-normal shape whose draws G^{1/s} (G ~ Gamma(1/s)) stay in float32.
GENNORM_MIN_SHAPE = 0.2


#: Largest Pareto tail index a: (a−1)(a−2) and the float64 sampler stay exact below it.
PARETO_MAX_A = 1e8


class GeneralizedNormal(IIDNoise):
    """i.i.d. generalized normal, density ∝ exp(−|x/λ|^s), λ = σ/√(Γ(3/s)/Γ(1/s)).

    ``shape`` s = 1 is Laplace and s = 2 is Gaussian. ℓ1 radius: F⁻¹(p_A), exact for s ≥ 1
    (log-concave); for s = ½ the closed form of Yang et al. (2020),
    2λ(−c·ln(1 − e^{−c}) + Li₂(e^{−c})) with c = P⁻¹(2, 2(1 − p_A)) (regularised lower
    incomplete gamma inverse), a sound lower bound. Other s < 1 have no closed form.
    """

    name, title, native_norm = "gennorm", "Generalized normal", 1.0
    defaults = {"shape": 2.0}

    def _check_params(self) -> None:
        s = self.params["shape"]
        if s <= 0:
            raise UcanError(f"gennorm shape must be > 0, got {s:g}")
        if s < GENNORM_MIN_SHAPE:
            raise UcanError(f"gennorm shape must be >= {GENNORM_MIN_SHAPE:g}, got {s:g}: below "
                            "it the draws λ·G^{1/s} overflow float32 (G ~ Gamma(1/s))")

    @property
    def shape(self) -> float:
        return self.params["shape"]

    @property
    def direct(self) -> dict[float, Kind]:  # type: ignore[override]
        if self.shape == 2.0:
            return dict(Gaussian.direct)
        if self.shape >= 1.0:
            return {1.0: "exact"}
        if self.shape == 0.5:
            return {1.0: "sound"}
        return {}

    @property
    def formulas(self) -> dict[float, str]:  # type: ignore[override]
        if self.shape == 0.5:
            return {1.0: "2λ(−c·ln(1−e^{−c}) + Li₂(e^{−c})),  c = P⁻¹(2, 2(1−p_A))"}
        return {1.0: "λ·(P⁻¹(1/s, 2p_A − 1))^{1/s}  (1-D quantile F⁻¹(p_A))",
                2.0: "σ·Φ⁻¹(p_A)", math.inf: "σ·Φ⁻¹(p_A)/√d"}

    @property
    def lambd(self) -> float:
        s = self.shape
        return self.sigma / math.sqrt(math.exp(math.lgamma(3 / s) - math.lgamma(1 / s)))

    def marginal(self) -> Any:
        return stats.gennorm(self.shape, scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        g = standard_gamma(1.0 / self.shape, num * self.dim, generator, self.device)
        magnitude = (g ** (1.0 / self.shape)).to(torch.float32).view(num, self.dim)
        return magnitude * _random_sign(num, self.dim, generator, self.device) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        s = self.shape
        return -(x.abs() / self.lambd) ** s - math.log(2 * self.lambd) - math.lgamma(1 + 1 / s)

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        if self.shape == 2.0:
            return Gaussian(self.sigma, self.dim)._direct_radius(p, norm)
        if self.shape >= 1.0:
            return self._quantile_radius(p)
        c = special.gammaincinv(2.0, 2.0 * (1.0 - p))
        return 2.0 * self.lambd * (-c * np.log(-np.expm1(-c)) + special.spence(-np.expm1(-c)))


class HyperbolicSecant(IIDNoise):
    """i.i.d. hyperbolic secant, density (1/(πb))·sech(x/b), b = 2σ/π.

    ℓ1 radius b·ln tan(π·p_A/2) = F⁻¹(p_A), exact (log-concave marginal).
    """

    name, title, native_norm = "hypsecant", "Hyperbolic secant", 1.0
    direct = {1.0: "exact"}
    formulas = {1.0: "b·ln tan(π·p_A/2),  b = 2σ/π"}

    @property
    def lambd(self) -> float:
        return 2.0 * self.sigma / math.pi

    def marginal(self) -> Any:
        return stats.hypsecant(scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = _uniform(num, self.dim, generator, self.device, low=1e-7).clamp_max(1 - 1e-7)
        return torch.log(torch.tan(0.5 * math.pi * u)) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        y = (x / self.lambd).abs()
        log_cosh = y + torch.log1p(torch.exp(-2 * y)) - _LOG_2
        return -log_cosh - math.log(math.pi * self.lambd)

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        # tan(π/2) is 1.6·10¹⁶ in float64, not ∞: p_A = 1 certifies every radius
        with np.errstate(divide="ignore"):
            return np.where(p >= 1.0, np.inf, self.lambd * np.log(np.tan(0.5 * np.pi * p)))


class Pareto(IIDNoise):
    """i.i.d. two-sided power law, density (a/2λ)(1 + |x|/λ)^{−(a+1)}, λ = σ√((a−1)(a−2)/2).

    ℓ1 radius (Yang et al. 2020): λ(2p_A − 1)/a · ₂F₁(1, a/(a+1); a/(a+1) + 1;
    (2p_A − 1)^{1+1/a}), a sound lower bound (differential method).
    """

    name, title, native_norm = "pareto", "Pareto (power law)", 1.0
    defaults = {"a": 3.0}
    direct = {1.0: "sound"}
    formulas = {1.0: "λ(2p_A−1)/a·₂F₁(1, a/(a+1); a/(a+1)+1; (2p_A−1)^{1+1/a})"}

    def _check_params(self) -> None:
        if self.params["a"] <= 2:
            raise UcanError(f"pareto a must be > 2 for a finite variance, got {self.params['a']:g}")
        if self.params["a"] > PARETO_MAX_A:
            raise UcanError(f"pareto a must be <= {PARETO_MAX_A:g}, got {self.params['a']:g}: "
                            "beyond it the law is Laplace to float precision (use laplace)")

    @property
    def lambd(self) -> float:
        a = self.params["a"]
        return self.sigma * math.sqrt((a - 1) * (a - 2) / 2)

    def marginal(self) -> Any:
        a = self.params["a"]
        return _TwoSidedLomax(a, self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        # float32 U(0, 1) is a multiple of 2^−24 and is 0 with probability 2^−24: floor it at
        # 2^−24, not lower, or each 0 lands at the 10^−12 tail quantile, ~10^4× too often.
        # u^{−1/a} − 1 = expm1(−ln(u)/a) in float64: in float32 it rounds to 0 for large a
        # (a = 10⁸: 99.7 % of the coordinates), voiding the certificate.
        u = _uniform(num, self.dim, generator, self.device, low=2.0 ** -24).double()
        magnitude = (torch.expm1(-torch.log(u) / self.params["a"]) * self.lambd).float()
        return magnitude * _random_sign(num, self.dim, generator, self.device)

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        a = self.params["a"]
        return math.log(a / (2 * self.lambd)) - (a + 1) * torch.log1p(x.abs() / self.lambd)

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        a = self.params["a"]
        b = a / (a + 1)
        z = 2 * p - 1
        return self.lambd * z / a * special.hyp2f1(1.0, b, b + 1.0, z ** (1 + 1 / a))


class _TwoSidedLomax:
    """Minimal frozen-distribution stand-in (ppf, cdf, pdf) for the two-sided Lomax law."""

    def __init__(self, a: float, scale: float) -> None:
        self.a, self.scale = a, scale

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        tail = 0.5 * (1 + np.abs(x) / self.scale) ** -self.a
        return np.where(x < 0, tail, 1 - tail)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return self.a / (2 * self.scale) * (1 + np.abs(x) / self.scale) ** -(self.a + 1)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        tail = np.minimum(q, 1 - q)
        with np.errstate(divide="ignore"):  # q ∈ {0, 1}: the quantile is ±∞
            magnitude = self.scale * ((2 * tail) ** (-1 / self.a) - 1)
        return np.where(q < 0.5, -magnitude, magnitude)
