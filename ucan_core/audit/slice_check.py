"""Empirical spot-check of a certified region along a 2-D slice (UCAN Fig. 1b).

The slice of the region {δ : ‖δ/s‖_p ≤ R} through coordinates i and j is
{δ : δ_k = 0 for k ∉ {i, j}, ‖(δ_i/s_i, δ_j/s_j)‖_p ≤ R}. :func:`slice_points` draws offsets
on its boundary and over its interior (in the quadrants where both pixels can move inside
[0, 1]), :func:`perturb_pair` applies them as
x′ = clip(x + δ, 0, 1) in float32, and :func:`check_slice` runs Cohen's PREDICT of the
smoothed classifier at every x′.

Clipping to [0, 1] and rounding to float32 towards x only shrink |δ_i| and |δ_j| (signs kept),
so the applied offsets x′ − x stay in the region. What a check shows: whether PREDICT agrees
with the certified class at finitely many points of one slice — evidence, not a proof. An
abstention (PREDICT's binomial test not significant with n samples, common near the boundary
where p_A falls towards ½) is not a violation; a changed class is one only up to PREDICT's
error probability α and the certificate's own α.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ucan_core.certify.smoothed import Progress, SmoothedClassifier
from ucan_core.checks import check_count, check_probability
from ucan_core.errors import UcanError
from ucan_core.noises.region import CertifiedRegion

OUTCOMES = ("held", "changed", "abstained")


def _pair(region: CertifiedRegion, i: int, j: int) -> np.ndarray:
    """(s_i, s_j) · R: the slice's half-widths along δ_i and δ_j; UcanError on bad indices."""
    size = region.scale.size
    for k in (i, j):
        if not 0 <= k < size:
            raise UcanError(f"coordinate {k} out of range 0..{size - 1}")
    if i == j:
        raise UcanError(f"the slice needs two different coordinates, got {i} twice")
    if not region.radius > 0:
        raise UcanError(f"the region is empty (R = {region.radius}): nothing to check")
    return region.scale[[i, j]].astype(np.float64) * region.radius


def _directions(angles: np.ndarray, norm: float) -> np.ndarray:
    """Points (cos t, sin t)/‖(cos t, sin t)‖_p of the unit ℓp sphere in 2-D, shape (k, 2)."""
    unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return unit / np.linalg.norm(unit, ord=norm, axis=1, keepdims=True)


def _quadrants(start: tuple[float, float] | None) -> np.ndarray:
    """Quadrants (0: δ_i, δ_j ≥ 0; 1: δ_i ≤ 0 ≤ δ_j; 2: both ≤ 0; 3: δ_j ≤ 0 ≤ δ_i) in which
    both coordinates can move inside [0, 1] from ``start`` (all four without a start)."""
    if start is None:
        return np.arange(4)
    up = [float(v) < 1.0 for v in start]
    down = [float(v) > 0.0 for v in start]
    signs = ((up[0], up[1]), (down[0], up[1]), (down[0], down[1]), (up[0], down[1]))
    return np.array([q for q, (a, b) in enumerate(signs) if a and b])


