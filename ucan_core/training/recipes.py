"""Training recipes: a bundled model from data to weights and a reproducible card.

Each recipe loads its data, trains, measures on held-out images and writes
``OUT/ID.safetensors`` with its card ``OUT/ID.json`` (training set, schedule, metrics and the
command that reproduces it). Base classifiers (Cohen et al.'s Gaussian data augmentation,
optionally one expert for every Dual RS level), classifiers trained jointly with a learned
NPG (UCAN), Dual RS σ-estimators and routing selectors. Metrics are measured on images the
model was not trained on: the test set for classifiers, the next training images for the
estimators and selectors (the test set is not used).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ucan_core.checks import check_count
from ucan_core.devices import resolve_device
from ucan_core.errors import UcanError
from ucan_core.io.datasets import load_dataset
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import make_noise
from ucan_core.training.classifier import TrainConfig
from ucan_core.zoo.architectures import ARCHITECTURES
from ucan_core.zoo.cards import ModelCard

Printer = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


@dataclass(frozen=True)
class Run:
    """Where a training run writes (``out``/``id``) and how it trains: the classifier's
    schedule (``epochs``, ``batch``, ``lr``), ``seed``, ``device`` (auto, cpu, cuda, mps or a
    torch device), the dataset folder, the
    reproducing ``command`` for the card, and ``log`` for its progress lines."""

    id: str
    out: str | Path = "assets/models"
    epochs: int = 10
    batch: int = 128
    lr: float = 0.05
    seed: int = 0
    device: str | torch.device = "cpu"
    data_root: str | Path = "data"
    download: bool = False
    command: str = ""
    log: Printer = _stderr

    @property
    def config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch, lr=self.lr, seed=self.seed)

    def load(self, dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        return load_dataset(dataset, self.data_root, split, download=self.download)


@dataclass(frozen=True)
class NPGOptions:
    """A learned NPG trained jointly with the classifier (UCAN §4.2–4.3): ``kind``
    universal or input-dependent, |μ| ≤ ``gamma_mu``, ``s_min`` ≤ s ≤ ``gamma_s``, the
    variance loss and its weight, noise ``draws`` per image and step, the NPG's learning rate,
    ``val`` held-out training images for model selection, and the network's size
    (``width`` channels, input-dependent; ``hidden`` widths, universal)."""

    kind: str
    gamma_mu: float = 0.25
    gamma_s: float = 2.0
    s_min: float = 0.1
    variance_loss: str = "mean"
    variance_weight: float = 0.2
    draws: int = 2
    npg_lr: float = 1e-3
    val: int = 5000
    width: int = 16
    hidden: tuple[int, ...] = (16, 32, 64, 128)


def init_from(model: nn.Module, arch: str, source_id: str | None) -> str:
    """Load bundled model ``source_id``'s weights into ``model`` (an ``arch``); what the card
    says of the start."""
    from ucan_core.zoo.bundled import load_model

    if not source_id:
        return "random (from scratch)"
    source, source_card = load_model(source_id)
    if source_card.arch != arch:
        raise UcanError(f"--init-from {source_id} is a {source_card.arch}, not {arch}")
    model.load_state_dict(source.state_dict())
    seen = source_card.training.get("images")
    return (f"fine-tuned from bundled model {source_id} (trained on {seen} "
            f"{source_card.training.get('split', 'train')} images)")


def save_model(run: Run, model: nn.Module, card: Any) -> dict[str, Any]:
    """Write ``OUT/ID.safetensors`` and the card (with the reproducing command); the id and
    metrics."""
    from ucan_core.io.checkpoints import save_weights

    out = Path(run.out)
    out.mkdir(parents=True, exist_ok=True)
    save_weights(model, out / f"{run.id}.safetensors")
    card.command = run.command
    card.write(out / f"{run.id}.json")
    return {"id": run.id, **card.metrics}


def train_model(run: Run, dataset: str, arch: str, noise: str, sigma: float,
                params: dict[str, float] | None = None, *, source: str | None = None,
                train_images: int = 0, levels: Sequence[float] | None = None,
                npg: NPGOptions | None = None) -> dict[str, Any]:
    """``ucan train``: an ``arch`` classifier trained on ``dataset`` with ``noise`` (σ,
    ``params``) augmentation, from bundled model ``source``'s weights if given, on the first
    ``train_images`` training images (0: all); with ``levels`` the noise level is drawn per
    image (one expert for every Dual RS level), with ``npg`` a learned NPG is trained
    jointly. Returns the id and test metrics."""
    from ucan_core.training.classifier import MixedLevels, accuracy, train_classifier
    from ucan_core.two_stage.selectors import check_levels
    from ucan_core.zoo.architectures import build_model

    params = dict(params or {})
    device = resolve_device(run.device)
    torch.manual_seed(run.seed)
    architecture = ARCHITECTURES[arch]
    x_train, y_train = run.load(dataset, "train")
    x_test, y_test = run.load(dataset, "test")
    if train_images:
        x_train, y_train = x_train[:train_images], y_train[:train_images]
    base = make_noise(noise, sigma, math.prod(architecture.input_shape), device=device,
                      **params)
    model = build_model(arch)
    init = init_from(model, arch, source)
    if npg is not None and npg.kind != "isotropic":
        if levels:
            raise UcanError("--levels trains an isotropic classifier for Dual RS; it does not "
                            "combine with --npg")
        return _train_with_npg(run, dataset, arch, npg, model, base, init, source,
                               (x_train, y_train), (x_test, y_test))
    levels = check_levels(levels) if levels else ()
    if levels and sigma not in levels:
        raise UcanError(f"--sigma {sigma:g} (the card's level) must be one of --levels")
    losses = train_classifier(model, x_train, y_train,
                              MixedLevels(base, levels) if levels else base, run.config,
                              log=run.log)
    metrics = {"split": "test", "images": len(x_test),
               "clean_accuracy": accuracy(model, x_test, y_test),
               "noisy_accuracy": accuracy(model, x_test, y_test, base, seed=run.seed)}
    training = {"split": "train", "images": len(x_train), "init": init, "epochs": run.epochs,
                "batch": run.batch, "lr": run.lr, "seed": run.seed, "optimizer":
                "SGD nesterov, momentum 0.9, wd 5e-4, one-cycle", "final_loss": losses[-1]}
    how = f"{base.title} noise sigma={base.sigma:g}"
    if levels:
        training["levels"] = list(levels)
        metrics["noisy_accuracy_per_level"] = {
            f"{level:g}": metrics["noisy_accuracy"] if level == base.sigma else accuracy(
                model, x_test, y_test, make_noise(noise, level, base.dim, device=device,
                                                  **params), seed=run.seed)
            for level in levels}
        how = (f"{base.title} noise at a level drawn per image from "
               f"{', '.join(f'{v:g}' for v in levels)} (one expert for every Dual RS level; "
               f"card level sigma={base.sigma:g})")
    card = ModelCard(
        id=run.id, arch=arch, dataset=dataset, noise=base.describe(),
        training=training, metrics=metrics,
        description=f"{arch} trained on {dataset} with {how} "
                    "(Gaussian data augmentation, Cohen et al. 2019)")
    return save_model(run, model, card)


def _train_with_npg(run: Run, dataset: str, arch: str, npg: NPGOptions, model: nn.Module,
                    base: Noise, init: str, source: str | None,
                    train: tuple[torch.Tensor, torch.Tensor],
                    test: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
    """Classifier and NPG trained jointly (UCAN §4.2–4.3), selected on the last ``npg.val``
    training images, scored on the test set."""
    from ucan_core.io.checkpoints import save_npg_model
    from ucan_core.npg.learned import make_generator
    from ucan_core.training.npg import evaluate_npg, train_with_npg

    architecture = ARCHITECTURES[arch]
    if source:
        init = (f"classifier {init}: the validation images here may have been seen by the "
                "initial classifier; NPG from scratch")
    options: dict[str, Any] = {"s_min": npg.s_min}
    if npg.kind == "universal":
        options["hidden"] = tuple(npg.hidden)
    else:
        options["width"] = npg.width
    generator = make_generator(npg.kind, architecture.input_shape, npg.gamma_mu, npg.gamma_s,
                               **options)
    result = train_with_npg(model, generator, *train, base, run.config, npg.variance_loss,
                            npg.variance_weight, draws=npg.draws, npg_lr=npg.npg_lr,
                            val_size=npg.val, log=run.log)
    metrics = {"split": "test", "images": len(test[0]),
               **evaluate_npg(model, generator, *test, base, seed=run.seed)}
    out = Path(run.out)
    out.mkdir(parents=True, exist_ok=True)
    save_npg_model(model, generator, out / f"{run.id}.safetensors")
    npg_config = {**generator.config(), "variance_loss": npg.variance_loss,
                  "variance_weight": npg.variance_weight, "draws": npg.draws,
                  "npg_lr": npg.npg_lr}
    selected = result.validation[result.best_epoch - 1] if result.validation else {}
    soundness = ("certificates are input-dependent: they cover the classifier frozen at the "
                 "certified input, not the deployed one" if generator.input_dependent else
                 "input-independent noise: certificates are sound")
    card = ModelCard(
        id=run.id, arch=arch, dataset=dataset, noise=base.describe(), npg=npg.kind,
        npg_config=npg_config,
        training={"split": "train", "images": result.train_images,
                  "validation": {"images": result.val_images,
                                 "rows": f"training images {result.train_images}.."
                                         f"{result.train_images + result.val_images - 1} "
                                         f"(the last {result.val_images} used)",
                                 "selection": result.selection, "best_epoch": result.best_epoch,
                                 "selected": selected},
                  "init": init, "epochs": run.epochs, "batch": run.batch, "lr": run.lr,
                  "npg_lr": npg.npg_lr, "seed": run.seed,
                  "optimizer": "classifier SGD nesterov, momentum 0.9, wd 5e-4; NPG Adam; "
                               "one-cycle schedules",
                  "loss": f"smoothing CE over {npg.draws} draw(s) - {npg.variance_weight:g} * "
                          f"{npg.variance_loss}(s)",
                  "final_loss": result.losses[-1],
                  "final_smoothing_loss": result.smoothing_losses[-1]},
        metrics=metrics,
        command=run.command,
        description=f"{arch} trained jointly with a {npg.kind} NPG (UCAN) on {dataset}: "
                    f"noise x + mu + s*eps, eps {base.title} sigma={base.sigma:g}, "
                    f"s in [{npg.s_min:g}, {npg.gamma_s:g}], |mu| <= {npg.gamma_mu:g}; "
                    f"{soundness}. noisy_accuracy: one draw of the learned noise per test image.")
    card.write(out / f"{run.id}.json")
    return {"id": run.id, **metrics}


def train_estimator(run: Run, dataset: str, experts: Sequence[str], levels: Sequence[float],
                    sigma_e: float, *, train_images: int = 10_000, val_images: int = 2000,
                    samples: int = 16, temperature: float = 0.1,
                    source: str | None = None) -> dict[str, Any]:
    """``ucan train-estimator``: a Dual RS σ-estimator over ``levels``, soft labels from the
    ``experts``' votes (one bundled model per level, or one for all) on ``samples`` noisy
    copies of the first ``train_images`` training images, trained under N(0, σ_e²I)
    (from bundled model ``source``'s body if given), metrics on the next ``val_images``."""
    from ucan_core.training.classifier import accuracy
    from ucan_core.two_stage.selectors import (
        EstimatorCard,
        build_estimator,
        check_levels,
        check_sigma_e,
        radius_estimates,
        soft_labels,
    )
    from ucan_core.two_stage.selectors import train_estimator as fit_estimator
    from ucan_core.zoo.bundled import load_model

    levels = check_levels(levels)
    sigma_e = check_sigma_e(sigma_e, levels)
    ids = list(experts)
    if len(ids) not in (1, len(levels)):
        raise UcanError(f"--experts: give one model per level ({len(levels)}) or one for all")
    train_n, val_n = check_count("--train-images", train_images), check_count(
        "--val-images", val_images)
    check_count("--samples", samples)
    device = resolve_device(run.device)
    torch.manual_seed(run.seed)
    loaded = [load_model(i, device) for i in ids] * (len(levels) if len(ids) == 1 else 1)
    models, first = [m for m, _ in loaded], loaded[0][1]
    if any(c.dataset != dataset or c.arch != first.arch for _, c in loaded):
        raise UcanError(f"--experts must all be {first.arch} models for {dataset}")
    x, y = run.load(dataset, "train")
    if train_n + val_n > len(x):
        raise UcanError(f"--train-images + --val-images exceed the {len(x)} training images")
    classes = first.architecture.num_classes
    radii = radius_estimates(models, levels, x[:train_n], y[:train_n], classes, samples,
                             seed=run.seed, log=run.log)
    body = load_model(source, device)[0] if source else None
    estimator = build_estimator(first.arch, len(levels), body).to(device)
    losses = fit_estimator(estimator, x[:train_n], soft_labels(radii, temperature), sigma_e,
                           run.config, run.log)
    val_x, val_y = x[train_n:train_n + val_n], y[train_n:train_n + val_n]
    best = radius_estimates(models, levels, val_x, val_y, classes, samples,
                            seed=run.seed + len(levels), log=run.log).argmax(1)
    with torch.inference_mode():
        picks = estimator.eval()(val_x.to(device)).argmax(1).cpu()
    noise_e = make_noise("gaussian", sigma_e, val_x[0].numel(), device=device)

    def shares(index: torch.Tensor) -> dict[str, float]:
        return {f"{s:g}": float((index == i).double().mean()) for i, s in enumerate(levels)}

    metrics = {"split": "train", "images": val_n,
               "rows": f"training images {train_n}..{train_n + val_n - 1} (held out)",
               "best_level_share": shares(best), "selected_share": shares(picks),
               "agreement_clean": accuracy(estimator, val_x, best),
               "agreement_noisy": accuracy(estimator, val_x, best, noise_e, seed=run.seed)}
    card = EstimatorCard(
        id=run.id, arch=first.arch, dataset=dataset, noise=noise_e.describe(),
        levels=list(levels), sigma_e=sigma_e, experts=ids,
        training={"split": "train", "images": train_n, "rows": f"training images 0..{train_n - 1}",
                  "labels": f"softmax_i(R_i / {temperature:g}), R_i = sigma_i * "
                            f"Phi^-1((k_i + 1/2) / ({samples} + 1)), k_i = votes of expert "
                            f"i for the label on {samples} noisy copies",
                  "init": f"{source} (all but the last layer)" if source else "random",
                  "epochs": run.epochs, "batch": run.batch,
                  "lr": run.lr, "seed": run.seed, "noise": f"Gaussian sigma_e={sigma_e:g}",
                  "optimizer": "SGD nesterov, momentum 0.9, wd 5e-4, one-cycle",
                  "final_loss": losses[-1]},
        metrics=metrics,
        description=f"Dual RS sigma-estimator over levels {', '.join(map(str, levels))} "
                    f"(smoothed with Gaussian sigma_e={sigma_e:g}); agreement: argmax vs the "
                    "level with the largest estimated radius on held-out training images")
    return save_model(run, estimator, card)


def train_selector(run: Run, dataset: str, menu: Sequence[str], sigma_s: float, *,
                   measure: str = "radius", kappa: float = 1.0, iota: float = 1.0,
                   train_images: int = 4000, val_images: int = 1000, samples: int = 8,
                   temperature: float = 0.1, source: str | None = None) -> dict[str, Any]:
    """``ucan train-selector``: a routing selector over the ``menu`` specs (``KIND=MODEL``,
    :func:`~ucan_core.two_stage.routing.train_selector`), labels and clusters from the first
    ``train_images`` training images, metrics on the next ``val_images``."""
    from ucan_core.two_stage.menu import build_menu
    from ucan_core.two_stage.routing import train_selector as fit_selector
    from ucan_core.zoo.bundled import load_model

    train_n = check_count("--train-images", train_images)
    val_n = check_count("--val-images", val_images)
    device = resolve_device(run.device)
    torch.manual_seed(run.seed)
    x, y = run.load(dataset, "train")
    entries = build_menu(menu, x[:train_n], kappa, iota, run.seed, device)
    init = (source, load_model(source, device)[0]) if source else None
    bundle, card = fit_selector(entries, measure, sigma_s, x, y, train_n, val_n, samples,
                                temperature, run.config, run.id, init, device, log=run.log)
    return save_model(run, bundle, card)
