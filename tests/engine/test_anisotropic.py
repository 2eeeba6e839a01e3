"""Anisotropic smoothing (UCAN): certified regions, radii, ALM, sampling and the pattern NPG,
checked by brute force in numpy at small d and by plain products where they do not overflow."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ucan_core.errors import UcanError
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.catalog import make_noise
from ucan_core.noises.region import CertifiedRegion
from ucan_core.npg.pattern import pattern_scale_map
from ucan_core.npg.source import build_noise

SIGMA = 0.25
NORMS = (1.0, 2.0, math.inf)


def random_scale(dim: int, seed: int, low: float = 0.3, high: float = 3.0) -> np.ndarray:
    """A positive scale map exactly representable in float32 (the engine stores float32)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, dim).astype(np.float32).astype(np.float64)


def lp_norm(x: np.ndarray, p: float) -> np.ndarray:
    """ℓp norm over the last axis, written out by hand."""
    if math.isinf(p):
        return np.abs(x).max(axis=-1)
    return (np.abs(x) ** p).sum(axis=-1) ** (1.0 / p)


def geometric_mean_by_products(scale: np.ndarray, group: int = 64) -> float:
    """(∏ s_i)^{1/d} with plain float64 products over groups small enough not to
    under/overflow: ∏_groups (∏_group s_i)^{1/d}."""
    result = 1.0
    for start in range(0, scale.size, group):
        result *= float(np.prod(scale[start:start + group])) ** (1.0 / scale.size)
    return result


@pytest.mark.parametrize("dim", [2, 3, 4, 6])
@pytest.mark.parametrize("norm", NORMS)
def test_region_membership_matches_brute_force(dim: int, norm: float) -> None:
    scale = random_scale(dim, dim)
    noise = AnisotropicNoise(make_noise("gaussian", SIGMA, dim), scale)
    region = noise.region(0.9, norm)
    radius = region.radius
    assert radius == pytest.approx(SIGMA * stats.norm.ppf(0.9)
                                   / dim ** max(0.0, 0.5 - 1.0 / norm), rel=1e-12)
    rng = np.random.default_rng(1)
    delta = rng.normal(size=(20_000, dim)) * scale * radius * rng.uniform(0, 1.5, (20_000, 1))
    inside = lp_norm(delta / scale, norm) <= radius
    assert 0.1 < inside.mean() < 0.9  # both outcomes are exercised
    np.testing.assert_array_equal(region.contains(delta), inside)
    np.testing.assert_array_equal(region.contains(torch.from_numpy(delta)), inside)


@pytest.mark.parametrize("dim", [2, 3, 5])
@pytest.mark.parametrize("norm", NORMS)
def test_lp_ball_of_radius_min_scale_times_r_is_inside(dim: int, norm: float) -> None:
    scale = random_scale(dim, 10 + dim)
    noise = AnisotropicNoise(make_noise("gaussian", SIGMA, dim), scale)
    region = noise.region(0.95, norm)
    ball = scale.min() * region.radius
    assert region.lp_radius == pytest.approx(ball, rel=1e-12)
    values, _ = noise.radius_curve(0.95, norm)
    assert values[0] == pytest.approx(ball, rel=1e-6)
    assert noise.radius(0.95, norm).value == pytest.approx(ball, rel=1e-6)
    rng = np.random.default_rng(2)
    directions = rng.normal(size=(20_000, dim))
    directions /= lp_norm(directions, norm)[:, None]
    delta = directions * ball * rng.uniform(0, 1, (20_000, 1)) * (1 - 1e-9)
    assert region.contains(delta).all()
    corner_of_ball = np.zeros(dim)
    corner_of_ball[int(scale.argmin())] = ball * (1 + 1e-6)  # just beyond, on the tightest axis
    assert not region.contains(corner_of_ball)
    corner_of_ball[int(scale.argmin())] = ball * (1 - 1e-6)
    assert region.contains(corner_of_ball)


