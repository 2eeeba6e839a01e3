"""AppTest helpers shared by the page tests of the Region, Noise maps, Results and Learn pages."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")


def open_page(view: str, timeout: float = 120) -> AppTest:
    """The app, switched to ``views/<view>.py`` through the navigation of app/main.py."""
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    assert not at.exception, at.exception
    at.switch_page(f"views/{view}.py").run()
    assert not at.exception, at.exception
    return at


def open_with_params(view: str, params: dict[str, str] | None = None,
                     timeout: float = 120) -> AppTest:
    """``views/<view>.py`` opened directly with these URL parameters (the widgets bound to
    them take their values)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.switch_page(f"views/{view}.py")
    at.query_params.update(params or {})
    at.run()
    assert not at.exception, at.exception
    return at


def as_array(value) -> np.ndarray:
    """Plotly JSON array: a plain list or a typed array {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.astype(np.float64)
    return np.asarray(value, dtype=np.float64)


def chart_specs(at: AppTest) -> dict[str, dict]:
    """Plotly specs by the key given to st.plotly_chart (element ids are "$$ID-<hash>-<key>")."""
    return {element.proto.id.split("-", 2)[2]: json.loads(element.proto.spec)
            for element in at.get("plotly_chart")}


def traces(spec: dict) -> dict[str, dict]:
    """A figure's traces by name."""
    return {t.get("name", ""): t for t in spec["data"]}


def text(at: AppTest) -> str:
    """Markdown, captions, info, warnings and errors of the page, joined."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [i.value for i in at.info] + [w.value for w in at.warning]
    parts += [e.value for e in at.error]
    return "\n".join(parts)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def exact_metrics(at: AppTest) -> dict[str, float]:
    """The full-precision value of every metric rounded for reading
    (``app.widgets.output.reading_metric``: its tooltip ends "Full precision: <value>."),
    checked to round to the value shown (before its unit, if any: "0.812 s")."""
    from app.figures.common import fmt, fmt_p

    values = {}
    for m in at.metric:
        found = re.search(r"Full precision: (\S+)\.$", m.help or "")
        if found:
            value = float(found.group(1))
            shown = m.value.split(" ", 1)[0]
            assert shown in (fmt_p(value), fmt(value, 3)), (m.label, m.value, value)
            values[m.label] = value
    return values


def download_labels(at: AppTest) -> set[str]:
    return {d.proto.label for d in at.get("download_button")}


def wait_for_job(at: AppTest, key: str, timeout: float) -> AppTest:
    """Rerun until the background job in session state ``key`` has stopped and the page has
    taken its outcome."""
    deadline = time.monotonic() + timeout
    while True:
        job = at.session_state.get(key, None)
        assert job is not None, "no job was started"
        if not job.running and job.integrated:
            assert not at.exception, at.exception
            return at
        assert time.monotonic() < deadline, f"job still running after {timeout} s"
        time.sleep(0.1)
        at.run()
