"""Noise parameter generators (NPGs) of UCAN: maps from an image shape to (scale, shift).

Pattern-fixed NPG (UCAN §4.1, Eq. 5): s(a, b) = κ·‖(a, b)‖_p² + ι for p ∈ {1, 2, ∞}.

Normalisation (ours, stated because the official code differs): pixel centres are placed
on u, v ∈ [−1, 1] and divided by ‖(1, 1)‖_p, so that the image corner has ‖(a, b)‖_p = 1
and s ranges from ι (centre) to κ + ι (corner). The map is then divided by its geometric
mean, so (∏ s_i)^{1/d} = 1 and the ALM of the anisotropic noise equals the isotropic
radius at the same base σ, as in the paper's experiments. The official code divides the
coordinates by 2(S − 1), which confines them to [−¼, ¼] and makes its default
(κ, ι) = (0.2, 0.8) pattern at most 6 % anisotropic (``prior-art.md`` §3.1).
"""

from __future__ import annotations

import math

import torch

from ucan_core.checks import check_count, check_positive
from ucan_core.errors import UcanError
from ucan_core.norms import parse_norm

PATTERN_NORMS = ("1", "2", "inf")


def pattern_scale_map(channels: int, height: int, width: int, norm: float | str = 2,
                      kappa: float = 1.0, iota: float = 1.0,
                      normalise: bool = True) -> torch.Tensor:
    """Pattern-fixed scale map of shape (C, H, W): κ‖(a, b)‖_p² + ι, geometric mean 1."""
    check_count("channels", channels)
    check_count("height", height)
    check_count("width", width)
    p = parse_norm(norm)
    if p not in (1.0, 2.0, math.inf):
        raise UcanError(f"pattern norm must be one of {', '.join(PATTERN_NORMS)}, got {norm!r}")
    if not (isinstance(kappa, (int, float)) and math.isfinite(kappa) and kappa >= 0):
        raise UcanError(f"kappa must be a finite number >= 0, got {kappa!r}")
    check_positive("iota", iota)
    corner = 2.0 ** (0.0 if math.isinf(p) else 1.0 / p)
    v = torch.linspace(-1.0, 1.0, height, dtype=torch.float64) / corner
    u = torch.linspace(-1.0, 1.0, width, dtype=torch.float64) / corner
    b, a = torch.meshgrid(v, u, indexing="ij")
    if math.isinf(p):
        dist = torch.maximum(a.abs(), b.abs())
    else:
        dist = (a.abs() ** p + b.abs() ** p) ** (1.0 / p)
    scale = kappa * dist**2 + iota
    if normalise:
        scale = scale / torch.exp(torch.log(scale).mean())
    return scale.to(torch.float32).expand(channels, height, width).clone()
