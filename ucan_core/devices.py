"""Choosing the torch device: ``auto`` picks cuda, then mps, then cpu."""

from __future__ import annotations

import torch

from ucan_core.errors import UcanError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> list[str]:
    """Devices usable on this machine, best first."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → the best available device; otherwise check that ``name`` is available."""
    choice = str(name).strip().lower()
    if choice == "auto":
        return torch.device(available_devices()[0])
    if choice.split(":")[0] not in DEVICE_CHOICES[1:]:
        raise UcanError(f"unknown device {name!r}; choose one of: {', '.join(DEVICE_CHOICES)}")
    if choice.split(":")[0] not in available_devices():
        raise UcanError(f"device {name!r} is not available here (available: "
                        f"{', '.join(available_devices())})")
    return torch.device(choice)
