"""Noises whose density depends on one norm of ε only (ℓ∞ cube and ℓ2 sphere level sets)."""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import ClassVar

import numpy as np
import torch
from scipy import special

from ucan_core.errors import UcanError
from ucan_core.noises._sampling import _LOG_2, _cube_surface, _sphere, standard_gamma
from ucan_core.noises.base import Noise


class RadialNoise(Noise):
    """Noise whose density depends on ‖x‖_q only (level sets are ℓq spheres), q =
    ``level_norm``. Sampling is ε = R·V with R = ‖ε‖_q drawn by ``sample_norm`` and V uniform
    on the unit ℓq sphere (q = ∞: the cube surface; q = 2: the sphere).
    """

    level_norm: ClassVar[float]

    @abstractmethod
    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        """log μ(x) as a function of t = ‖x‖_q."""

    @abstractmethod
    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` draws of ‖ε‖_q (float64)."""

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r = self.sample_norm(num, generator).to(torch.float32)[:, None]
        surface = _cube_surface if self.level_norm == math.inf else _sphere
        return surface(num, self.dim, generator, self.device) * r

    def log_prob(self, eps: torch.Tensor) -> torch.Tensor:
        t = eps.abs().amax(dim=-1) if self.level_norm == math.inf else eps.norm(dim=-1)
        return self.log_density_of_norm(t)


class ExpInf(RadialNoise):
    """Cube-level-set noise, density ∝ exp(−‖x‖∞/λ) (k = 1, j = 0 of Yang et al. 2020),
    λ = σ/√(((d−1)/3 + 1)(d + 1)).

    ℓ1: 2λd(p_A − ½), sound (differential method). ℓ∞: λ·ln(1/(2(1 − p_A))), exact: along
    the diagonal δ = r·1 the likelihood ratio is at its maximum e^{r/λ} exactly where the
    face of ε is positive and min ε_i ≥ 2r − ‖ε‖∞, a set of mass ½E[(1 − r/T)₊^{d−1}] = ½e^{−r/λ}
    (T = ‖ε‖∞ ~ Gamma(d, λ)); at the closed-form r that is 1 − p_A, so the Neyman–Pearson
    set of p_B = 1 − p_A has mass ½ under the shift: no larger ℓ∞ radius is certifiable.
    """

    name, title, native_norm = "expinf", "Exp-ℓ∞ (cube level sets)", math.inf
    level_norm = math.inf
    direct = {1.0: "sound", math.inf: "exact"}
    formulas = {1.0: "2λd(p_A − ½)", math.inf: "λ·ln(1/(2(1−p_A)))"}

    @property
    def lambd(self) -> float:
        d = self.dim
        return self.sigma / math.sqrt(((d - 1) / 3 + 1) * (d + 1))

    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return standard_gamma(float(self.dim), num, generator, self.device) * self.lambd

    def _log_norm(self) -> float:
        d = self.dim
        return d * _LOG_2 + d * math.log(self.lambd) + math.lgamma(d + 1)

    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        return -t / self.lambd - self._log_norm()

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        if norm == 1.0:
            return 2.0 * self.lambd * self.dim * (p - 0.5)
        return -self.lambd * np.log(2.0 * (1.0 - p))


class PowInf(ExpInf):
    """Cube-level-set power law, density ∝ (1 + ‖x‖∞/λ)^{−a}, a > d + 2,
    λ = σ√((a−d−1)(a−d−2)/(((d−1)/3 + 1)(d + 1))). ℓ1: 2λd/(a − d)·(p_A − ½), sound.
    Default a = ⌈1.3·d⌉ + 3 (UCAN used a = 4000 at d = 3072).
    """

    name, title = "powinf", "Power-law-ℓ∞ (cube level sets)"
    native_norm = 1.0
    direct = {1.0: "sound"}
    formulas = {1.0: "2λd/(a−d)·(p_A − ½)"}
    defaults = {"a": 0.0}

    def __init__(self, sigma: float, dim: int, device: str | torch.device | None = None,
                 **params: float) -> None:
        if not params.get("a"):
            params["a"] = float(math.ceil(1.3 * dim) + 3)
        super().__init__(sigma, dim, device, **params)

    def _check_params(self) -> None:
        if self.params["a"] <= self.dim + 2:
            raise UcanError(f"powinf a must be > d + 2 = {self.dim + 2}, got {self.params['a']:g}")

    @property
    def lambd(self) -> float:
        a, d = self.params["a"], self.dim
        return self.sigma * math.sqrt((a - d - 1) * (a - d - 2) / (((d - 1) / 3 + 1) * (d + 1)))

    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        g1 = standard_gamma(float(self.dim), num, generator, self.device)
        g2 = standard_gamma(self.params["a"] - self.dim, num, generator, self.device)
        return g1 / g2 * self.lambd

    def _log_norm(self) -> float:
        a, d = self.params["a"], self.dim
        log_beta = math.lgamma(d) + math.lgamma(a - d) - math.lgamma(a)
        return math.log(d) + d * _LOG_2 + d * math.log(self.lambd) + log_beta

    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        return -self.params["a"] * torch.log1p(t / self.lambd) - self._log_norm()

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        return 2.0 * self.lambd * self.dim / (self.params["a"] - self.dim) * (p - 0.5)


class UniformBall(RadialNoise):
    """Uniform on the ℓ2 ball of radius λ = σ√(d + 2).

    ℓ2 radius λ(2 − 4·B⁻¹_{(d+1)/2,(d+1)/2}(3/4 − p_A/2)), exact (ball overlap).
    """

    name, title, native_norm = "uniformball", "Uniform (ℓ2 ball)", 2.0
    level_norm = 2.0
    direct = {2.0: "exact"}
    formulas = {2.0: "λ(2 − 4·B⁻¹_{(d+1)/2,(d+1)/2}(3/4 − p_A/2)),  λ = σ√(d+2)"}

    @property
    def lambd(self) -> float:
        return self.sigma * math.sqrt(self.dim + 2)

    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = torch.rand(num, device=self.device, generator=generator, dtype=torch.float64)
        return u ** (1.0 / self.dim) * self.lambd

    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        d = self.dim
        log_volume = 0.5 * d * math.log(math.pi) + d * math.log(self.lambd) - math.lgamma(d / 2 + 1)
        return torch.where(t <= self.lambd, torch.full_like(t, -log_volume),
                           torch.full_like(t, -math.inf))

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        k = (self.dim + 1) / 2
        return self.lambd * (2.0 - 4.0 * special.betaincinv(k, k, 0.75 - p / 2))


class Exp2(RadialNoise):
    """ℓ2-level-set noise, density ∝ exp(−‖x‖₂/λ) (k = 1), λ = σ/√(d + 1).

    ℓ2 radius λ(d − 1)·atanh(1 − 2·B⁻¹_{(d−1)/2,(d−1)/2}(1 − p_A)), sound (Yang et al. 2020).
    """

    name, title, native_norm = "exp2", "Exp-ℓ2 (sphere level sets)", 2.0
    level_norm = 2.0
    direct = {2.0: "sound"}
    formulas = {2.0: "λ(d−1)·atanh(1 − 2·B⁻¹_{(d−1)/2,(d−1)/2}(1 − p_A)),  λ = σ/√(d+1)"}

    def _check_params(self) -> None:
        if self.dim < 2:
            raise UcanError("exp2 needs dim >= 2")

    @property
    def lambd(self) -> float:
        return self.sigma / math.sqrt(self.dim + 1)

    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return standard_gamma(float(self.dim), num, generator, self.device) * self.lambd

    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        d = self.dim
        log_surface = _LOG_2 + 0.5 * d * math.log(math.pi) - math.lgamma(d / 2)
        log_norm = log_surface + d * math.log(self.lambd) + math.lgamma(d)
        return -t / self.lambd - log_norm

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        k = (self.dim - 1) / 2
        return self.lambd * (self.dim - 1) * np.arctanh(1.0 - 2.0 * special.betaincinv(k, k, 1.0 - p))
