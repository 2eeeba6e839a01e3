"""UniCR: the certified radius of any noise density in any ℓp norm (Hong et al. 2022).

Neyman–Pearson, for a shift δ and the likelihood ratio ℓ = log ν/μ of ν = law(ε + δ) against
μ = law(ε): the worst base classifier with P_μ(A) = p_A puts A on the lowest-ℓ set, whose
ν-mass is the ROC value

    β_δ(p_A) = ∫_0^{p_A} exp(Q_δ(u)) du,      Q_δ = quantile function of ℓ under μ

(randomised on ties, so atoms are exact). The smoothed classifier is robust at δ iff
β_δ(p_A) > 1 − β_δ(1 − p_B) (binary: β_δ(p_A) > ½) — the robustness boundary of UniCR's
Theorem 1. The ℓp radius is the smallest ‖δ‖_p on that boundary.

Everything is computed in log space from the law of ℓ along a direction, never from a
product of d likelihood ratios:

* i.i.d. noise (``IIDNoise``): ℓ is a sum of per-coordinate terms ℓ_a(ε) = log f(ε − a) −
  log f(ε), and its law depends only on the multiset of |δ_i|. The law of each term comes
  from quantile quadrature of the 1-D marginal; the sum from an FFT convolution on a
  lattice (``quadrature`` law, deterministic).
* ℓq-radial noise (``RadialNoise``: cube and sphere level sets): ℓ depends on (‖ε‖_q,
  a few order statistics), drawn exactly in O(1) per sample (``reduced Monte Carlo``).

Directions are searched over magnitude profiles (k coordinates at one magnitude: the axis
k = 1, k-sparse, the diagonal k = d) and can be checked by a random search over general
profiles (:func:`check_general_directions`).

Two modes, both tagged:

* ``approximate`` — a plug-in estimate (quadrature law, or Monte Carlo frequencies);
* ``conservative`` — fresh Monte Carlo draws of ℓ and the one-sided DKW bound
  F ≤ F_N + ε, ε = √(ln(1/α')/2N), which gives Q(u) ≥ Q_N(u − ε) and so
  β(p) ≥ (1/N)·Σ_{j ≤ N(p−ε)} exp(ℓ_(j)): with probability ≥ 1 − α_np (Bonferroni over the
  directions and scales tried) the radius holds along every direction searched.

A radius from this engine is ``approximate`` as a certificate unless the worst-case direction
is known (:func:`worst_direction_is_known`) and the mode is conservative: then it is
``sound`` at confidence 1 − α_np (to add to the α of the p_A bound).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from scipy import stats

from ucan_core.errors import UcanError, check_count, check_open_unit, norm_label, parse_norm
from ucan_core.noises import (
    Gaussian,
    GeneralizedNormal,
    HyperbolicSecant,
    IIDNoise,
    Kind,
    Laplace,
    Noise,
    RadialNoise,
    Uniform,
    make_noise,
    standard_gamma,
)

Mode = Literal["approximate", "conservative"]
MODES: tuple[Mode, ...] = ("approximate", "conservative")
_LOG_CONCAVE = (Gaussian, Laplace, Uniform, HyperbolicSecant)
_MAX_EXPONENT = 700.0
_MAX_EXTENSIONS = 8


@dataclass(frozen=True)
class Profile:
    """A direction class: ``counts[j]`` coordinates at relative magnitude ``levels[j]``, the rest
    0. For exchangeable symmetric noise the law of ℓ depends on δ only through this multiset."""

    levels: tuple[float, ...]
    counts: tuple[int, ...]

    @classmethod
    def sparse(cls, k: int) -> Profile:
        return cls((1.0,), (k,))

    @property
    def support(self) -> int:
        return sum(self.counts)

    def magnitudes(self, norm: float) -> np.ndarray:
        """Per-level magnitudes of the unit-ℓ_norm vector of this profile."""
        levels = np.asarray(self.levels, dtype=np.float64)
        counts = np.asarray(self.counts, dtype=np.float64)
        if math.isinf(norm):
            return levels / levels.max()
        return levels / (counts @ levels ** norm) ** (1.0 / norm)

    def vector(self, dim: int, norm: float) -> np.ndarray:
        """The unit-ℓ_norm direction in ℝ^dim: the profile's coordinates first, then zeros."""
        out = np.zeros(dim)
        out[:self.support] = np.repeat(self.magnitudes(norm), self.counts)
        return out

    def label(self, dim: int) -> str:
        if len(self.levels) == 1:
            k = self.counts[0]
            return "axis" if k == 1 else "diagonal" if k == dim else f"{k}-sparse"
        parts = ", ".join(f"{c}×{v:.3g}" for v, c in zip(self.levels, self.counts))
        return f"profile({parts})"


def sparse_profiles(dim: int) -> list[Profile]:
    """k-sparse profiles, k = 1, 2, 4, … and d: the axis, the diagonal and between."""
    ks = sorted({min(2 ** i, dim) for i in range(int(math.log2(dim)) + 1)} | {dim})
    return [Profile.sparse(k) for k in ks]


# ------------------------------------------------------------------ the ROC of a discrete law


