"""The smoothing noise of a model at an input: isotropic, pattern-fixed or learned.

:class:`NoiseSource` is THE one way to get "the smoothing noise of bundled model M at input
x": a fixed noise (isotropic or pattern-fixed, the same at every input), or the model's
learned NPG evaluated at x (universal: the same maps at every x; input-dependent: maps
computed from x, certificates then cover only the classifier frozen at x).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ucan_core.checks import check_choice
from ucan_core.errors import UcanError
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import make_noise
from ucan_core.norms import norm_label, parse_norm
from ucan_core.npg.learned import smoothing_noise
from ucan_core.npg.pattern import pattern_scale_map

NPG_CHOICES = ("isotropic", "pattern")


def build_noise(name: str, sigma: float, input_shape: tuple[int, int, int], /, *,
                npg: str = "isotropic",
                pattern_norm: float | str = 2, kappa: float = 1.0, iota: float = 1.0,
                device: str | torch.device | None = None,
                **params: float) -> Noise:
    """The fixed smoothing noise for inputs of ``input_shape`` (C, H, W): isotropic, or
    anisotropic with a pattern-fixed scale map (μ = 0). ``params`` are the density's own."""
    check_choice("noise generator", npg, NPG_CHOICES)
    base = make_noise(name, sigma, int(math.prod(input_shape)), device=device, **params)
    if npg == "isotropic":
        return base
    scale = pattern_scale_map(*input_shape, norm=pattern_norm, kappa=kappa, iota=iota)
    label = f"pattern-l{norm_label(parse_norm(pattern_norm))}"
    return AnisotropicNoise(base, scale.to(base.device), 0.0, name=label)


@dataclass(frozen=True)
class NoiseSource:
    """x ↦ the smoothing noise at input x: ``fixed`` everywhere, or ``generator`` (a learned
    NPG) evaluated at x on the isotropic ``fixed`` base noise."""

    fixed: Noise
    input_shape: tuple[int, int, int]
    generator: nn.Module | None = None
    model_id: str = ""

    @classmethod
    def of_model(cls, model_id: str, card_noise: Mapping[str, object],
                 input_shape: tuple[int, int, int], generator: nn.Module | None, *,
                 density: str | None = None, sigma: float | None = None,
                 params: Mapping[str, float] | None = None, npg: str = "isotropic",
                 pattern_norm: float | str = 2, kappa: float = 1.0, iota: float = 1.0,
                 device: str | torch.device = "cpu") -> NoiseSource:
        """The noise of a model: its card's density, σ and parameters unless overridden
        (a new ``density`` drops the card's parameters), its learned NPG ``generator`` if
        it has one, else isotropic or pattern-fixed noise (``npg``)."""
        name = density or str(card_noise["name"])
        level = float(sigma) if sigma is not None else float(card_noise["sigma"])  # type: ignore[arg-type]
        own = dict(card_noise.get("params", {}) or {}) if density is None else {}  # type: ignore[call-overload]
        extra = {**own, **dict(params or {})}
        if generator is None:
            noise = build_noise(name, level, input_shape, npg=npg, pattern_norm=pattern_norm,
                                kappa=kappa, iota=iota, device=device, **extra)
            return cls(noise, tuple(input_shape), None, model_id)
        if npg != "isotropic":
            raise UcanError(f"model {model_id} has a learned {generator.kind} NPG; "
                            f"--npg {npg} applies to isotropic models only")
        base = make_noise(name, level, math.prod(input_shape), device=device, **extra)
        return cls(base, tuple(input_shape), generator, model_id)

    @property
    def input_dependent(self) -> bool:
        """Whether the noise is computed from each input (its certificates: frozen noise)."""
        return bool(self.generator is not None and self.generator.input_dependent)

    @property
    def npg(self) -> str:
        """The NPG vocabulary's name of this source's noise."""
        return self.generator.kind if self.generator is not None else self.fixed.npg

    def at(self, x: torch.Tensor | None = None) -> Noise:
        """The smoothing noise at input ``x`` (one example, C×H×W); ``x`` may be omitted
        unless the noise is input-dependent."""
        if self.generator is None:
            return self.fixed
        if x is None:
            if self.input_dependent:
                raise UcanError(f"model {self.model_id} has an input-dependent NPG: its noise "
                                "is computed from each input")
            x = torch.zeros(self.input_shape)
        return smoothing_noise(self.generator, self.fixed, x)
