"""Model cards: what a bundled model is, how it was made and how well it does."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from ucan_core.errors import UcanError
from ucan_core.io.checkpoints import load_weights
from ucan_core.npg.learned import build_generator
from ucan_core.npg.source import NoiseSource
from ucan_core.zoo.architectures import ARCHITECTURES, Architecture
from ucan_core.zoo.paths import models_dir

CardT = TypeVar("CardT", bound="ModelCard")
#: Card ``npg`` values of models that ship a learned noise parameter generator.
LEARNED_NPGS = ("universal", "input-dependent")


LOG = logging.getLogger("ucan_core")


def read_cards(folder: Path, card_type: type[CardT]) -> dict[str, CardT]:
    """The cards ``folder/*.json`` by id; a malformed card is skipped with a one-line
    warning on the ``ucan_core`` logger, so one bad file cannot break the others."""
    cards = {}
    for path in sorted(folder.glob("*.json")):
        try:
            cards[path.stem] = card_type.read(path)
        except UcanError as error:
            LOG.warning("skipped: %s", error)
    return cards


@dataclass
class ModelCard:
    """What a bundled model is, how it was made and how well it does."""

    id: str
    arch: str
    dataset: str
    noise: dict[str, Any]
    npg: str = "isotropic"
    npg_config: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    description: str = ""
    #: Keyword arguments of the architecture's builder (e.g. a denoiser's noise level).
    arch_config: dict[str, Any] = field(default_factory=dict)
    #: The weights file in the bundled models folder when several cards share one
    #: (default: ``<id>.safetensors``).
    weights_file: str = ""

    @property
    def architecture(self) -> Architecture:
        return ARCHITECTURES[self.arch]

    @property
    def weights(self) -> Path:
        """The model's safetensors file in the bundled models folder."""
        return models_dir() / (self.weights_file or f"{self.id}.safetensors")

    def load_npg(self, device: str | torch.device = "cpu") -> nn.Module | None:
        """The model's learned NPG in eval mode on ``device``; None for fixed noise.

        One safetensors file holds both networks: keys ``classifier.*`` and ``npg.*``; the
        card's ``npg`` and ``npg_config`` rebuild the generator."""
        if self.npg not in LEARNED_NPGS:
            return None
        generator = build_generator(self.npg_config)
        if generator.kind != self.npg:
            raise UcanError(f"model card {self.id}: npg {self.npg!r} but npg_config builds "
                            f"{generator.kind!r}")
        load_weights(generator, self.weights, "npg.")
        return generator.to(device).eval()

    def noise_source(self, device: str | torch.device = "cpu", **overrides: Any) -> NoiseSource:
        """The model's smoothing noise at any input (:meth:`NoiseSource.of_model`; its learned
        NPG loaded once here); ``overrides`` as there (density, sigma, params, npg, …)."""
        return NoiseSource.of_model(self.id, self.noise, self.architecture.input_shape,
                                    self.load_npg(device), device=device, **overrides)

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        """The card in ``path``; a malformed one raises a one-line UcanError naming it."""
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise UcanError(f"model card {path.name} is not readable JSON: {error}") from None
        if not isinstance(data, dict):
            raise UcanError(f"model card {path.name} is not a JSON object")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        missing = [k for k in ("id", "arch", "dataset", "noise") if k not in known]
        if missing:
            raise UcanError(f"model card {path.name} lacks {missing[0]!r}")
        card = cls(**known)
        card.check(path.name)
        return card

    def check(self, name: str) -> None:
        """Types and values the loaders rely on; a bad one raises UcanError naming it."""
        for key in ("id", "arch", "dataset", "npg", "weights_file"):
            if not isinstance(getattr(self, key), str):
                raise UcanError(f"model card {name}: {key!r} must be a string")
        if self.weights_file and Path(self.weights_file).name != self.weights_file:
            raise UcanError(f"model card {name}: weights_file must be a file name in the "
                            "models folder")
        if self.arch not in ARCHITECTURES:
            raise UcanError(f"model card {name}: unknown architecture {self.arch!r}")
        for key in ("noise", "npg_config", "training", "metrics", "arch_config"):
            if not isinstance(getattr(self, key), dict):
                raise UcanError(f"model card {name}: {key!r} must be an object")
        sigma = self.noise.get("sigma")
        if not isinstance(self.noise.get("name"), str) or isinstance(sigma, bool) \
                or not isinstance(sigma, (int, float)) or not sigma > 0:
            raise UcanError(f"model card {name}: noise needs a name and a number sigma > 0")
        if not isinstance(self.noise.get("params", {}), dict):
            raise UcanError(f"model card {name}: noise params must be an object")

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2) + "\n")
