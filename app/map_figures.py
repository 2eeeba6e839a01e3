"""Pure figure builders for comparing noise maps side by side (Noise maps page).

σ maps share one sequential colour axis (Viridis) and μ maps one diverging axis (RdBu,
symmetric around 0), so a colour means the same number in every panel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures import map_for_display


def maps_figure(maps: Sequence[np.ndarray], names: Sequence[str], quantity: str,
                height: int = 250) -> go.Figure:
    """One heatmap per noise, side by side, on one colour axis with one colour bar.

    ``quantity`` ``"sigma"``: σ maps (s·σ) on a sequential scale; ``"mu"``: μ maps on a
    diverging scale centred at 0.
    """
    shown = [map_for_display(m) for m in maps]
    fig = make_subplots(rows=1, cols=len(maps), horizontal_spacing=0.03,
                        subplot_titles=[name + (f"<br><sup>{note}</sup>" if note else "")
                                        for name, (_, note) in zip(names, shown)])
    for col, (z, _) in enumerate(shown, start=1):
        fig.add_trace(go.Heatmap(z=z, coloraxis="coloraxis", name=names[col - 1],
                                 hovertemplate="row %{y}, col %{x}<br>%{z:.4g}<extra>"
                                               + names[col - 1] + "</extra>"), row=1, col=col)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if col == 1 else col}",
                         row=1, col=col)
    if quantity == "sigma":
        axis = dict(colorscale="Viridis", cmin=float(min(z.min() for z, _ in shown)),
                    cmax=float(max(z.max() for z, _ in shown)))
        title, bar = "σ maps: per-pixel noise level sᵢ·σ (one colour scale)", "σ (pixel units)"
    else:
        reach = float(max(np.abs(z).max() for z, _ in shown)) or 1.0
        axis = dict(colorscale="RdBu", cmid=0.0, cmin=-reach, cmax=reach)
        title, bar = "μ maps: noise mean (one colour scale, 0 = white)", "μ (pixel units)"
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=64, b=4),
                      coloraxis=dict(**axis, colorbar=dict(title=dict(text=bar, side="right"),
                                                           thickness=12)))
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    return fig


def map_rows(std_maps: Sequence[np.ndarray], shifts: Sequence[np.ndarray],
             names: Sequence[str]) -> list[dict[str, object]]:
    """Long-format rows (noise, channel, row, col, sigma, mu) for a CSV download."""
    rows: list[dict[str, object]] = []
    for std_map, shift, name in zip(std_maps, shifts, names):
        for (channel, row, col), value in np.ndenumerate(np.asarray(std_map)):
            rows.append({"noise": name, "channel": channel, "row": row, "col": col,
                         "sigma": float(value), "mu": float(shift[channel, row, col])})
    return rows
