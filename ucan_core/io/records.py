"""THE certificate serialiser: one certificate (standard or two-stage) → its certify-log row,
its JSON-ready record, and its text lines.

Two-stage certificates keep each family's historical log and JSON names (Dual RS
``level``/``r_sigma``/``p_a_lower_sigma``, routing ``config``) through
:attr:`TwoStageCertificate.LOG_NAMES`; everything else is named as in the engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ucan_core.certify.certificate import FIXED_BOUND, Certificate
from ucan_core.io.logs import DualLogRow, LogRow, RouteLogRow, SequentialLogRow
from ucan_core.two_stage.engine import TwoStageCertificate

ROWS: dict[str, type[LogRow]] = {"dual-rs": DualLogRow, "routing": RouteLogRow}


def log_row(idx: int, label: int, cert: Certificate | TwoStageCertificate) -> LogRow:
    """The certify-log row for input ``idx`` with true ``label``.

    Standard certificates: abstentions get 0.0 radii, norms without a radius NaN; a
    sequential one adds ``samples_used``. Two-stage certificates: ``p_a_lower`` of the
    classification stage, then the family's columns."""
    if isinstance(cert, TwoStageCertificate):
        record = cert.to_dict()
        row = ROWS[cert.target]
        extra = {name: record[name] for name in row.columns[len(LogRow.columns):]}
        return row(idx=idx, label=label, predict=cert.prediction, radius=cert.radius,
                   correct=int(cert.prediction == label), time=cert.seconds, alm=cert.alm,
                   radius_l1=cert.radii["1"].value, radius_l2=cert.radii["2"].value,
                   radius_linf=cert.radii["inf"].value, p_a_lower=cert.p_a_lower_c,
                   kind=cert.kind, soundness=cert.soundness, **extra)

    def radius(norm: str) -> float:
        if cert.abstained:
            return 0.0
        return cert.radii[norm].value if norm in cert.radii else math.nan

    fields = dict(idx=idx, label=label, predict=cert.prediction, radius=cert.radius,
                  correct=int(cert.prediction == label), time=cert.seconds, alm=cert.alm,
                  radius_l1=radius("1"), radius_l2=radius("2"), radius_linf=radius("inf"),
                  p_a_lower=cert.p_a_lower, kind=cert.kind, soundness=cert.soundness)
    if cert.bound != FIXED_BOUND:
        return SequentialLogRow(**fields, samples_used=cert.samples_used)
    return LogRow(**fields)


def record(cert: Certificate | TwoStageCertificate, **context: Any) -> dict[str, Any]:
    """The certificate as a JSON-ready dict (every field, both stages for two-stage
    certificates), followed by ``context`` (model, image, class name, …)."""
    return {**cert.to_dict(), **context}


def certificate_lines(cert: Certificate | TwoStageCertificate,
                      classes: Sequence[str] | None = None,
                      models: Mapping[str, str] | None = None) -> list[str]:
    """The certificate as lines of text (what ``ucan certify --image`` prints): ``classes``
    names the predicted class of a standard certificate, ``models`` the model id of each
    routing menu entry (by entry name)."""
    if not isinstance(cert, TwoStageCertificate):
        lines = _standard_head(cert, classes)
    elif cert.target == "dual-rs":
        lines = _dual_head(cert)
    else:
        lines = _route_head(cert, models or {})
    lines += [f"  l{label}: {r.value:.6g} ({r.kind})" for label, r in cert.radii.items()]
    if isinstance(cert, TwoStageCertificate) and cert.target == "routing":
        lines.append(f"ALM (a size, not a radius): {cert.alm:.6g} for an ellipsoid inside the "
                     f"certified set; the set's size is at most min(R_sel, ALM) = "
                     f"{cert.alm_upper:.6g}")
    lines.append(f"soundness: {cert.soundness}: {cert.note}")
    if not isinstance(cert, TwoStageCertificate):
        lines.append(f"assumption: {cert.assumption}")
    return lines


def _standard_head(cert: Certificate, classes: Sequence[str] | None) -> list[str]:
    name = "abstain" if cert.abstained else (
        f"{cert.prediction} ({classes[cert.prediction]})" if classes else str(cert.prediction))
    return [
        f"prediction: {name}",
        f"p_A lower bound: {cert.p_a_lower:.6f}  (n={cert.n}, alpha={cert.alpha:g}, "
        f"top count {max(cert.counts)})",
        f"radius: {cert.radius:.6g} in l{cert.norm} ({cert.kind}); ALM {cert.alm:.6g}",
        *([f"bound: {cert.bound}; stopped after {cert.samples_used} estimation samples"]
          if cert.bound != FIXED_BOUND else [])]


def _dual_head(cert: TwoStageCertificate) -> list[str]:
    sel, cls = cert.selection, cert.classification
    choice = "abstains" if sel.abstained else f"selects sigma={cert.selected:g}"
    lines = [f"prediction: {'abstain' if cert.abstained else cert.prediction}",
             f"stage 1, sigma-estimator smoothed at sigma_e={cert.sigma_sel:g} over levels "
             f"{', '.join(f'{v:g}' for v in cert.menu)}: {choice}; p_A lower bound "
             f"{sel.p_a_lower:.6f} (alpha={sel.alpha:g}); R_sigma {cert.r_sel:.6g}"]
    if cls is not None:
        lines.append(f"stage 2, classifier smoothed at sigma={cert.selected:g}: p_A lower "
                     f"bound {cls.p_a_lower:.6f} (alpha={cls.alpha:g}); R_c {cert.r_c:.6g}")
    lines.append(f"radius: min(R_sigma, R_c) = {cert.radius:.6g} in l2 ({cert.kind})")
    return lines


def _route_head(cert: Any, models: Mapping[str, str]) -> list[str]:
    sel, cls = cert.selection, cert.classification
    choice = "abstains" if sel.abstained else f"selects {cert.selected}"
    lines = [f"prediction: {'abstain' if cert.abstained else cert.prediction}",
             f"stage 1, selector smoothed at sigma_s={cert.sigma_sel:g} over "
             f"{', '.join(cert.menu)}: {choice}; p_A lower bound {sel.p_a_lower:.6f} "
             f"(alpha={sel.alpha:g}); R_sel {cert.r_sel:.6g}"]
    if cls is not None:
        model = f"{models[cert.selected]} " if cert.selected in models else ""
        lines.append(f"stage 2, {model}under {cert.selected} (sigma={cls.noise['sigma']:g}, "
                     f"s in [{cls.noise['scale_min']:.3g}, {cls.noise['scale_max']:.3g}]): "
                     f"p_A lower bound {cls.p_a_lower:.6f} (alpha={cls.alpha:g}); l2 radius "
                     f"min s_i*R = R_c {cert.r_c:.6g}; ALM {cert.alm_c:.6g}")
    lines.append(f"radius: min(R_sel, R_c) = {cert.radius:.6g} in l2 ({cert.kind})")
    return lines
