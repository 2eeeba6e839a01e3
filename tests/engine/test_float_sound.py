"""The float lattice breaks a default certificate; the float-sound mode (noises/discrete.py)
keeps its promise against the same kind of attack, and its sampler is the exact law.

The attack (issue #15, Voráček & Hein 2023): float32 uniform noise lies exactly on
fl32(j·2⁻²³·λ). A deterministic base classifier that votes 0 when every coordinate is on that
lattice is certified at an all-black image with an "exact, sound" ℓ1 radius, yet one pixel
raised by one grey level leaves the lattice and flips PREDICT.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from ucan_core.certify.smoothed import SmoothedClassifier, noisy_samples
from ucan_core.cli import main
from ucan_core.errors import UcanError
from ucan_core.labels import FLOAT_NOTE, GRID_NOTE
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.catalog import make_noise
from ucan_core.noises.discrete import BITS, DiscreteGaussian

ROOT = Path(__file__).resolve().parents[2]
SHAPE = (1, 4, 4)
DIM = 16
N0, N, ALPHA = 100, 10_000, 0.001
STEP = 1.0 / 255


class Reader(nn.Module):
    """A deterministic base classifier: class 0 where ``rule`` holds for an input, else 1."""

    def __init__(self, rule: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.rule = rule

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        zero = self.rule(y.reshape(y.shape[0], -1))
        return torch.stack([zero, ~zero], dim=1).to(torch.float32)


def on_uniform_lattice(lam: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """Every coordinate equals fl32(fl32(j·2⁻²³)·λ) for some integer j: the values float32
    uniform noise takes ((u·2 − 1)·λ with u a multiple of 2⁻²⁴)."""

    def rule(y: torch.Tensor) -> torch.Tensor:
        j = torch.round(y.double() / lam * 2.0 ** 23)
        hit = torch.zeros_like(y, dtype=torch.bool)
        for near in (j - 1, j, j + 1):
            hit |= (near * 2.0 ** -23).to(torch.float32) * lam == y
        return hit.all(dim=1)

    return rule


def on_grid(y: torch.Tensor) -> torch.Tensor:
    """Every coordinate is exactly a float32 grey level fl32(j/255)."""
    return ((torch.round(y * 255) / 255) == y).all(dim=1)


def even_steps(y: torch.Tensor) -> torch.Tensor:
    """The sum of the grid steps round(255·y) is even (a parity trick on the draws)."""
    return torch.round(y.double() * 255).sum(dim=1).remainder(2) == 0


def smoothed(rule: Callable[[torch.Tensor], torch.Tensor], noise: object) -> SmoothedClassifier:
    return SmoothedClassifier(Reader(rule), noise, 2, device="cpu")


def black() -> torch.Tensor:
    return torch.zeros(SHAPE)


def test_lattice_attack_breaks_the_default_uniform_certificate() -> None:
    noise = make_noise("uniform", 0.5, DIM)
    model = smoothed(on_uniform_lattice(noise.lambd), noise)
    cert = model.certify(black(), N0, N, ALPHA, seed=0)
    assert cert.prediction == 0 and cert.counts == [N, 0]
    assert cert.radii["1"].kind == "exact" and cert.soundness == "sound"
    assert cert.radii["1"].value == pytest.approx(0.8648, abs=1e-4)
    assert cert.assumption == FLOAT_NOTE
    attacked = black()
    attacked[0, 0, 0] = STEP  # ℓ1 distance 1/255 = 0.0039, far inside the radius
    assert attacked.abs().sum() < cert.radii["1"].value
    assert model.predict(attacked, N, ALPHA, seed=1) == 1  # the "certified" class flips


def test_a_float_sum_would_leave_the_grid_the_sound_mode_does_not() -> None:
    """Why the sound mode adds in integers: fl32(x) + fl32(m/255) is often not fl32((k + m)/255),
    so a grid reader would see x + δ leave the grid (at x = 0 the float sum is exact)."""
    noise = DiscreteGaussian(0.5, DIM)
    shifted = black()
    shifted[0, 0, :] = 128 * STEP  # four pixels at mid-grey: ℓ2 distance 1.004
    float_sum = shifted.reshape(1, -1) + noise.sample(2_000, torch.Generator().manual_seed(0))
    assert float((~on_grid(float_sum)).float().mean()) > 0.9
    model = smoothed(on_grid, noise)
    cert = model.certify(black(), N0, N, ALPHA, seed=0)
    assert cert.prediction == 0 and cert.radius > float(shifted.norm())
    assert model.predict(shifted, N, ALPHA, seed=1) == 0


ADVERSARIES = {"float-grid reader": on_grid, "parity of the steps": even_steps,
               "uniform-lattice reader": on_uniform_lattice(math.sqrt(3) * 0.5)}


@pytest.mark.parametrize("name", ADVERSARIES)
def test_sound_mode_certificates_agree_with_predict_one_grid_step_away(name: str) -> None:
    """The theorem: if x is certified with radius R > ‖δ‖₂, PREDICT at x + δ (δ on the grid)
    returns the certified class or abstains; the grid reader is certified (not vacuous)."""
    noise = DiscreteGaussian(0.5, DIM)
    model = smoothed(ADVERSARIES[name], noise)
    x = torch.full(SHAPE, 3 * STEP)
    cert = model.certify(x, N0, N, ALPHA, seed=0)
    assert cert.assumption == GRID_NOTE and cert.kind == "sound"
    assert {r.kind for r in cert.radii.values()} == {"sound"}
    if name == "float-grid reader":
        assert cert.prediction == 0 and cert.radius > 1.5
    for pixel in (0, 5, 15):
        attacked = x.clone().reshape(-1)
        attacked[pixel] += STEP
        if not cert.abstained and cert.radius > STEP:
            assert model.predict(attacked.view(SHAPE), N, ALPHA, seed=pixel) in (
                cert.prediction, SmoothedClassifier.ABSTAIN)


def test_sound_mode_inputs_are_exact_integer_sums_on_the_grid() -> None:
    noise = DiscreteGaussian(0.25, DIM)
    x = (torch.arange(DIM, dtype=torch.float32) * 17 / 255).view(SHAPE)
    seen = noisy_samples(noise, x, 4_000, seed=3).reshape(4_000, DIM)
    assert seen.dtype == torch.float32
    steps = torch.round(seen.double() * 255).to(torch.int64)
    assert torch.equal(seen, steps.to(torch.float32) / 255)  # exactly fl32(j/255)
    low, high = 255 - noise.half_width, noise.half_width
    assert int(steps.min()) >= low and int(steps.max()) <= high
    again = noisy_samples(noise, x, 4_000, seed=3).reshape(4_000, DIM)
    m = noise.sample_steps(4_000, torch.Generator().manual_seed(3))
    k = torch.round(x.reshape(-1).double() * 255).to(torch.int64)
    assert torch.equal(steps, (k + m).clamp(low, high)) and torch.equal(seen, again)


def test_off_grid_inputs_and_anisotropic_maps_are_refused() -> None:
    noise = DiscreteGaussian(0.25, DIM)
    model = smoothed(on_grid, noise)
    with pytest.raises(UcanError, match="1/255 grid"):
        model.certify(torch.full(SHAPE, 0.5), N0, 200, ALPHA)
    with pytest.raises(UcanError, match="scale map"):
        AnisotropicNoise(noise, torch.linspace(0.5, 2.0, DIM))
    with pytest.raises(UcanError, match="sigma <= 4"):
        DiscreteGaussian(5.0, DIM)


def exact_pmf(noise: DiscreteGaussian) -> np.ndarray:
    """Q(m) = (T_m − T_{m−1})/2⁶², m = −M … M, from the engine's integer thresholds."""
    edges = [0, *noise.thresholds, 1 << BITS]
    return np.array([b - a for a, b in zip(edges[:-1], edges[1:])], dtype=np.float64) / 2.0 ** BITS


