"""Base classifiers, safe weight loading and the registry of bundled models.

Every model takes images in [0, 1] pixel space; normalisation is its first layer (as in
Cohen et al.), so smoothing noise is added before it. Weights are stored as safetensors
next to a JSON model card; user checkpoints are read with safetensors or
``torch.load(weights_only=True)`` and never unpickled as arbitrary objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ucan_core.datasets import CIFAR10_CLASSES
from ucan_core.errors import UcanError, check_choice

MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024


class NormalizeLayer(nn.Module):
    """(x − mean) / std per channel; the first layer of every model."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def mnist_cnn() -> nn.Module:
    """A LeNet-size CNN for 1×28×28 inputs (2 conv 5×5 + 2 dense layers, ≈ 0.2 M weights)."""
    return nn.Sequential(
        NormalizeLayer((0.1307,), (0.3081,)),
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


class BasicBlock(nn.Module):
    """conv3×3–BN–ReLU–conv3×3–BN plus a (1×1 conv–BN when the shape changes) shortcut."""

    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False), nn.BatchNorm2d(outputs),
            nn.ReLU(), nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False), nn.BatchNorm2d(outputs))
        self.shortcut = nn.Identity() if stride == 1 and inputs == outputs else nn.Sequential(
            nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def cifar_resnet(depth: int) -> nn.Module:
    """The CIFAR ResNet of He et al. (2016): depth 6n + 2, stages of 16/32/64 channels."""
    blocks = (depth - 2) // 6
    layers: list[nn.Module] = [NormalizeLayer((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
                               nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    channels = 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(blocks):
            layers.append(BasicBlock(channels, width, 2 if stage and not block else 1))
            channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class Architecture:
    """How to build a model and what it expects."""

    build: Callable[[], nn.Module]
    input_shape: tuple[int, int, int]
    num_classes: int
    classes: tuple[str, ...]


ARCHITECTURES: dict[str, Architecture] = {
    "mnist_cnn": Architecture(mnist_cnn, (1, 28, 28), 10, tuple(str(i) for i in range(10))),
    "cifar_resnet8": Architecture(lambda: cifar_resnet(8), (3, 32, 32), 10, CIFAR10_CLASSES),
    "cifar_resnet20": Architecture(lambda: cifar_resnet(20), (3, 32, 32), 10, CIFAR10_CLASSES),
}


def build_model(arch: str) -> nn.Module:
    """A freshly initialised model of architecture ``arch``."""
    return ARCHITECTURES[check_choice("architecture", arch, ARCHITECTURES)].build()


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise UcanError(f"checkpoint not found: {path}")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise UcanError(f"checkpoint {path.name} is larger than {MAX_CHECKPOINT_BYTES >> 20} MB")
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt file, or a pickle with arbitrary objects
        raise UcanError(f"cannot read checkpoint {path.name} safely: {error}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UcanError(f"checkpoint {path.name} is not a state dict of tensors")
    return state


def load_weights(model: nn.Module, path: str | Path, prefix: str = "") -> nn.Module:
    """Load a state dict from ``path`` (.safetensors, or .pt/.pth read with
    ``weights_only=True``) into ``model``; shape or key mismatches raise UcanError.
    With ``prefix`` (e.g. ``"classifier."``) only the keys under it are loaded, stripped."""
    state = _read_state_dict(Path(path))
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise UcanError(f"checkpoint {Path(path).name} does not fit the architecture: {first}") from None
    return model


def save_weights(model: nn.Module, path: str | Path) -> None:
    """Write the model's state dict as safetensors."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path))


def assets_dir() -> Path:
    """The bundled ``assets/`` folder of the repository."""
    return Path(__file__).resolve().parent.parent / "assets"


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

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        data = json.loads(path.read_text())
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2) + "\n")


def models_dir() -> Path:
    return assets_dir() / "models"


def list_models() -> dict[str, ModelCard]:
    """The bundled models, by id (cards in ``assets/models/*.json``)."""
    return {p.stem: ModelCard.read(p) for p in sorted(models_dir().glob("*.json"))}


def model_card(model_id: str) -> ModelCard:
    """The card of a bundled model; an unknown id raises UcanError."""
    cards = list_models()
    return cards[check_choice("model", model_id, cards)]


def load_model(model_id: str, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelCard]:
    """A bundled model in eval mode on ``device``, with its card."""
    card = model_card(model_id)
    prefix = "classifier." if card.npg in LEARNED_NPGS else ""
    model = load_weights(build_model(card.arch), models_dir() / f"{model_id}.safetensors", prefix)
    return model.to(device).eval(), card


# ---- models with a learned noise parameter generator (UCAN §4.2–4.3) ------------------------
# One safetensors file holds both networks: keys ``classifier.*`` and ``npg.*``; the card's
# ``npg`` ("universal" / "input-dependent") and ``npg_config`` rebuild the generator.

LEARNED_NPGS = ("universal", "input-dependent")


def save_npg_model(model: nn.Module, generator: nn.Module, path: str | Path) -> None:
    """Write classifier and generator to one safetensors file (prefixed keys)."""
    state = {f"{name}.{k}": v.detach().cpu().contiguous()
             for name, module in (("classifier", model), ("npg", generator))
             for k, v in module.state_dict().items()}
    save_file(state, str(path))


def load_npg(model_id: str, device: str | torch.device = "cpu") -> nn.Module | None:
    """The learned NPG of a bundled model in eval mode on ``device``; None when the model
    has none (isotropic noise)."""
    from ucan_core.generators import build_generator

    card = model_card(model_id)
    if card.npg not in LEARNED_NPGS:
        return None
    generator = build_generator(card.npg_config)
    if generator.kind != card.npg:
        raise UcanError(f"model card {model_id}: npg {card.npg!r} but npg_config builds "
                        f"{generator.kind!r}")
    load_weights(generator, models_dir() / f"{model_id}.safetensors", "npg.")
    return generator.to(device).eval()
