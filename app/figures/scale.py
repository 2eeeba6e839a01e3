"""Human scale of a certified radius: what it allows per pixel in grey levels, how it compares
with the attack budgets papers report, and an image perturbed by a δ of that norm (pure
builders; δ itself comes from the engine, ``app.cached.certify.radius_perturbation``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from app.figures.common import fmt, norm_symbol
from app.figures.images import grid_png

#: Grey levels of an 8-bit image: a change of 1/255 in pixel units is one grey level.
GREY_LEVELS = 255


@dataclass(frozen=True)
class Budget:
    """An attack budget that papers commonly certify or attack at."""

    label: str
    norm: str
    value: float


BUDGETS = (Budget("ℓ2 0.5: CIFAR-10 benchmarks", "2", 0.5),
           Budget("ℓ2 1.0: MNIST benchmarks", "2", 1.0),
           Budget("ℓ2 2.0: MNIST, large", "2", 2.0),
           Budget("ℓ∞ 8/255: CIFAR-10 benchmarks", "inf", 8 / 255),
           Budget("ℓ∞ 0.3: MNIST benchmarks", "inf", 0.3))


def grey(value: float) -> str:
    """A change in pixel units as grey levels of 255, rounded for reading: two significant
    digits below 10 ("0.012", "3.5"; never "0.0" for a change above zero), whole levels from
    10 on."""
    levels = value * GREY_LEVELS
    return fmt(levels, 2) if levels < 10 else f"{levels:,.0f}"


def scale_words(radius: float, norm: str, dim: int) -> list[str]:
    """What a perturbation of ``norm``-size ``radius`` allows, per pixel, in plain words
    (images in [0, 1], d = ``dim`` coordinates)."""
    if not radius > 0 or not math.isfinite(radius):
        return ["No perturbation is certified (radius 0)."]
    one = min(radius, 1.0)
    if norm == "inf":
        return [f"Every pixel may change by up to {radius:.3g}, i.e. **{grey(one)} grey "
                f"levels of 255**, all at once."]
    if norm == "2":
        spread = radius / math.sqrt(dim)
        return [f"Every one of the d = {dim:,} pixels may change by {spread:.3g} "
                f"(r/√d), i.e. **{grey(spread)} grey levels of 255**, all at once;",
                f"or one single pixel by {one:.3g}, i.e. **{grey(one)} grey levels**"
                + (" (the whole range: a pixel cannot move by more than 1)" if radius >= 1
                   else "") + "."]
    spread = radius / dim
    return [f"The changes add up to at most {radius:.3g}: every pixel by {spread:.3g} (r/d), "
            f"i.e. **{grey(spread)} grey levels of 255**;",
            f"or one single pixel by {one:.3g}, i.e. **{grey(one)} grey levels**."]


def budget_figure(radius: float, norm: str, height: int | None = None) -> go.Figure:
    """The certified radius as a green bar against the common budgets of the same norm (grey
    bars, each saying whether R covers it), one labelled row each, in pixel units."""
    budgets = [b for b in BUDGETS if b.norm == norm]
    rows = ["certified R", *(b.label for b in budgets)]
    values = [radius, *(b.value for b in budgets)]
    notes = [f"R = {fmt(radius, 3)}", *("covered by R" if radius >= b.value else "not covered"
                                        for b in budgets)]
    fig = go.Figure(go.Bar(
        x=values, y=rows, orientation="h", text=notes, textposition="outside",
        cliponaxis=False, marker=dict(color=["#2ca02c", *["#8c8c8c"] * len(budgets)]),
        hovertemplate="%{y}: %{x:.6g}<extra></extra>"))
    fig.add_vline(x=radius, line=dict(color="#2ca02c", dash="dash", width=1.5))
    fig.update_layout(title=dict(text="Radius against common attack budgets", font=dict(size=13)),
                      height=height or 70 + 34 * len(rows), margin=dict(l=10, r=10, t=36, b=40),
                      showlegend=False, xaxis_title=f"{norm_symbol(norm)} radius (pixel units)",
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(range=[0, max(values) * 1.9 or 1.0])      # room for the words
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def perturbation_png(pixels: np.ndarray, delta: np.ndarray, min_tile: int = 140) -> bytes:
    """Three tiles: the image x, x + δ (clipped to [0, 1] for display) and δ amplified to the
    full grey range around mid-grey (0.5 + δ / (2 max|δ|))."""
    x = np.asarray(pixels, dtype=np.float32)
    d = np.asarray(delta, dtype=np.float32).reshape(x.shape)
    peak = float(np.abs(d).max()) or 1.0
    return grid_png(np.stack([x, x + d, 0.5 + d / (2 * peak)]), ncols=3, min_tile=min_tile)


def ball_figure(radius: float, norm: str, outline: tuple[np.ndarray, np.ndarray],
                height: int = 260) -> go.Figure:
    """The certified ℓp ball around x drawn in a plane (``outline``: the unit ℓp sphere in 2-D,
    from the engine), with the common budgets of the same norm as dashed outlines."""
    ux, uy = (np.asarray(v, dtype=np.float64) for v in outline)
    fig = go.Figure(go.Scatter(
        x=radius * ux, y=radius * uy, fill="toself", mode="lines", name="certified ball",
        line=dict(color="#2ca02c", width=2), fillcolor="rgba(44,160,44,0.25)",
        hovertemplate=f"‖δ‖ = R = {radius:.4g}<extra>certified ball</extra>"))
    reach = radius
    for budget in (b for b in BUDGETS if b.norm == norm):
        reach = max(reach, budget.value)
        fig.add_trace(go.Scatter(
            x=budget.value * ux, y=budget.value * uy, mode="lines", name=budget.label,
            line=dict(color="#ff7f0e", dash="dot", width=1),
            hovertemplate=f"{budget.label}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers", name="the image x",
                             marker=dict(size=8, color="#d62728"),
                             hovertemplate="the image x<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=4, r=4, t=30, b=4), showlegend=False,
                      title=dict(text=f"{norm_symbol(norm)} ball of radius {radius:.3g}",
                                 font=dict(size=13)),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    span = 1.1 * (reach or 1.0)
    fig.update_xaxes(range=[-span, span], showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(range=[-span, span], showgrid=False, zeroline=False, showticklabels=False,
                     scaleanchor="x", scaleratio=1)
    return fig
