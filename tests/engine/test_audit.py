"""The attack audit (``ucan_core.audit``, ``ucan audit``) finds broken certificates and
passes sound ones.

Sound: exact Gaussian smoothing of a 2-D half-plane classifier (its smoothed classifier's
decision boundary is the line itself, so a CERTIFY radius holds w.p. ≥ 1 − α). Unsound:
the same certificates with their radius inflated ×5, and an input-dependent NPG on a band
classifier whose σ(x′) grows away from the certified point — the certificate holds for the
classifier frozen at x but not for the deployed one, which recomputes σ at x′. Two-stage:
Dual RS in 2-D with linear stages, its certificates as issued (sound) and inflated ×3.
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

from ucan_core.audit.attack import AttackBudget, attack_base, project
from ucan_core.audit.certificates import (
    AuditResult,
    attack_evidence,
    audit_certificate,
    audit_two_stage,
    claimed_region,
    format_summary,
    summarize,
    two_stage_evidence,
)
from ucan_core.audit.deployed import DeployedSmoothing
from ucan_core.certify.smoothed import Progress, SmoothedClassifier
from ucan_core.cli import main
from ucan_core.errors import Cancelled
from ucan_core.io.logs import read_log
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.catalog import make_noise
from ucan_core.noises.region import CertifiedRegion
from ucan_core.npg.learned import NoiseParameterGenerator, smoothing_noise
from ucan_core.two_stage.dual import DualSmoothedClassifier

SHAPE = (1, 1, 2)
BUDGET = AttackBudget(steps=8, restarts=2, draws=64, directions=8, screen=400, n_verify=4000,
                      alpha=0.001)
MNIST = Path("/work/shared/data/mnist")
ROOT = Path(__file__).resolve().parents[2]


class Band(nn.Module):
    """Class 0 iff |x₁ − c| < w (a band); with ``width=None`` class 0 iff x₁ < c (a half-plane)."""

    def __init__(self, centre: float, width: float | None) -> None:
        super().__init__()
        self.centre, self.width = centre, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.flatten(1)[:, 0] - self.centre
        z = -t if self.width is None else self.width - t.abs()
        return torch.stack([20 * z, -20 * z], 1)


class GrowingSigma(NoiseParameterGenerator):
    """A synthetic input-dependent NPG: s(x′) = 1 + 1600‖x′ − x₀‖², μ = 0."""

    kind = "input-dependent"
    input_dependent = True

    def __init__(self, x0: torch.Tensor) -> None:
        super().__init__(SHAPE, gamma_mu=0.0, gamma_s=1e6)
        self.x0 = nn.Parameter(x0.clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dist2 = ((x - self.x0) ** 2).flatten(1).sum(1)
        scale = (1 + 1600 * dist2).view(-1, 1, 1, 1).expand_as(x)
        return scale, torch.zeros_like(x)


def point(x1: float, x2: float = 0.5) -> torch.Tensor:
    return torch.tensor([x1, x2]).view(SHAPE)


@pytest.fixture(scope="module")
def halfplane_certificates() -> tuple[DeployedSmoothing, list[tuple[torch.Tensor, int, float]]]:
    """Gaussian σ = 0.15 smoothing of the half-plane x₁ < 0.5; certified points x₁ = 0.58…0.9."""
    noise = make_noise("gaussian", 0.15, 2)
    model = Band(0.5, None)
    smoothed = SmoothedClassifier(model, noise, 2)
    certs = []
    for i, x1 in enumerate(np.linspace(0.58, 0.9, 6)):
        x = point(float(x1), 0.3 + 0.08 * i)
        cert = smoothed.certify(x, 100, 2000, 0.001, seed=i)
        assert cert.prediction == 1 and cert.radius > 0
        certs.append((x, cert.prediction, cert.radius))
    return DeployedSmoothing(model, 2, noise), certs


@pytest.mark.parametrize("norm", ["2", "1", "inf"])
def test_sound_gaussian_certificates_show_no_violation(halfplane_certificates, norm: str) -> None:
    deployed, certs = halfplane_certificates
    results = []
    for i, (x, c, r2) in enumerate(certs):
        lp = r2 if norm in ("1", "2") else r2 / math.sqrt(2)  # Gaussian: r1 = r2, rinf = r2/√d
        region = claimed_region(deployed.noise, lp, norm)
        result = audit_certificate(deployed, x, c, region, BUDGET, seed=i, idx=i)
        assert result.attacked and result.region_norm <= 1 + 1e-6
        results.append(result)
    (summary,) = summarize(results)
    assert summary.attacked == len(certs) and summary.violations == 0 and summary.changed == 0
    assert summary.rate_upper95 == pytest.approx(1 - 0.05 ** (1 / len(certs)))
    if norm == "2":  # the attack reaches the worst case, p_c = Φ((dist − R)/σ) (≈ ½ when tight)
        worst = [stats.norm.cdf((float(x.flatten()[0]) - 0.5 - r) / 0.15) for x, _, r in certs]
        found = [r.count / r.n_verify for r in results]
        assert np.allclose(found, worst, atol=0.03)


def test_inflated_radius_is_caught(halfplane_certificates) -> None:
    deployed, certs = halfplane_certificates
    results = [audit_certificate(deployed, x, c, claimed_region(deployed.noise, 5 * r, "2"),
                                 BUDGET, seed=i, idx=i) for i, (x, c, r) in enumerate(certs)]
    assert all(r.violation and r.changed and r.top_class == 0 for r in results)
    assert all(r.p_upper < 0.5 and r.region_norm <= 1 + 1e-6 for r in results)
    (summary,) = summarize(results)
    assert summary.violations == len(certs) and summary.rate == 1.0
    assert "| sound | deployed | l2 | ball | 6 | 6 | 6 | 6 | 100.0 %" in format_summary([summary])


def test_input_dependent_noise_breaks_the_claim_only_when_deployed() -> None:
    x0 = point(0.5)
    model, generator = Band(0.5, 0.3), GrowingSigma(x0)
    noise = smoothing_noise(generator, make_noise("gaussian", 0.05, 2), x0)
    assert noise.input_dependent
    cert = SmoothedClassifier(model, noise, 2).certify(x0, 100, 2000, 0.001, seed=0)
    assert cert.prediction == 0 and cert.soundness == "input-dependent"
    region = claimed_region(noise, cert.radius, "2", "region")
    frozen = DeployedSmoothing(model, 2, noise)
    deployed = DeployedSmoothing(model, 2, noise, generator)
    assert (frozen.target, deployed.target) == ("frozen", "deployed")
    safe = audit_certificate(frozen, x0, 0, region, BUDGET, soundness=cert.soundness)
    broken = audit_certificate(deployed, x0, 0, region, BUDGET, soundness=cert.soundness)
    assert safe.attacked and not safe.violation and safe.count > 0.99 * BUDGET.n_verify
    assert broken.violation and broken.changed and broken.region_norm <= 1 + 1e-6
    summaries = summarize([safe, broken])
    assert [(s.target, s.violations) for s in summaries] == [("frozen", 0), ("deployed", 1)]


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_evidence_shows_the_verified_point_inside_the_region(halfplane_certificates,
                                                             norm: str) -> None:
    deployed, certs = halfplane_certificates
    x, c, r2 = certs[2]
    region = claimed_region(deployed.noise, r2 if norm == "2" else r2 / math.sqrt(2), norm)
    calls: list[tuple[int, int]] = []
    evidence = attack_evidence(deployed, x, c, region, BUDGET, seed=3,
                               progress=lambda done, of: calls.append((done, of)))
    assert evidence.audit == audit_certificate(deployed, x, c, region, BUDGET, seed=3)
    total = 6 * BUDGET.steps + 6
    assert calls == [(done, total) for done in range(1, total + 1)]
    worst, q = evidence.worst, float(norm)
    assert worst is not None and worst.point.radius == region.radius
    x_adv, delta = worst.point.x_adv, worst.point.delta
    assert x_adv.shape == delta.shape == tuple(x.shape)
    assert x_adv.min() >= 0 and x_adv.max() <= 1                 # a valid image
    assert np.allclose(x_adv - x.numpy(), delta, atol=1e-7)
    assert worst.point.delta_norm == pytest.approx(np.linalg.norm(delta.ravel(), q), rel=1e-5)
    assert worst.point.delta_norm <= region.radius * (1 + 1e-6)  # inside the certified ball
    assert region.contains(delta.reshape(1, -1).astype(np.float64) / (1 + 1e-6)).all()
    assert worst.point.delta_norm == pytest.approx(evidence.audit.delta_norm, rel=1e-6)
    assert sum(worst.counts) == BUDGET.n_verify and worst.counts[c] == evidence.audit.count
    assert worst.p_upper == evidence.audit.p_upper and worst.top_class == c
    # beyond R: the base attack breaks the half-plane at 2R already (R + 0.2 > its distance),
    # and the smoothed classifier is audited on that ball of 2R
    (scanned,) = evidence.scan
    assert scanned.changed and scanned.point.radius == pytest.approx(2 * region.radius)
    beyond = evidence.beyond
    assert evidence.factor == 2 and beyond.radius == pytest.approx(2 * region.radius)
    assert beyond.attacked and evidence.beyond_worst is not None
    assert evidence.beyond_worst.point.delta_norm <= 2 * region.radius * (1 + 1e-6)
    assert evidence.base is not None and evidence.base.point.delta_norm <= region.radius * (1 + 1e-6)


def test_base_attack_changes_a_linear_classifier_exactly_where_it_can() -> None:
    """The half-plane x₁ < 0.5 seen from x₁ = 0.58: the base classifier changes its answer
    within any ℓp ball of radius > 0.08 (moving x₁ alone), never within one of radius < 0.08."""
    model, x = Band(0.5, None), point(0.58)
    for norm in (1.0, 2.0, math.inf):
        for radius, reachable in ((0.1, True), (0.07, False)):
            region = CertifiedRegion(np.ones(2), radius, norm)
            attack = attack_base(model, x, region, BUDGET, seed=0)
            assert attack.clean_class == 1 and attack.changed == reachable
            assert attack.attacked_class == (0 if reachable else 1)
            assert attack.point.delta_norm <= radius * (1 + 1e-6)
            if reachable:
                assert attack.point.delta.flatten()[0] <= -0.08
            else:  # the best point found pushes towards the boundary as far as the ball allows
                assert attack.point.delta.flatten()[0] == pytest.approx(-radius, rel=1e-4)


def test_beyond_the_radius_the_smoothed_classifier_can_be_changed(halfplane_certificates) -> None:
    deployed, certs = halfplane_certificates
    x, c, r = certs[0]                                         # x₁ = 0.58: 0.08 from the line
    evidence = attack_evidence(deployed, x, c, claimed_region(deployed.noise, r, "2"), BUDGET)
    assert not evidence.audit.violation                        # the certificate holds
    # a half-plane is its own smoothed boundary: R < 0.08, its distance, so f keeps its class
    assert evidence.base is not None and not evidence.base.changed
    assert r < 0.08 < 2 * r and [a.changed for a in evidence.scan] == [True]
    assert evidence.factor == 2 and evidence.base_break is evidence.scan[0]
    assert evidence.scan[0].attacked_class == 0
    assert evidence.beyond.violation and evidence.beyond.changed and evidence.beyond.top_class == 0
    abstained = attack_evidence(deployed, point(0.5), -1, claimed_region(deployed.noise, 0.0, "2"),
                                BUDGET)
    assert not abstained.audit.attacked and abstained.worst is abstained.base is None
    assert abstained.scan == () and abstained.beyond_worst is None


def test_abstentions_are_audited_not_attacked() -> None:
    noise = make_noise("gaussian", 0.15, 2)
    deployed = DeployedSmoothing(Band(0.5, None), 2, noise)
    result = audit_certificate(deployed, point(0.5), -1, claimed_region(noise, 0.0, "2"), BUDGET)
    assert not result.attacked and not result.violation
    (summary,) = summarize([result])
    assert summary.audited == 1 and summary.attacked == 0 and math.isnan(summary.rate)


def test_region_shape_uses_the_scale_map() -> None:
    noise = AnisotropicNoise(make_noise("gaussian", 0.5, 2), torch.tensor([0.5, 2.0]))
    ball, region = claimed_region(noise, 1.0, "2"), claimed_region(noise, 1.0, "2", "region")
    assert ball.scale.tolist() == [1.0, 1.0] and ball.radius == 1.0
    assert region.scale.tolist() == [0.5, 2.0] and region.radius == 2.0
    assert region.lp_radius == pytest.approx(1.0)


@pytest.mark.parametrize("norm", [1.0, 2.0, math.inf])
def test_projection_onto_lp_balls(norm: float) -> None:
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(50, 9, generator=gen, dtype=torch.float64) * torch.rand(50, 1, generator=gen,
                                                                              dtype=torch.float64) * 3
    p = project(v, 1.0, norm)
    norms = torch.linalg.vector_norm(v, ord=norm, dim=1)
    pn = torch.linalg.vector_norm(p, ord=norm, dim=1)
    assert torch.allclose(p[norms <= 1], v[norms <= 1])
    assert torch.allclose(pn[norms > 1], torch.ones_like(pn[norms > 1]))
    assert torch.allclose(project(p, 1.0, norm), p)
    if norm == 1:  # KKT: p = sign(v)·max(|v| − θ, 0) with one θ per row
        for vi, pi in zip(v[norms > 1], p[norms > 1]):
            support = pi != 0
            theta = (vi.abs() - pi.abs())[support]
            assert torch.allclose(theta, theta[0].expand_as(theta))
            assert (vi.abs()[~support] <= theta[0] + 1e-12).all()


def test_budget_is_validated() -> None:
    with pytest.raises(ValueError, match="alpha"):
        AttackBudget(alpha=1.5)
    with pytest.raises(ValueError, match="steps"):
        AttackBudget(steps=0)


class Linear(nn.Module):
    """Logits (0, a·x − β): class 1 on the half-plane a·x > β."""

    def __init__(self, a: tuple[float, float], beta: float) -> None:
        super().__init__()
        self.register_buffer("a", torch.tensor(a))
        self.beta = beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        margin = 20 * (x.flatten(1) @ self.a - self.beta)
        return torch.stack([torch.zeros_like(margin), margin], 1)


@pytest.fixture(scope="module")
def dual_certificates() -> tuple[DualSmoothedClassifier, list[tuple[torch.Tensor, object]]]:
    """Dual RS in 2-D: the estimator picks σ = 0.25 below the line x₁ + x₂ = 1.4, and both
    experts are the half-plane x₁ > 0.4 (Σ = {0.25, 0.5}, σ_e = 0.5); six certified points."""
    dual = DualSmoothedClassifier(Linear((1.0, 1.0), 1.4), Linear((1.0, 0.0), 0.4), (0.25, 0.5),
                                  0.5, 2, 2)
    xs = torch.tensor([[0.1, 0.2], [0.15, 0.5], [0.2, 0.3], [0.9, 0.9], [0.95, 0.8], [0.85, 0.95]])
    certs = dual.certify_batch(xs.view(6, *SHAPE), 100, 4000, 0.001, seed=0)
    assert all(c.radius > 0.05 for c in certs)
    return dual, list(zip(xs.view(6, *SHAPE), certs))


def test_sound_dual_certificates_show_no_violation(dual_certificates) -> None:
    dual, certs = dual_certificates
    results = [audit_two_stage(dual, x, c.selection.prediction, c.prediction,
                               claimed_region(dual.selector.noise, c.radius, "2"), BUDGET,
                               seed=i, target="dual-rs", idx=i) for i, (x, c) in enumerate(certs)]
    assert all(r.attacked and r.region_norm <= 1 + 1e-6 for r in results)
    assert [r.selected for r in results] == [0, 0, 0, 1, 1, 1]
    (summary,) = summarize(results)
    assert (summary.target, summary.violations, summary.changed) == ("dual-rs", 0, 0)
    # the search reaches the binding stage's boundary: p ≈ ½ there, not far inside
    closest = [min(r.p_upper, r.p_upper_selection) for r in results]
    assert np.median(closest) < 0.75


def test_two_stage_evidence_shows_the_verified_point(dual_certificates) -> None:
    dual, certs = dual_certificates
    x, c = certs[3]
    region = claimed_region(dual.selector.noise, c.radius, "2")
    args = (dual, x, c.selection.prediction, c.prediction, region, BUDGET)
    evidence = two_stage_evidence(*args, seed=3, target="dual-rs")
    assert evidence.audit == audit_two_stage(*args, seed=3, target="dual-rs")   # same numbers
    worst = evidence.worst
    assert worst is not None and evidence.audit.attacked
    point = worst.point
    np.testing.assert_allclose(point.x_adv, x.numpy() + point.delta, atol=1e-6)
    assert point.x_adv.min() >= 0 and point.x_adv.max() <= 1
    assert point.delta_norm == pytest.approx(evidence.audit.delta_norm, rel=1e-5)
    assert point.delta_norm <= c.radius * (1 + 1e-6)                  # inside the certified ball
    # the votes behind the verdict: the deployed classifier's and the selector's, at x′
    assert sum(worst.counts) == sum(evidence.selection_counts) == BUDGET.n_verify
    assert worst.counts[c.prediction] == evidence.audit.count
    assert len(evidence.selection_counts) == len(dual.stages)
    nothing = two_stage_evidence(dual, x, c.selection.prediction, c.prediction,
                                 claimed_region(dual.selector.noise, 0.0, "2"), BUDGET)
    assert not nothing.audit.attacked and nothing.worst is None


def test_inflated_dual_radius_is_caught(dual_certificates) -> None:
    dual, certs = dual_certificates
    results = [audit_two_stage(dual, x, c.selection.prediction, c.prediction,
                               claimed_region(dual.selector.noise, 3 * c.radius, "2"), BUDGET,
                               seed=i) for i, (x, c) in enumerate(certs)]
    assert all(r.violation and r.region_norm <= 1 + 1e-6 for r in results)
    # the deployed PREDICT returns the other class (where the selection is not itself
    # undecided at the verified point, which makes the deployed classifier abstain)
    assert sum(r.changed and r.top_class != r.certified for r in results) >= 3


@pytest.mark.parametrize("stages", [1, 2])
def test_progress_counts_every_unit_and_a_raise_stops_the_audit(
        halfplane_certificates, dual_certificates, stages: int) -> None:
    if stages == 1:
        deployed, certs = halfplane_certificates
        x, c, r = certs[0]
        region = claimed_region(deployed.noise, r, "2")
        total = BUDGET.steps + 3              # PGD steps, clean gradient, screening, verification

        def audit(progress: Progress | None) -> AuditResult:
            return audit_certificate(deployed, x, c, region, BUDGET, seed=1, progress=progress)
    else:
        dual, certs = dual_certificates
        x, cert = certs[3]
        region = claimed_region(dual.selector.noise, cert.radius, "2")
        total = 2 * (BUDGET.steps + 1) + 4    # two attacks, screening, three verifications

        def audit(progress: Progress | None) -> AuditResult:
            return audit_two_stage(dual, x, cert.selection.prediction, cert.prediction, region,
                                   BUDGET, seed=1, progress=progress)
    calls: list[tuple[int, int]] = []
    result = audit(lambda done, of: calls.append((done, of)))
    assert result.attacked
    assert calls == [(done, total) for done in range(1, total + 1)]
    assert result == audit(None)              # reporting draws no randomness

    def cancel_at_third(done: int, of: int) -> None:
        calls.append((done, of))
        if done == 3:                         # a PGD step: mid-attack
            raise Cancelled()

    calls.clear()
    with pytest.raises(Cancelled):
        audit(cancel_at_third)
    assert calls == [(1, total), (2, total), (3, total)]


# ---------------------------------------------------------------- ucan audit

CLI_BUDGET = ["--steps", "2", "--restarts", "1", "--draws", "8", "--directions", "2",
              "--screen", "20", "--n-verify", "100", "--device", "cpu"]
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason=f"no MNIST at {MNIST}")


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not MNIST.is_dir():
        pytest.skip(f"no MNIST at {MNIST}")
    out = tmp_path_factory.mktemp("audit") / "log.tsv"
    assert main(["certify", "--model", "mnist-input-dependent-0.50", "--dataset", "mnist",
                 "--data-root", str(MNIST), "--skip", "500", "--max", "3", "--n0", "20",
                 "--n", "200", "--device", "cpu", "--out", str(out)]) == 0
    return out


@needs_mnist
def test_cli_audits_a_log(small_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["audit", str(small_log), "--data-root", str(MNIST), "--json", *CLI_BUDGET]) == 0
    data = json.loads(capsys.readouterr().out)
    (summary,) = data["summary"]
    assert summary["soundness"] == "input-dependent" and summary["target"] == "deployed"
    assert summary["audited"] == 3 and [r["idx"] for r in data["results"]] == [0, 500, 1000]
    assert main(["audit", str(small_log), "--data-root", str(MNIST), "--frozen", "--region",
                 "region", "--max", "1", *CLI_BUDGET]) == 0
    assert "| input-dependent | frozen | l2 | region | 1 |" in capsys.readouterr().out


@needs_mnist
def test_cli_refuses_a_log_that_does_not_match(small_log: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    lines = small_log.read_text().splitlines(keepends=True)
    fields = lines[1].split("\t")
    fields[8] = repr(2 * float(fields[8]))  # radius_l2 doubled
    bad = tmp_path / "bad.tsv"
    bad.write_text(lines[0] + "\t".join(fields) + "".join(lines[2:]))
    assert main(["audit", str(bad), "--data-root", str(MNIST), *CLI_BUDGET]) == 2
    assert "needs the settings file" in capsys.readouterr().err
    bad.with_name("bad.tsv.run.json").write_text(small_log.with_name("log.tsv.run.json").read_text())
    assert main(["audit", str(bad), "--data-root", str(MNIST), *CLI_BUDGET]) == 2
    assert "does not match the rebuilt noise" in capsys.readouterr().err


@pytest.mark.parametrize(("log", "target", "norms"), [
    ("dual-rs/mnist-dual-rs.tsv", "dual-rs", ["2"]),
    ("routing/mnist-route-l2.tsv", "routing", ["2", "inf"])])
@needs_mnist
def test_cli_audits_two_stage_logs(log: str, target: str, norms: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "assets" / "results" / log
    assert main(["audit", str(path), "--data-root", str(MNIST), "--max", "1", "--norms", *norms,
                 "--json", *CLI_BUDGET]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(s["target"], s["norm"], s["audited"]) for s in data["summary"]] == [
        (target, norm, 1) for norm in norms]
    first = read_log(path)
    (result, *_) = data["results"]
    assert result["idx"] == first.idx[0] and result["certified"] == first.predict[0]
    assert result["radius"] == pytest.approx(first.radius[0]) and result["selected"] >= 0
    assert result["region_norm"] <= 1 + 1e-6 and 0 <= result["p_upper_selection"] <= 1


@needs_mnist
def test_cli_refuses_a_two_stage_log_that_does_not_match(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = ROOT / "assets/results/dual-rs/mnist-dual-rs.tsv"
    lines = source.read_text().splitlines(keepends=True)
    fields = lines[1].split("\t")
    fields[8] = repr(2 * float(fields[8]))  # radius_l2 doubled
    bad = tmp_path / "bad.tsv"
    bad.write_text(lines[0] + "\t".join(fields) + "".join(lines[2:]))
    bad.with_name("bad.tsv.run.json").write_text(source.with_name(source.name + ".run.json").read_text())
    assert main(["audit", str(bad), "--data-root", str(MNIST), *CLI_BUDGET]) == 2
    assert "is not min(R_sel, R_c) of the rebuilt stages" in capsys.readouterr().err
    assert main(["audit", str(source), "--data-root", str(MNIST), "--region", "region",
                 *CLI_BUDGET]) == 2
    assert "--region region do not apply" in capsys.readouterr().err
    header, *rows = source.read_text().splitlines()
    drop = header.split("\t").index("level")
    cut = tmp_path / "cut.tsv"
    cut.write_text("".join("\t".join(c for k, c in enumerate(line.split("\t")) if k != drop) + "\n"
                           for line in [header, *rows[:3]]))
    cut.with_name("cut.tsv.run.json").write_text(source.with_name(source.name + ".run.json").read_text())
    assert main(["audit", str(cut), "--data-root", str(MNIST), *CLI_BUDGET]) == 2
    assert "is a dual-rs log without its level column(s)" in capsys.readouterr().err


def test_cli_audits_one_image(capsys: pytest.CaptureFixture[str]) -> None:
    image = ROOT / "assets/images/mnist/0000_7.png"
    assert main(["audit", "--model", "mnist-gaussian-0.50", "--image", str(image), "--n0", "20",
                 "--n", "200", "--norms", "2", "inf", "--json", *CLI_BUDGET]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(s["soundness"], s["norm"], s["attacked"]) for s in data["summary"]] == [
        ("sound", "2", 1), ("sound", "inf", 1)]
    assert main(["audit", "--model", "mnist-gaussian-0.50"]) == 2
    assert "give exactly one of" in capsys.readouterr().err
    assert main(["audit", "--model", "mnist-gaussian-0.50", "--image", str(image), "--norms", "3",
                 *CLI_BUDGET]) == 2
    assert "attacks l1, l2 and linf" in capsys.readouterr().err
