"""Dual RS: an input-dependent noise level made sound by smoothing the σ-estimator.

Stage 1 certifies the σ-estimator's level selection on its own smoothing; stage 2 certifies
the expert of the selected level. Radius min(R_σ, R_c), each stage at α/2 (union bound).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.errors import UcanError
from ucan_core.noises.catalog import make_noise
from ucan_core.two_stage.engine import (
    SelectAndCertify,
    TwoStageCertificate,
    combined_radii,
)
from ucan_core.two_stage.selectors import (
    EstimatorCard,
    check_levels,
    check_sigma_e,
    load_estimator,
)

DUAL_NOTE = ("Certificate: with probability ≥ 1 − α (α/2 per stage, union bound), the smoothed "
             "σ-estimator keeps the selected level within R_σ and the classifier smoothed at "
             "that level keeps the class within R_c, so the deployed Dual RS classifier returns "
             "this class everywhere within min(R_σ, R_c).")


@dataclass(kw_only=True)
class DualCertificate(TwoStageCertificate):
    """Dual RS certificate of one input: the σ-estimator (smoothed at ``sigma_sel`` = σ_e)
    selected the level ``selected`` ∈ ``menu`` = Σ (NaN when it abstains); ``radius`` =
    min(``r_sel`` = R_σ, ``r_c``)."""

    target: ClassVar[str] = "dual-rs"
    LOG_NAMES: ClassVar[dict[str, str]] = {"selected": "level", "r_sel": "r_sigma",
                                           "p_a_lower_sel": "p_a_lower_sigma",
                                           "menu": "levels", "sigma_sel": "sigma_e"}
    note: str = DUAL_NOTE

    @property
    def alm(self) -> float:
        """The ALM of an isotropic certificate: its radius."""
        return self.radius


class DualSmoothedClassifier(SelectAndCertify[DualCertificate]):
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
        stages = [SmoothedClassifier(expert, make_noise("gaussian", sigma, dim, device=device),
                                     num_classes, device)
                  for expert, sigma in zip(routes, self.levels)]
        super().__init__(estimator, stages, [f"sigma={s:g}" for s in self.levels], self.sigma_e,
                         device)

    def _combine(self, selection: Certificate, classification: Certificate | None,
                 alpha: float, seconds: float) -> DualCertificate:
        level = math.nan if selection.abstained else self.levels[selection.prediction]
        sound = classification is not None and not classification.abstained
        radii = combined_radii(selection, classification)
        return DualCertificate(
            prediction=classification.prediction if sound else SmoothedClassifier.ABSTAIN,
            radius=radii["2"].value,
            r_sel=selection.radius,
            r_c=classification.radius if classification is not None else 0.0,
            selected=level,
            p_a_lower_sel=selection.p_a_lower,
            p_a_lower_c=classification.p_a_lower if classification is not None else math.nan,
            radii=radii, menu=self.levels, sigma_sel=self.sigma_e, alpha=alpha,
            selection=selection, classification=classification, seconds=seconds)


def load_dual(estimator_id: str, expert_ids: Sequence[str], device: str | torch.device = "cpu",
              ) -> tuple[DualSmoothedClassifier, EstimatorCard]:
    """Dual RS from a bundled σ-estimator and bundled experts (one id per level of the
    estimator's Σ, or one id for all levels), with the estimator's card; unknown ids or
    mismatched models raise UcanError."""
    from ucan_core.zoo.bundled import load_model

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
