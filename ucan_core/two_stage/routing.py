"""Sound anisotropic routing: Dual RS over a finite menu of FIXED UCAN noise configurations.

A menu entry k is a base classifier f_k with the fixed noise μ_k + s_k ⊙ N(0, σ_k²I)
(isotropic, a pattern-fixed map, a universal NPG's map, or a cluster of an input-dependent
NPG's maps frozen into one map); none depends on the input being certified. A selector h
(one output per entry), smoothed with isotropic N(0, σ_s²I), picks the entry
(:class:`~ucan_core.dual.SelectAndCertify`, each stage at α/2).

Guarantee: with probability ≥ 1 − α (union bound), the deployed router
x′ ↦ g_{sel(x′)}(x′) returns the certified class on S = B₂(x, R_sel) ∩ {x + δ : ‖δ/s_k‖₂ ≤ R},
R = σ_k Φ⁻¹(p̲) the base radius of the chosen entry. Reported:

* ℓp radius ``min(R_sel, min_i s_i·R)`` (ℓ1/ℓ∞ likewise, the smaller stage radius): a ball
  inside S;
* ``alm``: (∏_i min(s_i·R, R_sel))^{1/d}, the volume-equivalent radius (a *size*, not a
  radius) of the ellipsoid with semi-axes min(s_i·R, R_sel), which lies inside S;
* ``alm_upper`` = min(R_sel, ALM): the smaller of the two sets' sizes, compared as sizes
  (the ball's size is its radius). S is inside both, so its size is at most this — an upper
  bound on the size of S, not a certified quantity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.checks import check_choice
from ucan_core.errors import UcanError
from ucan_core.io.checkpoints import load_weights
from ucan_core.io.records import certificate_lines
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.training.classifier import TrainConfig, accuracy
from ucan_core.two_stage.engine import (
    SelectAndCertify,
    TwoStageCertificate,
    check_menu,
    combined_radii,
)
from ucan_core.two_stage.menu import MenuEntry, measure_factor
from ucan_core.two_stage.selectors import (
    EstimatorCard,
    build_estimator,
    estimators_dir,
    list_estimators,
    soft_labels,
    train_estimator,
    vote_estimates,
)
from ucan_core.zoo.bundled import load_model, model_card
from ucan_core.zoo.cards import ModelCard

ROUTE_NOTE = ("Certificate: with probability ≥ 1 − α (α/2 per stage, union bound), the smoothed "
              "selector keeps this configuration within R_sel (ℓ2) and the fixed configuration's "
              "smoothed classifier keeps the class on ‖δ/s‖₂ ≤ R, so the deployed router returns "
              "this class on their intersection; the ALM is the size of an ellipsoid inside it.")


def certified_set_alm(noise: AnisotropicNoise, p_a_lower: float, r_sel: float) -> float:
    """(∏_i min(s_i·R, R_sel))^{1/d} with R = σΦ⁻¹(p̲) (log space): the ALM of an ellipsoid
    inside B₂(R_sel) ∩ {‖δ/s‖₂ ≤ R} (semi-axes ≤ R_sel and ≤ s_i·R), so a lower bound on
    the size of the set certified for the router (module docstring)."""
    base = noise.base.radius(p_a_lower, 2).value
    axes = torch.clamp(noise.scale.double() * base, max=r_sel)
    return float(torch.exp(torch.log(axes).mean()))


@dataclass(kw_only=True)
class RouteCertificate(TwoStageCertificate):
    """Routing certificate of one input (module docstring): the selector (smoothed at
    ``sigma_sel`` = σ_s) chose the configuration ``selected`` ∈ ``menu`` ("abstain" when it
    abstains); ``radius`` = min(``r_sel``, ``r_c``); ``r_c`` and ``alm_c`` are that
    configuration's own ℓ2 radius min s_i·R and ALM."""

    target: ClassVar[str] = "routing"
    LOG_NAMES: ClassVar[dict[str, str]] = {"selected": "config", "sigma_sel": "sigma_s"}
    alm: float
    alm_c: float
    alm_upper: float
    note: str = ROUTE_NOTE


