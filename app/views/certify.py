"""Certify: run Cohen et al.'s CERTIFY with a bundled model on one image, in the background.

Run tier of the app. The "Certify" button starts one job per session in a worker thread
(``services.CertifyJob``: engine calls only, never ``st.*``); a polling fragment shows its
progress with a Cancel button while the rest of the page stays interactive. Finished results
are cached per session under a hash of everything that determines them, so going back to a
configuration shows its result at once. All numbers come from ``ucan_core``; the figures
are built by the pure functions of ``app.figures``.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import streamlit as st

from app import figures, services
from ucan_core.devices import available_devices
from ucan_core.errors import UcanError

_t0 = time.perf_counter()

JOB, CACHE, LAST, FRESH, HIT = ("certify_job", "certify_cache", "certify_last_key",
                                "certify_fresh_key", "certify_hit")
CACHE_SIZE = 32
POLL_S = 0.5
#: After a click the script waits this long for the worker, so short runs and argument
#: errors from the engine show up in the same rerun.
FIRST_WAIT_S = 0.4
DEFAULTS = {"n0": 100, "n": 10_000, "alpha": 0.001, "batch": 1000, "seed": 0,
            "kappa": 1.0, "iota": 1.0}
SOUNDNESS_COLOURS = {"sound": "green", "input-dependent": "orange", "approximate": "orange"}

ss = st.session_state
ss.setdefault(CACHE, OrderedDict())
cache: OrderedDict[str, services.CertifyResult] = ss[CACHE]

st.title("Certify")
st.markdown(
    "Certify one image with a bundled smoothed classifier: the page draws n0 noisy copies to "
    "select the top class ĉ_A, then n fresh copies to bound its probability p_A from below "
    "(Clopper–Pearson, level α), and turns that bound into a certified radius. Runs happen in "
    "the background; you can keep changing settings, and every result is cached.")

cards = services.model_cards()
if not cards:
    st.error("No bundled models found in assets/models.")
    st.stop()

controls, results = st.columns([1, 2.6], gap="large")

# --------------------------------------------------------------------------------------------
# Controls
with controls:
    st.subheader("Model")
    model_id = st.selectbox("Model", list(cards), key="cert_model", bind="query-params",
                            help="A bundled base classifier, trained with the noise it is "
                                 "smoothed with (Gaussian data augmentation).")
    card = cards[model_id]
    arch = card.architecture
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

    st.subheader("Image")
    source = st.radio("Image source", ["Bundled", "Upload"], key="cert_source",
                      bind="query-params", horizontal=True,
                      help="A bundled test image of the model's dataset, or your own PNG/JPEG.")
    catalog = services.bundled_catalog()
    entries = dict(catalog.get(card.dataset) or [e for group in catalog.values() for e in group])
    first_id = next(iter(entries))
    image = None
    if source == "Bundled":
        image_id = st.selectbox("Image", list(entries), key=f"cert_image_{card.dataset}",
                                bind="query-params", format_func=entries.__getitem__,
                                help="Test-set index and label of the bundled image.")
        image = services.bundled_model_input(image_id, arch.input_shape)
    else:
        upload = st.file_uploader("Upload an image", type=["png", "jpg", "jpeg"],
                                  key="cert_upload",
                                  help="PNG or JPEG, at most 10 MB and 16.7 Mpixel, checked "
                                       "before decoding, then converted to the model's input "
                                       f"shape {arch.input_shape[0]}×{arch.input_shape[1]}×"
                                       f"{arch.input_shape[2]}.")
        invert = st.checkbox("Invert (dark ↔ light)", key="cert_invert",
                             help="MNIST digits are light on a dark background; invert a "
                                  "dark-on-light drawing to match.")
        if upload is not None:
            try:
                image = services.uploaded_model_input(upload.getvalue(), upload.name,
                                                      arch.input_shape)
            except UcanError as error:
                st.error(f"Upload refused: {error}")
        if image is None:
            image = services.bundled_model_input(first_id, arch.input_shape)
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

    st.subheader("Noise")
    override = st.checkbox("Override σ", key="cert_override",
                           help=f"Certify with another noise level than the model's training "
                                f"noise (σ = {sigma_card:g}).")
    sigma = sigma_card
    if override:
        sigma = float(st.number_input("σ (noise level)", min_value=0.01, max_value=4.0,
                                      value=sigma_card, step=0.05, format="%.3f",
                                      key=f"cert_sigma_{model_id}",
                                      help="Per-coordinate standard deviation, pixel units."))
        if sigma != sigma_card:
            st.warning(f"This model was trained at σ = {sigma_card:g}. A smoothed classifier "
                       "is certified best at its training σ: at another σ the base classifier "
                       "errs more under noise, so p̲_A and the radius usually drop.")
    npg_options = [k for k in services.CERTIFY_NPG_OPTIONS
                   if k != services.LEARNED or card.npg != "isotropic"]
    npg = st.selectbox("Noise generator (NPG)", npg_options, key=f"cert_npg_{model_id}",
                       format_func=services.CERTIFY_NPG_OPTIONS.__getitem__,
                       help="learned: the model's own NPG (universal maps are fixed and sound; "
                            "input-dependent maps are computed from this image and are NOT a "
                            "certificate for the deployed classifier). isotropic: the same σ "
                            "everywhere. pattern ℓp (UCAN): a fixed scale map κ‖(a, b)‖_p² + ι "
                            "over the pixel position, normalised to geometric mean 1.")
    kappa, iota = DEFAULTS["kappa"], DEFAULTS["iota"]
    if npg.startswith("pattern"):
        kappa = st.slider("κ (pattern strength)", 0.0, 4.0, DEFAULTS["kappa"], 0.1,
                          key="cert_kappa", help="How much the noise grows towards the corners.")
        iota = st.slider("ι (pattern offset)", 0.05, 2.0, DEFAULTS["iota"], 0.05,
                         key="cert_iota", help="Base level of the scale map.")
        if npg != card.npg:
            st.caption(f"The model was trained with {card.npg} noise; the certificate stays "
                       "valid, but p_A may be lower under this noise.")

    st.subheader("Sampling")
    n0 = int(st.number_input("n0 (selection samples)", min_value=1, max_value=100_000,
                             value=DEFAULTS["n0"], step=10, key="cert_n0", bind="query-params",
                             help="Noisy copies used to pick the top class ĉ_A."))
    n = int(st.number_input("n (estimation samples)", min_value=1, max_value=100_000,
                            value=DEFAULTS["n"], step=1000, key="cert_n", bind="query-params",
                            help="Fresh noisy copies used to bound p_A; more samples, a "
                                 "tighter bound and a larger radius (up to 100,000)."))
    alpha = float(st.number_input("α (failure probability)", min_value=0.0, max_value=1.0,
                                  value=DEFAULTS["alpha"], step=0.001, format="%.5f",
                                  key="cert_alpha", bind="query-params",
                                  help="The certificate holds with probability ≥ 1 − α over "
                                       "the sampling. Must lie in (0, 1)."))
    batch = int(st.number_input("Batch size", min_value=1, max_value=10_000,
                                value=DEFAULTS["batch"], step=100, key="cert_batch",
                                help="Noisy copies per forward pass (memory vs speed)."))
    seed = int(st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=DEFAULTS["seed"],
                               step=1, key="cert_seed", bind="query-params",
                               help="Seed of the noise sampler: same seed, same certificate."))
    devices = available_devices()
    device = st.selectbox("Device", devices, key="cert_device",
                          help="Where the model and the noise run (best available first).")
    st.caption(f"In use: **{services.device_description(device)}**")

choice = services.NoiseChoice(
    density=card.noise["name"], sigma=sigma, shape=arch.input_shape, npg=npg,
    kappa=float(kappa), iota=float(iota),
    params=tuple(sorted((k, float(v)) for k, v in (card.noise.get("params") or {}).items())))
settings = services.CertifySettings(
    model_id=model_id, image_key=image.key, noise=choice, n0=n0, n=n, alpha=alpha,
    batch_size=batch, seed=seed, device=device)
key = settings.key()


# --------------------------------------------------------------------------------------------
# Job handling


def integrate(job: services.CertifyJob) -> None:
    """Move a finished job's certificate into the session cache (once)."""
    if job.running or job.integrated:
        return
    job.integrated = True
    if job.result is not None:
        cache[job.key] = services.result_of(job)
        cache.move_to_end(job.key)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        ss[LAST] = ss[FRESH] = job.key


