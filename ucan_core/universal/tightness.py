"""Tightness validation: the universal radius against every closed form of the noise library
(UniCR Fig. 4), and PixelDP's Gaussian ℓ2 radius against Cohen's.

A tight closed form agrees with the universal (numerical Neyman–Pearson) radius; a closed form
well below it is loose (the differential-method bounds of Yang et al. for heavy tails, PixelDP).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ucan_core.errors import UcanError
from ucan_core.noises.catalog import make_noise
from ucan_core.universal.compare import compare_with_closed, pixeldp_radius
from ucan_core.universal.search import Settings

P_VALUES: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9, 0.99, 0.999)


#: (noise, parameters, norm) whose closed form is tight: the universal radius must agree.
TIGHT_CASES: tuple[tuple[str, dict[str, float], str], ...] = (
    ("gaussian", {}, "1"), ("gaussian", {}, "2"), ("gaussian", {}, "inf"),
    ("laplace", {}, "1"), ("uniform", {}, "1"), ("uniform", {}, "inf"),
    ("gennorm", {"shape": 1.5}, "1"), ("gennorm", {"shape": 3.0}, "1"),
    ("hypsecant", {}, "1"), ("expinf", {}, "1"), ("powinf", {}, "1"),
    ("uniformball", {}, "2"),
)


#: Closed forms that are only lower bounds (differential method): universal ≥ closed.
BOUND_CASES: tuple[tuple[str, dict[str, float], str], ...] = (
    ("pareto", {"a": 3.0}, "1"), ("exp2", {}, "2"), ("expinf", {}, "inf"),
)


@dataclass(frozen=True)
class Row:
    """One validation point."""

    noise: str
    params: str
    norm: str
    dim: int
    p_a: float
    closed: float
    closed_kind: str
    universal: float
    relative_difference: float


def validate(cases: Sequence[tuple[str, dict[str, float], str]], dims: Sequence[int],
             p_values: Sequence[float] = P_VALUES, sigma: float = 0.5,
             settings: Settings | None = None) -> list[Row]:
    """Universal vs closed radius for each case, dimension and p_A (one curve per case)."""
    rows = []
    p = np.asarray(p_values, dtype=np.float64)
    for name, params, norm in cases:
        for dim in dims:
            noise = make_noise(name, sigma, dim, **params)
            cmp = compare_with_closed(noise, p, norm, settings=settings)
            if cmp.closed is None:
                raise UcanError(f"noise {name!r} has no closed form to validate against")
            label = ", ".join(f"{k}={v:g}" for k, v in params.items())
            rows += [Row(name, label, norm, dim, float(pa), float(c), str(cmp.closed_kind),
                         float(u), float(r))
                     for pa, c, u, r in zip(p, cmp.closed, cmp.universal.radius,
                                            cmp.relative_difference)]
    return rows


def pixeldp_rows(p_values: Sequence[float] = P_VALUES, sigma: float = 0.5) -> list[dict[str, float]]:
    """PixelDP's ℓ2 radius beside Cohen's σΦ⁻¹(p_A) (tight) for Gaussian noise."""
    p = np.asarray(p_values, dtype=np.float64)
    cohen, _ = make_noise("gaussian", sigma, 1).radius_curve(p, 2)
    pixel = pixeldp_radius(p, sigma)
    return [{"p_a": float(a), "cohen": float(c), "pixeldp": float(x), "ratio": float(x / c)}
            for a, c, x in zip(p, cohen, pixel)]


def format_rows(rows: Sequence[Row], fmt: str = "md") -> str:
    """Rows as a markdown table, CSV or JSON."""
    records = [asdict(r) for r in rows]
    if fmt == "json":
        return json.dumps(records, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(records[0]) if records else [])
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue()
    if fmt != "md":
        raise UcanError(f"unknown format {fmt!r}; choose one of: md, csv, json")
    head = ("| noise | norm | d | p_A | closed (kind) | universal | difference |\n"
            "|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r.noise}{f' ({r.params})' if r.params else ''} | ℓ{r.norm} | {r.dim} | {r.p_a:g} | "
        f"{r.closed:.5g} ({r.closed_kind}) | {r.universal:.5g} | {100 * r.relative_difference:+.2f} % |\n"
        for r in rows)


def figure(sigma: float = 0.5, dim: int = 3072, points: int = 30,
           settings: Settings | None = None) -> Any:
    """UniCR Fig. 4: radius vs p_A, closed form (lines) and universal (markers), for Gaussian
    ℓ1/ℓ2/ℓ∞, Laplace ℓ1, generalized normal ℓ1, Pareto ℓ1, with PixelDP beside Gaussian ℓ2."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = (("gaussian", {}, "2"), ("gaussian", {}, "1"), ("gaussian", {}, "inf"),
              ("laplace", {}, "1"), ("gennorm", {"shape": 1.5}, "1"), ("pareto", {"a": 3.0}, "1"))
    p = np.linspace(0.55, 0.995, points)
    fig = make_subplots(rows=2, cols=3, subplot_titles=[
        f"{n}{' ' + str(pr) if pr else ''} ℓ{q}" for n, pr, q in panels])
    for i, (name, params, norm) in enumerate(panels):
        cmp = compare_with_closed(make_noise(name, sigma, dim, **params), p, norm, settings=settings)
        row, col = i // 3 + 1, i % 3 + 1
        fig.add_trace(go.Scatter(x=p, y=cmp.closed, mode="lines", name=f"closed ({cmp.closed_kind})",
                                 line={"color": "black"}, showlegend=i == 0), row=row, col=col)
        fig.add_trace(go.Scatter(x=p, y=cmp.universal.radius, mode="markers", name="universal",
                                 marker={"color": "orange", "size": 5}, showlegend=i == 0),
                      row=row, col=col)
        if name == "gaussian" and norm == "2":
            fig.add_trace(go.Scatter(x=p, y=pixeldp_radius(p, sigma), mode="lines",
                                     name="PixelDP (sound, loose)",
                                     line={"color": "blue", "dash": "dash"}), row=row, col=col)
    fig.update_xaxes(title_text="p_A")
    fig.update_yaxes(title_text="radius")
    fig.update_layout(title=f"Universal vs closed-form radii (σ = {sigma:g}, d = {dim})", height=650)
    return fig


def write_figure(path: str | Path, **kwargs: Any) -> None:
    """The Fig. 4 reproduction as a self-contained HTML file."""
    figure(**kwargs).write_html(str(path), include_plotlyjs=True)
