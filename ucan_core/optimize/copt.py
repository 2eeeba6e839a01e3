"""Noise optimisation (UniCR §4.2): the robustness score, C-OPT and I-OPT.

Searched family: i.i.d. generalized-normal noise, density ∝ exp(−|x/λ|^s) per coordinate,
with per-coordinate standard deviation σ (λ = σ/√(Γ(3/s)/Γ(1/s)); s = 1 Laplace, s = 2
Gaussian), so changing s at fixed σ keeps the variance.

* **Robustness score** (UniCR Eq. 5): RS = Σ_{σ∈Σ} ∫_0^∞ CA_σ(r) dr, summed (not averaged)
  over the σ grid, with CA_σ(r) = (1/N)·#{i : correct_i and R_i ≥ r} (Cohen's rule,
  :func:`ucan_core.analysis.certified_accuracy`). Row i adds 1/N on [0, R_i], so the area is
  exactly the average certified radius: ∫_0^∞ CA(r) dr = (1/N)·Σ_i correct_i·R_i = ACR, and
  RS = Σ_σ ACR_σ (no quadrature error).
* **C-OPT** (grid search): for every (s, σ) a classifier is trained on x + ε
  (:func:`~ucan_core.training.train_classifier`), certified on test images
  (:meth:`~ucan_core.smoothing.SmoothedClassifier.certify_batch`), its radii computed in the
  norm of interest; the best shape maximises RS over the σ's. Each grid point's certificates
  hold for its own (input-independent) smoothed classifier; the best shape is chosen on the
  same test images, so its score is optimistic: certify it on other images to report it.
* **I-OPT** (per-input hill climbing, UniCR Algorithm 3): coordinate moves ±step in
  (shape s, scale multiplier m), noise gennorm(s, m·σ₀) around the training noise (s₀, σ₀),
  a move kept when it increases (radius, p̲_A). Honest statistics (Bonferroni): the class c
  is fixed by the first evaluation's selection samples; every evaluation draws fresh samples
  and bounds P(f(x + ε) = c) one-sidedly (Clopper–Pearson) at α/K, K = the maximum number of
  evaluations fixed in advance. Each bound is valid given the past, so with probability
  ≥ 1 − α all of them hold at once and the selected one is a valid bound although it was
  selected after looking. The noise is chosen from this input: the radius covers the
  smoothed classifier with that noise *frozen at this input* — tagged ``input-dependent``,
  not a certificate for the deployed classifier (``SOUNDNESS_NOTES``).

Radii: the closed form where it is exact (gennorm s ≥ 1 in ℓ1, s = 2 in every norm), else the
universal engine (:func:`~ucan_core.universal.universal_radius_curve`, ``approximate``), one
curve per noise evaluated at the distinct p̲_A values. Shapes are restricted to those with a
closed form in some norm (s ≥ 1, or s = ½): ``SmoothedClassifier`` computes one for every
certificate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ucan_core.analysis import DEFAULT_RADII, Summary, summarize
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.radii import uses_closed_form
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.checks import check_count, check_open_unit, check_positive
from ucan_core.errors import UcanError
from ucan_core.io.logs import Log, LogRow, LogWriter, read_log
from ucan_core.io.records import log_row
from ucan_core.labels import Kind
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import make_noise
from ucan_core.norms import parse_norm
from ucan_core.training.classifier import TrainConfig, train_classifier
from ucan_core.universal.search import Settings, universal_radius_curve
from ucan_core.zoo.architectures import ARCHITECTURES, build_model

UNIVERSAL = Settings(scales=16)


Printer = Callable[[str], None]


def check_shape(shape: float) -> float:
    """A gennorm shape s > 0. Shapes without a closed-form radius (s < 1, s ≠ ½) are certified
    with the universal engine's approximate radius (``SmoothedClassifier``), tagged so."""
    return check_positive("gennorm shape", shape)


