"""AppTest of the Start page (the default page) and the Glossary: the engine's example
certificate in one picture, and scenarios that link to pages already set up."""

from __future__ import annotations

from urllib.parse import parse_qsl

from streamlit.testing.v1 import AppTest

from app.widgets.glossary import GLOSSARY
from tests.app.apptest_helpers import APP, chart_specs, open_page, text


def _links(at: AppTest) -> dict[str, list[dict[str, str]]]:
    """The page links of the page by their target, with their URL parameters."""
    links = {}
    for element in at.get("page_link"):
        proto = element.proto
        links.setdefault(proto.page, []).append(dict(parse_qsl(proto.query_string)))
    return links


def test_start_is_the_default_page_with_the_engine_certificate():
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Randomized smoothing in one picture"
    body = text(at)
    assert "classified 7" in body and "p̲_A = 0." in body
    assert "grey levels of 255" in body
    specs = chart_specs(at)
    assert {"start_votes", "start_ball"} <= set(specs)
    ball = specs["start_ball"]
    assert ball["data"][0]["name"] == "certified ball"
    assert any("ℓ2 0.5" in trace.get("name", "") for trace in ball["data"])


def test_scenarios_open_pages_already_set_up():
    at = AppTest.from_file(APP, default_timeout=120).run()
    links = _links(at)
    certify = links["certify"]
    assert {"cert_mode": "Standard RS", "cert_model": "mnist-gaussian-0.25",
            "cert_source": "Bundled", "cert_image_mnist": "#0000 · 7",
            "cert_n": "2000"} in certify
    assert {"cert_mode": "Dual RS", "cert_n": "2000"} in certify
    assert links["noise_lab"] == [{"density": "Gaussian (gaussian)", "sigma": "0.5",
                                   "norm_gaussian": "ℓ2", "npg": "pattern ℓ2"}]
    assert links["learn"] == [{"teaching": "true"}]



def test_teach_scenario_turns_teaching_mode_on_in_the_same_session():
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.toggle(key="teaching").value
    at.switch_page("views/learn.py")
    at.query_params.update(_links(at)["learn"][0] | {"learn_n": "1,000"})
    at.run()
    assert not at.exception, at.exception
    assert at.toggle(key="teaching").value
    assert "learn_seed" not in [e.key for e in at.number_input]      # teaching hides it
    # turned off by hand on the same page, it stays off
    at.toggle(key="teaching").set_value(False).run()
    assert not at.toggle(key="teaching").value
    assert "learn_seed" in [e.key for e in at.number_input]

def test_glossary_lists_every_symbol():
    at = open_page("glossary")
    frame = at.dataframe[0].value
    symbols = set(frame["symbol"])
    for symbol in ("p̲_A", "σ", "λ", "R", "ALM", "min sᵢ·R", "NPG", "κ", "ι", "α", "n0", "n",
                   "Clopper–Pearson", "σ_e, σ_s", "p̄_c, p̄_sel", "x′", "‖δ‖", "PGD",
                   "CERTIFY, PREDICT", "α_audit, n_verify", "B⁻¹", "DKW"):
        assert symbol in symbols
    assert len(frame) == len(GLOSSARY)


def test_teaching_mode_offers_three_densities_and_plain_words():
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/noise_lab.py")
    at.query_params.update({"teaching": "true"})
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="density").options == ["Gaussian (gaussian)", "Laplace (laplace)",
                                                   "Uniform (cube) (uniform)"]
    assert at.slider(key="sigma").label == "Noise level"


def test_learned_npgs_are_offered_for_mnist_images_only():
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/noise_lab.py")
    at.query_params.update({"dataset": "Photo"})
    at.run()
    assert not at.exception, at.exception
    assert not any("learned" in option for option in at.selectbox(key="npg").options)
    at = open_page("noise_lab")
    assert "learned universal (UCAN)" in at.selectbox(key="npg").options
