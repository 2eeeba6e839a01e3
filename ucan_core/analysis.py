"""Certified accuracy from certify logs, by the rule of Cohen et al. (2019).

* certified accuracy at radius r = (1/N)·#{rows : correct = 1 and radius ≥ r} over all N rows
  (abstentions count as wrong; ``>=``, exactly as ``ApproximateAccuracy`` in Cohen's
  ``analyze.py``); at r = 0 it is the clean accuracy of the smoothed classifier;
* abstention rate = fraction of rows with predict = −1;
* average certified radius (ACR) = mean of radius·correct;
* high-probability variant (Cohen's ``HighProbAccuracy(α, ρ)``): with probability ≥ 1 − ρ the
  certified accuracy of the smoothed classifier is at least
  acc − α − √(α(1−α)·ln(1/ρ)/N) − ln(1/ρ)/(3N).

The same table can be computed against the ALM (volume-equivalent radius of an anisotropic
certified region), from the ``alm`` column of ucan logs.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ucan_core.checks import check_open_unit
from ucan_core.errors import UcanError
from ucan_core.io.logs import Log

DEFAULT_RADII = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0)
FORMATS = ("md", "csv", "json")


def certified_accuracy(correct: np.ndarray, radius: np.ndarray,
                       radii: Sequence[float]) -> np.ndarray:
    """Fraction of rows with ``correct == 1`` and ``radius >= r``, for each r (NaN if empty)."""
    if len(correct) == 0:
        return np.full(len(radii), math.nan)
    hit = np.asarray(correct) == 1
    return np.array([np.mean(hit & (np.asarray(radius) >= r)) for r in radii])


def high_prob_correction(n: int, alpha: float, rho: float) -> float:
    """α + √(α(1−α)·ln(1/ρ)/n) + ln(1/ρ)/(3n), subtracted by Cohen's ``HighProbAccuracy``."""
    check_open_unit("high-prob alpha", alpha)
    check_open_unit("high-prob rho", rho)
    if n == 0:
        return math.nan
    log_term = math.log(1 / rho)
    return alpha + math.sqrt(alpha * (1 - alpha) * log_term / n) + log_term / (3 * n)


@dataclass
class Summary:
    """One line of the table: a log analysed against one radius column (``measure``)."""

    log: str
    measure: str
    rows: int
    abstain_rate: float
    clean_accuracy: float
    acr: float
    radii: tuple[float, ...]
    certified_accuracy: tuple[float, ...]
    high_prob: tuple[float, float] | None = None
    soundness: str = "unstated"


def _measure_values(log: Log, measure: str) -> np.ndarray:
    if log.kind != "certify" or log.radius is None:
        raise UcanError(f"{log.path} is a predict log (no radius column); analyze takes "
                        "certify logs")
    if measure == "radius":
        return log.radius
    values = log.extra.get(measure)
    if values is None or values.dtype.kind != "f":
        raise UcanError(f"{log.path} has no numeric {measure} column")
    return values


def has_distinct_alm(log: Log) -> bool:
    """Whether the log has an ``alm`` column that differs from ``radius`` somewhere."""
    alm = log.extra.get("alm")
    return (alm is not None and alm.dtype.kind == "f" and log.radius is not None
            and not np.array_equal(alm, log.radius, equal_nan=True))


def soundness_of(log: Log) -> str:
    """The log's soundness tag(s) (``sound``, ``input-dependent``…); Cohen's logs state none."""
    tags = log.extra.get("soundness")
    return "unstated" if tags is None else "/".join(sorted(set(map(str, tags)))) or "unstated"


def summarize(log: Log, radii: Sequence[float] = DEFAULT_RADII, measure: str = "radius",
              high_prob: tuple[float, float] | None = None, name: str | None = None) -> Summary:
    """The certified-accuracy summary of ``log`` against column ``measure`` (radius or alm);
    with ``high_prob=(α, ρ)`` the certified accuracies are Cohen's high-probability bounds.
    A log without rows is refused (its ACR and accuracies would be NaN)."""
    n = len(log)
    if not n:
        raise UcanError(f"{name or log.path} has a header but no rows: nothing to summarize")
    values = _measure_values(log, measure)
    accuracy = certified_accuracy(log.correct, values, radii)
    if high_prob is not None:
        accuracy = accuracy - high_prob_correction(n, *high_prob)

    def mean(x: np.ndarray) -> float:
        return float(np.mean(x))

    return Summary(log=name or str(log.path), measure=measure, rows=n,
                   abstain_rate=mean(log.predict == -1), clean_accuracy=mean(log.correct == 1),
                   acr=mean(values * (log.correct == 1)), radii=tuple(float(r) for r in radii),
                   certified_accuracy=tuple(float(a) for a in accuracy), high_prob=high_prob,
                   soundness=soundness_of(log))


