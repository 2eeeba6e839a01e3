"""Anytime-valid certification in a real browser (issue #14): the Certify page's "Stop when I
say (anytime-valid)" run shows its certified radius growing while the samples arrive, and
Stop returns the certificate of that moment, labelled with its bound and the samples it used
of n_max (fewer than n_max)."""

from __future__ import annotations

import re

from browser_helpers import BROWSER_TEST, full_screenshot, wait_idle

pytestmark = BROWSER_TEST

#: The live line (JavaScript's regular expressions: no named groups): R, then samples used.
LIVE = re.compile(r"Anytime-valid now: certified radius R = ([\d.]+) \(ℓ2, exact\) · "
                  r"p̲_A = [\d.]+ after ([\d,]+) of at most 100,000 estimation samples")


def live_reading(page) -> tuple[float, int]:
    match = LIVE.search(page.locator("[data-testid='stMain']").inner_text())
    assert match, "no live anytime-valid radius on the page"
    return float(match[1]), int(match[2].replace(",", ""))


def test_stop_keeps_a_labelled_anytime_valid_certificate(browser_ctx, app_url, tmp_path):
    from playwright.sync_api import expect

    page = browser_ctx.new_page()
    page.goto(f"{app_url}/certify?cert_n=100000&cert_sequential=true")
    toggle = page.get_by_role("switch", name="Stop when I say (anytime-valid)")
    expect(toggle).to_be_checked(timeout=60_000)
    expect(page.get_by_text(re.compile(r"Anytime-valid with at most n = 100,000: no radius "
                                       r"above"))).to_be_visible()
    wait_idle(page)
    page.get_by_role("button", name="Certify", exact=True).click()
    expect(page.get_by_text(re.compile(r"Certifying \(anytime-valid, at most\): [\d,]+ / "
                                       r"100,100 samples"))).to_be_visible(timeout=30_000)
    expect(page.get_by_text(LIVE)).to_be_visible(timeout=30_000)
    first_radius, first_used = live_reading(page)
    # the radius grows while the samples arrive (the panel refreshes on its own)
    expect(page.get_by_text(LIVE)).not_to_have_text(
        re.compile(rf"after {first_used:,} of"), timeout=30_000)
    radius, used = live_reading(page)
    assert used > first_used and radius >= first_radius
    page.screenshot(path=str(tmp_path / "sequential_live.png"))

    page.get_by_role("button", name="Stop: keep this certificate").click()
    label = page.get_by_text(re.compile(
        r"Bound: anytime-valid confidence sequence at α = 0\.001: samples used ([\d,]+) "
        r"of n_max = 100,000, stopped by you"))
    expect(label).to_be_visible(timeout=60_000)
    kept = int(re.search(r"samples used ([\d,]+)", label.inner_text())[1].replace(",", ""))
    assert used <= kept < 100_000
    expect(page.get_by_text("anytime-valid", exact=True).first).to_be_visible()   # the badge
    expect(page.get_by_role("progressbar")).to_have_count(0)
    expect(page.get_by_role("button", name="Stop: keep this certificate")).to_have_count(0)
    metrics = page.locator("[data-testid='stMetric']")
    expect(metrics.filter(has_text="Prediction")).to_contain_text("7")
    shown = float(metrics.filter(has_text="Certified radius (ℓ2)")
                  .get_by_test_id("stMetricValue").inner_text())
    assert shown >= radius - 1e-3                   # at least the last live reading
    expect(page.get_by_text(re.compile(r"Estimation votes for ĉ_A = 7: [\d,]+ of "
                                       rf"{kept:,}\."))).to_be_visible()
    assert not page.locator("[data-testid='stException']").count()
    full_screenshot(page, tmp_path / "sequential_stopped.png")
    print(f"\nscreenshots in {tmp_path}; stopped at {kept:,} of 100,000 samples, R = {shown}")
    page.close()
