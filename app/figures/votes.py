"""Certify page: the votes of a certificate and its p_A interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from app.figures.common import ESTIMATE_COLOUR, LEGEND_BG, OTHER_COLOUR, SELECTED_COLOUR

#: The most classes a votes chart draws one by one; beyond, the rest share one bar.
TOP_CLASSES = 10


def shown_classes(counts: np.ndarray, selection: np.ndarray, selected: int,
                  top: int = TOP_CLASSES) -> list[int]:
    """The classes a votes chart draws one by one: all of them when there are at most
    ``top`` + 1 (one "other" bar would hide no more than a class), else the ``top`` with the
    most votes (estimation, then selection; ties by index), the selected class always among
    them, in that order."""
    if len(counts) <= top + 1:
        return list(range(len(counts)))
    order = [int(i) for i in np.lexsort((np.arange(len(counts)), -selection, -counts))]
    kept = order[:top]
    if 0 <= selected < len(counts) and selected not in kept:
        kept = [*kept[:-1], selected]
    return kept


def grouped_votes(classes: Sequence[str], counts: Sequence[int], selection_counts: Sequence[int],
                  selected: int, top: int = TOP_CLASSES
                  ) -> tuple[list[str], tuple[np.ndarray, np.ndarray], int]:
    """The bars of a votes chart: the labels of :func:`shown_classes` (plus "other N classes",
    the hidden classes' votes summed, when some are hidden), both series' counts per bar, and
    the bar of the selected class (-1 if none)."""
    all_counts = np.asarray(counts, dtype=np.int64)
    all_selection = np.asarray(selection_counts, dtype=np.int64)
    if all_counts.shape != (len(classes),) or all_selection.shape != (len(classes),):
        raise ValueError("one count per class is needed in both series")
    kept = shown_classes(all_counts, all_selection, selected, top)
    labels = [str(classes[i]) for i in kept]
    shown, shown_selection = all_counts[kept], all_selection[kept]
    if (hidden := len(classes) - len(kept)) > 0:
        labels.append(f"other {hidden:,} classes")
        shown = np.append(shown, all_counts.sum() - shown.sum())
        shown_selection = np.append(shown_selection, all_selection.sum() - shown_selection.sum())
    return labels, (shown, shown_selection), kept.index(selected) if selected in kept else -1


def votes_figure(classes: Sequence[str], counts: Sequence[int], selection_counts: Sequence[int],
                 selected: int, n: int, n0: int, height: int = 360,
                 compact: bool = False, top: int = TOP_CLASSES) -> go.Figure:
    """Votes per class: the estimation counts (n samples) and the selection counts (n0).

    Both series are drawn as shares of their sample count, so they share one axis; the raw
    counts are in ``customdata`` and in the bar labels. The selected class ĉ_A (the argmax of
    the selection counts) is highlighted. Class names are never cut: long ones are drawn at an
    angle. With more than ``top`` + 1 classes (ImageNet's 1,000) only the ``top`` with the
    most votes are drawn by name (:func:`shown_classes`) and the others' votes summed in one
    last bar, "other N classes" (the downloads keep every count). ``compact``: a short title
    and no legend (the Start page).
    """
    labels, (counts, selection), selected = grouped_votes(classes, counts, selection_counts,
                                                          selected, top)
    grouped = len(labels) < len(classes)          # the last bar is "other N classes"
    colours = [SELECTED_COLOUR if i == selected else OTHER_COLOUR for i in range(len(labels))]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=labels, y=counts / max(n, 1), customdata=counts, name=f"estimation votes (n = {n:,})",
        marker=dict(color=colours), text=[f"{c:,}" if c else "" for c in counts],
        textposition="outside", cliponaxis=False,
        hovertemplate="class %{x}<br>%{customdata:,} of " + f"{n:,}" + " votes"
                      "<br>share %{y:.4f}<extra>estimation</extra>"))
    fig.add_trace(go.Bar(
        x=labels, y=selection / max(n0, 1), customdata=selection,
        name=f"selection votes (n0 = {n0:,})",
        marker=dict(color=colours, opacity=0.45, pattern=dict(shape="/")),
        hovertemplate="class %{x}<br>%{customdata:,} of " + f"{n0:,}" + " votes"
                      "<br>share %{y:.4f}<extra>selection</extra>"))
    selected_label = labels[selected] if selected >= 0 else "?"
    fig.update_layout(
        title=dict(text=(f"Votes of the top {len(labels) - 1} of {len(classes):,} classes (ĉ_A = "
                         f"{selected_label})" if grouped else
                         f"Votes per class (selected class ĉ_A = {selected_label})"),
                   font=dict(size=14)),
        barmode="group", height=height, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0,
                    font=dict(size=11)),
        yaxis_title="share of the votes")
    if compact:
        fig.update_layout(title=dict(text=f"Votes: {selected_label} wins"), showlegend=False,
                          margin=dict(l=4, r=4, t=32, b=4), yaxis_title=None)
    longest = max((len(label) for label in labels), default=1)
    fig.update_xaxes(type="category", automargin=True,
                     tickangle=-40 if longest > 3 and len(labels) > 5 else 0)
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%")
    return fig


def p_a_interval_figure(p_hat: float, lower: float, ci_low: float, ci_high: float,
                        alpha: float, height: int = 260) -> go.Figure:
    """p_A on a line: the two-sided Clopper–Pearson interval at 1 − α (display), the empirical
    frequency p̂_A and the one-sided lower bound p̲_A that the certificate uses.

    The axis zooms on the interval (at least 0.002 wide); the abstain threshold ½ is drawn
    when it falls inside the view.
    """
    values = [float(v) for v in (p_hat, lower, ci_low, ci_high)]
    lo, hi = min(values), max(values)
    pad = max(0.15 * (hi - lo), 0.0005)
    x_range = [max(0.0, lo - pad), min(1.0 + pad / 2, hi + pad)]
    if x_range[1] - x_range[0] < 0.002:
        x_range[0] = max(0.0, x_range[1] - 0.002)
    level = f"{(1.0 - alpha) * 100:.6g}%"
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[ci_low, ci_high], y=[1, 1], mode="lines+markers", name=f"two-sided {level} interval",
        line=dict(color="#7f7f7f", width=6), marker=dict(symbol="line-ns-open", size=18),
        hovertemplate="%{x:.6f}<extra>two-sided Clopper–Pearson</extra>"))
    fig.add_trace(go.Scatter(
        x=[p_hat], y=[1], mode="markers", name="p̂_A (empirical frequency)",
        marker=dict(color=ESTIMATE_COLOUR, size=12, symbol="diamond"),
        hovertemplate="p̂_A = %{x:.6f}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[lower, lower], y=[0.7, 1.3], mode="lines", name="p̲_A (one-sided lower bound, used)",
        line=dict(color="#d62728", width=3),
        hovertemplate="p̲_A = %{x:.6f}<extra>used for the radius</extra>"))
    if x_range[0] <= 0.5 <= x_range[1]:
        fig.add_vline(x=0.5, line=dict(color="orange", dash="dash", width=1),
                      annotation_text="½: abstain at or below", annotation_position="bottom")
    fig.update_layout(
        title=dict(text=f"p_A: lower bound and {level} interval", font=dict(size=14)),
        height=height, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(yanchor="top", y=0.99, xanchor="left", x=0.01, font=dict(size=11),
                    bgcolor=LEGEND_BG),
        xaxis_title="P(f(x + ε) = ĉ_A)")
    fig.update_xaxes(range=x_range, tickformat=".4f", nticks=6)
    fig.update_yaxes(visible=False, range=[0.5, 2.1])
    return fig
