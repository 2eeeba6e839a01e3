"""Playwright helpers shared by the browser tests (Streamlit 1.67 selectors)."""

from __future__ import annotations


def pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()


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


def open_nav(page, title: str, path: str) -> None:
    """Follow the sidebar link ``title`` (app/main.py's navigation) to the page at ``/path``."""
    import re

    from playwright.sync_api import expect

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(rf"/{path}(\?.*)?$"))
    expect(page.get_by_role("heading", level=1).first).to_be_visible(timeout=30_000)
