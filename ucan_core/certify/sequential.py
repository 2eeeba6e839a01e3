"""Anytime-valid CERTIFY: a lower bound on p_A that holds at every sample size at once, so a
run may stop whenever it likes (a target radius reached, a Stop button, a time limit) and
still return a certificate at level α.

Bound (Robbins' beta-binomial mixture; Waudby-Smith & Ramdas 2023 §3): for k successes in n
draws and a Beta(a, b) prior, the mixture likelihood ratio

    M_n(p) = B(k + a, n − k + b) / B(a, b) / (p^k (1 − p)^(n−k))

is a non-negative martingale under p_A = p with M_0 = 1, so by Ville's inequality
P(∃n : M_n(p_A) ≥ 1/α) ≤ α. The confidence sequence {p : M_n(p) < 1/α} is an interval
(log M_n is strictly convex in p), its lower end L_n is found by root finding, and

    P(∃n : L_n > p_A) ≤ α,

for every data-dependent stopping time. Running maxima of L_n stay valid (they are the
bounds of the intersected sequence). Clopper–Pearson at a fixed n is NOT valid under such
stopping (peeking): :func:`peeking_is_unsound` in the tests and the Learn page show it.

The selection samples (n0) that pick the class ĉ_A are drawn first and never reused in the
bound, exactly as in fixed-n CERTIFY; stopping for futility (the target cannot be reached)
only ever makes the run abstain, so it needs no correction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy import optimize, special

from ucan_core.certify.certificate import Certificate
from ucan_core.certify.radii import certified_radii
from ucan_core.certify.seeds import make_rng
from ucan_core.checks import check_count, check_open_unit
from ucan_core.errors import UcanError

if TYPE_CHECKING:
    from ucan_core.certify.smoothed import Progress, SmoothedClassifier

#: The prior of the mixture, fixed in advance: Beta(2, 0.2), mean 0.91, its mass where
#: certificates live (p_A near 1). At n = 10⁴, α = 0.001 it costs 2.3 / 2.3 / 3.0 % of the
#: Gaussian radius against fixed-n Clopper–Pearson at p̂ = 0.9 / 0.99 / 0.999 (Jeffreys'
#: Beta(½, ½): 2.4 / 2.6 / 4.0 %).
PRIOR = (2.0, 0.2)
BOUND_NAME = "beta-binomial mixture confidence sequence (anytime-valid)"
StopRule = Callable[[], bool]
#: Receives the certificates of a run as they stand after each round (:func:`certify_sequential_batch`).
Watch = Callable[[list[Certificate]], None]
#: Fewest estimation samples per input between two looks at the bound.
MIN_ROUND = 50


def _log_mixture(k: int, n: int, p: float, prior: tuple[float, float]) -> float:
    """log M_n(p) (module docstring)."""
    a, b = prior
    log_marginal = special.betaln(k + a, n - k + b) - special.betaln(a, b)
    return log_marginal - special.xlogy(k, p) - special.xlog1py(n - k, -p)


def cs_lower(k: int, n: int, alpha: float, prior: tuple[float, float] = PRIOR) -> float:
    """The anytime-valid lower bound L_n on p after k successes in n draws: the lower end of
    {p : M_n(p) < 1/α}; 0 when that set reaches 0."""
    check_open_unit("alpha", alpha)
    if not 0 <= k <= n:
        raise UcanError(f"count k={k} must lie in [0, n={n}]")
    if n == 0 or k == 0:
        return 0.0
    threshold = math.log(1.0 / alpha)
    top = k / n

    def excess(p: float) -> float:
        return _log_mixture(k, n, p, prior) - threshold

    if top == 1.0:  # M_n is decreasing on (0, 1): the root lies below 1
        top = 1.0 - 1e-300
    low = 1e-300
    if excess(low) <= 0:
        return 0.0
    if excess(top) >= 0:  # M_n(p̂) ≤ 1 < 1/α always holds; kept for float safety
        return top
    return float(optimize.brentq(excess, low, top, xtol=1e-15, rtol=4 * np.finfo(float).eps))


def cs_upper(k: int, n: int, alpha: float, prior: tuple[float, float] = PRIOR) -> float:
    """The anytime-valid upper bound U_n on p (the mirror of :func:`cs_lower`)."""
    return 1.0 - cs_lower(n - k, n, alpha, (prior[1], prior[0]))


def required_p(noise, target: float, norm: float) -> float:  # type: ignore[no-untyped-def]
    """The smallest lower bound p̲ whose certified radius reaches ``target`` (bisection on
    the one radius rule, which is increasing in p̲); 1 when no p̲ < 1 reaches it."""
    def radius(p: float) -> float:
        return certified_radii(noise, p, norm)[0].value

    low, high = 0.5, 1.0 - 1e-12
    if radius(high) < target:
        return 1.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if radius(mid) < target else (low, mid)
    return high


def certify_sequential_batch(smoothed: SmoothedClassifier, xs: torch.Tensor, n0: int,
                             n_max: int, alpha: float, target_radius: float | None = None,
                             batch_size: int = 1000, seed: int | None = None,
                             progress: Progress | None = None,
                             should_stop: StopRule | None = None,
                             watch: Watch | None = None) -> list[Certificate]:
    """Sequential CERTIFY of every input of ``xs``: n0 selection samples per input, then
    estimation samples in rounds of ≤ ``batch_size`` until, per input, the anytime-valid
    radius reaches ``target_radius`` (certified), the anytime upper bound rules the target
    out (abstain for it: futility), ``n_max`` samples, or ``should_stop()`` returns True
    (every unfinished input stops there). Each certificate's ``p_a_lower`` is L_n at its
    stop, valid at level α whatever the stopping (module docstring). ``watch``, if given,
    receives after every round the certificates a stop at that moment would return (a live
    display of the anytime-valid radius)."""
    check_count("n0", n0)
    check_count("n_max", n_max)
    check_open_unit("alpha", alpha)
    check_count("batch_size", batch_size)
    if target_radius is not None and not (math.isfinite(target_radius) and target_radius > 0):
        raise UcanError(f"target radius must be a finite number > 0, got {target_radius!r}")
    flat = smoothed._prepare(xs)
    shape = tuple(xs.shape[1:])
    rng = make_rng(seed, smoothed.device)
    b = flat.shape[0]
    noise, norm = smoothed.noise, smoothed.noise.native_norm
    began = time.perf_counter()
    total = b * (n0 + n_max)
    selection = smoothed._count(flat, shape, n0, batch_size, rng, progress, 0, total).cpu()
    top = selection.argmax(dim=1)
    needed = required_p(noise, target_radius, norm) if target_radius is not None else None
    counts = torch.zeros(b, smoothed.num_classes, dtype=torch.int64)
    used = np.zeros(b, dtype=np.int64)
    lower = np.zeros(b)
    active = np.ones(b, dtype=bool)
    done = b * n0
    step = max(MIN_ROUND, batch_size // b)

    def snapshot() -> list[Certificate]:
        """The certificates of every input if the run stopped now."""
        seconds = (time.perf_counter() - began) / b
        return [smoothed.certificate_from(int(top[i]), float(lower[i]) if used[i] > 0 else 0.0,
                                          selection[i].tolist(), counts[i].tolist(), n0,
                                          int(used[i]), alpha, seconds, BOUND_NAME)
                for i in range(b)]

    while active.any():
        if should_stop is not None and should_stop():
            break
        live = np.flatnonzero(active)
        # rounds grow geometrically (×1.5) from MIN_ROUND up to a full forward batch:
        # early looks stop easy inputs soon, later rounds keep the passes large
        grown = max(MIN_ROUND, int(used[live].max()) // 2)
        k = int(min(step, grown, n_max - used[live].max()))  # live inputs have equal counts
        round_counts = smoothed._count(flat[live], shape, k, batch_size, rng, None, 0, 1).cpu()
        counts[live] += round_counts
        used[live] += k
        done += k * len(live)
        for i in live:
            hits = int(counts[i, top[i]])
            lower[i] = max(lower[i], cs_lower(hits, int(used[i]), alpha))
            reached = needed is not None and lower[i] >= needed
            futile = needed is not None and cs_upper(hits, int(used[i]), alpha) < needed
            if reached or futile or used[i] >= n_max:
                active[i] = False
        if watch is not None:
            watch(snapshot())
        if progress is not None:
            progress(min(done, total), total)
    return snapshot()


@dataclass(frozen=True)
class RadiusAccuracy:
    """Certified accuracy at ``radius`` with early stopping per image (sequential CERTIFY
    targeted at that radius), and the estimation samples it used."""

    radius: float
    certified_accuracy: float
    samples_used: int
    images: int


def certified_accuracy_sequential(smoothed: SmoothedClassifier, xs: torch.Tensor,
                                  labels: Sequence[int], radii: Sequence[float], n0: int,
                                  n_max: int, alpha: float, batch_size: int = 1000,
                                  seed: int | None = None) -> list[RadiusAccuracy]:
    """For each radius r: the fraction of inputs whose sequential certificate, stopped at r
    (reached or ruled out) or at ``n_max``, is correct with radius ≥ r — each radius its own
    run, each certificate valid at level α whatever its stopping time."""
    table = []
    for r in radii:
        certs = certify_sequential_batch(smoothed, xs, n0, n_max, alpha, float(r), batch_size,
                                         seed)
        hits = [c.prediction == int(y) and c.radius >= r for c, y in zip(certs, labels)]
        table.append(RadiusAccuracy(float(r), float(np.mean(hits)),
                                    sum(c.samples_used for c in certs), len(certs)))
    return table


Bound = Callable[[int, int, float], float]


def first_certifying_count(bound: Bound, n: int, p: float, alpha: float) -> int:
    """The smallest k with bound(k, n, α) > p (the bounds increase in k); n + 1 if none."""
    low, high = 0, n + 1
    while low < high:
        mid = (low + high) // 2
        if mid <= n and bound(mid, n, alpha) > p:
            high = mid
        else:
            low = mid + 1
    return low


def peeking_rates(bound: Bound, p: float, alpha: float, look_every: int = 10,
                  n_max: int = 2000, streams: int = 10_000,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The adversarial stopping rule, simulated: ``streams`` Bernoulli(p) vote streams (p the
    true p_A), each looked at every ``look_every`` draws up to ``n_max`` and stopped the
    first time ``bound`` exceeds p (a false certificate). Returns the looks and, by each
    look, the share of streams so stopped (vectorised: one threshold count per look)."""
    rng = np.random.default_rng(seed)
    looks = np.arange(look_every, n_max + 1, look_every)
    counts = np.cumsum(rng.random((streams, n_max)) < p, axis=1)[:, looks - 1]
    thresholds = np.array([first_certifying_count(bound, int(n), p, alpha) for n in looks])
    return looks, np.maximum.accumulate(counts >= thresholds, axis=1).mean(axis=0)
