"""The attack audit of a shown certificate (``ucan_core.audit``): its budget and what is
attacked, the button that starts it as the session's background job, the verdict with the
verified bounds and what they mean, and for a standard certificate the attack you can see:
x, the worst x′ inside the certified ball, δ amplified, the votes at x′, the base classifier
attacked with the same budget and the attack beyond R."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from app import jobs, state
from app.cached.models import cpu_seconds, model_cards, quick_on_cpu
from app.choices import CertifySettings, TwoStageSettings
from app.figures.attack import (
    amplification,
    base_text,
    beyond_text,
    delta_image,
    inside_text,
    selection_text,
    votes_at_figure,
)
from app.figures.common import fmt, fmt_p
from app.figures.images import image_png
from app.jobs import AuditOutcome, CertifyResult
from app.panels.words import WORDS
from app.widgets.glossary import label
from app.widgets.output import reading_metric
from ucan_core.audit.attack import AttackBudget
from ucan_core.audit.certificates import (
    AttackEvidence,
    RegionShape,
    SmoothedPoint,
    TwoStageEvidence,
)
from ucan_core.certify.certificate import Certificate
from ucan_core.two_stage.engine import TwoStageCertificate

#: The attack panel's rows of tiles wrap, not squash: a column keeps at least 130 px, so at
#: 800 px the three tiles stay in one row and the votes chart moves under them.
ATTACK_CSS = """<style>
.st-key-attack_panel [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
.st-key-attack_panel [data-testid="stColumn"] { min-width: min(100%, 130px); }
</style>"""
REGIONS = {"ball": "ℓp ball of the certified radius",
           "region": "whole anisotropic region ‖δ/s‖_p ≤ R"}


def slow_audit(settings: CertifySettings | TwoStageSettings, budget: AttackBudget) -> str | None:
    """Why the audit is not offered for a certificate of ``settings`` (None: it is): its model
    would take longer than ``quick_on_cpu`` allows for the ``budget.samples`` an audit draws
    on the CPU (the photo models: about a sample per second)."""
    card = model_cards().get(settings.model_id) if isinstance(settings, CertifySettings) else None
    if card is None or settings.device != "cpu" or quick_on_cpu(card, budget.samples):
        return None
    seconds = cpu_seconds(card, budget.samples) or 0.0
    return (f"No audit on the CPU for {settings.model_id}: it draws about {budget.samples:,} "
            f"noisy samples, gradients included, about {fmt(seconds / 60, 2)} minutes at "
            "this model's speed. It is offered where it is quick: on a GPU (Device), or "
            "for the digit and CIFAR-10 models.")


def audit_section(result: CertifyResult, classes: tuple[str, ...],
                  audits: dict[str, AuditOutcome], job_key: str) -> None:
    """Attack the shown certificate on the deployed classifier, on demand, as the session's
    background job (in session state ``job_key``; finished audits in ``audits``): a standard
    one over its ℓp ball (or anisotropic region), a Dual RS or routing one over the ℓ2 ball
    of min(R_sel, R_c)."""
    cert, s = result.certificate, result.settings
    words = WORDS[cert.target] if isinstance(cert, TwoStageCertificate) else None
    st.markdown("#### Attack audit")
    if cert.abstained:
        st.caption("Nothing to audit: the certificate abstains, so it claims no region.")
        return
    budget = jobs.AUDIT_BUDGET
    if (slow := slow_audit(s, budget)) is not None:
        st.caption(slow)
        return
    shape: RegionShape = "ball"
    if words is None:
        assert isinstance(cert, Certificate)
        if "scale_min" in cert.noise:
            shape = st.radio("Attacked region", list(REGIONS), key="cert_audit_region",
                             horizontal=True, format_func=REGIONS.__getitem__,
                             help="The ℓp ball of the certified radius min sᵢ·R, or UCAN's "
                                  "whole anisotropic region (s at the certified input), which "
                                  "the ALM measures.")
        verify = f"n_verify = {budget.n_verify:,} fresh samples at α_audit = {budget.alpha:g}"
        attacked = "the deployed classifier" + (
            " (its NPG recomputes μ(x′), s(x′) at every attacked point)"
            if cert.noise.get("input_dependent") else "")
    else:
        verify = (f"n_verify = {budget.n_verify:,} fresh samples per stage at α_audit/2 = "
                  f"{budget.alpha / 2:g} each")
        attacked = (f"the deployed two-stage classifier (the smoothed {words.selector} picks "
                    f"a {words.unit}, whose smoothed classifier answers) on the ℓ2 ball of the "
                    f"certified radius min({words.r_sel}, R_c) = {fmt(cert.radius, 3)}; both "
                    f"stages' claims are attacked and verified")
    if state.teaching_mode():
        st.caption(f"The attack: {budget.restarts} × {budget.steps} small steps that push the "
                   "votes away from the certified class while staying inside the certified "
                   f"ball, then {budget.n_verify:,} fresh votes at the worst image found.")
    else:
        st.caption(
            f"Budget: PGD {budget.restarts} random starts × {budget.steps} steps of "
            f"{budget.step_size:g}·R, each on {budget.draws} noise draws · {budget.directions} "
            f"random boundary directions · {budget.screen} screening votes per candidate · "
            f"{verify} · seed {s.seed}. Attacked: {attacked}.")
    audit_key = jobs.audit_key(result.key, shape, budget)
    outcome = audits.get(audit_key)
    job: jobs.BackgroundJob | None = st.session_state.get(job_key)
    busy = job is not None and job.running
    clicked = outcome is None and st.button(
        "Audit this certificate", key="cert_audit", disabled=busy,
        help="Attack the certificate inside the region it claims and verify the worst point "
             "found (seconds), with progress and Cancel. One job at a time per session.")
    if clicked and jobs.start_job(
            lambda: jobs.start_audit_job(result, shape, budget, jobs.session_probe()),
            job_key, "Cannot audit") is not None:
        st.rerun()
    if outcome is not None:
        show_audit(outcome, classes, cert if isinstance(cert, TwoStageCertificate) else None,
                   cert.kind)


def show_audit(outcome: AuditOutcome, classes: tuple[str, ...],
               two_stage: TwoStageCertificate | None = None, kind: str = "sound") -> None:
    """The verdict of an audit and what it means; for a two-stage certificate (``two_stage``,
    the audited one) both stages' verified bounds; for a standard one (certified radius of
    ``kind``) the attack pictures (:func:`attack_pictures`)."""
    r, alpha = outcome.result, outcome.budget.alpha
    words = WORDS[two_stage.target] if two_stage is not None else None
    certified = classes[r.certified]
    if not r.attacked:
        st.info("Nothing was attacked: the certificate claims no region (radius 0).")
        return
    bounds = [("p̄_c", r.p_upper, f"the certified class {certified}")]
    if words is not None and two_stage is not None:
        entry = f"the selected {words.unit} {words.entry(two_stage.menu[r.selected])}"
        bounds.insert(0, ("p̄_sel", r.p_upper_selection, entry))
    if r.violation:
        failed = [b for b in bounds if b[1] < 0.5]
        claims = " and ".join(f"{label} = {fmt_p(value)} < ½ for {what}"
                              for label, value, what in failed)
        consequence = (f"the deployed smoothed classifier does not keep {certified} there, so "
                       "this certificate does not hold for it" if words is None else
                       f"the certificate's claim that the smoothed {words.selector} keeps "
                       f"{entry} and its smoothed classifier keeps {certified} fails there, so "
                       "it does not hold for the deployed two-stage classifier")
        st.error(f"**Violation**: at the worst point found, inside the claimed region, the "
                 f"verified upper bound{'s' if len(failed) > 1 else ''} {claims}: "
                 f"{consequence}.")
    else:
        held = ", ".join(f"{label} = {fmt_p(value)}" for label, value, _ in bounds)
        st.success(f"**No violation found**: at the worst point found, the verified upper "
                   f"bound{'s' if words else ''} {held} ≥ ½ for "
                   f"{' and '.join(what for _, _, what in bounds)}.")
    evidence, pixels = outcome.evidence, outcome.pixels
    st.html(ATTACK_CSS)
    with st.container(key="attack_panel"):
        if isinstance(evidence, AttackEvidence) and pixels is not None:
            attack_pictures(evidence, pixels, classes, kind)
        elif isinstance(evidence, TwoStageEvidence) and pixels is not None and two_stage:
            two_stage_pictures(evidence, pixels, classes, two_stage)
    if words is None:
        a1, a2 = st.columns(2)
        reading_metric(a1, label("p̄_c, p̄_sel", "Verified p̄_c"), r.p_upper, probability=True,
                       help=f"One-sided Clopper–Pearson upper bound at α_audit = {alpha:g} on "
                            f"P(f(x′ + ε) = {certified}) from n_verify fresh samples at x′.")
        a2.metric("PREDICT changed", f"yes → {classes[r.top_class]}" if r.changed else "no",
                  help="Cohen's PREDICT at x′ (binomial test at α_audit) returns another class.")
    else:
        a0, a1, a2 = st.columns([1.5, 1.3, 1])
        half = f"One-sided Clopper–Pearson upper bound at α_audit/2 = {alpha / 2:g} on the"
        reading_metric(a0, f"Verified p̄_sel ({words.selector})", r.p_upper_selection,
                       probability=True,
                       help=f"{half} smoothed {words.selector}'s probability of {entry} at x′, "
                            "from n_verify fresh samples.")
        reading_metric(a1, "Verified p̄_c (classifier)", r.p_upper, probability=True,
                       help=f"{half} probability of {certified} under {entry}'s smoothed "
                            "classifier at x′, from n_verify fresh samples.")
        a2.metric("PREDICT changed", f"yes → {classes[r.top_class]}" if r.changed else "no",
                  help=f"The deployed PREDICT at x′ (the {words.selector}'s, then the chosen "
                       f"{words.unit}'s classifier's, each a binomial test at α_audit/2) "
                       "returns another class.")
    by, top, claim, target = "", "top class", certified, r.target
    if words is not None:
        by, top, claim, target = (f" by {entry}'s classifier", "deployed top class",
                                  "the weaker stage's claim", "deployed two-stage")
    if not state.teaching_mode():
        st.caption(
            f"Votes for {certified} at the worst point x′{by}: {r.count:,} of {r.n_verify:,} "
            f"({top} {classes[r.top_class]}) · candidate: {r.source} · ‖δ‖ = "
            f"{fmt(r.delta_norm, 3)} ({r.region_norm:.3f} of the region's size) · share of votes "
            f"for {claim} in screening {r.screen_p:.3f} · {target} classifier · "
            f"{REGIONS[r.region]} (R = {fmt(r.radius, 3)}) · {outcome.elapsed:.1f} s")
    st.caption(
        "What it means: a heuristic attack (PGD on a Monte-Carlo estimate of the smoothed "
        "classifier, boundary and random directions) searched the claimed region, and only its "
        "worst point was verified with fresh samples. A violation means that a probability the "
        "certificate claims is at least ½ (the certified class's; for two stages, the "
        "selection's too) is below ½ somewhere the certificate covers (a sound certificate is "
        "flagged with probability ≤ α + α_audit). No violation found is evidence, not proof: a "
        "stronger attack might still find one.")


def _tile(column: st.delta_generator.DeltaGenerator, image: np.ndarray, caption: str) -> None:
    column.image(image_png(image, min_tile=140), caption=caption, width="stretch")


def _votes(column: st.delta_generator.DeltaGenerator, classes: Sequence[str],
           counts: Sequence[int], chosen: int, title: str, key: str) -> None:
    """The smoothed votes at an attacked point, as a bar chart in ``column``."""
    column.plotly_chart(votes_at_figure(classes, counts, chosen, title), key=key,
                        config={"displayModeBar": False})


def _inside_tiles(pixels: np.ndarray, worst: SmoothedPoint, certified: str, near: int,
                  radius: float, says: str) -> st.delta_generator.DeltaGenerator:
    """The row of x, the worst x′ inside the certified ball (``says``: what the attacked
    classifier answers there) and δ ×``near``; returns the row's last column, for the votes."""
    t1, t2, t3, t4 = st.columns([1, 1, 1, 1.6])
    _tile(t1, pixels, f"x: the certified input ({certified})")
    _tile(t2, worst.point.x_adv, f"x′ = x + δ: {says}")
    _tile(t3, delta_image(worst.point.delta, near),
          f"δ ×{near} (‖δ‖ = {worst.point.delta_norm:.3g} ≤ R = {radius:.3g})")
    return t4


