"""The float-sound Gaussian (Voráček & Hein, "Sound randomized smoothing in floating-point
arithmetic", ICLR 2023): a certificate that holds for what the computer really computes.

Every other noise is drawn in float32 and added to the input in float32; its theorem is
about the continuous noise, and a base classifier that reads the float lattice of the draws
can break it (``tests/engine/test_float_sound.py`` does). Here nothing is left to floating
point:

* **inputs on the grid.** x = k/255, k ∈ {0, …, 255}^d (8-bit images); other inputs are
  refused, never quantised silently;
* **noise on the grid, sampled exactly.** m_i ∈ {−M, …, M} i.i.d., drawn by inverse CDF from
  uniform 62-bit integers u (``torch.randint`` with a power-of-two range, so no modulo bias)
  and integer thresholds T_j ≈ 2⁶²·Φ((j + ½)/(255σ)) computed with mpmath at 30 digits:
  m = −M + #{j : T_j ≤ u}. No float enters the sampling path;
* **an exact sum.** j = clip(k + m, 255 − M, M) is computed in int64 (|j| < 2²⁴, no
  overflow, no rounding), and the model reads φ(j) = fl32(j/255). The model's input is a fixed
  function of the integer vector j, so the base classifier is h(j) = f(φ(j)) on ℤ^d, whatever
  the float arithmetic of φ and f does.

Theorem (the construction of Voráček & Hein: Cohen et al.'s Theorem 1 for f ∘ φ ∘ ρ).
Let ρ(y) = clip(round(255y), 255 − M, M) and ε ~ N(0, σ²I) continuous. For x on the grid,
round(255(x + ε)) = k + round(255ε), so ρ(x + ε) = clip(k + m) with m_i = round(255ε_i):
P(m_i = j) = Φ((j + ½)/(255σ)) − Φ((j − ½)/(255σ)) — the law sampled here (lumping the
tails beyond ±M into ±M changes nothing after the clip, because k ∈ [0, 255]). Cohen's
theorem holds for every base classifier, so if P(f(φ(ρ(x + ε))) = A) ≥ p̲ > ½, the smoothed
classifier g(y) = argmax_c P(f(φ(ρ(y + ε))) = c) returns A at every y with
‖y − x‖₂ < σΦ⁻¹(p̲). g is evaluated (deployed) at inputs on the grid, so the certificate
covers the perturbations x + δ on the 1/255 grid within the radius.

The integer thresholds make the sampled law Q differ from this P: each |T_j/2⁶² − Φ_j| ≤ 2⁻⁶²,
so TV(Q, P) ≤ 2M·2⁻⁶² ≤ 12,750·2⁻⁶² per coordinate (M at σ = 4, whatever σ, so the radius
stays linear in σ) and τ = d·12,750·2⁻⁶² for the d coordinates. The radius
σ·(Φ⁻¹(p̲ − τ) − Φ⁻¹(½ + τ)) is therefore sound for the deployed classifier that samples Q:
P(A) ≥ p̲ − τ at x, and at x + δ inside the radius P(A) > ½ + τ, so Q(A) > ½. In ℓ1 the same
value (the ℓ1 ball of radius r lies in the ℓ2 ball of radius r), in ℓ∞ that value over √d.
Kind ``sound``: Cohen's bound is tight over real shifts and all base classifiers, not
necessarily over grid shifts and classifiers that only read grid values.

Assumed: the generator's bits are fair coins, and the model's output for one input does not
depend on the rest of its batch.
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import mpmath
import numpy as np
import torch

from ucan_core.errors import UcanError
from ucan_core.labels import GRID_NOTE
from ucan_core.noises.base import Noise
from ucan_core.noises.iid import Gaussian

#: Grey levels: the inputs and the noise live on the grid (1/LEVELS)ℤ.
LEVELS = 255
#: The generator's uniform integers lie in [0, 2^BITS).
BITS = 62
#: The noise table reaches this many σ beyond the pixel range [0, 1]; the clip takes the rest.
TAIL_SIGMAS = 6.0
#: Largest σ: the table has 2·(255 + 6·255σ) thresholds, built once per σ (~1 s at σ = 4).
MAX_SIGMA = 4.0
#: Largest distance of an input from the grid, in grid steps, read as float32 rounding.
GRID_TOLERANCE = 1e-3
#: The sampler's guide: the top GUIDE_BITS bits of u name a bucket, which holds ≤ 1 threshold
#: except in the far tails (there a binary search finishes the count).
GUIDE_BITS = 16
#: The most thresholds a table has (at MAX_SIGMA): 2·M_max.
MAX_THRESHOLDS = 2 * (LEVELS + math.ceil(TAIL_SIGMAS * LEVELS * MAX_SIGMA))


@functools.lru_cache(maxsize=16)
def rounded_gaussian_thresholds(sigma: float) -> tuple[int, tuple[int, ...]]:
    """Half-width M (grid steps) and the 2M integer thresholds T_{−M} … T_{M−1} of the
    rounded Gaussian: T_j = round(2⁶²·Φ((j + ½)/(255σ))) for j ≥ 0, evaluated with mpmath at
    30 digits (|T_j/2⁶² − Φ_j| ≤ 2⁻⁶²), and T_{−j−1} = 2⁶² − T_j, so the law is exactly
    symmetric: Q(m) = (T_m − T_{m−1})/2⁶² = Q(−m) (T_{−M−1} = 0, T_M = 2⁶²)."""
    half_width = LEVELS + math.ceil(TAIL_SIGMAS * LEVELS * sigma)
    scale = 1 << BITS
    with mpmath.workdps(30):
        step = mpmath.mpf(LEVELS) * mpmath.mpf(sigma)
        upper = [scale - int(mpmath.nint(scale * mpmath.ncdf(-(j + mpmath.mpf(0.5)) / step)))
                 for j in range(half_width)]
    lower = [scale - t for t in reversed(upper)]
    return half_width, tuple(lower + upper)


class DiscreteGaussian(Noise):
    """The Gaussian N(0, σ²) rounded to the 1/255 grid, sampled exactly and added in integers:
    the float-sound mode (module docstring: theorem, conditions, radius).

    ``sample`` gives the noise values m/255 (float32, for display and training);
    :meth:`perturb` gives the exact noisy inputs fl32(clip(k + m)/255) that CERTIFY and
    PREDICT feed the model. Inputs must be on the 1/255 grid.
    """

    name, title, native_norm = "discrete_gaussian", "Gaussian on the 1/255 grid (float-sound)", 2.0
    direct = {1.0: "sound", 2.0: "sound", math.inf: "sound"}
    formulas = {1.0: f"σ·(Φ⁻¹(p_A − τ) − Φ⁻¹(½ + τ)),  τ = d·{MAX_THRESHOLDS}·2⁻⁶²",
                2.0: f"σ·(Φ⁻¹(p_A − τ) − Φ⁻¹(½ + τ)),  τ = d·{MAX_THRESHOLDS}·2⁻⁶²",
                math.inf: f"σ·(Φ⁻¹(p_A − τ) − Φ⁻¹(½ + τ))/√d,  τ = d·{MAX_THRESHOLDS}·2⁻⁶²"}
    float_sound: ClassVar[bool] = True
    assumption: ClassVar[str] = GRID_NOTE

    def __init__(self, sigma: float, dim: int, device: str | torch.device | None = None,
                 **params: float) -> None:
        super().__init__(sigma, dim, device, **params)
        if self.sigma > MAX_SIGMA:
            raise UcanError(f"the float-sound noise takes sigma <= {MAX_SIGMA:g} (its exact "
                            f"table grows with sigma), got {sigma!r}")
        self.half_width, thresholds = rounded_gaussian_thresholds(self.sigma)
        self._table = torch.tensor(thresholds, dtype=torch.int64, device=self.device)
        starts = torch.arange(1 << GUIDE_BITS, device=self.device) << (BITS - GUIDE_BITS)
        self._below = torch.searchsorted(self._table, starts)  # #{j : T_j < bucket start}
        ends = torch.cat([self._below[1:], self._below.new_tensor([len(thresholds)])])
        self._crowded = ends - self._below > 1
        self._padded = torch.cat([self._table, self._table.new_tensor([1 << BITS])])
        self._gaussian = Gaussian(self.sigma, self.dim, device=self.device)

    @property
    def lambd(self) -> float:
        return self.sigma

    @property
    def thresholds(self) -> tuple[int, ...]:
        """The 2M integer thresholds of the inverse-CDF sampler (out of 2⁶²)."""
        return rounded_gaussian_thresholds(self.sigma)[1]

    @property
    def total_variation(self) -> float:
        """τ = d·2M_max·2⁻⁶² ≥ d·2M·2⁻⁶², a bound on the total variation between the sampled
        law of the d coordinates and the rounded Gaussian of the theorem."""
        return self.dim * MAX_THRESHOLDS * 2.0 ** -BITS

    def steps_of(self, u: torch.Tensor) -> torch.Tensor:
        """The inverse CDF on integers: m = −M + #{j : T_j ≤ u} for u ∈ [0, 2⁶²) (int64).

        Counted exactly through the guide: with b the top 16 bits of u, #{T_j < b·2⁴⁶} is
        tabulated, and a bucket holding at most one threshold adds [T ≤ u] for that one; the
        few draws in crowded tail buckets are counted by binary search."""
        flat = u.reshape(-1)
        bucket = flat >> (BITS - GUIDE_BITS)
        below = self._below.index_select(0, bucket)
        count = below + (self._padded.index_select(0, below) <= flat)
        crowded = self._crowded.index_select(0, bucket)
        if bool(crowded.any()):
            count[crowded] = torch.searchsorted(self._table, flat[crowded], right=True)
        return (count - self.half_width).view(u.shape)

    def sample_steps(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` draws of the integer noise m ∈ {−M, …, M}^d (int64, shape (num, dim)) from
        uniform integers u ∈ [0, 2⁶²) (:meth:`steps_of`)."""
        u = torch.randint(0, 1 << BITS, (num, self.dim), generator=generator,
                          device=self.device, dtype=torch.int64)
        return self.steps_of(u)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample_steps(num, generator).to(torch.float32) / LEVELS

    def grid_steps(self, x: torch.Tensor) -> torch.Tensor:
        """The grey levels k = 255·x (int64) of inputs on the 1/255 grid; any other input is
        refused (:class:`UcanError`): the theorem needs x on the grid."""
        scaled = x.to(torch.float64) * LEVELS
        steps = torch.round(scaled)
        off = float((scaled - steps).abs().max()) if x.numel() else 0.0
        if off > GRID_TOLERANCE:
            raise UcanError(f"the float-sound noise certifies inputs on the 1/255 grid (8-bit "
                            f"images); this input is {off:.3g} grey levels off it: quantise it "
                            "with round(255·x)/255 first")
        return steps.to(torch.int64)

    def perturb(self, x: torch.Tensor, num: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` exact noisy copies of each row of ``x`` (B, d) on the grid: fl32(j/255) with
        j = clip(k + m, 255 − M, M) summed in int64; shape (B, num, d)."""
        steps = self.grid_steps(x)
        m = self.sample_steps(x.shape[0] * num, generator).view(x.shape[0], num, -1)
        j = (steps[:, None, :] + m).clamp_(LEVELS - self.half_width, self.half_width)
        return j.to(torch.float32) / LEVELS

    def log_prob(self, eps: torch.Tensor) -> torch.Tensor:
        """Log-density of the continuous N(0, σ²I) whose rounding this noise samples (the
        smoothing law of the theorem; the sampled law itself has the pmf of :attr:`thresholds`)."""
        return self._gaussian.log_prob(eps)

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        tau = self.total_variation
        values, _ = self._gaussian.radius_curve(p - tau, norm)
        offset, _ = self._gaussian.radius_curve(0.5 + tau, norm)
        return np.maximum(values - offset, 0.0)
