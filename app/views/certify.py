"""Certify: certify one image in the background, with standard randomized smoothing (a bundled
model and its noise, Cohen et al. / UCAN), Dual RS (a σ-estimator picks the noise level,
that level's expert classifies) or sound routing (a selector picks one of a menu of fixed UCAN
noise configurations; ``ucan_core.two_stage.routing``), and attack any of these certificates
on demand (attack audit; two-stage ones on the deployed two-stage classifier).

Run tier of the app; this page holds the controls and the dispatch only. The "Certify" button
starts one job per session in a worker thread (``app.jobs``: engine calls only, never
``st.*``); a polling fragment (``app.panels.job``) shows its progress with a Cancel button
while the rest of the page stays interactive. The audit runs in the same job slot. A job whose
browser session has ended cancels itself (``jobs.session_probe``). Finished results are cached
per session under a hash of everything that determines them, so going back to a
configuration shows its result at once; ``app.panels.certificate`` and
``app.panels.two_stage`` draw them. All numbers come from ``ucan_core``.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import streamlit as st

from app import jobs, state
from app.cached.certify import sample_plan
from app.cached.images import dataset_title
from app.cached.models import check_two_stage, device_description, model_cards, sampling_defaults
from app.choices import MODES, CertifySettings, DualSettings, RoutingSettings, TwoStageSettings
from app.panels.certificate import CERTIFY_CACHE, show_result
from app.panels.job import certify_job_panel, job_fragment
from app.panels.two_stage import show_two_stage_result
from app.widgets.glossary import label
from app.widgets.images import model_image_picker
from app.widgets.models import (
    certify_noise_picker,
    dual_picker,
    follow_sampling,
    model_picker,
    routing_picker,
)
from app.widgets.output import escape_markdown
from app.widgets.sequential import sequential_picker
from ucan_core.devices import available_devices
from ucan_core.errors import UcanError

_t0 = time.perf_counter()

JOB, LAST, FRESH, AUDITS = "certify_job", "certify_last_key", "certify_fresh_key", "certify_audits"
CACHE = CERTIFY_CACHE
#: This session's certificates and audits kept (least recently used dropped first).
CACHE_SIZE = AUDITS_SIZE = 8
#: Teaching-mode explanations of what the two-stage modes certify.
TEACHING = {
    "dual": "**What Dual RS certifies.** Some images are best certified with a little noise, "
            "others with a lot. A small helper network looks at the noisy image and picks the "
            "noise level; the same voting trick makes that pick itself guaranteed not to "
            "change for small edits of the image. The classifier trained at the picked level "
            "is then certified as usual. The whole system, helper and classifier together, "
            "keeps its answer within the smaller of the two guaranteed distances.",
    "routing": "**What sound routing certifies.** As in Dual RS, a helper network picks, but "
               "from a fixed menu of noise shapes (equal noise everywhere, or more noise on "
               "some pixels than others). The pick is guaranteed not to change for small "
               "edits; the chosen shape's certificate then holds as usual. The whole system "
               "keeps its answer within the smaller of the two guaranteed distances, and the "
               "menu is fixed in advance, which is what makes the promise hold.",
}

ss = st.session_state
ss.setdefault(CACHE, OrderedDict())
ss.setdefault(AUDITS, OrderedDict())
cache: OrderedDict[str, jobs.CertifyResult] = ss[CACHE]
audits: OrderedDict[str, jobs.AuditOutcome] = ss[AUDITS]

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

cards = model_cards()
if not cards:
    st.error("No bundled models found in assets/models.")
    st.stop()

controls, results = st.columns([1, 2.6], gap="large")

with controls:
    mode = st.radio("Smoothing", list(MODES), key="cert_mode", bind="query-params",
                    horizontal=True, format_func=MODES.__getitem__,
                    help="Standard RS: one model smoothed with one noise. Dual RS (Sun, Mao & "
                         "Vechev): a smoothed σ-estimator picks the noise level for this input, "
                         "then that level's expert is certified; each stage at α/2, radius "
                         "min(R_σ, R_c), sound for the deployed classifier. Sound routing: the "
                         "same two stages over a menu of fixed UCAN configurations (σ maps); "
                         "radius min(R_sel, R_c), and an ALM for the anisotropic region.")
    if state.teaching_mode() and mode in TEACHING:
        st.info(TEACHING[mode])
    if mode == "standard":
        card = model_picker(cards)
        shape, dataset = card.architecture.input_shape, card.dataset
    else:
        if mode == "dual":
            selector, expert_ids = dual_picker(cards)
        else:
            selector = routing_picker()
        shape, dataset = selector.architecture.input_shape, selector.dataset
    image = model_image_picker(shape, dataset, any_dataset=mode != "standard")
    if mode == "standard":
        choice = certify_noise_picker(card)

    defaults = follow_sampling(sampling_defaults(card if mode == "standard" else None))
    st.subheader("Sampling")
    n0 = int(st.number_input(label("n0", "n0 (selection samples)"), min_value=1, max_value=100_000,
                             value=defaults["n0"], step=10, key="cert_n0", bind="query-params",
                             help="Noisy copies used to pick the top class ĉ_A (per stage in "
                                  "Dual RS and routing)."))
    n = int(st.number_input(label("n", "n (estimation samples)"), min_value=1, max_value=100_000,
                            value=defaults["n"], step=1000, key="cert_n", bind="query-params",
                            help="Fresh noisy copies used to bound p_A (per stage in Dual RS "
                                 "and routing); more samples, a tighter bound and a larger "
                                 "radius (up to 100,000)."))
    alpha = float(st.number_input(label("α", "α (failure probability)"), min_value=0.0, max_value=1.0,
                                  value=defaults["alpha"], step=0.001, format="%.5f",
                                  key="cert_alpha", bind="query-params",
                                  help="The certificate holds with probability ≥ 1 − α over "
                                       "the sampling (Dual RS, routing: α/2 per stage). Must "
                                       "lie in (0, 1)."))
    refusals = [why for bad, why in (
        (n0 > n, f"n0 ({n0:,}) must not exceed n ({n:,}): raise n or lower n0."),
        (not 0 < alpha < 1, "α must lie strictly between 0 and 1 (α = 0 would need infinitely "
                            "many samples)."))
        if bad]
    for why in refusals:
        st.error(why)
    if not refusals and mode == "standard":
        best = sample_plan(choice, alpha, n).max_radius_fixed or 0.0
        st.caption(f"With n = {n:,} at α = {alpha:g} no radius above **{best:.3g}** "
                   f"({best / choice.sigma:.2f}σ, base noise, native norm) can be certified, "
                   "even if every vote agrees (the engine's planner).")
    sequential, target = (sequential_picker(choice, alpha, n) if not refusals and mode == "standard"
                          else (False, None))
    devices = available_devices()
    if state.teaching_mode():
        batch, seed, device = defaults["batch"], defaults["seed"], devices[0]
    else:
        batch = int(st.number_input("Batch size", min_value=1, max_value=10_000,
                                    value=defaults["batch"], step=100, key="cert_batch",
                                    help="Noisy copies per forward pass (memory vs speed)."))
        seed = int(st.number_input("Seed", min_value=0, max_value=2**31 - 1,
                                   value=defaults["seed"], step=1, key="cert_seed",
                                   bind="query-params",
                                   help="Seed of the noise sampler: same seed, same certificate."))
        device = st.selectbox("Device", devices, key="cert_device",
                              help="Where the model and the noise run (best available first).")
    st.caption(f"In use: **{device_description(device)}**")

settings: CertifySettings | TwoStageSettings
#: Why Certify is disabled for the current settings (None: it is not).
blocked: str | None = " ".join(refusals) or None
sampling = {"image_key": image.key, "n0": n0, "n": n, "alpha": alpha, "batch_size": batch,
            "seed": seed, "device": device}
if mode == "standard":
    settings = CertifySettings(model_id=card.id, noise=choice, sequential=sequential,
                               target_radius=target, **sampling)
else:
    if mode == "dual":
        settings = DualSettings(estimator_id=selector.id, expert_ids=tuple(expert_ids),
                                **sampling)
        models = f"the bundled σ-estimator {selector.id} and its experts"
    else:
        settings = RoutingSettings(selector_id=selector.id, **sampling)
        models = f"the bundled selector {selector.id} and its menu's models"
    title = dataset_title(selector.dataset)
    if image.dataset is not None and image.dataset != selector.dataset:
        other = dataset_title(image.dataset)
        blocked = (f"{MODES[mode]} with {selector.id} takes {title} images only: {models} are "
                   f"{title} models, and {escape_markdown(image.name)} is a {other} image "
                   f"({'×'.join(map(str, image.original_size))} "
                   f"{'greyscale' if image.original_mode == 'L' else 'colour'}). Pick one of "
                   f"the {title} images, upload your own, or choose a bundled "
                   f"{'σ-estimator' if mode == 'dual' else 'selector'} for {other} images if "
                   "there is one.")
    elif blocked is None:
        try:
            check_two_stage(settings)
        except UcanError as error:
            blocked = f"These models cannot be used for {MODES[mode]}: {error}."
key = settings.key()


def integrate(job: jobs.BackgroundJob) -> None:
    """Move a finished job's outcome into the session caches (once)."""
    if jobs.new_outcome(job) is None:
        return
    if isinstance(job, jobs.AuditJob):
        jobs.remember(audits, job.key, jobs.audit_outcome(job), AUDITS_SIZE)
        return
    assert isinstance(job, jobs.CertifyJob)
    jobs.remember(cache, job.key, jobs.result_of(job), CACHE_SIZE)
    ss[LAST] = ss[FRESH] = job.key


