"""The catalogue of noises by name and :func:`make_noise`, the one way to build one."""

from __future__ import annotations

import torch

from ucan_core.errors import UcanError
from ucan_core.noises.base import Noise
from ucan_core.noises.discrete import DiscreteGaussian
from ucan_core.noises.heavy import Cauchy, GeneralizedNormalMixture, LaplaceGaussianMixture
from ucan_core.noises.iid import (
    Gaussian,
    GeneralizedNormal,
    HyperbolicSecant,
    Laplace,
    Pareto,
    Uniform,
)
from ucan_core.noises.radial import Exp2, ExpInf, PowInf, UniformBall

NOISES: dict[str, type[Noise]] = {
    cls.name: cls
    for cls in (Gaussian, Laplace, Uniform, GeneralizedNormal, HyperbolicSecant, Pareto, ExpInf,
                PowInf, UniformBall, Exp2, Cauchy, LaplaceGaussianMixture, GeneralizedNormalMixture,
                DiscreteGaussian)
}


def make_noise(name: str, sigma: float, dim: int, device: str | torch.device | None = None,
               **params: float) -> Noise:
    """Build a noise of the library by name (``-`` and ``_`` alike, e.g. ``discrete-gaussian``);
    unknown names and bad values raise UcanError."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in NOISES:
        raise UcanError(f"unknown noise {name!r}; choose one of: {', '.join(NOISES)}")
    return NOISES[key](sigma, dim, device=device, **params)
