"""The law of the Neyman–Pearson log-ratio under the noise and its shift, for one direction
profile: quadrature and FFT for i.i.d. noises, exact reduced Monte Carlo for level-set noises.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ucan_core.errors import UcanError
from ucan_core.noises._sampling import standard_gamma
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import make_noise
from ucan_core.noises.iid import Gaussian, HyperbolicSecant, IIDNoise, Laplace, Uniform
from ucan_core.noises.radial import RadialNoise

_LOG_CONCAVE = (Gaussian, Laplace, Uniform, HyperbolicSecant)


_MAX_EXPONENT = 700.0


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
