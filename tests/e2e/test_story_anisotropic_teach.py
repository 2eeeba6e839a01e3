"""The Start page's two other scenarios followed to a certificate in a real browser (Debian
Chromium + Playwright), checked by content. "Why anisotropic noise": Noise Lab's pattern σ
map → "Certify this image with this noise" → Certify set up with that noise → its certificate →
its region (the certificate's p̲_A and radius, a region that is not a ball) → back → the attack
you can see. "Teach: from votes to a radius": Learn in teaching mode (plain words, a typeset
formula, the votes) → "Certify this image" → Certify → a certificate with its radius.
Screenshots of each flow's end go to pytest's tmp_path."""

from __future__ import annotations

import re

from browser_helpers import BROWSER_TEST, PLOT, open_attack, panel_screenshot, wait_idle

from app.widgets.glossary import TERMS

pytestmark = BROWSER_TEST

#: Seconds (in ms) a run may take on a loaded machine.
RUN_MS = 90_000


def _expect():
    from playwright.sync_api import expect
    return expect


def _metric(page, label: str) -> str:
    """The value of the st.metric labelled ``label``."""
    box = page.get_by_test_id("stMetric").filter(has_text=label)
    return box.get_by_test_id("stMetricValue").inner_text().strip()


def _certify(page, p_a_label: str = "p̲_A (lower bound)",
             radius_label: str = "Certified radius (ℓ2)") -> tuple[str, str]:
    """Press Certify, wait for the certificate; its p̲_A and radius as shown (under these
    metric labels)."""
    expect = _expect()
    run = page.get_by_role("button", name="Certify", exact=True)
    run.wait_for(timeout=RUN_MS)
    run.click()
    expect(page.get_by_text("Follow this certificate")).to_be_visible(timeout=RUN_MS)
    wait_idle(page)
    return _metric(page, p_a_label), _metric(page, radius_label)


def test_anisotropic_scenario_noise_lab_certificate_region_and_attack(page, tmp_path):
    expect = _expect()
    scenario = page.locator(".st-key-scenario_1")
    expect(scenario).to_contain_text("Why anisotropic noise")
    scenario.get_by_role("link", name="Open").click()
    expect(page).to_have_url(re.compile(r"/noise_lab\?"), timeout=30_000)
    # the pattern σ map, named as such
    expect(page.locator(PLOT).filter(has_text="σ map: per-pixel noise level")).to_have_count(
        1, timeout=RUN_MS)
    expect(page.get_by_text(re.compile(r"Gaussian noise, pattern ℓ2 generator"))).to_be_visible()

    page.get_by_role("link", name="Certify this image with this noise").click()
    expect(page).to_have_url(re.compile(r"/certify\?"), timeout=30_000)
    page.get_by_role("button", name="Certify", exact=True).wait_for(timeout=RUN_MS)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(
        re.compile("mnist-gaussian-0.50"))
    expect(page.get_by_role("combobox", name="Image")).to_have_value("#0000 · 7")
    expect(page.get_by_role("combobox", name="Noise generator (NPG)")).to_have_value(
        "pattern ℓ2")
    expect(page.get_by_role("slider", name="κ (pattern strength)")).to_be_visible()
    p_a, radius = _certify(page)

    page.get_by_role("link", name="Open its certified region").click()
    expect(page).to_have_url(re.compile(r"/region\?.*rg_p_a=0\.\d+"), timeout=30_000)
    banner = page.get_by_test_id("stAlert").filter(has_text="The certificate of mnist-gaussian-0.50")
    expect(banner).to_be_visible(timeout=RUN_MS)
    text = banner.inner_text()
    assert f"p̲_A = {p_a}" in text, (p_a, text)
    assert f"R = {radius}" in text, (radius, text)
    chart = page.locator(PLOT).filter(has_text="Certified region in")
    chart.locator("svg.main-svg").first.wait_for(timeout=RUN_MS)
    # anisotropic: the region ‖δ/s‖ ≤ R and the ball inside it, not one curve
    expect(chart).to_contain_text("‖δ/s‖")
    expect(chart).not_to_contain_text("they coincide")
    expect(page.get_by_text("region, ball and ALM ball coincide")).to_have_count(0)

    page.get_by_role("link", name="Back to this certificate and its audit").click()
    expect(page).to_have_url(re.compile(r"/certify\?"), timeout=30_000)
    run = page.get_by_role("button", name="Certify", exact=True)
    run.wait_for(timeout=RUN_MS)
    audit = page.get_by_role("button", name="Audit this certificate")
    if not audit.count():                       # the link reopened the page: certify again
        run.click()
    audit.wait_for(timeout=RUN_MS)
    open_attack(page, audit)
    tile = page.get_by_test_id("stImage").filter(
        has_text=re.compile(r"^δ ×\d+ \(‖δ‖ = [\d.]+ ≤ R = [\d.]+\)$"))
    expect(tile).to_have_count(1)
    image = tile.locator("img")
    image.scroll_into_view_if_needed()
    assert image.evaluate("i => i.complete && i.naturalWidth") >= 140
    expect(page.get_by_test_id("stImage").filter(
        has_text=re.compile(r"^x: the certified input \(7\)$"))).to_have_count(1)
    panel_screenshot(page, tmp_path / "anisotropic-attack.png", 1280)
    print(f"screenshots in {tmp_path}")


def test_teach_scenario_learn_to_certificate(page, tmp_path):
    expect = _expect()
    scenario = page.locator(".st-key-scenario_3")
    expect(scenario).to_contain_text("Teach: from votes to a radius")
    scenario.get_by_role("link", name="Open").click()
    expect(page).to_have_url(re.compile(r"/learn\?.*teaching=true"), timeout=30_000)
    expect(page.get_by_role("heading", name="2 · Votes: count what f says on n noisy copies")
           ).to_be_visible(timeout=RUN_MS)
    # plain words, a typeset formula and the votes
    expect(page.get_by_text(re.compile(r"the class that f gives most often on noisy copies"))
           ).to_be_visible()
    expect(page.locator(".katex").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"counts the votes for ĉ_A: k = [\d,]+ of"))
           ).to_be_visible()
    expect(page.locator(PLOT).filter(has_text="Votes (share of n)")).to_have_count(1)
    expect(page.get_by_role("switch", name="Teaching mode")).to_be_checked()

    page.get_by_role("link", name="Certify this image").click()
    expect(page).to_have_url(re.compile(r"/certify\?"), timeout=30_000)
    page.get_by_role("button", name="Certify", exact=True).wait_for(timeout=RUN_MS)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(
        re.compile("mnist-gaussian-0.25"))
    expect(page.get_by_role("combobox", name="Image")).to_have_value(re.compile("#0018"))
    # teaching mode (still on) labels the metrics in plain words
    _, radius = _certify(page, TERMS["p̲_A"].words.capitalize(), TERMS["R"].words.capitalize())
    assert float(radius) > 0, radius
    expect(page.get_by_text("grey levels of 255").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "teach-certificate.png"), full_page=True)
    print(f"screenshots in {tmp_path}")
