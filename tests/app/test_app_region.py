"""Region page through Streamlit's AppTest, plus its pure figure builders.

Every number shown is compared with the engine (``ucan_core.anisotropic``) or with an
independent closed form (the Gaussian density's level sets).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from apptest_helpers import (
    as_array,
    chart_specs,
    download_labels,
    metrics,
    open_page,
    open_with_params,
    text,
    wait_for_job,
)
from streamlit.testing.v1 import AppTest

from app import jobs
from app.cached import images as cached_images
from app.figures.common import fmt, fmt_p, full
from app.figures.region import (
    GRID_NAME,
    RegionSlice,
    check_figure,
    image_figure,
    mark_pixels,
    norms_figure,
    picked_pixel,
    pixel_grid,
    region_figure,
)
from app.figures.scale import budget_figure
from ucan_core.audit.slice_check import SliceCheck
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.noises.catalog import make_noise
from ucan_core.noises.region import unit_sphere_2d
from ucan_core.npg.source import build_noise
from ucan_core.zoo.bundled import load_model

CENTRE, CORNER = 14 * 28 + 14, 0          # default pixels A and B on a 28×28 image


def numbers(at) -> dict[str, float]:
    """The page's table of numbers: s at A, s at B, R, min sᵢ·R, ALM."""
    table = next(m.value for m in at.markdown if m.value.startswith("| | value |"))
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {row[0].split(" (")[0]: float(row[1]) for row in cells}


def rounded(value: float) -> float:
    """``value`` as the page's table shows it: three significant digits."""
    return float(fmt(float(value), 3))


def region_trace(spec: dict) -> dict:
    return next(t for t in spec["data"] if t["name"].startswith("certified region"))


def test_isotropic_defaults_match_engine_and_density():
    at = open_page("region")
    assert not at.error
    shown = numbers(at)
    radius = make_noise("gaussian", 0.5, 784).radius(0.9, 2).value
    for label in ("R", "min sᵢ·R", "ALM"):
        assert shown[label] == rounded(radius)
    assert shown["s at A"] == shown["s at B"] == 1
    assert "| R (base noise, ℓ2) | 0.641 | :green-badge[exact] |" in text(at)
    spec = chart_specs(at)["region_slice"]
    assert spec["layout"]["yaxis"]["scaleanchor"] == "x"
    trace = region_trace(spec)
    # isotropic: the region is the ℓ2 ball and the ALM ball, drawn once and said so
    assert trace["fill"] == "toself"
    assert trace["name"] == ("certified region = ℓ2 ball = ALM ball, radius 0.641 (exact): one "
                             "curve, they coincide")
    assert not [t for t in spec["data"] if t["name"].startswith(("ℓ2 ball", "ALM ball"))]
    assert "the certified region **is** the ℓ2 ball" in text(at)
    anisotropic = next(e for e in at.get("page_link") if e.proto.page == "region")
    assert "rg_npg=pattern" in anisotropic.proto.query_string
    x, y = as_array(trace["x"]), as_array(trace["y"])
    np.testing.assert_allclose(np.hypot(x, y), radius, rtol=1e-9)      # a circle of radius R
    # the level sets: N(0, σ²) in the plane, relative to the peak (independent closed form)
    contour = next(t for t in spec["data"] if t["type"] == "contour")
    axis, z = as_array(contour["x"]), as_array(contour["z"])
    assert z.shape == (len(axis), len(axis)) == (101, 101)
    t, u = np.meshgrid(axis, axis)
    np.testing.assert_allclose(z, np.exp(-(t**2 + u**2) / (2 * 0.5**2)), rtol=1e-6, atol=1e-12)
    assert download_labels(at) == {"Curves (CSV)", "Numbers (JSON)"}
    assert set(chart_specs(at)) == {"region_pixels", "region_slice", "region_norms",
                                    "region_scale_budgets"}
    assert f"R = {fmt(radius, 3)} means" in text(at) and "grey levels of 255" in text(at)


