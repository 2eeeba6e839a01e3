"""Certify page in a real browser (Debian Chromium + Playwright), against `streamlit run`.

One flow: pick a model and an image, run a certification that takes a few seconds (the
progress bar must show mid-run), read the result, then start a long run and cancel it. Then
Dual RS and sound routing, each run once and read; the Dual RS certificate is also audited.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from browser_helpers import (
    BROWSER_TEST,
    check_png,
    download_button,
    download_figure,
    full_screenshot,
    pick,
    update_readme_screenshot,
    wait_idle,
)

from app.figures.common import fmt

pytestmark = BROWSER_TEST


def _expect():
    from playwright.sync_api import expect
    return expect


@pytest.fixture()
def certify_page(page):
    """The Certify page, reached through the navigation that app/main.py registers.

    ``page`` (conftest) is a fresh tab, so a fresh session, on the default page (Noise Lab)
    once its first chart is drawn; from there the sidebar link opens the Certify page.
    """
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Certify").click()
    page.get_by_role("button", name="Certify", exact=True).wait_for(timeout=30_000)
    _expect()(page).to_have_url(re.compile(r"/certify$"))
    return page




def set_number(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    _expect()(box).to_have_value(f"{value}")






def test_certify_progress_result_cancel(certify_page, tmp_path):
    expect = _expect()
    page = certify_page
    expect(page.get_by_text("As the model sees it: 1×28×28")).to_be_visible()
    # app/main.py's frame is there: its sidebar text and the pages in the navigation
    expect(page.get_by_text("Every radius is labelled")).to_be_visible()
    nav = page.locator("[data-testid='stSidebarNav']")
    for title in ("Noise Lab", "Certify"):
        expect(nav.get_by_role("link", name=title)).to_have_count(1)

    pick(page, "Model", "mnist-gaussian-0.50")
    expect(page.get_by_text("Gaussian noise, σ = 0.5 ·")).to_be_visible(timeout=15_000)
    pick(page, "Image", "#0001 · 2")
    expect(page.get_by_text(re.compile(r"As the model sees it: 1×28×28 .*MNIST 2 \(mnist-0001\)"))
           ).to_be_visible(timeout=15_000)
    set_number(page, "n (estimation samples)", 20_000)
    wait_idle(page)

    # A run of a few seconds: the progress bar shows while the worker samples.
    started = time.perf_counter()
    page.get_by_role("button", name="Certify", exact=True).click()
    progress = page.get_by_role("progressbar")
    expect(progress).to_be_visible(timeout=10_000)
    expect(page.get_by_text(re.compile(r"Certifying: [\d,]+ / 20,100 samples"))).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    progress.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "certify_running.png"))
    # The page stays interactive mid-run: a widget change reruns the page at once.
    set_number(page, "Seed", 1)
    expect(page.get_by_text("A certification is already running")).to_have_count(0)
    set_number(page, "Seed", 0)

    result = page.get_by_text(re.compile(r"Prediction: 2, certified in ℓ2 up to radius"))
    expect(result).to_be_visible(timeout=90_000)
    elapsed = time.perf_counter() - started
    expect(result).to_contain_text("exact")
    expect(progress).to_have_count(0)
    # "fresh" (or "cached" if the seed round trip above straddled the end of the run)
    expect(page.get_by_text(re.compile(r"^(fresh|cached)$"))).to_be_visible()
    metrics = page.locator("[data-testid='stMetric']")
    expect(metrics.filter(has_text="Prediction")).to_contain_text("2")
    expect(metrics.filter(has_text="Certified radius (ℓ2)")).to_contain_text(
        re.compile(r"\d\.\d+"))
    expect(page.get_by_text(re.compile(r"n0 = 100 · n = 20,000 · α = 0.001"))).to_be_visible()
    plots = page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot")
    expect(plots).to_have_count(3)                # votes, p_A bound, the radius's human scale
    expect(plots.nth(0).locator(".gtitle")).to_contain_text("Votes per class")
    expect(plots.nth(1).locator(".gtitle")).to_contain_text("p_A: lower bound")
    expect(page.get_by_role("button", name="Download CSV")).to_be_visible()
    # the JSON download holds the certificate shown; the votes figure downloads as a PNG
    certificate = download_button(page, "Download JSON", tmp_path)
    assert certificate.name.startswith("certificate-mnist-gaussian-0.50-")
    data = json.loads(certificate.read_text(encoding="utf-8"))
    assert (data["prediction"], data["norm"], data["kind"]) == (2, "2", "exact")
    assert (data["n0"], data["n"], data["alpha"]) == (100, 20_000, 0.001)
    assert sum(data["counts"]) == 20_000 and max(data["counts"]) == data["counts"][2]
    shown = metrics.filter(has_text="Certified radius (ℓ2)").get_by_test_id("stMetricValue")
    assert fmt(data["radius"], 3) == shown.inner_text()     # rounded for reading
    votes = download_figure(page, plots.nth(0), tmp_path)
    assert votes.name == "ucan-certify-cert-votes.png"
    check_png(votes, plots.nth(0))

    # A long run, cancelled: a "cancelled" message and no result for that run.
    set_number(page, "n (estimation samples)", 100_000)
    expect(page.get_by_text("stale", exact=True)).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Certify", exact=True).click()
    expect(progress).to_be_visible(timeout=10_000)
    expect(page.get_by_text(re.compile(r"Certifying: [1-9][\d,]* / 100,100 samples"))
           ).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text(re.compile(r"Certification cancelled after [\d,]+ / 100,100 "
                                       r"samples .*no result for this run"))
           ).to_be_visible(timeout=20_000)
    expect(progress).to_have_count(0)
    expect(page.get_by_text("stale", exact=True)).to_be_visible(timeout=15_000)  # n = 20,000
    expect(page.get_by_text(re.compile(r"n0 = 100 · n = 20,000 · α"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"n = 100,000 · α"))).to_have_count(0)
    wait_idle(page)

    full_screenshot(page, tmp_path / "certify.png")
    assert (tmp_path / "certify.png").stat().st_size > 50_000
    print(f"\nfirst run (n = 20,000) took {elapsed:.1f} s in the browser; "
          f"screenshot {tmp_path / 'certify.png'}")


def pick_below(page, label: str, option: str) -> None:
    """``pick`` for a selectbox below the fold: scrolled into view first, so the click that
    opens its list does not scroll the page."""
    page.get_by_role("combobox", name=label).scroll_into_view_if_needed()
    pick(page, label, option)


def choose_mode(page, mode: str) -> None:
    """Click ``mode`` in the "Smoothing" radio."""
    page.locator("[data-testid='stRadio']").filter(has_text="Smoothing").get_by_text(
        mode, exact=True).click()


def run_two_stage(page, prediction: str, r_sel: str):
    """Certify with n = 1,000 and wait for the two-stage result line (the class, certified
    within min(``r_sel``, R_c), sound); returns it."""
    expect = _expect()
    set_number(page, "n (estimation samples)", 1000)
    wait_idle(page)
    page.get_by_role("button", name="Certify", exact=True).click()
    result = page.get_by_text(re.compile(rf"Prediction: {prediction}, certified in ℓ2 up to "
                                         rf"radius min\({r_sel}, R_c\) = "
                                         r"min\([\d.e-]+, [\d.e-]+\) = "))
    expect(result).to_be_visible(timeout=60_000)
    expect(result).to_contain_text("sound")
    return result


def test_dual_rs_shows_both_radii(certify_page, tmp_path):
    expect = _expect()
    page = certify_page
    choose_mode(page, "Dual RS")
    expect(page.get_by_role("combobox", name="σ-estimator")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("combobox", name="Expert for σ = 0.25")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Dual RS: mnist-sigma-estimator → mnist-gaussian-0\.25, "
                                       r"mnist-gaussian-0\.50, mnist-gaussian-1\.00 on MNIST 7"))
           ).to_be_visible(timeout=15_000)
    wait_idle(page)
    pick_below(page, "Image", "#0001 · 2")
    expect(page.get_by_text(re.compile(r"As the model sees it: 1×28×28 .*MNIST 2 \(mnist-0001\)"))
           ).to_be_visible(timeout=15_000)
    run_two_stage(page, "2", "R_σ")
    metrics = page.locator("[data-testid='stMetric']")
    for label in ("R_σ (σ-estimator)", "R_c (classifier)", "Certified radius (ℓ2)",
                  "p̲_A (σ-estimator)", "p̲_A (classifier)"):
        expect(metrics.filter(has_text=label)).to_contain_text(re.compile(r"\d\.\d+"))
    expect(metrics.filter(has_text="Selected level σ")).to_contain_text(re.compile(r"0\.25|0\.5|1"))
    expect(page.get_by_text(re.compile(r"α split: each stage runs CERTIFY at α/2 = 0\.0005"))
           ).to_be_visible()
    expect(page.get_by_text(re.compile(r"n0 = 100 · n = 1,000 per stage"))).to_be_visible()
    # the attack audit of this certificate: progress with Cancel, then both stages' bounds
    expect(page.get_by_text("Attacked: the deployed two-stage classifier", exact=False)
           ).to_be_visible()
    audit = page.get_by_role("button", name="Audit this certificate")
    audit.scroll_into_view_if_needed()
    audit.click()
    expect(page.get_by_text(re.compile(r"Auditing the certificate: (starting…|[\d,]+ / 26 steps)"))
           ).to_be_visible(timeout=10_000)
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    verdict = page.get_by_text(re.compile(r"(Violation|No violation found): at the worst point "
                                          r"found.* p̄_sel = [01](\.\d{3,})?.* p̄_c = "
                                          r"[01](\.\d{3,})?"))
    expect(verdict).to_be_visible(timeout=90_000)
    for label in ("Verified p̄_sel (σ-estimator)", "Verified p̄_c (classifier)"):
        expect(metrics.filter(has_text=label).get_by_test_id("stMetricValue")).to_have_text(
            re.compile(r"^[01](\.\d{3,})?$"))                     # rounded for reading
    expect(metrics.filter(has_text="PREDICT changed").get_by_test_id("stMetricValue")
           ).to_have_text(re.compile(r"^(no|yes → \d)$"))
    expect(page.get_by_text(re.compile(r"Votes for 2 at the worst point x′ by the selected "
                                       r"level σ = [\d.]+'s classifier: [\d,]+ of 2,000"))
           ).to_be_visible()
    expect(audit).to_have_count(0)
    expect(page.get_by_role("progressbar")).to_have_count(0)
    # a CIFAR-10 image: refused with a reason, Certify disabled
    pick_below(page, "Dataset", "CIFAR-10")
    refused = re.compile(r"^Dual RS with mnist-sigma-estimator takes MNIST images only")
    expect(page.get_by_text(refused)).to_be_visible(timeout=15_000)
    expect(page.get_by_role("button", name="Certify", exact=True)).to_be_disabled()
    pick_below(page, "Dataset", "MNIST")
    expect(page.get_by_role("button", name="Certify", exact=True)).to_be_enabled(timeout=15_000)
    wait_idle(page)
    full_screenshot(page, tmp_path / "certify_dual.png")
    update_readme_screenshot(tmp_path / "certify_dual.png")
    print(f"\nscreenshot {tmp_path / 'certify_dual.png'}")


def test_sound_routing_shows_both_radii_the_alm_and_downloads(certify_page, tmp_path):
    expect = _expect()
    page = certify_page
    choose_mode(page, "Sound routing")
    expect(page.get_by_role("combobox", name="Routing selector")).to_be_visible(timeout=15_000)
    wait_idle(page)
    pick(page, "Routing selector", "mnist-route-l2")
    expect(page.get_by_text(re.compile(r"^Sound routing: mnist-route-l2 on MNIST 7"))
           ).to_be_visible(timeout=15_000)
    expect(page).to_have_url(re.compile(r"cert_mode=Sound(\+|%20)routing"))
    expect(page).to_have_url(re.compile(r"cert_selector=mnist-route-l2"))
    run_two_stage(page, "7", "R_sel")
    metrics = page.locator("[data-testid='stMetric']")
    values = {}
    for label in ("R_sel (selector)", "R_c (classifier)", "Certified radius (ℓ2)",
                  "Certified ALM", "min(R_sel, ALM)"):
        value = metrics.filter(has_text=label).locator("[data-testid='stMetricValue']")
        expect(value).to_have_text(re.compile(r"^\d+\.\d+"))
        values[label] = float(value.inner_text())
    assert values["Certified radius (ℓ2)"] == pytest.approx(
        min(values["R_sel (selector)"], values["R_c (classifier)"]), rel=1e-5)
    assert values["Certified ALM"] <= values["min(R_sel, ALM)"]
    expect(metrics.filter(has_text="min(R_sel, ALM)").locator("[data-testid='stMetricDelta']")
           ).to_have_text("upper bound, not certified")
    config = metrics.filter(has_text="Selected configuration").locator(
        "[data-testid='stMetricValue']").inner_text()
    expect(page.get_by_text(f"Selected configuration: {config}", exact=False)).to_be_visible()
    plots = page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot")
    expect(plots).to_have_count(5)                     # and the radius's human scale
    for index, title in enumerate((f"Votes per class (selected class ĉ_A = {config})",
                                   "Votes per class (selected class ĉ_A = 7)", "σ map", "μ map",
                                   "Radius against common attack budgets")):
        expect(plots.nth(index).locator(".gtitle")).to_contain_text(title)
    expect(page.get_by_text(re.compile(r"n0 = 100 · n = 1,000 per stage"))).to_be_visible()
    expect(page.get_by_role("button", name="Audit this certificate")).to_be_visible()

    # the JSON download holds the certificate shown
    data = json.loads(download_button(page, "Download JSON", tmp_path).read_text())
    assert data["selector"] == "mnist-route-l2" and data["config"] == config
    assert data["prediction"] == 7 and data["soundness"] == "sound" and data["n"] == 1000
    assert data["radius"] == pytest.approx(min(data["r_sel"], data["r_c"]))
    assert float(fmt(data["radius"], 3)) == values["Certified radius (ℓ2)"]
    assert data["alm"] <= data["alm_upper"] == pytest.approx(min(data["r_sel"], data["alm_c"]))
    assert data["alm_upper_kind"] == "upper bound, not certified"
    assert data["selection"]["alpha"] == data["classification"]["alpha"] == 0.0005
    wait_idle(page)
    full_screenshot(page, tmp_path / "certify_routing.png")
    assert (tmp_path / "certify_routing.png").stat().st_size > 50_000
    update_readme_screenshot(tmp_path / "certify_routing.png")

    # the link reproduces the mode and the selector in a new session
    again = page.context.new_page()
    try:
        again.goto(page.url)
        expect(again.get_by_text(re.compile(r"^Sound routing: mnist-route-l2 on MNIST 7"))
               ).to_be_visible(timeout=30_000)
        expect(again.get_by_role("combobox", name="Routing selector")).to_have_value(
            "mnist-route-l2")
    finally:
        again.close()
