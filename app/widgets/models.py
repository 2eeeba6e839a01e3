"""The Certify page's model pickers: the bundled model of standard RS and its noise (its own,
σ overridden, its learned NPG or a pattern), the Dual RS σ-estimator and its experts, and the
routing selector with its menu."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app.cached.images import dataset_title
from app.cached.models import (
    DEFAULT_ESTIMATOR,
    DEFAULT_MODEL,
    FAMILY_DEFAULTS,
    default_index,
    estimator_cards,
    pixel_units,
    sampling_defaults,
    selector_cards,
    sigma_warning,
)
from app.choices import CERTIFY_NPG_OPTIONS, LEARNED, MODEL_FAMILIES, PHOTOS, NoiseChoice
from app.widgets.noise import DEFAULT_IOTA, DEFAULT_KAPPA
from ucan_core.two_stage.selectors import EstimatorCard
from ucan_core.zoo.cards import ModelCard

#: What a routing selector was trained to maximise (its card's ``training.measure``).
MEASURES = {"radius": "ℓ2 radius", "alm": "ALM"}
#: Session-state (and URL) keys of the standard model picker: the family, then the model.
FAMILY_KEY, MODEL_KEY = "cert_family", "cert_model"
#: Session-state key of the sampling defaults the Certify page's inputs last followed.
SAMPLING_KEY = "cert_sampling_defaults"


def _pick_family_default() -> None:
    """The family radio changed: open that family's default model."""
    ss = st.session_state
    if ss.get(FAMILY_KEY) in FAMILY_DEFAULTS:
        ss[MODEL_KEY] = FAMILY_DEFAULTS[ss[FAMILY_KEY]]


def model_picker(cards: dict[str, ModelCard]) -> ModelCard:
    """The bundled model of standard RS (one of ``cards``), grouped by family (digits, small
    photos, photos), and its card."""
    st.subheader("Model")
    families = {d: t for d, t in MODEL_FAMILIES.items() if any(c.dataset == d for c in cards.values())}
    families.update({c.dataset: c.dataset for c in cards.values() if c.dataset not in families})
    current = str(st.session_state.get(MODEL_KEY) or st.query_params.get(MODEL_KEY)
                  or DEFAULT_MODEL)
    family_ids = list(families)
    opened = cards[current].dataset if current in cards else family_ids[0]
    family = st.radio("Images", family_ids, index=family_ids.index(opened), key=FAMILY_KEY,
                      bind="query-params", format_func=families.__getitem__,
                      on_change=_pick_family_default,
                      help="What the model was made for: handwritten digits (MNIST, 28×28), "
                           "small photos of 10 classes (CIFAR-10, 32×32) or photos of 1,000 "
                           "ImageNet classes (an off-the-shelf classifier behind a denoiser, "
                           "at 224×224; about a sample per second on a CPU).")
    ids = [m for m, c in cards.items() if c.dataset == family]
    model_id = st.selectbox("Model", ids, index=default_index(ids, FAMILY_DEFAULTS.get(family, "")),
                            key=MODEL_KEY, bind="query-params",
                            help="A bundled base classifier, trained with the noise it is "
                                 "smoothed with (Gaussian data augmentation), or, for photos, "
                                 "an off-the-shelf classifier behind an off-the-shelf "
                                 "denoiser (denoised smoothing).")
    card = cards[model_id]
    sigma_card = float(card.noise["sigma"])
    metrics = card.metrics or {}
    accuracy = " · ".join(f"{label} {metrics[key]:.2%}" for key, label in
                          (("clean_accuracy", "clean"), ("noisy_accuracy", "under noise"))
                          if isinstance(metrics.get(key), (int, float)))
    split = str(metrics.get("split", "test"))
    st.markdown(
        f"**{dataset_title(card.dataset)}** · "
        f"{card.noise.get('title', card.noise['name'])} noise, σ = {sigma_card:g} · "
        f"{card.npg} NPG  \n"
        f"{'Test accuracy' if split == 'test' else 'Accuracy on the ' + split}: "
        f"{accuracy or 'not recorded'}")
    st.caption(card.description)
    if card.dataset == PHOTOS:
        c, h, w = card.architecture.input_shape
        defaults = sampling_defaults(card)
        st.info(f"**Photos** are resized to {h}×{w} by the engine: the radius is in "
                f"{pixel_units(card)}, not of your file. "
                f"{card.architecture.num_classes:,} ImageNet classes. Slow on a CPU (about a "
                "sample per second when it is not busy), so the page starts at "
                f"n0 = {defaults['n0']}, n = {defaults['n']}.")
    return card


