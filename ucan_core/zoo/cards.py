"""Model cards: what a bundled model is, how it was made and how well it does."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ucan_core.errors import UcanError
from ucan_core.io.checkpoints import load_weights
from ucan_core.npg.learned import build_generator
from ucan_core.npg.source import NoiseSource
from ucan_core.zoo.architectures import ARCHITECTURES, Architecture
from ucan_core.zoo.paths import models_dir

#: Card ``npg`` values of models that ship a learned noise parameter generator.
LEARNED_NPGS = ("universal", "input-dependent")


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

    @property
    def architecture(self) -> Architecture:
        return ARCHITECTURES[self.arch]

    @property
    def weights(self) -> Path:
        """The model's safetensors file in the bundled models folder."""
        return models_dir() / f"{self.id}.safetensors"

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
        data = json.loads(path.read_text())
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2) + "\n")
