"""Attack audit: does the *deployed* smoothed classifier keep the certified class everywhere
in the certified region?

A certificate claims that the smoothed classifier returns class c at every x + δ with δ in
the region {δ : ‖δ/s‖_p ≤ R} (s ≡ 1 for an ℓp ball; ``CertifiedRegion``). For one
certificate the audit

1. **attacks**: builds candidate points x′ = clip(x + s ⊙ u, 0, 1) with ‖u‖_p ≤ R (clipping
   to [0, 1] shrinks every |δ_i|, so x′ stays in the region): PGD on a Monte-Carlo surrogate
   of the deployed smoothed classifier, −log E_ε softmax_c(f(x′ + μ(x′) + s(x′) ⊙ ε)) with
   fresh draws each step (expectation over transformation), from random starts; PGD's end
   points pushed to the boundary; the clean gradient's steepest-ascent direction scaled to
   the boundary; and random boundary directions;
2. **screens** the candidates with ``screen`` hard votes each (common draws) and picks the
   one where c gets the fewest votes;
3. **verifies** that one candidate only, with ``n_verify`` fresh samples of the deployed
   smoothed classifier at x′: for an input-dependent NPG the noise μ(x′), s(x′) is recomputed
   from x′, as a deployed classifier does (``prior-art.md`` §3.4).

**Rule.** ``violation`` ⇔ p̄_c < ½, p̄_c the one-sided Clopper–Pearson upper bound at level
α_audit on P(f(x′ + ε′) = c) from the verification counts. Every radius in this project is
where the Neyman–Pearson lower bound on p_c(x + δ) reaches ½, so a certificate claims
p_c ≥ ½ on its region; and another class being likelier (p_j > p_c) implies p_c < ½, so
this one test also covers "another class's lower bound exceeds c's". ``changed`` records
the stronger event that Cohen's PREDICT at x′ (two-sided binomial test of the top two
counts at α_audit) returns a class other than c, i.e. g(x′) ≠ c with confidence 1 − α_audit.
Only one candidate per certificate is tested, on fresh samples, so a certificate that holds
is flagged with probability ≤ α_audit, and a sound certificate (itself wrong with
probability ≤ α) with probability ≤ α + α_audit.

Two-stage certificates (Dual RS, routing) are audited on the deployed two-stage classifier
by :func:`audit_two_stage`: both stages' claims are attacked and verified, at α_audit/2 each.

**Progress.** Both audits call ``progress(done, total)`` (``ucan_core.smoothing.Progress``)
after each unit of work: each PGD step and the clean gradient of every attacked claim, the
screening, and each verification. An exception raised there (e.g.
``ucan_core.errors.Cancelled``) stops the audit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from ucan_core.anisotropic import AnisotropicNoise, CertifiedRegion
from ucan_core.dual import SelectAndCertify
from ucan_core.errors import (
    UcanError,
    check_count,
    check_open_unit,
    check_positive,
    norm_label,
    parse_norm,
)
from ucan_core.generators import NoiseParameterGenerator, smoothing_noise
from ucan_core.smoothing import NoiseLike, Progress, SmoothedClassifier
from ucan_core.stats import clopper_pearson_upper, top_two_test_pvalue

RegionShape = Literal["ball", "region"]
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


class DeployedSmoothing:
    """The smoothed classifier as deployed: ``model`` with the noise drawn at each input.

    ``noise`` is the smoothing noise at the certified input (its maps define the region).
    With ``generator`` (an input-dependent NPG) the noise at any x′ is recomputed,
    μ(x′) + s(x′) ⊙ ε; without it ``noise`` is used everywhere — the deployed classifier for
    fixed noise, or the classifier *frozen* at the certified input for an input-dependent one.
    """

    def __init__(self, model: nn.Module, num_classes: int, noise: NoiseLike,
                 generator: NoiseParameterGenerator | None = None) -> None:
        if generator is not None and not isinstance(noise, AnisotropicNoise):
            raise UcanError("an NPG needs anisotropic noise (its base noise and maps)")
        self.model = model.eval()
        self.num_classes = num_classes
        self.noise = noise
        self.generator = generator.eval() if generator is not None else None
        self.base = noise.base if isinstance(noise, AnisotropicNoise) else noise

    @classmethod
    def of(cls, smoothed: SmoothedClassifier) -> DeployedSmoothing:
        """The deployed form of a smoothed classifier with fixed noise."""
        return cls(smoothed.base_classifier, smoothed.num_classes, smoothed.noise)

    @property
    def target(self) -> str:
        """"deployed", or "frozen" for input-dependent noise held at the certified input."""
        frozen = isinstance(self.noise, AnisotropicNoise) and self.noise.input_dependent
        return "frozen" if frozen and self.generator is None else "deployed"

    def noise_at(self, x: torch.Tensor) -> NoiseLike:
        """The smoothing noise the classifier draws at input ``x`` (one example)."""
        if self.generator is None:
            return self.noise
        return smoothing_noise(self.generator, self.base, x)

    def _maps(self, xs: torch.Tensor) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        if self.generator is not None:
            scale, shift = self.generator(xs)
            return scale.flatten(1)[:, None], shift.flatten(1)[:, None]
        if isinstance(self.noise, AnisotropicNoise):
            return self.noise.scale, self.noise.shift
        return 1.0, 0.0

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


@dataclass(frozen=True)
class AuditResult:
    """The audit of one certificate; ``attacked`` is False for abstentions and radius 0.

    ``source`` names the verified candidate; ``delta_norm`` is ‖x′ − x‖_p and
    ``region_norm`` ‖(x′ − x)/s‖_p / R (≤ 1: inside the region); ``screen_p`` is c's vote
    fraction in screening; ``count`` c's votes among ``n_verify``; ``p_upper`` = p̄_c.
    Two-stage certificates (:func:`audit_two_stage`) add the ``selected`` menu entry and
    ``p_upper_selection``, the upper bound on the selector's vote share for it.
    """

    idx: int
    certified: int
    soundness: str
    target: str
    norm: str
    region: str
    radius: float
    lp_radius: float
    attacked: bool
    source: str = ""
    delta_norm: float = math.nan
    region_norm: float = math.nan
    screen_p: float = math.nan
    count: int = 0
    n_verify: int = 0
    p_upper: float = math.nan
    top_class: int = -1
    violation: bool = False
    changed: bool = False
    selected: int = -1
    p_upper_selection: float = math.nan


def claimed_region(noise: NoiseLike, lp_radius: float, norm: float | str,
                   shape: RegionShape = "ball") -> CertifiedRegion:
    """The region claimed by a certified ℓp radius ``lp_radius`` under ``noise``: the ℓp
    ball (``"ball"``), or for anisotropic noise the whole region {‖δ/s‖_p ≤ R} with
    R = lp_radius / min s (``"region"``; the same ball for isotropic noise)."""
    q = parse_norm(norm)
    if shape == "region" and isinstance(noise, AnisotropicNoise):
        scale = noise.scale.double().cpu().numpy()
        return CertifiedRegion(scale, lp_radius / float(scale.min()), q)
    return CertifiedRegion(np.ones(noise.dim), lp_radius, q)


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


class _Tally:
    """The audit's units of work done out of ``total``, each reported to ``progress``."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.done, self.total = progress, 0, total

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def _stream_seed(seed: int, stream: int) -> int:
    """Independent seeds for the attack (stream 0) and the verification (stream 1)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


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


def audit_certificate(deployed: DeployedSmoothing, x: torch.Tensor, certified: int,
                      region: CertifiedRegion, budget: AttackBudget, seed: int = 0,
                      soundness: str = "sound", idx: int = -1, shape: RegionShape = "ball",
                      progress: Progress | None = None) -> AuditResult:
    """Attack one certificate (input ``x``, class ``certified``, ``region``) and verify the
    worst candidate on the deployed classifier (module docstring: search and rule);
    ``progress`` counts ``budget.steps`` + 3 units (module docstring)."""
    info = {"idx": idx, "certified": certified, "soundness": soundness,
            "target": deployed.target, "norm": norm_label(region.norm), "region": shape,
            "radius": region.radius, "lp_radius": region.lp_radius}
    if not _attackable(region, certified):
        return AuditResult(**info, attacked=False)
    gen = torch.Generator(device=deployed.base.device).manual_seed(_stream_seed(seed, 0))
    attack = _Attack(deployed, x, certified, region, budget, gen)
    tick = _Tally(progress, budget.steps + 3)
    names, us = _pool(attack.candidates(tick))
    ranked = attack.screen(us)
    tick()
    best = _worst(ranked)
    point = attack.points(us[best:best + 1])[0]
    smoothed = SmoothedClassifier(deployed.model, deployed.noise_at(point), deployed.num_classes)
    verdict = _verify(smoothed, point, certified, budget, budget.alpha, _stream_seed(seed, 1))
    tick()
    return AuditResult(
        **info, attacked=True, source=names[best], **_distances(attack, point),
        screen_p=float(ranked[best, 0]), count=verdict.count, n_verify=budget.n_verify,
        p_upper=verdict.p_upper, top_class=verdict.top, violation=verdict.p_upper < 0.5,
        changed=verdict.changed_from(certified))


def audit_two_stage(router: SelectAndCertify, x: torch.Tensor, selected: int, certified: int,
                    region: CertifiedRegion, budget: AttackBudget, seed: int = 0,
                    target: str = "two-stage", idx: int = -1,
                    progress: Progress | None = None) -> AuditResult:
    """Attack a two-stage certificate (Dual RS or routing, ``ucan_core.dual``) on the
    deployed classifier x′ ↦ g_{g_sel(x′)}(x′), over the ℓp ball ``region`` (s ≡ 1).

    The certificate's proof claims, on the ball, that the smoothed selector keeps entry
    ``selected`` (p_sel,k(x′) ≥ ½) and that entry k's smoothed classifier keeps ``certified``
    (p_k,c(x′) ≥ ½). Candidates: the single-stage search against each stage; the screened
    worst for either claim is verified with ``n_verify`` fresh samples per stage, each bound
    at α_audit/2 (the union bound of certification). ``violation`` ⇔ either upper bound is
    < ½ (a holding certificate is flagged with probability ≤ α_audit); ``changed`` ⇔ the
    deployed PREDICT — the selector's, then the chosen entry's, each at α_audit/2 — returns
    another class. ``progress`` counts 2·(``budget.steps`` + 1) + 4 units: both attacks, the
    screening and three verifications (the third, of the entry the selector picks at x′,
    counts even when that is the certified entry and the second one serves).
    """
    info = {"idx": idx, "certified": certified, "soundness": "sound", "target": target,
            "norm": norm_label(region.norm), "region": "ball", "radius": region.radius,
            "lp_radius": region.lp_radius, "selected": selected}
    if not _attackable(region, certified, selected):
        return AuditResult(**info, attacked=False)
    gen = torch.Generator(device=router.device).manual_seed(_stream_seed(seed, 0))
    attacks = [_Attack(DeployedSmoothing.of(stage), x, claim, region, budget, gen)
               for stage, claim in ((router.selector, selected),
                                    (router.stages[selected], certified))]
    tick = _Tally(progress, 2 * (budget.steps + 1) + 4)
    names, us = _pool({f"{stage}-{name}": us
                       for stage, attack in zip(("selector", "classifier"), attacks)
                       for name, us in attack.candidates(tick).items()})
    ranked = torch.minimum(*(attack.screen(us) for attack in attacks))
    tick()
    best = _worst(ranked)
    point = attacks[0].points(us[best:best + 1])[0]
    half = budget.alpha / 2
    selection = _verify(router.selector, point, selected, budget, half, _stream_seed(seed, 1))
    tick()
    classification = _verify(router.stages[selected], point, certified, budget, half,
                             _stream_seed(seed, 2))
    tick()
    deployed = classification
    if selection.changed_from(selected):
        deployed = _verify(router.stages[selection.top], point, certified, budget, half,
                           _stream_seed(seed, 3))
    tick()
    return AuditResult(
        **info, attacked=True, source=names[best], **_distances(attacks[0], point),
        screen_p=float(ranked[best, 0]), count=classification.count, n_verify=budget.n_verify,
        p_upper=classification.p_upper, top_class=deployed.top,
        violation=min(selection.p_upper, classification.p_upper) < 0.5,
        changed=selection.confident and deployed.changed_from(certified),
        p_upper_selection=selection.p_upper)


@dataclass(frozen=True)
class _Verdict:
    """Fresh-sample verification at one point: the claimed class's ``count``, its one-sided
    upper bound ``p_upper``, the ``top`` class, and whether PREDICT confidently returns
    a class other than the claimed one (:meth:`changed_from`); ``confident``: the top-two
    test passed at the verification level."""

    count: int
    p_upper: float
    top: int
    confident: bool

    def changed_from(self, claimed: int) -> bool:
        return self.confident and self.top != claimed


def _verify(smoothed: SmoothedClassifier, point: torch.Tensor, claimed: int,
            budget: AttackBudget, alpha: float, seed: int) -> _Verdict:
    """``budget.n_verify`` fresh votes of ``smoothed`` at ``point``: the Clopper–Pearson
    upper bound at ``alpha`` on P(f(point + ε) = claimed) and Cohen's PREDICT test."""
    counts = smoothed.certify(point, 1, budget.n_verify, alpha, budget.batch_size, seed=seed).counts
    order = np.argsort(counts)[::-1]
    top, second = int(order[0]), int(order[1])
    return _Verdict(int(counts[claimed]), clopper_pearson_upper(counts[claimed], budget.n_verify, alpha),
                    top, bool(top_two_test_pvalue(counts[top], counts[second]) <= alpha))