def _radius_label(r: float) -> str:
    return f"r={r:g}"


def _records(summaries: Sequence[Summary]) -> list[dict[str, object]]:
    return [{"log": s.log, "measure": s.measure, "soundness": s.soundness, "rows": s.rows,
             "abstain_rate": s.abstain_rate,
             "clean_accuracy": s.clean_accuracy, "acr": s.acr,
             **{_radius_label(r): a for r, a in zip(s.radii, s.certified_accuracy)}}
            for s in summaries]


def format_table(summaries: Sequence[Summary], fmt: str = "md") -> str:
    """The summaries as a markdown table (4 decimals), CSV or JSON (full precision)."""
    if fmt not in FORMATS:
        raise UcanError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    records = _records(summaries)
    bound = next((s.high_prob for s in summaries if s.high_prob), None)
    if fmt == "json":
        clean = [{k: None if isinstance(v, float) and not math.isfinite(v) else v
                  for k, v in rec.items()} for rec in records]
        note = {"high_prob": {"alpha": bound[0], "rho": bound[1]}} if bound else {}
        return json.dumps({"rule": "mean(correct == 1 and radius >= r)", **note,
                           "rows": clean}, indent=2) + "\n"
    if not records:
        return ""
    keys = list(records[0])
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: repr(v) if isinstance(v, float) else v for k, v in rec.items()}
                         for rec in records)
        return out.getvalue()
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    for rec in records:
        lines.append("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v)
                                       for v in rec.values()) + " |")
    if bound:
        lines.append(f"\ncertified accuracies are high-probability lower bounds "
                     f"(alpha={bound[0]:g}, rho={bound[1]:g})")
    return "\n".join(lines) + "\n"


def write_plot(logs: Sequence[tuple[str, Log, str]], path: str | Path,
               high_prob: tuple[float, float] | None = None, points: int = 501) -> None:
    """A self-contained Plotly HTML file (plotly.js embedded, works offline) of certified
    accuracy vs radius, one line per (name, log, measure)."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise UcanError("--plot needs plotly (pip install plotly)") from None
    top = max((float(np.nanmax(_measure_values(log, m), initial=0.0)) for _, log, m in logs),
              default=0.0)
    grid = np.linspace(0.0, max(top, 1e-9) * 1.05, points)
    fig = go.Figure()
    for name, log, measure in logs:
        s = summarize(log, grid, measure, high_prob)
        label = name if measure == "radius" else f"{name} ({measure.upper()})"
        fig.add_trace(go.Scatter(x=grid, y=s.certified_accuracy, mode="lines", name=label,
                                 line={"dash": "solid" if measure == "radius" else "dash"}))
    kind = "high-probability " if high_prob else ""
    fig.update_layout(title=f"{kind}certified accuracy (correct and radius ≥ r)",
                      xaxis_title="radius r", yaxis_title="certified accuracy",
                      yaxis_range=[0, 1], template="plotly_white")
    try:
        fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    except OSError as error:
        raise UcanError(f"cannot write {path}: {error.strerror}") from None


def envelope(summaries: Sequence[Summary], name: str = "envelope") -> Summary:
    """The pointwise best certified accuracy of ``summaries`` at each radius — what an
    oracle picking the best log for every radius would report: a reference curve, not a
    classifier (ACR and abstention are undefined: NaN). All must share rows and radii."""
    if not summaries:
        raise UcanError("the envelope needs at least one log")
    first = summaries[0]
    if any(s.rows != first.rows or s.radii != first.radii for s in summaries):
        raise UcanError("the envelope needs logs with the same number of rows and radii")
    best = np.max([s.certified_accuracy for s in summaries], axis=0)
    return Summary(log=name, measure=first.measure, rows=first.rows, abstain_rate=math.nan,
                   clean_accuracy=max(s.clean_accuracy for s in summaries), acr=math.nan,
                   radii=first.radii, certified_accuracy=tuple(float(a) for a in best),
                   high_prob=first.high_prob,
                   soundness="/".join(sorted({s.soundness for s in summaries})))
