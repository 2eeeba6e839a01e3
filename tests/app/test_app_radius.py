"""Radius page through Streamlit's AppTest, plus its pure figure builders.

Every plotted or tabulated number is compared with the engine (``ucan_core.universal``). Small
settings (typed d, few p_A values, 12 scales) keep the engine calls short.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from apptest_helpers import (
    as_array,
    chart_specs,
    download_labels,
    metrics,
    open_with_params,
    text,
    traces,
    wait_for_job,
)
from streamlit.testing.v1 import AppTest

from app.cached.radius import BUNDLED, compute_curves, is_ready, load_bundled, p_grid
from app.figures import maps as fig_maps
from app.figures import radius as radius_figures
from ucan_core.noises.catalog import make_noise
from ucan_core.universal.compare import Comparison, compare_with_closed, pixeldp_radius
from ucan_core.universal.laws import Profile
from ucan_core.universal.search import Settings, UniversalCurve, universal_radius_curve

SMALL = {"rd_dim_source": "Typed", "rd_dim": "64", "rd_points": "6", "rd_scales": "12"}


def radius_page(params: dict[str, str | list[str]] | None = None) -> AppTest:
    """The Radius page opened with these URL parameters (its widgets are bound to them)."""
    return open_with_params("radius", params, timeout=300)


def curves(at: AppTest) -> dict[str, dict]:
    return traces(chart_specs(at)["radius_curves"])


def test_defaults_render_with_kinds_pixeldp_and_image_shaped_direction():
    at = radius_page()
    assert not at.error
    shown = curves(at)
    assert {"Gaussian universal (approximate)", "Gaussian closed form (exact)",
            radius_figures.PIXELDP_NAME} <= set(shown)
    p = as_array(shown["Gaussian universal (approximate)"]["x"])
    np.testing.assert_allclose(p, p_grid(25))
    np.testing.assert_allclose(as_array(shown[radius_figures.PIXELDP_NAME]["y"]),
                               pixeldp_radius(p, 0.5), rtol=1e-12)
    closed, _ = make_noise("gaussian", 0.5, 784).radius_curve(p, 2)
    np.testing.assert_allclose(as_array(shown["Gaussian closed form (exact)"]["y"]), closed,
                               rtol=1e-12)
    universal = as_array(shown["Gaussian universal (approximate)"]["y"])
    np.testing.assert_allclose(universal, closed, rtol=2e-3)    # exact closed form: they agree
    assert np.all(as_array(shown[radius_figures.PIXELDP_NAME]["y"]) < 0.8 * closed)  # loose
    heatmap = chart_specs(at)["radius_direction_gaussian"]["data"][0]
    assert as_array(heatmap["z"]).shape == (28, 28)             # MNIST: 1×28×28
    assert "d = C·H·W = 1×28×28 = 784" in text(at)
    assert ":green-badge[exact]" in text(at) and ":orange-badge[approximate]" in text(at)
    assert "β(p_A) > ½" in text(at)
    assert download_labels(at) == {"Curves (CSV)", "Figure (Plotly JSON)"}


def test_plotted_universal_curve_equals_engine_and_norm_and_density_change_it():
    at = radius_page(SMALL)
    before = curves(at)["Gaussian universal (approximate)"]
    p = as_array(before["x"])
    engine = universal_radius_curve(make_noise("gaussian", 0.5, 64), p, "2", "approximate",
                                    Settings(scales=12))
    np.testing.assert_allclose(as_array(before["y"]), engine.radius, rtol=1e-12)

    at.select_slider(key="rd_norm").set_value("1").run()
    assert not at.exception and not at.error
    spec = chart_specs(at)["radius_curves"]
    assert spec["layout"]["title"]["text"] == "Certified ℓ1 radius vs p_A"
    after = traces(spec)
    assert radius_figures.PIXELDP_NAME not in after               # PixelDP is ℓ2 only
    engine = universal_radius_curve(make_noise("gaussian", 0.5, 64), p, "1", "approximate",
                                    Settings(scales=12))
    np.testing.assert_allclose(as_array(after["Gaussian universal (approximate)"]["y"]),
                               engine.radius, rtol=1e-12)
    assert not np.allclose(engine.radius, as_array(before["y"]))

    at.multiselect(key="rd_densities").set_value(["gaussian", "laplace"]).run()
    assert not at.exception and not at.error
    names = set(curves(at))
    assert {"Laplace universal (approximate)", "Laplace closed form (exact)"} <= names
    assert [t.label for t in at.tabs] == ["Gaussian", "Laplace"]


def test_difference_column_equals_engine_comparison():
    at = radius_page({**SMALL, "rd_densities": ["Laplace (laplace)"]})    # ℓ2: a sound conversion
    assert not at.error
    table = at.dataframe[0].value
    engine = compare_with_closed(make_noise("laplace", 0.5, 64), p_grid(6), "2",
                                 settings=Settings(scales=12))
    np.testing.assert_allclose(table["difference_pct"], 100 * engine.relative_difference,
                               rtol=1e-9)
    np.testing.assert_allclose(table["closed"], engine.closed, rtol=1e-12)
    np.testing.assert_allclose(table["universal"], engine.universal.radius, rtol=1e-12)
    assert set(table["closed_kind"]) == {"sound"}
    assert engine.relative_difference.min() > 0.05               # the conversion is loose
    shown = metrics(at)["Difference vs closed"]
    marker = int(np.argmin(np.abs(p_grid(6) - 0.9)))
    assert shown == f"{100 * engine.relative_difference[marker]:+.2f} %"
    assert "Laplace closed form (sound)" in curves(at)


def test_density_without_closed_form_shows_universal_only():
    at = radius_page({**SMALL, "rd_dim": "16", "rd_densities": ["Cauchy (cauchy)"]})
    assert not at.error
    assert [n for n in curves(at) if "(" in n and " at " not in n] == [
        "Cauchy universal (approximate)", radius_figures.PIXELDP_NAME]
    table = at.dataframe[0].value
    assert table["closed"].isna().all() and table["difference_pct"].isna().all()
    assert "no closed form" in text(at)


@pytest.mark.parametrize("spec", BUNDLED, ids=lambda s: f"l{s[3]}-{s[4]}")
def test_bundled_default_curves_equal_the_engine(spec):
    """The precomputed curves (assets/results/radius_curves) are what the engine computes now:
    the same radii within 1e-9 relative, the same worst directions and kinds."""
    assert is_ready(spec)
    bundled, fresh = load_bundled(spec), compute_curves(spec)
    np.testing.assert_allclose(bundled.comparison.universal.radius,
                               fresh.comparison.universal.radius, rtol=1e-9)
    np.testing.assert_allclose(bundled.comparison.closed, fresh.comparison.closed, rtol=1e-12)
    assert bundled.comparison.universal.worst == fresh.comparison.universal.worst
    assert bundled.comparison.universal.kind == fresh.comparison.universal.kind
    assert bundled.comparison.universal.statement == fresh.comparison.universal.statement
    assert bundled.direction_known == fresh.direction_known
    np.testing.assert_array_equal(bundled.comparison.universal.direction(3),
                                  fresh.comparison.universal.direction(3))


def test_default_curves_are_instant_and_conservative_switch_too():
    began = time.perf_counter()
    at = radius_page()
    assert not at.error and "rd_job" not in at.session_state
    at.radio(key="rd_mode").set_value("conservative").run()
    assert not at.error and "rd_job" not in at.session_state          # bundled: no job
    assert "Gaussian universal (sound)" in curves(at)
    assert time.perf_counter() - began < 20                              # was 14.8 s + 70 s


def test_conservative_curve_runs_as_a_job_with_progress_and_cancel():
    at = radius_page({**SMALL, "rd_dim": "300", "rd_mode": "conservative"})
    job = at.session_state["rd_job"]
    assert job.running and job.total == 1
    assert "appear here once computed" in text(at)
    at.button(key="rd_cancel").click().run()
    assert job.cancel_event.is_set()
    job.wait(120)                                   # the queue's worker stops it
    at.run()
    assert "The conservative curves cancelled after" in text(at)
    assert "appear here once computed" not in text(at) and not chart_specs(at)
    at.button(key="rd_retry").click().run()
    assert at.session_state["rd_job"] is not job and at.session_state["rd_job"].running
    at.session_state["rd_job"].cancel()


def test_conservative_mode_is_sound_for_the_gaussian():
    at = radius_page({**SMALL, "rd_dim": "16", "rd_points": "5", "rd_mode": "conservative"})
    wait_for_job(at, "rd_job", 120)
    assert not at.error
    universal = curves(at)["Gaussian universal (sound)"]
    closed, _ = make_noise("gaussian", 0.5, 16).radius_curve(p_grid(5), 2)
    assert np.all(as_array(universal["y"]) <= closed)           # a lower bound, below exact
    assert "conservative: holds with probability ≥ 1 − 0.001" in text(at)
    assert ":blue-badge[sound]" in text(at)


def test_bad_dimension_is_a_clear_error():
    at = radius_page({**SMALL, "rd_dim": "0"})
    assert [e.value for e in at.error] == ["Gaussian: dim must be an integer >= 1, got 0"]
    assert not chart_specs(at) and "No curve to draw" in text(at)


def test_colour_image_direction_heatmap_has_image_shape():
    at = radius_page({"rd_dataset": "CIFAR-10", "rd_points": "5", "rd_scales": "12",
                      "rd_norm": "ℓ1"})
    assert not at.error
    assert "d = C·H·W = 3×32×32 = 3,072" in text(at)
    engine = universal_radius_curve(make_noise("gaussian", 0.5, 3072), p_grid(5), "1",
                                    settings=Settings(scales=12))
    marker = int(np.argmin(np.abs(p_grid(5) - 0.9)))
    direction = engine.direction(marker).reshape(3, 32, 32)
    z = as_array(chart_specs(at)["radius_direction_gaussian"]["data"][0]["z"])
    np.testing.assert_allclose(z, direction[0], rtol=1e-12)
    at.radio(key="rd_reduction").set_value(radius_figures.MEAN_ABS).run()
    z = as_array(chart_specs(at)["radius_direction_gaussian"]["data"][0]["z"])
    np.testing.assert_allclose(z, np.abs(direction).mean(axis=0), rtol=1e-6)  # float32


# ---------------------------------------------------------------------------------- figures


def _comparison(closed: np.ndarray | None) -> Comparison:
    p = np.array([0.6, 0.8, 0.95])
    curve = UniversalCurve(p, np.array([0.1, 0.4, 0.9]), "2", "approximate", "approximate",
                           [Profile.sparse(1), Profile.sparse(4)], [0, 1, 1], 4, "statement")
    return Comparison(curve, closed, None if closed is None else "exact")


def test_radius_figure_names_kinds_and_markers():
    pixeldp = np.array([0.01, 0.02, 0.03])
    fig = radius_figures.radius_figure(
        np.array([0.6, 0.8, 0.95]), [("A", _comparison(np.array([0.1, 0.5, 1.0]))),
                                     ("B", _comparison(None))], pixeldp, 1, "1.5")
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == ["A universal (approximate)", "A closed form (exact)",
                     "B universal (approximate)", radius_figures.PIXELDP_NAME]
    assert fig.layout.title.text == "Certified ℓ1.5 radius vs p_A"
    wide = {t.name for t in fig.data if t.line.width == 6 and t.opacity == 0.45}
    assert wide == {"A universal (approximate)", "B universal (approximate)"}
    markers = {t.name: t.y[0] for t in fig.data if t.mode == "markers"}
    assert markers["A closed form at p_A=0.8"] == 0.5 and markers["PixelDP at p_A=0.8"] == 0.02


def test_percent_text_never_shows_minus_zero():
    assert radius_figures.percent_text(-0.001) == "0.00 %"
    assert radius_figures.percent_text(0.004) == "0.00 %"
    assert radius_figures.percent_text(-1.234) == "-1.23 %"
    assert radius_figures.percent_text(12.0) == "+12.00 %"


def test_rows_shapes_and_direction_reduction():
    rows = radius_figures.comparison_rows("a", _comparison(np.array([0.1, 0.5, 1.0])))
    assert [r["difference_pct"] for r in rows] == pytest.approx([0.0, -20.0, -10.0])
    assert [r["worst_direction"] for r in rows] == ["axis", "diagonal", "diagonal"]
    csv = radius_figures.csv_rows([("b", _comparison(None))], np.zeros(3), "2", "approximate")
    assert csv[0]["closed"] is None and csv[2]["pixeldp_l2"] == 0.0 and csv[0]["norm"] == "2"
    assert radius_figures.display_shape(784) == (1, 28, 28)
    assert radius_figures.display_shape(13) == (1, 1, 13)
    assert radius_figures.display_shape(3072) == (1, 48, 64)
    vector = np.arange(12.0) - 6
    fig = radius_figures.direction_figure(vector, (3, 2, 2), radius_figures.MEAN_ABS, "t")
    np.testing.assert_allclose(fig.data[0].z, np.abs(vector.reshape(3, 2, 2)).mean(axis=0))
    fig = radius_figures.direction_figure(vector, (3, 2, 2), radius_figures.CHANNEL_0, "t")
    np.testing.assert_allclose(fig.data[0].z, vector.reshape(3, 2, 2)[0])
    assert "channel 0 of 3" in fig.layout.title.text
    # no white square on the dark theme: magnitudes start at the neutral grey, signed values
    # are centred on it
    assert fig.data[0].zmid == 0 and dict(fig.data[0].colorscale)[0.5] == fig_maps.NEUTRAL
    magnitudes = radius_figures.direction_figure(vector, (3, 2, 2), radius_figures.MEAN_ABS, "t")
    assert magnitudes.data[0].colorscale[0][1] == fig_maps.NEUTRAL
