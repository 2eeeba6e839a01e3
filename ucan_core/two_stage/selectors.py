"""The σ-estimator of Dual randomized smoothing: a classifier over a finite set Σ of noise
levels, trained to pick, per input, the level whose smoothed classifier certifies best.

Labels follow Sun, Mao & Vechev (Dual RS): for each training input and level σ_i, the
expert smoothed at σ_i votes on N noisy copies; with k_i votes for the true label,
p̃_i = (k_i + ½)/(N + 1) and R̂_i = σ_i Φ⁻¹(p̃_i) (negative when the expert is mostly wrong);
the soft label is softmax_i(R̂_i / τ). These estimates only build training targets — the
certificate comes from smoothing the trained estimator (``ucan_core.dual``).

Estimators live in ``assets/models/estimators/`` (safetensors + JSON card), apart from the
classifiers of :func:`ucan_core.models.list_models`: their outputs are levels, not classes.
The selectors of ``ucan_core.routing`` (outputs: entries of a menu of fixed noise
configurations, card field ``menu``) live beside them and are trained by the same functions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.checks import check_choice, check_count, check_positive
from ucan_core.errors import UcanError
from ucan_core.io.checkpoints import load_weights
from ucan_core.noises.catalog import make_noise
from ucan_core.training.classifier import TrainConfig, train_classifier
from ucan_core.zoo.architectures import build_model
from ucan_core.zoo.cards import ModelCard, read_cards
from ucan_core.zoo.paths import models_dir


def check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    """Σ as a tuple: at least two finite levels > 0, strictly increasing."""
    values = tuple(levels)
    if len(values) < 2:
        raise UcanError(f"Dual RS needs at least two noise levels in Σ, got {list(values)} "
                        "(with one level, use standard randomized smoothing)")
    for value in values:
        check_positive("noise level σ in Σ", value)
    if any(a >= b for a, b in itertools.pairwise(values)):
        raise UcanError(f"noise levels Σ must be strictly increasing, got {list(values)}")
    return tuple(float(v) for v in values)


def check_sigma_e(sigma_e: float, levels: Sequence[float]) -> float:
    """σ_e if it is ≥ max Σ (Dual RS smooths the estimator at least as much as any level)."""
    sigma_e = check_positive("sigma_e", sigma_e)
    if sigma_e < max(levels):
        raise UcanError(f"sigma_e = {sigma_e:g} is below max Σ = {max(levels):g}: the "
                        "σ-estimator must be smoothed with σ_e ≥ max Σ (Dual RS)")
    return sigma_e


def build_estimator(arch: str, levels: int, body_from: nn.Module | None = None) -> nn.Module:
    """Architecture ``arch`` of the registry with its last linear layer resized to ``levels``
    outputs (one per level of Σ); ``body_from`` (a model of the same architecture) gives
    the initial weights of every layer but that head."""
    model = build_model(arch)
    head = model[-1] if isinstance(model, nn.Sequential) else None
    if not isinstance(head, nn.Linear):
        raise UcanError(f"architecture {arch} does not end in a linear layer")
    model[-1] = nn.Linear(head.in_features, check_count("levels", levels, 2))
    if body_from is not None:
        head_key = f"{len(model) - 1}."
        body = {k: v for k, v in body_from.state_dict().items() if not k.startswith(head_key)}
        missing = model.load_state_dict(body, strict=False).missing_keys
        if any(not k.startswith(head_key) for k in missing):
            raise UcanError(f"the initial model is not a {arch}")
    return model


@dataclass
class EstimatorCard(ModelCard):
    """A σ-estimator's card: ``arch`` is the base architecture (head resized to |Σ|),
    ``noise`` its smoothing noise N(0, σ_e²I), ``levels`` Σ (output i ↔ levels[i]) and
    ``experts`` the models whose votes built the training labels. A routing selector's card
    has a non-empty ``menu`` (output k ↔ menu[k], ``ucan_core.routing``) and no levels;
    ``sigma_e`` is then its σ_s."""

    levels: list[float] = field(default_factory=list)
    sigma_e: float = 0.0
    experts: list[str] = field(default_factory=list)
    menu: list[dict[str, Any]] = field(default_factory=list)


def estimators_dir() -> Path:
    return models_dir() / "estimators"


def list_estimators() -> dict[str, EstimatorCard]:
    """The bundled σ-estimators, by id."""
    return read_cards(estimators_dir(), EstimatorCard)


def load_estimator(estimator_id: str,
                   device: str | torch.device = "cpu") -> tuple[nn.Module, EstimatorCard]:
    """A bundled σ-estimator in eval mode on ``device`` with its card; weights read with
    safetensors (never unpickled); unknown ids and inconsistent cards raise UcanError."""
    cards = list_estimators()
    card = cards[check_choice("σ-estimator", estimator_id, cards)]
    if card.menu:
        raise UcanError(f"{estimator_id} is a routing selector (ucan certify --route), not a "
                        "Dual RS σ-estimator")
    levels = check_levels(card.levels)
    check_sigma_e(card.sigma_e, levels)
    model = build_estimator(card.arch, len(levels))
    load_weights(model, estimators_dir() / f"{estimator_id}.safetensors")
    return model.to(device).eval(), card


def vote_estimates(stages: Sequence[SmoothedClassifier], factors: Sequence[float],
                   images: torch.Tensor, labels: torch.Tensor, samples: int,
                   batch_size: int = 1000, seed: int = 0, names: Sequence[str] | None = None,
                   log: Callable[[str], None] = print) -> torch.Tensor:
    """R̂ (N×K, float64): R̂[j, k] = factors[k]·Φ⁻¹((v + ½)/(samples + 1)), v the votes of
    ``stages[k]``'s base classifier for ``labels[j]`` on ``samples`` copies of image j under
    that stage's noise (seed ``seed + k``). Training targets only, not certificates."""
    check_count("samples", samples)
    columns = []
    for k, (stage, factor) in enumerate(zip(stages, factors)):
        certs = stage.certify_batch(images, 1, samples, 0.5, batch_size, seed=seed + k)
        votes = torch.tensor([c.counts[int(y)] for c, y in zip(certs, labels)], dtype=torch.float64)
        columns.append(factor * torch.special.ndtri((votes + 0.5) / (samples + 1)))
        name = names[k] if names is not None else f"stage {k}"
        log(f"{name}: mean votes for the label {votes.mean() / samples:.4f}")
    return torch.stack(columns, dim=1)


