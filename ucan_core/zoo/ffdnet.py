"""FFDNet, the fast and flexible CNN Gaussian denoiser of Zhang, Zuo & Zhang (IEEE TIP 2018),
colour version, written from the paper.

The network works on a downsampled view of the image: the H×W×3 input is reversibly
pixel-unshuffled by 2 into H/2×W/2×12 sub-images, a constant noise-level map M = σ (one
channel) is concatenated (13 channels), a plain stack of 3×3 convolutions with ReLU maps them
to 12 channels (colour model: 12 layers of 96 channels; the batch normalisation used in
training is folded into the convolution biases of the released weights), and pixel-shuffle
by 2 returns the H×W×3 estimate of the clean image (no residual connection). σ is on the
[0, 1] intensity scale (σ/255 for 8-bit levels); the released model was trained on additive
white Gaussian noise with σ ∈ [0, 75]/255 (:data:`TRAINED_SIGMA_MAX`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

#: The largest noise level (on [0, 1] intensities) FFDNet was trained on: σ = 75/255.
TRAINED_SIGMA_MAX = 75 / 255


class FFDNet(nn.Module):
    """FFDNet for ``channels``-channel images (3: colour) in [0, 1]: ``depth`` 3×3
    convolutions of ``width`` channels on the 2×2 pixel-unshuffled image and the noise map."""

    def __init__(self, channels: int = 3, width: int = 96, depth: int = 12) -> None:
        super().__init__()
        sub = 4 * channels  # 2×2 sub-images per channel
        layers: list[nn.Module] = [nn.Conv2d(sub + 1, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(width, sub, 3, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """The denoised ``x`` (B×C×H×W); ``sigma``: the noise level, a number or one per
        image (B). Odd sizes are padded by edge replication, and the pad cropped off."""
        height, width = x.shape[-2:]
        pad_h, pad_w = height % 2, width % 2
        if pad_h or pad_w:
            x = functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        down = functional.pixel_unshuffle(x, 2)
        level = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        noise_map = level.expand(down.shape[0], 1, *down.shape[-2:])
        out = functional.pixel_shuffle(self.model(torch.cat((down, noise_map), 1)), 2)
        return out[..., :height, :width]
