"""Dual randomized smoothing: soundness of the two-stage certificate, the α split, bad
inputs, the bundled σ-estimator and the CLI.

Soundness is checked in 2-D, where everything is known in closed form. Every base model is a
half-plane 1[a·x > β]; smoothing it with any N(0, σ²I) gives the same half-plane (p_A =
Φ(|a·x − β|/(σ‖a‖)) > ½ on its side), so the estimator's selection g_e, each level's smoothed
classifier and the deployed Dual RS classifier G(x′) = g_{s(x′)}(x′) are exact piecewise-
linear maps, and G's true ℓ2 robust radius is the distance from x to the set where G flips:
a union of intersections of two half-planes, computed below by 2-D geometry.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from ucan_core.analysis import Summary, envelope, summarize
from ucan_core.certify.stats import clopper_pearson_lower
from ucan_core.cli import main
from ucan_core.errors import UcanError
from ucan_core.io.checkpoints import load_weights
from ucan_core.io.logs import DUAL_COLUMNS, read_log
from ucan_core.noises.catalog import make_noise
from ucan_core.training.classifier import MixedLevels
from ucan_core.two_stage.dual import DualCertificate, DualSmoothedClassifier, load_dual
from ucan_core.two_stage.selectors import (
    EstimatorCard,
    build_estimator,
    estimators_dir,
    list_estimators,
    load_estimator,
)
from ucan_core.zoo.bundled import list_models

ROOT = Path(__file__).resolve().parents[2]
MNIST = Path("/work/shared/data/mnist")
SEVEN = ROOT / "assets/images/mnist/0000_7.png"
ESTIMATOR = "mnist-sigma-estimator"
EXPERTS = "mnist-gaussian-0.25,mnist-gaussian-0.50,mnist-gaussian-1.00"
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason=f"no MNIST at {MNIST}")

# Σ = {0.25, 0.5}; the estimator picks level 1 above the diagonal x + y = 1. Expert 0 splits
# at x = 0.5, expert 1 at y = 0.5: crossing the diagonal can flip the class long before the
# selected expert's own boundary, so R_c alone is not a certificate for G.
LEVELS = (0.25, 0.5)
SIGMA_E = 0.5
SELECT = (np.array([1.0, 1.0]), 1.0)
EXPERT_LINES = [(np.array([1.0, 0.0]), 0.5), (np.array([0.0, 1.0]), 0.5)]
ALPHA = 0.01


class HalfPlane(nn.Module):
    """Logits (0, a·x − β): predicts 1 on the open half-plane a·x > β."""

    def __init__(self, a: np.ndarray, beta: float) -> None:
        super().__init__()
        self.register_buffer("a", torch.tensor(a, dtype=torch.float32))
        self.beta = beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        margin = x.flatten(1) @ self.a - self.beta
        return torch.stack([torch.zeros_like(margin), margin], dim=1)


def synthetic_dual(sigma_e: float = SIGMA_E, levels: tuple[float, ...] = LEVELS,
                   experts: list[nn.Module] | None = None) -> DualSmoothedClassifier:
    routes = experts if experts is not None else [HalfPlane(*line) for line in EXPERT_LINES]
    return DualSmoothedClassifier(HalfPlane(*SELECT), routes, levels, sigma_e, 2, 2)


def side(line: tuple[np.ndarray, float], x: np.ndarray) -> int:
    return int(line[0] @ x > line[1])


def deployed(x: np.ndarray) -> int:
    """G(x) = the class of the expert that the (exact) smoothed estimator selects."""
    return side(EXPERT_LINES[side(SELECT, x)], x)


def distance_to_intersection(x: np.ndarray, halves: list[tuple[np.ndarray, float]]) -> float:
    """ℓ2 distance from x to {z : a·z ≥ β for both (a, β) in ``halves``} (inf if empty)."""
    def inside(z: np.ndarray) -> bool:
        return all(a @ z >= beta - 1e-12 for a, beta in halves)

    candidates = [x] if inside(x) else []
    for a, beta in halves:  # projections onto each boundary line
        candidates.append(x - (a @ x - beta) / (a @ a) * a)
    (a1, b1), (a2, b2) = halves
    matrix = np.stack([a1, a2])
    if abs(np.linalg.det(matrix)) > 1e-12:  # the corner
        candidates.append(np.linalg.solve(matrix, [b1, b2]))
    return min((float(np.linalg.norm(z - x)) for z in candidates if inside(z)), default=math.inf)


def true_radius(x: np.ndarray) -> float:
    """G's exact ℓ2 robust radius at x: the distance to {G ≠ G(x)} = ∪_j {s = j, expert j ≠ G(x)}."""
    label = deployed(x)
    a_s, b_s = SELECT
    radius = math.inf
    for j, (a, beta) in enumerate(EXPERT_LINES):
        selected = (a_s, b_s) if j == 1 else (-a_s, -b_s)
        flipped = (-a, -beta) if label == 1 else (a, beta)
        radius = min(radius, distance_to_intersection(x, [selected, flipped]))
    return radius


