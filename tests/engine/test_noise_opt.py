"""Noise optimisation (UniCR §4.2): robustness score, C-OPT grid search, I-OPT hill climbing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ucan_core import UcanError, make_noise
from ucan_core.analysis import certified_accuracy
from ucan_core.cli import main
from ucan_core.io.logs import read_log
from ucan_core.optimize.copt import check_grid, config_radii, copt, robustness_score
from ucan_core.optimize.iopt import iopt
from ucan_core.training.classifier import TrainConfig

SHAPE = (1, 4, 4)
SEVEN = str(Path(__file__).resolve().parents[2] / "assets/images/mnist/0000_7.png")


class Constant(nn.Module):
    """A base classifier that always answers ``label``: p_A = 1 under every noise."""

    def __init__(self, label: int, classes: int = 10) -> None:
        super().__init__()
        self.logits = nn.Parameter(nn.functional.one_hot(torch.tensor(label), classes).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), -1)


def _cohen_log(path: Path, rows: list[tuple[int, float]]) -> Path:
    """A Cohen-format log with rows (correct, radius); wrong rows predict another class."""
    lines = ["idx\tlabel\tpredict\tradius\tcorrect\ttime"]
    lines += [f"{i}\t1\t{1 if correct else 2}\t{radius}\t{correct}\t0.1"
              for i, (correct, radius) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_robustness_score_is_the_summed_area_under_the_certified_accuracy_curves(
        tmp_path: Path) -> None:
    # sigma 1: CA(r) = 2/4 on [0, 0.5], 1/4 on (0.5, 1], 0 after: area 0.5·½ + 0.5·¼ = 0.375
    first = _cohen_log(tmp_path / "a.tsv", [(1, 0.5), (1, 1.0), (0, 2.0), (0, 0.0)])
    # sigma 2: CA(r) = 1/2 on [0, 0.4]: area 0.2
    second = _cohen_log(tmp_path / "b.tsv", [(1, 0.4), (0, 3.0)])
    logs = [read_log(first), read_log(second)]
    assert robustness_score(logs) == pytest.approx(0.375 + 0.2, abs=1e-12)
    grid = np.linspace(0, 4, 8001)  # the same area by quadrature of Cohen's curve
    numeric = sum(np.trapezoid(certified_accuracy(log.correct, log.radius, grid), grid)
                  for log in logs)
    assert numeric == pytest.approx(0.575, abs=2e-3)
    with pytest.raises(UcanError, match="at least one certify log"):
        robustness_score([])


@pytest.mark.parametrize(("shapes", "sigmas", "message"), [
    ([], [0.5], "shape grid is empty"),
    ([1.0], [], "sigma grid is empty"),
    ([0.0], [0.5], "shape must be a finite number > 0"),
    ([-1.0], [0.5], "shape must be a finite number > 0"),
    ([1.0, 1.0], [0.5], "repeated"),
    ([1.0], [-0.5], "sigma must be a finite number > 0"),
])
def test_bad_grids_are_clear_errors(shapes: list[float], sigmas: list[float], message: str) -> None:
    with pytest.raises(UcanError, match=message):
        check_grid(shapes, sigmas)


def test_radii_use_the_exact_closed_form_else_the_universal_engine() -> None:
    p = np.array([0.4, 0.9, 0.99, 0.9])
    laplace_like = make_noise("gennorm", 0.5, 16, shape=1.0)
    radius, kind = config_radii(laplace_like, p, 1)
    assert kind == "exact"
    np.testing.assert_allclose(radius, laplace_like.radius_curve(p, 1)[0])
    flat = make_noise("gennorm", 0.5, 16, shape=4.0)
    radius, kind = config_radii(flat, p, 2)
    assert kind == "approximate" and radius[0] == 0.0 and radius[1] == radius[3]
    sound = flat.radius_curve(p, 2)[0]  # the sound ℓ1→ℓ2 conversion: a lower bound
    assert np.all(radius[1:] >= sound[1:] * 0.99) and radius[2] > radius[1] > 0


def _synthetic(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """28×28 images: class 1 bright, class 0 dark."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (count,), generator=generator)
    images = (0.2 + 0.6 * labels.float()).view(-1, 1, 1, 1).expand(-1, 1, 28, 28)
    return (images + 0.05 * torch.rand(count, 1, 28, 28, generator=generator)).clamp(0, 1), labels


