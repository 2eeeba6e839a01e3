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

    @property
    def samples(self) -> int:
        """Noisy forward passes of one audit of a standard certificate: the PGD gradients
        (``restarts`` × ``steps`` and the clean one, ``draws`` each), the screening of every
        candidate (PGD, its boundary point, the gradient's and the random directions) and the
        verification."""
        gradients = (self.restarts * self.steps + 1) * self.draws
        candidates = 2 * self.restarts + 1 + self.directions
        return gradients + candidates * self.screen + self.n_verify


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


@dataclass(frozen=True, eq=False)
class AttackedPoint:
    """An attacked input x′ = clip(x + s ⊙ u, 0, 1) with ‖u‖_p ≤ R: ``x_adv`` and
    ``delta`` = x′ − x (float32, the input's shape), ``delta_norm`` = ‖δ‖_p and
    ``region_norm`` = ‖δ/s‖_p / R (≤ 1: inside the attacked region of radius ``radius``)."""

    x_adv: np.ndarray
    delta: np.ndarray
    delta_norm: float
    region_norm: float
    radius: float


def attacked_point(x: torch.Tensor, point: torch.Tensor, region: CertifiedRegion) -> AttackedPoint:
    """The :class:`AttackedPoint` of ``point`` (an attacked input) against ``x`` in ``region``."""
    point = point.detach()
    delta = (point - x.detach().to(point)).flatten().cpu().double()  # no float64 on MPS
    scale = torch.as_tensor(region.scale, dtype=torch.float64)
    return AttackedPoint(point.cpu().float().numpy().reshape(x.shape),
                         delta.float().numpy().reshape(x.shape),
                         float(torch.linalg.vector_norm(delta, ord=region.norm)),
                         float(torch.linalg.vector_norm(delta / scale, ord=region.norm)) / region.radius,
                         region.radius)


@dataclass(frozen=True, eq=False)
class BaseAttack:
    """PGD against the base classifier f alone (no smoothing noise), in the same region as the
    audit: the worst ``point`` found (largest margin of another class over f(x)), the class
    ``clean_class`` = f(x), ``attacked_class`` = f(x′), and ``changed`` ⇔ they differ.
    A heuristic attack: ``changed`` False does not mean that f is robust there."""

    point: AttackedPoint
    clean_class: int
    attacked_class: int
    changed: bool


def attack_base(model: torch.nn.Module, x: torch.Tensor, region: CertifiedRegion,
                budget: AttackBudget, seed: int, device: torch.device | str = "cpu",
                tick: Callable[[], None] | None = None) -> BaseAttack:
    """PGD with the audit's budget (``budget.steps`` steps of ``step_size``·R from x and from
    ``budget.restarts`` random points of the region) on the margin max_{j≠y} f_j − f_y of the
    base classifier at x′ = clip(x + s ⊙ u, 0, 1), y = f(x); ``tick`` after each step."""
    device = torch.device(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    x = x.to(device, torch.float32)
    scale = torch.as_tensor(region.scale, dtype=torch.float32, device=device)
    r, q, d = region.radius, region.norm, scale.numel()

    def margins(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model((x.flatten()[None] + scale * u).clamp(0, 1).view(-1, *x.shape))
        other = logits.clone()
        other[:, clean] = -math.inf
        return other.max(1).values - logits[:, clean], logits.argmax(1)

    with torch.no_grad():
        clean = int(model(x[None]).argmax(1))
    start = _random_boundary(budget.restarts, d, r, q, gen, device)
    u = torch.cat([torch.zeros(1, d, device=device),
                   start * torch.rand(budget.restarts, 1, generator=gen, device=device)])
    best_u, best = u[:1], -math.inf
    for _ in range(budget.steps):
        u = u.detach().requires_grad_(True)
        grad = torch.autograd.grad(margins(u)[0].sum(), u)[0]
        u = project(u.detach() + budget.step_size * r * _steepest(grad, q), r, q)
        with torch.no_grad():
            margin, _ = margins(u)
        top = int(margin.argmax())
        if float(margin[top]) > best:
            best_u, best = u[top:top + 1], float(margin[top])
        if tick is not None:
            tick()
    with torch.no_grad():
        _, label = margins(best_u)
    x_adv = (x.flatten()[None] + scale * best_u).clamp(0, 1).view(x.shape)
    attacked = int(label[0])
    return BaseAttack(attacked_point(x, x_adv, region), clean, attacked, attacked != clean)
