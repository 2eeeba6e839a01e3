"""EfficientNet-Lite0, the mobile variant of EfficientNet-B0 (Tan & Le, ICML 2019), written
from the paper and the Lite recipe: no squeeze-and-excitation, ReLU6 instead of swish, and a
stem and head that are not rescaled.

Layout (B0 coefficients 1.0/1.0, 224×224 input): a 3×3 stride-2 stem of 32 channels, seven
stages of inverted-residual MBConv blocks (expand 1×1, depthwise k×k, project 1×1, each
followed by batch normalisation; identity shortcut when the shape is kept), a 1×1 head of
1,280 channels, global average pooling and a linear layer over the 1,000 ImageNet classes.
Convolutions use TensorFlow's "SAME" padding (the weights were trained in TensorFlow), which
is asymmetric for stride 2: the extra row and column go at the bottom and right.
The network expects inputs already normalised; :mod:`ucan_core.zoo.denoised` puts the
normalisation in front of it.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional

#: The MBConv stages of EfficientNet-B0/Lite0: (kernel, stride, expansion, output channels,
#: repeats); the stride applies to a stage's first block.
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
#: Batch-normalisation epsilon of the TensorFlow models.
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow "SAME" padding: output size ⌈input/stride⌉,
    the total padding split with the odd pixel after (bottom/right)."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(inputs, outputs, kernel, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last dimension first
            total = max((math.ceil(size / self.stride[0]) - 1) * self.stride[0]
                        + self.kernel_size[0] - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(functional.pad(x, pads))


class ConvBN(nn.Module):
    """SAME convolution, batch normalisation and (optionally) ReLU6."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int = 1,
                 groups: int = 1, activation: bool = True) -> None:
        super().__init__()
        self.conv = SameConv2d(inputs, outputs, kernel, stride, groups)
        self.bn = nn.BatchNorm2d(outputs, eps=BN_EPS)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return functional.relu6(x) if self.activation else x


class MBConv(nn.Module):
    """Inverted residual block: expand (when the expansion is > 1), depthwise, project."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int,
                 expansion: int) -> None:
        super().__init__()
        hidden = inputs * expansion
        self.expand = ConvBN(inputs, hidden, 1) if expansion != 1 else None
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, outputs, 1, activation=False)
        self.residual = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x) if self.expand is not None else x
        out = self.project(self.depthwise(out))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 on normalised inputs (B×3×H×W, 224×224 native); logits over
    ``num_classes``."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = ConvBN(3, 32, 3, 2)
        blocks, channels = [], 32
        for kernel, stride, expansion, outputs, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(channels, outputs, kernel, stride if i == 0 else 1,
                                     expansion))
                channels = outputs
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBN(channels, 1280, 1)
        self.fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(x.mean((2, 3)))