def test_copt_trains_certifies_and_scores_every_grid_point(tmp_path: Path) -> None:
    result = copt(_synthetic(64, 0), _synthetic(20, 1), [0, 5, 10], [1.0, 2.0], [0.25], 1,
                  tmp_path, config=TrainConfig(epochs=1, batch_size=32), n0=10, n=50,
                  log=lambda line: None)
    assert [(p.shape, p.sigma, p.kind) for p in result.points] == [(1.0, 0.25, "exact"),
                                                                   (2.0, 0.25, "exact")]
    for point in result.points:
        log = read_log(tmp_path / point.log)
        assert list(log.idx) == [0, 5, 10] and set(log.extra["soundness"]) == {"sound"}
        assert result.scores[f"{point.shape:g}"] == pytest.approx(robustness_score([log]))
        assert point.area == pytest.approx(np.mean(log.radius * (log.correct == 1)))
    assert result.scores[f"{result.best_shape:g}"] == max(result.scores.values())
    with pytest.raises(UcanError, match="exists"):
        copt(_synthetic(8, 0), _synthetic(20, 1), [0], [1.0], [0.25], 1, tmp_path)


def test_iopt_climbs_to_the_known_best_noise_with_bonferroni_bounds() -> None:
    # Constant classifier: every bound is (α/K)^{1/n}; the ℓ1 radius λ-quantile grows with
    # the scale and, at this p_A, shrinks with the shape: the optimum is (s_min, m_max).
    alpha, k, n = 0.001, 12, 2000
    noise = make_noise("gaussian", 0.5, 16)
    result = iopt(Constant(3), torch.full(SHAPE, 0.5), 10, noise, 1, max_evals=k, n0=10, n=n,
                  alpha=alpha, scale_range=(0.5, 1.2))
    assert (result.selected.shape, result.selected.scale) == (1.0, 1.2)
    assert result.target == 3 and len(result.evaluations) == 10 <= k
    assert result.alpha_each == alpha / k
    assert all(e.p_a_lower == pytest.approx((alpha / k) ** (1 / n)) for e in result.evaluations)
    assert result.selected.radius == pytest.approx(
        make_noise("gennorm", 0.6, 16, shape=1.0).radius((alpha / k) ** (1 / n), 1).value)
    assert result.soundness == "input-dependent" and "not a certificate" in result.note.lower()
    assert "Bonferroni" in result.statement
    assert result.reference["soundness"] == "sound"
    assert result.reference["p_a_lower"] == pytest.approx(alpha ** (1 / n))
    short = iopt(Constant(3), torch.full(SHAPE, 0.5), 10, noise, 1, max_evals=3, n0=10, n=n)
    assert len(short.evaluations) == 3 and short.alpha_each == pytest.approx(alpha / 3)


@pytest.mark.parametrize(("options", "message"), [
    ({"max_evals": 0}, "max evaluations K must be an integer >= 1"),
    ({"shape_range": (3.0, 4.0)}, "shape range"),
    ({"scale_range": (1.5, 2.0)}, "scale multiplier range"),
    ({"shape_step": 0.0}, "shape step"),
])
def test_bad_iopt_settings_are_clear_errors(options: dict, message: str) -> None:
    with pytest.raises(UcanError, match=message):
        iopt(Constant(0), torch.zeros(SHAPE), 10, make_noise("gaussian", 0.5, 16), 2, **options)
    with pytest.raises(UcanError, match="Gaussian or gennorm"):
        iopt(Constant(0), torch.zeros(SHAPE), 10, make_noise("uniform", 0.5, 16), 2)


@pytest.mark.parametrize(("argv", "message"), [
    (["copt", "--shapes", "0,2", "--sigmas", "0.5", "--out", "x"], "shape must be"),
    (["copt", "--shapes", "a", "--sigmas", "0.5", "--out", "x"], "--shapes needs"),
    (["iopt", "--model", "mnist-gaussian-0.50", "--image", SEVEN, "--max-evals", "0",
      "--device", "cpu"], "max evaluations K"),
])
def test_cli_errors_are_one_line(argv: list[str], message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ucan: error: ") and message in err and err.count("\n") == 1