def selector_picker(heading: str, label: str, key: str, options: dict[str, EstimatorCard],
                    tooltip: str, summary: Callable[[EstimatorCard], str],
                    default: str = "") -> EstimatorCard:
    """The selection stage of a two-stage mode: a bundled model of
    ``assets/models/estimators`` (``options``, ``default`` first shown), with its dataset,
    ``summary`` and description."""
    st.subheader(heading)
    if not options:
        st.error(f"No bundled {label.lower()} found in assets/models/estimators.")
        st.stop()
    ids = list(options)
    card = options[st.selectbox(label, ids, index=default_index(ids, default), key=key,
                                bind="query-params", help=tooltip)]
    st.markdown(f"**{dataset_title(card.dataset)}** · "
                f"{summary(card)}")
    st.caption(card.description)
    return card


def dual_picker(cards: dict[str, ModelCard]) -> tuple[EstimatorCard, list[str]]:
    """The σ-estimator of Dual RS and one expert (of ``cards``) per level of its Σ."""
    estimator = selector_picker(
        "Dual RS", "σ-estimator", "cert_estimator", estimator_cards(),
        "A classifier over the noise levels Σ, trained to pick the level whose smoothed expert "
        "certifies this input best; it is itself smoothed with Gaussian noise σ_e ≥ max Σ, so "
        "its choice is certified too.",
        lambda card: f"levels Σ = {{{', '.join(f'{v:g}' for v in card.levels)}}} · smoothed "
                     f"with σ_e = {card.sigma_e:g}", DEFAULT_ESTIMATOR)
    options = [m for m, c in cards.items() if c.dataset == estimator.dataset]
    experts = []
    for index, level in enumerate(estimator.levels):
        default = estimator.experts[index] if index < len(estimator.experts) else options[0]
        expert = st.selectbox(
            f"Expert for σ = {level:g}", options,
            index=options.index(default) if default in options else 0,
            key=f"cert_expert_{level:g}", bind="query-params",
            format_func=lambda m: m if cards[m].npg == "isotropic" else f"{m} ({cards[m].npg} NPG)",
            help="The base classifier smoothed with Gaussian noise at this level when the "
                 "σ-estimator selects it. Dual RS routes to isotropic Gaussian models; the "
                 "default is the model trained at this σ.")
        trained = float(cards[expert].noise["sigma"])
        if cards[expert].npg == "isotropic" and level not in cards[expert].training.get(
                "levels", [trained]):
            st.caption(f"{expert} was trained at σ = {trained:g}: at σ = {level:g} it errs "
                       "more under noise, so p̲_c and R_c usually drop.")
        experts.append(expert)
    return estimator, experts


