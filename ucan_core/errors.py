"""User-facing errors and the argument checks that raise them.

Every check raises :class:`UcanError` (a ``ValueError``) with one line that names the
argument, the value received and what is expected. The CLI prints that line and exits 2;
the app shows it next to the control.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class UcanError(ValueError):
    """A bad input from the user: wrong value, unknown name, unreadable file."""


class Cancelled(Exception):
    """Raised by a progress callback to stop a running certification."""


def _is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_positive(name: str, value: float) -> float:
    """Return ``value`` as float if it is a finite number > 0."""
    if not _is_finite_number(value) or value <= 0:
        raise UcanError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_open_unit(name: str, value: float) -> float:
    """Return ``value`` if it lies in the open interval (0, 1)."""
    if not _is_finite_number(value) or not 0.0 < value < 1.0:
        raise UcanError(f"{name} must lie in (0, 1), got {value!r}")
    return float(value)


def check_probability(name: str, value: float) -> float:
    """Return ``value`` if it lies in [0, 1]."""
    if not _is_finite_number(value) or not 0.0 <= value <= 1.0:
        raise UcanError(f"{name} must lie in [0, 1], got {value!r}")
    return float(value)


def check_count(name: str, value: int, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UcanError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_choice(name: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    options = list(choices)
    if value not in options:
        raise UcanError(f"unknown {name} {value!r}; choose one of: {', '.join(options)}")
    return value


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
