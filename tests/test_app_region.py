"""Region page through Streamlit's AppTest, plus its pure figure builders.

Every number shown is compared with the engine (``ucan_core.anisotropic``) or with an
independent closed form (the Gaussian density's level sets).
"""

from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import as_array, chart_specs, download_labels, open_page, text

from app.region_figures import RegionSlice, mark_pixels, norms_figure, region_figure
from ucan_core.anisotropic import unit_sphere_2d
from ucan_core.noises import make_noise
from ucan_core.npg import build_noise

CENTRE, CORNER = 14 * 28 + 14, 0          # default pixels A and B on a 28×28 image


def numbers(at) -> dict[str, float]:
    """The page's table of numbers: s at A, s at B, R, min sᵢ·R, ALM."""
    table = next(m.value for m in at.markdown if m.value.startswith("| | value |"))
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {row[0].split(" (")[0]: float(row[1]) for row in cells}


def region_trace(spec: dict) -> dict:
    return next(t for t in spec["data"] if t["name"].startswith("certified region"))


def test_isotropic_defaults_match_engine_and_density():
    at = open_page("region")
    assert not at.error
    shown = numbers(at)
    radius = make_noise("gaussian", 0.5, 784).radius(0.9, 2).value
    for label in ("R", "min sᵢ·R", "ALM"):
        assert shown[label] == pytest.approx(radius, rel=1e-5)
    assert shown["s at A"] == shown["s at B"] == 1
    assert "| R (base noise, ℓ2) | 0.640776 | :green-badge[exact] |" in text(at)
    spec = chart_specs(at)["region_slice"]
    assert spec["layout"]["yaxis"]["scaleanchor"] == "x"
    trace = region_trace(spec)
    assert trace["fill"] == "toself" and "ellipse" in trace["name"]
    x, y = as_array(trace["x"]), as_array(trace["y"])
    np.testing.assert_allclose(np.hypot(x, y), radius, rtol=1e-9)      # a circle of radius R
    # the level sets: N(0, σ²) in the plane, relative to the peak (independent closed form)
    contour = next(t for t in spec["data"] if t["type"] == "contour")
    axis, z = as_array(contour["x"]), as_array(contour["z"])
    assert z.shape == (len(axis), len(axis)) == (101, 101)
    t, u = np.meshgrid(axis, axis)
    np.testing.assert_allclose(z, np.exp(-(t**2 + u**2) / (2 * 0.5**2)), rtol=1e-6, atol=1e-12)
    assert download_labels(at) == {"Curves (CSV)", "Numbers (JSON)"}
    assert set(chart_specs(at)) == {"region_pixels", "region_slice", "region_norms"}


def test_pattern_region_radii_equal_engine():
    at = open_page("region")
    at.selectbox(key="rg_npg").select("pattern-2").run()
    assert not at.exception and not at.error
    engine = build_noise("gaussian", 0.5, (1, 28, 28), npg="pattern", pattern_norm=2)
    region = engine.region(0.9, 2)
    scale = engine.scale.double().numpy()
    shown = numbers(at)
    assert shown["ALM"] == pytest.approx(region.alm, rel=1e-5)
    assert shown["min sᵢ·R"] == pytest.approx(region.lp_radius, rel=1e-5)
    assert region.lp_radius < region.alm                              # really anisotropic
    assert shown["s at A"] == pytest.approx(scale[CENTRE], rel=1e-3)
    assert shown["s at B"] == pytest.approx(scale[CORNER], rel=1e-3)
    assert "| 0.478963 | :blue-badge[sound] |" in text(at)
    spec = chart_specs(at)["region_slice"]
    ex, ey = region.slice_2d(CENTRE, CORNER)
    trace = region_trace(spec)
    np.testing.assert_allclose(as_array(trace["x"]), ex, rtol=1e-9)
    np.testing.assert_allclose(as_array(trace["y"]), ey, rtol=1e-9)
    balls = {t["name"].split(",")[0]: t for t in spec["data"]}
    alm_ball = balls["ALM ball"]
    assert alm_ball["line"]["dash"] == "dash"
    np.testing.assert_allclose(np.hypot(as_array(alm_ball["x"]), as_array(alm_ball["y"])),
                               region.alm, rtol=1e-9)
    lp_ball = balls["ℓ2 ball"]
    np.testing.assert_allclose(np.hypot(as_array(lp_ball["x"]), as_array(lp_ball["y"])),
                               region.lp_radius, rtol=1e-9)
    # anisotropic level sets: N(0, diag(s_i σ, s_j σ)²) in the plane
    contour = next(t for t in spec["data"] if t["type"] == "contour")
    axis = as_array(contour["x"])
    t, u = np.meshgrid(axis, axis)
    si, sj = 0.5 * scale[CENTRE], 0.5 * scale[CORNER]
    np.testing.assert_allclose(as_array(contour["z"]),
                               np.exp(-(t / si) ** 2 / 2 - (u / sj) ** 2 / 2), rtol=1e-4,
                               atol=1e-10)


