"""Compare page in a real browser (Debian Chromium + Playwright), against `streamlit run`: the
flow with presets, the URL, a screenshot, and legibility in the light and dark themes."""

from __future__ import annotations

import re

import pytest
from browser_helpers import (
    BROWSER_TEST,
    PLOT,
    check_png,
    check_svg,
    download_figure,
    full_screenshot,
    open_nav,
    set_figure_format,
    update_readme_screenshot,
    wait_idle,
)

pytestmark = BROWSER_TEST


def choose_preset(page, side: int, name: str) -> None:
    """Pick preset ``name`` for noise A (side 0) or B (side 1)."""
    page.get_by_role("combobox", name="Preset").nth(side).click()
    page.get_by_role("option", name=name, exact=True).click()


def luminance(css: str) -> float:
    """WCAG relative luminance (0 black … 1 white) of a CSS ``rgb(r, g, b)`` colour."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
              for c in (int(v) / 255 for v in re.findall(r"\d+", css)[:3])]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two CSS colours (1 … 21)."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_compare_flow(page, tmp_path):
    from playwright.sync_api import expect

    open_nav(page, "Compare", "compare")
    plots = page.locator(PLOT)
    expect(plots).to_have_count(3, timeout=30_000)           # σ maps, μ maps, curves
    for i, title in enumerate(("σ maps", "μ maps")):
        expect(plots.nth(i).locator(".gtitle")).to_contain_text(f"{title}")
        expect(plots.nth(i).locator(".gtitle")).to_contain_text("one colour scale")
        expect(plots.nth(i).locator(".colorbar")).to_have_count(1)   # one shared colour bar
    legend = plots.nth(2).locator(".legendtext")
    expect(legend).to_have_text(["A: isotropic ℓ2 radius R (exact)",
                                 "B: anisotropic ℓ2 radius min sᵢ·R (sound)",
                                 "B: ALM (∏sᵢ)^(1/d)·R (size measure, not a radius)"])

    choose_preset(page, 1, "Laplace ℓ1")
    expect(legend).to_have_text(["A: isotropic ℓ1 radius R (exact)",
                                 "B: isotropic ℓ1 radius R (exact)"], timeout=15_000)
    expect(page.locator("tr").filter(has_text="B: isotropic ℓ1 radius R")).to_contain_text(
        "0.569")                                              # λ = σ/√2, −λ·ln(2·0.1)
    expect(page).to_have_url(re.compile(r"cmp_b_density=Laplace"))
    expect(page).to_have_url(re.compile(r"cmp_norm="))

    choose_preset(page, 1, "UCAN universal")
    expect(legend).to_have_text(["A: isotropic ℓ2 radius R (exact)",
                                 "B: anisotropic ℓ2 radius min sᵢ·R (sound)",
                                 "B: ALM (∏sᵢ)^(1/d)·R (size measure, not a radius)"],
                                timeout=15_000)
    expect(page).to_have_url(re.compile(r"cmp_b_npg=learned"))
    expect(page.get_by_text("Preset: UCAN universal")).to_be_visible()
    images = page.locator("[data-testid='stImage'] img")
    expect(images).to_have_count(2)                           # samples of A and of B
    wait_idle(page)
    full_screenshot(page, tmp_path / "compare.png")
    assert (tmp_path / "compare.png").stat().st_size > 50_000
    update_readme_screenshot(tmp_path / "compare.png")
    # The figures download: PNG by default, SVG after the sidebar switch.
    png = download_figure(page, plots.nth(2), tmp_path)
    assert png.name == "ucan-compare-curves.png"
    check_png(png, plots.nth(2))
    set_figure_format(page, "SVG")
    svg = download_figure(page, plots.nth(0), tmp_path)
    assert svg.name == "ucan-compare-sigma.svg"
    check_svg(svg, "σ maps", "one colour scale")
    svg = download_figure(page, plots.nth(2), tmp_path)
    check_svg(svg, "A: isotropic ℓ2 radius R (exact)", "B: ALM (∏sᵢ)^(1/d)·R")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_charts_follow_the_light_and_dark_themes(browser_ctx, app_url, scheme):
    """The charts take the app's background and a text colour that contrasts with it; the
    legend box stays translucent (a white box would hide light text in the dark theme)."""
    from playwright.sync_api import expect

    page = browser_ctx.new_page()
    try:
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{app_url}/compare")
        expect(page.locator(PLOT)).to_have_count(3, timeout=30_000)
        wait_idle(page)
        app_bg = page.evaluate("() => getComputedStyle(document.querySelector("
                               "'[data-testid=stApp]')).backgroundColor")
        assert (luminance(app_bg) < 0.1) == (scheme == "dark")
        curves = page.locator(PLOT).nth(2)
        expect(curves.locator(".legendtext").first).to_be_visible()
        paper = curves.locator("svg.main-svg").first.evaluate("s => s.style.background")
        assert contrast(paper, app_bg) < 1.1                    # the theme's background
        ticks = curves.locator(".xtick text").first.evaluate("t => t.style.fill")
        legend_text = curves.locator(".legendtext").first.evaluate("t => t.style.fill")
        assert contrast(ticks, app_bg) >= 3 and contrast(legend_text, app_bg) >= 4.5
        box = curves.locator("g.legend rect.bg").evaluate(
            "r => [r.style.fill, Number(r.style.fillOpacity)]")
        assert box[1] <= 0.3 or contrast(box[0], app_bg) < 1.5
    finally:
        page.close()
