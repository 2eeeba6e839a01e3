"""Pure figure builder for the Learn page's slow-motion Monte Carlo.

One :class:`Stage` per sample size n (numbers from the engine's certificates); the figure
shows the votes, the p_A interval shrinking and the radius growing, with Plotly animation
frames (a client-side ▶ button and slider), so it plays without a round trip to the server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures.common import ESTIMATE_COLOUR, OTHER_COLOUR, SELECTED_COLOUR

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
    """The four traces showing stages[0..upto]: votes at stage ``upto``, p_A, lower bound,
    radius."""
    shown = stages[:upto + 1]
    stage = stages[upto]
    ns = np.array([s.n for s in shown], dtype=np.float64)
    p_hat = np.array([s.p_hat for s in shown])
    colours = [SELECTED_COLOUR if c == stage.selected else OTHER_COLOUR
               for c in range(len(classes))]
    return [
        go.Bar(x=list(classes), y=np.asarray(stage.counts) / stage.n, marker_color=colours,
               customdata=np.asarray(stage.counts), name=f"votes at n = {stage.n:,}",
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
                       height: int = 420) -> go.Figure:
    """Votes, p_A (estimate, interval, lower bound) and radius for stages[0..current], with
    one animation frame per stage (▶ plays n = 10 → … → n in slow motion)."""
    fig = make_subplots(rows=1, cols=3, column_widths=[0.34, 0.36, 0.30],
                        horizontal_spacing=0.08,
                        subplot_titles=("Votes (share of the n samples)",
                                        "p_A vs n: the interval shrinks",
                                        "Radius vs n: it grows"))
    for index, trace in enumerate(_traces(stages, current, classes)):
        fig.add_trace(trace, row=1, col=1 if index == 0 else (3 if index == 3 else 2))
    fig.frames = [go.Frame(name=f"{s.n}", data=_traces(stages, k, classes), traces=[0, 1, 2, 3])
                  for k, s in enumerate(stages)]
    play = {"frame": {"duration": 1100, "redraw": True}, "transition": {"duration": 500},
            "fromcurrent": False, "mode": "immediate"}
    step = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate",
            "transition": {"duration": 300}}
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=100), showlegend=False,
        updatemenus=[dict(type="buttons", x=0.0, y=-0.16, xanchor="left", yanchor="top",
                          showactive=False,
                          buttons=[dict(label="▶ slow motion", method="animate",
                                        args=[None, play])])],
        sliders=[dict(active=current, x=0.16, y=-0.12, len=0.84, yanchor="top",
                      currentvalue=dict(prefix="n = ", font=dict(size=12)),
                      steps=[dict(label=f"{s.n:,}", method="animate",
                                  args=[[f"{s.n}"], step]) for s in stages])])
    top_n = max(s.n for s in stages)
    fig.update_xaxes(type="category", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=1)
    for col in (2, 3):
        fig.update_xaxes(type="log", row=1, col=col,
                         range=[math.log10(min(s.n for s in stages)) - 0.3,
                                math.log10(top_n) + 0.3])
    low = min(min(s.ci_low for s in stages), 0.5)
    fig.update_yaxes(range=[low - 0.03, 1.01], row=1, col=2)
    fig.add_hline(y=0.5, line=dict(color="orange", dash="dash", width=1), row=1, col=2)
    fig.update_yaxes(range=[0, max(max(s.radius for s in stages) * 1.15, 1e-3)],
                     title_text="R (pixel units)", row=1, col=3)
    return fig
