"""Clopper–Pearson bounds and the soundness of Monte-Carlo certification.

The bounds are compared with ``scipy.stats.binomtest(...).proportion_ci(method="exact")`` and
their coverage is simulated. ``SmoothedClassifier`` is checked on a linear base classifier
whose smoothed p_A and true robust radius are known in closed form: under N(0, σ²I),
f(x) = 1[w·x > b] has p_A = Φ(|w·x − b|/(σ‖w‖)) and the smoothed classifier's exact ℓ2
robust radius is |w·x − b|/‖w‖ (its decision boundary is the hyperplane itself).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.certify.stats import (
    clopper_pearson_interval,
    clopper_pearson_lower,
    clopper_pearson_lower_array,
    clopper_pearson_upper,
    top_two_test_pvalue,
)
from ucan_core.errors import UcanError
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.catalog import make_noise

SHAPE = (1, 4, 4)
DIM = 16
SIGMA = 0.25
ALPHA = 0.05


def exact_ci(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided exact (Clopper–Pearson) interval from scipy's binomial test."""
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return ci.low, ci.high


def allowed_failures(alpha: float, trials: int) -> float:
    """α plus three binomial standard errors."""
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)


CP_CASES = [(k, n, alpha) for n in (1, 7, 100, 1000)
            for k in sorted({0, 1, n // 3, n // 2, n - 1, n}) for alpha in (0.001, 0.05, 0.3)]


@pytest.mark.parametrize("k, n, alpha", CP_CASES)
def test_clopper_pearson_matches_scipy_binomtest(k: int, n: int, alpha: float) -> None:
    """A two-sided exact interval at level 1 − 2α is the pair of one-sided bounds at α."""
    low, high = exact_ci(k, n, 1 - 2 * alpha)
    assert clopper_pearson_lower(k, n, alpha) == pytest.approx(low, rel=1e-7, abs=1e-14)
    assert clopper_pearson_upper(k, n, alpha) == pytest.approx(high, rel=1e-7, abs=1e-14)
    assert clopper_pearson_interval(k, n, alpha) == pytest.approx(exact_ci(k, n, 1 - alpha),
                                                                  rel=1e-7, abs=1e-14)


def test_clopper_pearson_edges() -> None:
    assert clopper_pearson_lower(0, 50, 0.01) == 0.0
    assert clopper_pearson_upper(50, 50, 0.01) == 1.0
    assert clopper_pearson_lower(50, 50, 0.01) == pytest.approx(0.01 ** (1 / 50), rel=1e-12)
    assert clopper_pearson_upper(0, 50, 0.01) == pytest.approx(1 - 0.01 ** (1 / 50), rel=1e-12)


def test_vectorised_lower_bound_matches_scalar() -> None:
    n = 300
    counts = np.arange(n + 1)
    vector = clopper_pearson_lower_array(counts, n, 0.01)
    np.testing.assert_allclose(vector, [clopper_pearson_lower(int(k), n, 0.01) for k in counts],
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("k, n, alpha", [(-1, 10, 0.05), (11, 10, 0.05), (3, 0, 0.05),
                                         (3, 10, 0.0), (3, 10, 1.0), (3, 10, math.nan)])
def test_clopper_pearson_rejects_bad_arguments(k: int, n: int, alpha: float) -> None:
    with pytest.raises(ValueError):
        clopper_pearson_lower(k, n, alpha)
    with pytest.raises(ValueError):
        clopper_pearson_upper(k, n, alpha)


@pytest.mark.parametrize("n", [10, 100, 1000])
@pytest.mark.parametrize("p", [0.05, 0.5, 0.8, 0.97, 0.999])
def test_one_sided_bounds_cover_at_level_alpha(n: int, p: float) -> None:
    """P(lower > p) ≤ α and P(upper < p) ≤ α, up to binomial simulation slack."""
    trials = 20_000
    rng = np.random.default_rng(int(1000 * p) + n)
    counts = rng.binomial(n, p, trials)
    lower = clopper_pearson_lower_array(counts, n, ALPHA)
    upper = np.array([clopper_pearson_upper(int(k), n, ALPHA) for k in range(n + 1)])[counts]
    assert (lower > p).mean() <= allowed_failures(ALPHA, trials)
    assert (upper < p).mean() <= allowed_failures(ALPHA, trials)


def two_sided_sign_test(top: int, second: int) -> float:
    """Exact two-sided p-value of H0: P(top) = ½ given top + second trials."""
    total = top + second
    extreme = max(top, second)
    return min(1.0, 2 * float(stats.binom(total, 0.5).sf(extreme - 1)))


@pytest.mark.parametrize("top, second", [(0, 0), (5, 5), (9, 1), (60, 40), (530, 470), (40, 0)])
def test_top_two_pvalue_is_exact_sign_test(top: int, second: int) -> None:
    expected = 1.0 if top + second == 0 else two_sided_sign_test(top, second)
    assert top_two_test_pvalue(top, second) == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# SmoothedClassifier on a linear base classifier


class LinearClassifier(nn.Module):
    """f(x) = 1[w·x > b] as two logits (0, w·x − b)."""

    def __init__(self, w: torch.Tensor, b: float) -> None:
        super().__init__()
        self.register_buffer("w", w)
        self.b = b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        margin = x.flatten(1) @ self.w - self.b
        return torch.stack([torch.zeros_like(margin), margin], dim=1)


@dataclass
class LinearProblem:
    """A linear base classifier, inputs, and their exact margins in float64."""

    w: torch.Tensor
    b: float
    inputs: torch.Tensor

    @property
    def margins(self) -> np.ndarray:
        return (self.inputs.flatten(1).double() @ self.w.double() - self.b).numpy()

    @property
    def labels(self) -> np.ndarray:
        return (self.margins > 0).astype(int)

    def smoothed(self, noise: object) -> SmoothedClassifier:
        return SmoothedClassifier(LinearClassifier(self.w, self.b), noise, 2)


def linear_problem(count: int, seed: int) -> LinearProblem:
    """Random w, b through the cube's centre, and ``count`` uniform inputs in [0, 1]^16."""
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(DIM, generator=generator)
    return LinearProblem(w, float(w.double().sum() * 0.5),
                         torch.rand(count, *SHAPE, generator=generator))


GaussianRun = tuple[LinearProblem, list[Certificate]]


@pytest.fixture(scope="module")
def gaussian_run() -> GaussianRun:
    """2,000 certifications (n0 = 50, n = 500, α = 0.05) under isotropic Gaussian noise."""
    problem = linear_problem(2000, seed=0)
    smoothed = problem.smoothed(make_noise("gaussian", SIGMA, DIM))
    return problem, smoothed.certify_batch(problem.inputs, 50, 500, ALPHA, batch_size=100_000,
                                           seed=123)


def failure_mask(certificates: list[Certificate], labels: np.ndarray,
                 certified: np.ndarray, true_radius: np.ndarray) -> np.ndarray:
    """Certificates that are wrong: a wrong class, or a radius beyond the true one."""
    prediction = np.array([c.prediction for c in certificates])
    return (prediction != -1) & ((prediction != labels) | (certified > true_radius))


@pytest.mark.slow
def test_certified_l2_radius_is_sound(gaussian_run: GaussianRun) -> None:
    problem, certificates = gaussian_run
    true_radius = np.abs(problem.margins) / float(problem.w.double().norm())
    certified = np.array([c.radius for c in certificates])
    failures = failure_mask(certificates, problem.labels, certified, true_radius)
    assert failures.mean() <= allowed_failures(ALPHA, len(certificates))
    # The test has power: the bound is used near its level (a point estimate fails ~50 %).
    assert failures.mean() >= ALPHA / 5
    abstained = np.array([c.abstained for c in certificates])
    assert 0.02 < abstained.mean() < 0.3
    for key in ("1", "2"):  # ℓ1 radius equals the ℓ2 one for Gaussian noise
        radii = np.array([c.radii[key].value if not c.abstained else 0.0 for c in certificates])
        assert failure_mask(certificates, problem.labels, radii, true_radius).mean() \
            <= allowed_failures(ALPHA, len(certificates))


@pytest.mark.slow
def test_abstain_rule_is_cohen_certify(gaussian_run: GaussianRun) -> None:
    """abstain ⇔ CP lower bound (scipy binomtest) of the selected class's estimation count ≤ ½,
    the selected class being the argmax of the selection counts; radius σΦ⁻¹(p̲_A)."""
    _, certificates = gaussian_run
    for cert in certificates:
        assert sum(cert.selection_counts) == cert.n0 == 50
        assert sum(cert.counts) == cert.n == 500
        selected = int(np.argmax(cert.selection_counts))
        lower, _ = exact_ci(cert.counts[selected], cert.n, 1 - 2 * ALPHA)
        assert cert.p_a_lower == pytest.approx(lower, rel=1e-7, abs=1e-12)
        if lower <= 0.5:
            assert cert.abstained and cert.prediction == -1
            assert cert.radius == 0.0 and cert.alm == 0.0
        else:
            assert cert.prediction == selected
            expected = SIGMA * stats.norm.ppf(lower)
            assert cert.radius == pytest.approx(expected, rel=1e-9)
            assert cert.alm == pytest.approx(expected, rel=1e-9)
            assert cert.radii["inf"].value == pytest.approx(expected / math.sqrt(DIM), rel=1e-9)
        assert cert.kind == "exact" and cert.norm == "2" and cert.soundness == "sound"


@pytest.mark.slow
def test_anisotropic_certified_region_is_sound() -> None:
    """With noise s ⊙ ε the worst point of {δ : ‖δ/s‖₂ ≤ R} against the hyperplane is at
    ‖δ/s‖₂ = |w·x − b|/(σ‖s ⊙ w‖)·σ, so R must not exceed |w·x − b|/‖s ⊙ w‖, and the ℓ2
    radius min s·R must not exceed |w·x − b|/‖w‖ (both at most α of the time)."""
    problem = linear_problem(1500, seed=1)
    scale = torch.linspace(0.5, 2.0, DIM)
    noise = AnisotropicNoise(make_noise("gaussian", SIGMA, DIM), scale)
    certificates = problem.smoothed(noise).certify_batch(problem.inputs, 50, 500, ALPHA,
                                                         batch_size=100_000, seed=7)
    region_radius = np.array([0.0 if c.abstained else SIGMA * stats.norm.ppf(c.p_a_lower)
                              for c in certificates])
    true_region = np.abs(problem.margins) / float((scale.double() * problem.w.double()).norm())
    assert failure_mask(certificates, problem.labels, region_radius, true_region).mean() \
        <= allowed_failures(ALPHA, len(certificates))
    certified = np.array([c.radius for c in certificates])
    np.testing.assert_allclose(certified, 0.5 * region_radius, rtol=1e-6)
    true_l2 = np.abs(problem.margins) / float(problem.w.double().norm())
    assert failure_mask(certificates, problem.labels, certified, true_l2).mean() \
        <= allowed_failures(ALPHA, len(certificates))
    assert all(c.kind == "sound" for c in certificates)


def test_certify_is_reproducible_with_a_seed() -> None:
    problem = linear_problem(5, seed=2)
    smoothed = problem.smoothed(make_noise("laplace", SIGMA, DIM))
    first = smoothed.certify_batch(problem.inputs, 20, 200, ALPHA, seed=5)
    again = smoothed.certify_batch(problem.inputs, 20, 200, ALPHA, seed=5)
    other = smoothed.certify_batch(problem.inputs, 20, 200, ALPHA, seed=6)
    assert [c.counts for c in first] == [c.counts for c in again]
    assert [c.selection_counts for c in first] == [c.selection_counts for c in again]
    assert [c.radius for c in first] == [c.radius for c in again]
    assert [c.counts for c in first] != [c.counts for c in other]


def test_single_and_batched_certificates() -> None:
    """``certify(x)`` is ``certify_batch(x[None])``; inside a larger batch the same input
    draws other noise (the stream is shared), so each result is only checked to be valid
    and to agree statistically."""
    problem = linear_problem(1, seed=3)
    x = problem.inputs[0]
    smoothed = problem.smoothed(make_noise("gaussian", SIGMA, DIM))
    single = smoothed.certify(x, 50, 2000, ALPHA, seed=9)
    assert single.to_dict() | {"seconds": 0} == \
        smoothed.certify_batch(x[None], 50, 2000, ALPHA, seed=9)[0].to_dict() | {"seconds": 0}
    batched = smoothed.certify_batch(x.expand(6, *SHAPE), 50, 2000, ALPHA, seed=9)
    p_true = stats.norm.cdf(abs(problem.margins[0]) / (SIGMA * float(problem.w.double().norm())))
    for cert in [single, *batched]:
        top = int(np.argmax(cert.selection_counts))
        assert cert.prediction in (-1, top)
        assert cert.p_a_lower == pytest.approx(exact_ci(cert.counts[top], 2000, 0.9)[0], rel=1e-7)
        share = cert.counts[int(problem.labels[0])] / 2000
        assert abs(share - p_true) < 5 * math.sqrt(p_true * (1 - p_true) / 2000) + 1e-9


def test_predict_abstains_on_a_tie_and_answers_a_clear_input() -> None:
    """On the hyperplane p_A = ½: PREDICT must abstain (wrong answers ≤ α); far from it the
    answer is the side of the hyperplane."""
    w = torch.ones(DIM)
    smoothed = SmoothedClassifier(LinearClassifier(w, 8.0), make_noise("gaussian", SIGMA, DIM), 2)
    tie = torch.full((1, *SHAPE), 0.5)
    assert smoothed.predict(tie, 2000, 0.001, seed=0) == -1
    assert smoothed.certify(tie, 100, 2000, 0.001, seed=0).abstained
    high, low = torch.full(SHAPE, 0.9), torch.full(SHAPE, 0.1)
    assert smoothed.predict(high, 2000, 0.001, seed=0) == 1
    assert smoothed.predict(low, 2000, 0.001, seed=0) == 0
    assert smoothed.predict_batch(torch.stack([low, high, tie[0]]), 2000, 0.001, seed=1) \
        == [0, 1, -1]


@pytest.mark.parametrize("inputs, batch_size", [(1, 1000), (3, 2), (4, 64)])
def test_progress_is_increasing_and_ends_at_total(inputs: int, batch_size: int) -> None:
    problem = linear_problem(inputs, seed=4)
    smoothed = problem.smoothed(make_noise("uniform", SIGMA, DIM))
    calls: list[tuple[int, int]] = []
    smoothed.certify_batch(problem.inputs, 10, 50, ALPHA, batch_size=batch_size, seed=0,
                           progress=lambda done, total: calls.append((done, total)))
    total = inputs * 60
    assert calls and all(t == total for _, t in calls)
    done = [d for d, _ in calls]
    assert all(b > a for a, b in itertools.pairwise(done))
    assert done[-1] == total
    calls.clear()
    smoothed.predict_batch(problem.inputs, 40, ALPHA, batch_size=batch_size, seed=0,
                           progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (inputs * 40, inputs * 40)
    assert all(b[0] > a[0] for a, b in itertools.pairwise(calls))


def test_input_dependent_noise_is_marked() -> None:
    problem = linear_problem(1, seed=5)
    noise = AnisotropicNoise(make_noise("gaussian", SIGMA, DIM), torch.linspace(0.5, 1.5, DIM),
                             input_dependent=True)
    cert = problem.smoothed(noise).certify(problem.inputs[0], 10, 100, ALPHA, seed=0)
    assert cert.soundness == "input-dependent" and "Not a certificate" in cert.note


def test_certify_rejects_several_inputs() -> None:
    problem = linear_problem(2, seed=6)
    smoothed = problem.smoothed(make_noise("gaussian", SIGMA, DIM))
    with pytest.raises(UcanError, match="input has 32 values per example, the noise has dim 16"):
        smoothed.certify(problem.inputs, 10, 100, ALPHA)


def test_progress_callback_can_cancel_a_run() -> None:
    from ucan_core.errors import Cancelled

    problem = linear_problem(1, seed=7)
    smoothed = problem.smoothed(make_noise("gaussian", SIGMA, DIM))
    seen: list[int] = []

    def stop_after_three(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        smoothed.certify(problem.inputs[0], 100, 10_000, ALPHA, batch_size=100,
                         progress=stop_after_three)
    assert seen == [100, 200, 300]
