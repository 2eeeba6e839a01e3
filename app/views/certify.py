"""Certify: certify one image in the background, with standard randomized smoothing (a bundled
model and its noise, Cohen et al. / UCAN), Dual RS (a σ-estimator picks the noise level,
that level's expert classifies) or sound routing (a selector picks one of a menu of fixed UCAN
noise configurations; ``ucan_core.routing``), and attack any of these certificates on demand
(attack audit; two-stage ones on the deployed two-stage classifier). Dual RS and routing
share one result view (both are two-stage certificates).

Run tier of the app. The "Certify" button starts one job per session in a worker thread
(``services.CertifyJob``: engine calls only, never ``st.*``); a polling fragment shows its
progress with a Cancel button while the rest of the page stays interactive. The audit runs in
the same job slot, with its own progress and Cancel (``services.AuditJob``). A job whose browser session has ended cancels itself
(``services.session_probe``). Finished results are cached per session under a hash of
everything that determines them, so going back to a configuration shows its result at once.
All numbers come from ``ucan_core``; the figures are built by the pure functions of
``app.figures``.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from app import figures, services, widgets
from ucan_core.audit.certificates import RegionShape
from ucan_core.certify.certificate import Certificate
from ucan_core.devices import available_devices
from ucan_core.errors import UcanError
from ucan_core.two_stage.dual import DualCertificate
from ucan_core.two_stage.engine import TwoStageCertificate
from ucan_core.two_stage.routing import RouteCertificate
from ucan_core.two_stage.selectors import EstimatorCard
from ucan_core.zoo.cards import ModelCard

_t0 = time.perf_counter()

JOB, CACHE, LAST, FRESH, AUDITS = ("certify_job", "certify_cache", "certify_last_key",
                                   "certify_fresh_key", "certify_audits")
CACHE_SIZE = 32
DEFAULTS = {"n0": 100, "n": 10_000, "alpha": 0.001, "batch": 1000, "seed": 0,
            "kappa": 1.0, "iota": 1.0}
MODES = {"standard": "Standard RS", "dual": "Dual RS", "routing": "Sound routing"}
#: Teaching-mode explanations of what the two-stage modes certify.
TEACHING = {
    "dual": "**What Dual RS certifies.** A small classifier, the σ-estimator, looks at the "
            "image under its own Gaussian noise and votes for a noise level σ; randomized "
            "smoothing makes that vote itself certified: it cannot change within R_σ. The "
            "expert trained at that σ is then certified as usual, within R_c. Both stages "
            "spend half of α, so together they hold with probability ≥ 1 − α, and the "
            "classifier as deployed (estimator and experts) keeps its answer within "
            "min(R_σ, R_c).",
    "routing": "**What sound routing certifies.** As in Dual RS, a smoothed selector votes, "
               "but for one of a menu of *fixed* UCAN noise configurations (isotropic, "
               "pattern maps, the universal NPG's map, frozen clusters of input-dependent "
               "maps); its choice cannot change within the ℓ2 ball of radius R_sel. The chosen "
               "configuration's smoothed classifier keeps its class on the anisotropic "
               "region ‖δ/s‖₂ ≤ R. The deployed router is certified on the intersection of "
               "the two: the ℓ2 ball of radius min(R_sel, R_c) fits inside it, and so does an "
               "ellipsoid whose size is the certified ALM. min(R_sel, ALM) only bounds the "
               "size from above: it is not certified. Because no map depends on the input, "
               "the certificate is sound, unlike an input-dependent NPG's.",
}
#: What a routing selector was trained to maximise (its card's ``training.measure``).
MEASURES = {"radius": "ℓ2 radius", "alm": "ALM"}
REGIONS = {"ball": "ℓp ball of the certified radius",
           "region": "whole anisotropic region ‖δ/s‖_p ≤ R"}

ss = st.session_state
ss.setdefault(CACHE, OrderedDict())
ss.setdefault(AUDITS, {})
cache: OrderedDict[str, services.CertifyResult] = ss[CACHE]
audits: dict[str, services.AuditOutcome] = ss[AUDITS]

st.title("Certify")
st.markdown(
    "Certify one image with a bundled smoothed classifier: the page draws n0 noisy copies to "
    "select the top class ĉ_A, then n fresh copies to bound its probability p_A from below "
    "(Clopper–Pearson, level α), and turns that bound into a certified radius. **Dual RS** "
    "first lets a smoothed σ-estimator choose the noise level for this input, then certifies "
    "with that level's expert. **Sound routing** lets a smoothed selector choose one of a menu "
    "of fixed UCAN noise configurations (σ maps), then certifies with that configuration. "
    "Runs happen in the background; you can keep changing settings, and every result is "
    "cached.")

cards = services.model_cards()
if not cards:
    st.error("No bundled models found in assets/models.")
    st.stop()

controls, results = st.columns([1, 2.6], gap="large")


# --------------------------------------------------------------------------------------------
# Controls


def model_section() -> ModelCard:
    """The bundled model of standard RS and its card."""
    st.subheader("Model")
    ids = list(cards)
    model_id = st.selectbox("Model", ids, index=services.default_index(ids),
                            key="cert_model", bind="query-params",
                            help="A bundled base classifier, trained with the noise it is "
                                 "smoothed with (Gaussian data augmentation).")
    card = cards[model_id]
    sigma_card = float(card.noise["sigma"])
    metrics = card.metrics or {}
    accuracy = " · ".join(f"{label} {metrics[key]:.2%}" for key, label in
                          (("clean_accuracy", "clean"), ("noisy_accuracy", "under noise"))
                          if isinstance(metrics.get(key), (int, float)))
    st.markdown(
        f"**{services.DATASET_TITLES.get(card.dataset, card.dataset)}** · "
        f"{card.noise.get('title', card.noise['name'])} noise, σ = {sigma_card:g} · "
        f"{card.npg} NPG  \n"
        f"Test accuracy: {accuracy or 'not recorded'}")
    st.caption(card.description)
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
    card = options[st.selectbox(label, ids, index=services.default_index(ids, default), key=key,
                                bind="query-params", help=tooltip)]
    st.markdown(f"**{services.DATASET_TITLES.get(card.dataset, card.dataset)}** · "
                f"{summary(card)}")
    st.caption(card.description)
    return card


def dual_section() -> tuple[EstimatorCard, list[str]]:
    """The σ-estimator of Dual RS and one expert per level of its Σ."""
    estimator = selector_picker(
        "Dual RS", "σ-estimator", "cert_estimator", services.estimator_cards(),
        "A classifier over the noise levels Σ, trained to pick the level whose smoothed expert "
        "certifies this input best; it is itself smoothed with Gaussian noise σ_e ≥ max Σ, so "
        "its choice is certified too.",
        lambda card: f"levels Σ = {{{', '.join(f'{v:g}' for v in card.levels)}}} · smoothed "
                     f"with σ_e = {card.sigma_e:g}", services.DEFAULT_ESTIMATOR)
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


def routing_section() -> EstimatorCard:
    """The routing selector; its menu of fixed configurations and their models come with it."""
    selector = selector_picker(
        "Sound routing", "Routing selector", "cert_selector", services.selector_cards(),
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


def image_section(shape: tuple[int, int, int], dataset: str,
                  any_dataset: bool) -> services.ModelInput:
    """A bundled image (of ``dataset``, or of any dataset) or an upload, at ``shape``."""
    st.subheader("Image")
    source = st.radio("Image source", ["Bundled", "Upload"], key="cert_source",
                      bind="query-params", horizontal=True,
                      help="A bundled test image of the model's dataset, or your own PNG/JPEG.")
    catalog = services.bundled_catalog()
    if any_dataset:
        datasets = list(catalog)
        dataset = st.selectbox("Dataset", datasets, key="cert_dataset", bind="query-params",
                               index=datasets.index(dataset) if dataset in datasets else 0,
                               format_func=lambda d: services.DATASET_TITLES.get(d, d),
                               help="The dataset of the bundled image. Dual RS and routing "
                                    "certify only images of their selector's dataset.")
    entries = dict(catalog.get(dataset) or [e for group in catalog.values() for e in group])
    first_id = next(iter(entries))
    image = None
    if source == "Bundled":
        image_id = st.selectbox("Image", list(entries), key=f"cert_image_{dataset}",
                                bind="query-params", format_func=entries.__getitem__,
                                help="Test-set index and label of the bundled image.")
        image = services.bundled_model_input(image_id, shape)
    else:
        upload = st.file_uploader("Upload an image", type=["png", "jpg", "jpeg"],
                                  key="cert_upload",
                                  help="PNG or JPEG, at most 10 MB and 16.7 Mpixel, checked "
                                       "before decoding, then converted to the model's input "
                                       f"shape {shape[0]}×{shape[1]}×{shape[2]}.")
        invert = st.checkbox("Invert (dark ↔ light)", key="cert_invert",
                             help="MNIST digits are light on a dark background; invert a "
                                  "dark-on-light drawing to match.")
        if upload is not None:
            try:
                image = services.uploaded_model_input(upload.getvalue(), upload.name, shape)
            except UcanError as error:
                st.error(f"Upload refused: {error}")
        if image is None:
            image = services.bundled_model_input(first_id, shape)
            st.info(f"No usable upload: using the bundled image {image.name}.")
        elif invert:
            image = image.inverted()
    c, h, w = image.shape
    converted = (f"converted from {image.original_size[0]}×{image.original_size[1]} "
                 f"{'greyscale' if image.original_mode == 'L' else 'colour'}"
                 if (image.original_size != (w, h) or (c == 1) != (image.original_mode == "L"))
                 else "no conversion needed")
    st.image(figures.image_png(image.pixels, min_tile=168),
             caption=f"As the model sees it: {c}×{h}×{w} ({converted}). {image.name}",
             width=200)
    return image


def noise_section(card: ModelCard) -> services.NoiseChoice:
    """Standard RS noise: the model's own (σ may be overridden), its learned NPG or a pattern."""
    st.subheader("Noise")
    sigma_card = float(card.noise["sigma"])
    override = st.checkbox("Override σ", key="cert_override", persist_state="page",
                           help=f"Certify with another noise level than the model's training "
                                f"noise (σ = {sigma_card:g}).")
    sigma = sigma_card
    if override:
        sigma = float(st.number_input("σ (noise level)", min_value=0.01, max_value=4.0,
                                      value=sigma_card, step=0.05, format="%.3f",
                                      key=f"cert_sigma_{card.id}", persist_state="page",
                                      help="Per-coordinate standard deviation, pixel units."))
        trained = card.training.get("levels", [sigma_card])
        if sigma not in trained:
            where = (f"σ = {sigma_card:g}" if len(trained) == 1
                     else "σ ∈ {" + ", ".join(f"{v:g}" for v in trained) + "}")
            st.warning(f"This model was trained at {where}. A smoothed classifier is certified "
                       "best at its training σ: at another σ the base classifier errs more "
                       "under noise, so p̲_A and the radius usually drop.")
    npg_options = [k for k in services.CERTIFY_NPG_OPTIONS
                   if k != services.LEARNED or card.npg != "isotropic"]
    npg = st.selectbox("Noise generator (NPG)", npg_options, key=f"cert_npg_{card.id}",
                       persist_state="page",
                       format_func=services.CERTIFY_NPG_OPTIONS.__getitem__,
                       help="learned: the model's own NPG (universal maps are fixed and sound; "
                            "input-dependent maps are computed from this image and are NOT a "
                            "certificate for the deployed classifier). isotropic: the same σ "
                            "everywhere. pattern ℓp (UCAN): a fixed scale map κ‖(a, b)‖_p² + ι "
                            "over the pixel position, normalised to geometric mean 1.")
    kappa, iota = DEFAULTS["kappa"], DEFAULTS["iota"]
    if npg.startswith("pattern"):
        kappa = st.slider("κ (pattern strength)", 0.0, 4.0, DEFAULTS["kappa"], 0.1,
                          key="cert_kappa", persist_state="page",
                          help="How much the noise grows towards the corners.")
        iota = st.slider("ι (pattern offset)", 0.05, 2.0, DEFAULTS["iota"], 0.05,
                         key="cert_iota", persist_state="page",
                         help="Base level of the scale map.")
        if npg != card.npg:
            st.caption(f"The model was trained with {card.npg} noise; the certificate stays "
                       "valid, but p_A may be lower under this noise.")
    return services.NoiseChoice(
        density=card.noise["name"], sigma=sigma, shape=card.architecture.input_shape, npg=npg,
        kappa=float(kappa), iota=float(iota),
        params=tuple(sorted((k, float(v)) for k, v in (card.noise.get("params") or {}).items())))


