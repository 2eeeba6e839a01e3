"""Sound anisotropic routing: soundness of the composition, the ALM of the certified set, the
α split, the σ_s rule, bad inputs, the bundled selector and the CLI.

Soundness is checked in 2-D, where both stages are exact. Every base model is a half-plane
1[a·z > β]; smoothing it with μ + s ⊙ N(0, σ²I) gives the half-plane a·(x + μ) > β with
p_A = Φ(|a·(x + μ) − β| / (σ‖a ⊙ s‖)), so the base radius R = σΦ⁻¹(p_A) makes the region
‖δ/s‖₂ ≤ R touch the boundary exactly. The selector (x + y > 1) smoothed with any σ_s is the
same half-plane, so the deployed router G(x′) = g_{sel(x′)}(x′) is piecewise linear and its
exact ℓ2 robust radius is the distance to a union of intersections of two half-planes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from test_dual_rs import MNIST, SEVEN, HalfPlane, distance_to_intersection, needs_mnist

from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.certify.stats import clopper_pearson_lower
from ucan_core.cli import main
from ucan_core.errors import UcanError
from ucan_core.io.logs import ROUTE_COLUMNS, read_log
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.catalog import make_noise
from ucan_core.two_stage.engine import SelectAndCertify
from ucan_core.two_stage.menu import MenuEntry, build_menu, kmeans, parse_menu_spec
from ucan_core.two_stage.routing import RouteCertificate, RoutedSmoothedClassifier, load_router
from ucan_core.two_stage.selectors import EstimatorCard, estimators_dir, load_estimator

SELECTOR = "mnist-route-alm"
SELECT = (np.array([1.0, 1.0]), 1.0)
SIGMA = 0.25
SIGMA_S = 0.5
ALPHA = 0.01
# (name, scale s, shift μ, expert line (a, β)): below the diagonal the router uses a map
# stretched along x with a vertical expert, above it a map stretched along y, shifted by μ.
MENU = [("wide", (2.0, 0.5), (0.0, 0.0), (np.array([1.0, 0.0]), 0.5)),
        ("tall", (0.5, 2.0), (0.0, 0.1), (np.array([0.0, 1.0]), 0.5))]


def entry(name: str, scale: tuple[float, ...], shift: tuple[float, ...],
          sigma: float = SIGMA) -> MenuEntry:
    return MenuEntry(name, "synthetic", sigma, torch.tensor(scale), torch.tensor(shift), "test")


def synthetic_router(sigma_s: float = SIGMA_S, entries: list[MenuEntry] | None = None,
                     ) -> RoutedSmoothedClassifier:
    menu = entries if entries is not None else [entry(n, s, m) for n, s, m, _ in MENU]
    experts = [HalfPlane(*MENU[k % 2][3]) for k in range(len(menu))]
    return RoutedSmoothedClassifier(HalfPlane(*SELECT), menu, experts, sigma_s, 2)


def side(line: tuple[np.ndarray, float], z: np.ndarray) -> np.ndarray:
    return (z @ line[0] > line[1]).astype(int)


def shifted_line(k: int) -> tuple[np.ndarray, float]:
    """Entry k's smoothed classifier as a half-plane in x: a·x > β − a·μ."""
    _, _, shift, (a, beta) = MENU[k]
    return a, beta - float(a @ np.array(shift))


def deployed(z: np.ndarray) -> np.ndarray:
    """G at the points z (…×2): the class of the entry that the exact selector picks."""
    z = np.atleast_2d(z)
    pick = side(SELECT, z)
    return np.where(pick == 1, side(shifted_line(1), z), side(shifted_line(0), z))


def true_radius(x: np.ndarray) -> float:
    """G's exact ℓ2 robust radius at x: distance to ∪_k {sel = k, entry k's class ≠ G(x)}."""
    label = int(deployed(x)[0])
    a_s, b_s = SELECT
    radius = math.inf
    for k in range(2):
        a, beta = shifted_line(k)
        selected = (a_s, b_s) if k == 1 else (-a_s, -b_s)
        flipped = (-a, -beta) if label == 1 else (a, beta)
        radius = min(radius, distance_to_intersection(x, [selected, flipped]))
    return radius


