"""ℓp norms: parsing, labels and the sound cross-norm conversion of radii."""

from __future__ import annotations

import math

import numpy as np

from ucan_core.errors import UcanError


def parse_norm(value: object) -> float:
    """Parse an ℓp norm: ``1``, ``2``, any real p > 0, or ``inf`` / ``linf`` / ``∞``."""
    text = str(value).strip().lower().removeprefix("l")
    if text in {"inf", "infinity", "∞", "-1"}:
        return math.inf
    try:
        p = float(text)
    except ValueError:
        raise UcanError(f"norm must be a number p > 0 or 'inf', got {value!r}") from None
    if not (p > 0):
        raise UcanError(f"norm must be a number p > 0 or 'inf', got {value!r}")
    return p


def norm_label(p: float) -> str:
    """``1.0`` → ``'1'``, ``inf`` → ``'inf'``, ``1.5`` → ``'1.5'``."""
    if math.isinf(p):
        return "inf"
    return str(int(p)) if float(p).is_integer() else repr(float(p))


STANDARD_NORMS: tuple[float, ...] = (1.0, 2.0, math.inf)


def convert_radius(direct: dict[float, np.ndarray], target: float, dim: int) -> np.ndarray:
    """Sound cross-norm conversion: the largest ℓ_target ball inside every direct ℓ_a ball.

    ‖δ‖_a ≤ d^{1/a − 1/q}‖δ‖_q for a < q and ‖δ‖_a ≤ ‖δ‖_q for a ≥ q, so
    r_q = max_a r_a / d^{max(0, 1/a − 1/q)}.
    """
    best = None
    for a, r_a in direct.items():
        gap = max(0.0, 1.0 / a - 1.0 / target)
        converted = r_a / dim ** gap
        best = converted if best is None else np.maximum(best, converted)
    assert best is not None
    return best
