"""Results page in a real browser (Debian Chromium + Playwright), against `streamlit run`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from browser_helpers import (
    BROWSER_TEST,
    PLOT,
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
LOG = Path(__file__).resolve().parents[2] / "assets" / "results" / "mnist-gaussian-1.00.tsv"


def test_results_flow(page, tmp_path):
    from playwright.sync_api import expect

    open_nav(page, "Results", "results")
    legend = page.locator(f"{PLOT} .legendtext")
    # The default view is one dataset (MNIST), not every log (issue #12).
    expect(legend.filter(has_text="mnist-gaussian-0.25")).to_have_count(1, timeout=30_000)
    expect(legend.filter(has_text="mnist-universal-0.50 (ALM)")).to_have_count(1)
    expect(legend.filter(has_text="Cohen ImageNet")).to_have_count(0)
    upload = page.locator("[data-testid='stFileUploaderDropzoneInput']")
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes\n")
    upload.set_input_files(str(bad))
    expect(page.get_by_text("Cannot use this log: notes.txt is not a tab-separated log")
           ).to_be_visible(timeout=15_000)
    mine = tmp_path / "my-run.tsv"
    mine.write_bytes(LOG.read_bytes())
    upload.set_input_files(str(mine))
    expect(legend.filter(has_text="my-run.tsv")).to_have_count(1, timeout=15_000)
    expect(page.get_by_text("Cannot use this log")).to_have_count(0)
    wait_idle(page)
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    expect(page.get_by_role("button", name="Table (CSV)")).to_be_visible()
    full_screenshot(page, tmp_path / "results.png")
    assert (tmp_path / "results.png").stat().st_size > 50_000
    update_readme_screenshot(tmp_path / "results.png")

    # The table as CSV: the upload's row has the numbers of the bundled log it copies.
    table = download_button(page, "Table (CSV)", tmp_path)
    assert table.name == "certified-accuracy.csv"
    rows = {(r.pop("log"), r["measure"]): r
            for r in csv.DictReader(io.StringIO(table.read_text(encoding="utf-8")))}
    assert rows[("my-run.tsv", "radius")] == rows[(LOG.stem, "radius")]
    assert rows[("my-run.tsv", "radius")]["rows"] == "500"
    assert ("mnist-gaussian-0.25", "radius") in rows
    # The curves as SVG, after the sidebar switch.
    set_figure_format(page, "SVG")
    svg = download_figure(page, page.locator(PLOT).first, tmp_path)
    assert svg.name == "ucan-results-curves.svg"
    check_svg(svg, "my-run.tsv", "mnist-gaussian-0.25", "mnist-universal-0.50 (ALM)")
