"""Dual randomized smoothing (Sun, Mao & Vechev, ICLR 2026): a noise level chosen per
input, with a sound certificate.

A σ-estimator h_e picks one level of a finite set Σ; it is smoothed with its own Gaussian
noise σ_e ≥ max Σ, so CERTIFY bounds the radius R_σ within which the smoothed selection
g_e stays constant. The input is then certified at the selected level σ with that level's
expert (or one model shared by all levels), radius R_c. Each stage runs at α/2, so by the
union bound, with probability ≥ 1 − α the deployed classifier x′ ↦ g_{g_e(x′)}(x′) returns
the certified class for every ‖x′ − x‖ ≤ min(R_σ, R_c): on that ball g_e(x′) = σ, and the
classifier smoothed at σ is constant (the paper's Thm 4.1–4.2).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ucan_core.errors import UcanError, check_open_unit
from ucan_core.estimator import EstimatorCard, check_levels, check_sigma_e, load_estimator
from ucan_core.logs import UCAN_COLUMNS, LogRow
from ucan_core.noises import Kind, Radius, make_noise
from ucan_core.smoothing import Certificate, Progress, SmoothedClassifier, Soundness

DUAL_NOTE = ("Certificate: with probability ≥ 1 − α (α/2 per stage, union bound), the smoothed "
             "σ-estimator keeps the selected level within R_σ and the classifier smoothed at "
             "that level keeps the class within R_c, so the deployed Dual RS classifier returns "
             "this class everywhere within min(R_σ, R_c).")


@dataclass
class DualCertificate:
    """Dual RS certificate of one input. ``prediction`` is −1 when either stage abstains.
    ``radius`` = min(``r_sigma``, ``r_c``) in ℓ2 (``radii``: ℓ1/ℓ2/ℓ∞, each the min of the
    stages'); ``level`` is the selected σ (NaN when the estimator abstains); the stage
    certificates ``selection`` (classes = levels of Σ) and ``classification`` (None when not
    reached) each hold at level α/2."""

    prediction: int
    radius: float
    r_sigma: float
    r_c: float
    level: float
    p_a_lower_sigma: float
    p_a_lower_c: float
    radii: dict[str, Radius]
    levels: tuple[float, ...]
    sigma_e: float
    alpha: float
    selection: Certificate
    classification: Certificate | None
    seconds: float
    norm: str = "2"
    kind: Kind = "sound"
    soundness: Soundness = "sound"
    note: str = DUAL_NOTE

    @property
    def abstained(self) -> bool:
        return self.prediction == SmoothedClassifier.ABSTAIN

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stage_seed(seed: int | None, stage: int) -> int | None:
    """Independent seeds for the selection (stage 0) and each level's classification."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, stage]).generate_state(1)[0])


def _shifted(progress: Progress | None, offset: int, total: int) -> Progress | None:
    if progress is None:
        return None
    return lambda done, _: progress(offset + done, total)


class DualSmoothedClassifier:
    """Dual RS over the levels Σ = ``levels``: ``estimator`` (|Σ| outputs, output i ↔
    levels[i]) smoothed with N(0, σ_e²I); ``experts`` one base classifier per level, or one
    module for all levels; inputs in [0, 1] with ``dim`` values."""

    def __init__(self, estimator: nn.Module, experts: nn.Module | Sequence[nn.Module],
                 levels: Sequence[float], sigma_e: float, num_classes: int, dim: int,
                 device: str | torch.device | None = None) -> None:
        self.levels = check_levels(levels)
        self.sigma_e = check_sigma_e(sigma_e, self.levels)
        routes = [experts] * len(self.levels) if isinstance(experts, nn.Module) else list(experts)
        if len(routes) != len(self.levels):
            raise UcanError(f"give one expert per level ({len(self.levels)}) or one for all, "
                            f"got {len(routes)}")
        if device is None:
            first = next(estimator.parameters(), None)
            device = first.device if first is not None else "cpu"
        self.device = torch.device(device)

        def gaussian(sigma: float) -> Any:
            return make_noise("gaussian", sigma, dim, device=self.device)

        self.selector = SmoothedClassifier(estimator, gaussian(self.sigma_e), len(self.levels),
                                           self.device)
        self.stages = [SmoothedClassifier(expert, gaussian(sigma), num_classes, self.device)
                       for expert, sigma in zip(routes, self.levels)]

    def certify(self, x: torch.Tensor, n0: int, n: int, alpha: float, batch_size: int = 1000,
                seed: int | None = None, progress: Progress | None = None) -> DualCertificate:
        """Dual RS CERTIFY for one input (shaped as one example); see :meth:`certify_batch`."""
        return self.certify_batch(x.unsqueeze(0), n0, n, alpha, batch_size, seed, progress)[0]

    def certify_batch(self, xs: torch.Tensor, n0: int, n: int, alpha: float,
                      batch_size: int = 1000, seed: int | None = None,
                      progress: Progress | None = None) -> list[DualCertificate]:
        """Certify every input of ``xs``: CERTIFY of the smoothed estimator at α/2 (n0, n
        samples) selects σ and gives R_σ; CERTIFY of the selected level's smoothed
        classifier at α/2 gives the class and R_c. With probability ≥ 1 − α per input, the
        deployed Dual RS classifier returns ``prediction`` within min(R_σ, R_c).
        ``progress(done, total)`` counts samples of both stages."""
        half = check_open_unit("alpha", alpha) / 2
        began = time.perf_counter()
        total = 2 * len(xs) * (n0 + n)
        selections = self.selector.certify_batch(xs, n0, n, half, batch_size,
                                                 _stage_seed(seed, 0), _shifted(progress, 0, total))
        done = len(xs) * (n0 + n)
        classified: dict[int, Certificate] = {}
        for index, stage in enumerate(self.stages):
            members = [i for i, s in enumerate(selections) if s.prediction == index]
            if members:
                certs = stage.certify_batch(xs[members], n0, n, half, batch_size,
                                            _stage_seed(seed, 1 + index),
                                            _shifted(progress, done, total))
                classified.update(zip(members, certs))
                done += len(members) * (n0 + n)
        if progress is not None:
            progress(total, total)
        seconds = (time.perf_counter() - began) / len(xs)
        return [self._combine(s, classified.get(i), alpha, seconds)
                for i, s in enumerate(selections)]

    def _combine(self, selection: Certificate, classification: Certificate | None,
                 alpha: float, seconds: float) -> DualCertificate:
        level = math.nan if selection.abstained else self.levels[selection.prediction]
        sound = classification is not None and not classification.abstained
        radii = {norm: Radius(min(r.value, classification.radii[norm].value) if sound else 0.0,
                              norm, "sound", f"min(R_sigma, R_c), each {r.formula}")
                 for norm, r in selection.radii.items()}
        return DualCertificate(
            prediction=classification.prediction if sound else SmoothedClassifier.ABSTAIN,
            radius=radii["2"].value,
            r_sigma=selection.radius,
            r_c=classification.radius if classification is not None else 0.0,
            level=level,
            p_a_lower_sigma=selection.p_a_lower,
            p_a_lower_c=classification.p_a_lower if classification is not None else math.nan,
            radii=radii, levels=self.levels, sigma_e=self.sigma_e, alpha=alpha,
            selection=selection, classification=classification, seconds=seconds)


def load_dual(estimator_id: str, expert_ids: Sequence[str], device: str | torch.device = "cpu",
              ) -> tuple[DualSmoothedClassifier, EstimatorCard]:
    """Dual RS from a bundled σ-estimator and bundled experts (one id per level of the
    estimator's Σ, or one id for all levels), with the estimator's card; unknown ids or
    mismatched models raise UcanError."""
    from ucan_core.models import load_model

    if not expert_ids:
        raise UcanError("give at least one expert model id")
    estimator, card = load_estimator(estimator_id, device)
    shape = card.architecture.input_shape
    loaded = [load_model(expert_id, device) for expert_id in expert_ids]
    for expert_id, (_, expert) in zip(expert_ids, loaded):
        if expert.dataset != card.dataset or expert.architecture.input_shape != shape:
            raise UcanError(f"expert {expert_id} is for {expert.dataset} "
                            f"{expert.architecture.input_shape}, the σ-estimator for "
                            f"{card.dataset} {shape}")
        if expert.npg != "isotropic":
            raise UcanError(f"expert {expert_id} has a learned {expert.npg} NPG; Dual RS "
                            "routes to isotropic Gaussian models")
    models = [model for model, _ in loaded]
    arch = loaded[0][1].architecture
    dual = DualSmoothedClassifier(estimator, models[0] if len(models) == 1 else models,
                                  card.levels, card.sigma_e, arch.num_classes,
                                  math.prod(arch.input_shape), device)
    return dual, card


DUAL_COLUMNS = UCAN_COLUMNS + ("level", "r_sigma", "r_c", "p_a_lower_sigma")


@dataclass(frozen=True)
class DualLogRow(LogRow):
    """A ucan certify log row (``radius`` = min(R_σ, R_c), ``p_a_lower`` of the
    classification stage) followed by the selected ``level``, ``r_sigma``, ``r_c`` and the
    estimator's ``p_a_lower_sigma``."""

    columns: ClassVar[tuple[str, ...]] = DUAL_COLUMNS
    level: float
    r_sigma: float
    r_c: float
    p_a_lower_sigma: float

    @classmethod
    def from_dual(cls, idx: int, label: int, cert: DualCertificate) -> DualLogRow:
        return cls(idx=idx, label=label, predict=cert.prediction, radius=cert.radius,
                   correct=int(cert.prediction == label), time=cert.seconds, alm=cert.radius,
                   radius_l1=cert.radii["1"].value, radius_l2=cert.radii["2"].value,
                   radius_linf=cert.radii["inf"].value, p_a_lower=cert.p_a_lower_c,
                   kind=cert.kind, soundness=cert.soundness, level=cert.level,
                   r_sigma=cert.r_sigma, r_c=cert.r_c, p_a_lower_sigma=cert.p_a_lower_sigma)
