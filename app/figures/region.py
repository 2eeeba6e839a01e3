"""Pure figure builders for 2-D slices of the certified region (UCAN Fig. 1).

The curves and the density grid come from the engine (``Noise.region`` and ``Noise.log_prob``),
gathered by ``app.cached.region.region_slice`` into a :class:`RegionSlice`; nothing here
computes a radius.
Also here: the pixel picker (the image or its σ map under a clickable marker layer) and the
empirical check's overlay (points and PREDICT answers from ``ucan_core.audit.slice_check``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures.common import fmt, norm_symbol
from ucan_core.audit.slice_check import SliceCheck

REGION_COLOUR = "#2ca02c"
BALL_COLOUR = "#1f77b4"
ALM_COLOUR = "#ff7f0e"
SHAPES = {"1": "rhombus", "2": "ellipse", "inf": "box"}
#: Level sets drawn: these fractions of the noise density's peak in the slice.
LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: Axis lines that read on the light and the dark theme (translucent grey, not white).
ZERO_LINE, GRID_LINE = "rgba(128,128,128,0.45)", "rgba(128,128,128,0.18)"
PIXEL_COLOURS = {"A": "#ff2d55", "B": "#00c2ff"}
#: The clickable pixel layer has at most this many markers a side (blocks beyond).
GRID_MAX_SIDE = 64
GRID_NAME = "pixels (click to pick)"
#: Colour and marker symbol of each outcome of the empirical check.
OUTCOME_STYLES = {"held": ("#1a7f37", "circle"), "changed": ("#d62728", "x"),
                  "abstained": ("#7f7f7f", "diamond")}


@dataclass(frozen=True)
class RegionSlice:
    """The certified region {δ : ‖δ/s‖_p ≤ R} and the noise in the (δ_i, δ_j) plane.

    Curves are closed (x, y) arrays in pixel units; ``density`` is the noise density on the
    plane through the noise centre (other coordinates at their mean), divided by its peak,
    on the square grid ``axis`` × ``axis`` (rows: δ_j, columns: δ_i). Radii are ``None`` for a
    noise without a closed-form radius.
    """

    norm: str
    scale: tuple[float, float]        # s_i, s_j
    shift: tuple[float, float]        # μ_i, μ_j (pixel units)
    std: tuple[float, float]          # s_i·σ, s_j·σ
    radius: float | None = None       # base radius R
    radius_kind: str | None = None    # its kind
    kind: str | None = None           # kind of the ℓp radius min s·R
    lp_radius: float | None = None    # min_i s_i · R over all d coordinates
    alm: float | None = None          # (∏ s_i)^{1/d} · R
    region: tuple[np.ndarray, np.ndarray] | None = None
    ball: tuple[np.ndarray, np.ndarray] | None = None
    alm_ball: tuple[np.ndarray, np.ndarray] | None = None
    axis: np.ndarray | None = None
    density: np.ndarray | None = None

    @property
    def coincide(self) -> bool:
        """Whether the region, the ℓp ball and the ALM ball are one curve: every sᵢ equal
        (min sᵢ·R = (∏sᵢ)^(1/d)·R), as for isotropic noise."""
        return (self.lp_radius is not None and self.alm is not None
                and math.isclose(self.lp_radius, self.alm, rel_tol=1e-9))

    def rows(self) -> list[dict[str, object]]:
        """The figure's curves as long-format rows (curve, x, y) for a CSV download."""
        out: list[dict[str, object]] = []
        for name, curve in (("region", self.region), ("lp_ball", self.ball),
                            ("alm_ball", self.alm_ball)):
            if curve is not None:
                out += [{"curve": name, "delta_i": float(x), "delta_j": float(y)}
                        for x, y in zip(*curve)]
        return out

    def summary(self) -> dict[str, object]:
        """The slice's numbers (for a JSON download)."""
        return {"norm": self.norm, "scale_i": self.scale[0], "scale_j": self.scale[1],
                "shift_i": self.shift[0], "shift_j": self.shift[1], "std_i": self.std[0],
                "std_j": self.std[1], "base_radius_R": self.radius,
                "base_radius_kind": self.radius_kind, "lp_radius": self.lp_radius,
                "lp_radius_kind": self.kind, "alm": self.alm}