def routing_picker() -> EstimatorCard:
    """The routing selector; its menu of fixed configurations and their models come with it."""
    selector = selector_picker(
        "Sound routing", "Routing selector", "cert_selector", selector_cards(),
        "A classifier over a menu of fixed UCAN noise configurations, trained to pick the one "
        "whose smoothed classifier certifies this input best (by ℓ2 radius or by ALM); it is "
        "itself smoothed with Gaussian noise σ_s, so its choice is certified too.",
        lambda card: f"{len(card.menu)} fixed configurations · trained to pick by "
                     f"{MEASURES.get(str(card.training.get('measure')), 'an unrecorded measure')}"
                     f" · smoothed with σ_s = {card.sigma_e:g}")
    with st.expander(f"Menu: {len(selector.menu)} configurations"):
        st.dataframe([{"configuration": e["name"], "model": e["model"], "σ": e["sigma"],
                       "s min": e["scale_min"], "s max": e["scale_max"], "source": e["source"]}
                      for e in selector.menu], hide_index=True, width="stretch",
                     column_config={"s min": st.column_config.NumberColumn(format="%.3g"),
                                    "s max": st.column_config.NumberColumn(format="%.3g")})
    return selector


def certify_noise_picker(card: ModelCard) -> NoiseChoice:
    """Standard RS noise: the model's own (σ may be overridden), its learned NPG or a pattern."""
    st.subheader("Noise")
    sigma_card = float(card.noise["sigma"])
    override = st.checkbox("Override σ", key="cert_override", persist_state="page", bind="query-params",
                           help=f"Certify with another noise level than the model's training "
                                f"noise (σ = {sigma_card:g}).")
    sigma = sigma_card
    if override:
        sigma = float(st.number_input("σ (noise level)", min_value=0.01, max_value=4.0,
                                      value=sigma_card, step=0.05, format="%.3f",
                                      key=f"cert_sigma_{card.id}", persist_state="page", bind="query-params",
                                      help="Per-coordinate standard deviation, pixel units."))
        warning = sigma_warning(card, sigma)
        if warning is not None:
            st.warning(warning)
    npg_options = [k for k in CERTIFY_NPG_OPTIONS
                   if k != LEARNED or card.npg != "isotropic"]
    npg = st.selectbox("Noise generator (NPG)", npg_options, key=f"cert_npg_{card.id}",
                       persist_state="page", bind="query-params",
                       format_func=CERTIFY_NPG_OPTIONS.__getitem__,
                       help="learned: the model's own NPG (universal maps are fixed and sound; "
                            "input-dependent maps are computed from this image and are NOT a "
                            "certificate for the deployed classifier). isotropic: the same σ "
                            "everywhere. pattern ℓp (UCAN): a fixed scale map κ‖(a, b)‖_p² + ι "
                            "over the pixel position, normalised to geometric mean 1.")
    kappa, iota = DEFAULT_KAPPA, DEFAULT_IOTA
    if npg.startswith("pattern"):
        kappa = st.slider("κ (pattern strength)", 0.0, 4.0, DEFAULT_KAPPA, 0.1,
                          key="cert_kappa", persist_state="page", bind="query-params",
                          help="How much the noise grows towards the corners.")
        iota = st.slider("ι (pattern offset)", 0.05, 2.0, DEFAULT_IOTA, 0.05,
                         key="cert_iota", persist_state="page", bind="query-params",
                         help="Base level of the scale map.")
        if npg != card.npg:
            st.caption(f"The model was trained with {card.npg} noise; the certificate stays "
                       "valid, but p_A may be lower under this noise.")
    return NoiseChoice.of_card(card, sigma=sigma, npg=npg, kappa=kappa, iota=iota)


def follow_sampling(defaults: dict[str, int | float], prefix: str = "cert_") -> dict[str, int | float]:
    """The sampling defaults of the model just picked (``app.cached.models.sampling_defaults``),
    returned; when they differ from those of the previous run (another family: the photo
    models start at small n), the inputs ``prefix + name`` whose default changed take the new
    one (before they are drawn). A first run keeps what the URL says."""
    ss = st.session_state
    last = ss.get(SAMPLING_KEY)
    if last is not None and last != defaults:
        for name, value in defaults.items():
            if last.get(name) != value:
                ss[f"{prefix}{name}"] = value
    ss[SAMPLING_KEY] = dict(defaults)
    return defaults
