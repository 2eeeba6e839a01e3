"""Radius page in a real browser (Debian Chromium + Playwright), against `streamlit run`."""

from __future__ import annotations

import json
import re

from browser_helpers import (
    BROWSER_TEST,
    PLOT,
    check_png,
    check_svg,
    download_button,
    download_figure,
    full_screenshot,
    open_nav,
    set_figure_format,
    update_readme_screenshot,
    wait_idle,
)

pytestmark = BROWSER_TEST


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
    update_readme_screenshot(tmp_path / "radius.png")

    # The figure as Plotly JSON, then as PNG under the same name (settings in it).
    spec = download_button(page, "Figure (Plotly JSON)", tmp_path)
    assert re.fullmatch(r"radius-.*-l1-d784-s0\.5-approximate\.json", spec.name), spec.name
    figure = json.loads(spec.read_text(encoding="utf-8"))
    assert figure["layout"]["title"]["text"] == "Certified ℓ1 radius vs p_A"
    assert "Gaussian universal (approximate)" in {t.get("name") for t in figure["data"]}
    png = download_figure(page, curves, tmp_path)
    assert png.name == f"{spec.stem}.png"
    check_png(png, curves)
    set_figure_format(page, "SVG")
    svg = download_figure(page, page.locator(PLOT).nth(1), tmp_path)
    assert svg.name == "ucan-radius-direction-gaussian.svg"
    check_svg(svg, "Worst direction at p_A")
