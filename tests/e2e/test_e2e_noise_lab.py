"""Noise Lab in a real browser (Debian Chromium + Playwright), against `streamlit run`."""

from __future__ import annotations

import io
import re

import numpy as np
from browser_helpers import (
    BROWSER_TEST,
    PLOT,
    check_png,
    check_svg,
    download_figure,
    full_screenshot,
    open_nav,
    pick,
    set_figure_format,
    update_readme_screenshot,
    wait_idle,
)
from PIL import Image

pytestmark = BROWSER_TEST


def _expect():
    from playwright.sync_api import expect
    return expect








def test_noise_lab_flow(page, tmp_path):
    expect = _expect()
    open_nav(page, "Noise Lab", "noise_lab")      # the default page is Start
    caption = page.get_by_text(re.compile(r"noise, .* generator · d = "))
    expect(caption).to_contain_text("d = 784 (1×28×28)")

    pick(page, "Dataset", "CIFAR-10")
    expect(page.get_by_text("CIFAR-10 cat (cifar10-0000)", exact=True)).to_be_visible(
        timeout=15_000)
    expect(caption).to_contain_text("d = 3,072 (3×32×32)")

    pick(page, "Density", "Laplace (laplace)")
    expect(caption).to_contain_text("Laplace noise")
    slider = page.get_by_role("slider", name="σ (noise level)")
    slider.focus()
    slider.press("ArrowRight")
    slider.press("ArrowRight")                                   # 0.50 -> 0.60
    expect(caption).to_contain_text("σ = 0.60")
    expect(page).to_have_url(re.compile(r"sigma=0\.6"))       # the state lives in the URL
    expect(page.locator(f"{PLOT} .gtitle").filter(has_text="Certified ℓ1 radius vs p_A")
           ).to_have_count(1)

    png = tmp_path / "upload.png"
    pixels = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    png.write_bytes(buffer.getvalue())
    page.get_by_test_id("stRadio").filter(has_text="Image source").get_by_text(
        "Upload", exact=True).click()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(png))
    expect(page.get_by_text("upload.png", exact=True)).to_be_visible(timeout=15_000)
    expect(caption).to_contain_text("d = 5,760 (3×40×48)")
    expect(caption).to_contain_text("Laplace noise")
    expect(caption).to_contain_text("σ = 0.60")
    wait_idle(page)

    plots = page.locator(PLOT)
    expect(plots).to_have_count(3)                               # σ map, μ map, curve
    for i in range(3):
        expect(plots.nth(i).locator("svg.main-svg").first).to_be_visible()
    expect(plots.nth(0).locator(".gtitle")).to_contain_text("σ map")
    expect(plots.nth(1).locator(".gtitle")).to_contain_text("μ map")
    expect(plots.nth(2).locator(".legendtext").first).to_contain_text("(exact)")
    images = page.locator("[data-testid='stImage'] img")
    expect(images).to_have_count(2)                              # input and samples grid
    for i in range(2):
        images.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=images.nth(i).element_handle(), timeout=10_000)
    expect(page.get_by_text("8 noisy samples")).to_be_visible()
    expect(page.get_by_text("−0.4243·ln(2(1−0.9))")).to_be_visible()   # λ = 0.6/√2

    # Figure downloads: PNG at twice the drawn size by default, SVG after the sidebar switch.
    png = download_figure(page, plots.nth(0), tmp_path)
    assert png.name == "ucan-noise-lab-sigma-map.png"
    check_png(png, plots.nth(0))
    set_figure_format(page, "SVG")
    expect(page).to_have_url(re.compile(r"figure_format=SVG"))
    svg = download_figure(page, plots.nth(2), tmp_path)
    assert svg.name == "ucan-noise-lab-radius-curve.svg"
    check_svg(svg, "Certified ℓ1 radius vs p_A", "(exact)")
    svg = download_figure(page, plots.nth(0), tmp_path)
    assert svg.name == "ucan-noise-lab-sigma-map.svg"
    check_svg(svg, "σ map")
    full_screenshot(page, tmp_path / "noise_lab.png")
    assert (tmp_path / "noise_lab.png").stat().st_size > 50_000
    update_readme_screenshot(tmp_path / "noise_lab.png")


def test_url_reproduces_state(browser_ctx, app_url):
    """Widgets are bound to the URL: a link reproduces the view, seed included."""
    expect = _expect()
    page = browser_ctx.new_page()
    try:
        page.goto(f"{app_url}/noise_lab?sigma=0.8&seed=3&npg=pattern+%E2%84%932")
        page.wait_for_selector(f"{PLOT} svg.main-svg", timeout=30_000)
        caption = page.get_by_text(re.compile(r"noise, .* generator · d = "))
        expect(caption).to_contain_text("pattern ℓ2 generator")
        expect(caption).to_contain_text("σ = 0.80")
        expect(page.get_by_text("(seed 3)")).to_be_visible()
        expect(page.locator(PLOT)).to_have_count(3)
        expect(page.locator(f"{PLOT} .legendtext")).to_have_count(3)
    finally:
        page.close()