@pytest.fixture(scope="module")
def synthetic_run() -> tuple[np.ndarray, list[RouteCertificate]]:
    """400 uniform points of [0, 1]², n0 = 100, n = 2,000, α = 0.01."""
    points = torch.rand(400, 2, generator=torch.Generator().manual_seed(0))
    certs = synthetic_router().certify_batch(points, 100, 2000, ALPHA, batch_size=200_000, seed=1)
    return points.double().numpy(), certs


def allowed_failures(count: int) -> float:
    return stats.binom.ppf(1 - 1e-6, count, ALPHA)


def test_the_routed_radius_is_sound_against_the_exact_radius(synthetic_run) -> None:
    points, certs = synthetic_run
    failures = sum(c.prediction != deployed(x)[0] or c.radius > true_radius(x)
                   for x, c in zip(points, certs) if not c.abstained)
    assert failures <= allowed_failures(len(points))
    assert sum(not c.abstained for c in certs) > 0.75 * len(points)


def test_no_counterexample_inside_the_certified_set(synthetic_run) -> None:
    """B₂(R_sel) ∩ {‖δ/s‖₂ ≤ R}: dense points inside it (and on the boundary of the
    ellipsoid behind the ALM) never change G, beyond the α failures."""
    points, certs = synthetic_run
    angles = np.linspace(0, 2 * np.pi, 181)
    circle = np.stack([np.cos(angles), np.sin(angles)], 1)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 41), np.linspace(-1, 1, 41)), -1).reshape(-1, 2)
    failures = 0
    for x, cert in zip(points, certs):
        if cert.abstained:
            continue
        scale = np.array(MENU[cert.menu.index(cert.selected)][1])
        base = SIGMA * stats.norm.ppf(cert.p_a_lower_c)
        axes = np.minimum(scale * base, cert.r_sel)
        assert cert.alm == pytest.approx(math.sqrt(axes.prod()), rel=1e-6)
        assert cert.alm <= cert.alm_upper + 1e-12 and cert.alm_upper == min(cert.r_sel, cert.alm_c)
        assert cert.radius == pytest.approx(min(cert.r_sel, scale.min() * base))
        ellipse = circle * axes  # inside the ball (axes ≤ R_sel) and the region (≤ s·R)
        assert (np.linalg.norm(ellipse, axis=1) <= cert.r_sel * (1 + 1e-9)).all()
        assert (np.linalg.norm(ellipse / scale, axis=1) <= base * (1 + 1e-9)).all()
        box = grid * np.maximum(scale * base, cert.r_sel)
        inside = box[(np.linalg.norm(box, axis=1) <= cert.r_sel)
                     & (np.linalg.norm(box / scale, axis=1) <= base)]
        probes = x + np.concatenate([inside, ellipse, circle * cert.radius])
        failures += bool((deployed(probes) != cert.prediction).any())
    assert failures <= allowed_failures(len(points))


def test_either_stage_alone_would_overstate_and_the_composition_does_not(synthetic_run) -> None:
    points, certs = synthetic_run
    live = [(x, c) for x, c in zip(points, certs) if not c.abstained]
    by_class_stage = [(x, c) for x, c in live if c.r_c > true_radius(x) + 0.01]
    by_selector = [(x, c) for x, c in live if c.r_sel > true_radius(x) + 0.01]
    assert len(by_class_stage) > 10 and len(by_selector) > 10
    wrong = sum(c.radius > true_radius(x) for x, c in by_class_stage + by_selector)
    assert wrong <= allowed_failures(len(live))
    angles = np.linspace(0, 2 * np.pi, 361)
    circle = np.stack([np.cos(angles), np.sin(angles)], 1)
    broken_regions = 0  # the configuration's whole region ‖δ/s‖₂ ≤ R (what its ALM sizes)
    for x, c in live:
        axes = np.array(MENU[c.menu.index(c.selected)][1]) * SIGMA * stats.norm.ppf(c.p_a_lower_c)
        broken_regions += bool((deployed(x + circle * axes * 0.999) != c.prediction).any())
    assert broken_regions > 0.2 * len(live)


