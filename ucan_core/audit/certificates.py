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

from ucan_core.audit.attack import (
    AttackBudget,
    AttackedPoint,
    BaseAttack,
    _Attack,
    _attackable,
    _pool,
    _worst,
    attack_base,
    attacked_point,
)
from ucan_core.audit.deployed import DeployedSmoothing
from ucan_core.audit.verify import _distances, _Tally, _verify
from ucan_core.certify.seeds import derive_seed
from ucan_core.certify.smoothed import Noise, Progress, SmoothedClassifier
from ucan_core.certify.stats import clopper_pearson_upper
from ucan_core.noises.region import CertifiedRegion
from ucan_core.norms import norm_label, parse_norm
from ucan_core.two_stage.engine import SelectAndCertify

RegionShape = Literal["ball", "region"]


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


@dataclass(frozen=True, eq=False)
class SmoothedPoint:
    """The verified point of an audit: where it is (``point``: x′, δ, ‖δ‖_p) and the smoothed
    classifier's fresh votes there (``counts`` per class, of n_verify), the upper bound
    ``p_upper`` on the audited class, the ``top_class`` and whether PREDICT ``changed``."""

    point: AttackedPoint
    counts: tuple[int, ...]
    p_upper: float
    top_class: int
    changed: bool


#: The multiples of R at which :func:`attack_evidence` looks for the base classifier's break.
BEYOND_FACTORS = (2.0, 4.0, 8.0)


@dataclass(frozen=True, eq=False)
class AttackEvidence:
    """What attacks show about one certificate (:func:`attack_evidence`).

    ``audit`` and ``worst``: the audit inside the certified region (the same numbers as
    :func:`audit_certificate`) and its verified point; ``base``: the same budget against the
    base classifier without smoothing, in the same region; ``scan``: the base attack on the
    region scaled by each factor of ``BEYOND_FACTORS`` in turn, up to the first that changes
    f's answer; ``factor``: that factor (the last one if none does); ``beyond`` and
    ``beyond_worst``: the audit of the smoothed classifier on the region of radius
    ``factor``·R, where the certificate promises nothing (a change there is no violation).
    All heuristic attacks: finding nothing is evidence, not proof. ``worst``, ``base`` and
    ``beyond_worst`` are None, ``scan`` empty, when nothing is attacked (an abstention or
    radius 0).
    """

    audit: AuditResult
    worst: SmoothedPoint | None
    base: BaseAttack | None
    scan: tuple[BaseAttack, ...]
    factor: float
    beyond: AuditResult
    beyond_worst: SmoothedPoint | None

    @property
    def base_break(self) -> BaseAttack | None:
        """The base attack beyond R that changed f's answer (None if none did)."""
        return next((a for a in self.scan if a.changed), None)


@dataclass(frozen=True, eq=False)
class TwoStageEvidence:
    """The audit of a two-stage certificate (:func:`two_stage_evidence`) with its verified
    point: ``worst`` holds x′ and the deployed classifier's fresh votes there (the smoothed
    classifier of the entry the selector picks at x′; ``p_upper`` on the certified class),
    ``selection_counts`` the smoothed selector's votes per menu entry at x′. ``worst`` is None,
    ``selection_counts`` empty, when nothing is attacked."""

    audit: AuditResult
    worst: SmoothedPoint | None
    selection_counts: tuple[int, ...] = ()


def evidence_units(budget: AttackBudget) -> int:
    """The units of work that :func:`attack_evidence` reports: the audit inside the region
    (``steps`` + 3), the base-classifier attacks at R and at each factor of
    :data:`BEYOND_FACTORS` (``steps`` each; a scan stopped early reports its skipped steps at
    once) and the audit beyond R (``steps`` + 3)."""
    return (len(BEYOND_FACTORS) + 3) * budget.steps + 6


def attack_evidence(deployed: DeployedSmoothing, x: torch.Tensor, certified: int,
                    region: CertifiedRegion, budget: AttackBudget, seed: int = 0,
                    soundness: str = "sound", shape: RegionShape = "ball",
                    progress: Progress | None = None) -> AttackEvidence:
    """The audit of one certificate (:func:`audit_certificate`, same seed, same numbers) with
    its verified point x′, then with the same ``budget``: PGD against the base classifier
    alone in the same region (seed stream 2) and on the region scaled by each factor of
    :data:`BEYOND_FACTORS` until it changes f's answer (streams 4, 5, …), and the audit of the
    smoothed classifier at that factor·R (stream 3); ``progress`` counts
    :func:`evidence_units` units."""
    tick = _Tally(progress, evidence_units(budget))
    audit, worst = _audit_one(deployed, x, certified, region, budget, seed, soundness, -1,
                              shape, tick)
    device = deployed.base.device
    base, scan, factor = None, [], BEYOND_FACTORS[-1]
    if audit.attacked:
        base = attack_base(deployed.model, x, region, budget, derive_seed(seed, 2), device, tick)
        for k, f in enumerate(BEYOND_FACTORS):
            wide = CertifiedRegion(region.scale, f * region.radius, region.norm)
            scan.append(attack_base(deployed.model, x, wide, budget, derive_seed(seed, 4 + k),
                                    device, tick))
            if scan[-1].changed:
                factor = f
                break
        for _ in range(budget.steps * (len(BEYOND_FACTORS) - len(scan))):
            tick()
    wide = CertifiedRegion(region.scale, factor * region.radius, region.norm)
    beyond, beyond_worst = _audit_one(deployed, x, certified, wide, budget,
                                      derive_seed(seed, 3), soundness, -1, shape, tick)
    return AttackEvidence(audit, worst, base, tuple(scan), factor, beyond, beyond_worst)


