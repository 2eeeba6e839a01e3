"""The menu of noise configurations that a router selects from (isotropic, pattern, learned,
clusters of a frozen input-dependent NPG).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ucan_core.checks import check_choice, check_count
from ucan_core.errors import UcanError
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.catalog import make_noise
from ucan_core.npg.learned import map_statistics
from ucan_core.npg.pattern import pattern_scale_map
from ucan_core.two_stage.engine import (
    check_menu,
    menu_level,
)
from ucan_core.zoo.bundled import load_npg, model_card
from ucan_core.zoo.cards import ModelCard

MENU_KINDS = ("isotropic", "pattern-l1", "pattern-l2", "pattern-linf", "universal", "clusters")


MEASURES = ("radius", "alm")


_NPG_OF_KIND = {"universal": "universal", "clusters": "input-dependent"}


@dataclass(frozen=True)
class MenuEntry:
    """One fixed configuration: ``model`` (a bundled id) classifies under
    ``shift`` + ``scale`` ⊙ N(0, ``sigma``²I); the maps have the input's shape (C, H, W);
    ``source`` says how the maps were made."""

    name: str
    model: str
    sigma: float
    scale: torch.Tensor
    shift: torch.Tensor
    source: str

    def noise(self, device: str | torch.device = "cpu") -> AnisotropicNoise:
        base = make_noise("gaussian", self.sigma, self.scale.numel(), device=device)
        return AnisotropicNoise(base, self.scale.to(device), self.shift.to(device), name=self.name)

    def card(self) -> dict[str, Any]:
        """The card's description of this entry (its maps are in the safetensors file)."""
        return {"name": self.name, "model": self.model, "sigma": self.sigma,
                "source": self.source, **map_statistics(self.scale, self.shift)}


def parse_menu_spec(text: str) -> tuple[str, int, str]:
    """``KIND=MODEL`` → (kind, number of entries, model id); KIND is one of
    :data:`MENU_KINDS`, ``clusters:K`` for K frozen clusters."""
    kind, sep, model = text.partition("=")
    if not sep or not kind or not model:
        raise UcanError(f"a menu entry is KIND=MODEL with KIND one of {', '.join(MENU_KINDS)} "
                        f"(clusters:K), got {text!r}")
    kind, _, count_text = kind.partition(":")
    count = 1
    if kind == "clusters":
        if not count_text.strip().isdigit():
            raise UcanError(f"clusters:K needs a number of clusters K, got {text!r}")
        count = check_count("clusters:K", int(count_text))
    return check_choice("menu kind", kind, MENU_KINDS), count, model


def kmeans(points: torch.Tensor, k: int, seed: int = 0, iterations: int = 100) -> torch.Tensor:
    """Lloyd's k-means with seeded k-means++ starts: the cluster index (0…k−1) of each row."""
    check_count("number of clusters", k)
    if k > len(points):
        raise UcanError(f"{k} clusters need at least {k} images, got {len(points)}")
    generator = torch.Generator().manual_seed(seed)
    centres = points[torch.randint(len(points), (1,), generator=generator)]
    for _ in range(1, k):
        weights = torch.cdist(points, centres).min(1).values ** 2 + 1e-12
        centres = torch.cat([centres, points[torch.multinomial(weights, 1, generator=generator)]])
    assign = torch.cdist(points, centres).argmin(1)
    for _ in range(iterations):
        centres = torch.stack([points[assign == j].mean(0) if (assign == j).any() else centres[j]
                               for j in range(k)])
        update = torch.cdist(points, centres).argmin(1)
        if torch.equal(update, assign):
            break
        assign = update
    return assign


def frozen_clusters(generator: nn.Module, images: torch.Tensor, k: int, seed: int = 0,
                    batch_size: int = 500) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """k fixed (scale, shift, members) from an input-dependent NPG: k-means over the images'
    log-scale maps; a cluster's scale is its members' geometric mean, its shift their mean.
    Largest cluster first."""
    device = next(generator.parameters()).device
    scales, shifts = [], []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            scale, shift = generator.eval()(images[start:start + batch_size].to(device))
            scales.append(scale.cpu().double())
            shifts.append(shift.cpu().double())
    logs, shift = torch.log(torch.cat(scales)), torch.cat(shifts)
    assign = kmeans(logs.flatten(1), k, seed)
    clusters = [(torch.exp(logs[assign == j].mean(0)).float(), shift[assign == j].mean(0).float(),
                 int((assign == j).sum())) for j in range(k)]
    return sorted(clusters, key=lambda c: -c[2])


def _menu_model(kind: str, model_id: str, shape: tuple[int, ...]) -> ModelCard:
    card = model_card(model_id)
    wanted = _NPG_OF_KIND.get(kind, "isotropic")
    if card.noise.get("name") != "gaussian" or card.npg != wanted:
        raise UcanError(f"menu kind {kind} needs a Gaussian model with {wanted} noise; "
                        f"{model_id} has {card.noise.get('name')} noise, NPG {card.npg}")
    if card.architecture.input_shape != shape:
        raise UcanError(f"{model_id} takes inputs of shape {card.architecture.input_shape}, "
                        f"the images have {shape}")
    return card


def _maps(kind: str, count: int, model_id: str, images: torch.Tensor, kappa: float,
          iota: float, seed: int, device: str | torch.device,
          ) -> list[tuple[str, torch.Tensor, torch.Tensor, str]]:
    """(name, scale, shift, source) of the entries that one menu spec makes."""
    shape = tuple(images.shape[1:])
    if kind == "isotropic":
        return [(kind, torch.ones(shape), torch.zeros(shape), "isotropic Gaussian")]
    if kind.startswith("pattern"):
        norm = kind.removeprefix("pattern-l")
        source = f"pattern-fixed NPG (UCAN 4.1), l{norm}, kappa={kappa:g}, iota={iota:g}"
        return [(kind, pattern_scale_map(*shape, norm=norm, kappa=kappa, iota=iota),
                 torch.zeros(shape), source + ", geometric mean 1")]
    generator = load_npg(model_id, device)
    if kind == "universal":
        with torch.inference_mode():
            scale, shift = generator.maps()
        return [(kind, scale.cpu(), shift.cpu(), f"universal NPG of {model_id}")]
    source = (f"input-dependent NPG of {model_id} frozen: k-means (k={count}, seed {seed}) of "
              f"log-scale maps over {len(images)} training images, cluster of {{}}; scale = "
              "geometric mean, shift = mean of its members")
    return [(f"cluster-{j + 1}", scale, shift, source.format(size))
            for j, (scale, shift, size) in enumerate(frozen_clusters(generator, images, count, seed))]


def build_menu(specs: Sequence[str], images: torch.Tensor, kappa: float = 1.0,
               iota: float = 1.0, seed: int = 0, device: str | torch.device = "cpu",
               ) -> list[MenuEntry]:
    """The menu of ``specs`` (``KIND=MODEL``, :func:`parse_menu_spec`), each entry's σ from
    its model's card; pattern maps use (``kappa``, ``iota``); clusters are computed on
    ``images`` (which should be training images) with k-means seeded by ``seed``."""
    if not specs:
        raise UcanError("the menu is empty: give at least two KIND=MODEL entries")
    shape = tuple(images.shape[1:])
    entries = []
    for text in specs:
        kind, count, model_id = parse_menu_spec(text)
        sigma = float(_menu_model(kind, model_id, shape).noise["sigma"])
        entries += [MenuEntry(name, model_id, sigma, scale.float().reshape(shape).contiguous(),
                              shift.float().reshape(shape).contiguous(), source)
                    for name, scale, shift, source in _maps(kind, count, model_id, images,
                                                            kappa, iota, seed, device)]
    check_menu([e.name for e in entries])
    return entries


def measure_factor(noise: AnisotropicNoise, measure: str) -> float:
    """c with (measure) = c·Φ⁻¹(p_A): σ·min s_i for the ℓ2 radius, σ·(∏ s_i)^{1/d} for the ALM."""
    if check_choice("measure", measure, MEASURES) == "radius":
        return noise.sigma * float(noise.scale.min())
    return menu_level(noise)