def test_stage_radii_track_the_exact_ones(synthetic_run) -> None:
    gaps = []
    for x, cert in filter(lambda pair: not pair[1].abstained, zip(*synthetic_run)):
        k = int(side(SELECT, x[None])[0])
        a, beta = shifted_line(k)
        assert cert.selected == MENU[k][0]
        exact_sel = abs(SELECT[0] @ x - SELECT[1]) / np.linalg.norm(SELECT[0])
        exact_base = abs(a @ x - beta) / np.linalg.norm(a * np.array(MENU[k][1]))
        gaps += [exact_sel - cert.r_sel, exact_base - SIGMA * stats.norm.ppf(cert.p_a_lower_c)]
    gaps = np.array(gaps)
    assert (gaps > -1e-9).mean() > 0.99 and np.median(gaps) < 0.05


def test_alpha_is_split_evenly_between_the_stages() -> None:
    xs = torch.tensor([[0.95, 0.8], [0.1, 0.2], [0.05, 0.1]])
    for cert in synthetic_router().certify_batch(xs, 50, 500, 0.004, seed=3):
        sel, cls = cert.selection, cert.classification
        assert cert.alpha == 0.004 and sel.alpha == cls.alpha == 0.002
        top_sel, top_cls = int(np.argmax(sel.selection_counts)), int(np.argmax(cls.selection_counts))
        assert cert.p_a_lower_sel == clopper_pearson_lower(sel.counts[top_sel], 500, 0.002)
        assert cert.p_a_lower_c == clopper_pearson_lower(cls.counts[top_cls], 500, 0.002)
        assert cert.r_sel == pytest.approx(SIGMA_S * stats.norm.ppf(cert.p_a_lower_sel))
        assert cert.soundness == "sound" and cert.kind == "sound" and "α/2" in cert.note


def test_either_stage_abstaining_abstains() -> None:
    cert = synthetic_router().certify(torch.tensor([0.5, 0.5]), 50, 500, 0.01, seed=0)
    assert cert.abstained and cert.classification is None and cert.selected == "abstain"
    assert cert.radius == cert.alm == cert.alm_upper == 0.0
    cert = synthetic_router().certify(torch.tensor([0.5, 0.1]), 50, 500, 0.01, seed=0)
    assert cert.selected == "wide" and cert.r_sel > 0 and cert.abstained and cert.alm == 0.0


def test_the_selector_smoothing_rule_uses_the_geometric_mean_level() -> None:
    with pytest.raises(UcanError, match=r"sigma_s = 0.2 is below the menu's largest "
                                        r"geometric-mean noise level 0.25 \(wide\)"):
        synthetic_router(sigma_s=0.2)
    big = [entry("wide", (2.0, 0.5), (0.0, 0.0)), entry("huge", (0.5, 8.0), (0.0, 0.0))]
    with pytest.raises(UcanError, match=r"level 0.5 \(huge\)"):
        synthetic_router(sigma_s=0.45, entries=big)
    assert synthetic_router(sigma_s=0.5, entries=big).sigma_s == 0.5  # < largest σ·s_i = 2


def test_bad_menus_are_clear_errors() -> None:
    wide, tall = (entry(n, s, m) for n, s, m, _ in MENU[:2])
    with pytest.raises(UcanError, match="at least two configurations, got 0"):
        synthetic_router(entries=[])
    with pytest.raises(UcanError, match="at least two configurations, got 1"):
        synthetic_router(entries=[wide])
    with pytest.raises(UcanError, match="must be distinct"):
        synthetic_router(entries=[wide, wide])
    with pytest.raises(UcanError, match=r"menu maps have different shapes \[\(2,\), \(3,\)\]"):
        synthetic_router(entries=[wide, entry("big", (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))])
    with pytest.raises(UcanError, match="one classifier per menu entry"):
        RoutedSmoothedClassifier(HalfPlane(*SELECT), [wide, tall], [HalfPlane(*SELECT)], 0.5, 2)
    with pytest.raises(UcanError, match="scale map must be > 0"):
        synthetic_router(entries=[wide, entry("flat", (0.0, 1.0), (0.0, 0.0))])

    def stage(noise: object) -> SmoothedClassifier:
        return SmoothedClassifier(HalfPlane(*SELECT), noise, 2)

    gaussian = make_noise("gaussian", 0.25, 2)
    frozen = AnisotropicNoise(gaussian, torch.tensor([1.0, 2.0]), input_dependent=True)
    with pytest.raises(UcanError, match="input-dependent: freeze its maps"):
        SelectAndCertify(HalfPlane(*SELECT), [stage(gaussian), stage(frozen)], ["a", "b"], 1, "cpu")
    with pytest.raises(UcanError, match="needs Gaussian-based noise, got laplace"):
        SelectAndCertify(HalfPlane(*SELECT), [stage(gaussian), stage(make_noise("laplace", 0.25, 2))],
                         ["a", "b"], 1, "cpu")