def _roc_threshold(values: torch.Tensor, masses: torch.Tensor, floor: torch.Tensor,
                   target: float = 0.5, dkw: float = 0.0) -> torch.Tensor:
    """Smallest p with β(p) > ``target`` for each row of a discrete law of ℓ under μ; where β
    never gets there (too little ν-mass on μ's support), 1 + target − β(1), a continuation
    above 1 that keeps the margin continuous for root finding.

    ``values`` (S, L) ascending (−∞ allowed), ``masses`` (S, L); ``floor`` (S,) is μ-mass
    below the first value (at ℓ = −∞). With ``dkw`` = ε > 0 the rows are empirical laws and
    the answer is the conservative p* = j*/N + ε (no interpolation inside an atom).
    """
    tilted = torch.exp(values.clamp(max=_MAX_EXPONENT)) * masses
    beta = torch.cumsum(tilted, dim=1)
    cum = floor[:, None] + torch.cumsum(masses, dim=1)
    idx = torch.searchsorted(beta, torch.full((beta.shape[0], 1), target, dtype=beta.dtype),
                             right=True)
    reached = idx[:, 0] < beta.shape[1]
    i = idx.clamp(max=beta.shape[1] - 1)
    if dkw > 0.0:
        p = cum.gather(1, i)[:, 0] + dkw
    else:
        before_beta = torch.where(i > 0, beta.gather(1, (i - 1).clamp(min=0)), torch.zeros_like(i,
                                  dtype=beta.dtype))
        before_cum = torch.where(i > 0, cum.gather(1, (i - 1).clamp(min=0)), floor[:, None])
        step = tilted.gather(1, i)
        fraction = ((target - before_beta) / step.clamp_min(1e-300)).clamp(0.0, 1.0)
        p = (before_cum + fraction * masses.gather(1, i))[:, 0]
    return torch.where(reached, p, 1.0 + target - beta[:, -1])


def _roc(values: torch.Tensor, masses: torch.Tensor, floor: torch.Tensor,
         p: torch.Tensor, dkw: float = 0.0) -> torch.Tensor:
    """β(p) for each row (S,) and each p (P,): (S, P); with ``dkw`` the conservative lower
    bound (1/N)·Σ_{j ≤ N(p − ε)} exp(ℓ_(j))."""
    tilted = torch.exp(values.clamp(max=_MAX_EXPONENT)) * masses
    beta = torch.cat([torch.zeros_like(floor)[:, None], torch.cumsum(tilted, dim=1)], dim=1)
    cum = torch.cat([floor[:, None], floor[:, None] + torch.cumsum(masses, dim=1)], dim=1)
    q = (p[None, :] - dkw).expand(values.shape[0], -1).contiguous()
    j = torch.searchsorted(cum, q, right=True).clamp(max=cum.shape[1] - 1)
    if dkw > 0.0:
        return beta.gather(1, (j - 1).clamp(min=0)) * (j > 0)
    lo = (j - 1).clamp(min=0)
    span = (cum.gather(1, j) - cum.gather(1, lo)).clamp_min(1e-300)
    fraction = ((q - cum.gather(1, lo)) / span).clamp(0.0, 1.0)
    out = beta.gather(1, lo) + fraction * (beta.gather(1, j) - beta.gather(1, lo))
    return torch.where(q <= floor[:, None], torch.zeros_like(out), out)


# --------------------------------------------------------------- laws of ℓ along a direction


