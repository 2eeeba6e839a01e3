"""The attack you can see, in a real browser (Debian Chromium + Playwright): certify the bundled
MNIST 7 with a small n, audit it, and read the attack panel — x, the worst x′ inside the
certified ball, δ amplified with its norm and R, the votes at x′, the base classifier attacked
with the same budget and the attack beyond R — checked by content; screenshots of the panel
at 1280 px (the README's docs/screenshots/attack.png, only with UCAN_UPDATE_SCREENSHOTS=1),
at 800 px and in the dark theme."""

from __future__ import annotations

import re

from browser_helpers import BROWSER_TEST, panel_screenshot, update_readme_screenshot, wait_idle

pytestmark = BROWSER_TEST

#: Captions of the attack panel's images (app/panels/audit.py).
TILES = (r"^x: the certified input \(7\)$", r"^x′ = x \+ δ: smoothed says \d$",
         r"^δ ×\d+ \(‖δ‖ = 0\.\d+ ≤ R = 0\.\d+\)$", r"^x′ within R: unprotected says \d$",
         r"^x′ within \dR: smoothed says \d$")


def set_number(page, label: str, value: int) -> None:
    from playwright.sync_api import expect

    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    expect(box).to_have_value(f"{value}")


def test_audit_shows_the_attack(page, tmp_path):
    from playwright.sync_api import expect

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Certify").click()
    page.get_by_role("button", name="Certify", exact=True).wait_for(timeout=30_000)
    expect(page.get_by_text(re.compile(r"As the model sees it: 1×28×28 .*\(mnist-0000\)"))
           ).to_be_visible(timeout=15_000)
    set_number(page, "n0 (selection samples)", 20)
    set_number(page, "n (estimation samples)", 200)
    wait_idle(page)
    page.get_by_role("button", name="Certify", exact=True).click()
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Prediction")).to_contain_text("7", timeout=60_000)

    audit = page.get_by_role("button", name="Audit this certificate")
    audit.scroll_into_view_if_needed()
    audit.click()
    expect(page.get_by_text(re.compile(r"Auditing the certificate: (starting…|[\d,]+ / 66 steps)"))
           ).to_be_visible(timeout=10_000)
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    expect(page.get_by_role("heading", name="The attack you can see")).to_be_visible(timeout=180_000)
    expect(page.get_by_role("progressbar")).to_have_count(0)
    wait_idle(page)

    # the images: each tile drawn (a decoded PNG), with its caption
    for caption in TILES:
        tile = page.get_by_test_id("stImage").filter(has_text=re.compile(caption))
        expect(tile).to_have_count(1)
        image = tile.locator("img")
        image.scroll_into_view_if_needed()
        assert image.evaluate("i => i.complete && i.naturalWidth") >= 140
    # the norms, in plain words with a human scale, and what each attack achieved
    inside = page.get_by_text(re.compile(
        r"^Inside the certified ℓ2 ball \(radius R = 0\.\d+ in \[0, 1\] pixel units, \w+\), the "
        r"strongest change the attack found, ‖δ‖₂ = 0\.\d+ \(at most \d+ grey levels of 255"))
    expect(inside).to_be_visible()
    expect(inside).to_contain_text(re.compile(r"left the smoothed classifier at 7: [\d,]+ of "
                                              r"2,000 fresh votes for 7"))
    expect(page.get_by_text(re.compile(r"^The same attack with the same budget .*unprotected"))
           ).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Beyond the certificate, with the budget ℓ2 \dR = "
                                       r"\d\.\d+ \(nothing is promised there\)"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"finding nothing inside R is evidence, not proof"))
           ).to_be_visible()
    votes = page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot").filter(
        has_text="Smoothed votes at x′")
    expect(votes).to_have_count(2)

    light = tmp_path / "attack.png"
    panel_screenshot(page, light, 1280)
    update_readme_screenshot(light)
    panel_screenshot(page, tmp_path / "attack-800.png", 800)
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(800)
    panel_screenshot(page, tmp_path / "attack-dark.png", 1280)
    print(f"screenshots in {tmp_path}")