def test_thresholds_are_integers_symmetric_and_the_rounded_gaussian() -> None:
    sigma = 1.5 / 255
    noise = DiscreteGaussian(sigma, DIM)
    thresholds = noise.thresholds
    assert all(type(t) is int for t in thresholds) and len(thresholds) == 2 * noise.half_width
    assert all(0 <= a <= b <= 1 << BITS for a, b in zip(thresholds[:-1], thresholds[1:]))
    assert all(a + b == 1 << BITS for a, b in zip(thresholds, reversed(thresholds)))
    j = np.arange(-noise.half_width, noise.half_width)
    ideal = stats.norm.cdf((j + 0.5) / (255 * sigma))  # independent oracle: scipy, float64
    assert np.abs(np.array(thresholds, dtype=np.float64) / 2.0 ** BITS - ideal).max() < 1e-15
    q = exact_pmf(noise)
    assert np.array_equal(q, q[::-1]) and q.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("sigma", [1e-4, 0.25, 4.0])
def test_guided_inverse_cdf_is_the_plain_count(sigma: float) -> None:
    """m = −M + #{j : T_j ≤ u}, counted through the guide, equals a plain binary search, at
    random u and at every threshold and its neighbours (the cells' edges)."""
    noise = DiscreteGaussian(sigma, DIM)
    table = torch.tensor(noise.thresholds)
    edges = torch.cat([table - 1, table, table + 1, torch.tensor([0, 2 ** BITS - 1])])
    random = torch.randint(0, 2 ** BITS, (50_000,), generator=torch.Generator().manual_seed(5))
    for u in (edges.clamp(0, 2 ** BITS - 1), random):
        plain = torch.searchsorted(table, u, right=True) - noise.half_width
        assert torch.equal(noise.steps_of(u), plain)


