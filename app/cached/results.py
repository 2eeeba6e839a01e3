"""Results page: the bundled certify logs (this project's and Cohen et al.'s) and uploads,
read by ``ucan_core.io.logs.read_log`` and summarised by ``ucan_core.analysis``."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from ucan_core import analysis
from ucan_core.errors import UcanError
from ucan_core.io.logs import Log, read_log
from ucan_core.zoo.paths import assets_dir

RESULTS_DIR = assets_dir() / "results"
COHEN_DIR = assets_dir() / "cohen_logs"
MAX_LOG_BYTES = 20 * 1024 * 1024
_COHEN_NAME = re.compile(r"(?P<dataset>[a-z0-9]+)-(?P<arch>[a-z0-9]+)-noise_(?P<train>[\d.]+)"
                         r"-sigma_(?P<sigma>[\d.]+)")


@dataclass(frozen=True)
class NamedLog:
    """A parsed certify log with a display name, where it came from and its run settings."""

    name: str
    source: str
    log: Log
    settings: dict[str, Any] = field(default_factory=dict)


#: Sub-folders of assets/results with the logs of one comparison each (README sections).
RESULT_STUDIES = {"dual-rs": "Dual RS comparison", "routing": "routing comparison",
                  "copt": "C-OPT grid"}
#: Sub-folders of assets/results with bundled models' logs of one dataset (named by model,
#: like the logs at the top), with the dataset's title.
DATASET_FOLDERS = {"photos": "ImageNet, the 20 bundled photos"}


@st.cache_data(show_spinner=False)
def bundled_logs() -> dict[str, NamedLog]:
    """This project's `ucan certify` logs with their .run.json settings: the bundled models'
    (assets/results and its :data:`DATASET_FOLDERS`, named by model) first, then each
    study's (``folder/stem``)."""
    paths = sorted(RESULTS_DIR.glob("*.tsv")) + [
        path for folder in (*DATASET_FOLDERS, *RESULT_STUDIES)
        for path in sorted((RESULTS_DIR / folder).glob("*.tsv"))]
    out = {}
    for path in paths:
        run = path.with_name(path.name + ".run.json")
        settings = json.loads(run.read_text()) if run.is_file() else {}
        folder = path.parent.name
        study = RESULT_STUDIES.get(folder)
        name = f"{folder}/{path.stem}" if study else str(settings.get("model", path.stem))
        dataset = DATASET_FOLDERS.get(folder)
        source = (f"ucan certify ({study})" if study
                  else f"ucan certify (this project, {dataset})" if dataset
                  else "ucan certify (this project)")
        out[name] = NamedLog(name, source, read_log(path), settings)
    return out


def cohen_label(stem: str) -> str:
    """``imagenet-resnet50-noise_0.25-sigma_0.25`` → ``Cohen ImageNet σ=0.25``."""
    match = _COHEN_NAME.fullmatch(stem)
    if match is None:
        return f"Cohen {stem}"
    title = {"cifar10": "CIFAR-10", "imagenet": "ImageNet"}.get(match["dataset"],
                                                                 match["dataset"])
    trained = "" if match["train"] == match["sigma"] else f" (trained σ={match['train']})"
    return f"Cohen {title} σ={match['sigma']}{trained}"


@st.cache_data(show_spinner=False)
def cohen_logs() -> dict[str, NamedLog]:
    """The bundled published logs of Cohen et al. (2019), assets/cohen_logs."""
    out = {}
    for path in sorted(COHEN_DIR.glob("*.tsv")):
        match = _COHEN_NAME.fullmatch(path.stem)
        settings = match.groupdict() if match else {}
        name = cohen_label(path.stem)
        out[name] = NamedLog(name, "Cohen et al. (2019), locuslab/smoothing", read_log(path),
                             settings)
    return out


@st.cache_data(show_spinner=False, max_entries=8)
def uploaded_log(data: bytes, name: str) -> NamedLog:
    """Parse an uploaded log with the engine's reader; UcanError (naming the file) if bad."""
    if len(data) > MAX_LOG_BYTES:
        raise UcanError(f"{name} is larger than {MAX_LOG_BYTES >> 20} MB")
    with tempfile.TemporaryDirectory(prefix="ucan-log-") as folder:
        path = Path(folder) / "upload.tsv"
        path.write_bytes(data)
        try:
            log = read_log(path)
        except UcanError as error:
            raise UcanError(str(error).replace(str(path), name)) from None
    if log.kind != "certify":
        raise UcanError(f"{name} is a predict log (no radius column): upload a certify log")
    if not len(log):
        raise UcanError(f"{name} has a header but no rows")
    return NamedLog(name, "upload", log)


def measures(entry: NamedLog, with_alm: bool) -> list[str]:
    """Columns to analyse: ``radius``, and ``alm`` where the log has a distinct ALM."""
    return ["radius"] + (["alm"] if with_alm and analysis.has_distinct_alm(entry.log) else [])


def accuracy_table(logs: list[NamedLog], radii: tuple[float, ...],
                   with_alm: bool) -> list[analysis.Summary]:
    """``ucan_core.analysis.summarize`` of every log (and its ALM column where asked)."""
    return [analysis.summarize(entry.log, radii, measure, name=entry.name)
            for entry in logs for measure in measures(entry, with_alm)]


def accuracy_curves(logs: list[NamedLog], with_alm: bool,
                    points: int = 401) -> tuple[np.ndarray, list[analysis.Summary]]:
    """Certified accuracy on a common radius grid (0 to 5 % past the largest radius)."""
    columns = [e.log.radius if m == "radius" else e.log.extra[m]
               for e in logs for m in measures(e, with_alm)]
    top = max((float(np.nanmax(c, initial=0.0)) for c in columns), default=0.0)
    grid = np.linspace(0.0, max(top, 1e-9) * 1.05, points)
    return grid, accuracy_table(logs, tuple(grid), with_alm)
