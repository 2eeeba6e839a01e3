"""Pure figure builders for the UCAN Explorer (no Streamlit, no certification maths).

Every function takes numpy arrays (or plain numbers) that the engine (``ucan_core``) already
computed and returns a Plotly figure, PNG bytes or text. The only array work done here is for
display: picking a channel, striding large maps down to at most :data:`MAX_HEATMAP_SIDE`
pixels a side, clipping noisy images to [0, 1] and upscaling small tiles.

Theme: the pages draw with ``st.plotly_chart``'s default ``theme="streamlit"``, whose template
follows the app's light or dark theme (backgrounds, text, grid). The builders therefore set
no opaque background or text colour of their own, and every trace colour reads on both
backgrounds: sequential Viridis for σ maps, diverging RdBu centred at 0 for μ maps.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from PIL import Image

if TYPE_CHECKING:
    from app.services import Curves

MAX_HEATMAP_SIDE = 256
#: p_A grid of the radius curves: 200 points on (0.5, 0.9999].
P_GRID = np.linspace(0.5, 0.9999, 201)[1:]

KIND_COLOURS = {"exact": "green", "sound": "blue", "approximate": "orange"}
NORM_SYMBOLS = {"1": "ℓ1", "2": "ℓ2", "inf": "ℓ∞"}
#: Legend background that reads on light and dark themes (translucent grey, not white).
LEGEND_BG = "rgba(128,128,128,0.12)"
#: Point estimates (p̂_A): a mid-tone that shows on white and on near-black.
ESTIMATE_COLOUR = "#9467bd"


def norm_symbol(norm: str) -> str:
    """``'inf'`` → ``'ℓ∞'``, ``'2'`` → ``'ℓ2'``."""
    return NORM_SYMBOLS.get(str(norm), f"ℓ{norm}")


def kind_badge(kind: str) -> str:
    """A Streamlit-markdown badge for a radius kind (exact / sound / approximate)."""
    return f":{KIND_COLOURS.get(kind, 'gray')}-badge[{kind}]"


# --------------------------------------------------------------------------------------------
# Heatmaps


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


def _heatmap(z: np.ndarray, title: str, colourbar: str, colorscale: str,
             zmid: float | None = None, height: int = 300) -> go.Figure:
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


def _title(text: str, note: str) -> str:
    return text + (f"<br><sup>{note}</sup>" if note else "")


def sigma_map_figure(std_map: np.ndarray, height: int = 300) -> go.Figure:
    """Heatmap of the per-pixel noise level s_i·σ (sequential Viridis, pixel units)."""
    z, note = map_for_display(std_map)
    return _heatmap(z, _title("σ map: per-pixel noise level", note), "σ (pixel units)",
                    "Viridis", height=height)


def mu_map_figure(shift: np.ndarray, height: int = 300) -> go.Figure:
    """Heatmap of the noise mean μ (diverging RdBu, centred at 0, pixel units)."""
    z, note = map_for_display(shift)
    if not np.any(z):
        note = "μ = 0 everywhere" + (f"; {note}" if note else "")
    return _heatmap(z, _title("μ map: noise mean", note), "μ (pixel units)", "RdBu", zmid=0.0,
                    height=height)


# --------------------------------------------------------------------------------------------
# Images


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) floats → (N, H, W, C) uint8, clipped to [0, 1] for display only."""
    clipped = np.clip(np.nan_to_num(images, nan=0.0), 0.0, 1.0)
    return (clipped.transpose(0, 2, 3, 1) * 255.0 + 0.5).astype(np.uint8)


