"""The bundled models, loaded once per process: classifiers, their learned NPGs, the Dual RS
σ-estimators and the routing selectors, and :func:`noise_source`, the smoothing noise of a
bundled model with a page's choices (``ucan_core.npg.source.NoiseSource``)."""

from __future__ import annotations

from typing import Any

import streamlit as st
import torch

from app.choices import (
    LEARNED,
    MODEL_FAMILIES,
    PHOTOS,
    DualSettings,
    NoiseChoice,
    RoutingSettings,
    TwoStageSettings,
)
from ucan_core.devices import resolve_device
from ucan_core.errors import UcanError
from ucan_core.npg.source import NoiseSource
from ucan_core.two_stage.dual import DualSmoothedClassifier, load_dual
from ucan_core.two_stage.engine import SelectAndCertify
from ucan_core.two_stage.routing import RouteCertificate, RoutedSmoothedClassifier, load_router
from ucan_core.two_stage.selectors import EstimatorCard, list_estimators
from ucan_core.zoo.bundled import list_models, load_model, model_card
from ucan_core.zoo.cards import ModelCard
from ucan_core.zoo.denoised import MAX_BATCH, sigma_note

#: The model a page opens with: the small, strong MNIST model (bundled models sort by id).
DEFAULT_MODEL = "mnist-gaussian-0.25"
#: The model each family of :data:`~app.choices.MODEL_FAMILIES` opens with.
FAMILY_DEFAULTS = {"mnist": DEFAULT_MODEL, "cifar10": "cifar10-gaussian-0.25",
                   PHOTOS: "imagenet-denoised-0.25"}
#: The Dual RS σ-estimator a fresh Certify page starts with (its experts fit the default image).
DEFAULT_ESTIMATOR = "mnist-sigma-estimator"
#: The Certify page's sampling for models fast on a CPU (MNIST, CIFAR-10): seconds at most.
SAMPLING = {"n0": 100, "n": 10_000, "alpha": 0.001, "batch": 1000, "seed": 0}
#: The Region check and the audit run on the CPU; a model they would keep busy longer than
#: this (from its card's measured CPU rate) is not offered there, and Learn gives it a
#: shorter walk-through, always in the background (``app.cached.learn.walkthrough_plan``).
CPU_WAIT_S = 120.0


def default_index(ids: list[str], default: str = DEFAULT_MODEL) -> int:
    """Index of ``default`` in ``ids`` (0 if absent)."""
    return ids.index(default) if default in ids else 0


def model_cards() -> dict[str, ModelCard]:
    """The bundled models by id (small JSON cards, re-read so new models show up)."""
    return list_models()


def family_title(card: ModelCard) -> str:
    """The family a model is grouped in (:data:`~app.choices.MODEL_FAMILIES`), by its dataset."""
    return MODEL_FAMILIES.get(card.dataset, card.dataset)


def sampling_defaults(card: ModelCard | None) -> dict[str, int | float]:
    """The Certify page's sampling for ``card`` (None: a two-stage mode): :data:`SAMPLING`,
    or the settings its card records it was certified with (``metrics.certify``: the photo
    models, about a sample per second on a CPU), in batches of the composite's one forward
    pass (``ucan_core.zoo.denoised.MAX_BATCH``)."""
    recorded = ((card.metrics or {}).get("certify") or {}) if card is not None else {}
    if not all(isinstance(recorded.get(k), (int, float)) for k in ("n0", "n", "alpha")):
        return dict(SAMPLING)
    return {**SAMPLING, "n0": int(recorded["n0"]), "n": int(recorded["n"]),
            "alpha": float(recorded["alpha"]), "batch": MAX_BATCH}


def cpu_seconds(card: ModelCard, samples: int) -> float | None:
    """Seconds ``samples`` noisy samples take on a CPU at the card's measured rate
    (``metrics.samples_per_second_cpu``); None where none was measured (the small models:
    thousands a second)."""
    rate = (card.metrics or {}).get("samples_per_second_cpu")
    return samples / rate if isinstance(rate, (int, float)) and rate > 0 else None


def quick_on_cpu(card: ModelCard, samples: int) -> bool:
    """True when ``samples`` samples of ``card`` take at most :data:`CPU_WAIT_S` on a CPU."""
    seconds = cpu_seconds(card, samples)
    return seconds is None or seconds <= CPU_WAIT_S


def pixel_units(card: ModelCard | None) -> str:
    """The units of ``card``'s radii in words: [0, 1] pixel units, for a photo model those of
    the h×w image its classifier receives (the engine resizes every photo to its input)."""
    if card is not None and card.dataset == PHOTOS:
        _, h, w = card.architecture.input_shape
        return f"[0, 1] pixel units of the {h}×{w} image the classifier receives"
    return "pixel units, images in [0, 1]"


def sigma_warning(card: ModelCard, sigma: float) -> str | None:
    """Why smoothing ``card`` at ``sigma`` certifies less well than at its own σ (None when
    it does not): the engine's note for a denoised photo model
    (``ucan_core.zoo.denoised.sigma_note``), else the training levels the model knows."""
    denoiser = card.arch_config.get("denoiser_sigma")
    if isinstance(denoiser, (int, float)):
        note = sigma_note(float(denoiser), sigma)
        return None if note is None else note[0].upper() + note[1:] + "."
    sigma_card = float(card.noise["sigma"])
    trained = card.training.get("levels", [sigma_card])
    if sigma in trained:
        return None
    where = (f"σ = {sigma_card:g}" if len(trained) == 1
             else "σ ∈ {" + ", ".join(f"{v:g}" for v in trained) + "}")
    return (f"This model was trained at {where}. A smoothed classifier is certified best at "
            "its training σ: at another σ the base classifier errs more under noise, so p̲_A "
            "and the radius usually drop.")