def _quantile_nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes u ∈ (0, 1) and weights: n uniform cells, the two end cells refined
    geometrically down to 10⁻¹⁶ so heavy and unbounded tails are resolved."""
    edges = np.linspace(0.0, 1.0, n + 1)[1:-1]
    tail = np.geomspace(1e-16, 1.0 / n, 24)[:-1]
    edges = np.concatenate([[0.0], tail, edges, 1.0 - tail[::-1], [1.0]])
    return 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)


@functools.lru_cache(maxsize=64)
def _marginal_quantiles(name: str, sigma: float, params: tuple[tuple[str, float], ...],
                        nodes: int) -> np.ndarray:
    """F⁻¹(u) of a noise's 1-D marginal at the quadrature nodes u of :func:`_quantile_nodes`
    (read-only). Cached: the marginal depends on (name, σ, parameters) only, and a mixture's
    ppf is a bisection that would otherwise run at every law evaluation."""
    quantiles = make_noise(name, sigma, 1, **dict(params)).marginal().ppf(_quantile_nodes(nodes)[0])
    quantiles.setflags(write=False)
    return quantiles


@dataclass
class _Law:
    """Discrete laws of ℓ under μ, one per scale: ascending ``values`` (S, L), ``masses``,
    and ``floor`` = μ(ℓ = −∞) (S,)."""

    values: torch.Tensor
    masses: torch.Tensor
    floor: torch.Tensor


def _iid_law(noise: IIDNoise, profile: Profile, magnitudes: np.ndarray, nodes: int,
             lattice: int) -> _Law:
    """Quadrature law of ℓ = Σ_j Σ_{i ≤ m_j} ℓ_{a_sj}(ε_i) for scales s (magnitudes (S, J)).

    Each term's law is the push-forward of quantile nodes of the marginal, restricted to where
    f(ε − a) > 0 (the rest is the atom at −∞). The sum lives on the lattice hℤ, on a window of
    ±12 standard deviations around its mean (or its exact range when narrower), through its
    DFT: the terms' exact characteristic functions at the lattice frequencies when they decay
    (many terms: few frequencies matter, and no binning error), else linear binning of each
    term (exact mean, ≤ h²/4 added variance per term) and a full FFT.
    """
    dev = torch.device("cpu") if noise.device.type == "mps" else noise.device
    marginal = noise.marginal()
    lower = float(marginal.support()[0])
    u, w = _quantile_nodes(nodes)
    a = torch.as_tensor(magnitudes, dtype=torch.float64, device=dev)        # (S, J)
    counts = torch.as_tensor(profile.counts, dtype=torch.float64, device=dev)
    if math.isfinite(lower):
        start = marginal.cdf(lower + magnitudes)                              # (S, J)
        uu = start[..., None] + (1.0 - start[..., None]) * u
        eps = torch.as_tensor(np.maximum(marginal.ppf(uu), (lower + magnitudes)[..., None]),
                              dtype=torch.float64, device=dev)
        weight = torch.as_tensor((1.0 - start)[..., None] * w, dtype=torch.float64, device=dev)
    else:
        quantiles = _marginal_quantiles(noise.name, noise.sigma,
                                        tuple(sorted(noise.params.items())), nodes)
        eps = torch.tensor(quantiles, dtype=torch.float64, device=dev).expand(*a.shape, -1)
        weight = torch.as_tensor(w, dtype=torch.float64, device=dev).expand(*a.shape, -1)
    log_f = noise._log_density_1d
    terms = log_f(eps - a[..., None]) - log_f(eps)                            # (S, J, N)
    finite = torch.isfinite(terms)
    weight = torch.where(finite, weight, torch.zeros_like(weight))
    terms = torch.where(finite, terms, torch.zeros_like(terms))
    mass = weight.sum(-1)                                                     # (S, J)
    mean = (weight * terms).sum(-1) / mass.clamp_min(1e-300)
    var = (weight * (terms - mean[..., None]) ** 2).sum(-1) / mass.clamp_min(1e-300)
    lo = torch.where(finite, terms, torch.full_like(terms, math.inf)).amin(-1)
    hi = torch.where(finite, terms, torch.full_like(terms, -math.inf)).amax(-1)
    total_mean = (counts * mean).sum(-1)                                      # (S,)
    spread = 12.0 * (counts * var).sum(-1).sqrt()
    left = torch.minimum(total_mean - (counts * lo).sum(-1), spread)
    right = torch.minimum((counts * hi).sum(-1) - total_mean, spread)
    half = torch.maximum(left, right).clamp_min(1e-9) * 1.02 + 1e-12
    h = 2.0 * half / lattice                                                  # (S,)
    finite_mass = torch.exp((counts * torch.log(mass.clamp_min(1e-300))).sum(-1))
    spectrum = _decaying_spectrum(terms, weight, profile.counts, h, lattice, finite_mass)
    if spectrum is None:
        spectrum = _binned_spectrum(terms, weight, profile.counts, h, lattice)
    law = torch.fft.irfft(spectrum, n=lattice, dim=-1).clamp_min(0.0)        # (S, L)
    centre = torch.round(total_mean / h).long()
    offsets = torch.arange(lattice, device=dev) - lattice // 2
    masses = law.gather(1, (centre[:, None] + offsets) % lattice)
    values = (centre[:, None] + offsets).to(torch.float64) * h[:, None]
    masses = masses * (finite_mass / masses.sum(1).clamp_min(1e-300))[:, None]
    return _Law(values, masses, (1.0 - finite_mass).clamp_min(0.0))


def _decaying_spectrum(terms: torch.Tensor, weight: torch.Tensor, counts: tuple[int, ...],
                       h: torch.Tensor, lattice: int, total: torch.Tensor,
                       bins: int = 512, max_freq: int = 512) -> torch.Tensor | None:
    """DFT of the sum on the lattice from the terms' characteristic functions at
    t_k = 2πk/(Lh), when their product has decayed below 10⁻¹⁴ of the mass within
    ``max_freq`` frequencies; ``None`` otherwise (atoms, few terms).

    Each term is first linearly binned on its own fine grid of ``bins`` points over its range
    (exact mean, variance error ≤ (range/bins)²/4, negligible against the term's spread), so a
    characteristic function costs ``bins`` rather than one term per quadrature node.
    """
    if sum(counts) < 32:
        return None
    dev = terms.device
    lo = terms.amin(-1, keepdim=True)
    step = ((terms.amax(-1, keepdim=True) - lo) / (bins - 1)).clamp_min(1e-300)
    pos = ((terms - lo) / step).clamp(0.0, bins - 1.0)
    base = pos.floor().clamp(max=bins - 2)
    frac = pos - base
    pmf = torch.zeros(*terms.shape[:2], bins, dtype=torch.float64, device=dev)
    pmf.scatter_add_(-1, base.long(), weight * (1.0 - frac))
    pmf.scatter_add_(-1, base.long() + 1, weight * frac)
    grid = lo + step * torch.arange(bins, device=dev, dtype=torch.float64)   # (S, J, B)
    freq = 32
    while True:
        k = torch.arange(min(freq, lattice // 2 + 1), device=dev, dtype=torch.float64)
        t = (2 * math.pi / (lattice * h))[:, None] * k[None, :]               # (S, K)
        product = torch.ones(terms.shape[0], k.numel(), dtype=torch.complex128, device=dev)
        for j, m in enumerate(counts):
            phase = t[:, :, None] * grid[:, j, None, :]
            w = pmf[:, j, None, :]
            phi = torch.complex((w * torch.cos(phase)).sum(-1), -(w * torch.sin(phase)).sum(-1))
            product = product * phi ** m
        if torch.all(product[:, -4:].abs().amax(1) <= 1e-14 * total.clamp_min(1e-300)):
            break
        if freq >= max_freq:
            return None
        freq *= 2
    spectrum = torch.zeros(terms.shape[0], lattice // 2 + 1, dtype=torch.complex128, device=dev)
    spectrum[:, :k.numel()] = product
    return spectrum


def _binned_spectrum(terms: torch.Tensor, weight: torch.Tensor, counts: tuple[int, ...],
                     h: torch.Tensor, lattice: int) -> torch.Tensor:
    """DFT of the sum after linear binning of each term on the lattice (circular)."""
    pos = terms / h[:, None, None]
    base = torch.floor(pos)
    frac = pos - base
    idx = base.long() % lattice
    pmf = torch.zeros(*terms.shape[:2], lattice, dtype=torch.float64, device=terms.device)
    pmf.scatter_add_(-1, idx, weight * (1.0 - frac))
    pmf.scatter_add_(-1, (idx + 1) % lattice, weight * frac)
    spectrum = torch.fft.rfft(pmf, dim=-1)
    product = torch.ones_like(spectrum[:, 0])
    for j, m in enumerate(counts):
        product = product * spectrum[:, j] ** m
    return product


def _iid_samples(noise: IIDNoise, profile: Profile, magnitudes: np.ndarray, num: int,
                 generator: torch.Generator) -> torch.Tensor:
    """Exact Monte Carlo draws of ℓ (S, num): the same ε draws for every scale."""
    dev = torch.device("cpu") if noise.device.type == "mps" else noise.device
    marginal = noise.marginal()
    out = torch.zeros(magnitudes.shape[0], num, dtype=torch.float64, device=dev)
    log_f = noise._log_density_1d
    for j, m in enumerate(profile.counts):
        for first in range(0, num, max(1, 2_000_000 // m)):
            size = min(num - first, max(1, 2_000_000 // m))
            u = torch.rand(size, m, dtype=torch.float64, generator=generator, device=dev)
            eps = torch.as_tensor(marginal.ppf(u.clamp(1e-300, 1 - 1e-16).cpu().numpy()),
                                  dtype=torch.float64, device=dev)
            base = log_f(eps)
            for s in range(magnitudes.shape[0]):
                out[s, first:first + size] += (log_f(eps - float(magnitudes[s, j])) - base).sum(1)
    return out.nan_to_num(nan=-math.inf)


def _beta_pair(alpha: float, num: int, generator: torch.Generator, dev: torch.device) -> torch.Tensor:
    """Beta(α, α) draws from two seeded gammas."""
    g1 = standard_gamma(alpha, num, generator, dev)
    g2 = standard_gamma(alpha, num, generator, dev)
    return g1 / (g1 + g2)


def _uniform_extremes(n: torch.Tensor, generator: torch.Generator,
                      dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(min, max) of n i.i.d. U(−1, 1) per row (n ≥ 1), exactly: max = 2V^{1/n} − 1, then the
    other n − 1 are uniform below it."""
    v = torch.rand(n.shape, dtype=torch.float64, generator=generator, device=dev)
    w = torch.rand(n.shape, dtype=torch.float64, generator=generator, device=dev)
    top = 2.0 * v ** (1.0 / n) - 1.0
    rest = (n - 1).clamp_min(1)
    low = -1.0 + (top + 1.0) * (1.0 - w ** (1.0 / rest))
    return torch.where(n > 1, low, top), top


def _radial_samples(noise: RadialNoise, profile: Profile, magnitudes: np.ndarray, num: int,
                    generator: torch.Generator) -> torch.Tensor:
    """Exact draws of ℓ = log μ(ε − δ) − log μ(ε) (S, num) for k-sparse δ, from O(1) statistics.

    Sphere level sets: ‖ε − δ‖₂² = R² − 2R‖δ‖₂U₁ + ‖δ‖₂² with (U₁ + 1)/2 ~ Beta((d−1)/2, (d−1)/2).
    Cube level sets (ε = R·V, V uniform on the cube surface): the face coordinate is one of the
    k shifted ones with probability k/d; the shifted block's max |RV_i − a| is reached at its
    min or max, drawn exactly, and the unshifted block's max |V_i| is 1 (face) or Beta(n, 1).
    """
    if len(profile.levels) != 1:
        raise UcanError("level-set noises are searched over k-sparse profiles only")
    dev = torch.device("cpu") if noise.device.type == "mps" else noise.device
    d, k = noise.dim, profile.counts[0]
    a = torch.as_tensor(magnitudes[:, 0], dtype=torch.float64, device=dev)[:, None]
    r = noise.sample_norm(num, generator).to(dev, torch.float64)[None, :]
    if noise.level_norm == 2.0:
        u1 = 2.0 * _beta_pair((d - 1) / 2, num, generator, dev) - 1.0
        shift = a * math.sqrt(k)
        moved = (r ** 2 - 2.0 * r * shift * u1[None, :] + shift ** 2).clamp_min(0.0).sqrt()
    else:
        face_in_block = torch.rand(num, dtype=torch.float64, generator=generator, device=dev) < k / d
        sign = torch.where(torch.rand(num, generator=generator, device=dev) < 0.5, -1.0, 1.0).to(
            torch.float64)
        n_block = torch.where(face_in_block, k - 1, k).to(torch.float64)
        low, top = _uniform_extremes(n_block.clamp_min(1), generator, dev)
        block = torch.maximum(r * top - a, a - r * low)
        block = torch.where(n_block[None, :] > 0, block, torch.zeros_like(block))
        face = (r * sign - a).abs()
        block = torch.where(face_in_block[None, :], torch.maximum(block, face), block)
        n_rest = torch.where(face_in_block, d - k, d - k - 1).to(torch.float64)
        v = torch.rand(num, dtype=torch.float64, generator=generator, device=dev)
        rest = torch.where(n_rest > 0, v ** (1.0 / n_rest.clamp_min(1)), torch.zeros_like(v))
        rest = torch.where(face_in_block, rest, torch.ones_like(rest)) * r
        moved = torch.maximum(block, rest.expand_as(block))
    return noise.log_density_of_norm(moved) - noise.log_density_of_norm(r)


def _samples(noise: Noise, profile: Profile, magnitudes: np.ndarray, num: int,
             generator: torch.Generator) -> torch.Tensor:
    if isinstance(noise, IIDNoise):
        return _iid_samples(noise, profile, magnitudes, num, generator)
    if isinstance(noise, RadialNoise):
        return _radial_samples(noise, profile, magnitudes, num, generator)
    raise UcanError(f"the universal engine has no law of ℓ for noise {noise.name!r}")


def _sample_law(samples: torch.Tensor) -> _Law:
    values, _ = torch.sort(samples, dim=1)
    finite = torch.isfinite(values)
    masses = torch.full_like(values, 1.0 / values.shape[1])
    floor = (~finite).sum(1).to(values.dtype) / values.shape[1]
    return _Law(torch.where(finite, values, torch.full_like(values, -_MAX_EXPONENT)),
                torch.where(finite, masses, torch.zeros_like(masses)), floor)


# ----------------------------------------------------------------------------- the search


@dataclass(frozen=True)
class Settings:
    """Numerical settings: quadrature ``nodes`` and ``lattice`` size (quadrature law),
    Monte Carlo ``samples`` (approximate mode of level-set noises), ``conservative_samples``
    and ``alpha_np`` (conservative mode), ``scales`` per search grid, ``seed``."""

    nodes: int = 2048
    lattice: int = 8192
    samples: int = 400_000
    conservative_samples: int = 20_000
    alpha_np: float = 0.001
    scales: int = 24
    seed: int = 0

    def __post_init__(self) -> None:
        check_count("nodes", self.nodes, 16)
        check_count("lattice", self.lattice, 64)
        check_count("samples", self.samples)
        check_count("conservative_samples", self.conservative_samples)
        check_open_unit("alpha_np", self.alpha_np)
        check_count("scales", self.scales, 4)
        check_count("seed", self.seed, 0)


@dataclass
class UniversalCurve:
    """Radius vs p_A from the universal engine, with the worst direction per point."""

    p_a: np.ndarray
    radius: np.ndarray
    norm: str
    mode: Mode
    kind: Kind
    profiles: list[Profile]
    worst: list[int]
    dim: int
    statement: str

    def direction(self, i: int = 0) -> np.ndarray:
        """The worst-case unit-ℓp direction found for ``p_a[i]``, as a d-vector."""
        return self.profiles[self.worst[i]].vector(self.dim, parse_norm(self.norm))

    def worst_label(self, i: int = 0) -> str:
        return self.profiles[self.worst[i]].label(self.dim)


def worst_direction_is_known(noise: Noise, norm: float) -> bool:
    """True where the searched profiles provably contain the worst direction: the Gaussian
    (only ‖δ‖₂ matters), ℓ1 for an i.i.d. symmetric log-concave marginal (the axis, see
    ``noises``) and ℓp of sphere-level-set noise (only ‖δ‖₂ matters: axis for p ≤ 2,
    diagonal for p > 2)."""
    if isinstance(noise, Gaussian) or (isinstance(noise, GeneralizedNormal) and noise.shape == 2.0):
        return True
    if isinstance(noise, RadialNoise) and noise.level_norm == 2.0:
        return True
    log_concave = isinstance(noise, _LOG_CONCAVE) or (
        isinstance(noise, GeneralizedNormal) and noise.shape >= 1.0)
    return norm == 1.0 and log_concave


def _check_p(p_a: np.ndarray | float) -> np.ndarray:
    p = np.atleast_1d(np.asarray(p_a, dtype=np.float64))
    if p.size == 0 or np.any(~np.isfinite(p)) or np.any((p <= 0.5) | (p > 1.0)):
        raise UcanError("p_A must lie in (1/2, 1] for the universal radius "
                        f"(got {np.array2string(p, precision=4, threshold=6)})")
    return p


def _profiles_for(noise: Noise, norm: float) -> list[Profile]:
    if isinstance(noise, RadialNoise) and noise.level_norm == 2.0:
        return [Profile.sparse(1) if norm <= 2.0 else Profile.sparse(noise.dim)]
    return sparse_profiles(noise.dim)


def _law(noise: Noise, profile: Profile, scales: np.ndarray, norm: float, mode: Mode,
         settings: Settings, generator: torch.Generator) -> _Law:
    """The law of ℓ under μ at ‖δ‖_p = r along ``profile``, for each scale r."""
    magnitudes = scales[:, None] * profile.magnitudes(norm)[None, :]
    if mode == "approximate" and isinstance(noise, IIDNoise):
        return _iid_law(noise, profile, magnitudes, settings.nodes, settings.lattice)
    num = settings.samples if mode == "approximate" else settings.conservative_samples
    return _sample_law(_samples(noise, profile, magnitudes, num, generator))


def _margins(law: _Law, p_a: np.ndarray, p_b: np.ndarray | None, dkw: float,
             diagonal: bool = False) -> np.ndarray:
    """Robustness margins, < 0 where robust: binary p*(r) − p_A, else 1 − β(1 − p_B) − β(p_A).

    (S, P) for every scale and p_A, or (S,) pairing row s with p_A[s] when ``diagonal``.
    """
    if p_b is None:
        pstar = _roc_threshold(law.values, law.masses, law.floor, dkw=dkw).cpu().numpy()
        return pstar - p_a if diagonal else pstar[:, None] - p_a[None, :]
    dev = law.values.device
    beta_a = _roc(law.values, law.masses, law.floor, torch.as_tensor(p_a, device=dev), dkw)
    beta_b = _roc(law.values, law.masses, law.floor, torch.as_tensor(1.0 - p_b, device=dev), dkw)
    margin = (1.0 - beta_b - beta_a).cpu().numpy()
    return np.diagonal(margin).copy() if diagonal else margin


def _scale_grid(noise: Noise, profile: Profile, norm: float, p_max: float, count: int) -> np.ndarray:
    """0, then geometric scales from r_max/1000 to r_max ≈ 1.6× the Gaussian-proxy radius at
    p_max along the profile (brackets of constant relative width, small and large radii)."""
    l2_per_unit = float(np.sqrt(np.sum(np.asarray(profile.counts) * profile.magnitudes(norm) ** 2)))
    z = float(stats.norm.ppf(min(p_max, 1 - 1e-12)))
    top = 1.6 * noise.sigma * max(z, 0.5) / l2_per_unit
    return np.concatenate([[0.0], np.geomspace(top / 1000, top, count - 1)])


def _grid_margins(noise: Noise, profile: Profile, norm: float, p: np.ndarray,
                  pb: np.ndarray | None, mode: Mode, settings: Settings, dkw: float,
                  generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scales 0 … r_max (doubled until every p_A fails at r_max) and the margins there (S, P),
    made monotone in the scale (a radius needs every smaller scale robust)."""
    scales = _scale_grid(noise, profile, norm, float(min(p.max(), 1 - 1e-9)) + dkw,
                         settings.scales)
    for _ in range(_MAX_EXTENSIONS):
        margin = _margins(_law(noise, profile, scales, norm, mode, settings, generator), p, pb, dkw)
        margin[0] = 0.5 - p if pb is None else pb - p
        if np.all(margin[-1] >= 0):
            break
        scales = scales * 2.0
    return scales, np.maximum.accumulate(np.nan_to_num(margin, nan=np.inf), axis=0)


def _interpolate(lo: np.ndarray, hi: np.ndarray, m_lo: np.ndarray,
                m_hi: np.ndarray) -> np.ndarray:
    """The zero of the margin by linear interpolation inside each bracket [lo, hi]."""
    t = np.clip(-m_lo / np.where(m_hi > m_lo, m_hi - m_lo, 1.0), 0.0, 1.0)
    return lo + t * (hi - lo)


def _refine(noise: Noise, profile: Profile, norm: float, p: np.ndarray, pb: np.ndarray | None,
            lo: np.ndarray, hi: np.ndarray, m_lo: np.ndarray, m_hi: np.ndarray,
            settings: Settings, generator: torch.Generator, steps: int = 5) -> np.ndarray:
    """Illinois (regula falsi that halves a stale end) on each bracket [lo, hi], margin < 0 at
    lo and ≥ 0 at hi; returns the interpolated boundary scale."""
    m_lo = np.where(np.isfinite(m_lo), m_lo, -1.0)
    m_hi = np.where(np.isfinite(m_hi), m_hi, 1.0)
    side = np.zeros(p.size)
    for _ in range(steps):
        t = np.clip(-m_lo / np.where(m_hi > m_lo, m_hi - m_lo, 1.0), 0.02, 0.98)
        mid = lo + t * (hi - lo)
        law = _law(noise, profile, mid, norm, "approximate", settings, generator)
        m = np.nan_to_num(_margins(law, p, pb, 0.0, diagonal=True), nan=1.0, posinf=1.0)
        robust = m < 0
        m_hi = np.where(robust & (side < 0), 0.5 * m_hi, m_hi)
        m_lo = np.where(~robust & (side > 0), 0.5 * m_lo, m_lo)
        lo, m_lo = np.where(robust, mid, lo), np.where(robust, m, m_lo)
        hi, m_hi = np.where(robust, hi, mid), np.where(robust, m_hi, m)
        side = np.where(robust, -1.0, 1.0)
    return _interpolate(lo, hi, m_lo, m_hi)


def universal_radius_curve(noise: Noise, p_a: np.ndarray | float, norm: float | str,
                           mode: Mode = "approximate", settings: Settings | None = None,
                           profiles: list[Profile] | None = None,
                           p_b: np.ndarray | float | None = None) -> UniversalCurve:
    """Radius vs p_A (binary p_B = 1 − p_A unless ``p_b`` is given) by Neyman–Pearson search.

    For each direction profile the robustness margin is computed on a grid of scales
    (extended until it fails at every p_A) and its first zero found: approximate mode
    interpolates linearly between grid scales; conservative mode takes the largest grid scale
    with every smaller scale robust (no interpolation). The radius is the minimum over
    profiles.
    """
    settings = settings or Settings()
    if mode not in MODES:
        raise UcanError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    q = parse_norm(norm)
    p = _check_p(p_a)
    pb = None if p_b is None else np.broadcast_to(np.asarray(p_b, dtype=np.float64), p.shape)
    if pb is not None and (np.any(~np.isfinite(pb)) or np.any(pb < 0) or np.any(p + pb > 1 + 1e-12)):
        raise UcanError("p_B must lie in [0, 1 − p_A]")
    searched = profiles or _profiles_for(noise, q)
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    tries = len(searched) * settings.scales * _MAX_EXTENSIONS
    dkw = (math.sqrt(math.log(tries / settings.alpha_np) / (2 * settings.conservative_samples))
           if mode == "conservative" else 0.0)
    cols = np.arange(p.size)
    results: dict[Profile, tuple[np.ndarray, tuple[np.ndarray, ...]]] = {}

    def search(profile: Profile) -> None:
        scales, margin = _grid_margins(noise, profile, q, p, pb, mode, settings, dkw, generator)
        fails = margin >= 0
        first = np.where(fails.any(0), np.argmax(fails, axis=0), scales.size)
        lo, hi = np.maximum(first - 1, 0), np.minimum(first, scales.size - 1)
        bracket = (scales[lo], scales[hi], margin[lo, cols], margin[hi, cols])
        unbounded = first == scales.size
        if mode == "conservative":
            results[profile] = (np.where(unbounded, np.inf, scales[lo]), bracket)
            return
        results[profile] = (np.where(unbounded, np.inf, _interpolate(*bracket)), bracket)

    coarse = searched if profiles else searched[::2] + ([searched[-1]] if len(searched) % 2 == 0 else [])
    for profile in coarse:
        search(profile)
    if not profiles:
        rough = np.stack([results[c][0] for c in coarse])
        for i in set(np.argmin(rough, axis=0).tolist()):
            at = searched.index(coarse[i])
            for neighbour in searched[max(at - 1, 0):at + 2]:
                if neighbour not in results:
                    search(neighbour)
    profiles = list(results)
    radii = np.stack([results[pr][0] for pr in profiles])
    if mode == "approximate":
        order = np.argsort(radii, axis=0)
        for j, profile in enumerate(profiles):
            rank = np.argmax(order == j, axis=0)
            bracket = results[profile][1]
            sel = ((rank < 3) & (radii[j] <= radii.min(axis=0) * 1.03)
                   & (bracket[1] > bracket[0]))
            if sel.any():
                lo, hi, m_lo, m_hi = (b[sel] for b in bracket)
                radii[j, sel] = _refine(noise, profile, q, p[sel],
                                        None if pb is None else pb[sel], lo, hi, m_lo, m_hi,
                                        settings, generator)
    worst = np.argmin(radii, axis=0)
    radius = radii[worst, np.arange(p.size)]
    kind: Kind = ("sound" if mode == "conservative" and worst_direction_is_known(noise, q)
                  else "approximate")
    return UniversalCurve(p, radius, norm_label(q), mode, kind, profiles, worst.tolist(),
                          noise.dim, _statement(noise, q, mode, settings, tries, kind))


def _statement(noise: Noise, norm: float, mode: Mode, settings: Settings, tries: int,
               kind: Kind) -> str:
    law = ("quadrature law of ℓ (FFT convolution)" if isinstance(noise, IIDNoise)
           else f"Monte Carlo law of ℓ, N = {settings.samples:,}")
    if mode == "approximate":
        return (f"approximate: plug-in Neyman–Pearson boundary from the {law}; "
                "minimum over the directions searched (an upper bound on the true minimum)")
    scope = ("the worst direction is in the searched family, so it holds on the whole ℓ"
             f"{norm_label(norm)} ball" if kind == "sound"
             else "it holds along every direction searched (the search itself is a heuristic)")
    return (f"conservative: holds with probability ≥ 1 − {settings.alpha_np:g} "
            f"(one-sided DKW, N = {settings.conservative_samples:,}, Bonferroni over at most "
            f"{tries} direction×scale evaluations); {scope}")


def universal_radius(noise: Noise, p_a: float, norm: float | str, mode: Mode = "approximate",
                     settings: Settings | None = None, p_b: float | None = None) -> UniversalCurve:
    """The universal radius at one p_A (a one-point :class:`UniversalCurve`)."""
    return universal_radius_curve(noise, p_a, norm, mode, settings, p_b=p_b)


def check_general_directions(noise: IIDNoise, p_a: float, norm: float | str, trials: int = 64,
                             levels: int = 6, seed: int = 0,
                             settings: Settings | None = None) -> tuple[float, Profile]:
    """Random search over general magnitude profiles (``levels`` magnitudes with random counts),
    seeded by the best sparse profile; returns the smallest radius found and its profile.

    A check of the sparse search: for i.i.d. noise any direction is a multiset of magnitudes,
    evaluated here by the same quadrature law.
    """
    if not isinstance(noise, IIDNoise):
        raise UcanError("the general direction check needs i.i.d. noise")
    settings = settings or Settings()
    q = parse_norm(norm)
    rng = np.random.default_rng(seed)
    best = universal_radius_curve(noise, p_a, q, settings=settings)
    best_r, best_profile = float(best.radius[0]), best.profiles[best.worst[0]]
    for _ in range(trials):
        counts = rng.multinomial(rng.integers(1, noise.dim + 1), np.ones(levels) / levels)
        mags = rng.uniform(0.05, 1.0, levels)
        keep = counts > 0
        candidate = Profile(tuple(mags[keep]), tuple(int(c) for c in counts[keep]))
        r = float(universal_radius_curve(noise, p_a, q, settings=settings,
                                         profiles=[candidate]).radius[0])
        if r < best_r:
            best_r, best_profile = r, candidate
    return best_r, best_profile


def pixeldp_radius(p_a: np.ndarray | float, sigma: float) -> np.ndarray:
    """PixelDP's ℓ2 radius for Gaussian noise (Lecuyer et al. 2019), binary p_B = 1 − p_A.

    Noise σ = √(2 ln(1.25/δ))·L/ε (ε ≤ 1) makes the smoothed scores (ε, δ)-DP at ℓ2 distance
    L; robust if p_A > e^{2ε}p_B + (1 + e^ε)δ. The radius is the largest L over (ε, δ) —
    sound but loose.
    """
    p = np.atleast_1d(np.asarray(p_a, dtype=np.float64))
    eps = np.linspace(1e-3, 1.0, 400)[:, None]
    delta_max = (p[None, :] - np.exp(2 * eps) * (1 - p[None, :])) / (1 + np.exp(eps))
    delta = np.clip(delta_max, 1e-300, 0.8)
    radius = np.where(delta_max > 0, sigma * eps / np.sqrt(2 * np.log(1.25 / delta)), 0.0)
    return radius.max(axis=0)


def describe(curve: UniversalCurve) -> dict[str, Any]:
    """JSON-ready summary of a one-point curve."""
    return {"radius": float(curve.radius[0]), "kind": curve.kind, "norm": curve.norm,
            "mode": curve.mode, "worst_direction": curve.worst_label(0),
            "statement": curve.statement}


@dataclass
class Comparison:
    """The closed form (if the noise has one for the norm) beside the universal radius."""

    universal: UniversalCurve
    closed: np.ndarray | None
    closed_kind: Kind | None

    @property
    def relative_difference(self) -> np.ndarray | None:
        """(universal − closed)/closed where closed > 0: ≈ 0 for a tight closed form, > 0 where
        the closed form is loose."""
        if self.closed is None:
            return None
        safe = np.where(self.closed > 0, self.closed, np.nan)
        return (self.universal.radius - self.closed) / safe


def compare_with_closed(noise: Noise, p_a: np.ndarray | float, norm: float | str,
                        mode: Mode = "approximate", settings: Settings | None = None) -> Comparison:
    """Universal radius vs the noise's closed form at the same p_A values."""
    curve = universal_radius_curve(noise, p_a, norm, mode, settings)
    if not noise.direct:
        return Comparison(curve, None, None)
    closed, kind = noise.radius_curve(curve.p_a, norm)
    return Comparison(curve, closed, kind)


_LOOKUP_P = 1.0 - np.geomspace(0.4999, 1e-9, 80)


@functools.lru_cache(maxsize=32)
def _lookup_curve(name: str, sigma: float, dim: int, params: tuple[tuple[str, float], ...],
                  norm: float) -> tuple[np.ndarray, np.ndarray]:
    noise = make_noise(name, sigma, dim, **dict(params))
    curve = universal_radius_curve(noise, _LOOKUP_P, norm, settings=Settings(scales=16))
    return stats.norm.ppf(_LOOKUP_P), curve.radius


def interpolated_radius(noise: Noise, p_a: float, norm: float | str) -> float:
    """The approximate universal radius at ``p_a`` from a cached 80-point curve per noise
    (interpolated in Φ⁻¹(p_A)); 0 at p_A ≤ ½. For certifying with densities that have no
    closed form: one curve per noise, then a lookup per certificate."""
    if not p_a > 0.5:
        return 0.0
    params = tuple(sorted(noise.params.items()))
    z, radius = _lookup_curve(noise.name, noise.sigma, noise.dim, params, parse_norm(norm))
    return float(np.interp(stats.norm.ppf(min(p_a, _LOOKUP_P[-1])), z, radius))
