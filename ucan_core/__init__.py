"""ucan_core: certified robustness by randomized smoothing (UCAN, UniCR, Dual RS).

The public API, by concept (each name lives in the subpackage named after its concept):

* noises — :class:`Noise` and :func:`make_noise` (every density, σ = per-coordinate std),
  :class:`AnisotropicNoise` (μ + s ⊙ ε, itself a Noise), :class:`CertifiedRegion`;
* npg — :func:`pattern_scale_map`, :class:`NoiseSource` (a model's noise at an input);
* certify — :class:`SmoothedClassifier` (Cohen's CERTIFY / PREDICT), :class:`Certificate`;
* universal — :func:`universal_radius` / :func:`universal_radius_curve` (UniCR, any density);
* two_stage — Dual RS (:func:`load_dual`) and sound routing (:func:`load_router`);
* audit — :func:`audit_certificate` against the :class:`DeployedSmoothing` classifier,
  :func:`attack_evidence` (the attacked point, the base classifier's attack, beyond R);
* io — images, Cohen-format logs (:func:`read_log`, :func:`log_row`), the resumable
  :func:`certify_dataset` (one process or Ray workers);
* zoo — the bundled models and images (:func:`load_model`, :func:`list_images`).

Radii are in [0, 1] pixel units; every radius carries its kind (exact / sound / approximate)
and every certificate its soundness (what it covers).
"""

from ucan_core.analysis import certified_accuracy, summarize
from ucan_core.audit.attack import AttackBudget
from ucan_core.audit.certificates import attack_evidence, audit_certificate
from ucan_core.audit.deployed import DeployedSmoothing
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import SmoothedClassifier, noisy_samples
from ucan_core.errors import Cancelled, UcanError
from ucan_core.io.images import read_image, to_tensor
from ucan_core.io.logs import LogWriter, read_log
from ucan_core.io.records import log_row
from ucan_core.io.runs import certify_dataset
from ucan_core.labels import Radius
from ucan_core.noises import NOISES, AnisotropicNoise, CertifiedRegion, Noise, make_noise
from ucan_core.npg.pattern import pattern_scale_map
from ucan_core.npg.source import NoiseSource
from ucan_core.two_stage.dual import DualCertificate, DualSmoothedClassifier, load_dual
from ucan_core.two_stage.routing import RouteCertificate, RoutedSmoothedClassifier, load_router
from ucan_core.universal import UniversalCurve, universal_radius, universal_radius_curve
from ucan_core.zoo.bundled import list_images, list_models, load_model, model_card

__all__ = [
    "NOISES", "AnisotropicNoise", "AttackBudget", "Cancelled", "Certificate", "CertifiedRegion",
    "DeployedSmoothing", "DualCertificate", "DualSmoothedClassifier", "LogWriter", "Noise",
    "NoiseSource", "Radius", "RouteCertificate", "RoutedSmoothedClassifier",
    "SmoothedClassifier", "UcanError", "UniversalCurve", "attack_evidence", "audit_certificate",
    "certified_accuracy", "certify_dataset", "list_images", "list_models", "load_dual", "load_model",
    "load_router", "log_row", "make_noise", "model_card", "noisy_samples", "pattern_scale_map",
    "read_image", "read_log", "summarize", "to_tensor", "universal_radius",
    "universal_radius_curve",
]
__version__ = "0.1.0"