def test_linf_box_and_three_norm_panels():
    at = open_page("region")
    at.selectbox(key="rg_npg").select("pattern-inf").run()
    at.radio(key="rg_norm_gaussian").set_value("inf").run()
    assert not at.exception and not at.error
    engine = build_noise("gaussian", 0.5, (1, 28, 28), npg="pattern", pattern_norm="inf")
    region = engine.region(0.9, "inf")
    x = as_array(region_trace(chart_specs(at)["region_slice"])["x"])
    assert x.max() == pytest.approx(region.scale[CENTRE] * region.radius, rel=1e-9)
    assert "box" in region_trace(chart_specs(at)["region_slice"])["name"]
    panels = chart_specs(at)["region_norms"]
    titles = [a["text"] for a in panels["layout"]["annotations"]]
    assert titles == ["ℓ1: rhombus", "ℓ2: ellipse", "ℓ∞: box"]
    fills = [t for t in panels["data"] if t.get("fill") == "toself"]
    for trace, norm in zip(fills, ("1", "2", "inf")):
        expected = engine.region(0.9, norm).slice_2d(CENTRE, CORNER)
        np.testing.assert_allclose(as_array(trace["x"]), expected[0], rtol=1e-9)


def test_moving_pixels_and_colour_channels():
    at = open_page("region")
    at.selectbox(key="rg_npg").select("pattern-2").run()
    at.number_input(key="rg_B_row_28").set_value(27).run()
    at.number_input(key="rg_B_col_28").set_value(20).run()
    scale = build_noise("gaussian", 0.5, (1, 28, 28), npg="pattern").scale.numpy()
    assert numbers(at)["s at B"] == pytest.approx(scale[27 * 28 + 20], rel=1e-3)
    at.number_input(key="rg_B_row_28").set_value(14).run()
    at.number_input(key="rg_B_col_28").set_value(14).run()
    assert not at.exception
    assert "Pick two different pixels" in text(at) and not chart_specs(at)
    at.selectbox(key="rg_dataset").select("cifar10").run()
    at.selectbox(key="rg_B_channel").select(2).run()
    assert not at.exception and not at.error
    assert "d = 3,072 (3×32×32)" in text(at)
    assert "(row 0, col 0, B)" in chart_specs(at)["region_slice"]["layout"]["yaxis"]["title"][
        "text"]


def test_noise_without_closed_form_draws_level_sets_only():
    at = open_page("region")
    at.selectbox(key="rg_density").select("cauchy").run()
    assert not at.exception and not at.error
    assert "no closed-form certified radius" in text(at)
    spec = chart_specs(at)["region_slice"]
    assert spec["data"][0]["type"] == "contour"
    assert not any(t["name"].startswith("certified region") for t in spec["data"])
    assert "region_norms" not in chart_specs(at) and not download_labels(at)


def test_engine_error_is_shown():
    at = open_page("region")
    at.selectbox(key="rg_density").select("pareto").run()
    at.number_input(key="rg_param_pareto_a").set_value(1.5).run()
    assert not at.exception
    assert len(at.error) == 1 and "pareto a must be > 2" in at.error[0].value


# ---------------------------------------------------------------------------------- figures


def _slice(norm: str = "2") -> RegionSlice:
    x, y = unit_sphere_2d(float("inf") if norm == "inf" else float(norm), 9)
    return RegionSlice(norm=norm, scale=(0.5, 2.0), shift=(0.1, 0.0), std=(0.25, 1.0),
                       radius=1.0, kind="sound", lp_radius=0.4, alm=1.0,
                       region=(0.5 * x, 2.0 * y), ball=(0.4 * x, 0.4 * y), alm_ball=(x, y),
                       axis=np.linspace(-3, 3, 5), density=np.eye(5))


def test_region_figure_names_kinds_and_centre():
    fig = region_figure(_slice(), "(row 1, col 2)", "(row 3, col 4)")
    names = [t.name for t in fig.data]
    assert names[0].startswith("noise density level sets")
    assert "ℓ2 ball, radius min sᵢ·R = 0.4 (sound)" in names
    assert "ALM ball, radius (∏sᵢ)^(1/d)·R = 1 (size measure only)" in names
    assert "noise centre μ" in names                        # μ ≠ 0 is marked
    assert fig.layout.yaxis.scaleanchor == "x"
    assert tuple(fig.layout.xaxis.range) == (-3.0, 3.0)
    assert "(row 1, col 2)" in fig.layout.xaxis.title.text


def test_slice_rows_summary_and_markers():
    view = _slice("inf")
    rows = view.rows()
    assert {r["curve"] for r in rows} == {"region", "lp_ball", "alm_ball"}
    assert len(rows) == 27
    assert view.summary()["lp_radius"] == 0.4 and view.summary()["norm"] == "inf"
    assert len(norms_figure([_slice("1"), _slice("2"), view]).data) == 9
    marked = mark_pixels(region_figure(view, "a", "b"), [(3, 4, "A")])
    assert marked.data[-1].x == (4,) and marked.data[-1].y == (3,)
