"""Argument checks: each returns the checked value or raises a one-line :class:`UcanError`."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ucan_core.errors import UcanError


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
