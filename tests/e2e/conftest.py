"""Browser-test fixtures: the Streamlit app on a free port and a Debian-Chromium Playwright context.

Recipe: /work/shared/reference/streamlit-and-browser-tests.md §1.3 (Streamlit 1.67, Playwright
1.65 with ``executable_path``; never ``playwright install``). Playwright is imported lazily so
that tests without a browser do not need it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from browser_helpers import CHROME_ARGS, CHROMIUM, HAVE_CHROMIUM, PLOT, SHORT_SESSION_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app" / "main.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    """`streamlit run app/main.py` on a free port, from the repo root; stopped at the end."""
    with _serve(Path(tempfile.mkdtemp(prefix="streamlit-")) / "server.log") as url:
        yield url


@pytest.fixture()
def short_timeout_server(tmp_path):
    """A server of its own whose jobs stop :data:`SHORT_SESSION_TIMEOUT_S` after their tab
    has gone (``UCAN_SESSION_TIMEOUT_S``); yields its URL and its log file, where the app's
    ``ucan_explorer`` lines go."""
    log_path = tmp_path / "server.log"
    with _serve(log_path, {"UCAN_SESSION_TIMEOUT_S": str(SHORT_SESSION_TIMEOUT_S)}) as url:
        yield url, log_path


@contextmanager
def _serve(log_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app/main.py` on a free port, ``env`` added to its environment, its
    output in ``log_path``; yields the URL once healthy and stops the server on exit."""
    port = _free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        url, deadline = f"http://127.0.0.1:{port}", time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"streamlit not healthy; see {log_path}")
            time.sleep(0.2)
        try:
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def playwright_driver():
    """Playwright's sync driver, started once per run (a second one in the same process
    fails); skipped without Chromium, except on CI."""
    if not HAVE_CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests, but there is no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (`make test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser_ctx(playwright_driver):
    """A persistent Debian-Chromium context (Playwright rejects --user-data-dir in args)."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    ctx = playwright_driver.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, args=CHROME_ARGS,
        viewport={"width": 1280, "height": 1100})
    yield ctx
    ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def browser(playwright_driver):
    """A Debian-Chromium browser for tests that need several isolated contexts (users)."""
    instance = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
    yield instance
    instance.close()


@pytest.fixture()
def page(browser_ctx, app_url):
    """A fresh tab on the app, once the first Plotly chart is drawn (not on networkidle)."""
    pg = browser_ctx.new_page()
    pg.goto(app_url)
    pg.wait_for_selector(f"{PLOT} svg.main-svg", timeout=90_000)  # a cold server under load
    yield pg
    pg.close()
