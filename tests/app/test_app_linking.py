"""AppTest of one certificate carried through the pages: a Certify result links to its
Region (same image, noise, NPG, norm, p̲_A at full precision, pixels of largest σ), to its
audit and to Learn, and offers a link that reproduces it; the Region page opened from it shows
its p̲_A and radius; malformed Region URL values are refused with a message."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from apptest_helpers import open_with_params, text, wait_for_job
from streamlit.testing.v1 import AppTest

from app import state
from app.cached.certify import DEMO_IMAGE, DEMO_MODEL
from app.choices import MODES
from app.figures.common import fmt, fmt_p


def _links(at: AppTest) -> dict[str, dict[str, str]]:
    """The page links of the page: target page → URL parameters."""
    return {e.proto.page: dict(parse_qsl(e.proto.query_string)) for e in at.get("page_link")}


def _certified(params: dict[str, str]) -> AppTest:
    at = open_with_params("certify", params)
    at.button(key="cert_run").click().run()
    return wait_for_job(at, "certify_job", 90)


def test_certificate_links_to_its_region_and_the_region_shows_it():
    params = state.certify_params(DEMO_MODEL, DEMO_IMAGE, n=1000,
                                  seed=3) | {"cert_npg_mnist-gaussian-0.25": "pattern ℓ2"}
    at = _certified(params)
    result = next(iter(at.session_state["certify_cache"].values()))
    cert = result.certificate
    assert not cert.abstained and result.settings.noise.npg == "pattern-2"
    links = _links(at)
    region = links["region"]
    assert float(region["rg_p_a"]) == cert.p_a_lower          # full precision
    assert region[state.REGION_CERT_KEY] == result.key
    assert region["rg_image_mnist"] == "#0000 · 7" and region["rg_npg"] == "pattern ℓ2"
    assert region["rg_norm_gaussian"] == "ℓ2" and float(region["rg_sigma"]) == 0.25
    # pattern ℓ2: the noise is largest in the corners
    assert {region["rg_A_row_28"], region["rg_B_row_28"]} <= {"0", "27"}
    assert links["learn"] == {"learn_model": DEMO_MODEL, "learn_image": "#0000 · 7"}
    assert "#attack-audit" in text(at)
    # the share link reproduces the settings and the seed
    shared = dict(parse_qsl(urlsplit(at.code[0].value).query))
    assert shared["cert_seed"] == "3" and shared["cert_n"] == "1000"
    assert shared["cert_npg_mnist-gaussian-0.25"] == "pattern ℓ2"
    # the human scale of the radius
    assert "grey levels of 255" in text(at)

    at.switch_page("views/region.py")
    at.query_params.clear()
    at.query_params.update(region)
    at.run()
    assert not at.exception, at.exception
    assert at.number_input(key="rg_p_a").value == cert.p_a_lower
    banner = "\n".join(i.value for i in at.info)
    assert f"p̲_A = {fmt_p(cert.p_a_lower)}" in banner and f"R = {fmt(cert.radius, 3)}" in banner
    # the page's ℓp radius min sᵢ·R at that p̲_A is the certificate's radius
    assert f"| min sᵢ·R (ℓ2 radius) | {fmt(cert.radius, 3)} |" in text(at)

    shared_at = open_with_params("certify", shared)
    assert shared_at.number_input(key="cert_seed").value == 3
    assert shared_at.selectbox(key="cert_npg_mnist-gaussian-0.25").value == "pattern-2"


def test_dual_rs_certificate_links_to_its_expert_region_and_back():
    at = _certified({"cert_mode": MODES["dual"], "cert_n0": "20", "cert_n": "500"})
    result = next(iter(at.session_state["certify_cache"].values()))
    cert = result.certificate
    assert cert.target == "dual-rs" and not cert.abstained
    region = _links(at)["region"]
    # the expert's noise: isotropic Gaussian at the selected level, p_A = its p̲_A
    assert float(region["rg_sigma"]) == float(cert.classification.noise["sigma"])
    assert float(region["rg_p_a"]) == cert.p_a_lower_c and region["rg_npg"] == "isotropic"
    assert region[state.REGION_CERT_KEY] == result.key
    shared = dict(parse_qsl(urlsplit(at.code[0].value).query))
    assert shared["cert_mode"] == "Dual RS" and shared["cert_n"] == "500"

    at.switch_page("views/region.py")
    at.query_params.clear()
    at.query_params.update(region)
    at.run()
    assert not at.exception, at.exception
    banner = "\n".join(i.value for i in at.info)
    assert "The Dual RS certificate of mnist-sigma-estimator" in banner
    assert f"p̲_A = {fmt_p(cert.p_a_lower_c)}" in banner
    assert f"R = min(R_σ, R_c) = {fmt(cert.radius, 3)}" in banner
    # the page's radius at that p̲_A is the expert's R_c
    assert f"| min sᵢ·R (ℓ2 radius) | {fmt(cert.r_c, 3)} |" in text(at)
    back = next(e for e in at.get("page_link") if e.proto.page == "certify")
    assert dict(parse_qsl(back.proto.query_string)) == shared

    again = open_with_params("certify", shared)
    assert again.radio(key="cert_mode").value == "dual"
    assert again.number_input(key="cert_n").value == 500


def test_region_from_a_link_without_the_certificate_in_the_session():
    at = open_with_params("region", {"rg_p_a": "0.99930935", state.REGION_CERT_KEY: "abc"})
    assert at.number_input(key="rg_p_a").value == 0.99930935
    assert any("not in this session" in i.value for i in at.info)


def test_malformed_region_url_values_are_refused_with_a_message():
    at = open_with_params("region", {"rg_A_row_28": "²", "rg_B_col_28": "9" * 4301,
                                     "rg_p_a": "0.2"})
    warnings = "\n".join(w.value for w in at.warning)
    assert "rg_A_row_28=² is not a pixel of this 28×28 image (0–27)" in warnings
    assert "4,301 characters" in warnings and "9" * 40 not in warnings
    assert "rg_p_a=0.2 is not a p_A" in warnings
    assert at.number_input(key="rg_A_row_28").value == 14


def test_certify_refuses_alpha_0_and_n_below_n0_at_the_controls():
    at = open_with_params("certify", {"cert_alpha": "0.0", "cert_n0": "300", "cert_n": "200"})
    errors = "\n".join(e.value for e in at.error)
    assert "n0 (300) must not exceed n (200)" in errors and "α must lie strictly" in errors
    assert at.button(key="cert_run").disabled
    at = open_with_params("certify", {"cert_n": "100", "cert_n0": "10"})
    assert "With n = 100 at α = 0.001 no radius above **0.375**" in text(at)



def test_noise_lab_links_to_certify_with_its_pattern_noise():
    scenario = state.noise_params("", "gaussian", 0.5, "2", "pattern-2", kappa=2.0)
    at = open_with_params("noise_lab", scenario)
    params = _links(at)["certify"]
    # the model trained at this σ (no override), the image and the pattern with its κ and ι
    assert params == state.certify_params("mnist-gaussian-0.50", DEMO_IMAGE) | {
        "cert_npg_mnist-gaussian-0.50": "pattern ℓ2", "cert_kappa": "2.0", "cert_iota": "1.0"}

    certify = open_with_params("certify", params)
    assert certify.selectbox(key="cert_model").value == "mnist-gaussian-0.50"
    assert certify.selectbox(key="cert_image_mnist").value == DEMO_IMAGE
    assert certify.selectbox(key="cert_npg_mnist-gaussian-0.50").value == "pattern-2"
    assert certify.slider(key="cert_kappa").value == 2.0
    assert not certify.checkbox(key="cert_override").value


def test_noise_lab_links_to_certify_with_sigma_overridden_and_learned_maps():
    at = open_with_params("noise_lab", state.noise_params("", "gaussian", 0.3, "2")
                          | state.image_params("", "mnist-0001"))
    params = _links(at)["certify"]
    assert params["cert_model"] == "mnist-gaussian-0.25" and params["cert_override"] == "true"
    certify = open_with_params("certify", params)
    assert certify.checkbox(key="cert_override").value
    assert certify.number_input(key="cert_sigma_mnist-gaussian-0.25").value == 0.3
    assert certify.selectbox(key="cert_image_mnist").value == "mnist-0001"
    assert certify.selectbox(key="cert_npg_mnist-gaussian-0.25").value == "isotropic"

    at = open_with_params("noise_lab", state.noise_params("", "gaussian", 0.5, "2", "universal"))
    certify = open_with_params("certify", _links(at)["certify"])
    assert certify.selectbox(key="cert_model").value == "mnist-universal-0.50"
    assert certify.selectbox(key="cert_npg_mnist-universal-0.50").value == "learned"


def test_noise_lab_offers_no_certify_link_where_certify_has_no_model():
    for params in (state.noise_params("", "laplace", 0.5, "1"),
                   state.image_params("", "photo-chelsea")):
        at = open_with_params("noise_lab", params)
        assert "certify" not in _links(at)
        assert "Certify: a bundled image with the density of a bundled model" in text(at)


def test_learn_links_to_certify_on_its_image_and_model():
    at = open_with_params("learn", {state.TEACHING_KEY: "true", "learn_n": "1,000",
                                    "learn_model": "mnist-gaussian-0.50",
                                    "learn_image": "#0001 · 2"})
    params = _links(at)["certify"]
    assert params == state.certify_params("mnist-gaussian-0.50", "mnist-0001")
    certify = open_with_params("certify", params)
    assert certify.selectbox(key="cert_model").value == "mnist-gaussian-0.50"
    assert certify.selectbox(key="cert_image_mnist").value == "mnist-0001"
    assert not certify.checkbox(key="cert_override").value