def _distances(attack: _Attack, point: torch.Tensor) -> dict[str, float]:
    """``delta_norm`` ‖x′ − x‖_p and ``region_norm`` ‖(x′ − x)/s‖_p / R of a candidate."""
    delta = (point - attack.x).flatten().double().cpu()
    scale = attack.scale.double().cpu()
    return {"delta_norm": float(torch.linalg.vector_norm(delta, ord=attack.norm)),
            "region_norm": float(torch.linalg.vector_norm(delta / scale, ord=attack.norm))
            / attack.radius}


@dataclass(frozen=True)
class KindSummary:
    """Audit totals for one (soundness, target, norm, region): certificates audited and
    attacked, violations and PREDICT changes, and the violation rate among the attacked
    with its one-sided 95 % Clopper–Pearson upper bound."""

    soundness: str
    target: str
    norm: str
    region: str
    audited: int
    attacked: int
    violations: int
    changed: int
    rate: float
    rate_upper95: float


def summarize(results: list[AuditResult]) -> list[KindSummary]:
    """One :class:`KindSummary` per (soundness, target, norm, region), in first-seen order."""
    groups: dict[tuple[str, str, str, str], list[AuditResult]] = {}
    for r in results:
        groups.setdefault((r.soundness, r.target, r.norm, r.region), []).append(r)
    summaries = []
    for key, rows in groups.items():
        attacked = sum(r.attacked for r in rows)
        violations = sum(r.violation for r in rows)
        summaries.append(KindSummary(
            *key, audited=len(rows), attacked=attacked, violations=violations,
            changed=sum(r.changed for r in rows),
            rate=violations / attacked if attacked else math.nan,
            rate_upper95=clopper_pearson_upper(violations, attacked, 0.05) if attacked else math.nan))
    return summaries


def format_summary(summaries: list[KindSummary]) -> str:
    """A Markdown table of :func:`summarize`'s rows."""
    header = ("| soundness | classifier | norm | region | audited | attacked | violations | "
              "PREDICT changed | violation rate (95 % upper) |")
    lines = [header, "|---" * 9 + "|"]
    for s in summaries:
        rate = "—" if not s.attacked else f"{100 * s.rate:.1f} % (≤ {100 * s.rate_upper95:.1f} %)"
        lines.append(f"| {s.soundness} | {s.target} | l{s.norm} | {s.region} | {s.audited} | "
                     f"{s.attacked} | {s.violations} | {s.changed} | {rate} |")
    return "\n".join(lines) + "\n"
