"""A classroom at once: N browser sessions certify on one app server at the same moment.

Starts ``streamlit run app/main.py`` as the browser tests do (``tests/e2e/conftest.py``),
opens ``--sessions`` Playwright contexts of one headless Debian Chromium (each its own
Streamlit session), loads the Certify page of each with n = ``--n`` (the bundled MNIST 7, the
default model), waits until every page is drawn, then presses **Certify** in all of them
within a fraction of a second and measures, per session, the time from its click until its
certificate ("Certified radius" metric) is on screen; a page with an exception box counts
as a failure. The server's resident memory (RSS, from
/proc) is sampled every 0.2 s: before the sessions open, at its peak, and at each of
``--after`` seconds after every context has closed (Streamlit keeps a closed session for
``server.disconnectedSessionTTL`` = 120 s, in case its tab reconnects). One JSON object, then
a Markdown summary.

    python benchmarks/app_load.py [--sessions 20] [--n 2000] [--timeout 600] [--after 20,150]

The browsers run on the same machine as the server: on a small VM they take most of the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from browser_helpers import CHROME_ARGS, CHROMIUM  # noqa: E402
from conftest import _serve  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (/proc; 0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def server_pid(port: int) -> int:
    """The pid of the process listening on ``port`` (the Streamlit server), from /proc."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inode = fields[9]
    if inode is None:
        raise RuntimeError(f"no process listens on port {port}")
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return int(fd_dir.parent.name)
        except OSError:
            continue
    raise RuntimeError(f"no pid owns the socket of port {port}")


class Sampler(threading.Thread):
    """RSS of ``pid`` every ``every`` s, kept with its time."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.samples = pid, every, []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), rss_mb(self.pid)))
            self.stop.wait(self.every)

    @property
    def peak(self) -> float:
        return max(mb for _, mb in self.samples)


async def session(browser, url: str, ready: asyncio.Event, loaded: list, timeout: float) -> dict:
    """One student: open the Certify page, wait for the common start, certify, time it."""
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    try:
        await page.goto(url, timeout=timeout * 1000)
        button = page.get_by_role("button", name="Certify", exact=True)
        await button.wait_for(timeout=timeout * 1000)
        await page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
            timeout=timeout * 1000)
        loaded.append(time.monotonic())
        await ready.wait()
        clicked = time.monotonic()
        await button.click()
        result = page.get_by_test_id("stMetric").filter(has_text="Certified radius")
        try:
            await result.first.wait_for(timeout=timeout * 1000)
            seconds = time.monotonic() - clicked
            boxes = await page.locator("[data-testid='stException']").count()
            return {"ok": boxes == 0, "seconds": seconds,
                    **({"error": f"{boxes} exception box(es)"} if boxes else {})}
        except Exception as error:  # noqa: BLE001 — a session without a result is counted
            text = await page.locator("[data-testid='stMain']").inner_text()
            shot = f"/tmp/ucan-app-load-{os.getpid()}-{id(page)}.png"
            await page.screenshot(path=shot)
            return {"ok": False, "seconds": time.monotonic() - clicked,
                    "error": type(error).__name__, "page_tail": text[-300:], "screenshot": shot}
    finally:
        await context.close()


async def classroom(url: str, sessions: int, timeout: float) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        ready, loaded = asyncio.Event(), []
        tasks = [asyncio.create_task(session(browser, url, ready, loaded, timeout))
                 for _ in range(sessions)]
        while len(loaded) < sessions and not any(t.done() for t in tasks):
            await asyncio.sleep(0.1)
        ready.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await browser.close()
    return [r if isinstance(r, dict) else {"ok": False, "error": repr(r)} for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--n", type=int, default=2000, help="estimation samples per session")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per session")
    parser.add_argument("--after", default="20,150",
                        help="seconds after the contexts close at which RSS is read")
    parser.add_argument("--workers", type=int, default=None,
                        help="UCAN_JOB_WORKERS of the server (default: the app's)")
    args = parser.parse_args()
    log = Path(f"/tmp/ucan-app-load-{os.getpid()}.log")
    env = {} if args.workers is None else {"UCAN_JOB_WORKERS": str(args.workers)}
    with _serve(log, env) as url:
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        time.sleep(2)
        before = rss_mb(pid)
        sampler = Sampler(pid)
        sampler.start()
        began = time.monotonic()
        results = asyncio.run(classroom(f"{url}/certify?cert_n={args.n}", args.sessions,
                                        args.timeout))
        closed = time.monotonic()
        after = {}
        for wait in sorted(float(t) for t in args.after.split(",")):
            time.sleep(max(0.0, closed + wait - time.monotonic()))
            after[f"{wait:g}s_after"] = round(rss_mb(pid))
        sampler.stop.set()
    times = sorted(r["seconds"] for r in results if r.get("ok"))
    report = {
        "sessions": args.sessions, "n": args.n, "got_result": len(times),
        "median_s": round(statistics.median(times), 1) if times else None,
        "max_s": round(max(times), 1) if times else None,
        "rss_mb": {"before": round(before), "peak": round(sampler.peak), **after},
        "wall_s": round(closed - began, 1), "load_average": os.getloadavg(),
        "cpus": os.cpu_count(), "server_log": str(log),
        "failures": [r for r in results if not r.get("ok")]}
    print(json.dumps(report, indent=2))
    print(f"\n| sessions | got their result | median | max | RSS before / peak / "
          f"{' / '.join(after)} |\n|---|---|---|---|---|\n| {args.sessions} | "
          f"{len(times)} / {args.sessions} | {report['median_s']} s | {report['max_s']} s | "
          f"{' / '.join(str(v) for v in report['rss_mb'].values())} MB |")


if __name__ == "__main__":
    main()
