"""Reading and writing weights safely: safetensors, or ``torch.load(weights_only=True)``."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ucan_core.errors import UcanError

MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024
#: The lines of torch's weights-only error that are advice, not the reason (one suggests
#: ``weights_only=False``, i.e. running the pickle).
_TORCH_ADVICE = ("Weights only load failed", "Please file an issue", "Check the documentation")


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
        refused = re.search(r"GLOBAL (\S+?)[\s:.]*(?:was not|whose|$)", str(error), re.MULTILINE)
        reasons = [line.strip() for line in str(error).splitlines()
                   if line.strip() and not line.startswith(_TORCH_ADVICE)]
        why = (f"its pickle calls {refused.group(1)}, which a weights-only load refuses to run"
               if refused else (reasons or [type(error).__name__])[0])
        raise UcanError(f"cannot read checkpoint {path.name} safely: {why}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UcanError(f"checkpoint {path.name} is not a state dict of tensors")
    return state


def check_state(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor],
                name: str) -> None:
    """Refuse a state dict that does not fit ``expected`` (a model's ``state_dict()``): the
    first missing, unexpected, wrongly shaped, wrongly typed (e.g. bool or int where floats
    belong) or non-finite tensor is named in one line."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        what, key = ("lacks", missing[0]) if missing else ("has an unexpected", unexpected[0])
        raise UcanError(f"checkpoint {name} does not fit the architecture: it {what} key {key!r}"
                        f" ({len(missing)} missing, {len(unexpected)} unexpected)")
    for key, want in expected.items():
        got = state[key]
        if tuple(got.shape) != tuple(want.shape):
            raise UcanError(f"checkpoint {name} does not fit the architecture: {key!r} has shape "
                            f"{tuple(got.shape)}, the model needs {tuple(want.shape)}")
        if got.dtype.is_floating_point != want.dtype.is_floating_point or got.dtype == torch.bool:
            raise UcanError(f"checkpoint {name}: {key!r} holds {got.dtype} values, the model "
                            f"needs {want.dtype}")
        if got.dtype.is_floating_point and not torch.isfinite(got).all():
            raise UcanError(f"checkpoint {name}: {key!r} holds NaN or infinite values")


def load_weights(model: nn.Module, path: str | Path, prefix: str = "") -> nn.Module:
    """Load a state dict from ``path`` (.safetensors, or .pt/.pth read with
    ``weights_only=True``) into ``model``; a state dict that does not fit (:func:`check_state`)
    raises UcanError. With ``prefix`` (e.g. ``"classifier."``) only the keys under it are
    loaded, stripped."""
    state = _read_state_dict(Path(path))
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    check_state(state, model.state_dict(), Path(path).name)
    model.load_state_dict(state, strict=True)
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
