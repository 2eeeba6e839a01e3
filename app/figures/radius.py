"""Pure figure builders for the Radius page: universal radius vs p_A and the worst direction.

The numbers come from the engine (``ucan_core.universal.compare_with_closed`` and
``pixeldp_radius``, gathered by ``app.cached.radius``); nothing here computes a radius. The
only array work is for display: reshaping the worst direction to the image and reducing its
channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from app.figures.curves import Curve, radius_curve_figure
from app.figures.maps import MAGNITUDE_SCALE, MU_SCALE, heatmap, map_for_display, title_with_note
from ucan_core.universal.compare import Comparison

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
PIXELDP_COLOUR = "#7f7f7f"
#: Legend name of PixelDP's curve: a valid (sound) but loose ℓ2 radius of Gaussian noise.
PIXELDP_NAME = "PixelDP (sound, loose)"
CHANNEL_0, MEAN_ABS = "channel 0", "mean |·| over channels"


def radius_figure(p: np.ndarray, entries: Sequence[tuple[str, Comparison]],
                  pixeldp: np.ndarray | None, marker: int, norm: str) -> go.Figure:
    """Radius vs p_A: per density the universal curve (wide, translucent) and its closed form
    (dashed, when there is one), in the density's colour, plus PixelDP (dotted grey) if given.

    Each legend entry carries its kind; the markers sit at ``p[marker]``.
    """
    curves = []
    for (title, cmp), colour in zip(entries, PALETTE):
        curves.append(Curve(f"{title} universal", cmp.universal.radius, cmp.universal.kind,
                            float(cmp.universal.radius[marker]), colour=colour))
        if cmp.closed is not None:
            curves.append(Curve(f"{title} closed form", cmp.closed, str(cmp.closed_kind),
                                float(cmp.closed[marker]), dash="dash", colour=colour))
    if pixeldp is not None:
        # Curve.name is "label (kind)": the kind text adds that the bound is loose.
        curves.append(Curve("PixelDP", pixeldp, "sound, loose", float(pixeldp[marker]),
                            dash="dot", colour=PIXELDP_COLOUR))
    figure = radius_curve_figure(p, curves, float(p[marker]), norm)
    # Wide, translucent universal lines, so that a matching closed form stays visible on top.
    figure.update_traces(line_width=6, opacity=0.45,
                         selector=lambda t: t.mode == "lines" and " universal" in t.name)
    return figure


def percent_text(value: float) -> str:
    """A signed percentage to two decimals, never "−0.00 %" (a value that rounds to 0)."""
    rounded = round(value, 2) + 0.0          # + 0.0 turns −0.0 into 0.0
    return f"{rounded:+.2f} %" if rounded else "0.00 %"


def comparison_rows(name: str, cmp: Comparison) -> list[dict[str, object]]:
    """One row per p_A: closed form and universal radius with their kinds, the relative
    difference (universal − closed)/closed in %, and the worst direction found."""
    curve = cmp.universal
    difference = cmp.relative_difference
    rows: list[dict[str, object]] = []
    for i, p in enumerate(curve.p_a):
        rows.append({
            "density": name, "p_a": float(p),
            "closed": None if cmp.closed is None else float(cmp.closed[i]),
            "closed_kind": cmp.closed_kind,
            "universal": float(curve.radius[i]), "universal_kind": curve.kind,
            "difference_pct": None if difference is None else 100.0 * float(difference[i]),
            "worst_direction": curve.worst_label(i)})
    return rows


def csv_rows(entries: Sequence[tuple[str, Comparison]], pixeldp: np.ndarray | None,
             norm: str, mode: str) -> list[dict[str, object]]:
    """All densities' rows for the CSV download, with the norm, the mode and (where shown)
    PixelDP's ℓ2 radius at the same p_A."""
    rows = []
    for name, cmp in entries:
        for i, row in enumerate(comparison_rows(name, cmp)):
            row = {**row, "norm": norm, "mode": mode}
            if pixeldp is not None:
                row["pixeldp_l2"] = float(pixeldp[i])
            rows.append(row)
    return rows


def display_shape(dim: int) -> tuple[int, int, int]:
    """(1, h, w) with h·w = dim and h the largest divisor ≤ √dim: how a typed d is drawn."""
    height = max(h for h in range(1, math.isqrt(dim) + 1) if dim % h == 0)
    return 1, height, dim // height


def direction_figure(vector: np.ndarray, shape: tuple[int, int, int], reduction: str,
                     title: str, height: int = 320) -> go.Figure:
    """The worst-case direction (a unit-ℓp d-vector) as a heatmap of the (C, H, W) input:
    channel 0, or for colour inputs the mean |δᵢ| over channels."""
    array = np.asarray(vector, dtype=np.float64).reshape(shape)
    channels = shape[0]
    if channels > 1 and reduction == MEAN_ABS:
        z, note = np.abs(array).mean(axis=0), f"mean |δᵢ| over {channels} channels"
    else:
        z, note = array[0], f"channel 0 of {channels}" if channels > 1 else ""
    z, stride = map_for_display(z)
    note = "; ".join(n for n in (note, stride) if n)
    signed = bool((z < 0).any())
    return heatmap(z, title_with_note(title, note), "δᵢ (unit ‖δ‖_p)",
                   MU_SCALE if signed else MAGNITUDE_SCALE, zmid=0.0 if signed else None,
                   height=height)