def exact_stage_radii(x: np.ndarray) -> tuple[float, float]:
    """The exact radii of the two smoothed stages: distances to their decision lines."""
    a_s, b_s = SELECT
    a, beta = EXPERT_LINES[side(SELECT, x)]
    return abs(a_s @ x - b_s) / np.linalg.norm(a_s), abs(a @ x - beta) / np.linalg.norm(a)


@pytest.fixture(scope="module")
def synthetic_run() -> tuple[np.ndarray, list[DualCertificate]]:
    """400 uniform points of [0, 1]², n0 = 100, n = 2,000, α = 0.01."""
    points = torch.rand(400, 2, generator=torch.Generator().manual_seed(0))
    certs = synthetic_dual().certify_batch(points, 100, 2000, ALPHA, batch_size=200_000, seed=1)
    return points.double().numpy(), certs


def test_the_dual_certificate_is_sound_against_the_exact_radius(synthetic_run) -> None:
    points, certs = synthetic_run
    failures = 0
    for x, cert in zip(points, certs):
        if not cert.abstained:
            failures += cert.prediction != deployed(x) or cert.radius > true_radius(x)
    # the certificate may fail with probability <= α per point; far fewer do in practice
    assert failures <= stats.binom.ppf(1 - 1e-6, len(points), ALPHA)
    assert sum(not c.abstained for c in certs) > 0.75 * len(points)  # abstains near boundaries


def test_r_c_alone_would_overstate_the_radius_and_the_min_does_not(synthetic_run) -> None:
    points, certs = synthetic_run
    unsafe = [(x, c) for x, c in zip(points, certs)
              if not c.abstained and c.r_c > true_radius(x) + 0.02]
    assert len(unsafe) > 20  # the estimator's radius matters on many points
    assert np.mean([c.radius == c.r_sel for _, c in unsafe]) > 0.95
    wrong = sum(c.radius > true_radius(x) for x, c in unsafe)
    assert wrong <= stats.binom.ppf(1 - 1e-6, len(unsafe), ALPHA)


def test_stage_radii_track_the_exact_ones(synthetic_run) -> None:
    points, certs = synthetic_run
    gaps = []
    for x, cert in zip(points, certs):
        if cert.abstained:
            continue
        r_sigma, r_c = exact_stage_radii(x)
        assert cert.selected == LEVELS[side(SELECT, x)]
        assert cert.radius == min(cert.r_sel, cert.r_c)
        gaps += [r_sigma - cert.r_sel, r_c - cert.r_c]
    gaps = np.array(gaps)
    assert (gaps > -1e-9).mean() > 0.99  # lower bounds (up to the α failures)
    assert np.median(gaps) < 0.05  # and close to the exact radii: not trivially small


def test_alpha_is_split_evenly_between_the_stages() -> None:
    xs = torch.tensor([[0.9, 0.8], [0.1, 0.3], [0.05, 0.1]])  # far from the diagonal
    for cert in synthetic_dual().certify_batch(xs, 50, 500, 0.004, seed=3):
        sel, cls = cert.selection, cert.classification
        assert cert.alpha == 0.004 and sel.alpha == cls.alpha == 0.002
        assert sel.n == cls.n == 500 and sel.n0 == cls.n0 == 50
        top_sel, top_cls = int(np.argmax(sel.selection_counts)), int(np.argmax(cls.selection_counts))
        assert cert.p_a_lower_sel == clopper_pearson_lower(sel.counts[top_sel], 500, 0.002)
        assert cert.p_a_lower_c == clopper_pearson_lower(cls.counts[top_cls], 500, 0.002)
        assert cert.r_sel == pytest.approx(SIGMA_E * stats.norm.ppf(cert.p_a_lower_sel))
        assert cert.r_c == pytest.approx(cert.selected * stats.norm.ppf(cert.p_a_lower_c))
        assert cert.soundness == "sound" and cert.kind == "sound" and "α/2" in cert.note


