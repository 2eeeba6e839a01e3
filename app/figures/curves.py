"""Certified radius against p_A: the engine's curves as traces, with a marker at one p_A."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from app.figures.common import LEGEND_BG, norm_symbol

if TYPE_CHECKING:
    from app.cached.noise import Curves

#: p_A grid of the radius curves: 200 points on (0.5, 0.9999].
P_GRID = np.linspace(0.5, 0.9999, 201)[1:]


@dataclass(frozen=True)
class Curve:
    """One radius-vs-p_A trace: engine values on :data:`P_GRID` and at the marker p_A."""

    label: str
    values: np.ndarray
    kind: str
    marker_value: float
    dash: str = "solid"
    colour: str | None = None
    #: A marker symbol along the line (a few points), so that a line under another stays seen.
    symbol: str | None = None

    @property
    def name(self) -> str:
        return f"{self.label} ({self.kind})"


def radius_traces(curves: Curves, norm: str, label: str = "", colour: str | None = None,
                  with_base: bool = True, iso_symbol: str | None = None,
                  alm: bool = True) -> list[Curve]:
    """Traces of the engine's radius curves: the isotropic radius R (for anisotropic noise only
    ``with_base``), and for anisotropic noise min sᵢ·R and (with ``alm``) the dashed ALM (a
    size measure).
    ``label`` prefixes the names (e.g. ``"A: "``); ``colour`` gives all traces one colour;
    ``iso_symbol`` marks the isotropic line (see :func:`radius_curve_figure`)."""
    sym = norm_symbol(norm)
    traces = []
    if with_base or curves.aniso_values is None:
        traces.append(Curve(f"{label}isotropic {sym} radius R", curves.iso_values,
                            curves.iso_kind, curves.iso_marker, colour=colour,
                            symbol=iso_symbol))
    if curves.aniso_values is not None:
        traces.append(Curve(f"{label}anisotropic {sym} radius min sᵢ·R", curves.aniso_values,
                            str(curves.aniso_kind), float(curves.aniso_marker), colour=colour))
        if alm:
            traces.append(Curve(f"{label}ALM (∏sᵢ)^(1/d)·R", curves.alm_values,
                                "size measure, not a radius", float(curves.alm_marker),
                                dash="dash", colour=colour))
    return traces


def radius_curve_figure(p: np.ndarray, curves: Sequence[Curve], p_marker: float, norm: str,
                        height: int = 360) -> go.Figure:
    """Certified radius against p_A, one line per curve, with a marker at ``p_marker``.

    The trace names carry the kind (exact / sound / approximate, or the ALM's size measure).
    A curve with a ``symbol`` is drawn wider with a dozen open markers: an isotropic R equal
    to another noise's ALM (same geometric mean of σ) stays visible under the dashed line.
    """
    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for index, curve in enumerate(curves):
        colour = curve.colour or palette[index % len(palette)]
        fig.add_trace(go.Scatter(
            x=np.asarray(p, dtype=np.float64), y=np.asarray(curve.values, dtype=np.float64),
            mode="lines" if curve.symbol is None else "lines+markers", name=curve.name,
            line=dict(color=colour, dash=curve.dash, width=2 if curve.symbol is None else 4),
            marker=dict(symbol=curve.symbol or "circle", size=9, maxdisplayed=12),
            hovertemplate="p_A=%{x:.4f}<br>R=%{y:.4g}<extra>" + curve.label + "</extra>"))
        fig.add_trace(go.Scatter(
            x=[float(p_marker)], y=[float(curve.marker_value)], mode="markers",
            name=f"{curve.label} at p_A={p_marker:g}", showlegend=False,
            marker=dict(color=colour, size=10, line=dict(color="white", width=1)),
            hovertemplate="p_A=%{x:.4f}<br>R=%{y:.4g}<extra>" + curve.label + "</extra>"))
    fig.add_vline(x=float(p_marker), line=dict(color="grey", dash="dot", width=1))
    fig.update_layout(
        title=dict(text=f"Certified {norm_symbol(norm)} radius vs p_A", font=dict(size=14)),
        height=height, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(yanchor="top", y=0.99, xanchor="left", x=0.01,
                    bgcolor=LEGEND_BG, font=dict(size=11)),
        xaxis_title="p_A (lower bound on the top-class probability)",
        yaxis_title=f"radius ({norm_symbol(norm)}, pixel units)")
    fig.update_xaxes(range=[0.5, 1.0])
    fig.update_yaxes(rangemode="tozero")
    return fig