with controls:
    mode = st.radio("Smoothing", list(MODES), key="cert_mode", bind="query-params",
                    horizontal=True, format_func=MODES.__getitem__,
                    help="Standard RS: one model smoothed with one noise. Dual RS (Sun, Mao & "
                         "Vechev): a smoothed σ-estimator picks the noise level for this input, "
                         "then that level's expert is certified; each stage at α/2, radius "
                         "min(R_σ, R_c), sound for the deployed classifier. Sound routing: the "
                         "same two stages over a menu of fixed UCAN configurations (σ maps); "
                         "radius min(R_sel, R_c), and an ALM for the anisotropic region.")
    if widgets.teaching_mode() and mode in TEACHING:
        st.info(TEACHING[mode])
    if mode == "standard":
        card = model_section()
        shape, dataset = card.architecture.input_shape, card.dataset
    else:
        if mode == "dual":
            selector, expert_ids = dual_section()
        else:
            selector = routing_section()
        shape, dataset = selector.architecture.input_shape, selector.dataset
    image = image_section(shape, dataset, any_dataset=mode != "standard")
    if mode == "standard":
        choice = noise_section(card)

    st.subheader("Sampling")
    n0 = int(st.number_input("n0 (selection samples)", min_value=1, max_value=100_000,
                             value=DEFAULTS["n0"], step=10, key="cert_n0", bind="query-params",
                             help="Noisy copies used to pick the top class ĉ_A (per stage in "
                                  "Dual RS and routing)."))
    n = int(st.number_input("n (estimation samples)", min_value=1, max_value=100_000,
                            value=DEFAULTS["n"], step=1000, key="cert_n", bind="query-params",
                            help="Fresh noisy copies used to bound p_A (per stage in Dual RS "
                                 "and routing); more samples, a tighter bound and a larger "
                                 "radius (up to 100,000)."))
    alpha = float(st.number_input("α (failure probability)", min_value=0.0, max_value=1.0,
                                  value=DEFAULTS["alpha"], step=0.001, format="%.5f",
                                  key="cert_alpha", bind="query-params",
                                  help="The certificate holds with probability ≥ 1 − α over "
                                       "the sampling (Dual RS, routing: α/2 per stage). Must "
                                       "lie in (0, 1)."))
    devices = available_devices()
    if widgets.teaching_mode():
        batch, seed, device = DEFAULTS["batch"], DEFAULTS["seed"], devices[0]
    else:
        batch = int(st.number_input("Batch size", min_value=1, max_value=10_000,
                                    value=DEFAULTS["batch"], step=100, key="cert_batch",
                                    help="Noisy copies per forward pass (memory vs speed)."))
        seed = int(st.number_input("Seed", min_value=0, max_value=2**31 - 1,
                                   value=DEFAULTS["seed"], step=1, key="cert_seed",
                                   bind="query-params",
                                   help="Seed of the noise sampler: same seed, same certificate."))
        device = st.selectbox("Device", devices, key="cert_device",
                              help="Where the model and the noise run (best available first).")
    st.caption(f"In use: **{services.device_description(device)}**")

