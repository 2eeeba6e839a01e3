"""The demo's story in a real browser (Debian Chromium + Playwright): the Start page (the
default) → the scenario "Certify a digit and attack it" → Certify → the region of that
certificate (its p̲_A and radius shown there) → back to the certificate and its attack audit.
Plus the Start page at 800 px wide and the Region page in dark mode, checked by their
pixels. The Start page's screenshot is the README's (rewritten only with
UCAN_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import re

import numpy as np
from browser_helpers import BROWSER_TEST, PLOT, update_readme_screenshot, wait_idle
from PIL import Image

from app.figures.common import fmt_p

pytestmark = BROWSER_TEST


def _expect():
    from playwright.sync_api import expect
    return expect


def _metric(page, label: str) -> str:
    """The value of the st.metric labelled ``label``."""
    box = page.get_by_test_id("stMetric").filter(has_text=label)
    return box.get_by_test_id("stMetricValue").inner_text().strip()


def test_start_to_certificate_to_region_to_attack(page, tmp_path):
    expect = _expect()
    expect(page.get_by_role("heading", name="Randomized smoothing in one picture")).to_be_visible()
    expect(page.get_by_text(re.compile(r"R = 0\.\d+ of x is classified 7"))).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 900})
    wait_idle(page)
    page.wait_for_timeout(500)
    shot = tmp_path / "start.png"
    page.screenshot(path=str(shot))
    update_readme_screenshot(shot)
    # the whole picture and the scenarios fit one 1280×900 screen
    scenario = page.locator(".st-key-scenario_0")
    expect(scenario).to_contain_text("Certify a digit and attack it")
    box = scenario.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900, box

    scenario.get_by_role("link", name="Open").click()
    # the scenario's link sets the model and n; Streamlit may then drop from the URL the
    # values equal to a widget's default, so the page itself is checked, not the URL
    expect(page).to_have_url(re.compile(r"/certify\?.*cert_n=2000"), timeout=30_000)
    run = page.get_by_role("button", name="Certify", exact=True)
    run.wait_for(timeout=30_000)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(
        re.compile("mnist-gaussian-0.25"))
    expect(page.get_by_role("combobox", name="Image")).to_have_value("#0000 · 7")
    run.click()
    expect(page.get_by_text("Follow this certificate")).to_be_visible(timeout=60_000)
    p_a, radius = _metric(page, "p̲_A (lower bound)"), _metric(page, "Certified radius (ℓ2)")
    expect(page.get_by_text("grey levels of 255").first).to_be_visible()
    share = page.get_by_test_id("stCode").filter(has_text="cert_seed=0").inner_text()
    assert "/certify?" in share and "cert_n=2000" in share

    page.get_by_role("link", name="Open its certified region").click()
    expect(page).to_have_url(re.compile(r"/region\?.*rg_p_a=0\.99"))
    banner = page.get_by_test_id("stAlert").filter(has_text="The certificate of mnist-gaussian-0.25")
    expect(banner).to_be_visible(timeout=30_000)
    text = banner.inner_text()
    assert f"p̲_A = {p_a}" in text, (p_a, text)              # both rounded for reading
    assert f"R = {radius}" in text, (radius, text)
    # the typed p_A is the certificate's p̲_A (six decimals shown, full precision kept)
    spin = page.get_by_role("spinbutton", name="p_A (sets R)")
    expect(spin).to_have_value(re.compile(r"^0\.\d{6}$"))
    assert fmt_p(float(spin.input_value())) == p_a, (spin.input_value(), p_a)
    page.wait_for_selector(f"{PLOT} svg.main-svg", timeout=30_000)

    page.get_by_role("link", name="Back to this certificate and its audit").click()
    expect(page).to_have_url(re.compile(r"/certify\?"))
    expect(page.get_by_text("Already certified").or_(page.get_by_text("cached")).first
           ).to_be_visible(timeout=30_000)
    audit = page.get_by_role("button", name="Audit this certificate")
    audit.wait_for(timeout=30_000)
    audit.scroll_into_view_if_needed()
    audit.click()
    seen = page.get_by_text("The attack you can see")
    verdict = page.get_by_text(re.compile("No violation found|violation"))
    expect(seen.or_(verdict).first).to_be_visible(timeout=120_000)
    if seen.count():
        expect(page.get_by_text(re.compile(r"‖δ‖ = [\d.]+ ≤ R")).first).to_be_visible()
        section = page.get_by_test_id("stImage")
        assert section.count() >= 3
    page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)


def _luminance(path, box) -> float:
    """Mean grey level (0–255) of ``box`` (a Playwright bounding box) in the screenshot."""
    image = Image.open(path).convert("L")
    crop = image.crop((int(box["x"]), int(box["y"]), int(box["x"] + box["width"]),
                       int(box["y"] + box["height"])))
    return float(np.asarray(crop).mean())


def test_start_page_at_800_px_wide(page, tmp_path):
    page.set_viewport_size({"width": 800, "height": 1100})
    wait_idle(page)
    page.wait_for_timeout(800)
    shot = tmp_path / "start-800.png"
    page.screenshot(path=str(shot), full_page=True)
    # no horizontal scrolling, and each scenario box is wide enough to read
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
    for index in range(4):
        box = page.locator(f".st-key-scenario_{index}").bounding_box()
        assert box is not None and box["width"] >= 140, (index, box)


def test_region_in_dark_mode_has_no_white_plots(browser, app_url, tmp_path):
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    try:
        page.goto(f"{app_url}/region")
        chart = page.locator(PLOT).filter(has_text="Certified region in")
        chart.locator("svg.main-svg").first.wait_for(timeout=60_000)
        wait_idle(page)
        page.wait_for_timeout(800)
        chart.scroll_into_view_if_needed()
        shot = tmp_path / "region-dark.png"
        page.screenshot(path=str(shot))
        box = chart.bounding_box()
        assert box is not None
        assert _luminance(shot, box) < 110, "the region plot is bright in dark mode"
    finally:
        context.close()
