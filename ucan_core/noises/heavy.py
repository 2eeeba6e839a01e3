"""i.i.d. noises without a closed-form radius: Cauchy and the generalized-normal mixtures
(the universal engine computes their radius; kind ``approximate``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy import stats

from ucan_core.errors import UcanError
from ucan_core.noises._sampling import _uniform
from ucan_core.noises.iid import GeneralizedNormal, IIDNoise


class Cauchy(IIDNoise):
    """i.i.d. Cauchy of scale γ. It has no variance: ``sigma`` is matched by the quartiles,
    γ = σ·Φ⁻¹(¾), so its interquartile range equals that of N(0, σ²). No closed-form
    radius; the universal engine computes it.
    """

    name, title, native_norm = "cauchy", "Cauchy", 1.0

    @property
    def lambd(self) -> float:
        return self.sigma * float(stats.norm.ppf(0.75))

    def marginal(self) -> Any:
        return stats.cauchy(scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = _uniform(num, self.dim, generator, self.device, low=1e-7).clamp_max(1 - 1e-7)
        return torch.tan(math.pi * (u - 0.5)) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        return -torch.log1p((x / self.lambd) ** 2) - math.log(math.pi * self.lambd)


class GeneralizedNormalMixture(IIDNoise):
    """i.i.d. mixture w·GN(s₁) + (1 − w)·GN(s₂), each component with standard deviation σ
    (so the mixture has σ too). No closed-form radius; the universal engine computes it.
    """

    name, title, native_norm = "expmix", "Exponential-power mixture", 1.0
    defaults = {"weight": 0.5, "shape1": 1.0, "shape2": 2.0}

    def _check_params(self) -> None:
        if not 0.0 <= self.params["weight"] <= 1.0:
            raise UcanError(f"mixture weight must lie in [0, 1], got {self.params['weight']:g}")
        for key in ("shape1", "shape2"):
            if self.params.get(key, 1.0) <= 0:
                raise UcanError(f"{key} must be > 0, got {self.params[key]:g}")

    def _components(self) -> tuple[GeneralizedNormal, GeneralizedNormal]:
        return (GeneralizedNormal(self.sigma, self.dim, self.device, shape=self.params["shape1"]),
                GeneralizedNormal(self.sigma, self.dim, self.device, shape=self.params["shape2"]))

    @property
    def lambd(self) -> float:
        return self.sigma

    def marginal(self) -> Any:
        first, second = self._components()
        return _MixtureMarginal(first.marginal(), second.marginal(), self.params["weight"])

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        first, second = self._components()
        pick = _uniform(num, self.dim, generator, self.device) < self.params["weight"]
        return torch.where(pick, first.sample(num, generator), second.sample(num, generator))

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        first, second = self._components()
        w = self.params["weight"]
        parts = [first._log_density_1d(x) + math.log(w) if w > 0 else None,
                 second._log_density_1d(x) + math.log1p(-w) if w < 1 else None]
        return torch.logsumexp(torch.stack([t for t in parts if t is not None]), dim=0)


class LaplaceGaussianMixture(GeneralizedNormalMixture):
    """i.i.d. Laplace–Gaussian mixture w·Laplace + (1 − w)·Gaussian, both of std σ."""

    name, title = "laplace_gaussian", "Laplace–Gaussian mixture"
    defaults = {"weight": 0.5}

    def _components(self) -> tuple[GeneralizedNormal, GeneralizedNormal]:
        return (GeneralizedNormal(self.sigma, self.dim, self.device, shape=1.0),
                GeneralizedNormal(self.sigma, self.dim, self.device, shape=2.0))


class _MixtureMarginal:
    """Frozen-distribution stand-in for w·F₁ + (1 − w)·F₂ (two frozen scipy laws).

    ``ppf`` inverts the mixture CDF by bisection between the components' quantiles (the
    mixture quantile lies between them), to float64 precision.
    """

    def __init__(self, first: Any, second: Any, weight: float) -> None:
        self.first, self.second, self.weight = first, second, weight

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return self.weight * self.first.cdf(x) + (1 - self.weight) * self.second.cdf(x)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return self.weight * self.first.pdf(x) + (1 - self.weight) * self.second.pdf(x)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        a, b = self.first.ppf(q), self.second.ppf(q)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < q
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return 0.5 * (lo + hi)