settings: services.CertifySettings | services.TwoStageSettings
#: Why Certify is disabled for the current settings (None: it is not).
blocked: str | None = None
sampling = {"image_key": image.key, "n0": n0, "n": n, "alpha": alpha, "batch_size": batch,
            "seed": seed, "device": device}
if mode == "standard":
    settings = services.CertifySettings(model_id=card.id, noise=choice, **sampling)
else:
    if mode == "dual":
        settings = services.DualSettings(estimator_id=selector.id,
                                         expert_ids=tuple(expert_ids), **sampling)
        models = f"the bundled σ-estimator {selector.id} and its experts"
    else:
        settings = services.RoutingSettings(selector_id=selector.id, **sampling)
        models = f"the bundled selector {selector.id} and its menu's models"
    title = services.DATASET_TITLES.get(selector.dataset, selector.dataset)
    if image.dataset is not None and image.dataset != selector.dataset:
        other = services.DATASET_TITLES.get(image.dataset, image.dataset)
        blocked = (f"{MODES[mode]} with {selector.id} takes {title} images only: {models} are "
                   f"{title} models, and {image.name} is a {other} image "
                   f"({'×'.join(map(str, image.original_size))} "
                   f"{'greyscale' if image.original_mode == 'L' else 'colour'}). Pick one of "
                   f"the {title} images, upload your own, or choose a bundled "
                   f"{'σ-estimator' if mode == 'dual' else 'selector'} for {other} images if "
                   "there is one.")
    else:
        try:
            services.check_two_stage(settings)
        except UcanError as error:
            blocked = f"These models cannot be used for {MODES[mode]}: {error}."
key = settings.key()


# --------------------------------------------------------------------------------------------
# Job handling


def integrate(job: services.BackgroundJob) -> None:
    """Move a finished job's outcome into the session caches (once)."""
    if widgets.new_outcome(job) is None:
        return
    if isinstance(job, services.AuditJob):
        audits[job.key] = services.audit_outcome(job)
        return
    assert isinstance(job, services.CertifyJob)
    widgets.remember(cache, job.key, services.result_of(job), CACHE_SIZE)
    ss[LAST] = ss[FRESH] = job.key


