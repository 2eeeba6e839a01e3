"""ucan_core: certified robustness by randomized smoothing (UCAN, UniCR, Dual RS)."""

from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.errors import UcanError
from ucan_core.labels import Radius
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import NOISES, make_noise
from ucan_core.noises.region import CertifiedRegion
from ucan_core.npg.pattern import pattern_scale_map
from ucan_core.two_stage.dual import DualCertificate, DualSmoothedClassifier
from ucan_core.universal.search import UniversalCurve, universal_radius, universal_radius_curve

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
