"""Radius page in a real browser (Debian Chromium + Playwright), against `streamlit run`."""

from __future__ import annotations

import re

import pytest
from browser_helpers import full_screenshot, open_nav, wait_idle
from conftest import CHROMIUM, HAVE_CHROMIUM

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")]

PLOT = "[data-testid='stPlotlyChart'] .js-plotly-plot"


def test_radius_flow(page, tmp_path):
    from playwright.sync_api import expect

    open_nav(page, "Radius", "radius")
    curves = page.locator(PLOT).first
    expect(curves.locator(".gtitle")).to_have_text("Certified ℓ2 radius vs p_A", timeout=90_000)
    legend = curves.locator(".legendtext")
    expect(legend.filter(has_text="Gaussian universal (approximate)")).to_have_count(1)
    expect(legend.filter(has_text="Gaussian closed form (exact)")).to_have_count(1)
    expect(legend.filter(has_text="PixelDP (sound, loose)")).to_have_count(1)

    norm = page.get_by_role("slider", name="Norm ℓp")
    norm.focus()
    norm.press("ArrowLeft")
    norm.press("ArrowLeft")                              # ℓ2 -> ℓ1.5 -> ℓ1
    expect(curves.locator(".gtitle")).to_have_text("Certified ℓ1 radius vs p_A", timeout=90_000)
    expect(page).to_have_url(re.compile(r"rd_norm="))
    expect(legend.filter(has_text="PixelDP")).to_have_count(0)   # PixelDP is ℓ2 only
    expect(legend.filter(has_text="Gaussian universal (approximate)")).to_have_count(1)
    wait_idle(page)
    expect(page.locator(PLOT)).to_have_count(2)          # curves, worst direction
    expect(page.locator(PLOT).nth(1).locator(".gtitle")).to_contain_text("Worst direction")
    full_screenshot(page, tmp_path / "radius.png")
    assert (tmp_path / "radius.png").stat().st_size > 50_000
