"""Region page in a real browser (Debian Chromium + Playwright), against `streamlit run`."""

from __future__ import annotations

import re

import pytest
from browser_helpers import full_screenshot, open_nav, pick, wait_idle
from conftest import CHROMIUM, HAVE_CHROMIUM

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")]

PLOT = "[data-testid='stPlotlyChart'] .js-plotly-plot"


def test_region_flow(page, tmp_path):
    from playwright.sync_api import expect

    open_nav(page, "Region", "region")
    lp_radius = page.locator("tr").filter(has_text="min sᵢ·R")
    expect(lp_radius).to_contain_text("0.640776", timeout=30_000)      # isotropic: = R
    pick(page, "Noise generator (NPG)", "pattern ℓ2")
    expect(lp_radius).to_contain_text("0.478963", timeout=15_000)      # min s·R < R
    expect(page.locator("tr").filter(has_text="ALM")).to_contain_text("0.640776")
    expect(page).to_have_url(re.compile(r"rg_npg=pattern"))
    wait_idle(page)
    plots = page.locator(PLOT)
    expect(plots).to_have_count(3)                       # pixels, slice, three norms
    expect(plots.nth(1).locator(".gtitle")).to_contain_text("Certified region in ℓ2")
    expect(plots.nth(1).locator(".legendtext").filter(has_text="ALM ball")).to_have_count(1)
    expect(plots.nth(1).locator(".legendtext").filter(has_text="ellipse")).to_have_count(1)
    expect(plots.nth(2).locator(".gtitle, .annotation-text").filter(has_text="ℓ∞: box")
           ).to_have_count(1)
    full_screenshot(page, tmp_path / "region.png")
    assert (tmp_path / "region.png").stat().st_size > 50_000
