"""Instant-tier speed of the app: server-side time of one rerun per page, through AppTest.

For each page and each image size (an MNIST digit, a CIFAR-10 image, a photo reduced to a
longer side of 224 px) the page is opened, warmed up (first render and one interaction, so
cached curves and walk-throughs exist), then a widget is moved to a NEW value ``--repeats``
times; each rerun is timed two ways: the page's own "Server time for this view" (its script,
from its first line to its last) and the whole AppTest rerun (app/main.py, navigation, the
page and Streamlit's serialisation, without a browser). Prints one JSON object per page and
image, then a Markdown table of the medians (page / whole rerun, ms). Goal: < 300 ms.

    python benchmarks/app_speed.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
#: Column title → the dataset's label in the URL (the bundled image pickers' format).
IMAGES = {"MNIST 1×28×28": "MNIST", "CIFAR-10 3×32×32": "CIFAR-10",
          "photo 3×149×224": "Photo"}
GOAL_MS = 300.0
SERVER_TIME = re.compile(r"Server time for this view: (\d+) ms")


@dataclass(frozen=True)
class PageCase:
    """A page, how its URL picks the image (None: the page has no image of its own), and the
    instant-tier interaction: ``move(at, i)`` sets a widget to its i-th new value."""

    title: str
    view: str
    image_param: str | None
    move: Callable[[AppTest, int], object]
    params: tuple[tuple[str, str], ...] = ()
    mnist_only: bool = False


def _sigma(key: str) -> Callable[[AppTest, int], object]:
    return lambda at, i: at.slider(key=key).set_value(round(0.55 + 0.05 * (i % 28), 2))


CASES = [
    PageCase("Noise Lab (new σ)", "noise_lab", "dataset", _sigma("sigma")),
    PageCase("Noise Lab (new p_A)", "noise_lab", "dataset",
             lambda at, i: at.slider(key="p_a").set_value(round(0.8 + 0.01 * i, 3))),
    PageCase("Region (new p_A)", "region", "rg_dataset",
             lambda at, i: at.slider(key="rg_p_a").set_value(round(0.8 + 0.01 * i, 3))),
    PageCase("Noise maps (new κ)", "npg_maps", None,
             lambda at, i: at.slider(key="maps_kappa").set_value(round(1.1 + 0.1 * i, 1)),
             mnist_only=True),
    PageCase("Radius (cached curve, new p_A)", "radius", "rd_dataset",
             lambda at, i: at.slider(key="rd_p_a").set_value(round(0.8 + 0.01 * i, 3))),
    PageCase("Results (new radii)", "results", None,
             lambda at, i: at.text_input(key="res_radii").input(f"0 0.5 1 {1.5 + 0.1 * i:g}")),
    PageCase("Learn (cached run, new stage)", "learn", None,
             lambda at, i: at.select_slider(key="learn_stage_10000").set_value(
                 (10, 100, 1000, 10_000)[i % 4]), mnist_only=True),
    PageCase("Compare (new σ of B)", "compare", "cmp_dataset", _sigma("cmp_b_sigma")),
]


def _page_ms(at: AppTest) -> float:
    times = [SERVER_TIME.search(c.value) for c in at.caption]
    found = [float(m.group(1)) for m in times if m]
    if not found:
        raise RuntimeError("no 'Server time for this view' caption on the page")
    return found[-1]


def measure(case: PageCase, dataset: str | None, repeats: int) -> dict[str, object]:
    """Medians (ms) of the page's server time and of the whole rerun over ``repeats`` moves."""
    at = AppTest.from_file(APP, default_timeout=900)
    at.switch_page(f"views/{case.view}.py")
    at.query_params.update(dict(case.params))
    if case.image_param and dataset:
        at.query_params[case.image_param] = dataset
    at.run()
    case.move(at, repeats)                                 # warm-up interaction
    at.run()
    if at.exception or at.error:
        raise RuntimeError(f"{case.title}: {at.exception or at.error[0].value}")
    page, whole = [], []
    for i in range(repeats):
        case.move(at, i)
        start = time.perf_counter()
        at.run()
        whole.append((time.perf_counter() - start) * 1000)
        page.append(_page_ms(at))
    return {"page": case.title, "image": dataset, "repeats": repeats,
            "page_ms": statistics.median(page), "rerun_ms": statistics.median(whole),
            "page_ms_all": page, "rerun_ms_all": [round(t) for t in whole]}


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    table: dict[str, dict[str, str]] = {}
    for case in CASES:
        row = table.setdefault(case.title, {})
        for column, dataset in IMAGES.items():
            if case.mnist_only and dataset != "MNIST":
                row[column] = "— (MNIST models)"
                continue
            if case.image_param is None and not case.mnist_only and row:
                row[column] = "same (no image)"
                continue
            result = measure(case, dataset, args.repeats)
            print(json.dumps(result), flush=True)
            mark = "" if result["rerun_ms"] < GOAL_MS else " ✗"
            row[column] = f"{result['page_ms']:.0f} / {result['rerun_ms']:.0f}{mark}"
    print(f"\n| page (ms: page script / whole rerun; ✗ ≥ {GOAL_MS:.0f} ms) | "
          + " | ".join(IMAGES) + " |")
    print("|---" * (len(IMAGES) + 1) + "|")
    for title, row in table.items():
        print(f"| {title} | " + " | ".join(row[c] for c in IMAGES) + " |")


if __name__ == "__main__":
    run()
