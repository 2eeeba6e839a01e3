"""Playwright helpers shared by the browser tests (Streamlit 1.67 selectors).

Screenshots are taken into pytest's ``tmp_path`` only, so that ``make test`` leaves the
working tree clean. The README's screenshots (``docs/screenshots/``) are rewritten from a run
only on request: ``UCAN_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/e2e``
(see :func:`update_readme_screenshot`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

#: A drawn Plotly chart of the page.
PLOT = "[data-testid='stPlotlyChart'] .js-plotly-plot"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HAVE_CHROMIUM = Path(CHROMIUM).exists()
#: Module marks of every browser test file: ``pytestmark = BROWSER_TEST``.
BROWSER_TEST = [pytest.mark.e2e,
                pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")]
#: ``UCAN_UPDATE_SCREENSHOTS=1`` copies the browser tests' screenshots into the README's folder.
UPDATE_SCREENSHOTS_ENV = "UCAN_UPDATE_SCREENSHOTS"
README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: How long a job outlives its closed tab on the server of ``short_timeout_server`` (s).
SHORT_SESSION_TIMEOUT_S = 2


def pick(page, label: str, option: str, attempts: int = 3) -> None:
    """Choose ``option`` in the selectbox labelled ``label``: after the page's rerun, typed
    into the box so the list is filtered to it (long lists render only the options near the
    selected one); tried again if a rerun replaced the list while it was open (under load)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    for attempt in range(attempts):
        wait_idle(page)
        box = page.get_by_role("combobox", name=label)
        box.click()
        page.keyboard.type(option)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            if attempt == attempts - 1:
                raise


def wait_idle(page) -> None:
    """The rerun finished: Streamlit's running indicator is gone."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=20_000)


def full_screenshot(page, path) -> None:
    """Streamlit scrolls inside its main block, so grow the viewport to the content first."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
        "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 1100)")
    page.set_viewport_size({"width": 1280, "height": int(height) + 40})
    page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=True)


def update_readme_screenshot(path: Path) -> None:
    """Copy the screenshot ``path`` (in pytest's ``tmp_path``) over the README's
    ``docs/screenshots/<same name>``, only when ``UCAN_UPDATE_SCREENSHOTS=1``; otherwise nothing
    in the repository is written."""
    if os.environ.get(UPDATE_SCREENSHOTS_ENV) == "1":
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SCREENSHOTS / Path(path).name)


def panel_screenshot(page, path, width: int) -> None:
    """The attack panel alone, from its heading to its closing caption, at ``width`` px."""
    page.set_viewport_size({"width": width, "height": 1100})
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll("
                           "'[data-testid=stMain], [data-testid=stMainBlockContainer]')]"
                           ".map(e => e.scrollHeight), 1100)")
    page.set_viewport_size({"width": width, "height": int(height) + 40})
    page.wait_for_timeout(600)
    top = page.get_by_role("heading", name="The attack you can see").bounding_box()
    end = page.get_by_text("is drawn", exact=False).last.bounding_box()
    assert top is not None and end is not None
    left = max(0, top["x"] - 16)
    page.screenshot(path=str(path), full_page=True, clip={
        "x": left, "y": max(0, top["y"] - 12), "width": min(width - left, end["width"] + 32),
        "height": end["y"] + end["height"] - top["y"] + 24})


def open_nav(page, title: str, path: str) -> None:
    """Follow the sidebar link ``title`` (app/main.py's navigation) to the page at ``/path``."""
    import re

    from playwright.sync_api import expect

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(rf"/{path}(\?.*)?$"))
    expect(page.get_by_role("heading", level=1).first).to_be_visible(timeout=30_000)


def set_figure_format(page, fmt: str) -> None:
    """Choose ``fmt`` ("PNG" or "SVG") in the sidebar's figure download format, then wait
    until every chart's camera button has it (the charts are redrawn with the new config)."""
    page.get_by_test_id("stRadio").filter(has_text="Figure download format").get_by_text(
        fmt, exact=True).click()
    page.wait_for_function(
        """png => {
            const buttons = [...document.querySelectorAll(
                ".modebar-btn[data-title^='Download plot']")];
            return buttons.length > 0
                && buttons.every(b => (b.dataset.title === "Download plot as a PNG") === png);
        }""", arg=fmt == "PNG", timeout=20_000)
    wait_idle(page)


def download(page, click: Callable[[], None], folder: Path) -> Path:
    """Run ``click`` (it starts a browser download) and save the file in ``folder`` under the
    name the page suggested."""
    with page.expect_download(timeout=20_000) as info:
        click()
    path = Path(folder) / info.value.suggested_filename
    info.value.save_as(path)
    return path


def download_button(page, label: str, folder: Path) -> Path:
    """Save the file of the download button labelled ``label`` (``widgets.downloads``)."""
    return download(page, page.get_by_role("button", name=label, exact=True).click, folder)


def download_figure(page, chart, folder: Path) -> Path:
    """Save ``chart``'s figure (a ``.js-plotly-plot`` locator) through the camera button of its
    Plotly mode bar, which shows on hover."""
    chart.scroll_into_view_if_needed()
    chart.hover()
    return download(page, chart.locator(".modebar-btn[data-title^='Download plot']").click,
                    folder)


def check_svg(path: Path, *texts: str) -> None:
    """``path`` is an SVG document holding each of ``texts``."""
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith(("<svg", "<?xml")), text[:80]
    assert text.rstrip().endswith("</svg>")
    for expected in texts:
        assert expected in text, expected


def check_png(path: Path, chart) -> None:
    """``path`` is a PNG of ``chart`` (a ``.js-plotly-plot`` locator) at twice its drawn size."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, data[:8]
    size = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    box = chart.bounding_box()
    assert all(abs(pixels - 2 * drawn) <= 2 for pixels, drawn in
               zip(size, (box["width"], box["height"]))), (size, box)


def open_attack(page, audit) -> None:
    """Click the ``audit`` button and wait until the attack you can see is drawn (the audit
    draws thousands of samples: up to 4 minutes under load)."""
    from playwright.sync_api import expect
    audit.scroll_into_view_if_needed()
    audit.click()
    expect(page.get_by_role("heading", name="The attack you can see")).to_be_visible(
        timeout=240_000)
    expect(page.get_by_role("progressbar")).to_have_count(0)
    wait_idle(page)