@pytest.mark.parametrize("dim", [2, 4, 8, 30])
def test_alm_is_geometric_mean_times_radius(dim: int) -> None:
    scale = random_scale(dim, 20 + dim)
    noise = AnisotropicNoise(make_noise("laplace", SIGMA, dim), scale)
    base = SIGMA / math.sqrt(2) * -math.log(2 * (1 - 0.8))  # Laplace ℓ1 quantile at 0.8
    expected = float(np.prod(scale)) ** (1.0 / dim) * base
    assert noise.alm(0.8, 1) == pytest.approx(expected, rel=1e-6)
    assert noise.region(0.8, 1).alm == pytest.approx(expected, rel=1e-6)
    assert noise.alm_curve(np.array([0.4, 0.8]), 1)[1] == pytest.approx(expected, rel=1e-6)
    assert noise.alm_curve(np.array([0.4, 0.8]), 1)[0] == 0.0


@pytest.mark.parametrize("level", [0.5, 2.0])
def test_alm_is_stable_in_high_dimension(level: float) -> None:
    """At d = 3072 the plain product 0.5^3072 underflows (2^3072 overflows); the engine's
    value must still match a grouped product."""
    dim = 3072
    rng = np.random.default_rng(3)
    scale = (level * np.exp(rng.normal(0, 0.1, dim))).astype(np.float32).astype(np.float64)
    with np.errstate(over="ignore", under="ignore"):
        assert np.prod(scale) in (0.0, math.inf)
    noise = AnisotropicNoise(make_noise("gaussian", SIGMA, dim), scale)
    base = SIGMA * stats.norm.ppf(0.99)
    expected = geometric_mean_by_products(scale) * base
    assert math.isfinite(noise.alm(0.99, 2))
    assert noise.alm(0.99, 2) == pytest.approx(expected, rel=1e-6)
    assert noise.region(0.99, 2).alm == pytest.approx(expected, rel=1e-6)
    assert noise.describe()["scale_geomean"] == pytest.approx(expected / base, rel=1e-6)


@pytest.mark.parametrize("norm", [1.0, 1.5, 2.0, math.inf])
def test_slice_2d_boundary_lies_on_the_region_boundary(norm: float) -> None:
    scale = np.array([0.5, 2.0, 1.25, 3.0])
    region = CertifiedRegion(scale, 0.7, norm)
    for i, j in ((0, 1), (3, 2)):
        x, y = region.slice_2d(i, j, num=721)
        on_boundary = lp_norm(np.stack([x / scale[i], y / scale[j]], axis=1), norm)
        np.testing.assert_allclose(on_boundary, 0.7, rtol=1e-12)
        assert x.max() == pytest.approx(scale[i] * 0.7) and y.max() == pytest.approx(scale[j] * 0.7)
        full = np.zeros((x.size, 4))
        full[:, i], full[:, j] = x * (1 - 1e-9), y * (1 - 1e-9)
        assert region.contains(full).all()
        full[:, i], full[:, j] = x * 1.001, y * 1.001
        assert not region.contains(full).any()
    with pytest.raises(UcanError, match="coordinate"):
        region.slice_2d(0, 4)


def test_region_rejects_wrong_number_of_coordinates() -> None:
    region = CertifiedRegion(np.ones(3), 1.0, 2.0)
    with pytest.raises(UcanError, match="coordinates"):
        region.contains(np.zeros(4))


@pytest.mark.parametrize("name, norm, base_kind", [("gaussian", 2, "exact"),
                                                   ("gaussian", "inf", "exact"),
                                                   ("uniform", 1, "exact"),
                                                   ("expinf", "inf", "exact"),
                                                   ("expinf", 1, "sound"),
                                                   ("laplace", 2, "sound")])
