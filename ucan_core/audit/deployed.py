"""The deployed smoothed classifier that an attack targets: noise recomputed at every input."""

from __future__ import annotations

import torch
from torch import nn

from ucan_core.certify.smoothed import Noise, SmoothedClassifier
from ucan_core.npg.learned import NoiseParameterGenerator, smoothing_noise


class DeployedSmoothing:
    """The smoothed classifier as deployed: ``model`` with the noise drawn at each input.

    ``noise`` is the smoothing noise at the certified input (its maps define the region).
    With ``generator`` (an input-dependent NPG) the noise at any x′ is recomputed,
    μ(x′) + s(x′) ⊙ ε; without it ``noise`` is used everywhere — the deployed classifier for
    fixed noise, or the classifier *frozen* at the certified input for an input-dependent one.
    """

    def __init__(self, model: nn.Module, num_classes: int, noise: Noise,
                 generator: NoiseParameterGenerator | None = None) -> None:
        self.model = model.eval()
        self.num_classes = num_classes
        self.noise = noise
        self.generator = generator.eval() if generator is not None else None
        self.base = noise.base

    @classmethod
    def of(cls, smoothed: SmoothedClassifier) -> DeployedSmoothing:
        """The deployed form of a smoothed classifier with fixed noise."""
        return cls(smoothed.base_classifier, smoothed.num_classes, smoothed.noise)

    @property
    def target(self) -> str:
        """"deployed", or "frozen" for input-dependent noise held at the certified input."""
        frozen = self.noise.input_dependent
        return "frozen" if frozen and self.generator is None else "deployed"

    def noise_at(self, x: torch.Tensor) -> Noise:
        """The smoothing noise the classifier draws at input ``x`` (one example)."""
        if self.generator is None:
            return self.noise
        return smoothing_noise(self.generator, self.base, x)

    def _maps(self, xs: torch.Tensor) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        if self.generator is not None:
            scale, shift = self.generator(xs)
            return scale.flatten(1)[:, None], shift.flatten(1)[:, None]
        return self.noise.scale, self.noise.shift

    def scores(self, xs: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean softmax and hard-vote fractions, each (B, K), of the base classifier on
        x′ + μ(x′) + s(x′) ⊙ ε for every x′ in ``xs`` (B × shape) and every base-noise draw
        in ``eps`` (m × d); differentiable in ``xs`` (through the NPG too)."""
        b, m = xs.shape[0], eps.shape[0]
        scale, shift = self._maps(xs)
        noisy = xs.flatten(1)[:, None] + shift + scale * eps[None]
        logits = self.model(noisy.view(b * m, *xs.shape[1:])).view(b, m, -1)
        votes = nn.functional.one_hot(logits.argmax(-1), self.num_classes).float()
        return logits.softmax(-1).mean(1), votes.mean(1)
