"""The photo models (denoised smoothing, ImageNet) in the app, through Streamlit's AppTest: the
Certify page's model families, the sampling defaults that follow the model, the notes on the
224×224 input, σ and uploads; Learn's walk-through and the Region check at a photo model's own
sizes; one small certificate of a bundled photo (an ImageNet class name, a radius with its
kind)."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from urllib.parse import parse_qsl

import pytest
from apptest_helpers import as_array, chart_specs, open_page, open_with_params, text, wait_for_job
from PIL import Image

from app import jobs, state
from app.cached import learn
from app.cached import models as cached_models
from app.cached.models import quick_on_cpu
from app.cached.region import check_models
from app.choices import MODEL_FAMILIES, PHOTOS, CertifySettings, NoiseChoice
from app.figures.common import fmt, fmt_rate, kind_badge
from app.figures.scale import grey
from app.jobs import AUDIT_BUDGET
from app.panels import region_check
from app.panels.audit import slow_audit
from ucan_core.zoo.bundled import list_images, model_card
from ucan_core.zoo.denoised import MAX_BATCH
from ucan_core.zoo.imagenet import IMAGENET_CLASSES

PHOTO_MODEL = "imagenet-denoised-0.25"
JOB = "certify_job"


@pytest.fixture(autouse=True)
def _no_leftover_job():
    """A failing test must not leave a photo certification hogging the CPU."""
    opened = []
    yield opened
    for at in opened:
        job = at.session_state.get(JOB, None)
        if job is not None:
            job.cancel()
            job.wait(60)


def sampling(at) -> tuple[int, int, float, int]:
    return tuple(at.number_input(key=f"cert_{k}").value for k in ("n0", "n", "alpha", "batch"))


def image_caption(at) -> str:
    return next(i.captions[0] for i in at.get("image")
                if i.captions and i.captions[0].startswith("As the model sees it"))


def jpeg_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_sampling_defaults_come_from_the_card():
    card = model_card(PHOTO_MODEL)
    recorded = card.metrics["certify"]
    assert cached_models.sampling_defaults(card) == {
        **cached_models.SAMPLING, "n0": recorded["n0"], "n": recorded["n"],
        "alpha": recorded["alpha"], "batch": MAX_BATCH}
    assert (recorded["n0"], recorded["n"], MAX_BATCH) == (16, 100, 16)
    assert cached_models.sampling_defaults(model_card("mnist-gaussian-0.25")) == \
        cached_models.SAMPLING
    assert cached_models.sampling_defaults(None) == cached_models.SAMPLING
    # the photo models are slow on a CPU by their card's measured rate; the small ones are not
    assert not cached_models.quick_on_cpu(card, 1_000)
    assert cached_models.quick_on_cpu(card, 10)
    assert cached_models.quick_on_cpu(model_card("cifar10-gaussian-0.25"), 100_000)


def test_photo_family_switches_model_image_and_defaults(_no_leftover_job):
    at = open_page("certify")
    family = at.radio(key="cert_family")
    assert family.value == "mnist"
    assert list(family.options) == [MODEL_FAMILIES[d] for d in ("mnist", "cifar10", PHOTOS)]
    assert sampling(at) == (100, 10_000, pytest.approx(0.001), 1000)

    family.set_value(PHOTOS).run()
    assert not at.exception and not at.error
    model = at.selectbox(key="cert_model")
    assert model.value == PHOTO_MODEL
    assert set(model.options) == {"imagenet-denoised-0.12", PHOTO_MODEL}
    assert at.selectbox(key="cert_image_imagenet").value == "imagenet-01"
    assert sampling(at) == (16, 100, pytest.approx(0.001), 16)
    page = text(at)
    assert "**ImageNet**" in page and "σ = 0.25" in page
    assert ("the radius is in [0, 1] pixel units of the 224×224 image the classifier "
            "receives") in page
    assert "**Photos** are resized to 224×224" in page
    assert "1,000 ImageNet classes" in page and "n0 = 16, n = 100" in page
    caption = image_caption(at)
    assert list_images()["imagenet-01"].load().size == (512, 512)
    assert caption.startswith("As the model sees it: 3×224×224 (converted from 512×512 "
                              "colour). Radii are in [0, 1] pixel units of this 224×224 image.")
    assert "folding chair" in caption
    # the learned-NPG option is only for models that have one
    assert "learned" not in at.selectbox(key=f"cert_npg_{PHOTO_MODEL}").options

    # within the family, a value the user typed stays
    at.number_input(key="cert_n").set_value(40).run()
    at.selectbox(key="cert_model").select("imagenet-denoised-0.12").run()
    assert sampling(at) == (16, 40, pytest.approx(0.001), 16)
    assert "σ = 0.12" in text(at)

    # back to digits: the digit model and its defaults
    at.radio(key="cert_family").set_value("mnist").run()
    assert not at.exception
    assert at.selectbox(key="cert_model").value == "mnist-gaussian-0.25"
    assert sampling(at) == (100, 10_000, pytest.approx(0.001), 1000)
    assert "**Photos** are resized" not in text(at)


def test_a_link_to_a_photo_model_opens_its_family_and_keeps_its_n():
    at = open_with_params("certify", {"cert_model": "imagenet-denoised-0.12", "cert_n": "40"})
    assert not at.error
    assert at.radio(key="cert_family").value == PHOTOS
    assert at.selectbox(key="cert_model").value == "imagenet-denoised-0.12"
    assert sampling(at) == (16, 40, pytest.approx(0.001), 16)


def test_sigma_off_the_denoiser_level_is_marked_with_the_engines_reason():
    at = open_with_params("certify", {"cert_model": PHOTO_MODEL})
    at.checkbox(key="cert_override").check().run()
    at.number_input(key=f"cert_sigma_{PHOTO_MODEL}").set_value(0.5).run()
    warnings = " ".join(w.value for w in at.warning)
    assert "above FFDNet's training range" in warnings and "0.294" in warnings
    assert "the certificate is sound" in warnings
    at.number_input(key=f"cert_sigma_{PHOTO_MODEL}").set_value(0.2).run()
    warnings = " ".join(w.value for w in at.warning)
    assert "differs from the denoiser's level 0.25" in warnings
    assert "above FFDNet's training range" not in warnings
    at.number_input(key=f"cert_sigma_{PHOTO_MODEL}").set_value(0.25).run()
    assert "denoiser" not in " ".join(w.value for w in at.warning)


def test_uploads_get_the_note_of_their_model():
    at = open_page("certify")
    at.radio(key="cert_source").set_value("Upload").run()
    at.file_uploader(key="cert_upload").set_value(
        ("my photo.jpg", jpeg_bytes(320, 240), "image/jpeg")).run()
    assert not at.exception and not at.error
    note = " ".join(i.value for i in at.info)
    assert "out of distribution" in note and f"**{MODEL_FAMILIES[PHOTOS]}**" in note
    assert "1×28×28 (converted from 320×240 colour)" in image_caption(at)
    assert "cert_invert" in [c.key for c in at.checkbox]
    at.radio(key="cert_family").set_value(PHOTOS).run()
    assert not at.exception and not at.error
    note = " ".join(i.value for i in at.info)
    assert "one of the 1,000 ImageNet classes" in note and "out of distribution" not in note
    assert "cert_invert" not in [c.key for c in at.checkbox]  # inverting is for digits
    assert image_caption(at).startswith(
        "As the model sees it: 3×224×224 (converted from 320×240 colour). Radii are in "
        "[0, 1] pixel units of this 224×224 image.")
    assert "my photo.jpg" in image_caption(at)


def test_learn_offers_the_photo_models_in_the_background_at_their_own_sizes():
    """Learn runs a photo model at n = 10, 30, then 100 (its Certify n) with the card's n0,
    always as a background job, and says how long it takes at the card's measured rate."""
    at = open_with_params("learn", {"learn_model": PHOTO_MODEL})
    assert not at.exception and not at.error
    assert {"imagenet-denoised-0.12", PHOTO_MODEL} <= set(at.selectbox(key="learn_model").options)
    assert at.selectbox(key="learn_image").value == "imagenet-01"      # Certify's photo
    assert at.select_slider(key="learn_n_imagenet").options == ["100", "300", "1,000"]
    job = at.session_state["learn_job"]
    try:
        assert job.total == (10 + 10) + (16 + 30) + (16 + 100)      # n0 = min(16, n) + n
        rate = model_card(PHOTO_MODEL).metrics["samples_per_second_cpu"]
        page = text(at)
        assert (f"so it runs n = 10, 30, then the final n: 182 samples, up to about "
                f"{10 * round(job.total / rate / 10):,.0f} s on this CPU at the rate its card "
                f"records ({fmt_rate(rate)} samples/s, measured under load)") in page
        assert "appear when CERTIFY at n = 10, 30, 100 has finished." in page
    finally:
        job.cancel()
        job.wait(60)