def radius_estimates(experts: Sequence[nn.Module], levels: Sequence[float],
                     images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     samples: int, batch_size: int = 1000, seed: int = 0,
                     log: Callable[[str], None] = print) -> torch.Tensor:
    """R̂ (N×|Σ|, float64): R̂[j, i] = σ_i Φ⁻¹((k + ½)/(samples + 1)), k the votes of
    ``experts[i]`` for ``labels[j]`` on ``samples`` copies of image j under N(0, σ_i²I)."""
    device = next(experts[0].parameters()).device
    dim = math.prod(images.shape[1:])
    stages = [SmoothedClassifier(expert, make_noise("gaussian", sigma, dim, device=device),
                                 num_classes) for expert, sigma in zip(experts, levels)]
    return vote_estimates(stages, levels, images, labels, samples, batch_size, seed,
                          [f"level sigma={sigma:g}" for sigma in levels], log)


def soft_labels(radii: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax_i(R̂_i / τ) per row, float32."""
    return torch.softmax(radii / check_positive("temperature", temperature), dim=1).float()


def train_estimator(estimator: nn.Module, images: torch.Tensor, targets: torch.Tensor,
                    sigma_e: float, config: TrainConfig,
                    log: Callable[[str], None] = print) -> list[float]:
    """Train ``estimator`` on x + N(0, σ_e²I) against soft ``targets`` (N×|Σ|) with the
    cross-entropy of :func:`ucan_core.training.train_classifier`; the noise matches the
    smoothing the estimator is certified with."""
    device = next(estimator.parameters()).device
    noise = make_noise("gaussian", sigma_e, math.prod(images.shape[1:]), device=device)
    return train_classifier(estimator, images, targets, noise, config, log)
