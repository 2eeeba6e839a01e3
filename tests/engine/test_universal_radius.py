"""The universal (UniCR) radius engine: tightness against every closed form, monotonicity,
scaling, the two modes, general p_B, direction search and bad inputs."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from ucan_core.errors import UcanError
from ucan_core.noises.catalog import make_noise
from ucan_core.universal.compare import compare_with_closed
from ucan_core.universal.laws import Profile
from ucan_core.universal.search import (
    Settings,
    check_general_directions,
    universal_radius,
    universal_radius_curve,
)
from ucan_core.universal.tightness import (
    BOUND_CASES,
    P_VALUES,
    TIGHT_CASES,
    pixeldp_rows,
    validate,
)

P = np.asarray(P_VALUES)
FAST = Settings(scales=16, conservative_samples=4000)


@pytest.mark.parametrize("dim", [784, 3072])
@pytest.mark.parametrize(("name", "params", "norm"), TIGHT_CASES,
                         ids=[f"{n}-{p}-l{q}" for n, p, q in TIGHT_CASES])
def test_universal_radius_matches_tight_closed_form_within_one_percent(
        name: str, params: dict[str, float], norm: str, dim: int) -> None:
    rows = validate([(name, params, norm)], [dim])
    worst = max(abs(r.relative_difference) for r in rows)
    assert worst <= 0.01, [(r.p_a, r.closed, r.universal) for r in rows]


@pytest.mark.parametrize(("name", "params", "norm"), BOUND_CASES,
                         ids=[f"{n}-l{q}" for n, _, q in BOUND_CASES])
def test_lower_bound_closed_forms_never_exceed_the_universal_radius(
        name: str, params: dict[str, float], norm: str) -> None:
    rows = validate([(name, params, norm)], [784])
    assert all(r.relative_difference >= -0.01 for r in rows)


def test_pareto_closed_form_is_loose_as_unicr_found() -> None:
    rows = validate([("pareto", {"a": 3.0}, "1")], [784], p_values=[0.9, 0.99])
    assert all(r.universal > 1.2 * r.closed for r in rows)


def test_pixeldp_radius_is_sound_but_far_below_cohen() -> None:
    for row in pixeldp_rows():
        assert 0.0 < row["pixeldp"] < 0.5 * row["cohen"]


@pytest.mark.parametrize(("name", "norm"), [("cauchy", "1"), ("cauchy", "2"), ("cauchy", "inf"),
                                            ("hypsecant", "2"), ("hypsecant", "inf"),
                                            ("laplace_gaussian", "2"), ("expmix", "1")])
def test_densities_without_closed_form_get_finite_increasing_radii(name: str, norm: str) -> None:
    cmp = compare_with_closed(make_noise(name, 0.5, 784), P, norm, settings=FAST)
    radius = cmp.universal.radius
    assert np.all(np.isfinite(radius)) and np.all(radius > 0)
    assert np.all(np.diff(radius) > 0)
    assert cmp.universal.kind == "approximate" and "approximate" in cmp.universal.statement
    if cmp.closed is not None:
        assert cmp.closed_kind == "sound" and np.all(radius >= cmp.closed * 0.99)


@pytest.mark.parametrize(("name", "norm"), [("cauchy", "1"), ("laplace", "2"), ("gaussian", "2")])
def test_conservative_mode_is_below_and_close_to_approximate(name: str, norm: str) -> None:
    noise = make_noise(name, 0.5, 256)
    p = np.array([0.7, 0.9, 0.99])
    approx = universal_radius_curve(noise, p, norm, settings=FAST)
    cons = universal_radius_curve(noise, p, norm, "conservative", FAST)
    assert np.all(cons.radius <= approx.radius)
    assert np.all(cons.radius >= 0.25 * approx.radius)
    assert "DKW" in cons.statement and "0.001" in cons.statement


def test_conservative_kind_is_sound_only_where_the_worst_direction_is_known() -> None:
    p = np.array([0.8])
    gauss = universal_radius_curve(make_noise("gaussian", 0.5, 64), p, "inf", "conservative", FAST)
    laplace_l1 = universal_radius_curve(make_noise("laplace", 0.5, 64), p, "1", "conservative", FAST)
    laplace_l2 = universal_radius_curve(make_noise("laplace", 0.5, 64), p, "2", "conservative", FAST)
    assert (gauss.kind, laplace_l1.kind, laplace_l2.kind) == ("sound", "sound", "approximate")
    exact = 0.5 * stats.norm.ppf(0.8) / 8.0
    assert gauss.radius[0] <= exact


def test_radius_scales_linearly_with_sigma() -> None:
    for name, norm in [("laplace", "2"), ("cauchy", "1")]:
        small = universal_radius_curve(make_noise(name, 0.25, 784), P[:4], norm, settings=FAST)
        large = universal_radius_curve(make_noise(name, 0.5, 784), P[:4], norm, settings=FAST)
        np.testing.assert_allclose(large.radius, 2 * small.radius, rtol=5e-3)


def test_general_p_b_matches_the_gaussian_formula() -> None:
    noise = make_noise("gaussian", 0.5, 784)
    p_a, p_b = np.array([0.6, 0.7, 0.8]), np.array([0.1, 0.2, 0.05])
    curve = universal_radius_curve(noise, p_a, 2, p_b=p_b)
    expected = 0.5 * 0.5 * (stats.norm.ppf(p_a) - stats.norm.ppf(p_b))
    np.testing.assert_allclose(curve.radius, expected, rtol=0.01)
    binary = universal_radius_curve(noise, p_a, 2)
    assert np.all(curve.radius > binary.radius)


def test_worst_directions_are_the_known_ones() -> None:
    linf = universal_radius_curve(make_noise("gaussian", 0.5, 784), [0.9], "inf")
    l1 = universal_radius_curve(make_noise("laplace", 0.5, 784), [0.9], "1")
    assert linf.worst_label(0) == "diagonal" and l1.worst_label(0) == "axis"
    for curve, q in ((linf, math.inf), (l1, 1.0)):
        assert np.linalg.norm(curve.direction(0), ord=q) == pytest.approx(1.0)


def test_general_direction_search_finds_nothing_below_the_sparse_search() -> None:
    noise = make_noise("laplace", 0.5, 64)
    sparse = universal_radius(noise, 0.9, 2, settings=FAST)
    best, _ = check_general_directions(noise, 0.9, 2, trials=12, settings=FAST)
    assert best >= sparse.radius[0] * 0.99
    assert best <= sparse.radius[0]


def test_a_two_level_profile_is_between_its_sparse_neighbours() -> None:
    noise = make_noise("gaussian", 0.5, 100)
    mixed = universal_radius_curve(noise, [0.9], 2, profiles=[Profile((1.0, 0.5), (10, 40))])
    assert mixed.radius[0] == pytest.approx(0.5 * stats.norm.ppf(0.9), rel=0.01)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: universal_radius(make_noise("gaussian", 0.5, 10), 0.5, 2), "p_A"),
    (lambda: universal_radius(make_noise("gaussian", 0.5, 10), 1.2, 2), "p_A"),
    (lambda: universal_radius(make_noise("gaussian", 0.5, 10), 1.0, 2), "largest scale"),
    (lambda: universal_radius(make_noise("gaussian", 0.5, 10), float("nan"), 2), "p_A"),
    (lambda: universal_radius(make_noise("gaussian", 0.5, 10), 0.9, 0), "norm"),
    (lambda: universal_radius(make_noise("gaussian", 0.5, 10), 0.9, -1.5), "norm"),
    (lambda: universal_radius(make_noise("gaussian", 0.5, 10), 0.9, 2, "exact"), "mode"),
    (lambda: universal_radius(make_noise("gaussian", 0.5, 10), 0.9, 2, p_b=0.2), "p_B"),
    (lambda: universal_radius(make_noise("gaussian", 0.5, 10), 0.9, 2,
                              settings=Settings(alpha_np=1.0)), "alpha_np"),
    (lambda: Settings(conservative_samples=0), "conservative_samples"),
    (lambda: Settings(scales=2), "scales"),
    (lambda: make_noise("gaussian", 0.5, 0), "dim"),
    (lambda: make_noise("student", 0.5, 10), "unknown noise"),
])
def test_bad_inputs_raise_clear_errors(call, message: str) -> None:
    with pytest.raises(UcanError, match=message):
        call()


def _ucan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ucan_core.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_radius_methods() -> None:
    base = ["radius", "--noise", "laplace", "--sigma", "0.5", "--dim", "784", "--pa", "0.9", "--json"]
    closed = json.loads(_ucan(*base, "--norm", "1").stdout)
    universal = json.loads(_ucan(*base, "--norm", "1", "--method", "universal").stdout)
    assert closed["method"] == "closed" and closed["kind"] == "exact"
    assert universal["method"] == "universal" and universal["kind"] == "approximate"
    assert universal["radius"] == pytest.approx(closed["radius"], rel=0.01)
    cauchy = json.loads(_ucan("radius", "--noise", "cauchy", "--sigma", "0.5", "--dim", "784",
                              "--pa", "0.9", "--norm", "1", "--json").stdout)
    assert cauchy["method"] == "universal" and cauchy["radius"] > 0
    bad = _ucan("radius", "--noise", "laplace", "--sigma", "0.5", "--dim", "784", "--pa", "0.4",
                "--method", "universal")
    assert bad.returncode == 2 and "--pa must lie in (0.5, 1]" in bad.stderr
    bad = _ucan(*base, "--norm", "1", "--method", "closed", "--pb", "0.05")
    assert bad.returncode == 2 and "--pb needs --method universal" in bad.stderr
    bad = _ucan(*base, "--norm", "1", "--method", "universal", "--mode", "conservative",
                "--samples", "0")
    assert bad.returncode == 2 and "conservative_samples must be an integer >= 1" in bad.stderr
    bad = _ucan("tightness", "--dims", "abc")
    assert bad.returncode == 2 and "--dims needs comma-separated numbers" in bad.stderr


def test_certifying_a_density_without_closed_form_is_labelled_approximate() -> None:
    import torch

    from ucan_core.certify.smoothed import SmoothedClassifier
    from ucan_core.universal.lookup import interpolated_radius

    model = torch.nn.Linear(16, 2)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([1.0, 0.0]))          # always class 0: p_A = 1
    noise = make_noise("cauchy", 0.5, 16)
    cert = SmoothedClassifier(model, noise, num_classes=2).certify(
        torch.zeros(16), n0=10, n=200, alpha=0.001, seed=0)
    assert (cert.prediction, cert.kind, cert.soundness, cert.radii) == (0, "approximate",
                                                                          "approximate", {})
    direct = universal_radius_curve(noise, [cert.p_a_lower], "1").radius[0]
    assert cert.radius == pytest.approx(direct, rel=0.01)
    assert cert.radius == interpolated_radius(noise, cert.p_a_lower, "1") > 0


def test_mixture_quantile_nodes_are_computed_once_per_noise() -> None:
    """The quadrature's marginal quantiles (a bisection for mixtures) are cached per (noise,
    σ, parameters, nodes): equal to the marginal's own ppf, and reused by a second curve."""
    from ucan_core.universal import laws as universal

    noise = make_noise("laplace_gaussian", 0.37, 784)
    universal._marginal_quantiles.cache_clear()
    first = universal_radius_curve(noise, [0.7, 0.9], "2", settings=FAST)
    info = universal._marginal_quantiles.cache_info()
    assert info.misses == 1 and info.hits > 0
    key = ("laplace_gaussian", 0.37, tuple(sorted(noise.params.items())), FAST.nodes)
    nodes = universal._quantile_nodes(FAST.nodes)[0]
    np.testing.assert_array_equal(universal._marginal_quantiles(*key), noise.marginal().ppf(nodes))
    again = universal_radius_curve(make_noise("laplace_gaussian", 0.37, 3072), [0.7, 0.9], "2",
                                   settings=FAST)
    assert universal._marginal_quantiles.cache_info().misses == 1   # other d: same marginal
    assert not np.allclose(again.radius, first.radius)   # and d still matters for the radius