@pytest.mark.parametrize(("specs", "message"), [
    ([], "the menu is empty"),
    (["isotropic"], "a menu entry is KIND=MODEL"),
    (["diagonal=mnist-gaussian-0.50"], "unknown menu kind 'diagonal'"),
    (["clusters:x=mnist-input-dependent-0.50"], "clusters:K needs a number"),
    (["clusters:0=mnist-input-dependent-0.50"], "clusters:K must be an integer >= 1"),
    (["universal=mnist-gaussian-0.50"], "universal needs a Gaussian model with universal noise"),
    (["pattern-l2=mnist-universal-0.50"], "needs a Gaussian model with isotropic noise"),
    (["isotropic=mnist-nope"], "unknown model 'mnist-nope'"),
    (["isotropic=mnist-gaussian-0.50", "isotropic=mnist-gaussian-1.00"], "must be distinct"),
])
def test_bad_menu_specs_are_clear_errors(specs: list[str], message: str) -> None:
    with pytest.raises(UcanError, match=message):
        build_menu(specs, torch.rand(4, 1, 28, 28))


def test_menu_specs_and_clusters() -> None:
    assert parse_menu_spec("clusters:3=m") == ("clusters", 3, "m")
    assert parse_menu_spec("pattern-linf=m") == ("pattern-linf", 1, "m")
    blobs = torch.cat([torch.randn(30, 4, generator=torch.Generator().manual_seed(0)) * 0.1 + c
                       for c in (0.0, 5.0)]).double()
    assign = kmeans(blobs, 2, seed=1)
    assert len(set(assign[:30].tolist())) == len(set(assign[30:].tolist())) == 1
    assert assign[0] != assign[30] and torch.equal(assign, kmeans(blobs, 2, seed=1))
    with pytest.raises(UcanError, match="3 clusters need at least 3 images"):
        kmeans(blobs[:2], 3)
    images = torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    menu = build_menu(["isotropic=mnist-gaussian-0.50", "universal=mnist-universal-0.50",
                       "clusters:2=mnist-input-dependent-0.50"], images)
    assert [e.name for e in menu] == ["isotropic", "universal", "cluster-1", "cluster-2"]
    assert all(e.scale.shape == e.shift.shape == (1, 28, 28) and e.sigma == 0.5 for e in menu)
    assert "cluster of" in menu[2].source and menu[2].scale.min() >= 0.25


# ---------------------------------------------------------------- the bundled selector


def test_the_bundled_selector_loads_safely_with_a_complete_card() -> None:
    router, card = load_router(SELECTOR)
    assert len(card.menu) == len(router.names) >= 5 and card.levels == []
    assert card.command.startswith("ucan train-selector ") and f"--id {SELECTOR}" in card.command
    assert card.noise["sigma"] == card.sigma_e == router.sigma_s
    assert {"universal", "isotropic", "cluster-1"} <= set(router.names)
    universal = router.entries[router.names.index("universal")]
    assert universal.model == "mnist-universal-0.50" and universal.scale.max() > 2
    assert (estimators_dir() / f"{SELECTOR}.safetensors").stat().st_size < 2_000_000
    with pytest.raises(UcanError, match="is a routing selector"):
        load_estimator(SELECTOR)
    with pytest.raises(UcanError, match="is a Dual RS σ-estimator"):
        load_router("mnist-sigma-estimator")
    with pytest.raises(UcanError, match="unknown routing selector 'nope'"):
        load_router("nope")


def test_the_bundled_router_certifies_a_digit() -> None:
    from ucan_core.io.images import read_image, to_tensor

    router, _ = load_router(SELECTOR)
    cert = router.certify(to_tensor(read_image(SEVEN), (1, 28, 28)), 50, 300, 0.001, seed=0)
    assert cert.prediction == 7 and cert.selected in router.names
    assert 0 < cert.radius == min(cert.r_sel, cert.r_c) and 0 < cert.alm <= cert.alm_upper


