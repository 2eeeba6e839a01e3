"""Cohen's CERTIFY and PREDICT for a smoothed classifier, and the certificate they return."""

from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import SmoothedClassifier, noisy_samples

__all__ = ["Certificate", "SmoothedClassifier", "noisy_samples"]