def test_pattern_region_radii_equal_engine():
    at = open_page("region")
    at.selectbox(key="rg_npg").select("pattern-2").run()
    assert not at.exception and not at.error
    engine = build_noise("gaussian", 0.5, (1, 28, 28), npg="pattern", pattern_norm=2)
    region = engine.region(0.9, 2)
    scale = engine.scale.double().numpy()
    shown = numbers(at)
    assert shown["ALM"] == rounded(region.alm)
    assert shown["min sᵢ·R"] == rounded(region.lp_radius)
    assert region.lp_radius < region.alm                              # really anisotropic
    assert shown["s at A"] == pytest.approx(rounded(scale[CENTRE]), rel=1e-6)
    assert shown["s at B"] == pytest.approx(rounded(scale[CORNER]), rel=1e-6)
    assert "| 0.479 | :blue-badge[sound] |" in text(at)
    assert "they coincide" not in region_trace(chart_specs(at)["region_slice"])["name"]
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
    assert numbers(at)["s at B"] == pytest.approx(rounded(scale[27 * 28 + 20]), rel=1e-6)
    at.number_input(key="rg_B_row_28").set_value(14).run()
    at.number_input(key="rg_B_col_28").set_value(14).run()
    assert not at.exception
    assert "Pick two different pixels" in text(at)
    assert set(chart_specs(at)) == {"region_pixels"}           # still there, to click on
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


# ------------------------------------------------------------------------- picking by click


def click(at: AppTest, points: list[dict]) -> AppTest:
    """What a click on the picker sends: its selection state (AppTest has no Plotly widget, so
    the state is added to the widget states of the next run by hand)."""
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("-region_pixels"))
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = chart.proto.id
    state.string_value = json.dumps({"selection": {
        "points": points, "point_indices": [p.get("point_index", 0) for p in points],
        "box": [], "lasso": []}})
    at._tree._runner._run(states)
    assert not at.exception, at.exception
    return at


def grid_point(at: AppTest, row: int, col: int) -> dict:
    """The selected point of a click on pixel (row, col), as plotly.js reports it."""
    spec = chart_specs(at)["region_pixels"]
    number, trace = next((k, t) for k, t in enumerate(spec["data"]) if t.get("name") == GRID_NAME)
    index = next(k for k, d in enumerate(trace["customdata"]) if d[:2] == [row, col])
    return {"curve_number": number, "point_number": index, "point_index": index, "x": col,
            "y": row, "customdata": trace["customdata"][index]}


def marker(spec: dict, label: str) -> tuple[float, float]:
    trace = next(t for t in spec["data"] if t.get("text") == [label])
    return trace["x"][0], trace["y"][0]


def test_click_sets_pixel_a_or_b_and_the_url():
    at = open_page("region")
    at.selectbox(key="rg_npg").select("pattern-2").run()
    spec = chart_specs(at)["region_pixels"]
    grid = next(t for t in spec["data"] if t.get("name") == GRID_NAME)
    assert len(as_array(grid["x"])) == 784 and spec["data"][0]["type"] == "image"
    at.radio(key="rg_click").set_value("B").run()
    click(at, [grid_point(at, 3, 25)])
    assert (at.number_input(key="rg_B_row_28").value,
            at.number_input(key="rg_B_col_28").value) == (3, 25)
    assert (at.number_input(key="rg_A_row_28").value,
            at.number_input(key="rg_A_col_28").value) == (14, 14)
    assert at.query_params["rg_B_row_28"] == "3" and at.query_params["rg_B_col_28"] == "25"
    scale = build_noise("gaussian", 0.5, (1, 28, 28), npg="pattern").scale.numpy()
    assert numbers(at)["s at B"] == pytest.approx(rounded(scale[3 * 28 + 25]), rel=1e-6)
    assert marker(chart_specs(at)["region_pixels"], "B") == (25, 3)
    assert "(row 3, col 25)" in chart_specs(at)["region_slice"]["layout"]["yaxis"]["title"][
        "text"]
    at.radio(key="rg_click").set_value("A").run()
    click(at, [grid_point(at, 20, 7)])
    assert (at.number_input(key="rg_A_row_28").value,
            at.number_input(key="rg_A_col_28").value) == (20, 7)
    assert numbers(at)["s at A"] == pytest.approx(rounded(scale[20 * 28 + 7]), rel=1e-6)
    assert marker(chart_specs(at)["region_pixels"], "A") == (7, 20)
    # the σ map works as the picture too
    at.radio(key="rg_picker").set_value("sigma").run()
    spec = chart_specs(at)["region_pixels"]
    assert spec["data"][0]["type"] == "heatmap" and spec["data"][0]["hoverinfo"] == "skip"
    click(at, [grid_point(at, 0, 27)])
    assert (at.number_input(key="rg_A_row_28").value,
            at.number_input(key="rg_A_col_28").value) == (0, 27)