# ---------------------------------------------------------------- CLI


def test_cli_certifies_one_image(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["certify", "--route", SELECTOR, "--image", str(SEVEN), "--n0", "50", "--n", "300",
            "--alpha", "0.002", "--device", "cpu"]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["prediction"] == 7 and data["soundness"] == "sound"
    assert data["selection"]["alpha"] == data["classification"]["alpha"] == 0.001
    assert data["radius"] == min(data["r_sel"], data["r_c"]) > 0 and data["selector"] == SELECTOR
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "prediction: 7" in out and "ALM (a size, not a radius)" in out


@needs_mnist
def test_cli_writes_a_valid_cohen_log_and_resumes(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "route.tsv"
    args = ["certify", "--route", SELECTOR, "--dataset", "mnist", "--data-root", str(MNIST),
            "--skip", "1000", "--max", "6", "--n0", "20", "--n", "100", "--inputs-per-pass", "3",
            "--seed", "1", "--device", "cpu", "--out", str(out)]
    assert main(args) == 0
    assert "| radius | sound | 6 |" in capsys.readouterr().out
    log = read_log(out)
    assert log.kind == "certify" and log.columns == ROUTE_COLUMNS
    assert log.idx.tolist() == list(range(0, 6000, 1000))
    live = log.predict != -1
    assert live.any() and (log.correct == (log.predict == log.label)).all()
    extra = log.extra
    assert np.array_equal(log.radius[live], np.minimum(extra["r_sel"], extra["r_c"])[live])
    assert (extra["alm"] <= extra["alm_upper"] + 1e-12).all()
    assert np.array_equal(extra["alm_upper"], np.minimum(extra["r_sel"], extra["alm_c"]) * live)
    assert (log.radius[~live] == 0).all() and set(extra["soundness"]) == {"sound"}
    settings = json.loads(Path(f"{out}.run.json").read_text())
    assert settings["route"] == SELECTOR and set(extra["config"][live]) <= set(settings["menu"])
    before = out.read_text()
    assert main(args) == 0
    assert "resuming" in capsys.readouterr().err and out.read_text() == before
    assert main(["analyze", str(out), "--column", "alm_upper", "--column", "nope"]) == 0
    table = capsys.readouterr().out
    assert "| alm_upper |" in table and "| alm |" in table and "nope" not in table


def test_cli_route_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    cases = {"--route takes its configurations": ["--model", "mnist-gaussian-0.50"],
             "--dual, --experts, --noise": ["--dual", "mnist-sigma-estimator"],
             "is a Dual RS σ-estimator": ["--route", "mnist-sigma-estimator"],
             "unknown routing selector 'nope'": ["--route", "nope"]}
    for message, extra in cases.items():
        route = [] if "--route" in extra else ["--route", SELECTOR]
        assert main(["certify", *route, *extra, "--image", str(SEVEN)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ucan: error: ") and err.count("\n") == 1 and message in err
    assert main(["certify", "--image", str(SEVEN)]) == 2
    assert "or --route SELECTOR" in capsys.readouterr().err


@needs_mnist
def test_cli_trains_a_selector_with_a_reproducible_card(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train-selector", "--menu", "isotropic=mnist-gaussian-0.50",
            "universal=mnist-universal-0.50", "clusters:2=mnist-input-dependent-0.50",
            "--sigma-s", "1", "--measure", "alm", "--train-images", "48", "--val-images", "16",
            "--samples", "2", "--epochs", "1", "--id", "tiny", "--data-root", str(MNIST),
            "--device", "cpu", "--out", str(tmp_path)]
    assert main(args) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert sum(metrics["best_entry_share"].values()) == pytest.approx(1.0)
    card = EstimatorCard.read(tmp_path / "tiny.json")
    assert card.command == "ucan " + " ".join(args) and card.training["measure"] == "alm"
    assert [m["name"] for m in card.menu] == ["isotropic", "universal", "cluster-1", "cluster-2"]
    low = args.index("--sigma-s") + 1
    assert main([*args[:low], "0.9", *args[low + 1:]]) == 2
    assert "sigma_s = 0.9 is below the menu's largest geometric-mean" in capsys.readouterr().err