class RoutedSmoothedClassifier(SelectAndCertify[RouteCertificate]):
    """Routing over ``entries`` (output k of ``selector`` ↔ entries[k]), entry k classified
    by ``classifiers[k]``; the selector is smoothed with N(0, σ_s²I), σ_s checked by
    :func:`~ucan_core.dual.check_sigma_s`."""

    def __init__(self, selector: nn.Module, entries: Sequence[MenuEntry],
                 classifiers: Sequence[nn.Module], sigma_s: float, num_classes: int,
                 device: str | torch.device = "cpu") -> None:
        names = check_menu([e.name for e in entries])
        if len(classifiers) != len(entries):
            raise UcanError(f"give one classifier per menu entry ({len(entries)}), got "
                            f"{len(classifiers)}")
        shapes = {tuple(m.shape) for e in entries for m in (e.scale, e.shift)}
        if len(shapes) != 1:
            raise UcanError(f"menu maps have different shapes {sorted(shapes)}: every scale "
                            "and shift map must have the input's shape")
        self.entries = tuple(entries)
        stages = [SmoothedClassifier(f, e.noise(device), num_classes, device)
                  for e, f in zip(entries, classifiers)]
        super().__init__(selector, stages, names, sigma_s, device)

    def _combine(self, selection: Certificate, classification: Certificate | None,
                 alpha: float, seconds: float) -> RouteCertificate:
        sound = classification is not None and not classification.abstained
        alm = alm_c = alm_upper = 0.0
        if sound:
            alm_c = classification.alm
            alm_upper = min(selection.radius, alm_c)
            noise = self.stages[selection.prediction].noise
            # ≤ alm_upper in exact arithmetic (equal when every axis is clipped): drop rounding
            alm = min(certified_set_alm(noise, classification.p_a_lower, selection.radius),
                      alm_upper)
        radii = combined_radii(selection, classification)
        return RouteCertificate(
            prediction=classification.prediction if sound else SmoothedClassifier.ABSTAIN,
            radius=radii["2"].value, r_sel=selection.radius,
            r_c=classification.radius if classification is not None else 0.0,
            alm=alm, alm_c=alm_c, alm_upper=alm_upper,
            selected="abstain" if selection.abstained else self.names[selection.prediction],
            p_a_lower_sel=selection.p_a_lower,
            p_a_lower_c=classification.p_a_lower if classification is not None else math.nan,
            radii=radii, menu=self.names, sigma_sel=self.sigma_s, alpha=alpha,
            selection=selection, classification=classification, seconds=seconds)

    def describe(self, cert: RouteCertificate) -> list[str]:
        """The certificate as lines of text, with each entry's model id
        (:func:`~ucan_core.io.records.certificate_lines`, the CLI's output)."""
        return certificate_lines(cert, models={e.name: e.model for e in self.entries})