def test_kind_is_sound_unless_scale_is_constant(name: str, norm: str | int,
                                                base_kind: str) -> None:
    dim = 6
    base = make_noise(name, SIGMA, dim)
    varying = AnisotropicNoise(base, random_scale(dim, 4))
    constant = AnisotropicNoise(base, np.full(dim, 1.7))
    assert varying.radius(0.9, norm).kind == ("sound" if base_kind == "exact" else base_kind)
    assert constant.radius(0.9, norm).kind == base_kind
    assert constant.radius(0.9, norm).value == pytest.approx(
        1.7 * base.radius(0.9, norm).value, rel=1e-6)
    assert set(varying.radii(0.9)) == {"1", "2", "inf"}


def test_shift_does_not_enter_the_radius() -> None:
    dim = 5
    base = make_noise("gaussian", SIGMA, dim)
    scale = random_scale(dim, 5)
    plain = AnisotropicNoise(base, scale)
    shifted = AnisotropicNoise(base, scale, shift=np.linspace(-0.2, 0.3, dim))
    assert shifted.radius(0.9, 2).value == plain.radius(0.9, 2).value
    assert shifted.alm(0.9, 2) == plain.alm(0.9, 2)


@pytest.mark.parametrize("name", ["gaussian", "laplace", "expinf"])
def test_sample_mean_is_shift_and_std_is_scale_times_sigma(name: str) -> None:
    dim, draws = 4, 100_000
    scale = np.array([0.5, 1.0, 2.0, 3.5])
    shift = np.array([0.1, -0.2, 0.0, 0.3])
    noise = AnisotropicNoise(make_noise(name, SIGMA, dim), scale, shift)
    z = noise.sample(draws, torch.Generator().manual_seed(0)).double().numpy()
    assert z.shape == (draws, dim)
    tolerance = 5 * scale * SIGMA / math.sqrt(draws)
    assert np.all(np.abs(z.mean(axis=0) - shift) < tolerance)
    np.testing.assert_allclose(z.std(axis=0), scale * SIGMA, rtol=0.02)
    np.testing.assert_allclose(noise.std_map().numpy(), scale * SIGMA, rtol=1e-6)


