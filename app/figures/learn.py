"""Pure figure builders for the Learn page: the slow-motion Monte Carlo, the Gaussian at x and
at x + δ against the ½ threshold (Cohen et al.'s Figure 1), and peeking vs anytime-valid.

One :class:`Stage` per sample size n (numbers from the engine's certificates); the Monte Carlo
figure shows the votes at the stage the page's one n control chose, the p_A interval
shrinking and the radius growing up to it (the page plays the stages through that control).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures.common import ESTIMATE_COLOUR, OTHER_COLOUR, SELECTED_COLOUR
from app.figures.votes import grouped_votes

if TYPE_CHECKING:
    from app.cached.learn import Peeking, ShiftView

LOWER_COLOUR = "#d62728"
RADIUS_COLOUR = "#2ca02c"


@dataclass(frozen=True)
class Stage:
    """One CERTIFY run of the walk-through: votes, p_A bounds and the radius at n samples."""

    n: int
    n0: int
    counts: tuple[int, ...]
    selected: int
    k: int
    p_hat: float
    lower: float
    ci_low: float
    ci_high: float
    radius: float
    abstained: bool

    def row(self) -> dict[str, object]:
        """The stage as a flat table row."""
        return {"n": self.n, "n0": self.n0, "selected_class": self.selected, "k": self.k,
                "p_a_hat": self.p_hat, "p_a_lower": self.lower, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "radius": self.radius, "abstained": self.abstained}


def _traces(stages: Sequence[Stage], upto: int, classes: Sequence[str]) -> list[go.BaseTraceType]:
    """The four traces showing stages[0..upto]: votes at stage ``upto`` (the top classes by
    name and "other N classes" for ImageNet's 1,000, ``grouped_votes``), p_A, lower bound,
    radius."""
    shown = stages[:upto + 1]
    stage = stages[upto]
    ns = np.array([s.n for s in shown], dtype=np.float64)
    p_hat = np.array([s.p_hat for s in shown])
    labels, (counts, _), selected = grouped_votes(classes, stage.counts,
                                                  np.zeros(len(classes), np.int64),
                                                  stage.selected)
    colours = [SELECTED_COLOUR if c == selected else OTHER_COLOUR for c in range(len(labels))]
    return [
        go.Bar(x=labels, y=counts / stage.n, marker_color=colours,
               customdata=counts, name=f"votes at n = {stage.n:,}",
               showlegend=False,
               hovertemplate="class %{x}: %{customdata:,} votes (%{y:.1%})<extra></extra>"),
        go.Scatter(x=ns, y=p_hat, mode="markers", marker=dict(color=ESTIMATE_COLOUR, size=9),
                   error_y=dict(type="data", symmetric=False, color="#7f7f7f", thickness=2,
                                array=np.array([s.ci_high for s in shown]) - p_hat,
                                arrayminus=p_hat - np.array([s.ci_low for s in shown])),
                   name="p̂_A with its two-sided interval",
                   hovertemplate="n = %{x:,}<br>p̂_A = %{y:.4f}<extra></extra>"),
        go.Scatter(x=ns, y=[s.lower for s in shown], mode="lines+markers",
                   line=dict(color=LOWER_COLOUR, width=2), marker=dict(size=8),
                   name="p̲_A, one-sided lower bound (used)",
                   hovertemplate="n = %{x:,}<br>p̲_A = %{y:.4f}<extra></extra>"),
        go.Scatter(x=ns, y=[s.radius for s in shown], mode="lines+markers",
                   line=dict(color=RADIUS_COLOUR, width=2), marker=dict(size=8),
                   name="certified radius R",
                   hovertemplate="n = %{x:,}<br>R = %{y:.4g}<extra></extra>"),
    ]


def monte_carlo_figure(stages: Sequence[Stage], classes: Sequence[str], current: int,
                       height: int = 400) -> go.Figure:
    """Votes at stages[current], p_A (estimate, interval, lower bound) and radius for
    stages[0..current], the axes fixed over all stages (so stepping n does not rescale)."""
    fig = make_subplots(rows=1, cols=3, column_widths=[0.34, 0.36, 0.30],
                        horizontal_spacing=0.08,
                        subplot_titles=("Votes (share of n)", "p_A vs n: it tightens",
                                        "Radius vs n"))
    for index, trace in enumerate(_traces(stages, current, classes)):
        fig.add_trace(trace, row=1, col=1 if index == 0 else (3 if index == 3 else 2))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=40), showlegend=False)
    top_n = max(s.n for s in stages)
    fig.update_xaxes(type="category", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=1)
    for col in (2, 3):
        fig.update_xaxes(type="log", row=1, col=col, title_text="n (log scale)",
                         range=[math.log10(min(s.n for s in stages)) - 0.3,
                                math.log10(top_n) + 0.3])
    low = min(min(s.ci_low for s in stages), 0.5)
    fig.update_yaxes(range=[low - 0.03, 1.01], row=1, col=2)
    fig.add_hline(y=0.5, line=dict(color="orange", dash="dash", width=1), row=1, col=2)
    fig.update_yaxes(range=[0, max(max(s.radius for s in stages) * 1.15, 1e-3)],
                     title_text="R (pixel units)", row=1, col=3)
    return fig


def shift_figure(view: ShiftView, height: int = 400) -> go.Figure:
    """The noise density at x (grey) and at x + δ (blue) along δ, the boundary b of the worst
    classifier (class A left of it, mass p_A under x's noise) and the shifted mass left of it
    (shaded): above ½ the smoothed classifier still says A."""
    t = np.asarray(view.t, dtype=np.float64)
    left = t <= view.boundary
    safe = view.p_shifted > 0.5
    fig = go.Figure([
        go.Scatter(x=t[left], y=np.asarray(view.density_shifted)[left], fill="tozeroy",
                   mode="none", fillcolor="rgba(44,160,44,0.35)" if safe else
                   "rgba(214,39,40,0.35)", hoverinfo="skip",
                   name=f"P(class A at x + δ) = {view.p_shifted:.3f}"),
        go.Scatter(x=t, y=view.density_x, mode="lines", line=dict(color="#7f7f7f", width=2),
                   name="noise at x", hovertemplate="t = %{x:.3f}<extra>noise at x</extra>"),
        go.Scatter(x=t, y=view.density_shifted, mode="lines", line=dict(color="#1f77b4", width=3),
                   name=f"noise at x + δ (‖δ‖₂ = {view.shift:.3g})",
                   hovertemplate="t = %{x:.3f}<extra>noise at x + δ</extra>"),
    ])
    fig.add_vline(x=view.boundary, line=dict(color="orange", dash="dash", width=2),
                  annotation_text=f"b = σΦ⁻¹(p_A) = {view.boundary:.3g}",
                  annotation_position="top right")
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=80),
        title=dict(text=f"p_A = {view.p_a:.4g} → R = {view.radius:.3g}: class A keeps "
                        f"{view.p_shifted:.1%} at x + δ ({'> ½, still A' if safe else '≤ ½'})",
                   font=dict(size=13)),
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", xanchor="left",
                    x=0, font=dict(size=11)),
        xaxis_title="position along δ (pixel units; x at 0)", yaxis_title="density")
    return fig


def peeking_figure(result: Peeking, height: int = 400) -> go.Figure:
    """False-certificate rate vs the largest n looked at, for stopping the first time the
    bound certifies: Clopper–Pearson (fixed-n, peeked at) against the anytime-valid bound,
    with α (the promise) as a line."""
    looks = np.asarray(result.looks, dtype=np.float64)
    fig = go.Figure([
        go.Scatter(x=looks, y=result.clopper_pearson, mode="lines",
                   line=dict(color=LOWER_COLOUR, width=3),
                   name="peeking at Clopper–Pearson (valid at one fixed n only)",
                   hovertemplate="n ≤ %{x:,}: %{y:.2%} false certificates<extra></extra>"),
        go.Scatter(x=looks, y=result.anytime, mode="lines",
                   line=dict(color=RADIUS_COLOUR, width=3),
                   name="anytime-valid bound (valid at every n)",
                   hovertemplate="n ≤ %{x:,}: %{y:.2%} false certificates<extra></extra>")])
    fig.add_hline(y=result.alpha, line=dict(color="orange", dash="dash", width=2),
                  annotation_text=f"α = {result.alpha:g} (the promise)",
                  annotation_position="top right")
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=70),
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", xanchor="left",
                    x=0, font=dict(size=11)),
        xaxis_title=f"n looked at so far (a look every {int(looks[0])} votes)",
        yaxis_title="false-certificate rate")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig
