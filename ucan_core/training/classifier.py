"""Noise-augmented training of base classifiers (Cohen et al.: train on x + ε), and joint
training of a classifier with a learned noise parameter generator (UCAN §4.2–4.3)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ucan_core.certify.smoothed import Noise
from ucan_core.checks import check_count, check_positive


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0


class MixedLevels:
    """Training noise with a noise level drawn per image, uniformly from ``levels``:
    (σ_k/σ)·ε with ε from ``noise`` (σ its level), so the image sees ``noise`` rescaled to
    σ_k. Trains one base classifier for every level of Dual RS."""

    def __init__(self, noise: Noise, levels: tuple[float, ...]) -> None:
        self.noise, self.levels, self.device = noise, levels, noise.device
        self.factors = torch.tensor(levels, device=noise.device) / noise.sigma

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        level = torch.randint(len(self.levels), (num,), generator=generator, device=self.device)
        return self.noise.sample(num, generator) * self.factors[level][:, None]


def train_classifier(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                     noise: Noise | MixedLevels, config: TrainConfig,
                     log: Callable[[str], None] = print) -> list[float]:
    """Train ``model`` with SGD (cosine schedule) on ``images + ε``, ε drawn afresh from
    ``noise`` for every batch. Returns the mean loss of each epoch."""
    check_count("epochs", config.epochs)
    check_count("batch_size", config.batch_size)
    check_positive("lr", config.lr)
    device = noise.device
    model.to(device).train()
    generator = torch.Generator(device=device).manual_seed(config.seed)
    order_generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=True)
    steps_per_epoch = math.ceil(len(images) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.15)
    losses = []
    for epoch in range(config.epochs):
        began, total = time.perf_counter(), 0.0
        order = torch.randperm(len(images), generator=order_generator)
        for start in range(0, len(images), config.batch_size):
            index = order[start:start + config.batch_size]
            x = images[index].to(device)
            eps = noise.sample(len(index), generator).view_as(x)
            loss = F.cross_entropy(model(x + eps), labels[index].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(index)
        losses.append(total / len(images))
        log(f"epoch {epoch + 1}/{config.epochs}  loss {losses[-1]:.4f}  "
            f"{time.perf_counter() - began:.1f}s")
    return losses


@torch.inference_mode()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             noise: Noise | None = None, batch_size: int = 1000, seed: int = 0) -> float:
    """Top-1 accuracy of ``model`` on ``images`` (+ one draw of ``noise`` if given)."""
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    correct = 0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        if noise is not None:
            x = x + noise.sample(len(x), generator).view_as(x)
        correct += int((model(x).argmax(1).cpu() == labels[start:start + batch_size]).sum())
    return correct / len(images)
