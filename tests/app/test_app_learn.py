"""Learn page through Streamlit's AppTest: the walk-through's numbers are the engine's
certificates, checked against independent closed forms (Clopper–Pearson from SciPy's beta
quantile, the Gaussian radius σΦ⁻¹(p̲_A))."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import as_array, chart_specs, download_labels, open_page, text
from scipy.stats import beta, norm

from app.figures.learn import Stage, monte_carlo_figure
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.io.images import to_tensor
from ucan_core.noises.catalog import make_noise
from ucan_core.zoo.bundled import list_images, load_model


def stage_table(at) -> list[dict]:
    return at.dataframe[0].value.to_dict("records")


def test_default_walkthrough_equals_engine_and_closed_forms():
    at = open_page("learn")
    assert not at.error
    rows = stage_table(at)
    assert [r["n"] for r in rows] == [10, 100, 1000, 10000]
    assert [r["n0"] for r in rows] == [10, 100, 100, 100]
    model, _ = load_model("mnist-gaussian-0.25")
    x = to_tensor(list_images()["mnist-0000"].load(), (1, 28, 28))
    smoothed = SmoothedClassifier(model, make_noise("gaussian", 0.25, 784), 10)
    for row in rows[:3]:                                    # the engine, run again here
        cert = smoothed.certify(x, row["n0"], row["n"], 0.001, 1000, seed=0)
        assert row["k"] == cert.counts[7] and row["selected_class"] == 7
        assert row["p_a_lower"] == pytest.approx(cert.p_a_lower, rel=1e-12)
        assert row["radius"] == pytest.approx(cert.radius, rel=1e-12)
    for row in rows:                                        # independent closed forms
        lower = beta.ppf(0.001, row["k"], row["n"] - row["k"] + 1)
        assert row["p_a_lower"] == pytest.approx(lower, rel=1e-9)
        assert row["radius"] == pytest.approx(0.25 * norm.ppf(lower), rel=1e-9)
    radii = [r["radius"] for r in rows]
    widths = [r["ci_high"] - r["ci_low"] for r in rows]
    assert radii == sorted(radii) and widths == sorted(widths, reverse=True)
    shown = text(at)
    assert "B⁻¹(0.001; 10000, 10000 − 10000 + 1)" in shown
    assert f"`  = {rows[-1]['radius']:.6g}` :green-badge[exact]" in shown
    assert download_labels(at) == {"Stages (CSV)", "Certificates (JSON)"}


def test_monte_carlo_figure_has_one_frame_per_stage():
    at = open_page("learn")
    rows = stage_table(at)
    spec = chart_specs(at)["learn_monte_carlo"]
    assert [f["name"] for f in spec["frames"]] == ["10", "100", "1000", "10000"]
    last = spec["frames"][-1]["data"]
    np.testing.assert_allclose(as_array(last[3]["y"]), [r["radius"] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(as_array(spec["frames"][0]["data"][2]["y"]), [rows[0]["p_a_lower"]])
    assert spec["layout"]["sliders"][0]["active"] == 3
    assert spec["layout"]["updatemenus"][0]["buttons"][0]["label"] == "▶ slow motion"
    region = chart_specs(at)["learn_region"]
    circle = next(t for t in region["data"] if t["name"].startswith("certified region"))
    np.testing.assert_allclose(np.hypot(as_array(circle["x"]), as_array(circle["y"])),
                               rows[-1]["radius"], rtol=1e-9)


def test_stage_slider_fills_the_formulas_with_that_stage():
    at = open_page("learn")
    at.select_slider(key="learn_stage_10000").set_value(100).run()
    assert not at.exception
    row = stage_table(at)[1]
    shown = text(at)
    assert "B⁻¹(0.001; 100, 100 − 100 + 1)" in shown
    assert f"= {row['p_a_lower']:.6g}`" in shown
    assert chart_specs(at)["learn_monte_carlo"]["layout"]["sliders"][0]["active"] == 1
    cap = 0.25 * norm.ppf(0.001 ** (1 / 100))                 # k = n: p̲_A = α^(1/n)
    assert f"no radius beyond {cap:.4g} can be certified" in shown


def test_final_n_alpha_and_model_change_the_run():
    at = open_page("learn")
    at.select_slider(key="learn_n").set_value(1000).run()
    at.selectbox(key="learn_alpha").select(0.01).run()
    at.selectbox(key="learn_model").select("mnist-gaussian-1.00").run()
    assert not at.exception and not at.error
    rows = stage_table(at)
    assert [r["n"] for r in rows] == [10, 100, 1000]
    for row in rows:
        lower = beta.ppf(0.01, row["k"], row["n"] - row["k"] + 1)
        assert row["p_a_lower"] == pytest.approx(lower, rel=1e-9)
        expected = 1.0 * norm.ppf(lower) if lower > 0.5 else 0.0
        assert row["radius"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_monte_carlo_figure_abstaining_stage():
    stages = [Stage(10, 10, (6, 4), 0, 6, 0.6, 0.2, 0.15, 0.9, 0.0, True),
              Stage(100, 10, (70, 30), 0, 70, 0.7, 0.58, 0.55, 0.82, 0.1, False)]
    fig = monte_carlo_figure(stages, ("a", "b"), 0)
    assert len(fig.frames) == 2 and fig.layout.sliders[0].active == 0
    assert list(fig.data[3].y) == [0.0]                         # only stage 0 drawn
    assert fig.layout.yaxis2.range[0] < 0.15                    # the interval fits
    assert list(fig.frames[1].data[1].error_y.arrayminus) == pytest.approx([0.45, 0.15])