def classes_of(model_id: str, count: int) -> tuple[str, ...]:
    """Class names of a bundled model (plain indices if it is gone)."""
    cards = model_cards()
    return (cards[model_id].architecture.classes if model_id in cards
            else tuple(str(i) for i in range(count)))


@st.cache_resource(show_spinner=False, max_entries=8)
def model_on(model_id: str, device: str) -> torch.nn.Module:
    """A bundled model in eval mode on ``device``; one shared read-only copy per process."""
    model, _ = load_model(model_id, device)
    return model


@st.cache_resource(show_spinner=False, max_entries=8)
def npg_on(model_id: str, device: str = "cpu") -> torch.nn.Module:
    """A bundled model's learned NPG in eval mode on ``device``; one shared copy per process."""
    generator = model_card(model_id).load_npg(device)
    if generator is None:
        raise UcanError(f"model {model_id} has no learned noise generator")
    return generator


def noise_source(model_id: str, choice: NoiseChoice, device: str = "cpu") -> NoiseSource:
    """The smoothing noise of bundled model ``model_id`` at any input with the density, σ and
    parameters of ``choice``: the model's learned NPG when ``choice.npg`` is
    :data:`~app.choices.LEARNED`, else the fixed noise of ``choice`` (isotropic or
    pattern-fixed). UcanError for a bad noise."""
    card = model_card(model_id)
    generator = npg_on(model_id, device) if choice.npg == LEARNED else None
    return NoiseSource.of_model(model_id, card.noise, card.architecture.input_shape, generator,
                                density=choice.density, sigma=choice.sigma,
                                params=dict(choice.params), device=device,
                                **choice.fixed_npg())


def learned_model(npg: str, sigma: float) -> str:
    """The bundled model whose ``npg`` generator was trained at the σ nearest to ``sigma``."""
    cards = {model_id: card for model_id, card in model_cards().items() if card.npg == npg}
    if not cards:
        raise UcanError(f"no bundled model with a learned {npg} noise generator")
    return min(cards, key=lambda m: (abs(float(cards[m].noise["sigma"]) - sigma), m))


def estimator_cards() -> dict[str, EstimatorCard]:
    """The bundled Dual RS σ-estimators by id (``assets/models/estimators/``; the routing
    selectors stored beside them, whose cards have a ``menu``, are left out)."""
    return {k: card for k, card in list_estimators().items() if not card.menu}


def selector_cards() -> dict[str, EstimatorCard]:
    """The bundled routing selectors by id: the cards in ``assets/models/estimators/`` with a
    ``menu`` of fixed configurations."""
    return {k: card for k, card in list_estimators().items() if card.menu}


@st.cache_resource(show_spinner=False, max_entries=4)
def dual_on(estimator_id: str, expert_ids: tuple[str, ...], device: str
            ) -> DualSmoothedClassifier:
    """Dual RS from a bundled σ-estimator and one bundled expert per level, on ``device``;
    the engine refuses mismatched models with a UcanError (nothing is cached then)."""
    dual, _ = load_dual(estimator_id, list(expert_ids), device)
    return dual


@st.cache_resource(show_spinner=False, max_entries=4)
def router_on(selector_id: str, device: str) -> RoutedSmoothedClassifier:
    """The router of a bundled selector (its menu's maps and models) on ``device``."""
    router, _ = load_router(selector_id, device)
    return router


def two_stage_on(settings: TwoStageSettings, device: str) -> SelectAndCertify:
    """The cached two-stage classifier of ``settings`` on ``device``: Dual RS or a router."""
    if isinstance(settings, DualSettings):
        return dual_on(settings.estimator_id, settings.expert_ids, device)
    assert isinstance(settings, RoutingSettings)
    return router_on(settings.selector_id, device)


def check_two_stage(settings: TwoStageSettings) -> None:
    """Load (and cache) the models of ``settings``; UcanError if the engine refuses them
    (e.g. a Dual RS expert of another dataset, or with a learned NPG)."""
    two_stage_on(settings, str(resolve_device(settings.device)))


def menu_entry(selector_id: str, config: str) -> dict[str, Any]:
    """The card's description of the menu entry ``config`` of a bundled selector (name,
    model, σ, source, map statistics)."""
    return next(e for e in selector_cards()[selector_id].menu if e["name"] == config)


def menu_models(settings: TwoStageSettings, menu: tuple[Any, ...]) -> list[str]:
    """The bundled classifier of each entry of a two-stage ``menu``: the Dual RS experts (one
    per level), or the model of each routing configuration."""
    if isinstance(settings, DualSettings):
        return list(settings.expert_ids)
    assert isinstance(settings, RoutingSettings)
    models = {e["name"]: e["model"] for e in selector_cards()[settings.selector_id].menu}
    return [models[name] for name in menu]


def describe_route(settings: RoutingSettings, cert: RouteCertificate) -> list[str]:
    """The routing certificate as the engine describes it (the CLI's lines)."""
    return router_on(settings.selector_id, str(resolve_device(settings.device))).describe(cert)


def device_description(device: str) -> str:
    """What the device is, in words (GPU name for cuda)."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(resolved)})"
    if resolved.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} torch threads)"
