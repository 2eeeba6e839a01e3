"""I-OPT (UniCR): the noise scale tuned per input, certificates tagged input-dependent."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ucan_core.certify.certificate import Certificate
from ucan_core.certify.seeds import derive_seed
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.certify.stats import clopper_pearson_lower
from ucan_core.checks import check_count, check_positive
from ucan_core.errors import UcanError
from ucan_core.labels import SOUNDNESS_NOTES, Kind, Soundness
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import make_noise
from ucan_core.noises.iid import Gaussian, GeneralizedNormal
from ucan_core.norms import parse_norm
from ucan_core.optimize.copt import UNIVERSAL, Printer, config_radii
from ucan_core.universal.search import Settings


@dataclass
class Evaluation:
    """One I-OPT evaluation: noise gennorm(shape, scale·σ₀) on its own fresh samples;
    ``votes`` of the target class among ``n``; p̲_A at the Bonferroni level α/K."""

    shape: float
    scale: float
    sigma: float
    votes: int
    n: int
    p_a_lower: float
    radius: float
    kind: Kind

    @property
    def key(self) -> tuple[float, float]:
        """What the hill climb maximises: the radius, then p̲_A (which moves an abstaining
        start towards certifying)."""
        return self.radius, self.p_a_lower


@dataclass
class IOptResult:
    """I-OPT of one input: the target class, every evaluation, the selected one (``best``,
    an index into ``evaluations``) and the standard certificate of the deployed smoothed
    classifier with the training noise at level α (``reference``, sound, own samples)."""

    target: int
    norm: str
    alpha: float
    max_evals: int
    alpha_each: float
    evaluations: list[Evaluation]
    best: int
    reference: dict[str, Any]
    statement: str
    soundness: Soundness = "input-dependent"
    note: str = SOUNDNESS_NOTES["input-dependent"]

    @property
    def selected(self) -> Evaluation:
        return self.evaluations[self.best]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "selected": asdict(self.selected)}


def _check_range(name: str, bounds: tuple[float, float], start: float, floor: float) -> None:
    low, high = (check_positive(name, b) for b in bounds)
    if not floor <= low <= start <= high:
        raise UcanError(f"{name} range {low:g}..{high:g} must satisfy {floor:g} <= low <= "
                        f"{start:g} (the start) <= high")


def iopt(model: nn.Module, x: torch.Tensor, num_classes: int, train_noise: Noise,
         norm: float | str, *, max_evals: int = 10, n0: int = 100, n: int = 10_000,
         alpha: float = 0.001, batch: int = 1000, seed: int = 0, shape_step: float = 0.25,
         scale_step: float = 0.1, shape_range: tuple[float, float] = (1.0, 8.0),
         scale_range: tuple[float, float] = (0.25, 4.0), settings: Settings = UNIVERSAL,
         log: Printer | None = None) -> IOptResult:
    """I-OPT hill climbing for input ``x`` (shaped as one example) of ``model`` trained with
    ``train_noise`` (Gaussian or gennorm: the start (s₀, m = 1)). At most ``max_evals`` = K
    evaluations, each CERTIFY-style on fresh samples (n0 + n) with the bound at α/K; moves of
    ±``shape_step`` in s within ``shape_range`` (low > 0) and ±``scale_step`` in m within
    ``scale_range``, first improvement kept, stop when no neighbour improves or K is spent."""
    if isinstance(train_noise, GeneralizedNormal):
        start = train_noise.shape
    elif isinstance(train_noise, Gaussian):
        start = 2.0
    else:
        raise UcanError(f"I-OPT starts from a Gaussian or gennorm training noise, not "
                        f"{train_noise.name!r}")
    max_evals = check_count("max evaluations K", max_evals)
    check_positive("shape step", shape_step)
    check_positive("scale step", scale_step)
    _check_range("shape", shape_range, start, 0.0)
    _check_range("scale multiplier", scale_range, 1.0, 0.0)
    q = parse_norm(norm)
    alpha_each = alpha / max_evals
    sigma0, device = train_noise.sigma, train_noise.device

    def certify(noise: Noise, level: float, index: int) -> Certificate:
        smoothed = SmoothedClassifier(model, noise, num_classes, device)
        return smoothed.certify(x, n0, n, level, batch, seed=derive_seed(seed, index))

    reference = certify(train_noise, alpha, 0)
    ref_radius, ref_kind = config_radii(train_noise, [reference.p_a_lower], q, settings)
    evaluations: list[Evaluation] = []
    target = -1

    def evaluate(shape: float, scale: float) -> Evaluation:
        nonlocal target
        noise = make_noise("gennorm", scale * sigma0, train_noise.dim, device=device, shape=shape)
        cert = certify(noise, alpha_each, len(evaluations) + 1)
        if not evaluations:
            target = int(np.argmax(cert.selection_counts))
        votes = cert.counts[target]
        p = clopper_pearson_lower(votes, n, alpha_each)
        radius, kind = config_radii(noise, [p], q, settings)
        evaluations.append(Evaluation(shape, scale, noise.sigma, votes, n, p, float(radius[0]),
                                      kind))
        if log is not None:
            log(f"I-OPT {len(evaluations)}/{max_evals}: shape={shape:g} scale={scale:g}: "
                f"p_A >= {p:.6f}, radius {float(radius[0]):.4g} ({kind})")
        return evaluations[-1]

    current = evaluate(start, 1.0)
    moves = ((shape_step, 0.0), (-shape_step, 0.0), (0.0, scale_step), (0.0, -scale_step))
    seen = {(start, 1.0)}
    while len(evaluations) < max_evals:
        neighbours = [(round(current.shape + ds, 10), round(current.scale + dm, 10))
                      for ds, dm in moves]
        neighbours = [(s, m) for s, m in neighbours if (s, m) not in seen
                      and shape_range[0] <= s <= shape_range[1]
                      and scale_range[0] <= m <= scale_range[1]]
        moved = False
        for s, m in neighbours[:max_evals - len(evaluations)]:
            seen.add((s, m))
            candidate = evaluate(s, m)
            if candidate.key > current.key:
                current, moved = candidate, True
                break
        if not moved:
            break
    statement = (
        f"Bonferroni over K = {max_evals} evaluations fixed in advance ({len(evaluations)} "
        f"used): each one-sided Clopper–Pearson bound at alpha/K = {alpha_each:g} on fresh "
        f"samples, for class {target} fixed by the first evaluation's selection samples; with "
        f"probability >= 1 - {alpha:g} all hold at once, so the selected p_A bound is valid. "
        "The noise was chosen for this input: the radius holds for the smoothed classifier "
        "with that noise frozen here, not for the deployed one.")
    ref = {"noise": train_noise.describe(), "prediction": reference.prediction,
           "p_a_lower": reference.p_a_lower, "alpha": alpha, "n": n,
           "radius": float(ref_radius[0]), "kind": ref_kind,
           "soundness": reference.soundness, "note": reference.note}
    return IOptResult(target, f"{q:g}", alpha, max_evals, alpha_each, evaluations,
                      evaluations.index(current), ref, statement)
