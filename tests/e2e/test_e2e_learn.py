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


def shown_is(count: int) -> str:
    """A page predicate: the first figure (redrawn at each rerun) shows ``count`` stages."""
    return (f"() => {{ const gd = document.querySelector({PLOT!r}); "
            f"return !!(gd && gd.calcdata && gd.calcdata[3]) && {SHOWN} === {count}; }}")


def test_learn_flow(page, tmp_path):
    from playwright.sync_api import expect

    open_nav(page, "Learn", "learn")
    expect(page.get_by_text("draws n = 10,000 fresh copies")).to_be_visible(
        timeout=60_000)                                  # the walk-through renders on load
    expect(page.locator(".katex").first).to_be_visible()   # st.latex formulas (issue #12)
    wait_idle(page)
    monte_carlo = page.locator(PLOT).first
    assert monte_carlo.evaluate(f"gd => {SHOWN}") == 4
    assert monte_carlo.locator(".slider-container").count() == 0   # one n control: the page's
    # ▶ steps the page's n control n = 10 → … → 10,000: figure, numbers and formulas together
    page.get_by_role("button", name="▶ Play n").click()
    expect(page.get_by_text("draws n = 10 fresh copies")).to_be_visible(timeout=15_000)
    page.wait_for_function(shown_is(1), timeout=10_000)
    expect(page.get_by_text("draws n = 10,000 fresh copies")).to_be_visible(timeout=20_000)
    page.wait_for_function(shown_is(4), timeout=10_000)
    slider = page.get_by_role("slider", name="Stage (number of samples n)")
    slider.focus()
    slider.press("ArrowLeft")
    slider.press("ArrowLeft")                           # 10,000 -> 1,000 -> 100
    expect(page.get_by_text("draws n = 100 fresh copies")).to_be_visible(timeout=15_000)
    wait_idle(page)
    expect(page.locator(PLOT)).to_have_count(4)         # slow motion, region, shift, peeking
    full_screenshot(page, tmp_path / "learn.png")
    assert (tmp_path / "learn.png").stat().st_size > 50_000
    update_readme_screenshot(tmp_path / "learn.png")

    # The stages as CSV: one row per n, p̲_A and the radius growing with n.
    stages = download_button(page, "Stages (CSV)", tmp_path)
    assert stages.name == "walkthrough.csv"
    rows = list(csv.DictReader(io.StringIO(stages.read_text(encoding="utf-8"))))
    assert [int(r["n"]) for r in rows] == [10, 100, 1000, 10000]
    expect(page.get_by_text(f"k = {int(rows[1]['k'])}", exact=True)).to_be_visible()
    lower = [float(r["p_a_lower"]) for r in rows]
    assert lower[0] < 0.5 < lower[-1] < 0.9             # contested: abstains at n = 10
    # The figures: PNG by default, SVG after the sidebar switch.
    png = download_figure(page, page.locator(PLOT).first, tmp_path)
    assert png.name == "ucan-learn-monte-carlo.png"
    check_png(png, page.locator(PLOT).first)
    set_figure_format(page, "SVG")
    svg = download_figure(page, page.locator(PLOT).nth(1), tmp_path)
    assert svg.name == "ucan-learn-region.svg"
    check_svg(svg, "Certified region in ℓ2", "δ at pixel A (row 14, col 14)")