def test_sampler_frequencies_match_the_exact_pmf() -> None:
    noise = DiscreteGaussian(1.5 / 255, 10)
    m = noise.sample_steps(30_000, torch.Generator().manual_seed(7)).numpy().ravel()
    q = exact_pmf(noise)
    support = np.arange(-noise.half_width, noise.half_width + 1)
    counts = np.bincount(m + noise.half_width, minlength=q.size).astype(np.float64)
    expected = q * m.size
    big = expected >= 5  # merge the far tails into one cell
    observed = np.append(counts[big], counts[~big].sum())
    wanted = np.append(expected[big], expected[~big].sum())
    assert big.sum() >= 9 and stats.chisquare(observed, wanted).pvalue > 1e-3
    assert set(np.unique(m)) <= set(support)
    plus, minus = int((m > 0).sum()), int((m < 0).sum())
    assert stats.binomtest(plus, plus + minus).pvalue > 1e-3  # symmetric draws


def test_radius_is_the_gaussian_one_less_the_sampling_error() -> None:
    """σ(Φ⁻¹(p − τ) − Φ⁻¹(½ + τ)) with τ = d·12750·2⁻⁶²: within 1e-8 of the continuous
    Gaussian radius, never above it, finite at p_A = 1."""
    for dim in (DIM, 784, 3072):
        noise = DiscreteGaussian(0.5, dim)
        tau = dim * 12_750 * 2.0 ** -62
        assert noise.total_variation == tau
        p = np.array([0.6, 0.9, 0.999])
        values, kind = noise.radius_curve(p, 2)
        expected = 0.5 * (stats.norm.ppf(p - tau) - stats.norm.ppf(0.5 + tau))
        np.testing.assert_allclose(values, expected, rtol=1e-12)
        gaussian, _ = make_noise("gaussian", 0.5, dim).radius_curve(p, 2)
        assert kind == "sound" and np.all(values < gaussian) and np.all(gaussian - values < 1e-8)
        assert np.isfinite(noise.radius(1.0).value)
        assert noise.radius(0.9, "inf").value == pytest.approx(values[1] / math.sqrt(dim))


def test_cli_certifies_in_the_sound_mode(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    command = ["certify", "--model", "mnist-gaussian-0.25", "--image",
               "assets/images/mnist/0000_7.png", "--noise", "discrete-gaussian", "--n0", "50"]
    assert main([*command, "--n", "500", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["noise"]["name"] == "discrete_gaussian" and record["assumption"] == GRID_NOTE
    assert record["prediction"] == 7 and record["kind"] == "sound"
    assert main([*command, "--npg", "pattern", "--n", "100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ucan: error: ") and "scale map" in err
