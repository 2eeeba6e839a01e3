"""The demo's Dual RS story in a real browser (Debian Chromium + Playwright): the Start page →
the scenario "Dual RS: a noise level per input" → Certify (a σ-estimator picks the noise
level, that level's expert is certified) → the region of that certificate (the expert's
p̲_A and the certified radius min(R_σ, R_c) shown there) → back to the certificate and its
attack audit, where the attack is seen: x, x′, δ with its norm, both stages' votes at x′.
Checked by content; screenshots of the attack panel at 1280 px, 800 px (where its tiles
stay one row) and dark (in pytest's tmp_path)."""

from __future__ import annotations

import re

from browser_helpers import BROWSER_TEST, PLOT, open_attack, panel_screenshot, wait_idle

pytestmark = BROWSER_TEST


def _metric(page, label: str) -> str:
    """The value of the st.metric labelled exactly ``label``."""
    box = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return box.get_by_test_id("stMetricValue").inner_text().strip()


def test_dual_rs_scenario_certificate_region_and_attack(page, tmp_path):
    from playwright.sync_api import expect

    scenario = page.locator(".st-key-scenario_2")
    expect(scenario).to_contain_text("Dual RS: a noise level per input")
    scenario.get_by_role("link", name="Open").click()
    expect(page).to_have_url(re.compile(r"/certify\?.*cert_n=2000"), timeout=30_000)
    run = page.get_by_role("button", name="Certify", exact=True)
    run.wait_for(timeout=30_000)
    expect(page.get_by_role("combobox", name="σ-estimator")).to_have_value(
        re.compile("mnist-sigma-estimator"))
    run.click()
    expect(page.get_by_text("Follow this certificate")).to_be_visible(timeout=90_000)
    wait_idle(page)
    level = _metric(page, "Selected level σ")
    p_a, radius = _metric(page, "p̲_A (classifier)"), _metric(page, "Certified radius (ℓ2)")
    r_c = _metric(page, "R_c (classifier)")
    assert float(radius) <= float(r_c), (radius, r_c)
    expect(page.get_by_text("grey levels of 255").first).to_be_visible()
    share = page.get_by_test_id("stCode").filter(has_text="cert_mode=Dual+RS").inner_text()
    assert "/certify?" in share and "cert_n=2000" in share and "cert_seed=0" in share

    page.get_by_role("link", name="Open its certified region").click()
    expect(page).to_have_url(re.compile(r"/region\?.*rg_p_a=0\.\d+"))
    banner = page.get_by_test_id("stAlert").filter(has_text="The Dual RS certificate of")
    expect(banner).to_be_visible(timeout=30_000)
    text = banner.inner_text()
    assert f"chose σ = {level}" in text, (level, text)
    assert f"p̲_A = {p_a}" in text and f"R_c = {r_c}" in text, (p_a, r_c, text)
    assert f"R = min(R_σ, R_c) = {radius}" in text, (radius, text)
    chart = page.locator(PLOT).filter(has_text="Certified region in")
    chart.locator("svg.main-svg").first.wait_for(timeout=30_000)
    # the expert's noise is isotropic: one curve, and the page says why
    expect(chart).to_contain_text("they coincide")
    expect(page.get_by_text(re.compile(r"the certified region is the ℓ2 ball"))).to_be_visible()
    page.screenshot(path=str(tmp_path / "dual-region.png"), full_page=True)

    page.get_by_role("link", name="Back to this certificate and its audit").click()
    expect(page).to_have_url(re.compile(r"/certify\?.*cert_mode=Dual"))
    run = page.get_by_role("button", name="Certify", exact=True)
    run.wait_for(timeout=30_000)
    audit = page.get_by_role("button", name="Audit this certificate")
    if not audit.count():                       # the link reopened the page: certify again
        run.click()
    audit.wait_for(timeout=90_000)
    expect(page.get_by_text(re.compile(rf"certified in ℓ2 up to radius .*= {radius}"))
           ).to_be_visible()
    open_attack(page, audit)
    # the images: x, x′ and δ amplified with its norm, each a drawn PNG
    for caption in (r"^x: the certified input \(\d\)$", r"^x′ = x \+ δ: deployed says \d$",
                    rf"^δ ×\d+ \(‖δ‖ = [\d.]+ ≤ R = {re.escape(radius)}\d*\)$"):
        tile = page.get_by_test_id("stImage").filter(has_text=re.compile(caption))
        expect(tile).to_have_count(1)
        image = tile.locator("img")
        image.scroll_into_view_if_needed()
        assert image.evaluate("i => i.complete && i.naturalWidth") >= 140
    expect(page.get_by_text(re.compile(
        r"^Inside the certified ℓ2 ball \(radius R = [\d.]+ in \[0, 1\] pixel units, sound\), "
        r"the strongest change the attack found, ‖δ‖₂ = [\d.]+ \(at most \d+ grey levels"))
    ).to_be_visible()
    expect(page.get_by_text(re.compile(r"^The σ-estimator (kept choosing|moved to) \*?σ = "))
           ).to_be_visible()
    for title in ("Deployed classifier's votes at x′", "The σ-estimator's votes at x′"):
        expect(page.locator(PLOT).filter(has_text=title)).to_have_count(1)
    expect(page.get_by_text(re.compile("evidence, not proof")).first).to_be_visible()

    panel_screenshot(page, tmp_path / "dual-attack.png", 1280)
    panel_screenshot(page, tmp_path / "dual-attack-800.png", 800)
    # at 800 px the tiles wrap as a row, not squashed: x, x′ and δ side by side, each ≥ 120 px
    boxes = [page.get_by_test_id("stImage").filter(has_text=re.compile(c)).locator("img")
             .bounding_box() for c in (r"^x: the certified", r"^x′ = x", r"^δ ×")]
    assert all(b is not None and b["width"] >= 120 for b in boxes), boxes
    assert max(b["y"] for b in boxes) - min(b["y"] for b in boxes) < 2, boxes
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(800)
    panel_screenshot(page, tmp_path / "dual-attack-dark.png", 1280)
    print(f"screenshots in {tmp_path}")