def test_bad_clicks_are_refused_with_a_message():
    at = open_page("region")
    click(at, [{"curve_number": 0, "point_index": 0, "x": 3, "y": 40,
                "customdata": [40, 3, 0.0]}])
    assert "Click not used: pixel (row 40, col 3) lies outside the 28×28 image" in text(at)
    assert at.number_input(key="rg_A_row_28").value == 14
    at.run()
    assert "Click not used" not in text(at)                  # said once, for that click
    click(at, [{"curve_number": 2, "point_index": 0, "x": 14, "y": 14}])
    assert "that click selected no pixel" in text(at)
    assert (at.number_input(key="rg_A_row_28").value,
            at.number_input(key="rg_A_col_28").value) == (14, 14)


def test_pixels_round_trip_through_the_url():
    at = open_with_params("region", {"rg_A_row_28": "2", "rg_A_col_28": "9",
                                     "rg_B_row_28": "99", "rg_B_col_28": "4"})
    assert (at.number_input(key="rg_A_row_28").value,
            at.number_input(key="rg_A_col_28").value) == (2, 9)
    assert marker(chart_specs(at)["region_pixels"], "A") == (9, 2)
    assert "The link's rg_B_row_28=99 is not a pixel of this 28×28 image (0–27)" in text(at)
    assert (at.number_input(key="rg_B_row_28").value,
            at.number_input(key="rg_B_col_28").value) == (0, 4)
    assert "rg_B_row_28" not in at.query_params and at.query_params["rg_A_col_28"] == "9"


# ------------------------------------------------------------------------- empirical check


def wait_check(at: AppTest, timeout: float = 120.0) -> AppTest:
    return wait_for_job(at, "region_check_job", timeout)


def test_empirical_check_matches_engine_and_counts_add_up():
    at = open_page("region")
    assert at.selectbox(key="rg_check_model_28").value == "mnist-gaussian-0.50"   # σ = 0.5
    at.select_slider(key="rg_check_points").set_value(24).run()
    at.button(key="rg_check_run").click().run()
    wait_check(at)
    job = at.session_state["region_check_job"]
    assert job.error is None and job.done == job.total == 100 + 1000 + 24 * 100
    # CERTIFY as the engine gives it, same model, noise, input and seed
    model, _ = load_model("mnist-gaussian-0.50", "cpu")
    x = torch.from_numpy(cached_images.bundled_image("mnist-0000").pixels)
    cert = SmoothedClassifier(model, make_noise("gaussian", 0.5, 784), 10).certify(
        x, 100, 1000, 0.001, 1000, 0)
    radius = make_noise("gaussian", 0.5, 784).radius(cert.p_a_lower, 2).value
    shown = metrics(at)
    assert shown["Certified class"] == str(cert.prediction) == "7"
    assert shown["p̲_A"] == fmt_p(cert.p_a_lower) and shown["R (ℓ2)"] == fmt(radius, 3)
    help_of = {m.label: m.help for m in at.metric}
    assert full(cert.p_a_lower) in help_of["p̲_A"] and full(radius) in help_of["R (ℓ2)"]
    assert next(m for m in at.metric if m.label == "R (ℓ2)").delta == "exact"   # Gaussian ℓ2
    held, changed, abstained = (int(shown[k].split(" /")[0])
                                for k in ("Held", "Changed", "Abstained"))
    assert held + changed + abstained == 24 and shown["Held"].endswith("/ 24")
    spec = chart_specs(at)["region_check"]
    points = [t for t in spec["data"] if t["name"].startswith("PREDICT")]
    assert sum(len(as_array(t["x"])) for t in points) == 24
    for trace in points:                                       # "…: count" = points drawn
        xs, ys = as_array(trace["x"]), as_array(trace["y"])
        assert int(trace["name"].rsplit(": ", 1)[1]) == len(xs)
        assert (np.hypot(xs, ys) <= radius * (1 + 1e-9)).all()      # s = 1: inside ‖δ‖₂ ≤ R
        assert (xs >= 0).all() and (ys >= 0).all()            # both pixels are 0: only up
    held_trace = next(t for t in points if "(held)" in t["name"])
    assert len(as_array(held_trace["x"])) == held
    assert "held" in spec["layout"]["title"]["text"] and "PREDICT at 24 points" in spec[
        "layout"]["title"]["text"]
    words = text(at)
    assert "not a proof" in words and "An abstention is not a violation" in words
    assert "n = 100" in words and "α = 0.001" in words
    if not changed:
        assert f"No point changed class: PREDICT returned 7 at {held} of 24" in at.success[0].value
    # the same settings again: the cached result, no new job
    at.button(key="rg_check_run").click().run()
    assert at.session_state["region_check_job"] is job and "region_check" in chart_specs(at)
    # another pixel: the result is for other settings
    at.number_input(key="rg_B_col_28").set_value(5).run()
    assert "region_check" not in chart_specs(at)
    assert "The last check was for other settings (pixel B changed)" in text(at)


