"""Sample-size planning: what n can certify at best, and what a target radius needs.

With n estimation samples all voting for ĉ_A (the best case), the one-sided Clopper–Pearson
bound is p̲ = α^{1/n}, so no certificate of that run exceeds R(α^{1/n}) (R: the noise's
radius rule). Conversely a target radius r needs p̲ ≥ p_r = R⁻¹(r), hence at least
n ≥ ln α / ln p_r samples even when every vote agrees — a common mistake is an n too small
for α (n = 100 at α = 0.001 caps a Gaussian radius at 0.36 σ). The anytime-valid bound of
:mod:`.sequential` needs a little more; :func:`plan` reports both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ucan_core.certify.radii import certified_radii
from ucan_core.certify.sequential import cs_lower, required_p
from ucan_core.checks import check_count, check_open_unit
from ucan_core.errors import UcanError
from ucan_core.noises.base import Noise


@dataclass(frozen=True)
class Plan:
    """Best-case radii at ``n`` and the fewest samples for ``target`` (None if not asked;
    ``needed_n`` is None when no p̲ < 1 reaches the target)."""

    n: int | None
    alpha: float
    max_radius_fixed: float | None
    max_radius_sequential: float | None
    target: float | None
    needed_p: float | None
    needed_n_fixed: int | None
    needed_n_sequential: int | None


def best_case_lower(n: int, alpha: float) -> float:
    """p̲ of n unanimous votes at level α: α^{1/n} (Clopper–Pearson with k = n)."""
    return alpha ** (1.0 / n)


def _fewest(ok, start: int) -> int:  # type: ignore[no-untyped-def]
    """The smallest n ≥ 1 with ok(n), for ok monotone in n, starting the search near start."""
    high = max(1, start)
    while not ok(high):
        high *= 2
        if high > 10**12:
            raise UcanError("the target needs more than 10^12 samples")
    low = max(1, high // 2)
    while low < high:
        mid = (low + high) // 2
        low, high = (mid + 1, high) if not ok(mid) else (low, mid)
    return low


def plan(noise: Noise, alpha: float, n: int | None = None,
         target: float | None = None) -> Plan:
    """The planner: best-case radii for ``n`` samples, and the samples ``target`` needs,
    in the noise's native norm (fixed-n Clopper–Pearson and the anytime-valid bound)."""
    check_open_unit("alpha", alpha)
    norm = noise.native_norm

    def radius(p: float) -> float:
        return certified_radii(noise, p, norm)[0].value if p > 0.5 else 0.0

    best_fixed = best_seq = None
    if n is not None:
        check_count("n", n)
        best_fixed = radius(best_case_lower(n, alpha))
        best_seq = radius(cs_lower(n, n, alpha))
    needed_p = needed_fixed = needed_seq = None
    if target is not None:
        if not (math.isfinite(target) and target > 0):
            raise UcanError(f"target radius must be a finite number > 0, got {target!r}")
        needed_p = required_p(noise, target, norm)
        if needed_p < 1.0:
            guess = math.ceil(math.log(alpha) / math.log(needed_p))
            needed_fixed = guess if best_case_lower(guess, alpha) >= needed_p else guess + 1
            needed_seq = _fewest(lambda m: cs_lower(m, m, alpha) >= needed_p, guess)
    return Plan(n, alpha, best_fixed, best_seq, target, needed_p, needed_fixed, needed_seq)