def two_stage_pictures(evidence: TwoStageEvidence, pixels: np.ndarray,
                       classes: tuple[str, ...], cert: TwoStageCertificate) -> None:
    """The attack you can see on a two-stage certificate: x, the worst x′ found inside the
    certified ball, δ amplified, the deployed classifier's votes at x′ and the selection
    stage's votes there, in plain words."""
    worst = evidence.worst
    if worst is None:
        return
    audit, classes, words = evidence.audit, tuple(map(str, classes)), WORDS[cert.target]
    entries = [words.entry(v) for v in cert.menu]
    near = amplification(worst.point.delta)
    st.markdown("##### The attack you can see")
    st.markdown(inside_text(evidence, classes, cert.kind, "deployed two-stage classifier"))
    t4 = _inside_tiles(pixels, worst, classes[audit.certified], near, audit.radius,
                       f"deployed says {classes[worst.top_class]}")
    _votes(t4, classes, worst.counts, audit.certified, "Deployed classifier's votes at x′",
           "cert_attack_votes")
    s1, s2 = st.columns([1.2, 1], vertical_alignment="center")
    s1.markdown(selection_text(evidence, entries, words.selector))
    _votes(s2, entries, evidence.selection_counts, audit.selected,
           f"The {words.selector}'s votes at x′", "cert_attack_votes_selection")
    st.caption(
        f"δ is drawn amplified ×{near} around mid-grey (grey: unchanged, lighter: brighter, "
        "darker: darker); images are in [0, 1] pixel units, one grey level = 1/255. The "
        f"attack (PGD with the budget above) pushed against both stages: the {words.selector}'s "
        f"choice and the chosen {words.unit}'s classifier. It is heuristic: it shows what it "
        "found, and finding nothing inside R is evidence, not proof. The certificate covers "
        "only the ball of radius R: beyond it nothing is promised.")


