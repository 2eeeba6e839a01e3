"""The bundled models and images: list and load them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from ucan_core.checks import check_choice
from ucan_core.io.checkpoints import load_weights
from ucan_core.io.images import read_image
from ucan_core.zoo.architectures import build_model
from ucan_core.zoo.cards import LEARNED_NPGS, ModelCard, read_cards
from ucan_core.zoo.paths import images_dir, models_dir


def list_models() -> dict[str, ModelCard]:
    """The bundled models, by id (cards in ``assets/models/*.json``)."""
    return read_cards(models_dir(), ModelCard)


def model_card(model_id: str) -> ModelCard:
    """The card of a bundled model; an unknown id raises UcanError."""
    cards = list_models()
    return cards[check_choice("model", model_id, cards)]


def load_model(model_id: str, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelCard]:
    """A bundled model in eval mode on ``device``, with its card."""
    card = model_card(model_id)
    prefix = "classifier." if card.npg in LEARNED_NPGS else ""
    model = load_weights(build_model(card.arch, **card.arch_config), card.weights, prefix)
    return model.to(device).eval(), card


def load_npg(model_id: str, device: str | torch.device = "cpu") -> nn.Module | None:
    """The learned NPG of a bundled model in eval mode on ``device``; None when the model
    has none (fixed noise)."""
    return model_card(model_id).load_npg(device)


@dataclass(frozen=True)
class BundledImage:
    """An image shipped in ``assets/images`` with its label and provenance."""

    id: str
    file: str
    dataset: str
    label: int | None
    label_name: str
    source: str

    @property
    def path(self) -> Path:
        return images_dir() / self.file

    def load(self) -> Image.Image:
        return read_image(self.path)


def list_images() -> dict[str, BundledImage]:
    """The bundled images, by id, from ``assets/images/catalog.json``."""
    catalog = json.loads((images_dir() / "catalog.json").read_text())
    return {entry["id"]: BundledImage(**entry) for entry in catalog}
