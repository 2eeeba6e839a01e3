"""Learn page in a real browser (Debian Chromium + Playwright), against `streamlit run`."""

from __future__ import annotations

import csv
import io

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

#: How many stages the slow-motion figure draws right now (points of its radius trace).
SHOWN = "gd.calcdata[3].length"


def test_learn_flow(page, tmp_path):
    from playwright.sync_api import expect

    open_nav(page, "Learn", "learn")
    expect(page.get_by_text("B⁻¹(0.001; 10000, 10000 − 10000 + 1)")).to_be_visible(
        timeout=60_000)                                  # the walk-through renders on load
    wait_idle(page)
    monte_carlo = page.locator(PLOT).first
    frames = monte_carlo.evaluate("gd => gd._transitionData._frames.map(f => f.name)")
    assert frames == ["10", "100", "1000", "10000"]
    # ▶ plays n = 10 → … → 10,000 in the browser (Plotly frames, no server round trip)
    assert monte_carlo.evaluate(f"gd => {SHOWN}") == 4
    handle = monte_carlo.element_handle()
    monte_carlo.locator(".updatemenu-button").click()
    page.wait_for_function(f"gd => {SHOWN} === 1", arg=handle, timeout=10_000)
    page.wait_for_function(f"gd => {SHOWN} === 4", arg=handle, timeout=15_000)
    slider = page.get_by_role("slider", name="Stage (number of samples n)")
    slider.focus()
    slider.press("ArrowLeft")
    slider.press("ArrowLeft")                           # 10,000 -> 1,000 -> 100
    expect(page.get_by_text("B⁻¹(0.001; 100, 100 − 100 + 1)")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("k = 100", exact=True)).to_be_visible()
    wait_idle(page)
    expect(page.locator(PLOT)).to_have_count(2)         # slow motion, region
    full_screenshot(page, tmp_path / "learn.png")
    assert (tmp_path / "learn.png").stat().st_size > 50_000
    update_readme_screenshot(tmp_path / "learn.png")

    # The stages as CSV: one row per n, p̲_A and the radius growing with n.
    stages = download_button(page, "Stages (CSV)", tmp_path)
    assert stages.name == "walkthrough.csv"
    rows = list(csv.DictReader(io.StringIO(stages.read_text(encoding="utf-8"))))
    assert [int(r["n"]) for r in rows] == [10, 100, 1000, 10000]
    assert int(rows[1]["k"]) == 100                      # "k = 100" on the page
    lower = [float(r["p_a_lower"]) for r in rows]
    assert lower == sorted(lower) and lower[0] < lower[-1]
    # The figures: PNG by default, SVG after the sidebar switch.
    png = download_figure(page, page.locator(PLOT).first, tmp_path)
    assert png.name == "ucan-learn-monte-carlo.png"
    check_png(png, page.locator(PLOT).first)
    set_figure_format(page, "SVG")
    svg = download_figure(page, page.locator(PLOT).nth(1), tmp_path)
    assert svg.name == "ucan-learn-region.svg"
    check_svg(svg, "Certified region in ℓ2", "δ at pixel A (row 14, col 14)")