def attack_pictures(evidence: AttackEvidence, pixels: np.ndarray, classes: tuple[str, ...],
                    kind: str) -> None:
    """An attack you can see: x, the worst x′ found inside the certified ball, δ amplified
    (one factor for both δ within R, its own beyond R) and the smoothed votes at x′; the base
    classifier attacked with the same budget; the smoothed classifier attacked beyond R —
    each in plain words."""
    worst, base, beyond = evidence.worst, evidence.base, evidence.beyond_worst
    if worst is None or base is None or beyond is None:
        return
    audit, classes = evidence.audit, tuple(map(str, classes))
    near = amplification(worst.point.delta, base.point.delta)
    far = amplification(beyond.point.delta)
    st.markdown("##### The attack you can see")
    st.markdown(inside_text(evidence, classes, kind))
    t4 = _inside_tiles(pixels, worst, classes[audit.certified], near, audit.radius,
                       f"smoothed says {classes[worst.top_class]}")
    _votes(t4, classes, worst.counts, audit.certified, "Smoothed votes at x′", "cert_attack_votes")
    st.markdown(base_text(evidence, classes))
    scan = evidence.base_break
    b1, b2, b3, _ = st.columns([1, 1, 1, 1.6])
    _tile(b1, base.point.x_adv, f"x′ within R: unprotected says {classes[base.attacked_class]}")
    _tile(b2, delta_image(base.point.delta, near), f"its δ ×{near}")
    if scan is not None:
        _tile(b3, scan.point.x_adv,
              f"x′ within {scan.point.radius / audit.radius:g}R: unprotected says "
              f"{classes[scan.attacked_class]}")
    st.markdown(beyond_text(evidence, classes))
    f1, f2, _, f3 = st.columns([1, 1, 1, 1.6])
    _tile(f1, beyond.point.x_adv,
          f"x′ within {evidence.factor:g}R: smoothed says {classes[beyond.top_class]}")
    _tile(f2, delta_image(beyond.point.delta, far),
          f"δ ×{far} (‖δ‖ = {beyond.point.delta_norm:.3g})")
    _votes(f3, classes, beyond.counts, audit.certified,
           f"Smoothed votes at x′ within {evidence.factor:g}R", "cert_attack_votes_beyond")
    st.caption(
        f"δ is drawn amplified (×{near} within R, ×{far} beyond) around mid-grey (grey: "
        "unchanged, lighter: brighter, darker: darker); images are in [0, 1] pixel units, one "
        "grey level = 1/255. Every attack here is heuristic (PGD with the budget above): it "
        "shows what it found, and finding nothing inside R is evidence, not proof. The "
        "certificate covers only the ball of radius R: beyond it nothing is promised.")
