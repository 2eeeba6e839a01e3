"""ucan_core: certified robustness by randomized smoothing (UCAN, UniCR, Dual RS)."""

from ucan_core.anisotropic import AnisotropicNoise, CertifiedRegion
from ucan_core.errors import UcanError
from ucan_core.noises import NOISES, Noise, Radius, make_noise
from ucan_core.npg import pattern_scale_map
from ucan_core.smoothing import Certificate, SmoothedClassifier

__all__ = [
           "NOISES",
           "AnisotropicNoise",
           "Certificate",
           "CertifiedRegion",
           "Noise",
           "Radius",
           "SmoothedClassifier",
           "UcanError",
           "make_noise",
           "pattern_scale_map",
]
__version__ = "0.1.0"