def test_empirical_check_shows_progress_and_cancels(monkeypatch):
    monkeypatch.setattr(jobs, "CHECK_N", 5_000_000)            # a long CERTIFY
    at = open_page("region")
    at.button(key="rg_check_run").click().run()
    job = at.session_state["region_check_job"]
    deadline = time.monotonic() + 60
    while job.done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    (bar,) = at.get("progress")
    assert bar.proto.text.startswith("Checking: ") and "5,001,700 samples" in bar.proto.text
    at.button(key="rg_check_cancel").click().run()
    wait_check(at)
    assert job.cancelled and job.result is None and 0 < job.done < job.total
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("Check cancelled after ") and warning.endswith(
        "no result for this run.")
    assert "region_check" not in chart_specs(at) and not at.get("progress")


def test_empirical_check_needs_a_model_for_the_image():
    at = open_page("region")
    at.selectbox(key="rg_dataset").select("photo").run()
    assert not at.exception and not at.error
    assert "No bundled model takes" in text(at) and "MNIST (1×28×28)" in text(at)
    assert all(b.key != "rg_check_run" for b in at.button)


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


def test_teaching_mode_draws_no_alm_and_says_it_in_plain_words():
    at = open_with_params("region", {"teaching": "true", "rg_npg": "pattern ℓ2"})
    assert not at.exception and not at.error
    page = "\n".join(m.value for m in [*at.markdown, *at.caption] if "UCAN Explorer" not in
                     m.value and "Every radius is labelled" not in m.value)   # not the sidebar
    assert "ALM" not in page and "min sᵢ·R" not in page and "green shape" in page
    assert "| radius of the largest ℓ2 ball inside | 0.479 |" in page
    for key in ("region_slice", "region_norms"):
        assert not [t for t in chart_specs(at)[key]["data"] if "ALM" in t.get("name", "")]


def test_coinciding_region_ball_and_alm_ball_are_one_curve():
    x, y = unit_sphere_2d(2.0, 9)
    view = RegionSlice(norm="2", scale=(1.0, 1.0), shift=(0.0, 0.0), std=(0.5, 0.5),
                       radius=0.8, radius_kind="exact", kind="exact", lp_radius=0.8, alm=0.8,
                       region=(0.8 * x, 0.8 * y), ball=(0.8 * x, 0.8 * y),
                       alm_ball=(0.8 * x, 0.8 * y))
    assert view.coincide and not _slice().coincide
    names = [t.name for t in region_figure(view, "A", "B").data]
    assert names == ["certified region = ℓ2 ball = ALM ball, radius 0.8 (exact): one curve, they "
                     "coincide", "x (δ = 0)"]
    # without the ALM (teaching mode): the anisotropic figure has no ALM ball either
    assert "= ALM ball" not in region_figure(view, "A", "B", alm=False).data[0].name
    assert not [t for t in region_figure(_slice(), "A", "B", alm=False).data
                if t.name.startswith("ALM ball")]