def _closed(curve: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(curve[0], dtype=np.float64), np.asarray(curve[1], dtype=np.float64)


def _add_region_traces(fig: go.Figure, view: RegionSlice, row: int | None = None,
                       col: int | None = None, alm: bool = True) -> None:
    """The region (filled), the ℓp ball of radius min sᵢ·R and, with ``alm``, the ALM ball;
    one curve when they coincide (:attr:`RegionSlice.coincide`)."""
    where = {} if row is None else {"row": row, "col": col}
    sym = norm_symbol(view.norm)
    if view.region is not None:
        x, y = _closed(view.region)
        name = (f"certified region = {sym} ball{' = ALM ball' if alm else ''}, radius "
                f"{fmt(view.lp_radius, 3)} ({view.kind}): one curve, they coincide"
                if view.coincide else
                f"certified region ‖δ/s‖_{sym[1:]} ≤ R ({SHAPES.get(view.norm, 'slice')})")
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines", fill="toself", fillcolor="rgba(44,160,44,0.22)",
            line=dict(color=REGION_COLOUR, width=2), name=name,
            hovertemplate="δ_A=%{x:.4g}<br>δ_B=%{y:.4g}<extra>certified region</extra>"), **where)
    if view.coincide:
        return
    if view.ball is not None:
        x, y = _closed(view.ball)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines", line=dict(color=BALL_COLOUR, width=2),
            name=f"{sym} ball, radius min sᵢ·R = {fmt(view.lp_radius)} ({view.kind})",
            hovertemplate="%{x:.4g}, %{y:.4g}<extra>ℓp ball</extra>"), **where)
    if view.alm_ball is not None and alm:
        x, y = _closed(view.alm_ball)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines", line=dict(color=ALM_COLOUR, width=2, dash="dash"),
            name=f"ALM ball, radius (∏sᵢ)^(1/d)·R = {fmt(view.alm)} (size measure only)",
            hovertemplate="%{x:.4g}, %{y:.4g}<extra>ALM ball</extra>"), **where)


def region_figure(view: RegionSlice, pixel_a: str, pixel_b: str, height: int = 620,
                  alm: bool = True) -> go.Figure:
    """The certified region's slice, the ℓp ball of radius min sᵢ·R and (with ``alm``) the ALM
    ball, over the noise density's level sets (UCAN Fig. 1a and 1b), with equal axis scales;
    one curve where they coincide."""
    fig = go.Figure()
    if view.density is not None and view.axis is not None:
        axis = np.asarray(view.axis, dtype=np.float64)
        fig.add_trace(go.Contour(
            x=axis, y=axis, z=np.asarray(view.density, dtype=np.float64),
            contours=dict(start=LEVELS[0], end=LEVELS[-1], size=LEVELS[1] - LEVELS[0],
                          coloring="lines"),
            colorscale=[[0, "#b0b0b0"], [1, "#707070"]], showscale=False,
            line=dict(width=1, dash="dot"), showlegend=True,
            name="noise density level sets (10–90 % of its peak)",
            hovertemplate="δ_A=%{x:.4g}<br>δ_B=%{y:.4g}<br>density/peak %{z:.2f}"
                          "<extra>noise</extra>"))
    _add_region_traces(fig, view, alm=alm)
    if any(view.shift):
        fig.add_trace(go.Scatter(x=[view.shift[0]], y=[view.shift[1]], mode="markers",
                                 marker=dict(symbol="x", size=10, color="#7f7f7f"),
                                 name="noise centre μ", hovertemplate="μ = (%{x:.4g}, %{y:.4g})"
                                                                      "<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0.0], y=[0.0], mode="markers", name="x (δ = 0)",
                             marker=dict(size=8, color="#7f7f7f", line=dict(width=1, color="#d62728")),
                             hovertemplate="the input x<extra></extra>"))
    title = (f"Certified region in {norm_symbol(view.norm)}: slice through pixels A and B"
             f"<br><sup>s_A = {fmt(view.scale[0])}, s_B = {fmt(view.scale[1])}"
             + (f", R = {fmt(view.radius)}" if view.radius is not None else "") + "</sup>")
    fig.update_layout(
        title=dict(text=title, font=dict(size=14)), height=height,
        margin=dict(l=10, r=10, t=60, b=130), plot_bgcolor="rgba(0,0,0,0)",
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", xanchor="left",
                    x=0, font=dict(size=11)),
        xaxis_title=f"δ at pixel A {pixel_a} (pixel units)",
        yaxis_title=f"δ at pixel B {pixel_b}")
    if view.axis is not None:
        fig.update_xaxes(range=[float(view.axis[0]), float(view.axis[-1])])
        fig.update_yaxes(range=[float(view.axis[0]), float(view.axis[-1])])
    fig.update_xaxes(constrain="domain", zeroline=True, zerolinecolor=ZERO_LINE,
                     gridcolor=GRID_LINE)
    fig.update_yaxes(scaleanchor="x", scaleratio=1, constrain="domain", zeroline=True,
                     zerolinecolor=ZERO_LINE, gridcolor=GRID_LINE)
    return fig