def grid_png(images: np.ndarray, ncols: int = 4, min_tile: int = 112, pad: int = 4) -> bytes:
    """Tile (N, C, H, W) images (C = 1 or 3) into one PNG, white gaps between tiles.

    Values are clipped to [0, 1] for display; small tiles are upscaled by an integer factor
    (nearest neighbour, so single pixels stay sharp) to at least ``min_tile`` pixels.
    """
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4 or array.shape[1] not in (1, 3) or array.shape[0] < 1:
        raise ValueError(f"expected (N, 1|3, H, W) images, got shape {array.shape}")
    count, channels, height, width = array.shape
    tiles = _to_uint8(array)
    factor = max(1, math.ceil(min_tile / max(height, width)))
    if factor > 1:
        tiles = tiles.repeat(factor, axis=1).repeat(factor, axis=2)
    th, tw = height * factor, width * factor
    ncols = max(1, min(ncols, count))
    nrows = math.ceil(count / ncols)
    canvas = np.full((nrows * th + (nrows - 1) * pad, ncols * tw + (ncols - 1) * pad, channels),
                     255, dtype=np.uint8)
    for k in range(count):
        r, c = divmod(k, ncols)
        canvas[r * (th + pad):r * (th + pad) + th, c * (tw + pad):c * (tw + pad) + tw] = tiles[k]
    mode = "L" if channels == 1 else "RGB"
    buffer = io.BytesIO()
    Image.fromarray(canvas[..., 0] if channels == 1 else canvas, mode).save(
        buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def image_png(image: np.ndarray, min_tile: int = 112) -> bytes:
    """One (C, H, W) image in [0, 1] as PNG (upscaled like :func:`grid_png`)."""
    return grid_png(np.asarray(image)[None], ncols=1, min_tile=min_tile)


# --------------------------------------------------------------------------------------------
# Radius curve


@dataclass(frozen=True)
class Curve:
    """One radius-vs-p_A trace: engine values on :data:`P_GRID` and at the marker p_A."""

    label: str
    values: np.ndarray
    kind: str
    marker_value: float
    dash: str = "solid"
    colour: str | None = None

    @property
    def name(self) -> str:
        return f"{self.label} ({self.kind})"


def radius_traces(curves: Curves, norm: str, label: str = "", colour: str | None = None,
                  with_base: bool = True) -> list[Curve]:
    """Traces of the engine's radius curves: the isotropic radius R (for anisotropic noise only
    ``with_base``), and for anisotropic noise min sᵢ·R and the dashed ALM (a size measure).
    ``label`` prefixes the names (e.g. ``"A: "``); ``colour`` gives all traces one colour."""
    sym = norm_symbol(norm)
    traces = []
    if with_base or curves.aniso_values is None:
        traces.append(Curve(f"{label}isotropic {sym} radius R", curves.iso_values,
                            curves.iso_kind, curves.iso_marker, colour=colour))
    if curves.aniso_values is not None:
        traces.append(Curve(f"{label}anisotropic {sym} radius min sᵢ·R", curves.aniso_values,
                            str(curves.aniso_kind), float(curves.aniso_marker), colour=colour))
        traces.append(Curve(f"{label}ALM (∏sᵢ)^(1/d)·R", curves.alm_values,
                            "size measure, not a radius", float(curves.alm_marker),
                            dash="dash", colour=colour))
    return traces


def radius_curve_figure(p: np.ndarray, curves: Sequence[Curve], p_marker: float, norm: str,
                        height: int = 360) -> go.Figure:
    """Certified radius against p_A, one line per curve, with a marker at ``p_marker``.

    The trace names carry the kind (exact / sound / approximate, or the ALM's size measure).
    """
    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for index, curve in enumerate(curves):
        colour = curve.colour or palette[index % len(palette)]
        fig.add_trace(go.Scatter(
            x=np.asarray(p, dtype=np.float64), y=np.asarray(curve.values, dtype=np.float64),
            mode="lines", name=curve.name, line=dict(color=colour, dash=curve.dash, width=2),
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


# --------------------------------------------------------------------------------------------
# Formulas filled with the current numbers


def fmt(value: float, digits: int = 4) -> str:
    """``digits`` significant digits (four by default), plain notation where reasonable."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if float(value).is_integer() and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.{digits}g}"


_SEPARATE_AFTER = re.compile(r"[0-9A-Za-z\u0370-\u03ff)]$")
_SEPARATE_BEFORE = re.compile(r"^[0-9A-Za-z\u0370-\u03ff(√]")


def substitute(expression: str, values: Mapping[str, float], digits: int = 4) -> str:
    """Replace the symbols of ``expression`` (e.g. σ, λ, d, p_A, a) by their numbers.

    A symbol is a whole token: ``d`` does not match inside ``ln``/``max``, ``a`` not inside
    ``atanh``. Implicit products get an explicit ``·`` (``2λd`` → ``2·0.3536·784``).
    """
    if not values:
        return expression
    symbols = sorted(values, key=len, reverse=True)
    pattern = re.compile("|".join(
        rf"(?<![A-Za-z_]){re.escape(s)}(?![A-Za-z_])" if s.isascii() else re.escape(s)
        for s in symbols))
    out: list[str] = []
    position = 0
    for match in pattern.finditer(expression):
        out.append(expression[position:match.start()])
        text = fmt(values[match.group(0)], digits)
        before = "".join(out)
        if _SEPARATE_AFTER.search(before):
            text = "·" + text
        if _SEPARATE_BEFORE.match(expression[match.end():]):
            text = text + "·"
        out.append(text)
        position = match.end()
    out.append(expression[position:])
    return "".join(out)


def split_formula(formula: str) -> tuple[str, list[tuple[str, str]]]:
    """Split an engine formula ``"expr,  λ = σ/√2"`` into the expression and definitions."""
    parts = [part.strip() for part in formula.split(",  ")]
    definitions = []
    for part in parts[1:]:
        symbol, _, rhs = part.partition("=")
        definitions.append((symbol.strip(), rhs.strip()))
    return parts[0], definitions


def fill_formula(formula: str, values: Mapping[str, float], radius: float, kind: str,
                 norm: str, symbol: str = "R", digits: int = 4) -> list[str]:
    """Markdown lines: the symbolic formula, the same filled with numbers, and the result.

    ``values`` maps symbols to numbers (σ, λ, d, p_A and single-letter parameters). A scale
    defined in the formula from σ under another name (e.g. ``b = 2σ/π``) is shown with the
    value of λ, the noise's scale. Numbers get ``digits`` significant digits.
    """
    expression, definitions = split_formula(formula)
    known = dict(values)
    where = []
    for name, rhs in definitions:
        if name not in known and "σ" in rhs and "λ" in known:
            known[name] = known["λ"]
        filled = substitute(rhs, {k: v for k, v in known.items() if k != name}, digits)
        line = f"`{name} = {rhs}`"
        if filled != rhs:
            line += f" `= {filled}`"
        if name in known:
            line += f" `= {fmt(known[name], digits)}`"
        where.append(line)
    lines = [f"`{symbol}_{norm_symbol(norm)[1:]} = {expression}`",
             f"`  = {substitute(expression, known, digits)}`",
             f"`  = {fmt(radius, digits)}` {kind_badge(kind)}"]
    if where:
        lines.append("where " + ";  ".join(where))
    return lines


def values_table(sigma: float, lambd: float, dim: int, p_a: float,
                 params: Mapping[str, float] | None = None) -> dict[str, float]:
    """The symbol → number map used by :func:`fill_formula`."""
    table: dict[str, float] = {"σ": sigma, "λ": lambd, "d": float(dim), "p_A": p_a}
    for key, value in (params or {}).items():
        if len(key) == 1:
            table[key] = value
    return table


# --------------------------------------------------------------------------------------------
# Certification results (Certify page)

SELECTED_COLOUR = "#1f77b4"
OTHER_COLOUR = "#b0b7c3"


def votes_figure(classes: Sequence[str], counts: Sequence[int], selection_counts: Sequence[int],
                 selected: int, n: int, n0: int, height: int = 360) -> go.Figure:
    """Votes per class: the estimation counts (n samples) and the selection counts (n0).

    Both series are drawn as shares of their sample count, so they share one axis; the raw
    counts are in ``customdata`` and in the bar labels. The selected class ĉ_A (the argmax of
    the selection counts) is highlighted.
    """
    counts = np.asarray(counts, dtype=np.int64)
    selection = np.asarray(selection_counts, dtype=np.int64)
    if counts.shape != (len(classes),) or selection.shape != (len(classes),):
        raise ValueError("one count per class is needed in both series")
    labels = [str(c) for c in classes]
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
    selected_label = labels[selected] if 0 <= selected < len(labels) else "?"
    fig.update_layout(
        title=dict(text=f"Votes per class (selected class ĉ_A = {selected_label})",
                   font=dict(size=14)),
        barmode="group", height=height, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0,
                    font=dict(size=11)),
        yaxis_title="share of the votes")
    fig.update_xaxes(type="category")
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


def csv_text(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows of plain values as CSV text (header from the first row's keys)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()
