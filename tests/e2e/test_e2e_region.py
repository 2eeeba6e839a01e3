"""Region page in a real browser (Debian Chromium + Playwright), against `streamlit run`."""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import (
    BROWSER_TEST,
    PLOT,
    check_png,
    check_svg,
    download_button,
    download_figure,
    full_screenshot,
    open_nav,
    pick,
    set_figure_format,
    update_readme_screenshot,
    wait_idle,
)

pytestmark = BROWSER_TEST


def click_pixel(page, plot, row: int, col: int) -> None:
    """Click the centre of pixel (row, col) of the picker, placed with Plotly's own axes."""
    plot.scroll_into_view_if_needed()
    x, y = plot.evaluate(
        """(el, [row, col]) => {
            const L = el._fullLayout, box = el.getBoundingClientRect();
            return [box.left + L.xaxis._offset + L.xaxis.l2p(col),
                    box.top + L.yaxis._offset + L.yaxis.l2p(row)];
        }""", [row, col])
    page.mouse.move(x, y)
    page.mouse.click(x, y)


def test_region_flow(page, tmp_path):
    from playwright.sync_api import expect

    open_nav(page, "Region", "region")
    lp_radius = page.locator("tr").filter(has_text="min sᵢ·R")
    expect(lp_radius).to_contain_text("0.641", timeout=30_000)      # isotropic: = R (rounded)
    # isotropic: region, ℓ2 ball and ALM ball are one curve, and the legend says so
    expect(page.locator(PLOT).nth(1).locator(".legendtext").filter(has_text="they coincide")
           ).to_have_count(1)
    pick(page, "Noise generator (NPG)", "pattern ℓ2")
    expect(lp_radius).to_contain_text("0.479", timeout=15_000)      # min s·R < R
    expect(page.locator("tr").filter(has_text="ALM")).to_contain_text("0.641")
    expect(page).to_have_url(re.compile(r"rg_npg=pattern"))
    wait_idle(page)
    plots = page.locator(PLOT)
    expect(plots).to_have_count(4)        # pixels, slice, the radius's human scale, three norms
    expect(plots.nth(1).locator(".gtitle")).to_contain_text("Certified region in ℓ2")
    expect(plots.nth(1).locator(".legendtext").filter(has_text="ALM ball")).to_have_count(1)
    expect(plots.nth(1).locator(".legendtext").filter(has_text="ellipse")).to_have_count(1)
    expect(plots.nth(3).locator(".gtitle, .annotation-text").filter(has_text="ℓ∞: box")
           ).to_have_count(1)

    # click pixel B onto (row 5, col 20) of the image: the inputs, the URL and the slice follow
    page.get_by_test_id("stRadio").filter(has_text="Clicking the picture sets").get_by_text(
        "pixel B", exact=True).click()
    wait_idle(page)
    click_pixel(page, plots.nth(0), 5, 20)
    expect(page.get_by_role("spinbutton", name="Pixel B row")).to_have_value("5",
                                                                            timeout=15_000)
    expect(page.get_by_role("spinbutton", name="Pixel B column")).to_have_value("20")
    expect(page.get_by_role("spinbutton", name="Pixel A row")).to_have_value("14")
    expect(page).to_have_url(re.compile(r"rg_B_row_28=5.*rg_B_col_28=20|rg_B_col_28=20.*"
                                        r"rg_B_row_28=5"))
    expect(plots.nth(1).locator(".ytitle")).to_contain_text("(row 5, col 20)")
    wait_idle(page)

    # the empirical check: progress while it runs, then the points on the region
    page.get_by_role("button", name="Run empirical check").click()
    expect(page.get_by_role("progressbar")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("No point changed class")).to_be_visible(timeout=60_000)
    wait_idle(page)
    expect(plots).to_have_count(5)
    check = plots.nth(4)
    expect(check.locator(".gtitle")).to_contain_text("Empirical check: PREDICT at 16 points")
    expect(check.locator(".legendtext").filter(has_text=re.compile(r"PREDICT = 7 \(held\): \d+"))
           ).to_have_count(1)
    expect(check.locator(".scatterlayer .point")).not_to_have_count(0)
    full_screenshot(page, tmp_path / "region.png")
    assert (tmp_path / "region.png").stat().st_size > 50_000
    update_readme_screenshot(tmp_path / "region.png")

    # The numbers as JSON (pixels A = 14·28 + 14 and B = 5·28 + 20), the figures as PNG and SVG
    numbers = download_button(page, "Numbers (JSON)", tmp_path)
    assert numbers.name == "region-gaussian-pattern-2-l2-406-160.json"
    summary = json.loads(numbers.read_text(encoding="utf-8"))
    assert (summary["pixel_a"], summary["pixel_b"], summary["norm"]) == (406, 160, "2")
    assert summary["lp_radius"] == pytest.approx(0.478963, abs=1e-6)
    assert summary["alm"] == pytest.approx(0.640776, abs=1e-6)
    png = download_figure(page, plots.nth(3), tmp_path)
    assert png.name == "ucan-region-norms.png"
    check_png(png, plots.nth(3))
    set_figure_format(page, "SVG")
    svg = download_figure(page, plots.nth(1), tmp_path)
    assert svg.name == "ucan-region-slice.svg"
    check_svg(svg, "Certified region in ℓ2", "(row 5, col 20)", "ALM ball")