def job_panel() -> None:
    """Progress (ETA for a certification) and Cancel of the running job, a certification or
    an audit; its outcome once it stopped."""
    job: services.BackgroundJob | None = ss.get(JOB)
    if job is None:
        return
    audit = isinstance(job, services.AuditJob)
    if job.running:
        fraction = min(1.0, job.done / max(job.total, 1))
        if audit:
            st.progress(fraction, text=(f"Auditing the certificate: {job.done:,} / "
                                        f"{job.total:,} steps" if job.done else
                                        "Auditing the certificate: starting…"))
            st.caption(f"Steps: PGD steps and the clean gradient per attacked claim, the "
                       f"screening, the verifications · {job.elapsed:.1f} s elapsed")
        else:
            assert isinstance(job, services.CertifyJob)
            eta = job.eta
            verb = ("Certifying" if job.settings.mode == "standard"
                    else f"Certifying with {MODES[job.settings.mode]}")
            st.progress(fraction, text=f"{verb}: {job.done:,} / {job.total:,} samples · "
                        + (f"ETA {eta:.0f} s" if eta is not None else "ETA …"))
            s = job.settings
            st.caption(f"{s.title} · {s.image_key.split(':')[1][:16]} · n0 = {s.n0:,}, "
                       f"n = {s.n:,} · {s.device} · {job.elapsed:.1f} s elapsed · "
                       f"{job.rate:,.0f} samples/s")
        widgets.cancel_button(job, "cert_cancel")
        return
    if not job.integrated:
        st.rerun()  # the job just stopped: redraw the whole page with its outcome
    what = "Audit" if audit else "Certification"
    if widgets.stopped_warning(job, what, "steps" if audit else "samples",
                               "verdict" if audit else "result"):
        return
    if job.error is not None:
        if audit or job.key == key:
            st.error(f"{what} failed: {job.error}")
        else:  # the settings have changed since: no alarm, but say what happened
            st.caption(f"The last run, with other settings, failed: {job.error}")


def status_line(result: services.CertifyResult, status: str) -> None:
    if status == "fresh":
        st.markdown(":green-badge[fresh] Computed by the last run for the current settings.")
    elif status == "cached":
        ago = time.time() - result.finished_at
        st.markdown(f":violet-badge[cached] Result for the current settings, computed "
                    f"{ago:.0f} s ago and taken from this session's cache (no new sampling).")
    else:
        changed = ", ".join(settings.differences(result.settings)) or "settings"
        st.markdown(f":orange-badge[stale] Settings changed since this result ({changed}). "
                    "Press **Certify** to update; shown below: the last result.")


def classes_of(model_id: str, count: int) -> tuple[str, ...]:
    """Class names of a bundled model (plain indices if it is gone)."""
    return (cards[model_id].architecture.classes if model_id in cards
            else tuple(str(i) for i in range(count)))


def radii_table(cert: Certificate | TwoStageCertificate) -> None:
    """The ℓ1/ℓ2/ℓ∞ radii of a certificate with their kinds and formulas."""
    if cert.radii:
        rows = [{"norm": figures.norm_symbol(q), "radius": r.value, "kind": r.kind,
                 "formula": r.formula} for q, r in cert.radii.items()]
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={"radius": st.column_config.NumberColumn(format="%.6g")})


def downloads(stem: str, json_text: str, row: dict) -> None:
    """JSON and CSV download buttons for the shown certificate."""
    widgets.downloads([("Download JSON", json_text, f"{stem}.json"),
                       ("Download CSV", figures.csv_text([row]), f"{stem}.csv")],
                      key="cert_dl", what="the certificate and the settings that produced it")


