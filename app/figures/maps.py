"""Heatmaps of noise maps: one σ map (sequential Viridis) or μ map (diverging red–blue centred
at 0 on a neutral grey, :data:`MU_SCALE`), and several side by side on one colour axis
(Compare, Noise maps), so that a colour means the same number in every panel. A μ map that is
0 everywhere is drawn flat in that grey with a note, never as a white square. Maps larger
than :data:`MAX_HEATMAP_SIDE` are strided down."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MAX_HEATMAP_SIDE = 256
#: μ = 0: a translucent grey, the page's own tone darkened or lightened a little on either
#: theme (RdBu's near-white centre glares on the dark theme).
NEUTRAL = "rgba(128,128,128,0.25)"
#: RdBu's ends and mid tones (negative red, positive blue) around :data:`NEUTRAL`.
MU_SCALE = [[0.0, "rgb(103,0,31)"], [0.25, "rgb(214,96,77)"], [0.5, NEUTRAL],
            [0.75, "rgb(67,147,195)"], [1.0, "rgb(5,48,97)"]]
FLAT = [[0.0, NEUTRAL], [1.0, NEUTRAL]]
#: Magnitudes (≥ 0): from :data:`NEUTRAL` at 0 to blue, never from white.
MAGNITUDE_SCALE = [[0.0, NEUTRAL], [0.5, "rgb(107,174,214)"], [1.0, "rgb(8,81,156)"]]


def map_for_display(values: np.ndarray) -> tuple[np.ndarray, str]:
    """Reduce a (C, H, W) or (H, W) map to a 2-D array of at most 256×256 for display.

    Multi-channel maps show channel 1 when all channels are identical (the pattern NPG),
    otherwise the channel mean. Returns the array and a note saying what is shown.
    """
    array = np.asarray(values, dtype=np.float32)
    notes = []
    if array.ndim == 3:
        channels = array.shape[0]
        if channels == 1:
            array = array[0]
        elif all(np.array_equal(array[0], array[c]) for c in range(1, channels)):
            array = array[0]
            notes.append(f"channel 1 of {channels} (all identical)")
        else:
            array = array.mean(axis=0)
            notes.append(f"mean of {channels} channels")
    elif array.ndim != 2:
        raise ValueError(f"expected a (C, H, W) or (H, W) map, got shape {array.shape}")
    step = max(1, math.ceil(max(array.shape) / MAX_HEATMAP_SIDE))
    if step > 1:
        array = array[::step, ::step]
        notes.append(f"every {step}th pixel shown")
    return np.ascontiguousarray(array), "; ".join(notes)


def heatmap(z: np.ndarray, title: str, colourbar: str, colorscale: str | list[list[object]],
            zmid: float | None = None, height: int = 300) -> go.Figure:
    """One heatmap, rows top down, square pixels, no ticks."""
    trace = go.Heatmap(z=z, colorscale=colorscale, zmid=zmid,
                       colorbar=dict(title=dict(text=colourbar, side="right"), thickness=12),
                       hovertemplate="row %{y}, col %{x}<br>%{z:.4g}<extra></extra>")
    fig = go.Figure(trace)
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=56, b=10))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain",
                     showticklabels=False, showgrid=False, zeroline=False)
    fig.update_xaxes(constrain="domain", showticklabels=False, showgrid=False, zeroline=False)
    return fig


def title_with_note(text: str, note: str) -> str:
    """A figure title with ``note`` (what is shown of the map) as a second, small line."""
    return text + (f"<br><sup>{note}</sup>" if note else "")


def sigma_map_figure(std_map: np.ndarray, height: int = 300) -> go.Figure:
    """Heatmap of the per-pixel noise level s_i·σ (sequential Viridis, pixel units)."""
    z, note = map_for_display(std_map)
    return heatmap(z, title_with_note("σ map: per-pixel noise level", note),
                   "σ (pixel units)", "Viridis", height=height)


def mu_map_figure(shift: np.ndarray, height: int = 300) -> go.Figure:
    """Heatmap of the noise mean μ (:data:`MU_SCALE`, centred at 0, pixel units); a map that
    is 0 everywhere is one flat neutral square saying so, without a colour bar."""
    z, note = map_for_display(shift)
    if np.any(z):
        return heatmap(z, title_with_note("μ map: noise mean", note), "μ (pixel units)",
                       MU_SCALE, zmid=0.0, height=height)
    fig = heatmap(z, title_with_note("μ map: noise mean", note), "", FLAT, zmid=0.0,
                  height=height)
    fig.update_traces(showscale=False)
    fig.add_annotation(text="μ = 0 everywhere<br>(the noise is centred on the image)",
                       x=0.5, y=0.5, xref="x domain", yref="y domain", showarrow=False,
                       font=dict(size=13))
    return fig


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
        axis = dict(colorscale=MU_SCALE, cmid=0.0, cmin=-reach, cmax=reach)
        title, bar = "μ maps: noise mean (one colour scale, 0 = grey)", "μ (pixel units)"
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
