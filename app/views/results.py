"""Results: certified accuracy vs radius from certify logs, ours and Cohen et al.'s, overlaid.

Logs are read by ``ucan_core.io.logs.read_log`` and summarised by ``ucan_core.analysis``
(through ``app.cached.results``); the figure comes from ``app.figures.results``.
"""

from __future__ import annotations

import json
import math
import re
import time

import streamlit as st

from app.cached.results import accuracy_curves, accuracy_table, bundled_logs, cohen_logs, uploaded_log
from app.figures.common import csv_text
from app.figures.results import accuracy_figure
from app.widgets.output import chart, downloads, soundness_badge
from ucan_core import analysis
from ucan_core.errors import UcanError

_t0 = time.perf_counter()
PREFIX = "res_"
DEFAULT_RADII = "0 0.25 0.5 0.75 1 1.5 2 2.5 3"
#: The default view: one dataset (MNIST, 500 test images), isotropic Gaussian noise at three σ
#: and UCAN's learned universal noise — a few curves on one scale, not every log at once.
DEFAULT_OURS = ("mnist-gaussian-0.25", "mnist-gaussian-0.50", "mnist-gaussian-1.00",
                "mnist-universal-0.50")
#: What markdown (and Streamlit's :color[…] and $…$) would read inside one line of text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$~|:])")


def _escaped(text: str) -> str:
    """User-provided text (a file name, a log's field) safe to show in one line of markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))

st.title("Results")
st.markdown(
    "Certified accuracy at radius r is the fraction of test inputs that the smoothed "
    "classifier gets right **and** certifies with radius ≥ r (abstentions count as wrong; "
    "Cohen et al.'s rule). Curves from this project's `ucan certify` logs (MNIST, CIFAR-10, "
    "ImageNet photos; the Dual RS, routing and C-OPT studies on request), the "
    "published logs of Cohen et al. (2019) (CIFAR-10, ImageNet) and your own log, overlaid. "
    "Radii are in pixel units of each dataset: a radius on 3×224×224 ImageNet images is not "
    "comparable with one on 28×28 MNIST digits.")

ours, cohen = bundled_logs(), cohen_logs()
col_ours, col_cohen = st.columns(2, gap="medium")
chosen_ours = col_ours.multiselect(
    "This project's logs", list(ours), default=[n for n in DEFAULT_OURS if n in ours],
    key=f"{PREFIX}ours", bind="query-params",
    help="`ucan certify` logs in assets/results: the bundled models (MNIST: 500 test images, "
         "n = 5,000; CIFAR-10: the exact 100, n = 2,000; ImageNet: the 20 bundled photos at "
         "224×224, n = 100, so no radius above 1.5σ; α = 0.001), then the Dual RS, "
         "routing and C-OPT studies (dual-rs/…, routing/…, copt/…). Each log's images, n and "
         "α are under “Where each log comes from”.")
chosen_cohen = col_cohen.multiselect(
    "Cohen et al. (2019) logs", list(cohen),
    default=[], key=f"{PREFIX}cohen", bind="query-params",
    help="Published certify logs of Cohen, Rosenfeld & Kolter (ℓ2, Gaussian noise; models "
         "trained and certified at the same σ). Their radii are in CIFAR-10 or ImageNet "
         "pixel units: overlay them with care.")
col_upload, col_options = st.columns(2, gap="medium")
upload = col_upload.file_uploader(
    "Your certify log", key=f"{PREFIX}upload",
    help="A tab-separated Cohen-format log (header `idx label predict radius correct time`, "
         "more columns allowed), e.g. from `ucan certify --out`; at most 20 MB.")
with_alm = col_options.checkbox(
    "ALM curves for anisotropic logs", value=True, key=f"{PREFIX}alm", bind="query-params",
    help="Also plot certified accuracy against the ALM (a size of the anisotropic certified "
         "region, not a radius), dashed.")
radii_text = col_options.text_input(
    "Radii for the table", DEFAULT_RADII, key=f"{PREFIX}radii", bind="query-params",
    help="Space-separated radii r ≥ 0 at which the table lists the certified accuracy.")

logs = [ours[name] for name in chosen_ours] + [cohen[name] for name in chosen_cohen]
if upload is not None:
    try:
        logs.append(uploaded_log(upload.getvalue(), upload.name))
    except UcanError as error:
        col_upload.error(f"Cannot use this log: {_escaped(str(error))}")
try:
    radii = tuple(float(r) for r in radii_text.replace(",", " ").split())
    if not radii or not all(math.isfinite(r) and r >= 0 for r in radii):
        raise ValueError
except ValueError:
    col_options.error(f"Radii must be numbers ≥ 0, finite (not nan or inf), separated by "
                      f"spaces; using {DEFAULT_RADII}.")
    radii = tuple(float(r) for r in DEFAULT_RADII.split())

if not logs:
    st.info("Choose at least one log (or upload one).")
    st.stop()
grid, curves = accuracy_curves(logs, with_alm)
chart(accuracy_figure(
    grid, [(s.log, s.measure, s.certified_accuracy) for s in curves]), key="results_curves")
summaries = accuracy_table(logs, radii, with_alm)
records = json.loads(analysis.format_table(summaries, "json"))["rows"]
st.markdown("**Certified accuracy** (`ucan_core.analysis`; ACR = average certified radius)")
percent = st.column_config.NumberColumn(format="percent")
st.dataframe(records, hide_index=True, width="stretch", height="content", key="results_table",
             column_config={"abstain_rate": percent, "clean_accuracy": percent,
                            **{f"r={r:g}": percent for r in radii},
                            "acr": st.column_config.NumberColumn(format="%.3f")})
tags = sorted({s.soundness for s in summaries})
st.markdown("Soundness of the rows: " + " · ".join(map(soundness_badge, tags)))
st.caption("sound: certificates for the deployed smoothed classifier. input-dependent: "
           "the noise maps were computed from each test image, so these numbers are not "
           "certificates for the deployed classifier. unstated: Cohen's logs carry no tag "
           "(isotropic Gaussian noise, sound). Compare radius rows with radius rows; an "
           "ALM row measures the size of the certified region.")
curve_rows = [{"radius": float(r), **{f"{s.log} [{s.measure}]": s.certified_accuracy[k]
                                      for s in curves}} for k, r in enumerate(grid)]
downloads([
    ("Table (CSV)", analysis.format_table(summaries, "csv"), "certified-accuracy.csv"),
    ("Table (JSON)", analysis.format_table(summaries, "json"), "certified-accuracy.json"),
    ("Curves (CSV)", csv_text(curve_rows), "certified-accuracy-curves.csv")],
    key="results_dl")
# settings as text: one column may mix numbers and words (the photo logs' seed is "photo index")
runs = [{"log": e.name, "source": e.source, "rows": len(e.log),
         **{k: str(v) for k, v in e.settings.items() if not isinstance(v, dict)},
         **{f"noise.{k}": str(v) for k, v in e.settings.get("noise", {}).items()
            if k in ("name", "sigma", "npg")}} for e in logs]
with st.expander("Where each log comes from (run settings)"):
    st.dataframe(runs, hide_index=True, width="stretch")
    st.caption("This project's logs: `ucan certify` with the settings of their "
               "`.run.json`. Cohen et al.'s: github.com/locuslab/smoothing (commit "
               "78a4d94), copied byte for byte into assets/cohen_logs (see its "
               "PROVENANCE.md); every 20th CIFAR-10 / every 100th ImageNet test image.")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
