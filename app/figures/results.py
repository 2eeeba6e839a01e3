"""Pure figure builder for certified-accuracy curves (Results page).

The accuracies are ``ucan_core.analysis.summarize`` values on a radius grid; this module only
draws them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

#: 34 distinct colours: D3's ten, then Plotly's Dark24, so no two logs of a view share one.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#ff7f0e", *qualitative.Dark24)


def accuracy_figure(grid: np.ndarray, curves: Sequence[tuple[str, str, Sequence[float]]],
                    height: int = 520) -> go.Figure:
    """Certified accuracy vs radius, one line per (log name, measure, accuracies on grid).

    Lines of one log share a colour, distinct logs get distinct colours (up to
    ``len(PALETTE)``); the ALM measure is dashed (it is a size of the
    certified region, not a radius).
    """
    fig = go.Figure()
    colours: dict[str, str] = {}
    for name, measure, values in curves:
        colour = colours.setdefault(name, PALETTE[len(colours) % len(PALETTE)])
        alm = measure == "alm"
        fig.add_trace(go.Scatter(
            x=np.asarray(grid, dtype=np.float64), y=np.asarray(values, dtype=np.float64),
            mode="lines", name=f"{name} (ALM)" if alm else name, line_shape="hv",
            line=dict(color=colour, width=2, dash="dash" if alm else "solid"),
            hovertemplate="r = %{x:.3f}<br>certified accuracy %{y:.1%}<extra>"
                          + name + (" · ALM" if alm else "") + "</extra>"))
    fig.update_layout(
        title=dict(text="Certified accuracy vs radius (correct and radius ≥ r)",
                   font=dict(size=14)),
        height=height, margin=dict(l=10, r=10, t=40, b=110),
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", xanchor="left",
                    x=0, font=dict(size=11)),
        xaxis_title="radius r (the log's radius column, pixel units; dashed: ALM)",
        yaxis_title="certified accuracy")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_xaxes(rangemode="tozero")
    return fig