def test_a_photo_walkthrough_names_imagenet_classes_in_224_pixel_units(monkeypatch):
    """The whole walk-through of a photo model in its background job, at stage sizes made tiny
    for the test (2, then 12: 28 samples; α = 0.01 lets 12 votes certify). The page takes the
    job's outcome once, without starting it again."""
    monkeypatch.setattr(learn, "SLOW_MODEL_STAGES", (2,))
    monkeypatch.setattr(learn, "SLOW_MODEL_FINALS", (12, 24))
    monkeypatch.setattr(cached_models, "CPU_WAIT_S", 1.0)       # 28 samples: not quick
    at = open_with_params("learn", {"learn_model": PHOTO_MODEL, "learn_alpha": "0.01"},
                          timeout=300)
    job = at.session_state["learn_job"]
    assert job.total == 28
    wait_for_job(at, "learn_job", 300)
    at.run()
    assert at.session_state["learn_job"] is job and job.integrated and not job.running
    assert not at.exception and not at.error, [e.value for e in at.error]
    rows = at.dataframe[0].value.to_dict("records")
    assert [(r["n0"], r["n"]) for r in rows] == [(2, 2), (12, 12)]
    votes = chart_specs(at)["learn_monte_carlo"]["data"][0]
    assert len(votes["x"]) == 11 and votes["x"][-1] == "other 990 classes"
    assert as_array(votes["customdata"]).sum() == 12 and votes["x"][0] == "folding chair"
    page = text(at)
    assert "first removes the noise with a denoiser" in page
    assert "d = 150,528 coordinates, one per pixel of the 224×224 image" in page
    assert rows[-1]["k"] == 12 and rows[-1]["radius"] > 0
    assert (f"for every ‖δ‖₂ ≤ **{rows[-1]['radius']:.4g}** ([0, 1] pixel units of the 224×224 "
            "image the classifier receives)") in page