def test_either_stage_abstaining_abstains() -> None:
    on_diagonal = torch.tensor([[0.5, 0.5]])  # the estimator's p_A is ½: it abstains
    cert = synthetic_dual().certify(on_diagonal[0], 50, 500, 0.01, seed=0)
    assert cert.abstained and cert.classification is None and math.isnan(cert.selected)
    assert cert.radius == 0.0 and all(r.value == 0.0 for r in cert.radii.values())
    # level 1 (above the diagonal) routed to an expert whose boundary passes through x
    cert = synthetic_dual().certify(torch.tensor([0.9, 0.5]), 50, 500, 0.01, seed=0)
    assert cert.selected == 0.5 and cert.r_sel > 0 and cert.classification is not None
    assert cert.abstained and cert.radius == 0.0


def test_one_expert_can_serve_every_level() -> None:
    dual = synthetic_dual(experts=HalfPlane(*EXPERT_LINES[0]))
    assert dual.stages[0].base_classifier is dual.stages[1].base_classifier
    assert [s.noise.sigma for s in dual.stages] == list(LEVELS)


def test_sigma_e_below_the_largest_level_is_refused() -> None:
    with pytest.raises(UcanError, match=r"sigma_e = 0.4 is below max Σ = 0.5"):
        synthetic_dual(sigma_e=0.4)


@pytest.mark.parametrize(("levels", "message"), [
    ((), "at least two noise levels"),
    ((0.5,), "at least two noise levels"),
    ((0.0, 0.5), "must be a finite number > 0"),
    ((-0.25, 0.5), "must be a finite number > 0"),
    ((0.25, math.nan), "must be a finite number > 0"),
    ((0.5, 0.25), "strictly increasing"),
    ((0.25, 0.25), "strictly increasing"),
])
def test_bad_levels_are_clear_errors(levels: tuple[float, ...], message: str) -> None:
    with pytest.raises(UcanError, match=message):
        synthetic_dual(levels=levels)


def test_other_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(UcanError, match="one expert per level"):
        synthetic_dual(experts=[HalfPlane(*EXPERT_LINES[0])] * 3)
    with pytest.raises(UcanError, match=r"alpha must lie in \(0, 1\)"):
        synthetic_dual().certify(torch.tensor([0.2, 0.2]), 10, 100, 1.0)
    with pytest.raises(UcanError, match=r"must lie in \[0, 1\]"):
        synthetic_dual().certify(torch.tensor([2.0, 0.2]), 10, 100, 0.01)
    with pytest.raises(UcanError, match="unknown model 'mnist-nope'"):
        load_dual(ESTIMATOR, ["mnist-gaussian-0.25", "mnist-nope", "mnist-gaussian-1.00"])
    with pytest.raises(UcanError, match="unknown σ-estimator 'nope'"):
        load_dual("nope", ["mnist-gaussian-0.25"])
    with pytest.raises(UcanError, match="one expert per level"):
        load_dual(ESTIMATOR, ["mnist-gaussian-0.25", "mnist-gaussian-0.50"])
    with pytest.raises(UcanError, match="learned universal NPG"):
        load_dual(ESTIMATOR, ["mnist-universal-0.50"])


# ---------------------------------------------------------------- the bundled σ-estimator


def test_the_bundled_estimator_loads_safely_with_a_complete_card() -> None:
    model, card = load_estimator(ESTIMATOR)
    assert card.levels == [0.25, 0.5, 1.0] and card.sigma_e >= max(card.levels)
    assert card.noise["name"] == "gaussian" and card.noise["sigma"] == card.sigma_e
    assert card.command.startswith("ucan train-estimator ") and f"--id {ESTIMATOR}" in card.command
    assert card.training["seed"] == 0 and card.training["epochs"] > 0
    assert card.metrics["agreement_noisy"] > 0.5
    assert (estimators_dir() / f"{ESTIMATOR}.safetensors").stat().st_size < 2_000_000
    assert model(torch.rand(4, 1, 28, 28)).shape == (4, 3)
    assert ESTIMATOR not in list_models()  # not a digit classifier: the app's list stays clean