def show_result(result: services.CertifyResult, status: str) -> None:
    """A standard certificate: votes, p_A, radii, soundness, downloads and the audit."""
    cert, s = result.certificate, result.settings
    assert isinstance(s, services.CertifySettings) and isinstance(cert, Certificate)
    classes = classes_of(s.model_id, len(cert.counts))
    summary = services.p_a_summary(cert)
    norm = figures.norm_symbol(cert.norm)
    status_line(result, status)
    name = "abstain" if cert.abstained else classes[cert.prediction]
    m1, m2, m3, m4 = st.columns([1.1, 1.3, 1.3, 0.9])
    m1.metric("Prediction", name)
    m2.metric("p̲_A (lower bound)", f"{cert.p_a_lower:.6f}")
    m3.metric(f"Certified radius ({norm})", f"{cert.radius:.6g}")
    m4.metric("Elapsed", f"{result.elapsed:.1f} s",
              help="Wall time of the run: n0 selection plus n estimation samples.")
    m4.caption(f"{result.samples_per_s:,.0f} samples/s on {s.device}")
    if cert.abstained:
        st.warning(f"Abstain: p̲_A = {cert.p_a_lower:.4f} ≤ ½, so the smoothed classifier "
                   f"makes no certified prediction (selected class {classes[summary.selected]} "
                   f"got {summary.k:,} of {summary.n:,} votes).")
    else:
        st.markdown(f"**Prediction: {name}**, certified in {norm} up to radius "
                    f"**{cert.radius:.6g}** {figures.kind_badge(cert.kind)} "
                    f"(pixel units, images in [0, 1]).")

    col_votes, col_p = st.columns([1.2, 1], gap="medium")
    with col_votes:
        widgets.chart(figures.votes_figure(classes, cert.counts, cert.selection_counts,
                                           summary.selected, cert.n, cert.n0), key="cert_votes")
        selection = ", ".join(f"{classes[i]}: {v:,}" for i, v in
                              enumerate(cert.selection_counts) if v)
        st.caption(f"Selection votes (n0 = {cert.n0:,}): {selection}. Estimation votes for "
                   f"ĉ_A = {classes[summary.selected]}: {summary.k:,} of {cert.n:,}.")
    with col_p:
        widgets.chart(figures.p_a_interval_figure(summary.p_hat, summary.lower,
                                                  summary.ci_low, summary.ci_high, cert.alpha),
                      key="cert_p_a")
        st.markdown(
            f"p̂_A = {summary.k:,}/{cert.n:,} = `{summary.p_hat:.6f}` (empirical)  \n"
            f"p̲_A = `{cert.p_a_lower:.6f}` (one-sided Clopper–Pearson at α = {cert.alpha:g}, "
            f"**used**)  \n"
            f"{(1 - cert.alpha) * 100:.6g}% interval: [`{summary.ci_low:.6f}`, "
            f"`{summary.ci_high:.6f}`] (two-sided, display only)")

    if cert.abstained:
        st.markdown("**Certified radius**: none, the smoothed classifier abstains "
                    "(every radius is 0 at p̲_A ≤ ½).")
    else:
        st.markdown(f"**Certified radius** — native norm {norm}: `{cert.radius:.6g}` "
                    f"{figures.kind_badge(cert.kind)}")
        radii_table(cert)
    if "scale_min" in cert.noise and not cert.abstained:
        gmean = cert.noise["scale_geomean"]
        base = services.base_radius(result.noise, cert.p_a_lower, cert.norm)
        st.markdown(
            f"ALM ({norm}) = `{cert.alm:.6g}` :gray-badge[size of the certified region, not a "
            f"radius]  \n`ALM = (∏sᵢ)^(1/d)·R = {figures.fmt(gmean, 6)} · "
            f"{figures.fmt(base, 6)} = {figures.fmt(cert.alm, 6)}`")
        st.caption("The anisotropic noise certifies {δ : ‖δ/s‖_p ≤ R}. Its ℓp radius "
                   "min sᵢ·R is the largest ball inside that region; the ALM is the radius of "
                   "the isotropic region of equal volume, a size measure only.")
    st.markdown(f"Soundness: {widgets.soundness_badge(cert.soundness)} {cert.note}")
    if not cert.abstained:
        formula = cert.radii[cert.norm].formula if cert.norm in cert.radii else None
        if formula:
            st.markdown("  \n".join(figures.fill_formula(
                formula, services.formula_values(cert), cert.radius, cert.kind, cert.norm,
                digits=6)))
            st.caption("p_A in the formula is the lower bound p̲_A; Φ⁻¹ is the standard "
                       "normal quantile.")

    downloads(f"certificate-{s.model_id}-{result.key[:8]}", cert.to_json(),
              services.certificate_row(result, classes))
    st.caption(
        f"{s.model_id} · {s.image_key.split(':', 1)[0]} image "
        f"{s.image_key.split(':')[1][:16]} · {cert.noise.get('title')} σ = "
        f"{cert.noise.get('sigma'):g} · {services.CERTIFY_NPG_OPTIONS.get(s.noise.npg, s.noise.npg)} · "
        f"n0 = {cert.n0:,} · n = {cert.n:,} · α = {cert.alpha:g} · batch {s.batch_size:,} · "
        f"seed {s.seed} · {s.device} · {result.elapsed:.2f} s, "
        f"{result.samples_per_s:,.0f} samples/s")
    audit_section(result, classes)


@dataclass(frozen=True)
class StageNames:
    """What the two-stage result view (Dual RS, routing) names differently per mode."""

    selector: str              # the selection stage's model in words
    r_sel: str                 # the symbol of its radius
    unit: str                  # what it selects ("level", "configuration")
    choice_label: str          # the metric of what it selected
    choice: str                # what it selected, for the metric ("abstain" if nothing)
    outcome: str               # the same in a sentence or table ("σ = 0.5", "universal")
    selector_model: str
    selector_noise: str
    expert: str                # the classifier of the selected entry ("—" if none)
    expert_noise: str
    menu: list[str]            # the selection stage's classes
    classes: tuple[str, ...]   # the classification stage's classes
    stem: str                  # download file name without suffix


def dual_names(result: services.CertifyResult) -> StageNames:
    """The names of a Dual RS result: levels of Σ and their experts."""
    cert, s = result.certificate, result.settings
    assert isinstance(s, services.DualSettings) and isinstance(cert, DualCertificate)
    sel, cls = cert.selection, cert.classification
    level = "abstain" if sel.abstained else f"{cert.selected:g}"
    return StageNames(
        selector="σ-estimator", r_sel="R_σ", unit="level", choice_label="Selected level σ",
        choice=level,
        outcome=f"σ = {level}", selector_model=s.estimator_id,
        selector_noise=f"σ_e = {cert.sigma_sel:g}",
        expert=s.expert_ids[sel.prediction] if not sel.abstained else "—",
        expert_noise=f"σ = {level}", menu=[f"σ = {v:g}" for v in cert.menu],
        classes=classes_of(s.expert_ids[0], len(cls.counts) if cls is not None else 10),
        stem=f"certificate-dual-rs-{s.estimator_id}-{result.key[:8]}")


def routing_names(result: services.CertifyResult) -> StageNames:
    """The names of a routing result: the selector's menu of fixed configurations."""
    cert, s = result.certificate, result.settings
    assert isinstance(s, services.RoutingSettings) and isinstance(cert, RouteCertificate)
    sel, cls = cert.selection, cert.classification
    noise = "—"
    if cls is not None:
        noise = (f"σ = {cls.noise['sigma']:g}, s ∈ [{cls.noise['scale_min']:.3g}, "
                 f"{cls.noise['scale_max']:.3g}]")
    first = services.menu_entry(s.selector_id, cert.menu[0])["model"]
    return StageNames(
        selector="selector", r_sel="R_sel", unit="configuration",
        choice_label="Selected configuration", choice=cert.selected,
        outcome=cert.selected, selector_model=s.selector_id,
        selector_noise=f"σ_s = {cert.sigma_sel:g}",
        expert="—" if sel.abstained else services.menu_entry(s.selector_id, cert.selected)["model"],
        expert_noise=noise, menu=list(cert.menu),
        classes=classes_of(first, len(cls.counts) if cls is not None else 10),
        stem=f"certificate-routing-{s.selector_id}-{result.key[:8]}")