def job_panel() -> None:
    """Progress, ETA and Cancel of the running job; its outcome once it stopped."""
    job: services.CertifyJob | None = ss.get(JOB)
    if job is None:
        return
    if job.running:
        eta = job.eta
        st.progress(min(1.0, job.done / max(job.total, 1)),
                    text=f"Certifying: {job.done:,} / {job.total:,} samples · "
                         + (f"ETA {eta:.0f} s" if eta is not None else "ETA …"))
        s = job.settings
        st.caption(f"{s.model_id} · {s.image_key.split(':')[1][:16]} · n0 = {s.n0:,}, "
                   f"n = {s.n:,} · {s.device} · {job.elapsed:.1f} s elapsed · "
                   f"{job.rate:,.0f} samples/s")
        if job.cancel_event.is_set():
            st.caption("Cancelling…")
        elif st.button("Cancel", key="cert_cancel"):
            job.cancel()
            st.caption("Cancelling…")
        return
    if not job.integrated:
        st.rerun()  # the job just stopped: redraw the whole page with its outcome
    if job.cancelled:
        st.warning(f"Certification cancelled after {job.done:,} / {job.total:,} samples "
                   f"({job.elapsed:.1f} s): no result for this run.")
    elif job.error is not None:
        if job.key == key:
            st.error(f"Certification failed: {job.error}")
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


