"""Denoised smoothing (Salman et al., NeurIPS 2020) of an off-the-shelf ImageNet classifier.

The base classifier is ``f(x) = classifier(normalise(denoise(x)))``: the FFDNet colour
denoiser (:mod:`ucan_core.zoo.ffdnet`) run at a fixed noise level, then the ImageNet
normalisation, then EfficientNet-Lite0 (:mod:`ucan_core.zoo.efficientnet_lite`). The smoothing
noise is added to the [0, 1] image *before* the denoiser, exactly as for every other model, so
Cohen et al.'s certificate holds unchanged for this composite: the denoiser is just part of a
fixed base classifier. Radii are in [0, 1] pixel units of the image the smoothed classifier
receives (3×224×224: a photo is resized to it first by :func:`ucan_core.io.images.to_tensor`),
not of the original photo.

The denoiser was trained on Gaussian noise with σ ≤ 75/255 ≈ 0.294
(:data:`~ucan_core.zoo.ffdnet.TRAINED_SIGMA_MAX`): a composite whose denoiser level lies
outside (0, 75/255] is refused, and :func:`sigma_note` says why a smoothing σ above that range
(the card's level overridden) still gives a sound but much weaker certificate.
"""

from __future__ import annotations

import torch
from torch import nn

from ucan_core.errors import UcanError
from ucan_core.zoo.architectures import NormalizeLayer
from ucan_core.zoo.efficientnet_lite import EfficientNetLite0
from ucan_core.zoo.ffdnet import TRAINED_SIGMA_MAX, FFDNet

#: EfficientNet-Lite's input normalisation (TensorFlow: (v − 127) / 128 on 8-bit values v),
#: on [0, 1] pixels.
LITE_MEAN = (127 / 255,) * 3
LITE_STD = (128 / 255,) * 3
#: Images per forward pass inside the composite (bounds memory whatever batch the caller sends).
MAX_BATCH = 16


def check_denoiser_sigma(sigma: object) -> float:
    """``sigma`` as a float if FFDNet was trained at that noise level, else a one-line
    UcanError with the reason."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
        raise UcanError(f"the denoiser's noise level must be a number, got {sigma!r}")
    if not 0 < sigma <= TRAINED_SIGMA_MAX + 1e-9:
        raise UcanError(f"denoiser noise level sigma={sigma:g} is outside FFDNet's training range "
                        f"(0, 75/255 = {TRAINED_SIGMA_MAX:.3f}]: it was never trained on such "
                        "noise, so its output is not a denoised image")
    return float(sigma)


def sigma_note(denoiser_sigma: float, smoothing_sigma: float) -> str | None:
    """A one-line warning when the smoothing σ does not match the denoiser's level (None when
    it does): the certificate stays sound (the composite is a fixed base classifier), but a
    denoiser run below the noise it sees leaves noise in, and above 75/255 it was never
    trained."""
    if abs(smoothing_sigma - denoiser_sigma) <= 1e-9:
        return None
    if smoothing_sigma > TRAINED_SIGMA_MAX + 1e-9:
        return (f"smoothing sigma={smoothing_sigma:g} is above FFDNet's training range "
                f"(sigma <= 75/255 = {TRAINED_SIGMA_MAX:.3f}); the denoiser runs at "
                f"{denoiser_sigma:g}: the certificate is sound but the classifier sees "
                "poorly denoised images (expect abstentions)")
    return (f"smoothing sigma={smoothing_sigma:g} differs from the denoiser's level "
            f"{denoiser_sigma:g}: the certificate is sound but accuracy is lower than at the "
            "model's own sigma")


class DenoisedClassifier(nn.Module):
    """The denoised-smoothing base classifier: FFDNet at ``denoiser_sigma`` → clamp to [0, 1]
    → EfficientNet-Lite normalisation → EfficientNet-Lite0. Input: B×3×H×W in [0, 1]
    (noise already added); output: logits over the 1,000 ImageNet classes. Batches are run
    :data:`MAX_BATCH` images at a time, in channels-last layout (faster on CPU)."""

    def __init__(self, denoiser_sigma: float, max_batch: int = MAX_BATCH) -> None:
        super().__init__()
        self.denoiser_sigma = check_denoiser_sigma(denoiser_sigma)
        self.max_batch = max_batch
        self.denoiser = FFDNet()
        self.normalize = NormalizeLayer(LITE_MEAN, LITE_STD)
        self.classifier = EfficientNetLite0()

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        """The denoised image in [0, 1]."""
        return self.denoiser(x, self.denoiser_sigma).clamp(0, 1)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's logits on a (clean or denoised) [0, 1] image, no denoising."""
        return self.classifier(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        return torch.cat([self.classify(self.denoise(chunk))
                          for chunk in x.split(self.max_batch)])


def make_denoised_classifier(denoiser_sigma: float | None = None) -> DenoisedClassifier:
    """The composite at the card's ``arch_config`` level (``denoiser_sigma``, required)."""
    if denoiser_sigma is None:
        raise UcanError("architecture ffdnet_efficientnet_lite0 needs arch_config "
                        "denoiser_sigma (FFDNet's noise level)")
    return DenoisedClassifier(denoiser_sigma)
