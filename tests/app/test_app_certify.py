"""Certify page through Streamlit's AppTest (no browser), plus its figures and services.

AppTest runs the script synchronously and does not fire ``run_every`` timers, so a test that
starts a certification polls ``at.run()`` until the background job has finished and the page
has taken its outcome (``wait_job``).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import chart_specs, exact_metrics, open_with_params, wait_for_job
from PIL import Image
from scipy.stats import beta, norm
from streamlit.testing.v1 import AppTest

from app import choices, jobs
from app.cached import certify as cached_certify
from app.cached import images as cached_images
from app.figures import common as fig_common
from app.figures import formulas as fig_formulas
from app.figures import votes as fig_votes
from app.figures.attack import amplification, delta_image, grey_levels
from app.figures.scale import grey, scale_words
from ucan_core.audit.attack import AttackBudget
from ucan_core.audit.certificates import (
    AttackEvidence,
    AuditResult,
    TwoStageEvidence,
    audit_two_stage,
    claimed_region,
    evidence_units,
)
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.devices import available_devices
from ucan_core.npg.source import build_noise
from ucan_core.two_stage.dual import load_dual
from ucan_core.two_stage.engine import TwoStageCertificate
from ucan_core.two_stage.routing import load_router
from ucan_core.zoo.bundled import list_images, load_model

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
SEVEN = list_images()["mnist-0000"]          # a bundled MNIST "7", the default image


# ---------------------------------------------------------------------------------- helpers

_OPENED: list[AppTest] = []


@pytest.fixture(autouse=True)
def _cancel_leftover_jobs():
    """A failing test must not leave a 100,000-sample job hogging the CPU."""
    yield
    while _OPENED:
        job = job_of(_OPENED.pop())
        if job is not None:
            job.cancel()
            job.wait(30)


def open_certify() -> AppTest:
    """The app, switched to the Certify page that app/main.py registers."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    _OPENED.append(at)
    assert not at.exception, at.exception
    at.switch_page("views/certify.py").run()
    assert not at.exception, at.exception
    return at


def job_of(at: AppTest):
    return at.session_state.get("certify_job", None)


def wait_job(at: AppTest, timeout: float = 90.0) -> AppTest:
    return wait_for_job(at, "certify_job", timeout)