def show_result(result: services.CertifyResult, status: str) -> None:
    cert, s = result.certificate, result.settings
    classes = (cards[s.model_id].architecture.classes if s.model_id in cards
               else tuple(str(i) for i in range(len(cert.counts))))
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
        st.plotly_chart(figures.votes_figure(classes, cert.counts, cert.selection_counts,
                                             summary.selected, cert.n, cert.n0),
                        key="cert_votes", config={"displayModeBar": False})
        selection = ", ".join(f"{classes[i]}: {v:,}" for i, v in
                              enumerate(cert.selection_counts) if v)
        st.caption(f"Selection votes (n0 = {cert.n0:,}): {selection}. Estimation votes for "
                   f"ĉ_A = {classes[summary.selected]}: {summary.k:,} of {cert.n:,}.")
    with col_p:
        st.plotly_chart(figures.p_a_interval_figure(summary.p_hat, summary.lower,
                                                    summary.ci_low, summary.ci_high,
                                                    cert.alpha),
                        key="cert_p_a", config={"displayModeBar": False})
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
        if cert.radii:
            rows = [{"norm": figures.norm_symbol(q), "radius": r.value, "kind": r.kind,
                     "formula": r.formula} for q, r in cert.radii.items()]
            st.dataframe(rows, hide_index=True, width="stretch",
                         column_config={"radius": st.column_config.NumberColumn(format="%.6g")})
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
    colour = SOUNDNESS_COLOURS.get(cert.soundness, "gray")
    st.markdown(f"Soundness: :{colour}-badge[{cert.soundness}] {cert.note}")
    if not cert.abstained:
        formula = cert.radii[cert.norm].formula if cert.norm in cert.radii else None
        if formula:
            st.markdown("  \n".join(figures.fill_formula(
                formula, services.formula_values(cert), cert.radius, cert.kind, cert.norm,
                digits=6)))
            st.caption("p_A in the formula is the lower bound p̲_A; Φ⁻¹ is the standard "
                       "normal quantile.")

    stem = f"certificate-{s.model_id}-{result.key[:8]}"
    d1, d2, _ = st.columns([1, 1, 2])
    d1.download_button("Download JSON", cert.to_json(), file_name=f"{stem}.json",
                       mime="application/json", key="cert_dl_json", on_click="ignore",
                       width="stretch")
    d2.download_button("Download CSV", figures.csv_text([services.certificate_row(result,
                                                                                  classes)]),
                       file_name=f"{stem}.csv", mime="text/csv", key="cert_dl_csv",
                       on_click="ignore", width="stretch")
    st.caption(
        f"{s.model_id} · {s.image_key.split(':', 1)[0]} image "
        f"{s.image_key.split(':')[1][:16]} · {cert.noise.get('title')} σ = "
        f"{cert.noise.get('sigma'):g} · {services.CERTIFY_NPG_OPTIONS.get(s.noise.npg, s.noise.npg)} · "
        f"n0 = {cert.n0:,} · n = {cert.n:,} · α = {cert.alpha:g} · batch {s.batch_size:,} · "
        f"seed {s.seed} · {s.device} · {result.elapsed:.2f} s, "
        f"{result.samples_per_s:,.0f} samples/s")


# --------------------------------------------------------------------------------------------
# Results
with results:
    col_button, col_about = st.columns([1, 3], vertical_alignment="center")
    run_clicked = col_button.button("Certify", key="cert_run", type="primary", width="stretch")
    col_about.caption(f"{model_id} on {image.name} · {n0:,} + {n:,} samples at α = {alpha:g} "
                      f"· seed {seed} · {device}")
    job: services.CertifyJob | None = ss.get(JOB)
    if ss.get(FRESH) != key:
        ss[FRESH] = None
    if run_clicked:
        if job is not None and job.running:
            st.warning("A certification is already running in this session: wait for it or "
                       "press Cancel before starting another.")
        elif key in cache:
            ss[FRESH] = None
            st.info("Already certified with these exact settings: showing the cached result.")
        else:
            try:
                job = services.start_certify_job(settings, image.pixels)
            except UcanError as error:
                st.error(f"Cannot certify: {error}")
            except Exception as error:  # noqa: BLE001 — e.g. out of memory loading the model
                st.error(f"Cannot certify: unexpected {type(error).__name__}: {error}")
            else:
                ss[JOB] = job
                job.wait(FIRST_WAIT_S)
    if job is not None:
        integrate(job)
    running = job is not None and job.running
    st.fragment(job_panel, run_every=POLL_S if running else None)()

    if key in cache:
        ss[LAST] = key
        show_result(cache[key], "fresh" if ss.get(FRESH) == key else "cached")
    elif ss.get(LAST) in cache:
        show_result(cache[ss[LAST]], "stale")
    elif not running:
        st.info("Choose a model, an image and the sampling settings, then press **Certify**. "
                "Small runs (n ≈ 1,000) take well under a second; n = 100,000 takes tens of "
                "seconds on a CPU.")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
