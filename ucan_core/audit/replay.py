"""Replaying a certify log for the attack audit: every row's certificate, rebuilt and checked
against the log, then attacked on the deployed classifier.

A ``ucan certify --dataset`` log names its dataset, split and models in ``LOG.run.json``.
:func:`open_log` reads both and pairs each row with its image, refusing a row whose label is
not the image's. Before a row is attacked its logged radii are checked against the rebuilt
classifier (single noise: the radii of the rebuilt noise at the logged p̲_A; Dual RS and
routing: min(R_sel, R_c) of the rebuilt stages from the row's two p̲_A), so an audit never
attacks a certificate that another model or noise produced. Each row's attack is seeded by
(seed, dataset idx) only (:func:`~ucan_core.certify.seeds.derive_seed`), as a resumed
certify run is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ucan_core.audit.attack import AttackBudget
from ucan_core.audit.certificates import (
    AuditResult,
    RegionShape,
    audit_certificate,
    audit_two_stage,
    claimed_region,
    format_summary,
    summarize,
)
from ucan_core.audit.deployed import DeployedSmoothing
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.seeds import derive_seed
from ucan_core.errors import UcanError
from ucan_core.io.logs import Log, read_log
from ucan_core.io.runs import load_split, run_file
from ucan_core.noises.base import Noise
from ucan_core.noises.region import CertifiedRegion
from ucan_core.norms import norm_label, parse_norm

#: (dataset idx, image, certified class, p̲_A, soundness, logged ℓ1/ℓ2/ℓ∞ radii)
AuditRow = tuple[int, torch.Tensor, int, float, str, dict[str, float]]
#: ``progress(certificates audited, total, violations so far)``, after each certificate.
RowProgress = Callable[[int, int, int], None]
RADIUS_COLUMNS = {n: f"radius_l{n}" for n in ("1", "2", "inf")}
NOISE_KEYS = ("name", "sigma", "params", "npg", "input_dependent")


@dataclass
class ReplayLog:
    """A certify log, its settings file, and its rows as (row, dataset idx, image)."""

    path: str
    log: Log
    settings: dict[str, Any]
    rows: list[tuple[int, int, torch.Tensor]]

    @property
    def two_stage(self) -> bool:
        """Whether the log is a Dual RS or routing log."""
        return "dual" in self.settings or "route" in self.settings

    @property
    def name(self) -> str:
        """The model id, σ-estimator id or selector id the log names."""
        return self.settings.get("dual") or self.settings.get("route") or self.settings["model"]


def open_log(path: str | Path, data_root: str | Path = "data", download: bool = False,
             max_rows: int | None = None) -> ReplayLog:
    """A ``ucan certify --dataset`` log, its settings file, and its first ``max_rows`` rows
    (all if None), each checked to carry its image's label."""
    path = str(path)
    log = read_log(path)
    missing = [c for c in ("p_a_lower", "soundness", *RADIUS_COLUMNS.values()) if c not in log.extra]
    if log.kind != "certify" or missing:
        raise UcanError(f"{path} is not a ucan certify log (no "
                        f"{', '.join(missing) or 'radius'} column)")
    settings_file = run_file(path)
    try:
        settings = json.loads(settings_file.read_text())
        dataset, split = settings["dataset"], settings["split"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UcanError(f"the audit needs the settings file {settings_file.name} that `ucan "
                        "certify --dataset` writes next to its log") from None
    xs, ys = load_split(dataset, data_root, split, download)
    rows = []
    for i in range(min(len(log), max_rows or len(log))):
        idx = int(log.idx[i])
        if not 0 <= idx < len(xs) or int(ys[idx]) != int(log.label[i]):
            raise UcanError(f"{path}: row idx {idx} does not carry the label of {dataset} "
                            f"{split} image {idx}")
        rows.append((i, idx, xs[idx]))
    return ReplayLog(path, log, settings, rows)


def single_noise_rows(replay: ReplayLog) -> tuple[str, dict[str, Any], list[AuditRow]]:
    """The model id and noise of a single-noise log and its rows (:data:`AuditRow`)."""
    log, settings = replay.log, replay.settings
    try:
        model_id, noise = settings["model"], settings["noise"]
        npg = str(noise.get("npg", ""))
    except (KeyError, TypeError, AttributeError):
        raise UcanError(f"{replay.path}'s settings file names no model and noise") from None
    if npg.startswith("pattern"):
        raise UcanError("pattern-noise logs cannot be audited: their settings file does not "
                        "record the pattern's norm, kappa and iota")
    return model_id, noise, [
        (idx, x, int(log.predict[i]), float(log.extra["p_a_lower"][i]),
         str(log.extra["soundness"][i]),
         {n: float(log.extra[c][i]) for n, c in RADIUS_COLUMNS.items()})
        for i, idx, x in replay.rows]


def certificate_row(x: torch.Tensor, cert: Certificate, idx: int = 0) -> AuditRow:
    """The :data:`AuditRow` of a certificate just computed for input ``x``."""
    return (idx, x, cert.prediction, cert.p_a_lower, cert.soundness,
            {label: r.value for label, r in cert.radii.items()})


def check_logged_noise(logged: Mapping[str, Any], rebuilt: Noise, model_id: str) -> None:
    """UcanError unless the noise ``rebuilt`` for ``model_id`` is the log's noise."""
    described = rebuilt.describe()
    if any(described.get(k) != logged.get(k) for k in NOISE_KEYS):
        raise UcanError(f"the log's noise ({', '.join(f'{k}={logged.get(k)}' for k in NOISE_KEYS)}) "
                        f"is not the one rebuilt for {model_id}: pass the --noise/--sigma/--param "
                        "of its `ucan certify` run")


def audit_rows(model: torch.nn.Module, num_classes: int, noise_at: Callable[[torch.Tensor], Noise],
               rows: Sequence[AuditRow], budget: AttackBudget, *,
               norms: Sequence[str] | None = None, region: RegionShape = "ball",
               generator: torch.nn.Module | None = None, seed: int = 0,
               progress: RowProgress | None = None) -> list[AuditResult]:
    """Audit single-noise certificates: each row's radii checked against ``noise_at(x)``'s
    at the logged p̲_A, then :func:`audit_certificate` on the deployed classifier (its
    input-dependent NPG ``generator`` recomputing the noise, None: the noise frozen at x) in
    each of ``norms`` (default the noise's native norm)."""
    results: list[AuditResult] = []
    for count, (idx, x, certified, p_a, soundness, radii) in enumerate(rows, 1):
        noise = noise_at(x)
        expected = noise.radii(p_a) if certified >= 0 else {}
        deployed = DeployedSmoothing(model, num_classes, noise, generator)
        for norm in norms or [noise.native_norm]:
            label = norm_label(parse_norm(norm))
            claimed = radii.get(label, math.nan) if certified >= 0 else 0.0
            if label in expected and not math.isclose(claimed, expected[label].value,
                                                      rel_tol=1e-6, abs_tol=1e-9):
                raise UcanError(f"row idx {idx}: its l{label} radius {claimed!r} does not match "
                                f"the rebuilt noise's {expected[label].value!r} (another model "
                                "or noise?)")
            results.append(audit_certificate(
                deployed, x, certified, claimed_region(noise, claimed, norm, region), budget,
                seed=derive_seed(seed, idx), soundness=soundness, idx=idx, shape=region))
        if progress is not None:
            progress(count, len(rows), sum(r.violation for r in results))
    return results


def audit_two_stage_log(replay: ReplayLog, budget: AttackBudget, *,
                        device: str | torch.device = "cpu", norms: Sequence[str] | None = None,
                        seed: int = 0, progress: RowProgress | None = None) -> list[AuditResult]:
    """Audit the rows of a Dual RS or routing log (:func:`audit_two_stage`) in each of
    ``norms`` (default ℓ2), each row's radii first checked against the rebuilt stages."""
    from ucan_core.two_stage.dual import load_dual
    from ucan_core.two_stage.routing import load_router

    log, settings = replay.log, replay.settings
    if "dual" in settings:
        router, _ = load_dual(settings["dual"], settings["experts"], device)
        target, entry, p_sel = "dual-rs", "level", "p_a_lower_sigma"
        menu: list[Any] = list(router.levels)
    else:
        router, _ = load_router(settings["route"], device)
        target, entry, p_sel = "routing", "config", "p_a_lower_sel"
        menu = list(router.names)
    missing = [c for c in (entry, p_sel) if c not in log.extra]
    if missing:
        raise UcanError(f"{replay.path} is a {target} log without its {', '.join(missing)} "
                        "column(s): it was not written by `ucan certify`")
    results: list[AuditResult] = []
    for count, (i, idx, x) in enumerate(replay.rows, 1):
        certified, chosen = int(log.predict[i]), log.extra[entry][i]
        selected = menu.index(chosen) if chosen in menu else -1
        logged = {n: float(log.extra[c][i]) for n, c in RADIUS_COLUMNS.items()}
        if certified >= 0:
            if selected < 0:
                raise UcanError(f"row idx {idx}: its {entry} {chosen!r} is not in {menu}")
            r_sel = router.selector.noise.radii(float(log.extra[p_sel][i]))
            r_c = router.stages[selected].noise.radii(float(log.extra["p_a_lower"][i]))
            for n, value in logged.items():
                if not math.isclose(value, min(r_sel[n].value, r_c[n].value), rel_tol=1e-6,
                                    abs_tol=1e-9):
                    raise UcanError(f"row idx {idx}: its l{n} radius {value!r} is not min(R_sel, "
                                    "R_c) of the rebuilt stages (other models?)")
        for norm in norms or ["2"]:
            q = parse_norm(norm)
            radius = logged.get(norm_label(q), math.nan) if certified >= 0 else 0.0
            results.append(audit_two_stage(
                router, x, selected, certified, CertifiedRegion(np.ones(x.numel()), radius, q),
                budget, seed=derive_seed(seed, idx), target=target, idx=idx))
        if progress is not None:
            progress(count, len(replay.rows), sum(r.violation for r in results))
    return results


def report(name: str, budget: AttackBudget, results: Sequence[AuditResult]) -> dict[str, Any]:
    """The audit of ``name``'s certificates as a JSON-ready dict: budget, summary per
    (soundness, norm) and every result."""
    return {"model": name, "budget": asdict(budget),
            "summary": [asdict(s) for s in summarize(list(results))],
            "results": [asdict(r) for r in results]}


def report_text(source: str, name: str, budget: AttackBudget,
                results: Sequence[AuditResult]) -> str:
    """The audit of ``name``'s certificates from ``source`` (a log or an image): the rule and
    the summary table."""
    return (f"attack audit of {source} ({name}; violation: upper bound on p_c < 1/2 at alpha "
            f"{budget.alpha:g} from n_verify = {budget.n_verify} samples)\n"
            + format_summary(summarize(list(results))))
