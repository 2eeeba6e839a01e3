"""The model architectures of the zoo and what each expects (input shape, classes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ucan_core.checks import check_choice
from ucan_core.io.datasets import CIFAR10_CLASSES


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


@dataclass(frozen=True)
class Architecture:
    """How to build a model and what it expects."""

    build: Callable[[], nn.Module]
    input_shape: tuple[int, int, int]
    num_classes: int
    classes: tuple[str, ...]


ARCHITECTURES: dict[str, Architecture] = {
    "mnist_cnn": Architecture(mnist_cnn, (1, 28, 28), 10, tuple(str(i) for i in range(10))),
    "cifar_resnet8": Architecture(lambda: cifar_resnet(8), (3, 32, 32), 10, CIFAR10_CLASSES),
    "cifar_resnet20": Architecture(lambda: cifar_resnet(20), (3, 32, 32), 10, CIFAR10_CLASSES),
}


def build_model(arch: str) -> nn.Module:
    """A freshly initialised model of architecture ``arch``."""
    return ARCHITECTURES[check_choice("architecture", arch, ARCHITECTURES)].build()
