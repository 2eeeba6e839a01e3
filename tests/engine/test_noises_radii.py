"""Closed-form certified radii of every noise family, checked against independent computations.

Oracles never reuse the engine's formulas:

* i.i.d. log-concave families: the ℓ1 radius is the 1-D quantile, taken from ``scipy.stats``
  with the scale fixed by the distribution's variance, and confirmed by a brute-force
  Neyman–Pearson (NP) computation of the worst-case shift along an axis;
* uniform cube / ℓ2 ball: root-finding (``brentq``) of the exact NP flip condition
  (lost mass of the shifted support = p_A − ½);
* Yang et al. (2020) differential-method radii (``sound``): R(ρ) = ∫_{1−ρ}^{1/2} dp / φ(p)
  evaluated with ``scipy.integrate.quad``, where φ(p) is the largest directional derivative
  of P(A) over sets A of mass p, derived per family in the helpers below.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from ucan_core.errors import UcanError
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import NOISES, make_noise

SIGMA = 0.5
DIMS = (2, 784, 3072)
P_AS = np.array([0.501, 0.55, 0.6, 0.75, 0.9, 0.99, 0.999])
INF = math.inf

# (family, parameters, norm, kind) for every closed-form radius of the library.
CLOSED_FORMS: list[tuple[str, dict[str, float], float, str]] = [
    ("gaussian", {}, 1.0, "exact"),
    ("gaussian", {}, 2.0, "exact"),
    ("gaussian", {}, INF, "exact"),
    ("laplace", {}, 1.0, "exact"),
    ("uniform", {}, 1.0, "exact"),
    ("uniform", {}, INF, "exact"),
    ("gennorm", {"shape": 1.0}, 1.0, "exact"),
    ("gennorm", {"shape": 1.5}, 1.0, "exact"),
    ("gennorm", {"shape": 2.0}, 1.0, "exact"),
    ("gennorm", {"shape": 2.0}, 2.0, "exact"),
    ("gennorm", {"shape": 2.0}, INF, "exact"),
    ("gennorm", {"shape": 3.0}, 1.0, "exact"),
    ("gennorm", {"shape": 0.5}, 1.0, "sound"),
    ("hypsecant", {}, 1.0, "exact"),
    ("pareto", {}, 1.0, "sound"),
    ("pareto", {"a": 6.0}, 1.0, "sound"),
    ("expinf", {}, 1.0, "sound"),
    ("expinf", {}, INF, "exact"),
    ("powinf", {}, 1.0, "sound"),
    ("uniformball", {}, 2.0, "exact"),
    ("exp2", {}, 2.0, "sound"),
    ("discrete_gaussian", {}, 1.0, "sound"),
    ("discrete_gaussian", {}, 2.0, "sound"),
    ("discrete_gaussian", {}, INF, "sound"),
]
NO_CLOSED_FORM = ("cauchy", "expmix", "laplace_gaussian")


def case_id(case: tuple[str, dict[str, float], float, str]) -> str:
    """Readable pytest id: family, parameters, norm."""
    name, params, norm, _ = case
    extra = "".join(f"-{k}{v:g}" for k, v in params.items())
    return f"{name}{extra}-l{norm:g}"


def scale_for_std(dist: Callable[..., stats.rv_continuous], sigma: float, *shape: float) -> float:
    """Scale λ of the scipy family ``dist`` at which its standard deviation is ``sigma``."""
    return sigma / float(dist(*shape).std())


def differential_radius(phi: Callable[[float], float], rho: float,
                        points: list[float] | None = None) -> float:
    """Yang et al.'s R(ρ) = ∫_{1−ρ}^{1/2} dp / φ(p), numerically."""
    inside = [p for p in (points or []) if 1 - rho < p < 0.5] or None
    value, _ = integrate.quad(lambda p: 1.0 / phi(p), 1.0 - rho, 0.5, points=inside, limit=400,
                              epsabs=0.0, epsrel=1e-11)
    return value