def test_log_prob_is_product_of_shifted_scaled_normals() -> None:
    dim = 4
    scale = np.array([0.5, 1.0, 2.0, 3.5])
    shift = np.array([0.125, -0.25, 0.0, 0.375])  # exact in float32, as the engine stores it
    noise = AnisotropicNoise(make_noise("gaussian", SIGMA, dim), scale, shift)
    z = noise.sample(100, torch.Generator().manual_seed(1)).double()
    expected = stats.norm(loc=shift, scale=scale * SIGMA).logpdf(z.numpy()).sum(axis=1)
    np.testing.assert_allclose(noise.log_prob(z).numpy(), expected, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Pattern-fixed NPG


@pytest.mark.parametrize("norm", ["1", "2", "inf"])
@pytest.mark.parametrize("channels, height, width", [(1, 28, 28), (3, 32, 32), (3, 9, 15)])
def test_pattern_map_shape_geomean_and_symmetry(norm: str, channels: int, height: int,
                                               width: int) -> None:
    s = pattern_scale_map(channels, height, width, norm=norm, kappa=2.0, iota=0.5)
    assert s.shape == (channels, height, width)
    assert s.dtype == torch.float32
    values = s.double().numpy()
    assert np.all(values > 0)
    assert geometric_mean_by_products(values.ravel()) == pytest.approx(1.0, rel=1e-5)
    torch.testing.assert_close(s, s.flip(1))
    torch.testing.assert_close(s, s.flip(2))
    if height == width:
        torch.testing.assert_close(s, s.transpose(1, 2))
    assert torch.equal(s[0], s[-1])
    centre = s[0, height // 2, width // 2]
    assert centre < s[0, 0, 0] and centre == s[0].min() and s[0, 0, 0] == s[0].max()


@pytest.mark.parametrize("norm, edge", [("1", 0.25), ("2", 0.5), ("inf", 1.0)])
@pytest.mark.parametrize("kappa, iota", [(1.0, 1.0), (0.2, 0.8), (3.0, 0.1)])
def test_pattern_map_values_before_normalisation(norm: str, edge: float, kappa: float,
                                                 iota: float) -> None:
    """Unnormalised: ι at the centre, κ + ι at a corner (‖corner‖_p scaled to 1) and, at the
    middle of an edge, κ·(1/‖(1, 1)‖_p)² + ι: ¼ for ℓ1, ½ for ℓ2, 1 for ℓ∞."""
    s = pattern_scale_map(2, 5, 7, norm=norm, kappa=kappa, iota=iota, normalise=False).double()
    assert float(s[0, 2, 3]) == pytest.approx(iota, rel=1e-6)
    for corner in (s[0, 0, 0], s[0, 0, -1], s[1, -1, 0], s[1, -1, -1]):
        assert float(corner) == pytest.approx(kappa + iota, rel=1e-6)
    assert float(s[0, 0, 0] / s[0, 2, 3]) == pytest.approx((kappa + iota) / iota, rel=1e-6)
    assert float(s[0, 2, 0]) == pytest.approx(kappa * edge + iota, rel=1e-6)
    normalised = pattern_scale_map(2, 5, 7, norm=norm, kappa=kappa, iota=iota).double()
    torch.testing.assert_close(normalised / normalised[0, 2, 3], s / s[0, 2, 3], rtol=1e-6,
                               atol=0.0)


def test_pattern_map_with_zero_kappa_is_isotropic() -> None:
    s = pattern_scale_map(1, 6, 6, kappa=0.0, iota=2.0)
    torch.testing.assert_close(s, torch.ones(1, 6, 6))


@pytest.mark.parametrize("kwargs, argument", [
    ({"norm": "3"}, "norm"), ({"norm": "abc"}, "norm"), ({"norm": 0}, "norm"),
    ({"kappa": -0.1}, "kappa"), ({"kappa": math.nan}, "kappa"), ({"kappa": math.inf}, "kappa"),
    ({"iota": 0.0}, "iota"), ({"iota": -1.0}, "iota"), ({"iota": math.nan}, "iota"),
])
def test_pattern_map_rejects_bad_arguments(kwargs: dict[str, object], argument: str) -> None:
    with pytest.raises(UcanError, match=argument):
        pattern_scale_map(1, 8, 8, **kwargs)


def test_pattern_map_rejects_bad_shape() -> None:
    for bad in ((0, 8, 8), (1, 0, 8), (1, 8, -2)):
        with pytest.raises(UcanError):
            pattern_scale_map(*bad)


def test_build_noise_pattern_npg() -> None:
    noise = build_noise("gaussian", SIGMA, (1, 6, 6), npg="pattern", pattern_norm="inf",
                        kappa=1.0, iota=1.0)
    assert isinstance(noise, AnisotropicNoise)
    assert noise.npg == "pattern-linf" and not noise.input_dependent
    expected_scale = pattern_scale_map(1, 6, 6, norm="inf").reshape(-1)
    torch.testing.assert_close(noise.scale, expected_scale)
    assert noise.radius(0.9, 2).kind == "sound"
    r = SIGMA * stats.norm.ppf(0.9)
    assert noise.radius(0.9, 2).value == pytest.approx(float(expected_scale.min()) * r, rel=1e-6)
    assert noise.alm(0.9, 2) == pytest.approx(r, rel=1e-5)  # geometric mean 1
    isotropic = build_noise("gaussian", SIGMA, (1, 6, 6))
    assert not isinstance(isotropic, AnisotropicNoise) and isotropic.dim == 36
    with pytest.raises(UcanError, match="noise generator"):
        build_noise("gaussian", SIGMA, (1, 6, 6), npg="learned")
