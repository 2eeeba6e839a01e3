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

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from scipy import stats

from ucan_core.checks import check_count, check_open_unit
from ucan_core.errors import UcanError
from ucan_core.labels import Kind
from ucan_core.noises.base import Noise
from ucan_core.noises.iid import Gaussian, GeneralizedNormal, IIDNoise
from ucan_core.noises.radial import RadialNoise
from ucan_core.norms import norm_label, parse_norm
from ucan_core.universal.laws import (
    _LOG_CONCAVE,
    Profile,
    _iid_law,
    _Law,
    _roc,
    _roc_threshold,
    _sample_law,
    _samples,
    sparse_profiles,
)

Mode = Literal["approximate", "conservative"]


MODES: tuple[Mode, ...] = ("approximate", "conservative")


_MAX_EXTENSIONS = 8


#: Memory a Monte Carlo law of ℓ may take: (scales × draws) float64 values, held in about
#: six copies at its peak (the draws, the sorted values and their indices, masses, masks).
MAX_LAW_BYTES = 4 << 30
_BYTES_PER_DRAW = 6 * 8


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
        most = self.max_samples
        for name in ("samples", "conservative_samples"):
            if getattr(self, name) > most:
                raise UcanError(
                    f"{name} must be <= {most:,} with {self.scales} scales: "
                    f"{getattr(self, name):,} draws need about "
                    f"{getattr(self, name) * self.scales * _BYTES_PER_DRAW / 1e9:,.0f} GB "
                    f"(at most {MAX_LAW_BYTES >> 30} GiB)")

    @property
    def max_samples(self) -> int:
        """The most Monte Carlo draws of ℓ per scale within :data:`MAX_LAW_BYTES`."""
        return MAX_LAW_BYTES // (_BYTES_PER_DRAW * self.scales)


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
    if p.size == 0 or np.any(~np.isfinite(p)) or np.any((p <= 0.5) | (p >= 1.0)):
        raise UcanError("p_A must lie in (1/2, 1) for the universal radius (got "
                        f"{np.array2string(p, precision=4, threshold=6)}): the search stops at its "
                        "largest scale, which is no radius at p_A = 1 (a noise with full support "
                        "certifies every radius there; use the closed form), and p_A's lower bound "
                        "from a finite sample is always < 1")
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


def describe(curve: UniversalCurve) -> dict[str, Any]:
    """JSON-ready summary of a one-point curve."""
    return {"radius": float(curve.radius[0]), "kind": curve.kind, "norm": curve.norm,
            "mode": curve.mode, "worst_direction": curve.worst_label(0),
            "statement": curve.statement}