def slice_points(region: CertifiedRegion, i: int, j: int, num: int, seed: int | None = None,
                 boundary: float = 0.5,
                 start: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``num`` offsets (δ_i, δ_j) in the slice ‖(δ_i/s_i, δ_j/s_j)‖_p ≤ R, shape (num, 2), and
    a mask of those on its boundary.

    round(boundary·num) points lie on the boundary ‖·‖_p = R at evenly spaced angles (from a
    seeded random phase); the others are spread over the interior (seeded uniform angle,
    radial fraction √u with u uniform on [0, 1)). With ``start`` = (x_i, x_j) the angles keep
    to the quadrants where both pixels can move inside [0, 1] (a pixel at 0 cannot go down,
    one at 1 cannot go up), so that clipping folds fewer points onto the axes.
    """
    check_count("num", num)
    check_probability("boundary", boundary)
    half = _pair(region, i, j)
    quadrants = _quadrants(start)
    rng = np.random.default_rng(seed)
    on_edge = round(boundary * num)
    edge = (rng.uniform() + np.arange(on_edge)) / max(on_edge, 1) * len(quadrants)
    inner = rng.uniform(0.0, len(quadrants), num - on_edge)
    where = np.concatenate([edge, inner]) % len(quadrants)
    angles = (quadrants[where.astype(int)] + where % 1.0) * (np.pi / 2.0)
    fractions = np.concatenate([np.ones(on_edge), np.sqrt(rng.uniform(0.0, 1.0, num - on_edge))])
    offsets = _directions(angles, region.norm) * fractions[:, None] * half
    return offsets, np.arange(num) < on_edge


def perturb_pair(x: np.ndarray, i: int, j: int,
                 offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs x′ (num, *x.shape), float32, equal to x except x′_i, x′_j = clip(x + δ, 0, 1)
    rounded to float32 towards x, and the offsets actually applied x′ − x, shape (num, 2).

    x is taken in float32 (as the smoothed classifier takes it). Each applied |x′_k − x_k| is
    at most the requested |δ_k|, with the same sign, so the applied offsets lie in every
    region (‖·/s‖_p ≤ R) that holds the requested ones.
    """
    flat = np.asarray(x, dtype=np.float32).reshape(-1)
    for k in (i, j):
        if not 0 <= k < flat.size:
            raise UcanError(f"coordinate {k} out of range 0..{flat.size - 1}")
    deltas = np.asarray(offsets, dtype=np.float64).reshape(-1, 2)
    start = np.broadcast_to(flat[[i, j]], deltas.shape)
    target = np.clip(start.astype(np.float64) + deltas, 0.0, 1.0)
    moved = target.astype(np.float32)
    over = np.abs(moved.astype(np.float64) - start) > np.abs(target - start)
    moved[over] = np.nextafter(moved[over], start[over])
    inputs = np.repeat(flat[None], len(deltas), axis=0)
    inputs[:, i], inputs[:, j] = moved[:, 0], moved[:, 1]
    return inputs.reshape(len(deltas), *np.shape(x)), moved.astype(np.float64) - start


@dataclass(frozen=True)
class SliceCheck:
    """PREDICT of the smoothed classifier at x + δ for offsets δ in the region's slice.

    ``offsets`` are the applied (δ_i, δ_j); ``size`` is ‖(δ_i/s_i, δ_j/s_j)‖_p / R (≤ 1);
    ``predictions`` are PREDICT's classes, −1 for an abstention.
    """

    certified: int
    radius: float
    norm: float
    offsets: np.ndarray
    size: np.ndarray
    on_boundary: np.ndarray
    predictions: np.ndarray
    n: int
    alpha: float

    @property
    def outcomes(self) -> np.ndarray:
        """"held" (PREDICT = certified class), "changed" (another class) or "abstained"."""
        held = self.predictions == self.certified
        abstained = self.predictions == SmoothedClassifier.ABSTAIN
        return np.where(held, "held", np.where(abstained, "abstained", "changed"))

    def counts(self) -> dict[str, int]:
        """Points per outcome (every outcome listed, zeros included)."""
        outcomes = self.outcomes
        return {name: int((outcomes == name).sum()) for name in OUTCOMES}


def check_slice(classifier: SmoothedClassifier, x: torch.Tensor, certified: int,
                region: CertifiedRegion, i: int, j: int, num: int, n: int, alpha: float,
                batch_size: int = 1000, seed: int | None = None,
                progress: Progress | None = None) -> SliceCheck:
    """PREDICT (n samples, level α) of ``classifier`` at ``num`` points x′ = x + δ of the
    slice of ``region`` through the flat coordinates i and j (:func:`slice_points` in the
    quadrants open to x, then :func:`perturb_pair`); ``certified`` is the class CERTIFY
    returned at x."""
    pixels = x.detach().cpu().numpy()
    flat = pixels.reshape(-1)
    offsets, on_boundary = slice_points(region, i, j, num, seed, start=(flat[i], flat[j]))
    inputs, applied = perturb_pair(pixels, i, j, offsets)
    predictions = classifier.predict_batch(torch.from_numpy(inputs), n, alpha, batch_size, seed,
                                           progress)
    scaled = applied / region.scale[[i, j]]
    size = np.linalg.norm(scaled, ord=region.norm, axis=1) / region.radius
    return SliceCheck(int(certified), float(region.radius), float(region.norm), applied, size,
                      on_boundary, np.asarray(predictions, dtype=np.int64), n, alpha)
