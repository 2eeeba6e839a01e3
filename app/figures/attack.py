"""Certify page, attack audit: the attacked images, the perturbation δ amplified for the eye,
the votes at an attacked point and the plain-words account of what each attack achieved
(the data: ``ucan_core.audit.certificates.AttackEvidence``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from app.figures.common import OTHER_COLOUR, SELECTED_COLOUR, fmt, norm_symbol
from ucan_core.audit.attack import AttackedPoint
from ucan_core.audit.certificates import AttackEvidence, SmoothedPoint, TwoStageEvidence

#: The amplification factors offered for δ: 1, 2, 5, 10, 20, 50, …
_STEPS = (1, 2, 5)


def amplification(*deltas: np.ndarray) -> int:
    """The largest factor 1, 2, 5, 10, 20, … that keeps every amplified |δ| ≤ ½ (mid-grey ±
    half the range), the same for all ``deltas`` so that they compare; 1 for δ = 0."""
    peak = max((float(np.abs(d).max()) for d in deltas if d.size), default=0.0)
    if peak <= 0:
        return 1
    factor = 1
    for k in range(12):
        for step in _STEPS:
            if step * 10 ** k * peak <= 0.5:
                factor = step * 10 ** k
    return factor


def delta_image(delta: np.ndarray, factor: int) -> np.ndarray:
    """δ amplified ``factor`` times around mid-grey (grey: no change, lighter: brighter
    pixels, darker: darker ones), clipped to [0, 1] for display."""
    return np.clip(0.5 + factor * np.asarray(delta, dtype=np.float32), 0.0, 1.0)


def grey_levels(delta: np.ndarray) -> tuple[int, int]:
    """δ at a human scale: the largest change of one pixel value in grey levels of 255, and
    how many pixel values change by at least one grey level."""
    levels = np.abs(np.asarray(delta, dtype=np.float64)) * 255
    return int(round(float(levels.max()))) if levels.size else 0, int((levels >= 1).sum())


def delta_text(point: AttackedPoint, norm: str) -> str:
    """‖δ‖ with its human scale, e.g. "‖δ‖₂ = 0.454 (at most 31 grey levels of 255 on one
    pixel, 402 values changed)"."""
    top, changed = grey_levels(point.delta)
    return (f"‖δ‖{_sub(norm)} = {fmt(point.delta_norm, 3)} (at most {top} grey levels of 255 on "
            f"one pixel, {changed:,} pixel values changed)")


