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
    ("hypsecant", {}, "1"), ("expinf", {}, "1"), ("expinf", {}, "inf"), ("powinf", {}, "1"),
    ("uniformball", {}, "2"),
)


#: Closed forms that are only lower bounds (differential method): universal ≥ closed.
BOUND_CASES: tuple[tuple[str, dict[str, float], str], ...] = (
    ("pareto", {"a": 3.0}, "1"), ("exp2", {}, "2"),
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


def parse_rows(text: str) -> list[Row]:
    """The rows of a markdown table written by :func:`format_rows` (e.g. docs/tightness.md),
    to their printed precision; other lines are skipped."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[2].isdigit():
            continue
        noise, _, params = cells[0].partition(" (")
        closed, _, kind = cells[4].partition(" (")
        rows.append(Row(noise, params.rstrip(")"), cells[1].removeprefix("ℓ"), int(cells[2]),
                        float(cells[3]), float(closed), kind.rstrip(")"), float(cells[5]),
                        float(cells[6].rstrip(" %")) / 100))
    return rows


def format_summary(rows: Sequence[Row]) -> str:
    """The README's tightness table: per case (noise, norm, kind of the closed form) and
    dimension, the signed relative difference of largest size over the p_A values, to the
    0.01 % that :func:`format_rows` prints (so the table of printed rows gives the same)."""
    dims = list(dict.fromkeys(r.dim for r in rows))
    worst: dict[tuple[str, str, str, str], dict[int, float]] = {}
    for r in rows:
        cell = worst.setdefault((r.noise, r.params, r.norm, r.closed_kind), {})
        value = round(100 * r.relative_difference, 2)
        if r.dim not in cell or abs(value) > abs(cell[r.dim]):
            cell[r.dim] = value
    head = ("| closed form (kind) | " + " | ".join(f"d = {d}" for d in dims) + " |\n"
            + "|---" * (len(dims) + 1) + "|\n")
    return head + "".join(
        f"| {noise}{f' ({params})' if params else ''} ℓ{norm} ({kind}) | "
        + " | ".join(f"{cell[d]:+.2f} %" if d in cell else "" for d in dims) + " |\n"
        for (noise, params, norm, kind), cell in worst.items())


def report(rows: Sequence[Row], p_values: Sequence[float] = P_VALUES, sigma: float = 0.5) -> str:
    """``ucan tightness``'s markdown (docs/tightness.md): the rows, PixelDP against Cohen, and
    the summary table that the README copies."""
    pixeldp = "".join(f"p_A={row['p_a']:g}: Cohen {row['cohen']:.4g}, PixelDP "
                      f"{row['pixeldp']:.4g} ({100 * row['ratio']:.0f} %)\n"
                      for row in pixeldp_rows(p_values, sigma))
    return (format_rows(rows) + "\nPixelDP vs Cohen (Gaussian ℓ2):\n\n" + pixeldp
            + "\nLargest (universal − closed) / closed over the p_A values (the README's table):"
            "\n\n" + format_summary(rows))


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