class TwoSidedLomax:
    """The symmetric two-sided Lomax (Pareto II) law built from ``scipy.stats.lomax``."""

    def __init__(self, a: float, scale: float) -> None:
        self.half = stats.lomax(a, scale=scale)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.where(x < 0, 0.5 * self.half.sf(-x), 0.5 + 0.5 * self.half.cdf(np.abs(x)))

    def ppf(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        return np.where(q < 0.5, -self.half.ppf(np.clip(1 - 2 * q, 0, 1)),
                        self.half.ppf(np.clip(2 * q - 1, 0, 1)))


def np_axis_radius(dist: object, rho: float, cells: int = 100_001) -> float:
    """Neyman–Pearson flip radius of a 1-D shift for the law ``dist`` (has cdf, ppf).

    The line is cut into ``cells`` quantile cells; the worst set of mass ρ under the shifted
    law takes the cells of smallest likelihood ratio first (the last one fractionally). Sets
    made of cells are a subset of all sets, so the worst case is over-estimated and the
    returned radius is an upper bound of the exact 1-D radius, converging to it.
    """
    u = special.expit(np.linspace(-36.0, 36.0, cells))
    edges = np.concatenate([[-np.inf], dist.ppf(u), [np.inf]])
    m0 = np.diff(np.concatenate([[0.0], u, [1.0]]))
    keep = m0 > 0
    left, right, m0 = edges[:-1][keep], edges[1:][keep], m0[keep]

    def worst_mass(r: float) -> float:
        m1 = dist.cdf(right - r) - dist.cdf(left - r)
        order = np.argsort(m1 / m0, kind="stable")
        c0, c1 = np.cumsum(m0[order]), np.cumsum(m1[order])
        j = int(np.searchsorted(c0, rho))
        before0, before1 = (c0[j - 1], c1[j - 1]) if j else (0.0, 0.0)
        return before1 + (rho - before0) / m0[order][j] * m1[order][j]

    hi = 1.0
    while worst_mass(hi) > 0.5:
        hi *= 2.0
    return optimize.brentq(lambda r: worst_mass(r) - 0.5, 0.0, hi, xtol=1e-12)


def test_every_family_is_covered() -> None:
    """A family added to NOISES without a radius test here fails this test."""
    assert {c[0] for c in CLOSED_FORMS} | set(NO_CLOSED_FORM) == set(NOISES)


# ---------------------------------------------------------------------------------------------
# i.i.d. families: quantiles from scipy


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("norm", [1.0, 2.0, INF])
def test_gaussian_radii_match_normal_quantile(dim: int, norm: float) -> None:
    noise = make_noise("gaussian", SIGMA, dim)
    values, kind = noise.radius_curve(P_AS, norm)
    expected = SIGMA * stats.norm.ppf(P_AS)
    if norm == INF:
        expected = expected / math.sqrt(dim)  # the corner r·(1, …, 1) has ℓ2 norm r√d
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    assert kind == "exact"


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("name, law", [("laplace", stats.laplace), ("hypsecant", stats.hypsecant)])
def test_log_concave_l1_is_the_marginal_quantile(dim: int, name: str, law) -> None:
    lam = scale_for_std(law, SIGMA)
    values, kind = make_noise(name, SIGMA, dim).radius_curve(P_AS, 1)
    np.testing.assert_allclose(values, law(scale=lam).ppf(P_AS), rtol=1e-10)
    assert kind == "exact"


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("shape", [1.0, 1.5, 2.0, 3.0])
def test_gennorm_l1_is_gennorm_quantile(dim: int, shape: float) -> None:
    lam = scale_for_std(stats.gennorm, SIGMA, shape)
    values, kind = make_noise("gennorm", SIGMA, dim, shape=shape).radius_curve(P_AS, 1)
    np.testing.assert_allclose(values, stats.gennorm(shape, scale=lam).ppf(P_AS), rtol=1e-9)
    assert kind == "exact"


@pytest.mark.parametrize("dim", DIMS)
def test_gennorm_shape_one_is_laplace_formula(dim: int) -> None:
    values, _ = make_noise("gennorm", SIGMA, dim, shape=1.0).radius_curve(P_AS, 1)
    lam = SIGMA / math.sqrt(2.0)  # Laplace: variance 2λ²
    np.testing.assert_allclose(values, -lam * np.log(2 * (1 - P_AS)), rtol=1e-10)


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("norm", [1.0, 2.0, INF])
def test_gennorm_shape_two_is_gaussian(dim: int, norm: float) -> None:
    gennorm = make_noise("gennorm", SIGMA, dim, shape=2.0).radius_curve(P_AS, norm)
    gaussian = make_noise("gaussian", SIGMA, dim).radius_curve(P_AS, norm)
    np.testing.assert_allclose(gennorm[0], gaussian[0], rtol=1e-12)
    assert gennorm[1] == gaussian[1] == "exact"



LOG_CONCAVE_1D = [
    ("gaussian", {}, stats.norm, ()),
    ("laplace", {}, stats.laplace, ()),
    ("hypsecant", {}, stats.hypsecant, ()),
    ("gennorm", {"shape": 1.5}, stats.gennorm, (1.5,)),
    ("gennorm", {"shape": 3.0}, stats.gennorm, (3.0,)),
]


@pytest.mark.parametrize("name, params, family, shape", LOG_CONCAVE_1D,
                         ids=[f"{c[0]}{c[3]}" for c in LOG_CONCAVE_1D])
def test_exact_l1_radius_is_the_axis_neyman_pearson_radius(name: str, params: dict[str, float],
                                                           family: stats.rv_continuous,
                                                           shape: tuple[float, ...]) -> None:
    """`exact` means tight: the brute-force NP flip along an axis matches the engine."""
    dist = family(*shape, scale=scale_for_std(family, SIGMA, *shape))
    noise = make_noise(name, SIGMA, 10, **params)
    for rho in (0.6, 0.9, 0.99):
        engine = noise.radius(rho, 1).value
        brute = np_axis_radius(dist, rho)
        assert engine <= brute * (1 + 1e-9)
        assert brute == pytest.approx(engine, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# Uniform cube and ℓ2 ball: exact NP flip by root finding


def cube_lost_mass(delta: np.ndarray, lam: float) -> np.ndarray:
    """Mass of U([−λ, λ]^d) that leaves the cube when it is shifted by ``delta`` (rows)."""
    return 1.0 - np.prod(1.0 - np.abs(delta) / (2.0 * lam), axis=-1)


@pytest.mark.parametrize("dim", DIMS)
def test_uniform_cube_l1_flip_by_root_finding(dim: int) -> None:
    lam = scale_for_std(stats.uniform, SIGMA, -1.0, 2.0)  # U(−1, 1) has std 1/√3
    noise = make_noise("uniform", SIGMA, dim)
    axis = np.zeros(dim)
    axis[0] = 1.0
    rng = np.random.default_rng(0)
    for rho in P_AS:
        root = optimize.brentq(lambda r, target: cube_lost_mass(r * axis, lam) - target,
                               0.0, 2 * lam, args=(rho - 0.5,), xtol=1e-15)
        radius = noise.radius(rho, 1)
        assert radius.value == pytest.approx(root, rel=1e-10)
        assert radius.kind == "exact"
        # The axis is the worst ℓ1 direction: random directions of the same ℓ1 norm lose less.
        directions = rng.dirichlet(np.ones(dim), size=200) * rng.choice([-1, 1], size=(200, dim))
        assert np.all(cube_lost_mass(root * directions, lam) <= rho - 0.5 + 1e-12)


@pytest.mark.parametrize("dim", DIMS)
def test_uniform_cube_linf_flip_by_root_finding(dim: int) -> None:
    lam = scale_for_std(stats.uniform, SIGMA, -1.0, 2.0)
    noise = make_noise("uniform", SIGMA, dim)
    corner = np.ones(dim)
    for rho in P_AS:
        root = optimize.brentq(lambda r, target: cube_lost_mass(r * corner, lam) - target,
                               0.0, 2 * lam, args=(rho - 0.5,), xtol=1e-16, rtol=1e-13)
        radius = noise.radius(rho, "inf")
        assert radius.value == pytest.approx(root, rel=1e-9)
        assert radius.kind == "exact"


def ball_lost_fraction(r: float, lam: float, dim: int) -> float:
    """Fraction of an ℓ2 ball of radius λ outside its copy shifted by r: 1 − overlap/volume.

    The overlap is two caps of height λ − r/2; a cap's volume fraction is
    ½·I_{1 − (r/2λ)²}((d + 1)/2, ½); 1 − I_{1−t}(a, b) = I_t(b, a) avoids the cancellation.
    """
    return special.betainc(0.5, (dim + 1) / 2, (r / (2 * lam)) ** 2)


@pytest.mark.parametrize("dim", DIMS)
def test_uniform_ball_l2_flip_by_root_finding(dim: int) -> None:
    lam = SIGMA * math.sqrt(dim + 2)  # E‖X‖² = dλ²/(d + 2) for the uniform ball
    noise = make_noise("uniformball", SIGMA, dim)
    for rho in P_AS:
        root = optimize.brentq(lambda r, target: ball_lost_fraction(r, lam, dim) - target,
                               0.0, 2 * lam, args=(rho - 0.5,), xtol=1e-15, rtol=1e-13)
        radius = noise.radius(rho, 2)
        assert radius.value == pytest.approx(root, rel=1e-8)
        assert radius.kind == "exact"


# ---------------------------------------------------------------------------------------------
# Yang et al. 2020 differential method (sound radii)


@pytest.mark.parametrize("dim", DIMS)
def test_gennorm_half_l1_equals_differential_integral(dim: int) -> None:
    """Shape ½: ψ'(x) = ½|x|^{−½}·sign x is largest just right of 0, so the NP set of mass p
    is (0, a_p) with F(a_p) = ½ + p and φ(p) = f(0) − f(a_p)."""
    dist = stats.gennorm(0.5, scale=scale_for_std(stats.gennorm, SIGMA, 0.5))

    def phi(p: float) -> float:
        return float(dist.pdf(0.0) - dist.pdf(dist.ppf(0.5 + p)))

    noise = make_noise("gennorm", SIGMA, dim, shape=0.5)
    values, kind = noise.radius_curve(P_AS, 1)
    expected = [differential_radius(phi, rho) for rho in P_AS]
    np.testing.assert_allclose(values, expected, rtol=1e-8)
    assert kind == "sound"


def test_gennorm_half_closed_form_uses_lower_incomplete_gamma_inverse() -> None:
    """The closed form 2λ(−c·ln(1 − e^{−c}) + Li₂(e^{−c})) needs c with P(2, c) = 2(1 − ρ),
    P the regularised *lower* incomplete gamma; Li₂ is summed as a series here."""
    lam = scale_for_std(stats.gennorm, SIGMA, 0.5)
    noise = make_noise("gennorm", SIGMA, 10, shape=0.5)
    for rho in P_AS:
        c = optimize.brentq(lambda t, target: stats.gamma(2).cdf(t) - target, 1e-12, 200.0,
                            args=(2 * (1 - rho),), xtol=1e-15)
        y = math.exp(-c)
        li2 = sum(y ** k / k ** 2 for k in range(1, 4000))
        expected = 2 * lam * (-c * math.log1p(-y) + li2)
        assert noise.radius(rho, 1).value == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("a", [2.5, 3.0, 6.0])
def test_pareto_l1_equals_differential_integral(dim: int, a: float) -> None:
    """ψ'(x) = (a + 1)/(λ + |x|)·sign x peaks at 0+: NP set (0, b_p), φ(p) = f(0) − f(b_p)."""
    half = stats.lomax(a)
    lam = SIGMA / math.sqrt(float(half.moment(2)))  # two-sided: E X² = E Y², Y ~ Lomax
    half = stats.lomax(a, scale=lam)

    def phi(p: float) -> float:
        return 0.5 * float(half.pdf(0.0) - half.pdf(half.ppf(2 * p)))

    values, kind = make_noise("pareto", SIGMA, dim, a=a).radius_curve(P_AS, 1)
    expected = [differential_radius(phi, rho) for rho in P_AS]
    np.testing.assert_allclose(values, expected, rtol=1e-8)
    assert kind == "sound"


SOUND_1D = [("pareto", {"a": 3.0}), ("gennorm", {"shape": 0.5})]


@pytest.mark.parametrize("name, params", SOUND_1D, ids=[c[0] for c in SOUND_1D])
def test_sound_l1_radius_below_axis_neyman_pearson_radius(name: str,
                                                          params: dict[str, float]) -> None:
    """A valid radius cannot exceed the exact flip radius of a shift along one axis."""
    noise = make_noise(name, SIGMA, 10, **params)
    if name == "pareto":
        half_var = float(stats.lomax(params["a"]).moment(2))
        dist = TwoSidedLomax(params["a"], SIGMA / math.sqrt(half_var))
    else:
        dist = stats.gennorm(0.5, scale=scale_for_std(stats.gennorm, SIGMA, 0.5))
    for rho in (0.6, 0.9, 0.99):
        assert 0 < noise.radius(rho, 1).value <= np_axis_radius(dist, rho)


def expinf_scale(sigma: float, dim: int) -> float:
    """λ of exp(−‖x‖∞/λ): ‖X‖∞/λ ~ Gamma(d) (E = d(d+1) for the square) and the direction is
    uniform on the cube surface (E u_i² = 1/d + (1 − 1/d)/3)."""
    radial_second_moment = float(stats.gamma(dim).moment(2))
    coordinate_second_moment = 1.0 / dim + (1.0 - 1.0 / dim) / 3.0
    return sigma / math.sqrt(radial_second_moment * coordinate_second_moment)


@pytest.mark.parametrize("dim", DIMS)
def test_expinf_radii_equal_differential_integral(dim: int) -> None:
    """∂ψ/∂x₁ = sign(x₁)/λ where |x₁| is the largest coordinate, 0 elsewhere.

    ℓ1 (worst direction an axis): φ(p) = min(p, 1/(2d))/λ; the closed form 2λd(p_A − ½)
    equals the integral while 1 − p_A ≥ 1/(2d) and stays below it beyond.
    ℓ∞ (worst direction a corner): the score is ±1/λ with mass ½ each, φ(p) = p/λ.
    """
    lam = expinf_scale(SIGMA, dim)
    noise = make_noise("expinf", SIGMA, dim)
    l1, kind1 = noise.radius_curve(P_AS, 1)
    linf, kind_inf = noise.radius_curve(P_AS, "inf")
    for rho, r1, rinf in zip(P_AS, l1, linf):
        integral1 = differential_radius(lambda p: min(p, 1 / (2 * dim)) / lam, rho,
                                        [1 / (2 * dim)])
        if 1 - rho >= 1 / (2 * dim):
            assert r1 == pytest.approx(integral1, rel=1e-9)
        else:
            assert r1 < integral1
        assert rinf == pytest.approx(differential_radius(lambda p: p / lam, rho), rel=1e-9)
    # ℓ∞ is also attained (along the diagonal: tests/engine/test_tightness_table.py)
    assert kind1 == "sound" and kind_inf == "exact"


@pytest.mark.parametrize("dim, a", [(2, 6.0), (2, 0.0), (784, 0.0), (3072, 0.0), (3072, 4000.0)])
def test_powinf_l1_equals_differential_integral(dim: int, a: float) -> None:
    """(1 + ‖x‖∞/λ)^{−a}: the score ∂ψ/∂x₁ is a/(λ + ‖x‖∞) where x₁ is the largest positive
    coordinate (mass 1/(2d)) and 0 or negative elsewhere. So φ(p) = φ_max =
    (1/2d)·E[a/(λ(1 + B))], B = ‖X‖∞/λ ~ BetaPrime(d, a − d), for every p ≥ 1/(2d), and
    R(ρ) = (ρ − ½)/φ_max while 1 − ρ ≥ 1/(2d).
    ``a = 0`` asks for the default a.
    """
    noise = make_noise("powinf", SIGMA, dim, **({"a": a} if a else {}))
    a = noise.params["a"]
    b_second_moment = float(stats.betaprime(dim, a - dim).moment(2))
    coordinate_second_moment = 1.0 / dim + (1.0 - 1.0 / dim) / 3.0
    lam = SIGMA / math.sqrt(b_second_moment * coordinate_second_moment)
    phi_max = stats.betaprime(dim, a - dim).expect(lambda b: a / (lam * (1 + b))) / (2 * dim)
    rho = P_AS[1 / (2 * dim) <= 1 - P_AS]
    values, kind = noise.radius_curve(rho, 1)
    np.testing.assert_allclose(values, (rho - 0.5) / phi_max, rtol=1e-8)
    assert kind == "sound"


@pytest.mark.parametrize("dim", DIMS)
def test_exp2_l2_equals_differential_integral(dim: int) -> None:
    """exp(−‖x‖₂/λ): ∂ψ/∂x₁ = u₁/λ with u = x/‖x‖ uniform on the sphere, independent of ‖x‖;
    (u₁ + 1)/2 ~ Beta(k, k), k = (d − 1)/2. The NP set is {u₁ > t_p} and
    φ(p) = E[u₁; u₁ > t_p]/λ = (S_{k+1,k}(b_p) − S_{k,k}(b_p))/λ, S the Beta survival
    function, b_p its upper p-quantile (E[B; B > b] = ½·S_{k+1,k}(b))."""
    lam = SIGMA / math.sqrt(float(stats.gamma(dim).moment(2)) / dim)
    k = (dim - 1) / 2
    beta_k, beta_k1 = stats.beta(k, k), stats.beta(k + 1, k)

    def phi(p: float) -> float:
        b = beta_k.isf(p)
        return float(beta_k1.sf(b) - beta_k.sf(b)) / lam

    values, kind = make_noise("exp2", SIGMA, dim).radius_curve(P_AS, 2)
    np.testing.assert_allclose(values, [differential_radius(phi, rho) for rho in P_AS],
                               rtol=1e-8)
    assert kind == "sound"


# ---------------------------------------------------------------------------------------------
# Properties shared by every closed form


def build(case: tuple[str, dict[str, float], float, str], dim: int,
          sigma: float = SIGMA) -> Noise:
    """The noise of a CLOSED_FORMS case."""
    return make_noise(case[0], sigma, dim, **case[1])


@pytest.mark.parametrize("case", CLOSED_FORMS, ids=case_id)
def test_kind_is_as_documented(case: tuple[str, dict[str, float], float, str]) -> None:
    for dim in DIMS:
        radius = build(case, dim).radius(0.9, case[2])
        assert radius.kind == case[3]
        assert radius.norm == ("inf" if case[2] == INF else str(int(case[2])))


@pytest.mark.parametrize("case", CLOSED_FORMS, ids=case_id)
def test_zero_at_or_below_one_half(case: tuple[str, dict[str, float], float, str]) -> None:
    for dim in DIMS:
        values, _ = build(case, dim).radius_curve(np.array([0.0, 0.2, 0.5, 0.5 + 1e-9]),
                                                  case[2])
        assert list(values[:3]) == [0.0, 0.0, 0.0]
        assert values[3] > 0.0


@pytest.mark.parametrize("case", CLOSED_FORMS, ids=case_id)
def test_strictly_increasing_in_pa(case: tuple[str, dict[str, float], float, str]) -> None:
    grid = np.linspace(0.5005, 0.9995, 400)
    for dim in DIMS:
        values, _ = build(case, dim).radius_curve(grid, case[2])
        assert np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)


@pytest.mark.parametrize("case", CLOSED_FORMS, ids=case_id)
def test_linear_in_sigma(case: tuple[str, dict[str, float], float, str]) -> None:
    for dim in DIMS:
        base, _ = build(case, dim, 0.25).radius_curve(P_AS, case[2])
        for k in (0.1, 3.0, 8.0):
            scaled, _ = build(case, dim, 0.25 * k).radius_curve(P_AS, case[2])
            np.testing.assert_allclose(scaled, k * base, rtol=1e-9)


@pytest.mark.parametrize("case", CLOSED_FORMS, ids=case_id)
def test_scalar_radius_matches_curve(case: tuple[str, dict[str, float], float, str]) -> None:
    noise = build(case, 784)
    values, _ = noise.radius_curve(P_AS, case[2])
    assert [noise.radius(float(p), case[2]).value for p in P_AS] == list(values)


@pytest.mark.parametrize("dim", DIMS)
def test_cross_norm_conversion_is_sound_and_as_derived(dim: int) -> None:
    """Non-direct norms: an ℓq ball of radius r/d^{1/a − 1/q} (a < q) or r (a ≥ q) lies in
    the ℓa ball of radius r; the best direct norm wins."""
    laplace = make_noise("laplace", SIGMA, dim)
    r1 = laplace.radius_curve(P_AS, 1)[0]
    for norm, factor in ((2.0, math.sqrt(dim)), (INF, dim), (4.0, dim ** 0.75)):
        values, kind = laplace.radius_curve(P_AS, norm)
        np.testing.assert_allclose(values, r1 / factor, rtol=1e-12)
        assert kind == "sound"
    uniform = make_noise("uniform", SIGMA, dim)
    u1, uinf = uniform.radius_curve(P_AS, 1)[0], uniform.radius_curve(P_AS, INF)[0]
    values, kind = uniform.radius_curve(P_AS, 2)
    np.testing.assert_allclose(values, np.maximum(u1 / math.sqrt(dim), uinf), rtol=1e-12)
    assert kind == "sound"
    ball = make_noise("uniformball", SIGMA, dim)
    r2 = ball.radius_curve(P_AS, 2)[0]
    np.testing.assert_allclose(ball.radius_curve(P_AS, 1)[0], r2, rtol=1e-12)
    np.testing.assert_allclose(ball.radius_curve(P_AS, INF)[0], r2 / math.sqrt(dim), rtol=1e-12)


@pytest.mark.parametrize("name, params", [("cauchy", {}), ("expmix", {}),
                                          ("laplace_gaussian", {}), ("gennorm", {"shape": 0.7})])
def test_families_without_closed_form_raise(name: str, params: dict[str, float]) -> None:
    noise = make_noise(name, SIGMA, 10, **params)
    with pytest.raises(UcanError, match="no closed-form radius"):
        noise.radius(0.9, 1)
    assert noise.radii(0.9) == {}


def test_pa_outside_unit_interval_raises() -> None:
    noise = make_noise("gaussian", SIGMA, 10)
    for bad in (-0.1, 1.1, math.nan):
        with pytest.raises(UcanError, match="p_A"):
            noise.radius(bad, 2)