def show_two_stage_result(result: services.CertifyResult, status: str) -> None:
    """A Dual RS or routing certificate: the selected level or configuration, both stages
    (R_sel, R_c, p̲_A, α/2 each), the certified radius min(R_sel, R_c), for routing the
    configuration's maps and the ALM, soundness and downloads."""
    cert, s = result.certificate, result.settings
    assert isinstance(s, services.TwoStageSettings)
    assert isinstance(cert, (DualCertificate, RouteCertificate))
    names = (dual_names if isinstance(cert, DualCertificate) else routing_names)(result)
    sel, cls, classes, mode_name = cert.selection, cert.classification, names.classes, MODES[s.mode]
    status_line(result, status)
    name = "abstain" if cert.abstained else classes[cert.prediction]
    m1, m2, m3, m4 = st.columns([1, 1.5, 1.4, 0.8])
    m1.metric("Prediction", name)
    m2.metric(names.choice_label, names.choice,
              help=f"The {names.unit} chosen by the smoothed {names.selector} for this input.")
    m3.metric("Certified radius (ℓ2)", f"{cert.radius:.6g}",
              help=f"min({names.r_sel}, R_c): within it the {names.selector} keeps this "
                   f"{names.unit} and the classifier smoothed with it keeps the class.")
    m4.metric("Elapsed", f"{result.elapsed:.1f} s", help="Wall time of both stages.")
    m4.caption(f"{result.samples_per_s:,.0f} samples/s on {s.device}")
    r1, r2, r3, r4 = st.columns(4)
    r1.metric(f"{names.r_sel} ({names.selector})", f"{sel.radius:.6g}")
    r2.metric("R_c (classifier)", f"{cert.r_c:.6g}" if cls is not None else "not reached")
    r3.metric(f"p̲_A ({names.selector})", f"{sel.p_a_lower:.4f}",
              help="Four decimals here; the stage table below has the full value.")
    r4.metric("p̲_A (classifier)",
              "not reached" if math.isnan(cert.p_a_lower_c) else f"{cert.p_a_lower_c:.4f}",
              help="Four decimals here; the stage table below has the full value.")
    if sel.abstained:
        st.warning(f"Abstain: the smoothed {names.selector} selects no {names.unit} (p̲_A = "
                   f"{sel.p_a_lower:.4f} ≤ ½), so {mode_name} makes no certified prediction; "
                   "the classification stage is not run.")
    elif cert.abstained:
        st.warning(f"Abstain: at the selected {names.unit} {names.outcome} the smoothed "
                   f"classifier has p̲_A = {cert.p_a_lower_c:.4f} ≤ ½.")
    else:
        st.markdown(f"**Prediction: {name}**, certified in ℓ2 up to radius "
                    f"**min({names.r_sel}, R_c) = min({sel.radius:.6g}, {cert.r_c:.6g}) = "
                    f"{cert.radius:.6g}** {figures.kind_badge(cert.kind)} (pixel units, "
                    "images in [0, 1]).")

    stage_sel = services.p_a_summary(sel)
    stage_cls = services.p_a_summary(cls) if cls is not None else None
    rows = [{"stage": f"1 · {names.selector}", "model": names.selector_model,
             "Gaussian noise": names.selector_noise, "α": sel.alpha,
             "outcome": names.outcome, "votes": f"{stage_sel.k:,} / {sel.n:,}",
             "p̲_A": sel.p_a_lower}]
    if cls is not None and stage_cls is not None:
        rows.append({"stage": "2 · classifier", "model": names.expert,
                     "Gaussian noise": names.expert_noise, "α": cls.alpha,
                     "outcome": "abstain" if cls.abstained else classes[cls.prediction],
                     "votes": f"{stage_cls.k:,} / {cls.n:,}", "p̲_A": cls.p_a_lower})
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={"α": st.column_config.NumberColumn(format="%g"),
                                "p̲_A": st.column_config.NumberColumn(format="%.6f")})
    st.caption(f"α split: each stage runs CERTIFY at α/2 = {sel.alpha:g} (one-sided "
               "Clopper–Pearson), so by the union bound both stage certificates hold together "
               f"with probability ≥ 1 − α, α = {cert.alpha:g}.")

    col_sel, col_cls = st.columns(2, gap="medium")
    with col_sel:
        widgets.chart(figures.votes_figure(names.menu, sel.counts, sel.selection_counts,
                                           stage_sel.selected, sel.n, sel.n0),
                      key=f"cert_votes_{s.stage_tag}")
    col_sel.caption(f"Stage 1: the {names.selector}'s votes per {names.unit} (its classes are "
                    f"the {names.unit}s).")
    if cls is not None and stage_cls is not None:
        with col_cls:
            widgets.chart(figures.votes_figure(classes, cls.counts, cls.selection_counts,
                                               stage_cls.selected, cls.n, cls.n0),
                          key="cert_votes")
        col_cls.caption(f"Stage 2: votes of {names.expert} smoothed with Gaussian noise "
                        f"{names.expert_noise}.")
    if isinstance(s, services.RoutingSettings) and not sel.abstained:
        configuration_maps(s.selector_id, names.choice)

    if not cert.abstained:
        st.markdown(f"**Certified radius** — ℓ2: `{cert.radius:.6g}` "
                    f"{figures.kind_badge(cert.kind)}")
        radii_table(cert)
        if isinstance(cert, RouteCertificate):
            route_alm(cert)
    st.markdown(f"Soundness: {widgets.soundness_badge(cert.soundness)} {cert.note}")
    if isinstance(s, services.RoutingSettings):
        with st.expander("The certificate in words (as `ucan certify --route` prints it)"):
            st.code("\n".join(services.describe_route(s, cert)), language=None)
    downloads(names.stem, services.two_stage_json(result), services.two_stage_row(result, classes))
    st.caption(
        f"{s.title} · {s.image_key.split(':', 1)[0]} image {s.image_key.split(':')[1][:16]} · "
        f"n0 = {s.n0:,} · n = {s.n:,} per stage · α = {cert.alpha:g} · batch "
        f"{s.batch_size:,} · seed {s.seed} · {s.device} · {result.elapsed:.2f} s, "
        f"{result.samples_per_s:,.0f} samples/s")
    audit_section(result, classes, names)