def config_radii(noise: Noise, p_a_lower: Sequence[float] | np.ndarray, norm: float | str,
                 settings: Settings = UNIVERSAL) -> tuple[np.ndarray, Kind]:
    """Certified ℓ_norm radii of ``noise`` for the lower bounds ``p_a_lower`` (0 where
    p̲_A ≤ ½): the closed form where it is exact (:func:`~ucan_core.certify.radii.uses_closed_form`,
    policy ``"exact"``), else one universal-engine curve (``approximate``) at the distinct
    values p̲_A > ½."""
    q = parse_norm(norm)
    p = np.asarray(p_a_lower, dtype=np.float64).reshape(-1)
    if uses_closed_form(noise, q, "exact"):
        return noise.radius_curve(p, q)
    radius = np.zeros_like(p)
    live = p > 0.5
    if not live.any():
        return radius, "approximate"
    values, index = np.unique(p[live], return_inverse=True)
    curve = universal_radius_curve(noise, values, q, "approximate", settings)
    radius[live] = curve.radius[index]
    return radius, curve.kind


def robustness_score(logs: Sequence[Log]) -> float:
    """UniCR's robustness score of certify logs, one per σ: Σ_σ ∫_0^∞ CA_σ(r) dr, a sum over
    the logs of their areas under the certified-accuracy curve (= their ACR)."""
    if not logs:
        raise UcanError("the robustness score needs at least one certify log (one per sigma)")
    return float(sum(summarize(log, (0.0,)).acr for log in logs))


def check_grid(shapes: Sequence[float], sigmas: Sequence[float]) -> tuple[list[float], list[float]]:
    """The C-OPT grid, checked: non-empty, distinct, certifiable shapes, σ > 0."""
    for name, values in (("shape", shapes), ("sigma", sigmas)):
        if len(values) == 0:
            raise UcanError(f"the C-OPT {name} grid is empty: give at least one {name}")
        if len(set(values)) != len(values):
            raise UcanError(f"the C-OPT {name} grid has repeated values: {list(values)}")
    return [check_shape(s) for s in shapes], [check_positive("sigma", s) for s in sigmas]


@dataclass
class GridPoint:
    """One C-OPT grid point: a classifier trained and certified with gennorm(shape, σ).
    ``area`` = ∫_0^∞ CA(r) dr = ACR of its log; ``kind`` that of its radii."""

    shape: float
    sigma: float
    log: str
    kind: Kind
    area: float
    clean_accuracy: float
    abstain_rate: float
    final_loss: float
    train_seconds: float
    certify_seconds: float


@dataclass
class COptResult:
    """The grid, the robustness score of each shape (sum over the σ grid) and the best shape;
    ``summaries`` are the certified-accuracy rows of the grid points (``analysis``)."""

    norm: str
    points: list[GridPoint]
    scores: dict[str, float]
    best_shape: float
    images: int
    summaries: list[Summary] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("summaries")
        return data


def _log_row(idx: int, label: int, cert: Certificate, radius: float, kind: Kind,
             norm: str) -> LogRow:
    """The log row of ``cert`` with ``radius`` (ℓ_norm) as its radius, ALM and ℓ_norm column."""
    updates: dict[str, Any] = {"radius": radius, "alm": radius, "kind": kind}
    if f"radius_l{norm}" in LogRow.columns:
        updates[f"radius_l{norm}"] = radius
    return replace(log_row(idx, label, cert), **updates)