def region_of_a_photo(params: dict[str, str] | None = None):
    """The Region page on the bundled folding chair (512×512, shown at 224×224) at σ = 0.25."""
    return open_with_params("region", {**state.image_params("rg_", "imagenet-01"),
                                       **state.noise_params("rg_", "gaussian", 0.25, "2"),
                                       **(params or {})}, timeout=300)


def test_the_region_check_offers_the_photo_models_at_their_own_sizes():
    at = region_of_a_photo()
    assert not at.exception and not at.error
    assert at.selectbox(key="rg_check_model_224").options == [PHOTO_MODEL,
                                                               "imagenet-denoised-0.12"]
    sampling = jobs.check_sampling(model_card(PHOTO_MODEL))
    assert (sampling.n0, sampling.n, sampling.batch, sampling.points) == (16, 100, MAX_BATCH, 8)
    assert at.select_slider(key="rg_check_points_slow").value == 8
    rate = model_card(PHOTO_MODEL).metrics["samples_per_second_cpu"]
    samples = 16 + 100 + 8 * 100
    assert (f"CERTIFY: n0 = 16, n = 100 · PREDICT: n = 100 at each of 8 points · α = 0.001 · "
            f"seed 0 · CPU · {samples:,} samples (up to about {fmt(samples / rate / 60, 2)} min "
            f"at the rate the card of {PHOTO_MODEL} records") in text(at)
    digits = jobs.check_sampling(model_card("mnist-gaussian-0.25"))
    assert (digits.n0, digits.n, digits.points, digits.slow) == (100, 1000, 16, False)
    non_square = NoiseChoice(density="gaussian", sigma=0.25, shape=(3, 149, 224))
    assert check_models(non_square) == []


def test_a_photo_region_check_runs_the_photo_model(monkeypatch):
    """The whole check on a photo at sizes made tiny for the test (n0 = 2, n = 12, 2 points
    of PREDICT at n = 4: 22 denoised samples)."""
    monkeypatch.setattr(jobs, "check_sampling", lambda card: jobs.CheckSampling(2, 12, 16, 2,
                                                                                True))
    monkeypatch.setattr(region_check, "CHECK_POINTS", [2, 4])
    monkeypatch.setattr(region_check, "CHECK_PREDICT_N", [4, 8])
    at = region_of_a_photo({"rg_p_a": "0.9"})
    at.button(key="rg_check_run").click().run()
    wait_for_job(at, "region_check_job", 300)
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = at.session_state["region_check_job"]
    assert job.error is None and job.done == job.total == 2 + 12 + 2 * 4
    result = at.session_state["region_checks"][job.key]
    assert result.settings.model_id == PHOTO_MODEL and result.certificate.n == 12
    assert IMAGENET_CLASSES[result.certificate.prediction] == "folding chair"
    assert "**folding chair**" in [m.value for m in at.markdown]  # whole, not cut in a metric