def norms_figure(views: Sequence[RegionSlice], height: int = 300, alm: bool = True) -> go.Figure:
    """One small panel per norm (ℓ1 rhombus, ℓ2 ellipse, ℓ∞ box) at the same p_A (the ALM ball
    with ``alm``)."""
    fig = make_subplots(rows=1, cols=len(views), horizontal_spacing=0.06,
                        subplot_titles=[f"{norm_symbol(v.norm)}: {SHAPES.get(v.norm, '')}"
                                        for v in views])
    for index, view in enumerate(views, start=1):
        _add_region_traces(fig, view, 1, index, alm)
        axis = "x" if index == 1 else f"x{index}"
        fig.update_yaxes(scaleanchor=axis, scaleratio=1, row=1, col=index)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), showlegend=False,
                      plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(zeroline=True, zerolinecolor=ZERO_LINE, gridcolor=GRID_LINE)
    fig.update_yaxes(zeroline=True, zerolinecolor=ZERO_LINE, gridcolor=GRID_LINE)
    return fig


def mark_pixels(fig: go.Figure, points: Sequence[tuple[int, int, str]]) -> go.Figure:
    """Add labelled markers at (row, column) pixels to a heatmap figure; returns it.

    The markers take no hover (so a click on them reaches the :func:`pixel_grid` layer) and
    keep their opacity while another trace holds a selection."""
    for row, col, label in points:
        colour = PIXEL_COLOURS.get(label, "white")
        fig.add_trace(go.Scatter(
            x=[col], y=[row], mode="markers+text", text=[label], textposition="top center",
            textfont=dict(color=colour, size=14), showlegend=False, hoverinfo="skip",
            cliponaxis=False,
            marker=dict(symbol="circle-open", size=14, color=colour, line=dict(width=3)),
            unselected=dict(marker=dict(opacity=1), textfont=dict(color=colour))))
    return fig


def image_figure(pixels: np.ndarray, title: str, height: int = 300) -> go.Figure:
    """A (C, H, W) image in [0, 1] (C = 1 or 3) drawn pixel for pixel: pixel (row r, col c)
    centred at x = c, y = r, rows downwards, like the σ-map heatmaps."""
    array = np.clip(np.nan_to_num(np.asarray(pixels, dtype=np.float32)), 0.0, 1.0)
    rgb = np.repeat(array, 3, axis=0) if array.shape[0] == 1 else array
    z = (rgb.transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)
    fig = go.Figure(go.Image(z=z, hoverinfo="skip"))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=56, b=10))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", ticks="",
                     showticklabels=False, showgrid=False, zeroline=False)
    fig.update_xaxes(constrain="domain", ticks="", showticklabels=False, showgrid=False,
                     zeroline=False)
    return fig