def certify(at: AppTest, **numbers) -> AppTest:
    """Set the number inputs (cert_<name>), press Certify and wait for the outcome."""
    for name, value in numbers.items():
        at.number_input(key=f"cert_{name}").set_value(value)
    at.run()
    at.button(key="cert_run").click().run()
    return wait_job(at)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def markdown(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def as_array(value) -> np.ndarray:
    """Plotly JSON array: a plain list or a typed array {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]),
                             dtype=np.dtype(value["dtype"])).astype(np.float64)
    return np.asarray(value, dtype=np.float64)


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly specs by the first word of their title ("Votes", "p_A:")."""
    out = {}
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        out[spec["layout"]["title"]["text"].split()[0]] = spec
    return out


def displayed_counts(at: AppTest) -> tuple[np.ndarray, np.ndarray]:
    """(estimation counts, selection counts) as drawn in the votes chart."""
    estimation, selection = charts(at)["Votes"]["data"]
    return as_array(estimation["customdata"]), as_array(selection["customdata"])


def image_caption(at: AppTest) -> str:
    """Caption of the input image (the page's only st.image "As the model sees it"; the
    human scale of a radius adds x, x + δ and δ)."""
    images = [i for i in at.get("image") if i.captions and
              i.captions[0].startswith("As the model sees it")]
    assert len(images) == 1
    return images[0].captions[0]


def png_bytes(width: int, height: int) -> bytes:
    pixels = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------- page


def test_defaults_card_and_device():
    at = open_certify()
    assert not at.error
    assert at.selectbox(key="cert_model").value == "mnist-gaussian-0.25"
    assert at.selectbox(key="cert_image_mnist").value == "mnist-0000"
    assert at.number_input(key="cert_n0").value == 100
    assert at.number_input(key="cert_n").value == 10_000
    assert at.number_input(key="cert_alpha").value == pytest.approx(0.001)
    assert at.number_input(key="cert_batch").value == 1000
    assert at.number_input(key="cert_seed").value == 0
    assert at.selectbox(key="cert_npg_mnist-gaussian-0.25").value == "isotropic"
    assert at.selectbox(key="cert_device").options == available_devices()
    text = markdown(at)
    assert "**MNIST**" in text and "σ = 0.25" in text and "clean 99.38%" in text
    assert f"In use: **{available_devices()[0]}" in text
    assert image_caption(at) == ("As the model sees it: 1×28×28 (no conversion needed). "
                                 "MNIST 7 (mnist-0000)")
    assert any("press **Certify**" in i.value for i in at.info)
    assert not at.metric and not at.get("plotly_chart")
    # another model: its card follows
    at.selectbox(key="cert_model").select("mnist-gaussian-1.00").run()
    assert not at.exception
    assert "σ = 1 ·" in markdown(at) and "Test accuracy: clean " in markdown(at)


def test_small_run_result_radius_cache_and_stale():
    at = certify(open_certify(), n0=20, n=200)
    assert not at.error and not at.warning
    shown = metrics(at)
    assert shown["Prediction"] == "7"                       # the bundled MNIST 7
    counts, selection = displayed_counts(at)
    assert counts.sum() == 200 and selection.sum() == 20
    assert int(np.argmax(selection)) == 7
    k = int(counts[7])
    p_lower = beta.ppf(0.001, k, 200 - k + 1)               # recomputed from the display
    exact = exact_metrics(at)                               # full precision in the tooltips
    assert exact["p̲_A (lower bound)"] == pytest.approx(p_lower, abs=1e-9)
    radius = 0.25 * norm.ppf(p_lower)
    assert exact["Certified radius (ℓ2)"] == pytest.approx(radius, rel=1e-9)
    # rounded for reading: three digits
    assert shown["p̲_A (lower bound)"] == fig_common.fmt_p(p_lower)
    assert shown["Certified radius (ℓ2)"] == fig_common.fmt(radius, 3)
    text = markdown(at)
    assert ":green-badge[fresh]" in text
    assert ":green-badge[exact]" in text                     # the kind of the ℓ2 radius
    assert ":green-badge[sound]" in text                     # the soundness tag
    assert "`R_2 = σ·Φ⁻¹(p_A)`" in text and f"0.25·Φ⁻¹({fig_common.fmt(p_lower, 4)})" in text
    assert "99.9% interval" in text
    assert "n0 = 20 · n = 200 · α = 0.001" in text
    # p_A figure: the interval contains p̂_A, the lower bound is the one-sided one
    ci, p_hat, lower = charts(at)["p_A:"]["data"]
    assert as_array(lower["x"])[0] == pytest.approx(p_lower, abs=1e-9)
    low, high = as_array(ci["x"])
    assert low == pytest.approx(beta.ppf(0.0005, k, 200 - k + 1)) and high <= 1.0
    assert low <= as_array(p_hat["x"])[0] == k / 200 <= high
    # downloads: JSON (the certificate) and one CSV row
    downloads = {d.proto.label: d for d in at.get("download_button")}
    assert set(downloads) == {"Download JSON", "Download CSV"}
    first_job = job_of(at)
    cert = first_job.result
    assert json.loads(cert.to_json())["prediction"] == 7
    row = cached_certify.certificate_row(jobs.result_of(first_job), tuple("0123456789"))
    parsed = list(csv.DictReader(io.StringIO(fig_common.csv_text([row]))))
    assert len(parsed) == 1 and parsed[0]["prediction_name"] == "7"
    assert float(parsed[0]["radius"]) == pytest.approx(radius, rel=1e-9)

    # a rerun keeps the result; Certify again with the same settings: cached, no new job
    at.run()
    assert metrics(at)["Prediction"] == "7" and job_of(at) is first_job
    at.button(key="cert_run").click().run()
    assert job_of(at) is first_job
    assert any("cached" in i.value for i in at.info)
    assert ":violet-badge[cached]" in markdown(at)

    # other settings: the old result is marked stale; going back shows it from the cache
    at.number_input(key="cert_seed").set_value(1).run()
    assert ":orange-badge[stale]" in markdown(at) and "(seed)" in markdown(at)
    certify(at)
    second_job = job_of(at)
    assert second_job is not first_job and ":green-badge[fresh]" in markdown(at)
    at.number_input(key="cert_seed").set_value(0).run()
    assert job_of(at) is second_job                          # nothing new was sampled
    assert ":violet-badge[cached]" in markdown(at)
    assert exact_metrics(at)["Certified radius (ℓ2)"] == pytest.approx(radius, rel=1e-9)
    assert len(at.session_state["certify_cache"]) == 2


@pytest.mark.parametrize(("numbers", "message"), [
    ({"n0": 300, "n": 200}, "n0 (300) must not exceed n (200)"),
    ({"n0": 20, "n": 200, "alpha": 0.0}, "α must lie strictly between 0 and 1"),
    ({"n0": 20, "n": 200, "alpha": 1.0}, "α must lie strictly between 0 and 1"),
])
def test_invalid_sampling_is_refused_at_the_controls(numbers, message):
    at = open_certify()
    for name, value in numbers.items():
        at.number_input(key=f"cert_{name}").set_value(value)
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value
    assert at.button(key="cert_run").disabled        # refused before Certify is clicked
    assert job_of(at) is None and not at.metric and not at.session_state["certify_cache"]
    # once the inputs are fixed the refusal is gone and Certify is enabled
    at.number_input(key="cert_n0").set_value(10).run()
    at.number_input(key="cert_alpha").set_value(0.01).run()
    assert not at.error and not at.button(key="cert_run").disabled


def test_one_job_per_session_and_cancel():
    at = open_certify()
    at.number_input(key="cert_n").set_value(100_000).run()
    at.button(key="cert_run").click().run()
    job = job_of(at)
    assert job is not None and job.running
    assert at.progress and at.progress[0].text.startswith("Certifying: ")
    assert "/ 100,100 samples · ETA" in at.progress[0].text
    at.button(key="cert_run").click().run()                 # a second click
    assert job_of(at) is job
    assert any("already running" in w.value for w in at.warning)
    at.button(key="cert_cancel").click().run()
    assert job.cancel_event.is_set()
    wait_job(at, timeout=30)
    assert job.cancelled and job.result is None and job.done < job.total
    assert any("cancelled" in w.value and "no result for this run" in w.value
               for w in at.warning)
    assert not at.progress and not at.metric
    assert not at.session_state["certify_cache"]


def test_upload_is_converted_and_certified():
    at = open_certify()
    at.radio(key="cert_source").set_value("Upload").run()
    assert any("No usable upload" in i.value for i in at.info)
    at.file_uploader(key="cert_upload").set_value(
        ("seven.png", SEVEN.path.read_bytes(), "image/png")).run()
    assert not at.exception and not at.error
    caption = image_caption(at)
    assert "As the model sees it: 1×28×28 (no conversion needed). seven.png" in caption
    certify(at, n0=20, n=200)
    assert metrics(at)["Prediction"] == "7"
    assert job_of(at).settings.image_key.startswith("upload:")
    # a colour image of another size is converted to the model's 1×28×28
    at.file_uploader(key="cert_upload").set_value(("rgb.png", png_bytes(48, 40),
                                                    "image/png")).run()
    caption = image_caption(at)
    assert "1×28×28 (converted from 48×40 colour)" in caption
    assert ":orange-badge[stale]" in markdown(at) and "(image)" in markdown(at)
    # a file that is not an image: an error, never a traceback
    at.file_uploader(key="cert_upload").set_value(("x.png", b"not an image",
                                                    "image/png")).run()
    assert not at.exception
    assert any("Upload refused" in e.value and "not a readable PNG or JPEG" in e.value
               for e in at.error)


def test_sigma_override_and_pattern_npg_alm():
    at = open_certify()
    at.checkbox(key="cert_override").check().run()
    at.number_input(key="cert_sigma_mnist-gaussian-0.25").set_value(0.3).run()
    assert any("trained at σ = 0.25" in w.value for w in at.warning)
    at.selectbox(key="cert_npg_mnist-gaussian-0.25").select("pattern-2").run()
    certify(at, n0=20, n=200)
    assert not at.error
    assert metrics(at)["Prediction"] == "7"
    counts, _ = displayed_counts(at)
    p_lower = beta.ppf(0.001, int(counts[7]), 200 - int(counts[7]) + 1)
    noise = build_noise("gaussian", 0.3, (1, 28, 28), npg="pattern", pattern_norm=2)
    s_min = float(noise.scale.min())
    radius = exact_metrics(at)["Certified radius (ℓ2)"]
    assert radius == pytest.approx(s_min * 0.3 * norm.ppf(p_lower), rel=1e-9)
    text = markdown(at)
    assert ":blue-badge[sound]" in text                      # min sᵢ·R is sound, not exact
    alm = job_of(at).result.alm
    badge = ":gray-badge[size of the certified region, not a radius]"
    assert f"ALM (ℓ2) = `{fig_common.fmt(alm, 3)}` {badge}" in text
    assert "`ALM = (∏sᵢ)^(1/d)·R = 1 · " in text                 # the pattern's geometric mean
    assert f"= {fig_common.fmt(alm, 4)}`" in text
    assert f"{fig_common.fmt(s_min, 4)} · [0.3·Φ⁻¹(" in text    # the formula, filled


def test_abstain_at_a_far_too_large_sigma():
    at = open_certify()
    at.checkbox(key="cert_override").check().run()
    at.number_input(key="cert_sigma_mnist-gaussian-0.25").set_value(4.0).run()
    certify(at, n0=20, n=200)
    assert not at.error
    shown = metrics(at)
    assert shown["Prediction"] == "abstain"
    assert float(shown["Certified radius (ℓ2)"]) == 0.0
    counts, selection = displayed_counts(at)
    k = int(counts[int(np.argmax(selection))])
    assert beta.ppf(0.001, k, 200 - k + 1) <= 0.5
    assert any(w.value.startswith("Abstain: p̲_A") for w in at.warning)
    assert "`R_2 = " not in markdown(at)                    # no formula without a radius
    assert "**Certified radius**: none" in markdown(at) and not at.dataframe
    assert json.loads(job_of(at).result.to_json())["prediction"] == -1


# ---------------------------------------------------------------------------------- figures


def test_votes_figure_highlights_selected_class():
    fig = fig_votes.votes_figure(list("0123"), [5, 80, 15, 0], [1, 8, 1, 0], 1, 100, 10)
    estimation, selection = fig.data
    assert list(estimation.customdata) == [5, 80, 15, 0]
    np.testing.assert_allclose(estimation.y, [0.05, 0.8, 0.15, 0.0])
    np.testing.assert_allclose(selection.y, [0.1, 0.8, 0.1, 0.0])
    colours = list(estimation.marker.color)
    assert colours[1] == fig_common.SELECTED_COLOUR and set(colours[:1] + colours[2:]) == {
        fig_common.OTHER_COLOUR}
    assert "ĉ_A = 1" in fig.layout.title.text
    with pytest.raises(ValueError):
        fig_votes.votes_figure(list("01"), [1, 2, 3], [1, 2], 0, 6, 3)


def test_votes_figure_of_many_classes_draws_the_top_ten_and_sums_the_rest():
    classes = [f"class {i}" for i in range(1000)]
    counts, selection = np.zeros(1000, dtype=int), np.zeros(1000, dtype=int)
    counts[[559, 3, 7, 900]] = [80, 9, 6, 5]
    selection[[559, 42]] = [14, 2]
    fig = fig_votes.votes_figure(classes, counts, selection, 559, 100, 16)
    estimation, selected = fig.data
    assert len(estimation.x) == 11 and estimation.x[-1] == "other 990 classes"
    assert list(estimation.x[:5]) == ["class 559", "class 3", "class 7", "class 900", "class 42"]
    assert list(estimation.customdata) == [80, 9, 6, 5, *[0] * 7]
    assert selected.customdata[0] == 14 and selected.customdata[4] == 2
    assert sum(estimation.customdata) == 100 and sum(selected.customdata) == 16
    assert "top 10 of 1,000 classes" in fig.layout.title.text
    # the selected class is drawn even with fewer votes than ten others
    counts[:20] = 90
    fig = fig_votes.votes_figure(classes, counts, selection, 559, int(counts.sum()), 16)
    assert list(fig.data[0].x[-2:]) == ["class 559", "other 990 classes"]
    assert sum(fig.data[0].customdata) == counts.sum() == 20 * 90 + 80 + 5
    # eleven classes: one by one, no "other" bar
    assert len(fig_votes.votes_figure(classes[:11], counts[:11], selection[:11], 0, 1, 1)
               .data[0].x) == 11


def test_rates_and_grey_levels_never_round_to_zero():
    assert [fig_common.fmt_rate(v) for v in (0.3512, 1.43, 57.3, 140.2, 12345.6)] == [
        "0.35", "1.4", "57", "140", "12,346"]
    assert [grey(v) for v in (0.0000471, 0.0136, 0.05, 1.0)] == ["0.012", "3.5", "13", "255"]
    assert "**0.012 grey levels of 255**" in scale_words(0.0000471, "inf", 10)[0]


def test_p_a_interval_figure_zooms_and_marks_half():
    fig = fig_votes.p_a_interval_figure(1.0, 0.9966, 0.9963, 1.0, 0.001)
    lo, hi = fig.layout.xaxis.range
    assert lo < 0.9963 and hi >= 1.0 and hi - lo >= 0.002
    assert not fig.layout.shapes                              # ½ is far outside the view
    assert "99.9% interval" in fig.layout.title.text
    fig = fig_votes.p_a_interval_figure(0.55, 0.45, 0.44, 0.66, 0.01)
    assert fig.layout.shapes and fig.layout.shapes[0].x0 == 0.5


def test_csv_text_one_row():
    text = fig_common.csv_text([{"a": 1, "b": "x y", "c": 0.5}])
    assert text == "a,b,c\n1,x y,0.5\n"
    assert fig_common.csv_text([]) == ""


def test_fill_formula_digits_keeps_default():
    values = fig_formulas.values_table(0.25, 0.25, 784, 0.99965467, {})
    assert fig_formulas.fill_formula("σ·Φ⁻¹(p_A)", values, 0.8483, "exact", "2")[1] == \
        "`  = 0.25·Φ⁻¹(0.9997)`"
    assert fig_formulas.fill_formula("σ·Φ⁻¹(p_A)", values, 0.8483, "exact", "2",
                                digits=6)[1] == "`  = 0.25·Φ⁻¹(0.999655)`"


# ---------------------------------------------------------------------------------- services


def _settings(**changes) -> choices.CertifySettings:
    choice = choices.NoiseChoice("gaussian", 0.25, (1, 28, 28))
    base = dict(model_id="mnist-gaussian-0.25", image_key="bundled:mnist-0000", noise=choice,
                n0=20, n=200, alpha=0.001, batch_size=100, seed=0, device="cpu")
    return choices.CertifySettings(**{**base, **changes})


def test_settings_key_is_stable_and_names_differences():
    a, b = _settings(), _settings()
    assert a.key() == b.key() and len(a.key()) == 20
    c = _settings(seed=1, n=400)
    assert c.key() != a.key()
    assert sorted(c.differences(a)) == ["n", "seed"]
    d = _settings(noise=choices.NoiseChoice("gaussian", 0.5, (1, 28, 28)))
    assert d.differences(a) == ["σ"]


def test_job_worker_matches_engine_and_cancels():
    model, _ = load_model("mnist-gaussian-0.25")
    x = torch.from_numpy(cached_images.bundled_model_input("mnist-0000", (1, 28, 28)).pixels)
    noise = build_noise("gaussian", 0.25, (1, 28, 28))
    job = jobs.CertifyJob(_settings(), SmoothedClassifier(model, noise, 10), x, noise).start()
    assert job.wait(60) and job.error is None and not job.cancelled
    direct = SmoothedClassifier(model, noise, 10).certify(x, 20, 200, 0.001, 100, 0)
    assert job.result.counts == direct.counts and job.result.radius == direct.radius
    assert job.done == job.total == 220 and job.rate > 0

    long = jobs.CertifyJob(_settings(n=100_000, n0=100),
                               SmoothedClassifier(model, noise, 10), x, noise).start()
    long.cancel()
    assert long.wait(30)
    assert long.cancelled and long.result is None and long.done < long.total


@pytest.mark.parametrize("model_id, soundness", [("mnist-input-dependent-0.50", "input-dependent"),
                                                 ("mnist-universal-0.50", "sound")])
def test_learned_npg_models_certify_with_their_own_noise(model_id: str, soundness: str):
    at = open_certify()
    at.selectbox(key="cert_model").select(model_id).run()
    assert at.selectbox(key=f"cert_npg_{model_id}").value == "learned"
    certify(at, n0=20, n=200)
    assert not at.error
    cert = job_of(at).result
    assert cert.soundness == soundness and cert.noise["npg"] == soundness.replace("sound", "universal")
    assert cert.radius < cert.alm  # min s < geometric mean of s for these learned maps
    text = markdown(at)
    assert soundness in text
    if soundness == "input-dependent":
        assert "Not a certificate for the deployed classifier" in text


# ---------------------------------------------------------------------------------- Dual RS

EXPERTS = ("mnist-gaussian-0.25", "mnist-gaussian-0.50", "mnist-gaussian-1.00")


def open_dual() -> AppTest:
    at = open_certify()
    at.radio(key="cert_mode").set_value("dual").run()
    assert not at.exception, at.exception
    return at


def stage_rows(at: AppTest) -> list[dict]:
    """The two-stage table (selection, classification) as records."""
    (table,) = [d.value for d in at.dataframe if "stage" in d.value.columns]
    return table.to_dict("records")


def check_stage_rows(at: AppTest, factors: tuple[float, float], radii: tuple[float, float],
                     rel: float) -> list[dict]:
    """The two-stage table of a run with n = 200 at α = 0.001: each stage's α/2 and p̲_A,
    recomputed from its displayed votes (one-sided Clopper–Pearson), and its radius
    factor·Φ⁻¹(p̲_A); returns the rows."""
    rows = stage_rows(at)
    assert len(rows) == 2
    for row, factor, radius in zip(rows, factors, radii):
        assert row["α"] == pytest.approx(0.0005)
        k, n = (int(v.replace(",", "")) for v in row["votes"].split(" / "))
        assert n == 200
        p_lower = beta.ppf(0.0005, k, n - k + 1)
        assert row["p̲_A"] == pytest.approx(p_lower, abs=1e-9)
        assert radius == pytest.approx(factor * norm.ppf(p_lower), rel=rel)
    return rows


def test_dual_rs_result_equals_engine_and_downloads():
    at = open_dual()
    assert at.selectbox(key="cert_estimator").value == "mnist-sigma-estimator"
    assert tuple(at.selectbox(key=f"cert_expert_{level}").value
                 for level in ("0.25", "0.5", "1")) == EXPERTS
    assert not at.button(key="cert_run").disabled and not at.warning
    certify(at, n0=20, n=200)
    assert not at.error
    job = job_of(at)
    assert isinstance(job.settings, choices.DualSettings) and job.done == job.total == 440
    dual, card = load_dual("mnist-sigma-estimator", list(EXPERTS))
    x = torch.from_numpy(cached_images.bundled_model_input("mnist-0000", (1, 28, 28)).pixels)
    direct = dual.certify(x, 20, 200, 0.001, 1000, seed=0)
    cert = job.result
    for name in ("prediction", "selected", "radius", "r_sel", "r_c", "p_a_lower_sel",
                 "p_a_lower_c"):
        assert getattr(cert, name) == getattr(direct, name), name
    assert cert.selection.counts == direct.selection.counts
    assert cert.classification.counts == direct.classification.counts

    shown, exact = metrics(at), exact_metrics(at)
    assert shown["Prediction"] == "7" and shown["Selected level σ"] == f"{direct.selected:g}"
    for label, value in (("Certified radius (ℓ2)", direct.radius),
                         ("R_σ (σ-estimator)", direct.r_sel), ("R_c (classifier)", direct.r_c),
                         ("p̲_A (σ-estimator)", direct.p_a_lower_sel),
                         ("p̲_A (classifier)", direct.p_a_lower_c)):
        assert exact[label] == pytest.approx(value, rel=1e-12), label
    assert exact["Certified radius (ℓ2)"] == pytest.approx(
        min(exact["R_σ (σ-estimator)"], exact["R_c (classifier)"]), rel=1e-9)
    # the α/2 + α/2 split, recomputed from the displayed votes: R = σ Φ⁻¹(p̲_A at α/2)
    selection, classification = check_stage_rows(
        at, (card.sigma_e, direct.selected), (direct.r_sel, direct.r_c), rel=1e-9)
    assert selection["model"] == "mnist-sigma-estimator"
    assert classification["model"] == EXPERTS[list(card.levels).index(direct.selected)]
    text = markdown(at)
    fmt = fig_common.fmt
    assert f"min(R_σ, R_c) = min({fmt(direct.r_sel, 3)}, {fmt(direct.r_c, 3)})" in text
    assert "α/2 = 0.0005" in text and ":green-badge[sound]" in text and direct.note in text
    assert "Not available for" not in text
    assert [b.key for b in at.button] == ["cert_run", "cert_audit"]   # audited on demand
    assert set(chart_keys(at)) == {"cert_votes_sigma", "cert_votes", "cert_scale_budgets"}

    # downloads carry both radii, the level, both p̲_A and the α split
    result = jobs.result_of(job)
    data = json.loads(cached_certify.two_stage_json(result))
    assert data["r_sigma"] == direct.r_sel and data["r_c"] == direct.r_c
    assert data["level"] == direct.selected and data["soundness"] == "sound"
    assert data["selection"]["alpha"] == data["classification"]["alpha"] == 0.0005
    assert data["experts"] == list(EXPERTS) and data["seed"] == 0
    row = cached_certify.two_stage_row(result, tuple("0123456789"))
    (parsed,) = csv.DictReader(io.StringIO(fig_common.csv_text([row])))
    for name in ("radius", "r_sigma", "r_c", "level", "p_a_lower_sigma", "p_a_lower_c"):
        assert float(parsed[name]) == pytest.approx(direct.to_dict()[name], rel=1e-12), name
    assert float(parsed["alpha_sigma"]) == float(parsed["alpha_c"]) == 0.0005
    assert parsed["soundness"] == "sound" and parsed["prediction_name"] == "7"

    # back to standard RS: the Dual RS result is stale (mode); a cached rerun of Dual RS
    at.radio(key="cert_mode").set_value("standard").run()
    assert ":orange-badge[stale]" in markdown(at) and "(mode)" in markdown(at)
    at.radio(key="cert_mode").set_value("dual").run()
    assert ":violet-badge[cached]" in markdown(at) and job_of(at) is job


def chart_keys(at: AppTest) -> list[str]:
    return [element.proto.id.split("-", 2)[2] for element in at.get("plotly_chart")]


def test_teaching_mode_hides_two_stage_internals_and_uses_plain_words():
    at = open_dual()
    at.toggle(key="teaching").set_value(True).run()
    certify(at, n0=20, n=200)
    cert = job_of(at).result
    shown = metrics(at)
    assert "R_σ (σ-estimator)" not in shown and "p̲_A (σ-estimator)" not in shown
    assert not [d for d in at.dataframe if "stage" in d.value.columns]   # no stage table
    text = markdown(at)
    assert "α/2 = " not in text and "min(R_σ, R_c) = min(" not in text and cert.note not in text
    assert "holds for the classifier as deployed" in text
    fmt = fig_common.fmt
    assert (f"The noise-level chooser keeps choosing σ = {cert.selected:g} for every image "
            f"within {fmt(cert.r_sel, 3)} of this one") in text
    assert f"the smaller distance, {fmt(cert.radius, 3)}" in text
    # standard RS: plain labels, the symbol and its meaning on hover
    at.radio(key="cert_mode").set_value("standard").run()
    certify(at, n0=20, n=200)
    labels = {m.label: m.help for m in at.metric}
    assert labels["Guaranteed share"].startswith("p̲_A: A lower bound on p_A")
    assert labels["Certified radius"].startswith("R: No perturbation")
    assert "noisy copies voted 7" in markdown(at) and "p̂_A =" not in markdown(at)


def test_dual_rs_bad_combinations_are_explained():
    at = open_dual()
    # a non-MNIST image: said so, and Certify is disabled
    at.selectbox(key="cert_dataset").select("cifar10").run()
    assert at.button(key="cert_run").disabled
    assert any(w.value.startswith("Dual RS with mnist-sigma-estimator takes MNIST images only")
               and "CIFAR-10 image" in w.value
               for w in at.warning)
    at.selectbox(key="cert_dataset").select("mnist").run()
    assert not at.button(key="cert_run").disabled and not at.warning
    # an expert with a learned NPG: the engine's refusal, and Certify is disabled
    at.selectbox(key="cert_expert_0.5").select("mnist-universal-0.50").run()
    assert at.button(key="cert_run").disabled
    assert any("cannot be used for Dual RS" in w.value and "learned universal NPG" in w.value
               for w in at.warning)
    # an isotropic expert trained at another σ: allowed, with a note
    at.selectbox(key="cert_expert_0.5").select("mnist-gaussian-1.00").run()
    assert not at.button(key="cert_run").disabled
    assert "mnist-gaussian-1.00 was trained at σ = 1: at σ = 0.5" in markdown(at)
    # invalid sampling is refused at the controls as in standard RS, before Certify
    at.number_input(key="cert_n0").set_value(300)
    at.number_input(key="cert_n").set_value(200).run()
    assert any("n0 (300) must not exceed n (200)" in e.value for e in at.error)
    assert at.button(key="cert_run").disabled


def test_dual_rs_on_cifar10_with_its_own_estimator():
    at = open_dual()
    at.selectbox(key="cert_estimator").select("cifar10-sigma-estimator").run()
    at.selectbox(key="cert_dataset").select("cifar10").run()
    experts = ("cifar10-gaussian-0.25", "cifar10-gaussian-0.50", "cifar10-gaussian-1.00")
    assert tuple(at.selectbox(key=f"cert_expert_{level}").value
                 for level in ("0.25", "0.5", "1")) == experts
    assert not at.button(key="cert_run").disabled and not at.warning
    certify(at, n0=20, n=200)
    assert not at.error
    dual, _ = load_dual("cifar10-sigma-estimator", list(experts))
    x = torch.from_numpy(cached_images.bundled_model_input("cifar10-0000", (3, 32, 32)).pixels)
    direct = dual.certify(x, 20, 200, 0.001, 1000, seed=0)
    cert = job_of(at).result
    for name in ("prediction", "selected", "radius", "r_sel", "r_c"):
        assert getattr(cert, name) == getattr(direct, name) or (
            math.isnan(getattr(cert, name)) and math.isnan(getattr(direct, name))), name
    assert cert.selection.counts == direct.selection.counts


# ---------------------------------------------------------------------------------- routing

UPPER = "min(R_sel, ALM)"


def open_routing(selector: str | None = None) -> AppTest:
    at = open_certify()
    at.radio(key="cert_mode").set_value("routing").run()
    assert not at.exception, at.exception
    if selector is not None:
        at.selectbox(key="cert_selector").select(selector).run()
    return at


def test_routing_lists_the_bundled_selectors_and_explains_itself():
    at = open_routing()
    selectors = at.selectbox(key="cert_selector")
    assert selectors.options == ["mnist-route-alm", "mnist-route-l2"]   # not the σ-estimator
    assert selectors.value == "mnist-route-alm"
    text = markdown(at)
    assert "**MNIST** · 8 fixed configurations · trained to pick by ALM · smoothed with σ_s = 1" \
        in text
    (menu,) = [d.value for d in at.dataframe if "configuration" in d.value.columns]
    assert list(menu["configuration"]) == ["isotropic", "pattern-l1", "pattern-l2",
                                           "pattern-linf", "universal", "cluster-1",
                                           "cluster-2", "cluster-3"]
    assert image_caption(at).endswith("MNIST 7 (mnist-0000)")
    assert not any("What sound routing certifies" in i.value for i in at.info)
    # teaching mode explains what routing certifies
    at.toggle(key="teaching").set_value(True).run()
    (info,) = [i.value for i in at.info if "What sound routing certifies" in i.value]
    # in plain words: the guarantee without its symbols
    assert "smaller of the two guaranteed distances" in info and "fixed in advance" in info
    assert not any(symbol in info for symbol in ("R_", "ALM", "σ", "α"))
    assert "cert_seed" not in [n.key for n in at.number_input]


def test_routing_result_equals_engine_and_downloads():
    at = open_routing("mnist-route-l2")
    assert not at.button(key="cert_run").disabled and not at.warning
    certify(at, n0=20, n=200)
    assert not at.error
    job = job_of(at)
    assert isinstance(job.settings, choices.RoutingSettings)
    assert job.done == job.total == 440
    router, card = load_router("mnist-route-l2")
    x = torch.from_numpy(cached_images.bundled_model_input("mnist-0000", (1, 28, 28)).pixels)
    direct = router.certify(x, 20, 200, 0.001, 1000, seed=0)
    cert = job.result
    for name in ("prediction", "selected", "radius", "r_sel", "r_c", "alm", "alm_c", "alm_upper",
                 "p_a_lower_sel", "p_a_lower_c"):
        assert getattr(cert, name) == getattr(direct, name), name
    assert cert.selection.counts == direct.selection.counts
    assert direct.selected != "abstain" and not direct.abstained

    shown, exact = metrics(at), exact_metrics(at)
    assert shown["Prediction"] == "7" and shown["Selected configuration"] == direct.selected
    for label, value in (("Certified radius (ℓ2)", direct.radius), ("R_sel (selector)", direct.r_sel),
                         ("R_c (classifier)", direct.r_c), ("Certified ALM", direct.alm),
                         (UPPER, direct.alm_upper), ("ALM of the configuration", direct.alm_c),
                         ("p̲_A (selector)", direct.p_a_lower_sel),
                         ("p̲_A (classifier)", direct.p_a_lower_c)):
        assert exact[label] == pytest.approx(value, rel=1e-12), label
    assert exact["Certified radius (ℓ2)"] == pytest.approx(
        min(exact["R_sel (selector)"], exact["R_c (classifier)"]), rel=1e-9)
    assert exact[UPPER] == pytest.approx(
        min(exact["R_sel (selector)"], exact["ALM of the configuration"]), rel=1e-9)
    assert exact["Certified ALM"] <= exact[UPPER]
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas[UPPER] == "upper bound, not certified"
    assert deltas["Certified ALM"] == "certified, a size"
    # both radii recomputed from the displayed votes at α/2: R_sel = σ_s Φ⁻¹(p̲), and
    # R_c = σ·min sᵢ·Φ⁻¹(p̲) of the selected configuration (its card's map statistics)
    entry = next(e for e in card.menu if e["name"] == direct.selected)
    selection, classification = check_stage_rows(
        at, (card.sigma_e, entry["sigma"] * entry["scale_min"]), (direct.r_sel, direct.r_c),
        rel=1e-6)
    assert selection["model"] == "mnist-route-l2" and selection["outcome"] == direct.selected
    assert classification["model"] == entry["model"] and classification["outcome"] == "7"
    text = markdown(at)
    fmt = fig_common.fmt
    assert f"min(R_sel, R_c) = min({fmt(direct.r_sel, 3)}, {fmt(direct.r_c, 3)})" in text
    assert f"**Selected configuration: {direct.selected}** · {entry['source']}" in text
    assert f"= `{fmt(direct.alm_upper, 3)}` :orange-badge[upper bound, not certified]" in text
    assert f"Certified ALM = `{fmt(direct.alm, 3)}` :blue-badge[sound]" in text
    assert ":green-badge[sound]" in text and direct.note in text
    assert "Attacked: the deployed two-stage classifier (the smoothed selector picks a " \
        "configuration" in text
    # the figures: both stages' votes and the selected configuration's σ and μ maps
    specs = chart_specs(at)
    assert set(specs) == {"cert_votes_sel", "cert_votes", "cert_route_sigma", "cert_route_mu",
                          "cert_scale_budgets"}
    assert specs["cert_votes_sel"]["data"][0]["x"] == list(router.names)
    assert as_array(specs["cert_votes_sel"]["data"][0]["customdata"]).sum() == 200
    noise = router.stages[router.names.index(direct.selected)].noise
    np.testing.assert_allclose(as_array(specs["cert_route_sigma"]["data"][0]["z"]).ravel(),
                               noise.std_map().numpy(), rtol=1e-6)
    np.testing.assert_allclose(as_array(specs["cert_route_mu"]["data"][0]["z"]).ravel(),
                               noise.shift.numpy().ravel(), rtol=1e-6, atol=1e-7)

    # downloads: both radii, the configuration, the ALMs labelled, the α split
    result = jobs.result_of(job)
    data = json.loads(cached_certify.two_stage_json(result))
    assert data["config"] == direct.selected and data["selector"] == "mnist-route-l2"
    assert data["r_sel"] == direct.r_sel and data["r_c"] == direct.r_c
    assert data["alm"] == direct.alm and data["alm_upper"] == direct.alm_upper
    assert data["alm_upper_kind"] == "upper bound, not certified"
    assert data["selection"]["alpha"] == data["classification"]["alpha"] == 0.0005
    assert data["soundness"] == "sound" and data["seed"] == 0
    (parsed,) = csv.DictReader(io.StringIO(fig_common.csv_text(
        [cached_certify.two_stage_row(result, tuple("0123456789"))])))
    for name in ("radius", "r_sel", "r_c", "alm", "alm_c", "alm_upper", "p_a_lower_sel",
                 "p_a_lower_c"):
        assert float(parsed[name]) == pytest.approx(getattr(direct, name), rel=1e-12), name
    assert parsed["config"] == direct.selected and parsed["selector"] == "mnist-route-l2"
    assert float(parsed["alpha_sel"]) == float(parsed["alpha_c"]) == 0.0005
    assert sum(int(c) for c in parsed["counts_sel"].split()) == 200
    assert parsed["alm_upper_kind"] == "upper bound, not certified"
    assert parsed["menu"].split() == list(router.names)
    assert {d.proto.label for d in at.get("download_button")} == {"Download JSON",
                                                                  "Download CSV"}

    # another selector: stale (selector); back: cached, nothing sampled again
    at.selectbox(key="cert_selector").select("mnist-route-alm").run()
    assert ":orange-badge[stale]" in markdown(at) and "(selector)" in markdown(at)
    at.selectbox(key="cert_selector").select("mnist-route-l2").run()
    assert ":violet-badge[cached]" in markdown(at) and job_of(at) is job


def test_routing_abstains_with_too_few_samples():
    at = certify(open_routing(), n0=5, n=5)
    assert not at.error
    cert = job_of(at).result
    assert cert.selected == "abstain" and cert.classification is None   # p̲ ≤ 0.5^(…) at n = 5
    shown = metrics(at)
    assert shown["Selected configuration"] == "abstain" and shown["Prediction"] == "abstain"
    assert shown["R_c (classifier)"] == "not reached" and float(shown["Certified radius (ℓ2)"]) == 0
    assert any(w.value.startswith("Abstain: the smoothed selector selects no configuration")
               for w in at.warning)
    assert set(chart_specs(at)) == {"cert_votes_sel"}                # no maps, no stage 2


def test_routing_url_state_reproduces_the_run():
    params = {"cert_mode": "Sound routing", "cert_selector": "mnist-route-l2",
              "cert_image_mnist": "#0001 · 2", "cert_n0": "20", "cert_n": "200", "cert_seed": "3"}
    at = open_with_params("certify", params)
    _OPENED.append(at)
    assert at.radio(key="cert_mode").value == "routing"
    assert at.selectbox(key="cert_selector").value == "mnist-route-l2"
    at.button(key="cert_run").click().run()
    wait_job(at)
    settings = job_of(at).settings
    assert settings == choices.RoutingSettings(
        selector_id="mnist-route-l2", image_key="bundled:mnist-0001", n0=20, n=200,
        alpha=0.001, batch_size=1000, seed=3, device=available_devices()[0])
    assert metrics(at)["Prediction"] == "2"                             # the bundled MNIST 2
    assert "Sound routing: mnist-route-l2 · bundled image mnist-0001" in markdown(at)


def test_routing_refuses_images_it_cannot_certify():
    at = open_routing()
    # a CIFAR-10 (RGB) image for the MNIST selector: said so, and Certify is disabled
    at.selectbox(key="cert_dataset").select("cifar10").run()
    assert at.button(key="cert_run").disabled
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("Sound routing with mnist-route-alm takes MNIST images only: the "
                              "bundled selector "
                              "mnist-route-alm and its menu's models are MNIST models")
    assert "is a CIFAR-10 image (32×32 colour)" in warning
    at.selectbox(key="cert_dataset").select("mnist").run()
    assert not at.button(key="cert_run").disabled and not at.warning
    # an upload: a file that is not an image is refused; a colour one is converted, as shown
    at.radio(key="cert_source").set_value("Upload").run()
    at.file_uploader(key="cert_upload").set_value(("x.png", b"not an image", "image/png")).run()
    assert not at.exception
    assert any("Upload refused" in e.value and "not a readable PNG or JPEG" in e.value
               for e in at.error)
    at.file_uploader(key="cert_upload").set_value(("rgb.png", png_bytes(48, 40),
                                                    "image/png")).run()
    assert "1×28×28 (converted from 48×40 colour)" in image_caption(at)
    assert not at.button(key="cert_run").disabled


def test_routing_settings_key_and_differences():
    base = {"image_key": "bundled:mnist-0000", "n0": 20, "n": 200, "alpha": 0.001,
            "batch_size": 100, "seed": 0, "device": "cpu"}
    a = choices.RoutingSettings(selector_id="mnist-route-alm", **base)
    b = choices.RoutingSettings(selector_id="mnist-route-l2", **base)
    dual = choices.DualSettings(estimator_id="mnist-sigma-estimator", expert_ids=EXPERTS, **base)
    assert a.key() != b.key() and a.key() != dual.key()
    assert b.differences(a) == ["selector"] and a.differences(dual) == ["mode"]
    assert a.samples == dual.samples == 440
    assert a.models() == {"selector": "mnist-route-alm"}


# ---------------------------------------------------------------------------------- audit


def test_audit_button_shows_a_verdict():
    at = certify(open_certify(), n0=20, n=200)
    text = markdown(at)
    budget = jobs.AUDIT_BUDGET
    assert f"n_verify = {budget.n_verify:,} fresh samples" in text
    assert f"PGD {budget.restarts} random starts × {budget.steps} steps" in text
    assert "cert_audit_region" not in [r.key for r in at.radio]  # isotropic: the ℓ2 ball
    certificate_job = job_of(at)
    at.button(key="cert_audit").click().run()
    wait_job(at, timeout=120)
    audit = job_of(at)
    assert isinstance(audit, jobs.AuditJob) and audit.target == certificate_job.key
    evidence = audit.result
    assert isinstance(evidence, AttackEvidence)
    result = evidence.audit
    assert result.attacked and result.region == "ball" and result.target == "deployed"
    assert result.radius == pytest.approx(certificate_job.result.radius)
    assert result.n_verify == budget.n_verify and result.region_norm <= 1 + 1e-6
    # progress reached the end: the audit (steps + 3), the base attacks, the audit beyond R
    assert audit.done == audit.total == evidence_units(budget) == 6 * budget.steps + 6
    upper = check_audit_verdict(at, result, budget.alpha, "Verified p̄_c")
    assert (upper < 0.5) == result.violation
    assert metrics(at)["Prediction"] == "7"                          # the certificate stays
    check_attack_pictures(at, evidence)


def check_attack_pictures(at: AppTest, evidence: AttackEvidence) -> None:
    """The attack you can see: x, the worst x′, δ amplified with its norm and R, the votes at
    x′, the base classifier's attack and the attack beyond R, each image a PNG of the digit."""
    worst, base = evidence.worst, evidence.base
    assert worst is not None and base is not None and evidence.beyond_worst is not None
    captions = {i.captions[0]: i for i in at.get("image") if i.captions}
    assert "x: the certified input (7)" in captions
    assert f"x′ = x + δ: smoothed says {worst.top_class}" in captions
    factor = amplification(worst.point.delta, base.point.delta)      # both δ within R
    shown = f"δ ×{factor} (‖δ‖ = {worst.point.delta_norm:.3g} ≤ R = {evidence.audit.radius:.3g})"
    assert shown in captions and worst.point.delta_norm <= evidence.audit.radius * (1 + 1e-6)
    urls = [captions[c].value[0] for c in ("x: the certified input (7)", shown)]
    assert all(urls) and len(set(urls)) == 2                       # two different images
    text = markdown(at)
    assert f"‖δ‖₂ = {fig_common.fmt(worst.point.delta_norm, 3)} (at most " in text
    assert "Inside the certified ℓ2 ball" in text and "**unprotected**" in text
    assert f"{evidence.factor:g}R" in text and "nothing is promised there" in text
    assert "evidence, not proof" in text
    specs = chart_specs(at)
    inside, beyond = specs["cert_attack_votes"], specs["cert_attack_votes_beyond"]
    assert inside["layout"]["title"]["text"] == "Smoothed votes at x′"
    assert [int(v) for v in as_array(inside["data"][0]["customdata"])] == list(worst.counts)
    assert ([int(v) for v in as_array(beyond["data"][0]["customdata"])]
            == list(evidence.beyond_worst.counts))


def test_delta_is_amplified_for_the_eye_and_counted_in_grey_levels():
    delta = np.array([[[0.0, 0.02, -0.01]]], dtype=np.float32)
    assert amplification(delta) == 20                      # 20 · 0.02 ≤ ½ < 50 · 0.02
    assert amplification(delta, 3 * delta) == 5            # one factor for both
    assert amplification(np.zeros((1, 2, 2))) == 1
    assert np.allclose(delta_image(delta, 20), [[[0.5, 0.9, 0.3]]])
    assert np.allclose(delta_image(delta, 50), [[[0.5, 1.0, 0.0]]])  # clipped for display
    assert grey_levels(delta) == (5, 2)                    # 0.02 · 255 = 5.1; two values ≥ 1


def check_audit_verdict(at: AppTest, result: AuditResult, alpha: float, label: str) -> float:
    """The shown outcome of a finished audit of the bundled 7: the metric ``label`` (p̄_c)
    recomputed from the displayed votes (one-sided Clopper–Pearson at ``alpha``), PREDICT
    changed, one verdict box, no second Audit button; returns the recomputed p̄_c."""
    shown = metrics(at)
    votes = re.search(r"Votes for 7 at the worst point x′[^:]*: ([\d,]+) of ([\d,]+)",
                      markdown(at))
    k, n = (int(v.replace(",", "")) for v in votes.groups())
    assert n == jobs.AUDIT_BUDGET.n_verify
    upper = 1.0 if k == n else beta.ppf(1 - alpha, k + 1, n - k)
    assert exact_metrics(at)[label] == pytest.approx(upper, abs=1e-9)
    assert shown[label] == fig_common.fmt_p(result.p_upper)
    assert shown["PREDICT changed"] == ("no" if not result.changed else
                                        f"yes → {result.top_class}")
    verdict = [s.value for s in at.success] + [e.value for e in at.error]
    assert len(verdict) == 1 and verdict[0].startswith(
        "**Violation**" if result.violation else "**No violation found**")
    assert "No violation found is evidence, not proof" in markdown(at)
    assert not [b for b in at.button if b.key == "cert_audit"]      # cached: no second run
    return upper


def audit_two_stage_on_page(at: AppTest, selector: str,
                            r_sel: str) -> tuple[TwoStageCertificate, AuditResult]:
    """Certify the bundled 7 (n0 = 20, n = 200) in a two-stage mode, audit it from the page
    and check the shown outcome against the job's result: both stages' bounds (p̄_c from the
    displayed votes at α_audit/2), the verdict and the claim audited; returns (certificate,
    audit result)."""
    certify(at, n0=20, n=200)
    cert = job_of(at).result
    budget = jobs.AUDIT_BUDGET
    text = markdown(at)
    assert (f"n_verify = {budget.n_verify:,} fresh samples per stage at α_audit/2 = "
            f"{budget.alpha / 2:g} each") in text
    assert (f"on the ℓ2 ball of the certified radius min({r_sel}, R_c) = "
            f"{fig_common.fmt(cert.radius, 3)}" in text)
    at.button(key="cert_audit").click().run()
    wait_job(at, timeout=180)
    audit = job_of(at)
    assert isinstance(audit, jobs.AuditJob) and audit.cancelled is False
    assert audit.done == audit.total == 2 * (budget.steps + 1) + 4
    evidence = audit.result
    assert isinstance(evidence, TwoStageEvidence)
    result = evidence.audit
    assert result.attacked and (result.norm, result.region) == ("2", "ball")
    assert (result.certified, result.selected) == (cert.prediction, cert.selection.prediction)
    assert result.radius == pytest.approx(cert.radius) and result.region_norm <= 1 + 1e-6
    upper = check_audit_verdict(at, result, budget.alpha / 2, "Verified p̄_c (classifier)")
    p_sel = exact_metrics(at)[f"Verified p̄_sel ({selector})"]
    assert p_sel == pytest.approx(result.p_upper_selection, abs=1e-12) and 0 < p_sel <= 1
    assert result.violation == (min(upper, p_sel) < 0.5)
    verdict = [s.value for s in at.success] + [e.value for e in at.error]
    if not result.violation:
        assert (f"p̄_sel = {fig_common.fmt_p(p_sel)}, p̄_c = {fig_common.fmt_p(result.p_upper)} "
                "≥ ½") in verdict[0]
    assert "deployed two-stage classifier" in markdown(at)
    check_two_stage_pictures(at, evidence, cert)
    return cert, result


def check_two_stage_pictures(at: AppTest, evidence: TwoStageEvidence,
                             cert: TwoStageCertificate) -> None:
    """The attack you can see on a two-stage certificate: x, the worst x′ (what the deployed
    classifier says there), δ amplified with its norm and R, and both stages' votes at x′."""
    worst = evidence.worst
    assert worst is not None
    captions = {i.captions[0]: i for i in at.get("image") if i.captions}
    assert "x: the certified input (7)" in captions
    assert f"x′ = x + δ: deployed says {worst.top_class}" in captions
    factor = amplification(worst.point.delta)
    shown = f"δ ×{factor} (‖δ‖ = {worst.point.delta_norm:.3g} ≤ R = {evidence.audit.radius:.3g})"
    assert shown in captions and worst.point.delta_norm <= cert.radius * (1 + 1e-6)
    urls = [captions[c].value[0] for c in ("x: the certified input (7)", shown)]
    assert all(urls) and len(set(urls)) == 2
    text = markdown(at)
    assert f"‖δ‖₂ = {fig_common.fmt(worst.point.delta_norm, 3)} (at most " in text
    assert "deployed two-stage classifier" in text and "evidence, not proof" in text
    counts = evidence.selection_counts
    assert f"{max(counts):,} of {sum(counts):,} fresh votes" in text     # the selector's top
    specs = chart_specs(at)
    votes, selection = specs["cert_attack_votes"], specs["cert_attack_votes_selection"]
    assert votes["layout"]["title"]["text"] == "Deployed classifier's votes at x′"
    assert [int(v) for v in as_array(votes["data"][0]["customdata"])] == list(worst.counts)
    assert [int(v) for v in as_array(selection["data"][0]["customdata"])] == list(counts)


def test_dual_rs_audit_checks_both_stages():
    at = open_dual()
    cert, result = audit_two_stage_on_page(at, "σ-estimator", "R_σ")
    assert result.target == "dual-rs"
    assert f"by the selected level σ = {cert.selected:g}'s classifier" in markdown(at)
    # the engine, asked directly about the certificate's claim, finds the same
    dual, _ = load_dual("mnist-sigma-estimator", list(EXPERTS))
    x = torch.from_numpy(cached_images.bundled_model_input("mnist-0000", (1, 28, 28)).pixels)
    assert result == audit_two_stage(dual, x, cert.selection.prediction, cert.prediction,
                                     claimed_region(dual.selector.noise, cert.radius, "2"),
                                     jobs.AUDIT_BUDGET, seed=0, target="dual-rs")


def test_routing_audit_checks_both_stages():
    at = open_routing("mnist-route-l2")
    cert, result = audit_two_stage_on_page(at, "selector", "R_sel")
    assert result.target == "routing" and cert.menu[result.selected] == cert.selected
    assert f"by the selected configuration {cert.selected}'s classifier" in markdown(at)


def test_audit_progress_and_cancel(monkeypatch):
    at = certify(open_certify(), n0=20, n=200)
    endless = AttackBudget(steps=100_000, restarts=1, draws=4, directions=0, screen=10,
                           n_verify=100)
    monkeypatch.setattr(jobs, "AUDIT_BUDGET", endless)
    at.run()
    assert "PGD 1 random starts × 100000 steps" in markdown(at)
    total = f"{evidence_units(endless):,}"                          # 600,006 steps in all
    at.button(key="cert_audit").click().run()
    audit = job_of(at)
    assert isinstance(audit, jobs.AuditJob) and audit.running
    deadline = time.monotonic() + 60
    while audit.done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    (bar,) = at.get("progress")
    assert re.fullmatch(rf"Auditing the certificate: [\d,]+ / {total} steps", bar.proto.text)
    assert at.button(key="cert_audit").disabled                      # one job at a time
    at.button(key="cert_cancel").click().run()
    wait_job(at, timeout=30)
    assert audit.cancelled and audit.result is None and 0 < audit.done < audit.total
    (warning,) = [w.value for w in at.warning]
    assert re.match(rf"Audit cancelled after [\d,]+ / {total} steps \([\d.]+ s\): no verdict "
                    r"for this run\.$", warning)
    assert not at.success and not at.error and not at.get("progress")
    assert not at.button(key="cert_audit").disabled                  # can be started again
    assert metrics(at)["Prediction"] == "7"


@pytest.mark.parametrize(("text", "seconds"), [(None, 30.0), ("2", 2.0), ("0.5", 0.5),
                                                ("abc", 30.0), ("0", 30.0), ("-1", 30.0),
                                                ("inf", 30.0), ("nan", 30.0)])
def test_session_timeout_from_the_environment(text, seconds):
    assert jobs.session_timeout(text) == seconds


# ---------------------------------------------------------------------------------- closed tab


def test_job_without_heartbeat_cancels_itself():
    model, _ = load_model("mnist-gaussian-0.25")
    x = torch.from_numpy(cached_images.bundled_model_input("mnist-0000", (1, 28, 28)).pixels)
    noise = build_noise("gaussian", 0.25, (1, 28, 28))
    gone = jobs.CertifyJob(_settings(n=100_000, n0=100), SmoothedClassifier(model, noise, 10),
                               x, noise, alive=lambda: False, timeout=0.3).start()
    assert gone.wait(30)
    assert gone.cancelled and gone.abandoned and gone.result is None
    assert 0 < gone.done < gone.total and gone.elapsed >= 0.3
    # a connected session refreshes the heartbeat: the same timeout never stops the job
    alive = jobs.CertifyJob(_settings(n=2000, n0=100), SmoothedClassifier(model, noise, 10),
                                x, noise, alive=lambda: True, timeout=0.01).start()
    assert alive.wait(60) and alive.result is not None and not alive.abandoned
    assert alive.elapsed > 0.01


def test_session_probe_asks_the_runtime(monkeypatch):
    assert jobs.session_probe()()                    # no script context: always alive
    active = {"tab-1"}

    class FakeRuntime:
        @staticmethod
        def is_active_session(session_id: str) -> bool:
            return session_id in active

    monkeypatch.setattr(jobs, "get_script_run_ctx",
                        lambda: type("Ctx", (), {"session_id": "tab-1"})())
    monkeypatch.setattr(jobs.runtime, "exists", lambda: True)
    monkeypatch.setattr(jobs.runtime, "get_instance", lambda: FakeRuntime)
    probe = jobs.session_probe()
    assert probe()
    active.clear()                                       # the tab was closed
    assert not probe()


def test_mode_switch_keeps_the_standard_settings():
    at = open_certify()
    at.selectbox(key="cert_model").select("mnist-gaussian-0.50").run()
    at.checkbox(key="cert_override").check().run()
    at.number_input(key="cert_sigma_mnist-gaussian-0.50").set_value(0.7).run()
    at.selectbox(key="cert_npg_mnist-gaussian-0.50").select("pattern-1").run()
    at.radio(key="cert_mode").set_value("dual").run()
    assert "cert_model" not in [s.key for s in at.selectbox] and not at.checkbox
    at.radio(key="cert_mode").set_value("standard").run()
    assert at.selectbox(key="cert_model").value == "mnist-gaussian-0.50"
    assert at.checkbox(key="cert_override").value
    assert at.number_input(key="cert_sigma_mnist-gaussian-0.50").value == pytest.approx(0.7)
    assert at.selectbox(key="cert_npg_mnist-gaussian-0.50").value == "pattern-1"