def claimed_region(noise: Noise, lp_radius: float, norm: float | str,
                   shape: RegionShape = "ball") -> CertifiedRegion:
    """The region claimed by a certified ℓp radius ``lp_radius`` under ``noise``: the ℓp
    ball (``"ball"``), or for anisotropic noise the whole region {‖δ/s‖_p ≤ R} with
    R = lp_radius / min s (``"region"``; the same ball for isotropic noise)."""
    q = parse_norm(norm)
    if shape == "region":
        scale = noise.scale.double().cpu().numpy()
        return CertifiedRegion(scale, lp_radius / float(scale.min()), q)
    return CertifiedRegion(np.ones(noise.dim), lp_radius, q)


def audit_certificate(deployed: DeployedSmoothing, x: torch.Tensor, certified: int,
                      region: CertifiedRegion, budget: AttackBudget, seed: int = 0,
                      soundness: str = "sound", idx: int = -1, shape: RegionShape = "ball",
                      progress: Progress | None = None) -> AuditResult:
    """Attack one certificate (input ``x``, class ``certified``, ``region``) and verify the
    worst candidate on the deployed classifier (module docstring: search and rule);
    ``progress`` counts ``budget.steps`` + 3 units (module docstring)."""
    return _audit_one(deployed, x, certified, region, budget, seed, soundness, idx, shape,
                      _Tally(progress, budget.steps + 3))[0]


def _audit_one(deployed: DeployedSmoothing, x: torch.Tensor, certified: int,
               region: CertifiedRegion, budget: AttackBudget, seed: int, soundness: str,
               idx: int, shape: RegionShape,
               tick: Callable[[], None]) -> tuple[AuditResult, SmoothedPoint | None]:
    """:func:`audit_certificate` with its verified point (None when nothing is attacked)."""
    info = {"idx": idx, "certified": certified, "soundness": soundness,
            "target": deployed.target, "norm": norm_label(region.norm), "region": shape,
            "radius": region.radius, "lp_radius": region.lp_radius}
    if not _attackable(region, certified):
        return AuditResult(**info, attacked=False), None
    gen = torch.Generator(device=deployed.base.device).manual_seed(derive_seed(seed, 0))
    attack = _Attack(deployed, x, certified, region, budget, gen)
    names, us = _pool(attack.candidates(tick))
    ranked = attack.screen(us)
    tick()
    best = _worst(ranked)
    point = attack.points(us[best:best + 1])[0]
    smoothed = SmoothedClassifier(deployed.model, deployed.noise_at(point), deployed.num_classes)
    verdict = _verify(smoothed, point, certified, budget, budget.alpha, derive_seed(seed, 1))
    tick()
    result = AuditResult(
        **info, attacked=True, source=names[best], **_distances(attack, point),
        screen_p=float(ranked[best, 0]), count=verdict.count, n_verify=budget.n_verify,
        p_upper=verdict.p_upper, top_class=verdict.top, violation=verdict.p_upper < 0.5,
        changed=verdict.changed_from(certified))
    return result, SmoothedPoint(attacked_point(attack.x, point, region), verdict.counts,
                                 verdict.p_upper, verdict.top, result.changed)


def audit_two_stage(router: SelectAndCertify, x: torch.Tensor, selected: int, certified: int,
                    region: CertifiedRegion, budget: AttackBudget, seed: int = 0,
                    target: str = "two-stage", idx: int = -1,
                    progress: Progress | None = None) -> AuditResult:
    """:func:`two_stage_evidence` without its verified point."""
    return two_stage_evidence(router, x, selected, certified, region, budget, seed, target, idx,
                              progress).audit


def two_stage_evidence(router: SelectAndCertify, x: torch.Tensor, selected: int,
                       certified: int, region: CertifiedRegion, budget: AttackBudget,
                       seed: int = 0, target: str = "two-stage", idx: int = -1,
                       progress: Progress | None = None) -> TwoStageEvidence:
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
        return TwoStageEvidence(AuditResult(**info, attacked=False), None)
    gen = torch.Generator(device=router.device).manual_seed(derive_seed(seed, 0))
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
    selection = _verify(router.selector, point, selected, budget, half, derive_seed(seed, 1))
    tick()
    classification = _verify(router.stages[selected], point, certified, budget, half,
                             derive_seed(seed, 2))
    tick()
    deployed = classification
    if selection.changed_from(selected):
        deployed = _verify(router.stages[selection.top], point, certified, budget, half,
                           derive_seed(seed, 3))
    tick()
    result = AuditResult(
        **info, attacked=True, source=names[best], **_distances(attacks[0], point),
        screen_p=float(ranked[best, 0]), count=classification.count, n_verify=budget.n_verify,
        p_upper=classification.p_upper, top_class=deployed.top,
        violation=min(selection.p_upper, classification.p_upper) < 0.5,
        changed=selection.confident and deployed.changed_from(certified),
        p_upper_selection=selection.p_upper)
    worst = SmoothedPoint(attacked_point(attacks[0].x, point, region), deployed.counts,
                          deployed.p_upper, deployed.top, result.changed)
    return TwoStageEvidence(result, worst, selection.counts)


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
