"""Samplers and densities of every noise family, checked against scipy and numerical integrals.

σ is the per-coordinate standard deviation (σ² = E‖ε‖²/d), so the pooled standard deviation
of all coordinates of many draws must match it. Reference scales are derived here from scipy
moments, never read from the engine.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats

from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import NOISES, make_noise

SIGMA = 0.5
DRAWS = 100_000

# (family, parameters, d) for the calibration test; d·DRAWS stays ≤ 10^7.
CALIBRATION: list[tuple[str, dict[str, float], int]] = [
    ("gaussian", {}, 20),
    ("laplace", {}, 20),
    ("uniform", {}, 20),
    ("gennorm", {"shape": 0.5}, 20),
    ("gennorm", {"shape": 1.0}, 20),
    ("gennorm", {"shape": 1.5}, 20),
    ("gennorm", {"shape": 3.0}, 20),
    ("hypsecant", {}, 20),
    ("pareto", {"a": 6.0}, 100),
    ("expmix", {}, 20),
    ("expmix", {"weight": 0.3, "shape1": 0.5, "shape2": 4.0}, 20),
    ("laplace_gaussian", {}, 20),
    ("expinf", {}, 2),
    ("expinf", {}, 50),
    ("powinf", {}, 100),
    ("uniformball", {}, 2),
    ("uniformball", {}, 50),
    ("exp2", {}, 2),
    ("exp2", {}, 50),
]
IID = ("gaussian", "laplace", "uniform", "gennorm", "hypsecant", "pareto", "cauchy", "expmix",
       "laplace_gaussian")
ALL_FAMILIES = [(name, {}) for name in NOISES] + [("gennorm", {"shape": 0.5}),
                                                   ("pareto", {"a": 6.0})]


def case_id(case: tuple[Any, ...]) -> str:
    """Readable pytest id."""
    name, params = case[0], case[1]
    rest = "".join(f"-d{c}" for c in case[2:])
    return name + "".join(f"-{k}{v:g}" for k, v in params.items()) + rest


def seeded(seed: int) -> torch.Generator:
    """A CPU generator with ``seed``."""
    return torch.Generator().manual_seed(seed)


def gennorm_law(shape: float, sigma: float = SIGMA) -> Any:
    """GN(shape) with standard deviation ``sigma`` (scale from scipy's variance)."""
    return stats.gennorm(shape, scale=sigma / float(stats.gennorm(shape).std()))


class Mixture:
    """Weighted mixture of frozen scipy laws (pdf, cdf)."""

    def __init__(self, weight: float, first: Any, second: Any) -> None:
        self.weight, self.first, self.second = weight, first, second

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return self.weight * self.first.pdf(x) + (1 - self.weight) * self.second.pdf(x)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        return np.log(self.pdf(x))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return self.weight * self.first.cdf(x) + (1 - self.weight) * self.second.cdf(x)


class TwoSidedLomax:
    """Symmetric two-sided Lomax law of shape ``a`` with standard deviation ``sigma``."""

    def __init__(self, a: float, sigma: float) -> None:
        scale = sigma / math.sqrt(float(stats.lomax(a).moment(2)))
        self.half = stats.lomax(a, scale=scale)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        return math.log(0.5) + self.half.logpdf(np.abs(x))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return np.where(x < 0, 0.5 * self.half.sf(-x), 0.5 + 0.5 * self.half.cdf(np.abs(x)))


def marginal(name: str, params: dict[str, float], sigma: float = SIGMA) -> Any:
    """Independent 1-D marginal of an i.i.d. family with per-coordinate std ``sigma``."""
    if name == "gaussian":
        return stats.norm(scale=sigma)
    if name == "laplace":
        return stats.laplace(scale=sigma / float(stats.laplace.std()))
    if name == "uniform":
        half_width = sigma / float(stats.uniform(-1, 2).std())
        return stats.uniform(-half_width, 2 * half_width)
    if name == "gennorm":
        return gennorm_law(params.get("shape", 2.0), sigma)
    if name == "hypsecant":
        return stats.hypsecant(scale=sigma / float(stats.hypsecant.std()))
    if name == "pareto":
        return TwoSidedLomax(params.get("a", 3.0), sigma)
    if name == "cauchy":
        return stats.cauchy(scale=sigma * stats.norm.ppf(0.75))
    if name == "expmix":
        return Mixture(params.get("weight", 0.5), gennorm_law(params.get("shape1", 1.0), sigma),
                       gennorm_law(params.get("shape2", 2.0), sigma))
    if name == "laplace_gaussian":
        return Mixture(params.get("weight", 0.5), gennorm_law(1.0, sigma),
                       stats.norm(scale=sigma))
    raise AssertionError(f"{name} is not i.i.d.")


@pytest.mark.slow
@pytest.mark.parametrize("name, params, dim", CALIBRATION, ids=[case_id(c) for c in CALIBRATION])
def test_per_coordinate_std_is_sigma(name: str, params: dict[str, float], dim: int) -> None:
    noise = make_noise(name, SIGMA, dim, **params)
    eps = noise.sample(DRAWS, seeded(1)).double()
    assert torch.isfinite(eps).all()
    empirical = float(eps.pow(2).mean().sqrt())
    assert empirical == pytest.approx(SIGMA, rel=0.02)
    per_axis = eps.pow(2).mean(dim=0).sqrt()  # exchangeable: every axis has std σ too
    assert float((per_axis / SIGMA - 1).abs().max()) < 0.05
    assert float(eps.mean()) == pytest.approx(0.0, abs=4 * SIGMA / math.sqrt(DRAWS))


def test_cauchy_quartiles_match_gaussian_quartiles() -> None:
    """Cauchy has no variance: its scale γ = σ·Φ⁻¹(¾) matches the quartiles of N(0, σ²)."""
    eps = make_noise("cauchy", SIGMA, 20).sample(DRAWS, seeded(2)).numpy().ravel()
    q1, q3 = np.quantile(eps, [0.25, 0.75])
    gamma = SIGMA * stats.norm.ppf(0.75)
    assert q3 == pytest.approx(gamma, rel=0.02)
    assert q1 == pytest.approx(-gamma, rel=0.02)


def test_powinf_default_a() -> None:
    """Default a = ⌈1.3·d⌉ + 3, always above the bound d + 2."""
    for dim in (2, 100, 3072):
        assert make_noise("powinf", SIGMA, dim).params["a"] == math.ceil(1.3 * dim) + 3


@pytest.mark.parametrize("a", [3.0, 6.0])
def test_pareto_zero_uniform_stays_within_float32_resolution(
        a: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """A float32 U(0, 1) draw is 0 with probability 2^−24. It must map no further out than the
    2^−24 quantile of |ε| (the last one float32 uniforms resolve), not to a far-tail value
    whose true probability is ~10^4 times smaller (regression: the floor was 10^−12)."""
    noise = make_noise("pareto", SIGMA, 4, a=a)
    monkeypatch.setattr(torch, "rand", lambda *shape, **kw: torch.zeros(*shape))
    eps = noise.sample(8, seeded(0))
    abs_law = stats.lomax(a, scale=SIGMA / math.sqrt(float(stats.lomax(a).moment(2))))
    assert float(eps.abs().max()) <= abs_law.isf(2.0 ** -24) * (1 + 1e-5)


IID_KS = [("gaussian", {}), ("laplace", {}), ("uniform", {}), ("gennorm", {"shape": 0.5}),
          ("gennorm", {"shape": 1.5}), ("gennorm", {"shape": 3.0}), ("hypsecant", {}),
          ("pareto", {}), ("pareto", {"a": 6.0}), ("cauchy", {}), ("expmix", {}),
          ("laplace_gaussian", {"weight": 0.2})]


@pytest.mark.parametrize("name, params", IID_KS, ids=[case_id(c) for c in IID_KS])
def test_one_coordinate_passes_ks_against_scipy_marginal(name: str,
                                                         params: dict[str, float]) -> None:
    eps = make_noise(name, SIGMA, 3, **params).sample(10_000, seeded(3)).double().numpy()
    for axis in range(3):
        assert stats.kstest(eps[:, axis], marginal(name, params).cdf).pvalue > 1e-3


RADIAL = [("expinf", 5), ("expinf", 200), ("powinf", 5), ("powinf", 200), ("exp2", 5),
          ("exp2", 200), ("uniformball", 5), ("uniformball", 200)]


def radial_law(name: str, dim: int, noise: Noise) -> tuple[np.ndarray, Any]:
    """The statistic t(‖ε‖) and its law: ‖ε‖/λ ~ Gamma(d) for e^{−‖x‖/λ} (surface ∝ r^{d−1}),
    BetaPrime(d, a − d) for (1 + ‖x‖∞/λ)^{−a}, and (‖ε‖/λ)^d ~ U(0, 1) in the ℓ2 ball.

    λ is derived here from σ: E‖ε‖²/d = σ², with E u_i² = 1/d + (1 − 1/d)/3 on the cube
    surface and 1/d on the sphere.
    """
    eps = noise.sample(20_000, seeded(4)).double()
    if name in ("expinf", "powinf"):
        if name == "expinf":
            radial = stats.gamma(dim)
        else:
            radial = stats.betaprime(dim, noise.params["a"] - dim)
        coord = 1.0 / dim + (1.0 - 1.0 / dim) / 3.0
        lam = SIGMA / math.sqrt(float(radial.moment(2)) * coord)
        return (eps.abs().amax(dim=1) / lam).numpy(), radial
    if name == "exp2":
        lam = SIGMA / math.sqrt(float(stats.gamma(dim).moment(2)) / dim)
        return (eps.norm(dim=1) / lam).numpy(), stats.gamma(dim)
    lam = SIGMA * math.sqrt(dim + 2)  # E‖ε‖² = d/(d + 2)·λ² in the ball
    return ((eps.norm(dim=1) / lam) ** dim).numpy(), stats.uniform()


@pytest.mark.parametrize("name, dim", RADIAL, ids=[f"{n}-d{d}" for n, d in RADIAL])
def test_radial_law_of_spherical_and_cubical_families(name: str, dim: int) -> None:
    noise = make_noise(name, SIGMA, dim)
    values, law = radial_law(name, dim, noise)
    assert stats.kstest(values, law.cdf).pvalue > 1e-3


def test_cube_surface_direction_is_uniform() -> None:
    """For ℓ∞ level sets the largest coordinate is on a uniform axis with a uniform sign,
    and the other coordinates relative to it are U(−1, 1)."""
    eps = make_noise("expinf", SIGMA, 4).sample(40_000, seeded(5)).double()
    top = eps.abs().argmax(dim=1)
    counts = torch.bincount(top, minlength=4).numpy()
    assert stats.chisquare(counts).pvalue > 1e-3
    rel = (eps / eps.abs().amax(dim=1, keepdim=True)).numpy()
    others = rel[np.arange(4)[None, :] != top.numpy()[:, None]]
    assert stats.kstest(others, stats.uniform(-1, 2).cdf).pvalue > 1e-3
    signs = np.sign(rel[np.arange(len(rel)), top.numpy()])
    assert abs(signs.mean()) < 4 / math.sqrt(len(signs))


@pytest.mark.parametrize("name, params", ALL_FAMILIES, ids=[case_id(c) for c in ALL_FAMILIES])
def test_seeded_sampling_is_reproducible(name: str, params: dict[str, float]) -> None:
    noise = make_noise(name, SIGMA, 7, **params)
    first = noise.sample(500, seeded(11))
    again = noise.sample(500, seeded(11))
    other = noise.sample(500, seeded(12))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    generator = seeded(11)  # a generator continues its stream
    assert not torch.equal(noise.sample(500, generator), noise.sample(500, generator))


@pytest.mark.parametrize("name, params", ALL_FAMILIES, ids=[case_id(c) for c in ALL_FAMILIES])
def test_sample_shape_dtype_device(name: str, params: dict[str, float]) -> None:
    noise = make_noise(name, SIGMA, 6, device="cpu", **params)
    for num in (1, 33):
        eps = noise.sample(num, seeded(0))
        assert eps.shape == (num, 6)
        assert eps.dtype == torch.float32
        assert eps.device.type == "cpu"
        assert torch.isfinite(eps).all()
    moved = noise.to("cpu")
    assert type(moved) is type(noise) and moved.params == noise.params
    assert moved.sigma == noise.sigma and moved.dim == noise.dim


LOG_PROB_IID = [c for c in ALL_FAMILIES if c[0] in IID] + [
    ("expmix", {"weight": 0.3, "shape1": 0.5, "shape2": 4.0}), ("gennorm", {"shape": 3.0})]


@pytest.mark.parametrize("name, params", LOG_PROB_IID, ids=[case_id(c) for c in LOG_PROB_IID])
def test_iid_log_prob_is_sum_of_scipy_logpdf(name: str, params: dict[str, float]) -> None:
    dim = 5
    noise = make_noise(name, SIGMA, dim, **params)
    eps = noise.sample(300, seeded(6)).double()
    grid = torch.linspace(-3 * SIGMA, 3 * SIGMA, 7 * dim, dtype=torch.float64).view(7, dim)
    if name == "uniform":
        grid = grid * 0.5  # keep the grid inside the support ±√3·σ
    points = torch.cat([eps, grid])
    expected = marginal(name, params).logpdf(points.numpy()).sum(axis=1)
    np.testing.assert_allclose(noise.log_prob(points).numpy(), expected, rtol=1e-6, atol=1e-6)


def test_uniform_log_prob_is_minus_infinity_outside_the_cube() -> None:
    noise = make_noise("uniform", SIGMA, 3)
    half_width = SIGMA * math.sqrt(3)
    outside = torch.tensor([[1.01 * half_width, 0.0, 0.0], [0.0, 0.0, -1.5 * half_width]])
    assert torch.isneginf(noise.log_prob(outside)).all()


NON_IID = ["expinf", "powinf", "exp2", "uniformball"]


def sinh_grid(scale: float, half_extent: float, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes x = scale·sinh(t) on t ∈ [−T, T] (dense near 0, reaching ±half_extent) with
    trapezoid weights including the Jacobian scale·cosh(t)."""
    t = np.linspace(-np.arcsinh(half_extent / scale), np.arcsinh(half_extent / scale), points)
    weights = np.full(points, t[1] - t[0])
    weights[[0, -1]] *= 0.5
    return scale * np.sinh(t), weights * scale * np.cosh(t)


@pytest.mark.parametrize("name", NON_IID)
def test_density_integrates_to_one_in_two_dimensions(name: str) -> None:
    noise = make_noise(name, SIGMA, 2)
    if name == "uniformball":
        radius = SIGMA * 2.0  # λ = σ√(d + 2) at d = 2
        x = np.linspace(-1.01 * radius, 1.01 * radius, 3001)
        w = np.full(x.size, x[1] - x[0])
    else:
        x, w = sinh_grid(SIGMA / 20, 2000 * SIGMA, 2001)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    points = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], axis=1))
    density = torch.exp(noise.log_prob(points)).double().numpy().reshape(xx.shape)
    total = float(w @ density @ w)
    assert total == pytest.approx(1.0, rel=3e-3 if name == "uniformball" else 1e-4)


def log_sphere_area(name: str, dim: int) -> float:
    """log of the (d − 1)-volume of the unit ℓ2 sphere 2π^{d/2}/Γ(d/2) or of the surface of
    the cube [−1, 1]^d, 2d·2^{d−1}."""
    if name in ("expinf", "powinf"):
        return math.log(2 * dim) + (dim - 1) * math.log(2.0)
    return math.log(2.0) + dim / 2 * math.log(math.pi) - math.lgamma(dim / 2)


@pytest.mark.parametrize("name", ["expinf", "powinf", "exp2"])
@pytest.mark.parametrize("dim", [5, 50, 784])
def test_density_integrates_to_one_radially(name: str, dim: int) -> None:
    """The density depends on x only through r = ‖x‖ (ℓ2 or ℓ∞): ∫ p(r·e₁)·A·r^{d−1} dr = 1,
    by the trapezoid rule on a log-spaced grid of r, in log space."""
    noise = make_noise(name, SIGMA, dim)
    log_r = np.linspace(math.log(SIGMA) - 25, math.log(SIGMA) + 12, 8001)
    points = torch.zeros(log_r.size, dim, dtype=torch.float64)
    points[:, 0] = torch.from_numpy(np.exp(log_r))
    log_integrand = (noise.log_prob(points).double().numpy() + log_sphere_area(name, dim)
                     + dim * log_r)  # r^{d−1}·dr = r^d·d(log r)
    assert np.trapezoid(np.exp(log_integrand), log_r) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("dim", [5, 50, 784])
def test_uniform_ball_density_is_one_over_volume(dim: int) -> None:
    """Constant inside the ball of radius λ = σ√(d + 2) (from E‖ε‖² = dλ²/(d + 2)), whose
    volume is A·λ^d/d, and −∞ outside."""
    noise = make_noise("uniformball", SIGMA, dim)
    lam = SIGMA * math.sqrt(dim + 2)
    points = torch.zeros(4, dim, dtype=torch.float64)
    points[:, 0] = torch.tensor([0.0, 0.5 * lam, 0.999 * lam, 1.001 * lam])
    log_p = noise.log_prob(points).double().numpy()
    log_volume = log_sphere_area("uniformball", dim) + dim * math.log(lam) - math.log(dim)
    np.testing.assert_allclose(log_p[:3], -log_volume, rtol=1e-6)
    assert np.isneginf(log_p[3])