def test_budget_figure_has_one_labelled_row_per_budget():
    fig = budget_figure(0.75, "2")
    (bars,) = fig.data
    assert list(bars.y) == ["certified R", "ℓ2 0.5: CIFAR-10 benchmarks",
                            "ℓ2 1.0: MNIST benchmarks", "ℓ2 2.0: MNIST, large"]
    assert list(bars.x) == [0.75, 0.5, 1.0, 2.0]
    assert list(bars.text) == ["R = 0.75", "covered by R", "not covered", "not covered"]
    assert not fig.layout.annotations                     # no labels to overlap at the top
    assert list(budget_figure(0.01, "inf").data[0].text[1:]) == ["not covered"] * 2


def test_slice_rows_summary_and_markers():
    view = _slice("inf")
    rows = view.rows()
    assert {r["curve"] for r in rows} == {"region", "lp_ball", "alm_ball"}
    assert len(rows) == 27
    assert view.summary()["lp_radius"] == 0.4 and view.summary()["norm"] == "inf"
    assert len(norms_figure([_slice("1"), _slice("2"), view]).data) == 9
    marked = mark_pixels(region_figure(view, "a", "b"), [(3, 4, "A")])
    assert marked.data[-1].x == (4,) and marked.data[-1].y == (3,)


def test_pixel_grid_covers_the_picture_and_inverts():
    values = np.arange(150 * 224, dtype=float).reshape(150, 224)
    fig = pixel_grid(image_figure(np.zeros((3, 150, 224)), "t"), values, "intensity")
    grid = fig.data[-1]
    assert grid.name == GRID_NAME and grid.marker.opacity == 0
    assert fig.data[0].hoverinfo == "skip"
    step = 4                                                 # ⌈224 / 64⌉
    assert len(grid.x) == len(range(2, 150, step)) * len(range(2, 224, step)) <= 64 * 64
    rows, cols = np.asarray(grid.y), np.asarray(grid.x)
    assert rows.max() < 150 and cols.max() < 224
    data = np.asarray(grid.customdata)
    np.testing.assert_array_equal(data[:, 2], values[rows, cols])
    assert tuple(fig.layout.xaxis.range) == (-0.5, 223.5)
    assert tuple(fig.layout.yaxis.range) == (149.5, -0.5)    # row 0 at the top
    k = 77
    point = {"customdata": list(data[k])}
    assert picked_pixel([point], 150, 224) == (rows[k], cols[k])
    typed = {"customdata": {"0": rows[k], "1": cols[k], "2": 0.0}}   # plotly.js typed row
    assert picked_pixel([{"customdata": [1, 1]}, typed], 150, 224) == (rows[k], cols[k])
    with pytest.raises(ValueError, match="outside the 150×224 image"):
        picked_pixel([{"customdata": [150, 3]}], 150, 224)
    with pytest.raises(ValueError, match="no pixel"):
        picked_pixel([{"x": 3, "y": 4}], 150, 224)


def test_image_figure_draws_grey_and_colour_pixels():
    grey = image_figure(np.full((1, 2, 3), 0.5), "g")
    assert np.asarray(grey.data[0].z).shape == (2, 3, 3)
    assert (np.asarray(grey.data[0].z) == 128).all()
    colour = np.zeros((3, 2, 2))
    colour[0, 1, 0] = 1.0
    z = np.asarray(image_figure(colour, "c").data[0].z)
    assert tuple(z[1, 0]) == (255, 0, 0) and tuple(z[0, 0]) == (0, 0, 0)


def test_check_figure_one_trace_per_outcome_with_counts():
    check = SliceCheck(certified=1, radius=1.0, norm=2.0,
                       offsets=np.array([[0.1, 0.0], [0.0, 0.5], [0.3, 0.3], [-0.2, 0.1]]),
                       size=np.array([0.2, 0.25, 0.6, 0.3]),
                       on_boundary=np.zeros(4, dtype=bool),
                       predictions=np.array([1, 1, -1, 2]), n=100, alpha=0.001)
    assert check.counts() == {"held": 2, "changed": 1, "abstained": 1}
    fig = check_figure(_slice(), "a", "b", check, ("zero", "one", "two"), "sub")
    names = [t.name for t in fig.data]
    assert "PREDICT = one (held): 2" in names and "PREDICT changed class: 1" in names
    assert "PREDICT abstained (not significant): 1" in names
    changed = next(t for t in fig.data if t.name == "PREDICT changed class: 1")
    assert changed.x == (-0.2,) and changed.customdata[0][1] == "two"
    assert "held 2, changed 1, abstained 1" in fig.layout.title.text
