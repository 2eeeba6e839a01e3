"""Learned noise parameter generators (NPGs) of UCAN (Hong et al., §4.2–4.3, Appendix E).

An NPG maps an input batch x (B×C×H×W, pixels in [0, 1]) to a pair of maps with the
input's shape,

* ``shift`` μ — the mean offset, in pixel units: μ = γ_μ · tanh(z_μ), so |μ_i| ≤ γ_μ;
* ``scale`` s — the dimensionless multiplier of the base noise (coordinate i gets standard
  deviation s_i·σ): s = s_min + (γ_s − s_min) · (1 + tanh(z_s)) / 2, so
  **s_min ≤ s_i ≤ γ_s** (strictly inside in exact arithmetic; float32 tanh saturates to ±1
  for |z| ≳ 9, which reaches the bounds but never 0, since s_min > 0).

The paper's "amplified tanh" γ·tanh(·) bounds the maps so that training cannot blow the
variance up; its official code then takes |γ·tanh| for the scale, which can reach 0 (a
zero-width coordinate makes the ℓp radius min s_i·R vanish). The affine form above keeps
the same role of γ (the upper bound on s) and adds the floor s_min > 0.

The smoothing noise for an input x is ``x + μ + s ⊙ ε`` with ε from an isotropic base noise
(:class:`~ucan_core.anisotropic.AnisotropicNoise`).

Two generators:

* :class:`UniversalNPG` (dataset-wise, §4.2): two parallel MLPs from a fixed constant input,
  one map pair for the whole data set. Input-independent, so its certificates are sound.
* :class:`InputDependentNPG` (certification-wise, §4.3 and Appendix E): a cascade of two
  small dense-block conv nets, μ(x) from x and s(x) from x + μ(x). Its maps are computed
  from the certified input, so a certificate covers only the smoothed classifier *frozen*
  at that input, not the deployed one, which recomputes μ(x′), s(x′) on a perturbed x′
  (``prior-art.md`` §3.4); :func:`smoothing_noise` marks such noise ``input_dependent``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ucan_core.checks import check_choice, check_count, check_positive
from ucan_core.errors import UcanError
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.base import Noise

NEGATIVE_SLOPE = 0.2


NPG_KINDS = ("universal", "input-dependent")


def _check_shape(input_shape: Any) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise UcanError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}")
    return shape  # type: ignore[return-value]


class NoiseParameterGenerator(nn.Module):
    """Common part of the learned NPGs: the bounded output maps and the configuration.

    Subclasses implement :meth:`forward` ``(x) -> (scale, shift)``, both shaped like ``x``.
    """

    kind: str = ""
    input_dependent: bool = False

    def __init__(self, input_shape: tuple[int, int, int], gamma_mu: float, gamma_s: float,
                 s_min: float = 0.1, init_scale: float = 1.0) -> None:
        super().__init__()
        self.input_shape = _check_shape(input_shape)
        if not (isinstance(gamma_mu, (int, float)) and math.isfinite(gamma_mu) and gamma_mu >= 0):
            raise UcanError(f"gamma_mu must be a finite number >= 0, got {gamma_mu!r}")
        self.gamma_mu = float(gamma_mu)
        self.s_min = check_positive("s_min", s_min)
        self.gamma_s = check_positive("gamma_s", gamma_s)
        if self.gamma_s <= self.s_min:
            raise UcanError(f"gamma_s ({gamma_s}) must exceed s_min ({s_min}): the scale map "
                            "lies in [s_min, gamma_s]")
        self.init_scale = check_positive("init_scale", init_scale)

    # ---- output layers -------------------------------------------------------------------
    def bounded_shift(self, z: torch.Tensor) -> torch.Tensor:
        """μ = γ_μ · tanh(z) ∈ [−γ_μ, γ_μ] (pixel units)."""
        return self.gamma_mu * torch.tanh(z)

    def bounded_scale(self, z: torch.Tensor) -> torch.Tensor:
        """s = s_min + (γ_s − s_min) · (1 + tanh(z)) / 2 ∈ [s_min, γ_s]."""
        return self.s_min + (self.gamma_s - self.s_min) * 0.5 * (1.0 + torch.tanh(z))

    def scale_logit(self, value: float) -> float:
        """The pre-activation z with bounded_scale(z) = value (midpoint if out of range)."""
        u = (value - self.s_min) / (self.gamma_s - self.s_min)
        if not 0.0 < u < 1.0:
            return 0.0
        return math.atanh(2.0 * u - 1.0)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise UcanError(f"the NPG takes inputs of shape (B, {', '.join(map(str, self.input_shape))}), "
                            f"got {tuple(x.shape)}")

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this generator with :func:`build_generator`."""
        return {"class": type(self).__name__, "kind": self.kind,
                "input_shape": list(self.input_shape), "gamma_mu": self.gamma_mu,
                "gamma_s": self.gamma_s, "s_min": self.s_min, "init_scale": self.init_scale,
                "scale_range": [self.s_min, self.gamma_s], "shift_range": [-self.gamma_mu, self.gamma_mu],
                "parameters": sum(p.numel() for p in self.parameters())}


