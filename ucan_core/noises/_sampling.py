"""Seeded primitive samplers shared by the noises (float32 unless stated)."""

from __future__ import annotations

import math

import torch

_LOG_2 = math.log(2.0)


def standard_gamma(concentration: float, size: int, generator: torch.Generator | None,
                   device: torch.device) -> torch.Tensor:
    """Gamma(concentration, 1) draws by Marsaglia–Tsang, seeded by ``generator`` (float64).

    ``torch.distributions.Gamma`` cannot take a generator, so seeded sampling needs this.
    Shapes below 1 use the boost G(a) = G(a + 1)·U^{1/a}.
    """
    a = concentration + 1.0 if concentration < 1.0 else concentration
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(size, dtype=torch.float64, device=device)
    todo = torch.arange(size, device=device)
    while todo.numel():
        m = todo.numel()
        x = torch.randn(m, dtype=torch.float64, device=device, generator=generator)
        u = torch.rand(m, dtype=torch.float64, device=device, generator=generator)
        v = (1.0 + c * x) ** 3
        ok = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        out[todo[ok]] = d * v[ok]
        todo = todo[~ok]
    if concentration < 1.0:
        u = torch.rand(size, dtype=torch.float64, device=device, generator=generator)
        out = out * u ** (1.0 / concentration)
    return out


def _uniform(num: int, dim: int, generator: torch.Generator | None, device: torch.device,
             low: float = 0.0) -> torch.Tensor:
    """U(low, 1) draws of shape (num, dim); ``low`` keeps logs and inverses finite."""
    u = torch.rand(num, dim, device=device, generator=generator)
    return u.clamp_min(low) if low else u


def _random_sign(num: int, dim: int, generator: torch.Generator | None,
                 device: torch.device) -> torch.Tensor:
    bits = torch.randint(0, 2, (num, dim), device=device, generator=generator)
    return bits.to(torch.float32) * 2.0 - 1.0


def _cube_surface(num: int, dim: int, generator: torch.Generator | None,
                  device: torch.device) -> torch.Tensor:
    """Uniform points on the surface of [−1, 1]^d: one face coordinate ±1, the rest U(−1, 1)."""
    u = torch.rand(num, dim, device=device, generator=generator) * 2.0 - 1.0
    face = torch.randint(0, dim, (num,), device=device, generator=generator)
    sign = _random_sign(num, 1, generator, device)
    u[torch.arange(num, device=device), face] = sign[:, 0]
    return u


def _sphere(num: int, dim: int, generator: torch.Generator | None,
            device: torch.device) -> torch.Tensor:
    """Uniform directions on the unit ℓ2 sphere of ℝ^d."""
    g = torch.randn(num, dim, device=device, generator=generator)
    return g / g.norm(dim=1, keepdim=True).clamp_min(1e-30)
