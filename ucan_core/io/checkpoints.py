"""Reading and writing weights safely: safetensors, or ``torch.load(weights_only=True)``."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ucan_core.errors import UcanError

MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024


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


def save_npg_model(model: nn.Module, generator: nn.Module, path: str | Path) -> None:
    """Write classifier and generator to one safetensors file (prefixed keys)."""
    state = {f"{name}.{k}": v.detach().cpu().contiguous()
             for name, module in (("classifier", model), ("npg", generator))
             for k, v in module.state_dict().items()}
    save_file(state, str(path))
