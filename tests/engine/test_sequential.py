"""Anytime-valid CERTIFY: the confidence sequence holds under adversarial stopping (and
peeking at Clopper–Pearson does not), and the sequential certificate is a certificate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from ucan_core import SmoothedClassifier, UcanError, make_noise
from ucan_core.certify.sequential import BOUND_NAME, cs_lower, cs_upper, peeking_rates, required_p
from ucan_core.certify.stats import clopper_pearson_lower
from ucan_core.cli import main
from ucan_core.io.logs import SEQUENTIAL_COLUMNS, read_log

LOOK_EVERY, N_MAX, STREAMS = 10, 2000, 10_000


def false_certificate_rate(bound, p: float, alpha: float, seed: int = 0) -> float:
    """P(∃ look n: bound(k_n, n) > p) over STREAMS Bernoulli(p) streams looked at every
    LOOK_EVERY draws up to N_MAX: the rate of false certificates when each run stops the
    first time its bound would certify (the adversarial stopping rule)."""
    return float(peeking_rates(bound, p, alpha, LOOK_EVERY, N_MAX, STREAMS, seed)[1][-1])


@pytest.mark.parametrize("p", [0.7, 0.99])
def test_the_confidence_sequence_survives_adversarial_stopping(p):
    alpha = 0.05
    rate = false_certificate_rate(cs_lower, p, alpha)
    slack = 3 * math.sqrt(alpha * (1 - alpha) / STREAMS)
    assert rate <= alpha + slack, rate


def test_peeking_at_clopper_pearson_is_unsound():
    """The same stopping rule with the fixed-n bound: far more than α false certificates."""
    alpha = 0.05
    rate = false_certificate_rate(clopper_pearson_lower, 0.7, alpha)
    assert rate > 3 * alpha, rate


def test_bounds_bracket_the_estimate_and_cost_little_radius():
    for k, n in ((900, 1000), (9900, 10_000), (10_000, 10_000), (0, 50)):
        low, high = cs_lower(k, n, 0.001), cs_upper(k, n, 0.001)
        assert 0 <= low <= k / n <= high <= 1
    cp, cs = clopper_pearson_lower(9900, 10_000, 0.001), cs_lower(9900, 10_000, 0.001)
    assert cs < cp and 1 - stats.norm.ppf(cs) / stats.norm.ppf(cp) < 0.03
    with pytest.raises(UcanError, match="count k=11"):
        cs_lower(11, 10, 0.01)


class HalfPlane(nn.Module):
    """f(x) = 1[x₀ > t]: under N(0, σ²I) at x, p_A = Φ((x₀ − t)/σ) exactly."""

    def __init__(self, t: float) -> None:
        super().__init__()
        self.t = t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = x.flatten(1)[:, :1] - self.t
        return torch.cat([-score, score], dim=1)


SIGMA, T = 0.25, 0.1


def smoothed() -> SmoothedClassifier:
    return SmoothedClassifier(HalfPlane(T), make_noise("gaussian", SIGMA, 2), 2)


def true_radius(x0: float) -> float:
    return abs(x0 - T)  # the distance to the decision boundary; σΦ⁻¹(p_A) equals it


def test_sequential_certificates_never_claim_beyond_the_true_radius():
    """Stopping at a target radius below the true one, on 40 inputs with exact p_A: every
    certificate is within the true radius (α = 0.01 each), most stop well before n_max."""
    xs = torch.tensor([[0.1 + 0.2 + 0.01 * i, 0.5] for i in range(40)])
    certs = smoothed().certify_sequential_batch(xs, 50, 20_000, 0.01, target_radius=0.15,
                                                batch_size=4000, seed=1)
    for x, cert in zip(xs, certs):
        assert cert.prediction == 1 and cert.bound == BOUND_NAME
        assert 0.15 <= cert.radius <= true_radius(float(x[0]))
        assert cert.kind == "exact" and cert.soundness == "sound"
    assert np.median([c.samples_used for c in certs]) < 2_000


def test_an_unreachable_target_stops_early_for_futility():
    cert = smoothed().certify_sequential(torch.tensor([0.2, 0.5]), 50, 20_000, 0.01,
                                         target_radius=0.5, seed=0)
    assert cert.samples_used < 2_000 and cert.radius < 0.5


def test_stop_returns_a_valid_certificate_at_that_moment():
    looks = iter(range(100))
    cert = smoothed().certify_sequential(torch.tensor([0.6, 0.5]), 50, 100_000, 0.001,
                                         seed=0, should_stop=lambda: next(looks) >= 3)
    assert 0 < cert.samples_used < 100_000 and cert.n == cert.samples_used
    assert cert.p_a_lower == cs_lower(cert.counts[1], cert.samples_used, 0.001)
    assert 0 < cert.radius == pytest.approx(SIGMA * stats.norm.ppf(cert.p_a_lower))


def test_the_target_is_translated_through_the_radius_rule():
    noise = make_noise("gaussian", SIGMA, 2)
    p = required_p(noise, 0.3, noise.native_norm)
    assert SIGMA * stats.norm.ppf(p) == pytest.approx(0.3, rel=1e-9)
    assert required_p(noise, 1e6, 2.0) == 1.0


def test_fixed_n_certificates_say_their_bound():
    cert = smoothed().certify(torch.tensor([0.6, 0.5]), 50, 500, 0.001, seed=0)
    assert cert.samples_used == 500 and cert.bound.startswith("clopper-pearson")


def test_the_planner_gives_the_best_case_radius_and_the_samples_a_target_needs():
    from ucan_core.certify.planner import plan

    noise = make_noise("gaussian", SIGMA, 784)
    result = plan(noise, 0.001, n=100, target=0.5)
    assert result.max_radius_fixed == pytest.approx(SIGMA * stats.norm.ppf(0.001 ** 0.01))
    assert result.max_radius_fixed < 0.5 and result.max_radius_sequential < 0.5
    m = result.needed_n_fixed
    assert clopper_pearson_lower(m, m, 0.001) >= result.needed_p
    assert clopper_pearson_lower(m - 1, m - 1, 0.001) < result.needed_p
    s = result.needed_n_sequential
    assert s >= m and cs_lower(s, s, 0.001) >= result.needed_p > cs_lower(s - 1, s - 1, 0.001)
    assert plan(noise, 0.001, target=1e9).needed_n_fixed is None


MNIST = Path("/work/shared/data/mnist")


def test_cli_sequential_dataset_run_logs_samples_used_and_resumes(tmp_path, capsys):
    out = tmp_path / "seq.tsv"
    args = ["certify", "--model", "mnist-gaussian-0.25", "--dataset", "mnist", "--data-root",
            str(MNIST), "--max", "6", "--n0", "20", "--n", "2000", "--sequential",
            "--target-radius", "0.3", "--out", str(out), "--seed", "3"]
    assert main(args) == 0
    log = read_log(out)
    assert log.columns == SEQUENTIAL_COLUMNS and len(log) == 6
    used = log.extra["samples_used"]
    assert (used <= 2000).all() and np.median(used) < 2000
    certified = (log.correct == 1) & (log.radius >= 0.3)
    assert certified.sum() >= 4
    settings = json.loads(Path(f"{out}.run.json").read_text())
    assert settings["sequential"] and settings["target_radius"] == 0.3
    before = out.read_text()
    assert main(args) == 0 and out.read_text() == before          # resumed: nothing to redo
    capsys.readouterr()
    assert main([*args[:-4], "--target-radius", "0.4", *args[-4:]]) == 2
    assert "other settings" in capsys.readouterr().err


def test_cli_sequential_image_json_has_samples_used(capsys):
    assert main(["certify", "--model", "mnist-gaussian-0.25", "--image",
                 "assets/images/mnist/0000_7.png", "--n", "3000", "--sequential",
                 "--target-radius", "0.5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bound"] == BOUND_NAME and data["samples_used"] < 3000
    assert data["radius"] >= 0.5 and data["kind"] == "exact"


@pytest.mark.parametrize(("extra", "message"), [
    (["--target-radius", "0.5"], "--target-radius and --n-max need --sequential"),
    (["--sequential", "--target-radius", "nan"], "target radius must be a finite number"),
    (["--sequential", "--n-max", "0"], "--n-max must be an integer >= 1"),
])
def test_cli_sequential_bad_options_are_one_line_errors(capsys, extra, message):
    code = main(["certify", "--model", "mnist-gaussian-0.25", "--image",
                 "assets/images/mnist/0000_7.png", "--n", "100", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
