"""A closed tab's certification stops on the server: its job sees that the browser session is
gone and cancels itself once it has not seen the session for the session timeout
(app/services.py BackgroundJob).

The test runs a server of its own with a short timeout (``UCAN_SESSION_TIMEOUT_S``) and reads
the line that the job writes to the server log when it ends.
"""

from __future__ import annotations

import re
import time

from browser_helpers import BROWSER_TEST, SHORT_SESSION_TIMEOUT_S, wait_idle

pytestmark = BROWSER_TEST

#: The server-log line of a certification job's end (app/services.py BackgroundJob._log_end).
JOB_END = re.compile(r"CertifyJob \d+ (?P<how>\w+)(?P<why>: [^;]*)?; (?P<done>[\d,]+) / "
                     r"(?P<total>[\d,]+) done in (?P<elapsed>[\d.]+) s")


def test_closed_tab_stops_its_certification(browser_ctx, short_timeout_server):
    from playwright.sync_api import expect

    url, log = short_timeout_server
    page = browser_ctx.new_page()
    page.goto(f"{url}/certify?cert_n=100000")        # the longest run the page allows
    certify = page.get_by_role("button", name="Certify", exact=True)
    certify.wait_for(timeout=60_000)
    expect(page.get_by_role("spinbutton", name="n (estimation samples)", exact=True)
           ).to_have_value("100000")
    wait_idle(page)
    certify.click()
    expect(page.get_by_text(re.compile(r"Certifying: [1-9][\d,]* / 100,100 samples"))
           ).to_be_visible(timeout=30_000)
    assert not JOB_END.search(log.read_text(encoding="utf-8"))    # running, not ended

    page.close()
    closed = time.monotonic()
    while (not (end := JOB_END.search(log.read_text(encoding="utf-8")))
           and time.monotonic() - closed < 60):
        time.sleep(0.2)
    waited = time.monotonic() - closed
    assert end, log.read_text(encoding="utf-8")[-3000:]
    assert end["how"] == "abandoned", end[0]
    assert end["why"] == (f": its browser session was not seen for over "
                          f"{SHORT_SESSION_TIMEOUT_S:g} s")
    done, total = (int(end[name].replace(",", "")) for name in ("done", "total"))
    assert total == 100_100 and 0 < done < total                  # stopped midway
    assert waited < SHORT_SESSION_TIMEOUT_S + 20
    print(f"\njob stopped {waited:.1f} s after the tab closed: {end[0]}")