def job_panel() -> None:
    """The running job's progress and Cancel (a fragment: reruns alone while the job runs)."""
    certify_job_panel(ss.get(JOB), key, cache)


# --------------------------------------------------------------------------------------------
# Results
with results:
    col_button, col_about = st.columns([1, 3], vertical_alignment="center")
    run_clicked = col_button.button("Certify", key="cert_run", type="primary", width="stretch",
                                    disabled=blocked is not None)
    col_about.caption(f"{settings.title} on {escape_markdown(image.name)} · {n0:,} + "
                      f"{'at most ' if sequential else ''}{n:,} samples at "
                      f"α = {alpha:g}{'' if mode == 'standard' else ' per stage (α/2 each)'}"
                      f"{' (anytime-valid)' if sequential else ''} · seed {seed} · {device}")
    if blocked is not None:
        st.warning(blocked)
    job: jobs.BackgroundJob | None = ss.get(JOB)
    if ss.get(FRESH) != key:
        ss[FRESH] = None
    if run_clicked:
        if job is not None and job.running:
            busy_with = "An audit" if isinstance(job, jobs.AuditJob) else "A certification"
            st.warning(f"{busy_with} is already running in this session: wait for it or "
                       "press Cancel before starting another.")
        elif key in cache:
            ss[FRESH] = None
            st.info("Already certified with these exact settings: showing the cached result.")
        else:
            job = jobs.start_job(lambda: jobs.start_certify_job(
                settings, image.pixels, jobs.session_probe()), JOB, "Cannot certify") or job
    if job is not None:
        integrate(job)
    running = job is not None and job.running
    job_fragment(job_panel, job)

    shown = cache.get(key) or cache.get(ss.get(LAST, ""))
    if shown is not None and running and shown.key != key:
        st.caption("The previous result (other settings) is hidden while this run goes.")
        shown = None
    if shown is not None:
        ss[LAST] = shown.key
        status = ("stale" if shown.key != key
                  else "fresh" if ss.get(FRESH) == key else "cached")
        (show_result if shown.settings.mode == "standard" else show_two_stage_result)(
            shown, status, settings, audits, JOB)
    elif not running:
        st.info("Choose a model (or Dual RS, or sound routing), an image and the sampling "
                "settings, then press **Certify**. The time grows with n and the model: on a "
                "CPU, MNIST runs at thousands of samples per second, CIFAR-10 and photos "
                "are far slower (the progress bar shows the measured rate and an ETA).")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
