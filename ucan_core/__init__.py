"""ucan_core: certified robustness by randomized smoothing (UCAN, UniCR, Dual RS)."""

from ucan_core.anisotropic import AnisotropicNoise, CertifiedRegion
from ucan_core.dual import DualCertificate, DualSmoothedClassifier
from ucan_core.errors import UcanError
from ucan_core.noises import NOISES, Noise, Radius, make_noise
from ucan_core.npg import pattern_scale_map
from ucan_core.smoothing import Certificate, SmoothedClassifier
from ucan_core.universal import UniversalCurve, universal_radius, universal_radius_curve

__all__ = [
           "NOISES",
           "AnisotropicNoise",
           "Certificate",
           "CertifiedRegion",
           "DualCertificate",
           "DualSmoothedClassifier",
           "Noise",
           "Radius",
           "SmoothedClassifier",
           "UcanError",
           "UniversalCurve",
           "make_noise",
           "pattern_scale_map",
           "universal_radius",
           "universal_radius_curve",
]
__version__ = "0.1.0"
