"""Learn page through Streamlit's AppTest: the walk-through's numbers are the engine's
certificates, checked against independent closed forms (Clopper–Pearson from SciPy's beta
quantile, the Gaussian radius σΦ⁻¹(p̲_A)); one n control; the background job of a large n;
the shifted-Gaussian view and the peeking simulation."""

from __future__ import annotations

import time

import numpy as np
import pytest
from apptest_helpers import as_array, chart_specs, download_labels, open_page, text
from scipy.stats import beta, norm

from app.cached.learn import peeking, shift_view
from app.figures.learn import Stage, monte_carlo_figure
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.io.images import to_tensor
from ucan_core.noises.catalog import make_noise
from ucan_core.zoo.bundled import list_images, load_model


def stage_table(at) -> list[dict]:
    return at.dataframe[0].value.to_dict("records")


def latex(at) -> str:
    return "\n".join(element.value for element in at.get("latex"))


def test_default_walkthrough_equals_engine_and_closed_forms():
    at = open_page("learn")
    assert not at.error
    rows = stage_table(at)
    assert [r["n"] for r in rows] == [10, 100, 1000, 10000]
    assert [r["n0"] for r in rows] == [10, 100, 100, 100]
    model, _ = load_model("mnist-gaussian-0.25")
    x = to_tensor(list_images()["mnist-0018"].load(), (1, 28, 28))   # the default (issue #12)
    smoothed = SmoothedClassifier(model, make_noise("gaussian", 0.25, 784), 10)
    for row in rows[:3]:                                    # the engine, run again here
        cert = smoothed.certify(x, row["n0"], row["n"], 0.001, 1000, seed=0)
        assert row["k"] == cert.counts[3] and row["selected_class"] == 3
        assert row["p_a_lower"] == pytest.approx(cert.p_a_lower, rel=1e-12)
        assert row["radius"] == pytest.approx(cert.radius, rel=1e-12)
    for row in rows:                                        # independent closed forms
        lower = beta.ppf(0.001, row["k"], row["n"] - row["k"] + 1)
        assert row["p_a_lower"] == pytest.approx(lower, rel=1e-9)
        expected = 0.25 * norm.ppf(lower) if lower > 0.5 else 0.0    # ≤ ½: abstain
        assert row["radius"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    widths = [r["ci_high"] - r["ci_low"] for r in rows]
    assert widths == sorted(widths, reverse=True)
    # Contested votes: the first stage abstains, the last certifies with p̂_A well below 1.
    assert rows[0]["abstained"] and not rows[-1]["abstained"]
    assert 0.6 < rows[-1]["p_a_hat"] < 0.85 and rows[-1]["radius"] > rows[1]["radius"]
    k, n = rows[-1]["k"], rows[-1]["n"]
    formulas = latex(at)
    assert rf"B^{{-1}}(0.001;\, {k},\, {n - k + 1}) = {rows[-1]['p_a_lower']:.4g}" in formulas
    assert rf"\frac{{{k}}}{{{n}}}" in formulas
    assert rf"\Phi^{{-1}}({rows[-1]['p_a_lower']:.4g}) = {rows[-1]['radius']:.4g}" in formulas
    assert f"`  = {rows[-1]['radius']:.4g}` :green-badge[exact]" in text(at)
    assert download_labels(at) == {"Stages (CSV)", "Certificates (JSON)"}


def test_monte_carlo_figure_follows_the_one_n_control():
    """Issue #12: no Plotly animation slider that disagrees with the page; the figure draws
    the stages up to the n control's."""
    at = open_page("learn")
    rows = stage_table(at)
    spec = chart_specs(at)["learn_monte_carlo"]
    assert not spec.get("frames") and not spec["layout"].get("sliders")
    assert not spec["layout"].get("updatemenus")
    np.testing.assert_allclose(as_array(spec["data"][3]["y"]), [r["radius"] for r in rows],
                               rtol=1e-12)
    at.select_slider(key="learn_stage_10000").set_value(10).run()
    spec = chart_specs(at)["learn_monte_carlo"]
    np.testing.assert_allclose(as_array(spec["data"][2]["y"]), [rows[0]["p_a_lower"]])
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
    assert rf"B^{{-1}}(0.001;\, {row['k']},\, {100 - row['k'] + 1}) = {row['p_a_lower']:.4g}" in latex(at)
    assert len(as_array(chart_specs(at)["learn_monte_carlo"]["data"][1]["x"])) == 2
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
    assert not fig.frames and not fig.layout.sliders
    assert list(fig.data[3].y) == [0.0]                         # only stage 0 drawn
    assert fig.layout.yaxis2.range[0] < 0.15                    # the interval fits
    later = monte_carlo_figure(stages, ("a", "b"), 1)
    assert list(later.data[1].error_y.arrayminus) == pytest.approx([0.45, 0.15])
    assert later.layout.yaxis2.range == fig.layout.yaxis2.range  # axes fixed over stages


def test_play_steps_the_one_n_control_through_the_stages():
    at = open_page("learn")
    at.button(key="learn_play").click().run()
    assert at.select_slider(key="learn_stage_10000").value == 10
    assert r"\frac{" + str(stage_table(at)[0]["k"]) + "}{10}" in latex(at)
    seen = [10]
    deadline = time.monotonic() + 30
    while seen[-1] != 10000 and time.monotonic() < deadline:
        time.sleep(0.4)
        at.run()
        value = at.select_slider(key="learn_stage_10000").value
        if value != seen[-1]:
            seen.append(value)
    assert seen == [10, 100, 1000, 10000]
    assert "learn_playing" not in at.session_state or at.session_state["learn_playing"][0] == 3


def test_large_final_n_runs_as_a_job_with_progress_and_cancel():
    at = open_page("learn")
    at.select_slider(key="learn_n").set_value(100_000).run()
    assert not at.exception
    job = at.session_state["learn_job"]
    assert job.running and job.total == 20 + 200 + 1100 + 100_100     # n0 + n per stage
    assert "appear when CERTIFY" in text(at) and not at.dataframe
    at.button(key="learn_cancel").click().run()
    deadline = time.monotonic() + 30
    while job.running and time.monotonic() < deadline:
        time.sleep(0.2)
    at.run()
    assert job.cancelled and "The walk-through cancelled after" in text(at)
    at.select_slider(key="learn_n").set_value(1000).run()
    assert [r["n"] for r in stage_table(at)] == [10, 100, 1000]


def test_shift_view_and_peeking_are_engine_values():
    at = open_page("learn")
    rows = stage_table(at)
    view = shift_view(0.25, rows[-1]["p_a_lower"], 0.05)
    assert view.boundary == pytest.approx(view.radius) == pytest.approx(rows[-1]["radius"])
    assert view.p_shifted == pytest.approx(norm.cdf(norm.ppf(rows[-1]["p_a_lower"]) - 0.2))
    assert shift_view(0.25, 0.8, shift_view(0.25, 0.8, 0).radius).p_shifted == pytest.approx(0.5)
    assert "learn_shift_figure" in chart_specs(at)
    at.slider(key="learn_shift").set_value(0.0).run()
    assert f"keeps **{rows[-1]['p_a_lower']:.1%}** left of b" in text(at)
    sim = peeking()
    assert sim.clopper_pearson[-1] > 3 * sim.alpha                # peeking is unsound
    assert sim.anytime[-1] <= sim.alpha + 3 * np.sqrt(sim.alpha * (1 - sim.alpha) / sim.streams)
    assert np.all(np.diff(sim.clopper_pearson) >= 0)              # a rate by look n grows
    assert f"**{sim.clopper_pearson[-1]:.0%}** false certificates" in text(at)
    assert "learn_peeking" in chart_specs(at)