def votes_at_figure(classes: Sequence[str], counts: Sequence[int], claimed: int, title: str,
                    height: int = 230) -> go.Figure:
    """The smoothed classifier's fresh votes per class at an attacked point (shares of the
    votes, counts in the labels and tooltips), the ``claimed`` class highlighted."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.shape != (len(classes),):
        raise ValueError("one count per class is needed")
    total = max(int(counts.sum()), 1)
    fig = go.Figure(go.Bar(
        x=[str(c) for c in classes], y=counts / total, customdata=counts,
        marker=dict(color=[SELECTED_COLOUR if i == claimed else OTHER_COLOUR
                           for i in range(len(classes))]),
        text=[f"{c:,}" if c else "" for c in counts], textposition="outside", cliponaxis=False,
        hovertemplate="class %{x}<br>%{customdata:,} of " + f"{total:,}" + " fresh votes"
                      "<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=height,
                      margin=dict(l=10, r=10, t=36, b=10), yaxis_title="share of the votes",
                      showlegend=False)
    fig.update_xaxes(type="category", tickmode="linear", dtick=1)
    fig.update_yaxes(range=[0, 1.18], tickformat=".0%")
    return fig


def _sub(norm: str) -> str:
    return {"1": "₁", "2": "₂", "inf": "∞"}.get(str(norm), str(norm))


def _votes(classes: Sequence[str], at: SmoothedPoint, cls: int) -> str:
    return f"{at.counts[cls]:,} of {sum(at.counts):,} fresh votes for {classes[cls]}"


def inside_text(evidence: AttackEvidence | TwoStageEvidence, classes: Sequence[str], kind: str,
                attacked: str = "smoothed classifier") -> str:
    """What the attack inside the certified ball achieved against the ``attacked`` classifier,
    in plain words (Markdown)."""
    audit, worst = evidence.audit, evidence.worst
    assert worst is not None
    c, n = classes[audit.certified], norm_symbol(audit.norm)
    ball = (f"Inside the certified {n} ball (radius R = {fmt(audit.radius, 3)} in [0, 1] pixel "
            f"units, {kind}), the strongest change the attack found, {delta_text(worst.point, audit.norm)},")
    if audit.violation:
        return (f"{ball} pushed the {attacked}'s votes for **{c}** below half "
                f"({_votes(classes, worst, audit.certified)}, upper bound {fmt(worst.p_upper, 3)}): "
                "**the certificate does not hold there**.")
    return (f"{ball} left the {attacked} at **{c}**: "
            f"{_votes(classes, worst, audit.certified)}.")


def selection_text(evidence: TwoStageEvidence, entries: Sequence[str], selector: str) -> str:
    """What the selection stage did at the worst point of a two-stage audit, in plain words."""
    audit, counts = evidence.audit, evidence.selection_counts
    kept, total = counts[audit.selected], sum(counts)
    top = max(range(len(counts)), key=counts.__getitem__)
    if top == audit.selected:
        return (f"The {selector} kept choosing **{entries[audit.selected]}** there: {kept:,} of "
                f"{total:,} fresh votes (upper bound {fmt(audit.p_upper_selection, 3)}).")
    return (f"The {selector} moved to **{entries[top]}** there: {counts[top]:,} of {total:,} "
            f"fresh votes, {kept:,} left for {entries[audit.selected]}.")


def base_text(evidence: AttackEvidence, classes: Sequence[str]) -> str:
    """What the same budget did to the base classifier without smoothing, in plain words."""
    base, audit = evidence.base, evidence.audit
    assert base is not None
    n, was = norm_symbol(audit.norm), classes[base.clean_class]
    if base.changed:
        return (f"The same attack with the same budget on the **unprotected** classifier (the "
                f"base classifier, without noise) changed its answer from {was} to "
                f"**{classes[base.attacked_class]}** ({delta_text(base.point, audit.norm)}).")
    text = (f"The same attack with the same budget did not change the **unprotected** "
            f"classifier's answer either (the base classifier, without noise: still {was})")
    broken = evidence.base_break
    if broken is None:
        far = evidence.scan[-1].point.radius if evidence.scan else audit.radius
        return f"{text}, not even within {n} {fmt(evidence.factor, 2)}R = {fmt(far, 3)}."
    factor = broken.point.radius / audit.radius
    return (f"{text}; it changed it to **{classes[broken.attacked_class]}** only with a larger "
            f"budget, {n} {fmt(factor, 2)}R = {fmt(broken.point.radius, 3)} "
            f"({delta_text(broken.point, audit.norm)}).")


def beyond_text(evidence: AttackEvidence, classes: Sequence[str]) -> str:
    """What the attack on the smoothed classifier beyond R achieved, in plain words."""
    beyond, at = evidence.beyond, evidence.beyond_worst
    assert at is not None
    c, n = beyond.certified, norm_symbol(beyond.norm)
    where = (f"Beyond the certificate, with the budget {n} {fmt(evidence.factor, 2)}R = "
             f"{fmt(beyond.radius, 3)} (nothing is promised there), the attack on the smoothed "
             f"classifier")
    if beyond.changed:
        return (f"{where} changed its answer to **{classes[beyond.top_class]}** "
                f"(verified: {_votes(classes, at, beyond.top_class)}; {delta_text(at.point, beyond.norm)}).")
    if beyond.violation:
        return (f"{where} pushed the votes for {classes[c]} below half "
                f"({_votes(classes, at, c)}): no longer sure of {classes[c]}, but no other "
                "class won confidently.")
    return f"{where} did not change it: still **{classes[c]}** ({_votes(classes, at, c)})."