def copt(train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
         indices: Sequence[int], shapes: Sequence[float], sigmas: Sequence[float],
         norm: float | str, out: str | Path, *, arch: str = "mnist_cnn",
         config: TrainConfig | None = None, n0: int = 100, n: int = 1000, alpha: float = 0.001,
         batch: int = 1000, device: str | torch.device = "cpu",
         radii: Sequence[float] = DEFAULT_RADII, log: Printer = print) -> COptResult:
    """C-OPT grid search. For each (σ, s): seed ``config.seed``, a fresh ``arch`` model trained
    on ``train`` with gennorm(s, σ) noise, CERTIFY (n0, n, α) of the ``test`` images at
    ``indices``, radii in ``norm`` (:func:`config_radii`), a ucan certify log
    ``out/gennorm-s{s}-sigma{σ}.tsv`` (radius column = the ℓ_norm radius). Score of a shape:
    :func:`robustness_score` of its logs over the σ grid."""
    shapes, sigmas = check_grid(shapes, sigmas)
    q = parse_norm(norm)
    config = config or TrainConfig(epochs=1)
    for name, count in (("n0", n0), ("n", n), ("batch", batch)):
        check_count(name, count)
    if n0 > n:
        raise UcanError(f"n0 ({n0}) must not exceed n ({n})")
    check_open_unit("alpha", alpha)
    architecture = ARCHITECTURES.get(arch)
    if architecture is None:
        raise UcanError(f"unknown architecture {arch!r}; choose one of: "
                        f"{', '.join(ARCHITECTURES)}")
    if tuple(train[0].shape[1:]) != architecture.input_shape:
        raise UcanError(f"{arch} takes inputs of shape {architecture.input_shape}, the data has "
                        f"{tuple(train[0].shape[1:])}")
    if not indices or min(indices) < 0 or max(indices) >= len(test[0]):
        raise UcanError(f"test indices must be a non-empty subset of 0..{len(test[0]) - 1}")
    out = Path(out)
    paths = {(s, sigma): out / f"gennorm-s{s:g}-sigma{sigma:g}.tsv"
             for sigma in sigmas for s in shapes}
    taken = [p for p in paths.values() if p.exists()]
    if taken:
        raise UcanError(f"{taken[0]} exists: use another output folder (C-OPT logs are not "
                        "resumed)")
    xs, ys = test[0][list(indices)], test[1][list(indices)]
    dim = math.prod(architecture.input_shape)
    points, summaries = [], []
    logs: dict[float, list[Log]] = {s: [] for s in shapes}
    for (shape, sigma), path in paths.items():
        noise = make_noise("gennorm", sigma, dim, device=device, shape=shape)
        log(f"C-OPT: gennorm shape={shape:g} sigma={sigma:g}: training")
        began = time.perf_counter()
        torch.manual_seed(config.seed)
        model = build_model(arch)
        losses = train_classifier(model, *train, noise, config, log=log)
        trained = time.perf_counter()
        certs = SmoothedClassifier(model, noise, architecture.num_classes).certify_batch(
            xs, n0, n, alpha, batch, seed=config.seed)
        radius, kind = config_radii(noise, [c.p_a_lower for c in certs], q)
        with LogWriter(path) as writer:
            for idx, label, cert, r in zip(indices, ys.tolist(), certs, radius.tolist()):
                writer.write(_log_row(int(idx), int(label), cert, r, kind, f"{q:g}"))
        certified = time.perf_counter()
        logs[shape].append(read_log(path))
        summary = summarize(logs[shape][-1], radii, name=f"gennorm s={shape:g} sigma={sigma:g}")
        summaries.append(summary)
        points.append(GridPoint(shape, sigma, path.name, kind, summary.acr, summary.clean_accuracy,
                                summary.abstain_rate, losses[-1], trained - began,
                                certified - trained))
        log(f"C-OPT: shape={shape:g} sigma={sigma:g}: area (ACR) {summary.acr:.4f}, smoothed "
            f"accuracy {summary.clean_accuracy:.3f}, radii {kind}, "
            f"{certified - began:.0f}s")
    scores = {f"{s:g}": robustness_score(logs[s]) for s in shapes}
    best = max(shapes, key=lambda s: scores[f"{s:g}"])
    return COptResult(f"{q:g}", points, scores, best, len(indices), summaries)