def _mlp(inputs: int, hidden: tuple[int, ...], outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.LeakyReLU(NEGATIVE_SLOPE)]
        width = h
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


def _init_output(layer: nn.Conv2d | nn.Linear, bias: float, gain: float = 0.1) -> None:
    """Small output weights and a constant bias: the NPG starts near (μ = 0, s = init_scale)."""
    with torch.no_grad():
        layer.weight.mul_(gain)
        assert layer.bias is not None
        layer.bias.fill_(bias)


class UniversalNPG(NoiseParameterGenerator):
    """Dataset-wise NPG (UCAN §4.2): one pair of maps (μ, s) for every input.

    Two parallel MLPs (one for μ, one for s) take the fixed constant input 1 and output
    C·H·W values each: ``len(hidden) + 1`` linear layers, LeakyReLU(0.2) after all but the
    last (the paper's 5 linear layers with 4 activations for the default ``hidden``),
    then the amplified tanh of :class:`NoiseParameterGenerator`. No BatchNorm: with a
    constant input, train-mode BatchNorm outputs its bias whatever the weights before it
    (the official code's generator is thereby a learned constant that only the last BN
    bias and the final layer can change, and at batch size 1 it fails in train mode).

    Since the input is constant, the MLP is a reparameterisation of two learned d-vectors
    (z_μ, z_s); it changes the optimisation dynamics, not what can be represented.
    ``forward(x)`` only uses x for its batch size and checks its shape.
    """

    kind = "universal"
    input_dependent = False

    def __init__(self, input_shape: tuple[int, int, int], gamma_mu: float, gamma_s: float,
                 hidden: tuple[int, ...] = (16, 32, 64, 128), s_min: float = 0.1,
                 init_scale: float = 1.0) -> None:
        super().__init__(input_shape, gamma_mu, gamma_s, s_min, init_scale)
        self.hidden = tuple(check_count("hidden width", int(h)) for h in hidden)
        dim = math.prod(self.input_shape)
        self.register_buffer("constant", torch.ones(1, 1), persistent=False)
        self.mean_mlp = _mlp(1, self.hidden, dim)
        self.scale_mlp = _mlp(1, self.hidden, dim)
        _init_output(self.mean_mlp[-1], 0.0)
        _init_output(self.scale_mlp[-1], self.scale_logit(self.init_scale))

    def maps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The dataset-wide (scale, shift), each of shape (C, H, W)."""
        scale = self.bounded_scale(self.scale_mlp(self.constant)).view(self.input_shape)
        shift = self.bounded_shift(self.mean_mlp(self.constant)).view(self.input_shape)
        return scale, shift

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_input(x)
        scale, shift = self.maps()
        shape = (x.shape[0], *self.input_shape)
        return scale.unsqueeze(0).expand(shape), shift.unsqueeze(0).expand(shape)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "hidden": list(self.hidden)}


class DenseGenerator(nn.Module):
    """One conv generator G of the input-dependent NPG (UCAN Appendix E), C×H×W → C×H×W.

    head conv 3×3 (C → width) → dense block: ``layers`` conv 3×3, each taking the
    concatenation of the head features and all previous layer outputs (width + i·growth
    channels → growth) followed by LeakyReLU(0.2) → 1×1 fusion conv back to ``width``
    channels, added to the head features (local residual, as in residual dense networks)
    → tail conv 3×3 (width → C). Returns the pre-activation; every parameter is used.
    """

    def __init__(self, channels: int, width: int = 16, growth: int = 16, layers: int = 4) -> None:
        super().__init__()
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.dense = nn.ModuleList(nn.Conv2d(width + i * growth, growth, 3, padding=1)
                                   for i in range(layers))
        self.fuse = nn.Conv2d(width + layers * growth, width, 1)
        self.tail = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.head(x)
        features = [head]
        for conv in self.dense:
            features.append(F.leaky_relu(conv(torch.cat(features, 1)), NEGATIVE_SLOPE))
        return self.tail(head + self.fuse(torch.cat(features, 1)))


class InputDependentNPG(NoiseParameterGenerator):
    """Certification-wise NPG (UCAN §4.3, Appendix E): a cascade of two dense-block nets.

    μ(x) = γ_μ · tanh(G₁(x)); s(x) = s_min + (γ_s − s_min)·(1 + tanh(G₂(x + μ(x))))/2.
    G₁ and G₂ are :class:`DenseGenerator` s with the same architecture (``width`` = feature
    channels = growth rate, 4 dense layers). Certificates with this noise are
    *input-dependent* (see the module docstring): they are not certificates for the
    deployed classifier.
    """

    kind = "input-dependent"
    input_dependent = True

    def __init__(self, input_shape: tuple[int, int, int], gamma_mu: float, gamma_s: float,
                 width: int = 16, s_min: float = 0.1, init_scale: float = 1.0) -> None:
        super().__init__(input_shape, gamma_mu, gamma_s, s_min, init_scale)
        self.width = check_count("width", int(width))
        channels = self.input_shape[0]
        self.mean_net = DenseGenerator(channels, self.width, self.width)
        self.scale_net = DenseGenerator(channels, self.width, self.width)
        _init_output(self.mean_net.tail, 0.0)
        _init_output(self.scale_net.tail, self.scale_logit(self.init_scale))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_input(x)
        shift = self.bounded_shift(self.mean_net(x))
        scale = self.bounded_scale(self.scale_net(x + shift))
        return scale, shift

    def config(self) -> dict[str, Any]:
        return {**super().config(), "width": self.width}


GENERATORS: dict[str, type[NoiseParameterGenerator]] = {
    "UniversalNPG": UniversalNPG, "InputDependentNPG": InputDependentNPG}


_KIND_TO_CLASS = {"universal": "UniversalNPG", "input-dependent": "InputDependentNPG"}


_ARGS = {"UniversalNPG": ("hidden",), "InputDependentNPG": ("width",)}


def make_generator(kind: str, input_shape: tuple[int, int, int], gamma_mu: float,
                   gamma_s: float, **options: Any) -> NoiseParameterGenerator:
    """A fresh generator by kind: "universal" or "input-dependent"."""
    cls = GENERATORS[_KIND_TO_CLASS[check_choice("NPG", kind, NPG_KINDS)]]
    return cls(input_shape, gamma_mu, gamma_s, **options)


def build_generator(config: dict[str, Any]) -> NoiseParameterGenerator:
    """Rebuild a generator (fresh weights) from :meth:`NoiseParameterGenerator.config`
    (e.g. a model card's ``npg_config``); keys other than the constructor's are ignored."""
    name = check_choice("NPG class", str(config.get("class")), GENERATORS)
    try:
        kwargs = {k: config[k] for k in ("gamma_mu", "gamma_s")}
        kwargs.update({k: config[k] for k in ("s_min", "init_scale", *_ARGS[name]) if k in config})
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(kwargs["hidden"])
        return GENERATORS[name](tuple(config["input_shape"]), **kwargs)
    except KeyError as error:
        raise UcanError(f"NPG config lacks {error.args[0]!r}") from None


def map_statistics(scale: torch.Tensor, shift: torch.Tensor) -> dict[str, float]:
    """min / mean / max / geometric mean of one scale map and max |μ| of its shift map."""
    s = scale.detach().double().flatten()
    return {"scale_min": float(s.min()), "scale_mean": float(s.mean()),
            "scale_max": float(s.max()), "scale_geomean": float(torch.exp(torch.log(s).mean())),
            "shift_abs_max": float(shift.detach().abs().max())}


def smoothing_noise(generator: NoiseParameterGenerator, base_noise: Noise,
                    x: torch.Tensor) -> AnisotropicNoise:
    """The anisotropic smoothing noise μ + s ⊙ ε for ONE input ``x`` (C×H×W).

    The generator runs in eval mode under ``inference_mode`` (its previous mode is
    restored). The noise is named after the generator ("universal" / "input-dependent") and
    marked ``input_dependent`` for the input-dependent NPG, so certificates made with it say
    that they do not cover the deployed classifier.
    """
    if not isinstance(x, torch.Tensor):
        raise UcanError("the input must be a torch tensor")
    if tuple(x.shape) != generator.input_shape:
        raise UcanError(f"expected one input of shape {generator.input_shape}, got {tuple(x.shape)}")
    if math.prod(generator.input_shape) != base_noise.dim:
        raise UcanError(f"the NPG makes maps of {math.prod(generator.input_shape)} values, the "
                        f"base noise has dim {base_noise.dim}")
    was_training = generator.training
    generator.eval()
    try:
        device = next(generator.parameters()).device
        with torch.inference_mode():
            scale, shift = generator(x.to(device, torch.float32).unsqueeze(0))
            scale, shift = scale[0].clone(), shift[0].clone()
    finally:
        generator.train(was_training)
    return AnisotropicNoise(base_noise, scale.to(base_noise.device), shift.to(base_noise.device),
                            name=generator.kind, input_dependent=generator.input_dependent)
