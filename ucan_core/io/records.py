"""THE certificate serialiser: one certificate (standard or two-stage) → its certify-log row,
its JSON-ready record, and its text lines.

Two-stage certificates keep each family's historical log and JSON names (Dual RS
``level``/``r_sigma``/``p_a_lower_sigma``, routing ``config``) through
:attr:`TwoStageCertificate.LOG_NAMES`; everything else is named as in the engine.
"""

from __future__ import annotations

import math
from typing import Any

from ucan_core.certify.certificate import Certificate
from ucan_core.io.logs import DualLogRow, LogRow, RouteLogRow
from ucan_core.two_stage.engine import TwoStageCertificate

ROWS: dict[str, type[LogRow]] = {"dual-rs": DualLogRow, "routing": RouteLogRow}


def log_row(idx: int, label: int, cert: Certificate | TwoStageCertificate) -> LogRow:
    """The certify-log row for input ``idx`` with true ``label``.

    Standard certificates: abstentions get 0.0 radii, norms without a radius NaN. Two-stage
    certificates: ``p_a_lower`` of the classification stage, then the family's columns."""
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

    return LogRow(idx=idx, label=label, predict=cert.prediction, radius=cert.radius,
                  correct=int(cert.prediction == label), time=cert.seconds, alm=cert.alm,
                  radius_l1=radius("1"), radius_l2=radius("2"), radius_linf=radius("inf"),
                  p_a_lower=cert.p_a_lower, kind=cert.kind, soundness=cert.soundness)


def record(cert: Certificate | TwoStageCertificate, **context: Any) -> dict[str, Any]:
    """The certificate as a JSON-ready dict (every field, both stages for two-stage
    certificates), followed by ``context`` (model, image, class name, …)."""
    return {**cert.to_dict(), **context}
