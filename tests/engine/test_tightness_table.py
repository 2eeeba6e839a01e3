"""docs/tightness.md and the README's tightness table cannot drift from the engine: every
closed form and kind is recomputed, a cheap subset of universal radii regenerated (warnings
as errors: no divide-by-zero from the quadrature's end nodes), and the README's table is
the summary of the docs' rows. The Exp-ℓ∞ closed form in ℓ∞ is exact: the diagonal attains it.

Regenerate both with ``ucan tightness --dims 784,3072 --all > docs/tightness.md`` (~3 min)
and copy its last table into the README."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
import torch
from scipy import integrate, stats

from ucan_core import make_noise
from ucan_core.universal.tightness import (
    BOUND_CASES,
    P_VALUES,
    TIGHT_CASES,
    format_rows,
    format_summary,
    parse_rows,
    report,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs/tightness.md").read_text()
ROWS = parse_rows(DOCS)
DIMS = (784, 3072)
#: Universal radii that regenerate in seconds (i.i.d. quadrature laws), compared digit for digit.
CHEAP = [("gennorm", {"shape": 3.0}, "1"), ("hypsecant", {}, "1"), ("pareto", {"a": 3.0}, "1")]


def _case(row) -> tuple[str, str, str]:
    return row.noise, row.params, row.norm


def _label(params: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in params.items())


def test_the_docs_hold_every_case_dimension_and_p_a_in_order() -> None:
    expected = [(name, _label(params), norm, dim, p)
                for name, params, norm in TIGHT_CASES + BOUND_CASES for dim in DIMS
                for p in P_VALUES]
    assert [(*_case(r), r.dim, r.p_a) for r in ROWS] == expected


def test_every_closed_form_and_kind_in_the_docs_is_the_engines() -> None:
    params = {(name, _label(p)): p for name, p, _ in TIGHT_CASES + BOUND_CASES}
    for row in ROWS:
        radius = make_noise(row.noise, 0.5, row.dim, **params[row.noise, row.params]).radius(
            row.p_a, row.norm)
        assert (f"{radius.value:.5g}", radius.kind) == (f"{row.closed:.5g}", row.closed_kind), row


def test_exact_closed_forms_are_the_ones_checked_against_the_universal_radius() -> None:
    """An exact (tight) closed form must agree with the universal radius within 1 % (each a
    test in test_universal_radius.py); a differential-method bound may not."""
    tight = {(name, _label(params), norm) for name, params, norm in TIGHT_CASES}
    assert {_case(r) for r in ROWS if r.closed_kind == "exact"} <= tight
    assert all(abs(r.relative_difference) <= 0.01 for r in ROWS if r.closed_kind == "exact")


def test_a_cheap_subset_regenerates_digit_for_digit_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = validate(CHEAP, [784])
    lines = format_rows(rows).splitlines()[2:]
    assert len(lines) == len(CHEAP) * len(P_VALUES)
    missing = [line for line in lines if line not in DOCS.splitlines()]
    assert not missing, missing


def test_the_readme_table_is_the_summary_of_the_docs() -> None:
    summary = format_summary(ROWS)
    assert report(ROWS) == DOCS           # the docs are one `ucan tightness --all` output
    assert summary in (ROOT / "README.md").read_text()


def test_the_exp_linf_closed_form_in_linf_is_attained_along_the_diagonal() -> None:
    """At r = λ ln(1/(2(1 − p_A))) the set B where the likelihood ratio of the shift δ = r·1 is
    at its maximum e^{r/λ} (positive face, min ε_i ≥ 2r − ‖ε‖∞) has mass 1 − p_A, and mass ½
    under the shift: the classifier "B or not" flips at ‖δ‖∞ = r, so no larger radius holds."""
    dim, p_a = 784, 0.9
    noise = make_noise("expinf", 0.5, dim)
    r = noise.radius(p_a, "inf").value
    lam = r / math.log(1 / (2 * (1 - p_a)))
    # the mass identity E[(1 − r/T)₊^{d−1}] = e^{−r/λ} for T ~ Gamma(d, λ), by quadrature
    gamma = stats.gamma(dim, scale=lam)
    mass, _ = integrate.quad(lambda t: (1 - r / t) ** (dim - 1) * gamma.pdf(t), r,
                             gamma.isf(1e-15), points=[dim * lam], limit=200)
    assert mass == pytest.approx(math.exp(-r / lam), rel=1e-6)
    # and on the engine's own draws: P(B) = 1 − p_A, P(B − δ) = ½
    eps = noise.sample(40_000, torch.Generator().manual_seed(0)).double()

    def in_b(e: torch.Tensor) -> torch.Tensor:
        top = e.abs().amax(1)
        return (e.amax(1) == top) & (e.amin(1) >= 2 * r - top)

    assert in_b(eps).double().mean().item() == pytest.approx(1 - p_a, abs=0.006)
    assert in_b(eps + r).double().mean().item() == pytest.approx(0.5, abs=0.012)