def test_a_small_photo_certificate_names_an_imagenet_class(_no_leftover_job):
    at = open_with_params("certify", {"cert_model": PHOTO_MODEL, "cert_n0": "2",
                                      "cert_n": "12"})
    _no_leftover_job.append(at)
    assert sampling(at)[:2] == (2, 12)
    at.button(key="cert_run").click().run()
    started = time.monotonic()
    wait_for_job(at, JOB, 300)
    assert not at.error, [e.value for e in at.error]
    cert = at.session_state[JOB].result
    assert cert.n0 == 2 and cert.n == 12 and cert.kind == "exact"
    shown = {m.label: m.value for m in at.metric}
    # a long class name is not a metric (st.metric would cut it) but a bold line under its label
    assert "Prediction" not in shown and IMAGENET_CLASSES[cert.prediction] == "folding chair"
    assert "Prediction" in [c.value for c in at.caption]
    assert "**folding chair**" in [m.value for m in at.markdown]
    assert float(shown["Certified radius (ℓ2)"]) == pytest.approx(cert.radius, abs=5e-4)
    assert cert.radius > 0 and time.monotonic() - started < 300
    result = at.session_state["certify_cache"][next(iter(at.session_state["certify_cache"]))]
    assert shown["Elapsed"] == f"{fmt(result.elapsed, 3)} s"
    page = text(at)
    # about a sample per second: the speed reads "1.4 samples/s", never "0 samples/s"
    rate = fmt_rate(result.samples_per_s)
    assert rate != "0" and f"{rate} samples/s on cpu" in page
    assert "0 samples/s" not in page.replace(f"{rate} samples/s", "")
    # the radius's units: the 224×224 image the classifier receives
    units = "([0, 1] pixel units of the 224×224 image the classifier receives)"
    assert f"{kind_badge(cert.kind)} {units}." in page
    assert f"**What R = {fmt(cert.radius, 3)} means** {units}" in page
    # the human scale: grey levels of a tiny radius rounded to significant digits
    assert "**0.0 grey levels" not in page
    assert f"**{grey(cert.radius / (3 * 224 * 224) ** 0.5)} grey levels of 255**" in page
    # the votes: the top ten classes by name, the other 990 summed
    votes = chart_specs(at)["cert_votes"]["data"][0]
    assert len(votes["x"]) == 11 and votes["x"][0] == "folding chair"
    assert votes["x"][-1] == "other 990 classes" and as_array(votes["customdata"]).sum() == 12
    # the audit draws thousands of denoised samples with gradients: not offered on the CPU
    assert "cert_audit" not in [b.key for b in at.button]
    assert any(c.value.startswith(f"No audit on the CPU for {PHOTO_MODEL}: it draws about "
                                  f"{AUDIT_BUDGET.samples:,}") for c in at.caption)


def test_the_audit_is_offered_only_where_it_is_quick():
    noise = NoiseChoice(density="gaussian", sigma=0.25, shape=(3, 224, 224))
    photo = CertifySettings(image_key="bundled:imagenet-01", n0=16, n=100, alpha=0.001,
                            batch_size=16, seed=0, device="cpu", model_id=PHOTO_MODEL,
                            noise=noise)
    rate = model_card(PHOTO_MODEL).metrics["samples_per_second_cpu"]
    assert AUDIT_BUDGET.samples / rate > cached_models.CPU_WAIT_S
    why = slow_audit(photo, AUDIT_BUDGET)
    assert why is not None and f"about {AUDIT_BUDGET.samples:,} noisy samples" in why
    assert f"about {fmt(AUDIT_BUDGET.samples / rate / 60, 2)} minutes" in why
    assert slow_audit(replace(photo, device="cuda"), AUDIT_BUDGET) is None
    digits = replace(photo, model_id="mnist-gaussian-0.25", image_key="bundled:mnist-00",
                     noise=NoiseChoice(density="gaussian", sigma=0.25, shape=(1, 28, 28)))
    assert slow_audit(digits, AUDIT_BUDGET) is None
    tiny = replace(AUDIT_BUDGET, steps=1, restarts=1, draws=1, directions=0, screen=1,
                   n_verify=1)
    assert tiny.samples == 2 + 3 + 1 and quick_on_cpu(model_card(PHOTO_MODEL), tiny.samples)
    assert slow_audit(photo, tiny) is None


def test_start_links_to_a_photo_at_the_photo_defaults():
    at = open_page("start")
    links = [element.proto for element in at.get("page_link")
             if "Bring a photo" in element.proto.label]
    assert len(links) == 1 and links[0].page == "certify"
    params = dict(parse_qsl(links[0].query_string))
    assert params == {"cert_mode": "Standard RS", "cert_model": PHOTO_MODEL,
                      "cert_source": "Bundled", "cert_image_imagenet": "#01 · folding chair",
                      "cert_n0": "16", "cert_n": "100"}
    opened = open_with_params("certify", params)
    assert opened.radio(key="cert_family").value == PHOTOS
    assert opened.selectbox(key="cert_image_imagenet").value == "imagenet-01"
    assert sampling(opened) == (16, 100, pytest.approx(0.001), 16)
