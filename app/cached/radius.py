"""Radius page: cached calls into the universal radius engine (``ucan_core.universal``).

Every cached function is keyed by plain arguments (density name, σ, d, norm, mode and the
numerical settings), so a curve is computed once per process. The page's default curves are
bundled, precomputed by the engine (assets/results/radius_curves, written by
:func:`write_bundled`; ``tests/app/test_app_radius.py`` recomputes them), so the page opens at
once. Nothing here does maths: the engine computes the universal curve, the closed form and
PixelDP's radius. Errors are :class:`ucan_core.errors.UcanError`, left to the page to display.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from ucan_core.noises.catalog import NOISES, make_noise
from ucan_core.norms import parse_norm
from ucan_core.universal.compare import Comparison, compare_with_closed, pixeldp_radius
from ucan_core.universal.laws import Profile
from ucan_core.universal.search import Mode, Settings, UniversalCurve, worst_direction_is_known
from ucan_core.zoo.paths import assets_dir

#: The p_A grid spans (½, 1): from P_LOW to P_HIGH in ``points`` steps.
P_LOW, P_HIGH = 0.51, 0.999
DEFAULT_POINTS = 25
DEFAULT_SCALES = 16


def p_grid(points: int) -> np.ndarray:
    """The p_A values at which every curve of the page is computed."""
    return np.linspace(P_LOW, P_HIGH, int(points))


@dataclass(frozen=True)
class DensityCurves:
    """One density's universal curve beside its closed form (``comparison.closed`` is None
    when the density has none), and whether the searched directions provably contain the
    worst one."""

    name: str
    title: str
    comparison: Comparison
    direction_known: bool


#: The arguments of one curve: density, σ, d, norm, mode, p_A values, scales.
Spec = tuple[str, float, int, str, Mode, int, int]
BUNDLED_DIR = assets_dir() / "results" / "radius_curves"
#: The bundled curves: the page's default (Gaussian, σ = 0.5, an MNIST image's d = 784, 25
#: p_A values, 16 scales) in ℓ2 in both modes, and in ℓ1 and ℓ∞.
BUNDLED: tuple[Spec, ...] = tuple(
    ("gaussian", 0.5, 784, norm, mode, DEFAULT_POINTS, DEFAULT_SCALES)
    for norm, mode in (("2", "approximate"), ("2", "conservative"), ("1", "approximate"),
                       ("inf", "approximate")))


def bundled_path(spec: Spec) -> Path:
    """Where the precomputed curve of ``spec`` is (or would be) bundled."""
    density, sigma, dim, norm, mode, points, scales = spec
    return BUNDLED_DIR / f"{density}-sigma{sigma:g}-d{dim}-l{norm}-{mode}-p{points}-s{scales}.json"


def is_ready(spec: Spec) -> bool:
    """True when ``spec``'s curve is bundled (no engine run needed)."""
    return bundled_path(spec).is_file()


def compute_curves(spec: Spec) -> DensityCurves:
    """``compare_with_closed`` for the density at σ (default parameters) in ℝ^dim: the engine
    run, uncached (a background job calls it for the slow conservative mode)."""
    density, sigma, dim, norm, mode, points, scales = spec
    noise = make_noise(density, sigma, dim)
    comparison = compare_with_closed(noise, p_grid(points), norm, mode=mode,
                                     settings=Settings(scales=scales))
    return DensityCurves(density, NOISES[density].title, comparison,
                         worst_direction_is_known(noise, parse_norm(norm)))


def _record(curves: DensityCurves) -> dict[str, Any]:
    cmp, curve = curves.comparison, curves.comparison.universal
    return {"name": curves.name, "title": curves.title, "direction_known": curves.direction_known,
            "closed": None if cmp.closed is None else cmp.closed.tolist(),
            "closed_kind": cmp.closed_kind,
            "universal": {"p_a": curve.p_a.tolist(), "radius": curve.radius.tolist(),
                          "norm": curve.norm, "mode": curve.mode, "kind": curve.kind,
                          "profiles": [[list(p.levels), list(p.counts)] for p in curve.profiles],
                          "worst": [int(w) for w in curve.worst], "dim": curve.dim,
                          "statement": curve.statement}}


def _from_record(record: dict[str, Any]) -> DensityCurves:
    u = record["universal"]
    curve = UniversalCurve(np.asarray(u["p_a"]), np.asarray(u["radius"]), u["norm"], u["mode"],
                           u["kind"], [Profile(tuple(levels), tuple(counts))
                                       for levels, counts in u["profiles"]],
                           u["worst"], u["dim"], u["statement"])
    closed = None if record["closed"] is None else np.asarray(record["closed"])
    return DensityCurves(record["name"], record["title"],
                         Comparison(curve, closed, record["closed_kind"]),
                         record["direction_known"])


def write_bundled(specs: tuple[Spec, ...] = BUNDLED) -> None:
    """Run the engine for ``specs`` and write their curves as JSON into :data:`BUNDLED_DIR`
    (``python -c "from app.cached.radius import write_bundled; write_bundled()"``)."""
    BUNDLED_DIR.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        bundled_path(spec).write_text(json.dumps(_record(compute_curves(spec))) + "\n")


def compute_all(specs: list[Spec], progress: Callable[[int, int], None]) -> list[DensityCurves]:
    """:func:`compute_curves` of each spec in turn, ``progress(curves done, curves)`` before
    each (a background job's progress and Cancel)."""
    out = []
    for done, spec in enumerate(specs):
        progress(done, len(specs))
        out.append(compute_curves(spec))
    progress(len(specs), len(specs))
    return out


def load_bundled(spec: Spec) -> DensityCurves:
    """The precomputed curve of ``spec`` (see :func:`is_ready`)."""
    return _from_record(json.loads(bundled_path(spec).read_text()))


@st.cache_data(show_spinner=False, max_entries=64)
def density_curves(density: str, sigma: float, dim: int, norm: str, mode: Mode, points: int,
                   scales: int) -> DensityCurves:
    """The density's curves at σ in ℝ^dim: bundled where precomputed, else the engine's."""
    spec: Spec = (density, sigma, dim, norm, mode, points, scales)
    return load_bundled(spec) if is_ready(spec) else compute_curves(spec)


@st.cache_data(show_spinner=False, max_entries=32)
def pixeldp(sigma: float, points: int) -> np.ndarray:
    """PixelDP's ℓ2 radius of Gaussian noise σ on the page's p_A grid."""
    return pixeldp_radius(p_grid(points), sigma)
