"""Projected-gradient attacks on smoothed classifiers over ℓp balls and certified regions."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ucan_core.audit.deployed import DeployedSmoothing
from ucan_core.checks import check_count, check_open_unit, check_positive
from ucan_core.errors import UcanError
from ucan_core.noises.region import CertifiedRegion
from ucan_core.norms import norm_label

ATTACK_NORMS = (1.0, 2.0, math.inf)


@dataclass(frozen=True)
class AttackBudget:
    """How hard each certificate is attacked and how its best candidate is verified.

    PGD: ``restarts`` random starts × ``steps`` steps of size ``step_size``·R, each on
    ``draws`` fresh noise draws; ``directions`` random boundary points; ``screen`` hard votes
    per candidate; ``n_verify`` fresh samples and level ``alpha`` for the verdict.
    """

    steps: int = 20
    restarts: int = 2
    draws: int = 32
    step_size: float = 0.2
    directions: int = 8
    screen: int = 500
    n_verify: int = 10_000
    alpha: float = 0.001
    batch_size: int = 1000

    def __post_init__(self) -> None:
        for name in ("steps", "restarts", "draws", "screen", "n_verify", "batch_size"):
            check_count(name, getattr(self, name))
        check_count("directions", self.directions, 0)
        check_positive("step_size", self.step_size)
        check_open_unit("alpha", self.alpha)


def _lp(u: torch.Tensor, norm: float) -> torch.Tensor:
    return torch.linalg.vector_norm(u, ord=norm, dim=1)


def _steepest(g: torch.Tensor, norm: float) -> torch.Tensor:
    """Rows of unit ℓp norm maximising ⟨g, ·⟩ (ℓ1: equal weights on the top 2 % of |g|)."""
    if math.isinf(norm):
        return g.sign()
    if norm == 2:
        return g / _lp(g, 2)[:, None].clamp_min(1e-12)
    k = max(1, g.shape[1] // 50)
    top = g.abs().topk(k, dim=1).indices
    return torch.zeros_like(g).scatter(1, top, g.gather(1, top).sign() / k)


def project(u: torch.Tensor, radius: float, norm: float) -> torch.Tensor:
    """Euclidean projection of each row of ``u`` onto the ℓp ball of ``radius``
    (ℓ1: Duchi et al. 2008, by sorting)."""
    if math.isinf(norm):
        return u.clamp(-radius, radius)
    if norm == 2:
        return u * (radius / _lp(u, 2).clamp_min(radius))[:, None]
    a = u.abs()
    srt = a.sort(dim=1, descending=True).values
    excess = srt.cumsum(1) - radius
    ranks = torch.arange(1, u.shape[1] + 1, device=u.device, dtype=u.dtype)
    rho = ((srt - excess / ranks) > 0).sum(1, keepdim=True).clamp_min(1)
    theta = excess.gather(1, rho - 1) / rho
    inside = (a.sum(1) <= radius)[:, None]
    return torch.where(inside, u, (a - theta).clamp_min(0) * u.sign())


def _to_boundary(u: torch.Tensor, radius: float, norm: float) -> torch.Tensor:
    if math.isinf(norm):
        return radius * u.sign()
    return u * (radius / _lp(u, norm).clamp_min(1e-12))[:, None]


def _random_boundary(num: int, dim: int, radius: float, norm: float,
                     gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """``num`` random points on the ℓp sphere of ``radius`` (ℓ1: uniform, via Laplace)."""
    z = torch.randn(num, dim, generator=gen, device=device)
    if norm == 1:
        z = z.sign() * -torch.log(torch.rand(num, dim, generator=gen, device=device))
    return _to_boundary(z, radius, norm)


class _Attack:
    """The candidate search of one certificate (points u with ‖u‖_p ≤ R, x′ = clip(x + s⊙u))."""

    def __init__(self, deployed: DeployedSmoothing, x: torch.Tensor, certified: int,
                 region: CertifiedRegion, budget: AttackBudget, gen: torch.Generator) -> None:
        self.deployed, self.certified, self.budget, self.gen = deployed, certified, budget, gen
        self.device = deployed.base.device
        self.x = x.to(self.device, torch.float32)
        self.scale = torch.as_tensor(region.scale, dtype=torch.float32, device=self.device)
        self.radius, self.norm = region.radius, region.norm

    def points(self, u: torch.Tensor) -> torch.Tensor:
        return (self.x.flatten()[None] + self.scale * u).clamp(0, 1).view(-1, *self.x.shape)

    def _gradient(self, u: torch.Tensor) -> torch.Tensor:
        u = u.detach().requires_grad_(True)
        eps = self.deployed.base.sample(self.budget.draws, self.gen)
        soft, _ = self.deployed.scores(self.points(u), eps)
        loss = -soft[:, self.certified].clamp_min(1e-12).log().sum()
        return torch.autograd.grad(loss, u)[0]

    def candidates(self, tick: Callable[[], None]) -> dict[str, torch.Tensor]:
        """The candidate points by source; ``tick`` after each of ``budget.steps + 1``
        gradients (the PGD steps, then the clean gradient)."""
        b, r, q, d = self.budget, self.radius, self.norm, self.scale.numel()
        start = _random_boundary(b.restarts, d, r, q, self.gen, self.device)
        u = start * torch.rand(b.restarts, 1, generator=self.gen, device=self.device)
        for _ in range(b.steps):
            u = project(u + b.step_size * r * _steepest(self._gradient(u), q), r, q)
            tick()
        found = {"pgd": u, "pgd-boundary": _to_boundary(u, r, q),
                 "gradient": r * _steepest(self._gradient(torch.zeros(1, d, device=self.device)), q)}
        tick()
        if b.directions:
            found["random"] = _random_boundary(b.directions, d, r, q, self.gen, self.device)
        return found

    @torch.no_grad()
    def screen(self, us: torch.Tensor) -> torch.Tensor:
        """c's (vote fraction, mean softmax) at every candidate, on common draws."""
        xs, b = self.points(us), self.budget
        per_pass = max(1, b.batch_size // len(us))
        soft = torch.zeros(len(us), device=self.device)
        votes = torch.zeros(len(us), device=self.device)
        done = 0
        while done < b.screen:
            m = min(per_pass, b.screen - done)
            s, v = self.deployed.scores(xs, self.deployed.base.sample(m, self.gen))
            soft += s[:, self.certified] * m
            votes += v[:, self.certified] * m
            done += m
        return torch.stack([votes, soft], 1) / b.screen


def _attackable(region: CertifiedRegion, *claims: int) -> bool:
    """Whether there is anything to attack: every claimed class/entry ≥ 0 (no abstention) and
    a finite radius > 0; UcanError for a norm the audit does not attack."""
    if region.norm not in ATTACK_NORMS:
        raise UcanError(f"the audit attacks l1, l2 and linf regions, not l{norm_label(region.norm)}")
    return min(claims) >= 0 and region.radius > 0 and math.isfinite(region.radius)


def _pool(found: dict[str, torch.Tensor]) -> tuple[list[str], torch.Tensor]:
    """All candidates of ``found`` (name → rows u) in one tensor, with each row's name."""
    return ([name for name, us in found.items() for _ in range(len(us))],
            torch.cat(list(found.values())))


def _worst(ranked: torch.Tensor) -> int:
    """The candidate with the fewest screening votes for the claim (ties: lowest softmax)."""
    return int(np.lexsort((ranked[:, 1].cpu().numpy(), ranked[:, 0].cpu().numpy()))[0])
