"""Joint training of a classifier and its learned noise parameter generator (UCAN §4.2–4.3)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ucan_core.certify.smoothed import Noise
from ucan_core.checks import check_choice, check_count, check_positive
from ucan_core.errors import UcanError
from ucan_core.training.classifier import TrainConfig

VARIANCE_LOSSES = ("mean", "min")


@dataclass
class NPGTrainResult:
    """What :func:`train_with_npg` did: per-epoch training losses, validation history
    (one dict per epoch) and the epoch selected on the validation split (1-based; the last
    epoch when there is no validation split)."""

    losses: list[float]
    smoothing_losses: list[float]
    validation: list[dict[str, float]]
    best_epoch: int
    train_images: int
    val_images: int
    selection: str


def _variance_term(scale: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-input mean(s) or min(s), averaged over the batch."""
    flat = scale.reshape(scale.shape[0], -1)
    per_input = flat.mean(1) if kind == "mean" else flat.min(1).values
    return per_input.mean()


def _npg_objective(model: nn.Module, generator: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   base_noise: Noise, draws: int, variance_loss: str, variance_weight: float,
                   rng: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                         torch.Tensor]:
    """(loss, smoothing CE, scale map, logits) on ``draws`` noisy copies of the batch."""
    scale, shift = generator(x)
    eps = base_noise.sample(draws * len(x), rng).view(draws, *x.shape)
    noisy = (x + shift).unsqueeze(0) + scale.unsqueeze(0) * eps
    logits = model(noisy.reshape(draws * len(x), *x.shape[1:]))
    smoothing = F.cross_entropy(logits, y.repeat(draws))
    variance = _variance_term(scale, variance_loss)
    return smoothing - variance_weight * variance, smoothing, scale, logits


def train_with_npg(model: nn.Module, generator: nn.Module, images: torch.Tensor,
                   labels: torch.Tensor, base_noise: Noise, config: TrainConfig,
                   variance_loss: str = "mean", variance_weight: float = 0.1, *,
                   draws: int = 2, npg_lr: float = 1e-3, val_size: int = 5000,
                   log: Callable[[str], None] = print) -> NPGTrainResult:
    """Train ``model`` and a learned NPG ``generator`` jointly (UCAN §4.2–4.3).

    Each batch draws ε from ``base_noise`` (``draws`` copies per image) and classifies
    x + μ + s ⊙ ε with (s, μ) = generator(x) — the same maps for every image with a
    universal NPG. Loss = smoothing cross-entropy (mean over images and draws)
    − ``variance_weight`` · V, V = mean over the batch of mean_i(s_i) (``"mean"``, the
    paper's surrogate for the ALM) or of min_i(s_i) (``"min"``, the ℓp radius min s·R).

    The classifier uses SGD (``config``: lr, momentum, weight decay, Nesterov), the
    generator Adam (``npg_lr``, no weight decay); both follow a one-cycle schedule.

    The last ``val_size`` images are held out: after every epoch the objective is measured
    on them (one seeded draw per image) and the classifier and generator of the epoch with
    the lowest validation objective are kept (``val_size=0``: the last epoch). Test data
    never enters here. Both modules end in eval mode.
    """
    check_count("epochs", config.epochs)
    check_count("batch_size", config.batch_size)
    check_positive("lr", config.lr)
    check_positive("npg_lr", npg_lr)
    check_count("draws", draws)
    check_choice("variance loss", variance_loss, VARIANCE_LOSSES)
    if not (isinstance(variance_weight, (int, float)) and math.isfinite(variance_weight)
            and variance_weight >= 0):
        raise UcanError(f"variance_weight must be a finite number >= 0, got {variance_weight!r}")
    check_count("val_size", val_size, 0)
    if val_size >= len(images):
        raise UcanError(f"val_size ({val_size}) must be smaller than the {len(images)} training images")
    train_x, train_y = images[:len(images) - val_size], labels[:len(images) - val_size]
    val_x, val_y = images[len(images) - val_size:], labels[len(images) - val_size:]

    device = base_noise.device
    model.to(device).train()
    generator.to(device).train()
    rng = torch.Generator(device=device).manual_seed(config.seed)
    order_rng = torch.Generator().manual_seed(config.seed)
    steps = config.epochs * math.ceil(len(train_x) / config.batch_size)
    model_opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=True)
    npg_opt = torch.optim.Adam(generator.parameters(), lr=npg_lr)
    schedulers = [torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                      pct_start=0.15)
                  for opt, lr in ((model_opt, config.lr), (npg_opt, npg_lr))]
    losses, smoothing_losses, history = [], [], []
    best: tuple[float, int, dict, dict] | None = None
    for epoch in range(1, config.epochs + 1):
        model.train()
        generator.train()
        began, total, total_ce = time.perf_counter(), 0.0, 0.0
        order = torch.randperm(len(train_x), generator=order_rng)
        for start in range(0, len(train_x), config.batch_size):
            index = order[start:start + config.batch_size]
            x, y = train_x[index].to(device), train_y[index].to(device)
            loss, ce, _, _ = _npg_objective(model, generator, x, y, base_noise, draws,
                                            variance_loss, variance_weight, rng)
            model_opt.zero_grad(set_to_none=True)
            npg_opt.zero_grad(set_to_none=True)
            loss.backward()
            model_opt.step()
            npg_opt.step()
            for scheduler in schedulers:
                scheduler.step()
            total += loss.item() * len(index)
            total_ce += ce.item() * len(index)
        losses.append(total / len(train_x))
        smoothing_losses.append(total_ce / len(train_x))
        line = (f"epoch {epoch}/{config.epochs}  loss {losses[-1]:.4f}  "
                f"CE {smoothing_losses[-1]:.4f}")
        if val_size:
            stats = _npg_validation(model, generator, val_x, val_y, base_noise, draws,
                                    variance_loss, variance_weight, config.batch_size,
                                    config.seed)
            history.append(stats)
            line += (f"  val objective {stats['objective']:.4f}  val noisy acc "
                     f"{stats['noisy_accuracy']:.4f}  s mean {stats['scale_mean']:.3f} "
                     f"min {stats['scale_min']:.3f}")
            if best is None or stats["objective"] < best[0]:
                best = (stats["objective"], epoch, _snapshot(model), _snapshot(generator))
        log(line + f"  {time.perf_counter() - began:.1f}s")
    best_epoch = config.epochs
    if best is not None:
        best_epoch = best[1]
        model.load_state_dict(best[2])
        generator.load_state_dict(best[3])
    model.eval()
    generator.eval()
    selection = ("lowest validation objective (CE − weight·V, one seeded draw per image) on "
                 f"the last {val_size} training images" if val_size else "last epoch")
    return NPGTrainResult(losses, smoothing_losses, history, best_epoch, len(train_x),
                          val_size, selection)


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@torch.inference_mode()
def _npg_validation(model: nn.Module, generator: nn.Module, images: torch.Tensor,
                    labels: torch.Tensor, base_noise: Noise, draws: int, variance_loss: str,
                    variance_weight: float, batch_size: int, seed: int) -> dict[str, float]:
    model.eval()
    generator.eval()
    device = base_noise.device
    rng = torch.Generator(device=device).manual_seed(seed + 1)
    objective = ce_total = correct = 0.0
    scale_mean = 0.0
    scale_min = math.inf
    for start in range(0, len(images), batch_size):
        x, y = images[start:start + batch_size].to(device), labels[start:start + batch_size].to(device)
        loss, ce, scale, logits = _npg_objective(model, generator, x, y, base_noise, 1,
                                                 variance_loss, variance_weight, rng)
        objective += loss.item() * len(x)
        ce_total += ce.item() * len(x)
        correct += int((logits.argmax(1) == y).sum())
        scale_mean += scale.reshape(len(x), -1).mean(1).sum().item()
        scale_min = min(scale_min, scale.min().item())
    n = len(images)
    return {"objective": objective / n, "smoothing_loss": ce_total / n,
            "noisy_accuracy": correct / n, "scale_mean": scale_mean / n, "scale_min": scale_min}


@torch.inference_mode()
def evaluate_npg(model: nn.Module, generator: nn.Module, images: torch.Tensor,
                 labels: torch.Tensor, base_noise: Noise, batch_size: int = 1000,
                 seed: int = 0) -> dict[str, float]:
    """Clean accuracy, accuracy under one seeded draw of the learned noise x + μ(x) + s(x)⊙ε,
    and the statistics of the maps over ``images``.

    Per image: min, mean, max and geometric mean of s, and max |μ|. Reported: their means
    over the images (``scale_min``, ``scale_mean``, ``scale_max``, ``scale_geomean``), the
    extremes over all images (``scale_min_all``, ``scale_max_all``, ``shift_abs_max``).
    For a universal NPG all images share one map, so means and extremes coincide.
    """
    model.eval()
    generator.eval()
    device = base_noise.device
    rng = torch.Generator(device=device).manual_seed(seed)
    clean = noisy = 0
    sums = {"scale_min": 0.0, "scale_mean": 0.0, "scale_max": 0.0, "scale_geomean": 0.0}
    low, high, shift_max = math.inf, -math.inf, 0.0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        y = labels[start:start + batch_size].to(device)
        scale, shift = generator(x)
        eps = base_noise.sample(len(x), rng).view_as(x)
        clean += int((model(x).argmax(1) == y).sum())
        noisy += int((model(x + shift + scale * eps).argmax(1) == y).sum())
        s = scale.reshape(len(x), -1).double()
        sums["scale_min"] += s.min(1).values.sum().item()
        sums["scale_mean"] += s.mean(1).sum().item()
        sums["scale_max"] += s.max(1).values.sum().item()
        sums["scale_geomean"] += torch.exp(torch.log(s).mean(1)).sum().item()
        low, high = min(low, s.min().item()), max(high, s.max().item())
        shift_max = max(shift_max, shift.abs().max().item())
    n = len(images)
    return {"clean_accuracy": clean / n, "noisy_accuracy": noisy / n,
            **{k: v / n for k, v in sums.items()}, "scale_min_all": low, "scale_max_all": high,
            "shift_abs_max": shift_max}
