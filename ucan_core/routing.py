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
from typing import Any, ClassVar

import torch
from torch import nn

from ucan_core.anisotropic import AnisotropicNoise
from ucan_core.dual import (
    SelectAndCertify,
    TwoStageCertificate,
    check_menu,
    combined_radii,
    menu_level,
    row_fields,
)
from ucan_core.errors import UcanError, check_choice, check_count
from ucan_core.estimator import (
    EstimatorCard,
    build_estimator,
    estimators_dir,
    list_estimators,
    soft_labels,
    train_estimator,
    vote_estimates,
)
from ucan_core.generators import map_statistics
from ucan_core.logs import UCAN_COLUMNS, LogRow
from ucan_core.models import ModelCard, load_model, load_npg, load_weights, model_card
from ucan_core.noises import make_noise
from ucan_core.npg import pattern_scale_map
from ucan_core.smoothing import Certificate, SmoothedClassifier
from ucan_core.training import TrainConfig, accuracy

ROUTE_NOTE = ("Certificate: with probability ≥ 1 − α (α/2 per stage, union bound), the smoothed "
              "selector keeps this configuration within R_sel (ℓ2) and the fixed configuration's "
              "smoothed classifier keeps the class on ‖δ/s‖₂ ≤ R, so the deployed router returns "
              "this class on their intersection; the ALM is the size of an ellipsoid inside it.")
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


def certified_set_alm(noise: AnisotropicNoise, p_a_lower: float, r_sel: float) -> float:
    """(∏_i min(s_i·R, R_sel))^{1/d} with R = σΦ⁻¹(p̲) (log space): the ALM of an ellipsoid
    inside B₂(R_sel) ∩ {‖δ/s‖₂ ≤ R} (semi-axes ≤ R_sel and ≤ s_i·R), so a lower bound on
    the size of the set certified for the router (module docstring)."""
    base = noise.base.radius(p_a_lower, 2).value
    axes = torch.clamp(noise.scale.double() * base, max=r_sel)
    return float(torch.exp(torch.log(axes).mean()))


@dataclass(kw_only=True)
class RouteCertificate(TwoStageCertificate):
    """Routing certificate of one input (module docstring): ``radius`` = min(``r_sel``,
    ``r_c``); ``config`` is the chosen entry ("abstain" when the selector abstains);
    ``r_c`` and ``alm_c`` are that configuration's own ℓ2 radius min s_i·R and ALM."""

    menu: tuple[str, ...]
    sigma_s: float
    config: str
    r_sel: float
    p_a_lower_sel: float
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
            config="abstain" if selection.abstained else self.names[selection.prediction],
            p_a_lower_sel=selection.p_a_lower,
            p_a_lower_c=classification.p_a_lower if classification is not None else math.nan,
            radii=radii, menu=self.names, sigma_s=self.sigma_s, alpha=alpha,
            selection=selection, classification=classification, seconds=seconds)

    def describe(self, cert: RouteCertificate) -> list[str]:
        """The certificate as lines of text (the CLI's output)."""
        sel, cls = cert.selection, cert.classification
        choice = "abstains" if sel.abstained else f"selects {cert.config}"
        lines = [f"prediction: {'abstain' if cert.abstained else cert.prediction}",
                 (f"stage 1, selector smoothed at sigma_s={cert.sigma_s:g} over "
                  f"{', '.join(cert.menu)}: {choice}; p_A lower bound {sel.p_a_lower:.6f} "
                  f"(alpha={sel.alpha:g}); R_sel {cert.r_sel:.6g}")]
        if cls is not None:
            entry = self.entries[sel.prediction]
            lines.append(f"stage 2, {entry.model} under {entry.name} (sigma={entry.sigma:g}, "
                         f"s in [{cls.noise['scale_min']:.3g}, {cls.noise['scale_max']:.3g}]): "
                         f"p_A lower bound {cls.p_a_lower:.6f} (alpha={cls.alpha:g}); l2 radius "
                         f"min s_i*R = R_c {cert.r_c:.6g}; ALM {cert.alm_c:.6g}")
        lines.append(f"radius: min(R_sel, R_c) = {cert.radius:.6g} in l2 ({cert.kind})")
        lines += [f"  l{label}: {r.value:.6g} ({r.kind})" for label, r in cert.radii.items()]
        lines.append(f"ALM (a size, not a radius): {cert.alm:.6g} for an ellipsoid inside the "
                     f"certified set; the set's size is at most min(R_sel, ALM) = "
                     f"{cert.alm_upper:.6g}")
        lines.append(f"soundness: {cert.soundness}: {cert.note}")
        return lines


ROUTE_COLUMNS = UCAN_COLUMNS + ("config", "r_sel", "r_c", "alm_c", "alm_upper", "p_a_lower_sel")


@dataclass(frozen=True)
class RouteLogRow(LogRow):
    """A ucan certify log row (``radius`` = min(R_sel, R_c), ``alm`` the certified
    ellipsoid's size, ``p_a_lower`` of the classification stage) followed by the chosen
    ``config``, ``r_sel``, ``r_c``, the configuration's ``alm_c``, ``alm_upper`` =
    min(R_sel, ALM) and the selector's ``p_a_lower_sel``."""

    columns: ClassVar[tuple[str, ...]] = ROUTE_COLUMNS
    config: str
    r_sel: float
    r_c: float
    alm_c: float
    alm_upper: float
    p_a_lower_sel: float

    @classmethod
    def from_route(cls, idx: int, label: int, cert: RouteCertificate) -> RouteLogRow:
        extra = {name: getattr(cert, name) for name in ROUTE_COLUMNS[len(UCAN_COLUMNS):]}
        return cls(**row_fields(idx, label, cert, cert.alm), **extra)


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


def measure_factor(noise: AnisotropicNoise, measure: str) -> float:
    """c with (measure) = c·Φ⁻¹(p_A): σ·min s_i for the ℓ2 radius, σ·(∏ s_i)^{1/d} for the ALM."""
    if check_choice("measure", measure, MEASURES) == "radius":
        return noise.sigma * float(noise.scale.min())
    return menu_level(noise)


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