def configuration_maps(selector_id: str, config: str) -> None:
    """The σ and μ maps of the menu configuration that the selector chose."""
    entry = services.menu_entry(selector_id, config)
    st.markdown(f"**Selected configuration: {config}** · {entry['source']} · model "
                f"{entry['model']} · σ = {entry['sigma']:g} · s ∈ [{entry['scale_min']:.3g}, "
                f"{entry['scale_max']:.3g}]")
    std_map, shift = services.route_maps(selector_id, config)
    col_sigma, col_mu = st.columns(2, gap="medium")
    with col_sigma:
        widgets.chart(figures.sigma_map_figure(std_map), key="cert_route_sigma")
    with col_mu:
        widgets.chart(figures.mu_map_figure(shift), key="cert_route_mu")
    st.caption("The noise of this configuration: μ + s ⊙ N(0, σ²I), per-pixel level sᵢ·σ. The "
               "maps are fixed (the same for every input), so the certificate is sound for "
               "the deployed router.")


def route_alm(cert: RouteCertificate) -> None:
    """The routing certificate's ALM (certified) and min(R_sel, ALM) (an upper bound only)."""
    upper = services.ALM_UPPER_KIND
    a1, a2, a3 = st.columns(3)
    a1.metric("Certified ALM", f"{cert.alm:.6g}", delta="certified, a size", delta_color="blue",
              delta_arrow="off",
              help="(∏ᵢ min(sᵢ·R, R_sel))^(1/d): the size of an ellipsoid inside the "
                   "certified set S. A size (the radius of the isotropic set of equal "
                   "volume), not a radius.")
    a2.metric("ALM of the configuration", f"{cert.alm_c:.6g}",
              help="(∏sᵢ)^(1/d)·R: the chosen configuration's own ALM, without R_sel.")
    a3.metric("min(R_sel, ALM)", f"{cert.alm_upper:.6g}", delta=upper, delta_color="orange",
              delta_arrow="off",
              help="S lies inside both the ball of radius R_sel and the configuration's "
                   "region, so its size is at most the smaller of the two sizes. Not a "
                   "certified quantity.")
    st.markdown(
        f"Certified ALM = `{cert.alm:.6g}` {figures.kind_badge('sound')} :gray-badge[size of "
        f"an ellipsoid inside the certified set, not a radius]  \n"
        f"min(R_sel, ALM) = min({cert.r_sel:.6g}, {cert.alm_c:.6g}) = `{cert.alm_upper:.6g}` "
        f":orange-badge[{upper}]")
    st.caption("The router keeps its class on S = B₂(R_sel) ∩ {‖δ/s‖₂ ≤ R}. The size of S "
               "lies between the certified ALM and min(R_sel, ALM).")


def audit_section(result: services.CertifyResult, classes: tuple[str, ...],
                  names: StageNames | None = None) -> None:
    """Attack the shown certificate on the deployed classifier, on demand, as the session's
    background job: a standard one over its ℓp ball (or anisotropic region), a Dual RS or
    routing one (``names`` of its stages) over the ℓ2 ball of min(R_sel, R_c)."""
    cert, s = result.certificate, result.settings
    st.markdown("#### Attack audit")
    if cert.abstained:
        st.caption("Nothing to audit: the certificate abstains, so it claims no region.")
        return
    shape: RegionShape = "ball"
    budget = services.AUDIT_BUDGET
    if names is None:
        assert isinstance(cert, Certificate)
        if "scale_min" in cert.noise:
            shape = st.radio("Attacked region", list(REGIONS), key="cert_audit_region",
                             horizontal=True, format_func=REGIONS.__getitem__,
                             help="The ℓp ball of the certified radius min sᵢ·R, or UCAN's "
                                  "whole anisotropic region (s at the certified input), which "
                                  "the ALM measures.")
        verify = f"n_verify = {budget.n_verify:,} fresh samples at α_audit = {budget.alpha:g}"
        attacked = "the deployed classifier" + (
            " (its NPG recomputes μ(x′), s(x′) at every attacked point)"
            if cert.noise.get("input_dependent") else "")
    else:
        verify = (f"n_verify = {budget.n_verify:,} fresh samples per stage at α_audit/2 = "
                  f"{budget.alpha / 2:g} each")
        attacked = (f"the deployed two-stage classifier (the smoothed {names.selector} picks "
                    f"a {names.unit}, whose smoothed classifier answers) on the ℓ2 ball of the "
                    f"certified radius min({names.r_sel}, R_c) = {cert.radius:.6g}; both "
                    f"stages' claims are attacked and verified")
    st.caption(
        f"Budget: PGD {budget.restarts} random starts × {budget.steps} steps of "
        f"{budget.step_size:g}·R, each on {budget.draws} noise draws · {budget.directions} "
        f"random boundary directions · {budget.screen} screening votes per candidate · "
        f"{verify} · seed {s.seed}. Attacked: {attacked}.")
    audit_key = services.audit_key(result.key, shape, budget)
    outcome = audits.get(audit_key)
    job: services.BackgroundJob | None = ss.get(JOB)
    busy = job is not None and job.running
    clicked = outcome is None and st.button(
        "Audit this certificate", key="cert_audit", disabled=busy,
        help="Attack the certificate inside the region it claims and verify the worst point "
             "found (seconds), with progress and Cancel. One job at a time per session.")
    if clicked and widgets.start_job(
            lambda: services.start_audit_job(result, shape, budget, services.session_probe()),
            JOB, "Cannot audit") is not None:
        st.rerun()
    if outcome is not None:
        show_audit(outcome, classes, names)