def pixel_grid(fig: go.Figure, values: np.ndarray, label: str,
               max_side: int = GRID_MAX_SIDE) -> go.Figure:
    """Add a transparent, clickable marker at every pixel centre of an (H, W) picture (at the
    centre of every k×k block, k = ⌈max(H, W)/max_side⌉, for large pictures), with
    customdata (row, col, value) for :func:`picked_pixel`. Returns ``fig``.

    Images and heatmaps emit no point selections; this layer gives ``st.plotly_chart``'s
    ``selection_mode="points"`` something to select. Other traces lose their hover, so that
    the closest point under the mouse is always a grid marker; the axes keep to the picture
    (markers would pad them)."""
    grid = np.asarray(values, dtype=np.float64)
    height, width = grid.shape
    step = max(1, math.ceil(max(height, width) / max_side))
    rows, cols = np.meshgrid(np.arange(step // 2, height, step),
                             np.arange(step // 2, width, step), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    fig.update_traces(hoverinfo="skip", selector=lambda t: t.type in ("heatmap", "image"))
    fig.update_xaxes(range=[-0.5, width - 0.5], autorange=False)
    fig.update_yaxes(range=[height - 0.5, -0.5], autorange=False)
    fig.add_trace(go.Scatter(
        x=cols, y=rows, mode="markers", name=GRID_NAME, showlegend=False,
        marker=dict(size=max(6, 8 * step), opacity=0.0, color="white"),
        customdata=np.stack([rows, cols, grid[rows, cols]], axis=1).tolist(),
        hovertemplate=f"row %{{customdata[0]}}, col %{{customdata[1]}}<br>{label} "
                      "%{customdata[2]:.4g}<extra>click to pick</extra>"))
    return fig


def _cells(data: object) -> list[Any]:
    """A point's customdata as a list (plotly.js sends a typed-array row as {"0": …, "1": …})."""
    if isinstance(data, Mapping):
        return [data[k] for k in sorted(data, key=int)]
    return list(data) if isinstance(data, (list, tuple)) else []


def picked_pixel(points: Sequence[Mapping[str, Any]], height: int,
                 width: int) -> tuple[int, int]:
    """(row, col) of the last selected :func:`pixel_grid` marker in a Plotly selection's
    ``points``; ValueError, with a message for the user, if no grid marker was selected or
    its pixel lies outside the H × W image."""
    picks = [_cells(p.get("customdata")) for p in points]
    picks = [cells for cells in picks if len(cells) >= 2]
    if not picks:
        raise ValueError("that click selected no pixel: click on the image itself")
    row, col = (round(float(v)) for v in picks[-1][:2])
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"pixel (row {row}, col {col}) lies outside the {height}×{width} "
                         f"image: rows 0–{height - 1}, columns 0–{width - 1}")
    return row, col


def check_figure(view: RegionSlice, pixel_a: str, pixel_b: str, check: SliceCheck,
                 classes: Sequence[str], subtitle: str, height: int = 620,
                 alm: bool = True) -> go.Figure:
    """:func:`region_figure` of the certificate's region with the check's points on it: one
    trace per outcome (PREDICT kept the certified class, changed it, or abstained), named
    with its count; hover gives the offsets, ‖δ/s‖_p/R and PREDICT's answer."""
    fig = region_figure(view, pixel_a, pixel_b, height, alm)
    certified = classes[check.certified]
    outcomes = check.outcomes
    names = {"held": f"PREDICT = {certified} (held)", "changed": "PREDICT changed class",
             "abstained": "PREDICT abstained (not significant)"}
    for outcome, count in check.counts().items():
        if not count:
            continue
        mask = outcomes == outcome
        colour, symbol = OUTCOME_STYLES[outcome]
        answers = [classes[c] if c >= 0 else "abstain" for c in check.predictions[mask]]
        fig.add_trace(go.Scatter(
            x=check.offsets[mask, 0], y=check.offsets[mask, 1], mode="markers",
            name=f"{names[outcome]}: {count}",
            marker=dict(symbol=symbol, size=9, color=colour, line=dict(width=1, color="white")),
            customdata=np.stack([check.size[mask], np.asarray(answers, dtype=object)], axis=1),
            hovertemplate="δ_A=%{x:.4g}, δ_B=%{y:.4g}<br>‖δ/s‖ = %{customdata[0]:.3f}·R"
                          "<br>PREDICT: %{customdata[1]}<extra></extra>"))
    counts = check.counts()
    fig.update_layout(title=dict(
        text=f"Empirical check: PREDICT at {len(outcomes)} points of the certified slice"
             f"<br><sup>{subtitle} · held {counts['held']}, changed {counts['changed']}, "
             f"abstained {counts['abstained']}</sup>", font=dict(size=14)))
    return fig
