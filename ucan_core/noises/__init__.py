"""The noise library: one interface (:class:`Noise`) for every smoothing density, isotropic
(:mod:`.iid`, :mod:`.radial`) or anisotropic (:class:`AnisotropicNoise`, itself a Noise)."""

from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import NOISES, make_noise
from ucan_core.noises.discrete import DiscreteGaussian
from ucan_core.noises.heavy import Cauchy, GeneralizedNormalMixture, LaplaceGaussianMixture
from ucan_core.noises.iid import (
    Gaussian,
    GeneralizedNormal,
    HyperbolicSecant,
    IIDNoise,
    Laplace,
    Pareto,
    Uniform,
)
from ucan_core.noises.radial import Exp2, ExpInf, PowInf, RadialNoise, UniformBall
from ucan_core.noises.region import CertifiedRegion

__all__ = ["NOISES", "AnisotropicNoise", "Cauchy", "CertifiedRegion", "DiscreteGaussian", "Exp2",
           "ExpInf", "Gaussian", "GeneralizedNormal", "GeneralizedNormalMixture",
           "HyperbolicSecant", "IIDNoise", "Laplace", "LaplaceGaussianMixture", "Noise", "Pareto",
           "PowInf", "RadialNoise", "Uniform", "UniformBall", "make_noise"]