class SelectorBundle(nn.Module):
    """A routing selector with its menu's maps as buffers (one safetensors file: keys
    ``selector.*`` and ``maps.scale_k`` / ``maps.shift_k``)."""

    def __init__(self, selector: nn.Module, count: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.selector = selector
        self.maps = nn.Module()
        for k in range(count):
            self.maps.register_buffer(f"scale_{k}", torch.ones(shape))
            self.maps.register_buffer(f"shift_{k}", torch.zeros(shape))

    @classmethod
    def of(cls, selector: nn.Module, entries: Sequence[MenuEntry]) -> SelectorBundle:
        bundle = cls(selector, len(entries), tuple(entries[0].scale.shape))
        for k, entry in enumerate(entries):
            getattr(bundle.maps, f"scale_{k}").copy_(entry.scale)
            getattr(bundle.maps, f"shift_{k}").copy_(entry.shift)
        return bundle

    def entry_maps(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self.maps, f"scale_{k}").cpu(), getattr(self.maps, f"shift_{k}").cpu()


def _classifiers(entries: Sequence[MenuEntry], device: str | torch.device,
                 card: ModelCard) -> list[nn.Module]:
    """The bundled model of every entry (each id loaded once), checked against ``card``'s
    dataset and input shape."""
    models: dict[str, nn.Module] = {}
    for entry in entries:
        if entry.model not in models:
            model, own = load_model(entry.model, device)
            if own.dataset != card.dataset or own.arch != card.arch:
                raise UcanError(f"menu model {entry.model} is a {own.arch} for {own.dataset}, "
                                f"the selector a {card.arch} for {card.dataset}")
            models[entry.model] = model
    return [models[e.model] for e in entries]


def load_router(selector_id: str, device: str | torch.device = "cpu",
                ) -> tuple[RoutedSmoothedClassifier, EstimatorCard]:
    """The router of a bundled selector (weights and menu maps read with safetensors), with
    its card; unknown ids, Dual RS σ-estimators and mismatched models raise UcanError."""
    cards = list_estimators()
    card = cards[check_choice("routing selector", selector_id, cards)]
    if not card.menu:
        raise UcanError(f"{selector_id} is a Dual RS σ-estimator (ucan certify --dual), not a "
                        "routing selector")
    names = check_menu([item["name"] for item in card.menu])
    bundle = SelectorBundle(build_estimator(card.arch, len(names)), len(names),
                            card.architecture.input_shape)
    load_weights(bundle, estimators_dir() / f"{selector_id}.safetensors")
    entries = [MenuEntry(item["name"], item["model"], float(item["sigma"]),
                         *bundle.entry_maps(k), item["source"])
               for k, item in enumerate(card.menu)]
    router = RoutedSmoothedClassifier(
        bundle.selector.to(device).eval(), entries, _classifiers(entries, device, card),
        card.sigma_e, card.architecture.num_classes, device)
    return router, card


def train_selector(entries: Sequence[MenuEntry], measure: str, sigma_s: float,
                   images: torch.Tensor, labels: torch.Tensor, train_images: int,
                   val_images: int, samples: int, temperature: float, config: TrainConfig,
                   selector_id: str, init: tuple[str, nn.Module] | None = None,
                   device: str | torch.device = "cpu",
                   log: Callable[[str], None] = print) -> tuple[SelectorBundle, EstimatorCard]:
    """Train a selector over ``entries`` as Dual RS trains its σ-estimator: soft labels
    softmax_k(M̂_k/τ), M̂_k = c_k·Φ⁻¹((v_k + ½)/(samples + 1)) with c_k from
    :func:`measure_factor` and v_k entry k's votes for the label, on the first
    ``train_images`` images; training under N(0, σ_s²I); metrics on the next ``val_images``
    (held out). Returns the bundle to save and its card (without the command)."""
    check_menu([e.name for e in entries])
    first = model_card(entries[0].model)
    if train_images + val_images > len(images):
        raise UcanError(f"{train_images} + {val_images} images requested, {len(images)} given")
    selector = build_estimator(first.arch, len(entries), init[1] if init else None).to(device)
    router = RoutedSmoothedClassifier(selector, entries, _classifiers(entries, device, first),
                                      sigma_s, first.architecture.num_classes, device)
    factors = [measure_factor(stage.noise, measure) for stage in router.stages]
    x, y = images[:train_images], labels[:train_images]
    targets = soft_labels(vote_estimates(router.stages, factors, x, y, samples,
                                         seed=config.seed, names=router.names, log=log),
                          temperature)
    losses = train_estimator(selector, x, targets, router.sigma_s, config, log)
    end = train_images + val_images
    val_x = images[train_images:end]
    estimates = vote_estimates(router.stages, factors, val_x, labels[train_images:end], samples,
                               seed=config.seed + len(entries), names=router.names, log=log)
    best = estimates.argmax(1)
    with torch.inference_mode():
        picks = selector.eval()(val_x.to(device)).argmax(1).cpu()
    noise_s = router.selector.noise
    gain = estimates.clamp(min=0)

    def shares(index: torch.Tensor) -> dict[str, float]:
        return {name: float((index == k).double().mean()) for k, name in enumerate(router.names)}

    metrics = {"split": "train", "images": val_images,
               "rows": f"training images {train_images}..{end - 1} (held out)",
               "best_entry_share": shares(best), "selected_share": shares(picks),
               "agreement_clean": accuracy(selector, val_x, best),
               "agreement_noisy": accuracy(selector, val_x, best, noise_s, seed=config.seed),
               f"mean_estimated_{measure}": {
                   "oracle": float(gain.max(1).values.mean()),
                   "selected (clean argmax)": float(gain[torch.arange(len(picks)), picks].mean()),
                   **{name: float(gain[:, k].mean()) for k, name in enumerate(router.names)}}}
    card = EstimatorCard(
        id=selector_id, arch=first.arch, dataset=first.dataset, noise=noise_s.describe(),
        sigma_e=router.sigma_s, experts=sorted({e.model for e in entries}),
        menu=[e.card() for e in entries],
        training={"split": "train", "images": train_images,
                  "rows": f"training images 0..{train_images - 1}", "measure": measure,
                  "labels": f"softmax_k(M_k / {temperature:g}), M_k = c_k * Phi^-1((v_k + 1/2) / "
                            f"({samples} + 1)), v_k = votes of entry k's model for the label on "
                            f"{samples} copies under its noise, c_k = sigma_k * "
                            + ("min_i s_i (l2 radius)" if measure == "radius"
                               else "(prod_i s_i)^(1/d) (ALM)"),
                  "init": f"{init[0]} (all but the last layer)" if init else "random",
                  "epochs": config.epochs, "batch": config.batch_size, "lr": config.lr,
                  "seed": config.seed, "noise": f"Gaussian sigma_s={router.sigma_s:g}",
                  "optimizer": "SGD nesterov, momentum 0.9, wd 5e-4, one-cycle",
                  "final_loss": losses[-1]},
        metrics=metrics,
        description=f"routing selector over {len(entries)} fixed noise configurations "
                    f"({', '.join(router.names)}), smoothed with Gaussian sigma_s="
                    f"{router.sigma_s:g}, labels by estimated {measure}; certificates are sound "
                    "(ucan certify --route)")
    return SelectorBundle.of(selector.cpu(), entries), card