def test_a_corrupt_estimator_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card = EstimatorCard.read(estimators_dir() / f"{ESTIMATOR}.json")
    card.write(tmp_path / "bad.json")
    (tmp_path / "bad.safetensors").write_bytes(b"\x80\x04not a tensor file")
    monkeypatch.setattr("ucan_core.two_stage.selectors.estimators_dir", lambda: tmp_path)
    assert list(list_estimators()) == ["bad"]
    with pytest.raises(UcanError, match="cannot read checkpoint bad.safetensors safely"):
        load_estimator("bad")
    card.sigma_e = 0.5
    card.write(tmp_path / "bad.json")
    with pytest.raises(UcanError, match="below max Σ"):
        load_estimator("bad")


def test_the_bundled_dual_classifier_certifies_a_digit() -> None:
    from ucan_core.io.images import read_image, to_tensor

    dual, card = load_dual(ESTIMATOR, EXPERTS.split(","))
    cert = dual.certify(to_tensor(read_image(SEVEN), (1, 28, 28)), 50, 300, 0.001, seed=0)
    assert cert.prediction == 7 and cert.selected in card.levels
    assert 0 < cert.radius == min(cert.r_sel, cert.r_c)


# ---------------------------------------------------------------- CLI


def test_cli_certifies_one_image_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["certify", "--dual", ESTIMATOR, "--experts", EXPERTS, "--image", str(SEVEN),
                 "--n0", "50", "--n", "300", "--alpha", "0.002", "--device", "cpu", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["prediction"] == 7 and data["soundness"] == "sound"
    assert data["selection"]["alpha"] == data["classification"]["alpha"] == 0.001
    assert data["radius"] == min(data["r_sigma"], data["r_c"]) > 0
    assert data["level"] in (0.25, 0.5, 1.0) and data["experts"] == EXPERTS.split(",")


@needs_mnist
def test_cli_writes_a_valid_cohen_log_and_resumes(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dual.tsv"
    args = ["certify", "--dual", ESTIMATOR, "--experts", EXPERTS, "--dataset", "mnist",
            "--data-root", str(MNIST), "--skip", "1000", "--max", "6", "--n0", "20", "--n", "100",
            "--inputs-per-pass", "3", "--seed", "1", "--device", "cpu", "--out", str(out)]
    assert main(args) == 0
    assert "| radius | sound | 6 |" in capsys.readouterr().out
    log = read_log(out)
    assert log.kind == "certify" and log.columns == DUAL_COLUMNS
    assert log.idx.tolist() == list(range(0, 6000, 1000))
    assert (log.correct == (log.predict == log.label)).all()
    live = log.predict != -1
    assert live.any()
    assert np.array_equal(log.radius[live], np.minimum(log.extra["r_sigma"], log.extra["r_c"])[live])
    assert (log.radius[~live] == 0).all() and set(log.extra["soundness"]) == {"sound"}
    assert set(log.extra["level"][live]) <= {0.25, 0.5, 1.0}
    assert summarize(log).rows == 6
    settings = json.loads(Path(f"{out}.run.json").read_text())
    assert settings["dual"] == ESTIMATOR and settings["levels"] == [0.25, 0.5, 1.0]
    before = out.read_text()
    assert main(args) == 0  # a finished log is resumed: nothing recomputed or duplicated
    assert "resuming" in capsys.readouterr().err and out.read_text() == before


@pytest.mark.parametrize(("args", "message"), [
    (["--dual", ESTIMATOR, "--experts", EXPERTS, "--model", "mnist-gaussian-0.25"],
     "--model, --noise, --sigma, --param and --npg do not apply"),
    (["--dual", ESTIMATOR, "--experts", EXPERTS, "--sigma", "0.5"], "do not apply"),
    (["--dual", ESTIMATOR], "--experts needs comma-separated values"),
    (["--dual", "nope", "--experts", EXPERTS], "unknown σ-estimator 'nope'"),
    (["--dual", ESTIMATOR, "--experts", "mnist-gaussian-0.25,mnist-x,mnist-gaussian-1.00"],
     "unknown model 'mnist-x'"),
    ([], "give --model MODEL, or --dual ESTIMATOR"),
])
def test_cli_dual_errors_are_one_line(args: list[str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", *args, "--image", str(SEVEN)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ucan: error: ") and err.count("\n") == 1 and message in err


@needs_mnist
def test_cli_trains_an_estimator_with_a_reproducible_card(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train-estimator", "--experts", EXPERTS, "--levels", "0.25,0.5,1", "--sigma-e", "1",
            "--train-images", "64", "--val-images", "32", "--samples", "2", "--epochs", "1",
            "--id", "tiny", "--data-root", str(MNIST), "--device", "cpu", "--out", str(tmp_path)]
    assert main(args) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert sum(metrics["best_level_share"].values()) == pytest.approx(1.0)
    card = EstimatorCard.read(tmp_path / "tiny.json")
    assert card.levels == [0.25, 0.5, 1.0] and card.sigma_e == 1.0
    assert card.command == "ucan " + " ".join(args) and card.training["images"] == 64
    model = load_weights(build_estimator(card.arch, 3), tmp_path / "tiny.safetensors")
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 3)
    assert main([*args[:6], "0.5", *args[7:]]) == 2
    assert "sigma_e = 0.5 is below max Σ = 1" in capsys.readouterr().err


def test_mixed_levels_draw_one_bundled_level_per_image() -> None:
    mixed = MixedLevels(make_noise("gaussian", 0.5, 4000), (0.25, 0.5, 1.0))
    eps = mixed.sample(600, torch.Generator().manual_seed(0))
    stds = eps.std(1)
    level = (stds[:, None] - torch.tensor([0.25, 0.5, 1.0])).abs().argmin(1)
    assert torch.allclose(stds, torch.tensor([0.25, 0.5, 1.0])[level], rtol=0.05)
    counts = torch.bincount(level, minlength=3)
    assert counts.min() > 150                       # about 200 each: uniform over the levels


@needs_mnist
def test_cli_trains_one_expert_for_every_level(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--noise", "gaussian", "--sigma", "0.5", "--levels", "0.25,0.5,1",
            "--train-images", "256", "--epochs", "1", "--id", "tiny", "--data-root", str(MNIST),
            "--device", "cpu", "--out", str(tmp_path)]
    assert main(args) == 0
    metrics = json.loads(capsys.readouterr().out)
    per_level = metrics["noisy_accuracy_per_level"]
    assert list(per_level) == ["0.25", "0.5", "1"] and per_level["0.5"] == metrics["noisy_accuracy"]
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert card["training"]["levels"] == [0.25, 0.5, 1.0] and card["noise"]["sigma"] == 0.5
    assert card["training"]["images"] == 256 and card["command"] == "ucan " + " ".join(args)
    for bad, message in ((["--levels", "0.25,1"], "--sigma 0.5 (the card's level) must be one of"),
                         (["--levels", "0.5"], "needs at least two noise levels"),
                         (["--levels", "0.25,0.5", "--npg", "universal"], "does not combine")):
        assert main([*args[:5], *bad, *args[7:]]) == 2
        assert message in capsys.readouterr().err


def test_the_envelope_is_the_pointwise_best_of_the_logs() -> None:
    def line(name: str, accuracy: tuple[float, ...], rows: int = 4) -> Summary:
        return Summary(name, "radius", rows, 0.0, accuracy[0], 0.5, (0.0, 0.5, 1.0), accuracy,
                       soundness="sound")

    best = envelope([line("a", (1.0, 0.5, 0.0)), line("b", (0.75, 0.75, 0.25))])
    assert best.certified_accuracy == (1.0, 0.75, 0.25) and best.clean_accuracy == 1.0
    assert math.isnan(best.acr) and best.soundness == "sound"
    with pytest.raises(UcanError, match="same number of rows"):
        envelope([line("a", (1.0, 0.5, 0.0)), line("b", (1.0, 0.5, 0.0), rows=5)])
