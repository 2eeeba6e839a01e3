"""A classroom at once: N browser sessions certify on one app server at the same moment.

Starts ``streamlit run app/main.py`` as the browser tests do (``tests/e2e/conftest.py``),
opens ``--sessions`` Playwright contexts of one headless Debian Chromium (each its own
Streamlit session), loads the Certify page of each with n = ``--n`` (the bundled MNIST 7, the
default model), waits until every page is drawn, then presses **Certify** in all of them
within a fraction of a second and measures, per session, the time from its click until its
certificate ("Certified radius" metric) is on screen; a page with an exception box counts
as a failure. The server's resident memory (RSS, from
/proc) is sampled every 0.2 s: before the sessions open, once one warm-up session has certified
and closed (the libraries, models and caches every later session shares), at its peak, and at
each of ``--after`` seconds after every context has closed (Streamlit keeps a closed session for
``server.disconnectedSessionTTL`` = 120 s, in case its tab reconnects). With ``--rounds`` K the
class comes K times, one after the other, on the same server (RSS read 20 s after each round
closed, the ``--after`` readings after the last): memory that settles at the same level after
every round is bounded, memory that climbs round after round leaks. Each reading also
splits RSS into anonymous memory (heap, tensors) and file-backed pages (shared libraries, which
the kernel can drop and other processes share). The floor is the RSS of a bare Python that
only imports the app's libraries (torch, scipy, pandas, plotly, streamlit, ucan_core). One JSON
object, then a Markdown summary.

    python benchmarks/app_load.py [--sessions 20] [--rounds 2] [--n 2000] [--timeout 600]
                                  [--after 20,150]

The browsers run on the same machine as the server: on a small VM they take most of the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from browser_helpers import CHROME_ARGS, CHROMIUM  # noqa: E402
from conftest import _serve  # noqa: E402

#: Seconds after a round's last context closed at which RSS is read before the next round.
ROUND_PAUSE_S = 20.0


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory of process ``pid`` in MB: total, anonymous, file-backed (/proc; 0 once gone)."""
    fields = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
    found = dict.fromkeys(fields.values(), 0.0)
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(maxsplit=1)[0] if line else ""
            if key in fields:
                found[fields[key]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return found


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of process ``pid`` in MB."""
    return memory_mb(pid)["rss"]


def reading(pid: int) -> dict[str, int]:
    """One memory reading of ``pid``, rounded to MB."""
    return {k: round(v) for k, v in memory_mb(pid).items()}


def import_floor_mb() -> dict[str, int]:
    """RSS of a fresh Python that imports the app's libraries and nothing else."""
    code = ("import torch, scipy.stats, pandas, plotly.graph_objects, streamlit, ucan_core, os, "
            "time; print(os.getpid(), flush=True); time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True)
    try:
        return reading(int(child.stdout.readline()))
    finally:
        child.kill()
        child.wait()


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
    parser.add_argument("--rounds", type=int, default=2,
                        help="classes that come one after the other (the same server)")
    parser.add_argument("--workers", type=int, default=None,
                        help="UCAN_JOB_WORKERS of the server (default: the app's)")
    args = parser.parse_args()
    log = Path(f"/tmp/ucan-app-load-{os.getpid()}.log")
    env = {} if args.workers is None else {"UCAN_JOB_WORKERS": str(args.workers)}
    floor = import_floor_mb()
    page = f"/certify?cert_n={args.n}"
    with _serve(log, env) as url:
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        time.sleep(2)
        before = reading(pid)
        warm_up = asyncio.run(classroom(url + page, 1, args.timeout))[0]
        time.sleep(5)
        warm = reading(pid)
        sampler = Sampler(pid)
        sampler.start()
        began = time.monotonic()
        results, after = [], {}
        for round_ in range(1, args.rounds + 1):
            results += asyncio.run(classroom(url + page, args.sessions, args.timeout))
            closed = time.monotonic()
            waits = sorted(float(t) for t in args.after.split(",")) if round_ == args.rounds \
                else [ROUND_PAUSE_S]
            for wait in waits:
                time.sleep(max(0.0, closed + wait - time.monotonic()))
                after[f"round_{round_}_{wait:g}s_after"] = reading(pid)
        sampler.stop.set()
    times = sorted(r["seconds"] for r in results if r.get("ok"))
    report = {
        "sessions": args.sessions, "rounds": args.rounds, "n": args.n,
        "got_result": len(times), "of": len(results),
        "median_s": round(statistics.median(times), 1) if times else None,
        "max_s": round(max(times), 1) if times else None,
        "memory_mb": {"import_floor": floor, "before": before, "after_one_warm_session": warm,
                      "peak": {"rss": round(sampler.peak)}, **after},
        "warm_up_session_ok": bool(warm_up.get("ok")),
        "wall_s": round(closed - began, 1), "load_average": os.getloadavg(),
        "cpus": os.cpu_count(), "server_log": str(log),
        "failures": [r for r in results if not r.get("ok")]}
    print(json.dumps(report, indent=2))
    memory = report["memory_mb"]
    print(f"\n| sessions × rounds | got their result | median | max | RSS (anonymous) in MB: "
          f"{' / '.join(memory)} |\n|---|---|---|---|---|\n| {args.sessions} × {args.rounds} | "
          f"{len(times)} / {len(results)} | {report['median_s']} s | {report['max_s']} s | "
          + " / ".join(f"{m['rss']}" + (f" ({m['anon']})" if "anon" in m else "")
                       for m in memory.values()) + " |")


if __name__ == "__main__":
    main()
