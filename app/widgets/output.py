"""Output helpers: Plotly charts with a figure download in the sidebar's format, download
buttons for the numbers behind a view, metrics rounded for reading and the soundness badge."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from app import state
from app.figures.common import fmt, fmt_p, full

SOUNDNESS_COLOURS = {"sound": "green", "input-dependent": "orange", "approximate": "orange"}


def downloads(files: Sequence[tuple[str, str, str]], key: str,
              what: str = "the numbers behind the figure") -> None:
    """One download button per (label, text, file name); CSV or JSON by the file's suffix;
    ``what`` says in the tooltip what the files hold."""
    for column, (label, text, name) in zip(st.columns(len(files)), files):
        mime = "application/json" if name.endswith(".json") else "text/csv"
        column.download_button(label, text, file_name=name, mime=mime, on_click="ignore",
                               key=f"{key}_{name}", width="stretch",
                               help=f"Save {name}: {what}.")


def figure_name(key: str) -> str:
    """Default file name of chart ``key``'s image: ``ucan-<page>-<key>`` in lower case with
    hyphens, less a first key word that repeats the page's (``compare_sigma`` on the Compare
    page gives ``ucan-compare-sigma``)."""
    page = re.findall(r"[a-z0-9]+", state.page_title().lower())
    words = re.findall(r"[a-z0-9]+", key.lower())
    if words and words[0] in page:
        words = words[1:]
    return "-".join(["ucan", *page, *words])


def chart(figure: go.Figure, key: str, *, filename: str | None = None, tools: bool = False,
          config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """``st.plotly_chart`` whose camera button (top right, on hover) downloads the figure in
    the sidebar's format: PNG at twice the screen resolution, or SVG. The file is
    ``<filename>.png|svg``, by default :func:`figure_name`. ``tools`` keeps Plotly's zoom
    and pan buttons beside it; ``config`` overrides the Plotly config (``{"displayModeBar":
    False}`` hides the bar); other arguments go to ``st.plotly_chart``."""
    fmt = state.figure_format()
    image = ({"format": fmt, "filename": filename or figure_name(key)}
             | ({"scale": 2} if fmt == "png" else {}))
    plotly_config: dict[str, Any] = {"displaylogo": False, "toImageButtonOptions": image}
    if not tools:
        plotly_config["modeBarButtons"] = [["toImage"]]
    return st.plotly_chart(figure, key=key, config=plotly_config | (config or {}), **kwargs)


#: The longest text value a metric shows whole in a quarter of the Certify page at 1280 px
#: (``st.metric`` cuts longer ones with "…").
METRIC_CHARS = 8


def reading_metric(column: Any, label: str, value: float, *, probability: bool = False,
                   unit: str = "", help: str = "", **kwargs: Any) -> None:
    """``st.metric`` of a number rounded for reading (a probability by ``fmt_p``, other numbers
    to three significant digits, then `` unit`` if given), with its full precision in the
    tooltip after ``help``; other arguments (``delta``…) go to ``st.metric``."""
    shown = (fmt_p(value) if probability else fmt(value, 3)) + (f" {unit}" if unit else "")
    column.metric(label, shown, help=f"{help} Full precision: {full(value)}.".strip(), **kwargs)


def text_metric(column: Any, label: str, value: str, *, help: str = "") -> None:
    """A metric of a word (a class name): ``st.metric`` when it fits whole
    (:data:`METRIC_CHARS`), else the label and the value in bold markdown, which wraps, so a
    long ImageNet class name is never cut."""
    if len(value) <= METRIC_CHARS:
        column.metric(label, value, help=help or None)
    else:
        column.caption(label, help=help or None)
        column.markdown(f"**{escape_markdown(value)}**")


def soundness_badge(tag: str) -> str:
    """A Streamlit-markdown badge for a soundness tag (sound / input-dependent / unstated)."""
    return f":{SOUNDNESS_COLOURS.get(tag, 'gray')}-badge[{tag}]"


#: Characters that Streamlit markdown would interpret inline (emphasis, links and images, code,
#: HTML, headings, tables, strike-through, colour directives and badges, maths).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~:$])")


def escape_markdown(text: str) -> str:
    """A user-provided string (a file name, a URL value) shown literally in Streamlit markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