def show_audit(outcome: services.AuditOutcome, classes: tuple[str, ...],
               names: StageNames | None = None) -> None:
    """The verdict of an audit and what it means; for a two-stage certificate (``names``)
    both stages' verified bounds."""
    r, alpha = outcome.result, outcome.budget.alpha
    certified = classes[r.certified]
    if not r.attacked:
        st.info("Nothing was attacked: the certificate claims no region (radius 0).")
        return
    bounds = [("p̄_c", r.p_upper, f"the certified class {certified}")]
    if names is not None:
        entry = f"the selected {names.unit} {names.menu[r.selected]}"
        bounds.insert(0, ("p̄_sel", r.p_upper_selection, entry))
    if r.violation:
        failed = [b for b in bounds if b[1] < 0.5]
        claims = " and ".join(f"{label} = {value:.6f} < ½ for {what}"
                              for label, value, what in failed)
        consequence = (f"the deployed smoothed classifier does not keep {certified} there, so "
                       "this certificate does not hold for it" if names is None else
                       f"the certificate's claim that the smoothed {names.selector} keeps "
                       f"{entry} and its smoothed classifier keeps {certified} fails there, so "
                       "it does not hold for the deployed two-stage classifier")
        st.error(f"**Violation**: at the worst point found, inside the claimed region, the "
                 f"verified upper bound{'s' if len(failed) > 1 else ''} {claims}: "
                 f"{consequence}.")
    else:
        held = ", ".join(f"{label} = {value:.6f}" for label, value, _ in bounds)
        st.success(f"**No violation found**: at the worst point found, the verified upper "
                   f"bound{'s' if names else ''} {held} ≥ ½ for "
                   f"{' and '.join(what for _, _, what in bounds)}.")
    if names is None:
        a1, a2 = st.columns(2)
        a1.metric("Verified p̄_c", f"{r.p_upper:.6f}",
                  help=f"One-sided Clopper–Pearson upper bound at α_audit = {alpha:g} on "
                       f"P(f(x′ + ε) = {certified}) from n_verify fresh samples at x′.")
        a2.metric("PREDICT changed", f"yes → {classes[r.top_class]}" if r.changed else "no",
                  help="Cohen's PREDICT at x′ (binomial test at α_audit) returns another class.")
    else:
        a0, a1, a2 = st.columns([1.5, 1.3, 1])
        a0.metric(f"Verified p̄_sel ({names.selector})", f"{r.p_upper_selection:.6f}",
                  help=f"One-sided Clopper–Pearson upper bound at α_audit/2 = {alpha / 2:g} on "
                       f"the smoothed {names.selector}'s probability of {entry} at x′, from "
                       "n_verify fresh samples.")
        a1.metric("Verified p̄_c (classifier)", f"{r.p_upper:.6f}",
                  help=f"One-sided Clopper–Pearson upper bound at α_audit/2 = {alpha / 2:g} on "
                       f"the probability of {certified} under {entry}'s smoothed classifier at "
                       "x′, from n_verify fresh samples.")
        a2.metric("PREDICT changed", f"yes → {classes[r.top_class]}" if r.changed else "no",
                  help=f"The deployed PREDICT at x′ (the {names.selector}'s, then the chosen "
                       f"{names.unit}'s classifier's, each a binomial test at α_audit/2) "
                       "returns another class.")
    by, top, claim, target = "", "top class", certified, r.target
    if names is not None:
        by, top, claim, target = (f" by {entry}'s classifier", "deployed top class",
                                  "the weaker stage's claim", "deployed two-stage")
    st.caption(
        f"Votes for {certified} at the worst point x′{by}: {r.count:,} of {r.n_verify:,} "
        f"({top} {classes[r.top_class]}) · candidate: {r.source} · ‖δ‖ = {r.delta_norm:.4g} "
        f"({r.region_norm:.3f} of the region's size) · share of votes for {claim} in "
        f"screening {r.screen_p:.3f} · {target} classifier · {REGIONS[r.region]} "
        f"(R = {r.radius:.4g}) · {outcome.elapsed:.1f} s")
    st.caption(
        "What it means: a heuristic attack (PGD on a Monte-Carlo estimate of the smoothed "
        "classifier, boundary and random directions) searched the claimed region, and only its "
        "worst point was verified with fresh samples. A violation means that a probability the "
        "certificate claims is at least ½ (the certified class's; for two stages, the "
        "selection's too) is below ½ somewhere the certificate covers (a sound certificate is "
        "flagged with probability ≤ α + α_audit). No violation found is evidence, not proof: a "
        "stronger attack might still find one.")


# --------------------------------------------------------------------------------------------
# Results
with results:
    col_button, col_about = st.columns([1, 3], vertical_alignment="center")
    run_clicked = col_button.button("Certify", key="cert_run", type="primary", width="stretch",
                                    disabled=blocked is not None)
    col_about.caption(f"{settings.title} on {image.name} · {n0:,} + {n:,} samples at "
                      f"α = {alpha:g}{'' if mode == 'standard' else ' per stage (α/2 each)'} "
                      f"· seed {seed} · {device}")
    if blocked is not None:
        st.warning(blocked)
    job: services.BackgroundJob | None = ss.get(JOB)
    if ss.get(FRESH) != key:
        ss[FRESH] = None
    if run_clicked:
        if job is not None and job.running:
            busy_with = "An audit" if isinstance(job, services.AuditJob) else "A certification"
            st.warning(f"{busy_with} is already running in this session: wait for it or "
                       "press Cancel before starting another.")
        elif key in cache:
            ss[FRESH] = None
            st.info("Already certified with these exact settings: showing the cached result.")
        else:
            job = widgets.start_job(lambda: services.start_certify_job(
                settings, image.pixels, services.session_probe()), JOB, "Cannot certify") or job
    if job is not None:
        integrate(job)
    running = job is not None and job.running
    widgets.job_fragment(job_panel, job)

    shown = cache.get(key) or cache.get(ss.get(LAST, ""))
    if shown is not None:
        ss[LAST] = shown.key
        status = ("stale" if shown.key != key
                  else "fresh" if ss.get(FRESH) == key else "cached")
        (show_result if shown.settings.mode == "standard" else show_two_stage_result)(
            shown, status)
    elif not running:
        st.info("Choose a model (or Dual RS, or sound routing), an image and the sampling "
                "settings, then press **Certify**. Small runs (n ≈ 1,000) take well under a "
                "second; n = 100,000 takes tens of seconds on a CPU.")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
