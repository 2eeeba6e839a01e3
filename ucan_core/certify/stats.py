"""Binomial confidence bounds and tests used by CERTIFY and PREDICT.

All bounds are exact (Clopper–Pearson) from ``scipy.stats.beta``; the PREDICT test is the
two-sided binomial test of Hung & Fithian (2019) from ``scipy.stats.binomtest``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta, binomtest

from ucan_core.checks import check_count, check_open_unit


def _check(k: int, n: int) -> None:
    check_count("n", int(n), 1)
    if not 0 <= k <= n:
        raise ValueError(f"count k={k} must lie in [0, n={n}]")


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """One-sided lower bound p̲ with P(p ≥ p̲) ≥ 1 − α: ``beta.ppf(α, k, n − k + 1)``, 0 if k = 0."""
    _check(k, n)
    check_open_unit("alpha", alpha)
    return 0.0 if k == 0 else float(beta.ppf(alpha, k, n - k + 1))


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """One-sided upper bound p̄ with P(p ≤ p̄) ≥ 1 − α: ``beta.ppf(1 − α, k + 1, n − k)``, 1 if k = n."""
    _check(k, n)
    check_open_unit("alpha", alpha)
    return 1.0 if k == n else float(beta.ppf(1.0 - alpha, k + 1, n - k))


def clopper_pearson_interval(k: int, n: int, alpha: float) -> tuple[float, float]:
    """Two-sided interval at level 1 − α (each side α/2), for display."""
    return clopper_pearson_lower(k, n, alpha / 2), clopper_pearson_upper(k, n, alpha / 2)


def clopper_pearson_lower_array(k: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """Vectorised :func:`clopper_pearson_lower` over counts ``k``."""
    check_open_unit("alpha", alpha)
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        lower = beta.ppf(alpha, k, n - k + 1)
    return np.where(k > 0, lower, 0.0)


def top_two_test_pvalue(count_top: int, count_second: int) -> float:
    """p-value of H0: the top two classes are equally likely (two-sided binomial test, p = ½)."""
    total = count_top + count_second
    if total == 0:
        return 1.0
    return float(binomtest(count_top, total, 0.5).pvalue)


def predict_top(counts: np.ndarray | list[int], alpha: float) -> tuple[int, bool]:
    """Cohen's PREDICT test on the class ``counts`` of one input: the top class, and whether
    the two-sided binomial test of the top two counts rejects their equality at level
    ``alpha`` (if not, PREDICT abstains)."""
    counts = np.asarray(counts)
    order = np.argsort(counts)[::-1]
    top, second = int(counts[order[0]]), int(counts[order[1]])
    return int(order[0]), bool(top_two_test_pvalue(top, second) <= alpha)
