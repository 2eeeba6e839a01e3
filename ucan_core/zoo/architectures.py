"""The model architectures of the zoo and what each expects (input shape, classes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ucan_core.checks import check_choice
from ucan_core.io.datasets import CIFAR10_CLASSES
from ucan_core.zoo.imagenet import IMAGENET_CLASSES


class NormalizeLayer(nn.Module):
    """(x − mean) / std per channel; the first layer of every model."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def mnist_cnn() -> nn.Module:
    """A LeNet-size CNN for 1×28×28 inputs (2 conv 5×5 + 2 dense layers, ≈ 0.2 M weights)."""
    return nn.Sequential(
        NormalizeLayer((0.1307,), (0.3081,)),
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


class BasicBlock(nn.Module):
    """conv3×3–BN–ReLU–conv3×3–BN plus a (1×1 conv–BN when the shape changes) shortcut."""

    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False), nn.BatchNorm2d(outputs),
            nn.ReLU(), nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False), nn.BatchNorm2d(outputs))
        self.shortcut = nn.Identity() if stride == 1 and inputs == outputs else nn.Sequential(
            nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def cifar_resnet(depth: int) -> nn.Module:
    """The CIFAR ResNet of He et al. (2016): depth 6n + 2, stages of 16/32/64 channels."""
    blocks = (depth - 2) // 6
    layers: list[nn.Module] = [NormalizeLayer((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
                               nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    channels = 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(blocks):
            layers.append(BasicBlock(channels, width, 2 if stage and not block else 1))
            channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def ffdnet_efficientnet_lite0(**config: Any) -> nn.Module:
    """Denoised smoothing for photos: FFDNet at ``denoiser_sigma`` (the card's
    ``arch_config``), then ImageNet EfficientNet-Lite0 (:mod:`ucan_core.zoo.denoised`)."""
    from ucan_core.zoo.denoised import make_denoised_classifier  # imports this module

    return make_denoised_classifier(**config)


@dataclass(frozen=True)
class Architecture:
    """How to build a model (``build(**card.arch_config)``) and what it expects: inputs of
    ``input_shape`` in [0, 1], logits over ``classes``."""

    build: Callable[..., nn.Module]
    input_shape: tuple[int, int, int]
    num_classes: int
    classes: Sequence[str]


ARCHITECTURES: dict[str, Architecture] = {
    "mnist_cnn": Architecture(mnist_cnn, (1, 28, 28), 10, tuple(str(i) for i in range(10))),
    "cifar_resnet8": Architecture(lambda: cifar_resnet(8), (3, 32, 32), 10, CIFAR10_CLASSES),
    "cifar_resnet20": Architecture(lambda: cifar_resnet(20), (3, 32, 32), 10, CIFAR10_CLASSES),
    # Photos: radii in [0, 1] pixel units of the 224×224 image the smoothed classifier receives.
    "ffdnet_efficientnet_lite0": Architecture(ffdnet_efficientnet_lite0, (3, 224, 224), 1000,
                                              IMAGENET_CLASSES),
}


def build_model(arch: str, **config: Any) -> nn.Module:
    """A freshly initialised model of architecture ``arch`` (``config``: the card's
    ``arch_config``, e.g. the denoiser's noise level)."""
    return ARCHITECTURES[check_choice("architecture", arch, ARCHITECTURES)].build(**config)
