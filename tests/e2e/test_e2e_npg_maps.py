"""Noise maps page in a real browser (Debian Chromium + Playwright), against `streamlit run`."""

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
    pick,
    set_figure_format,
    update_readme_screenshot,
    wait_idle,
)

pytestmark = BROWSER_TEST


def test_noise_maps_flow(page, tmp_path):
    from playwright.sync_api import expect

    open_nav(page, "Noise maps", "npg_maps")
    models = page.get_by_text(re.compile(r"^Models: "))
    expect(models).to_contain_text("mnist-universal-0.50", timeout=30_000)
    pick(page, "σ of the models", "1")
    expect(models).to_contain_text("mnist-input-dependent-1.00", timeout=15_000)
    expect(page).to_have_url(re.compile(r"maps_sigma=1"))
    pick(page, "Image", "#0001 · 2")
    expect(page.get_by_text("MNIST 2 (mnist-0001)")).to_be_visible(timeout=15_000)
    wait_idle(page)
    plots = page.locator(PLOT)
    expect(plots).to_have_count(2)                      # a row of σ maps, a row of μ maps
    expect(plots.nth(0).locator(".gtitle")).to_contain_text("σ maps")
    expect(plots.nth(1).locator(".gtitle")).to_contain_text("μ maps")
    for i in range(2):
        for name in ("isotropic", "pattern ℓ2", "universal", "input-dependent"):
            expect(plots.nth(i).locator(".annotation-text").filter(
                has_text=re.compile(f"^{name}$"))).to_have_count(1)
        expect(plots.nth(i).locator(".heatmaplayer image")).to_have_count(4)
    expect(page.get_by_text(re.compile(r"^Not a certificate for the deployed classifier"))
           ).to_have_count(1)
    expect(page.locator("[data-testid='stMarkdownContainer']").filter(
        has_text=re.compile(r"^input-dependent input-dependent$"))).to_have_count(1)
    full_screenshot(page, tmp_path / "npg_maps.png")
    assert (tmp_path / "npg_maps.png").stat().st_size > 50_000
    update_readme_screenshot(tmp_path / "npg_maps.png")

    # The summary as JSON: the four noises of the figure with their soundness tags.
    summary = download_button(page, "Summary (JSON)", tmp_path)
    assert summary.name.startswith("noise-maps-sigma1-") and summary.suffix == ".json"
    entries = json.loads(summary.read_text(encoding="utf-8"))
    assert [(e["noise"], e["soundness"]) for e in entries] == [
        ("isotropic", "sound"), ("pattern ℓ2", "sound"), ("universal", "sound"),
        ("input-dependent", "input-dependent")]
    # The map rows: PNG by default, SVG after the sidebar switch.
    png = download_figure(page, plots.nth(1), tmp_path)
    assert png.name == "ucan-noise-maps-mu-row.png"
    check_png(png, plots.nth(1))
    set_figure_format(page, "SVG")
    svg = download_figure(page, plots.nth(0), tmp_path)
    assert svg.name == "ucan-noise-maps-sigma-row.svg"
    check_svg(svg, "σ maps", "pattern ℓ2", "input-dependent")
