"""The Region page's empirical check (``app.jobs.start_region_check``): its controls (model,
points, PREDICT n; a photo model at its own sizes, ``app.jobs.check_sampling``), its
background job, and its result: the certificate at the image, the PREDICT answers at points
of the certified region's slice, their counts and what a spot-check does and does not show."""

from __future__ import annotations

from collections import OrderedDict

import streamlit as st

from app import jobs
from app.cached.images import InputImage, image_key
from app.cached.models import cpu_seconds, model_cards
from app.cached.region import check_models, pixel_index, region_slice
from app.choices import NoiseChoice, RegionCheckSettings
from app.figures.common import KIND_COLOURS, fmt, fmt_p, fmt_rate, full, norm_symbol
from app.figures.region import check_figure
from app.jobs import RegionCheck
from app.panels.job import check_job_panel, job_fragment
from app.widgets.output import chart, text_metric
from app.widgets.pixels import PREFIX, describe

CHECK_JOB, CHECK_CACHE, CHECK_LAST = "region_check_job", "region_checks", "region_check_last"
CHECK_CACHE_SIZE = 16
CHECK_POINTS = [8, 16, 24, 32, 48]
CHECK_PREDICT_N = [100, 200, 500]


def check_panel() -> None:
    """The running check's progress and Cancel (a fragment: reruns alone while it runs)."""
    check_job_panel(st.session_state.get(CHECK_JOB), f"{PREFIX}check_cancel")


def check_section(choice: NoiseChoice, norm: str, image: InputImage,
                  pixels: tuple[tuple[int, int, int], tuple[int, int, int]]) -> None:
    """The optional empirical check: model and sizes, the Run button, progress, result (the
    session keeps its last :data:`CHECK_CACHE_SIZE` checks)."""
    ss = st.session_state
    checks: OrderedDict[str, jobs.RegionCheck] = ss.setdefault(CHECK_CACHE, OrderedDict())
    c, h, w = image.shape
    st.subheader("Empirical check (optional)")
    st.markdown(
        "Certify a bundled model smoothed with **this noise** at this image (Cohen's CERTIFY "
        "gives the class and p̲_A, hence R), then draw points inside the certified slice — half "
        "on its boundary, half spread inside, where pixels A and B can move within [0, 1] — "
        "and ask the smoothed classifier for its class at each (Cohen's PREDICT, Monte "
        "Carlo).")
    models = check_models(choice)
    if not models:
        st.info(f"No bundled model takes {c}×{h}×{w} inputs: the check needs an MNIST "
                "(1×28×28) or CIFAR-10 (3×32×32) image, or a square photo (shown at 224×224, "
                "the photo models' input).")
        return
    left, middle, right = st.columns([1.5, 1, 1])
    model_id = left.selectbox("Model (base classifier)", models, key=f"{PREFIX}check_model_{h}",
                              bind="query-params",
                              help="A bundled classifier trained with isotropic Gaussian noise "
                                   "(for a photo: a denoiser, then an ImageNet classifier), "
                                   "smoothed here with this page's noise; the nearest σ first.")
    card = model_cards()[model_id]
    sampling = jobs.check_sampling(card)
    points = middle.select_slider("Points K", CHECK_POINTS, value=sampling.points,
                                  key=f"{PREFIX}check_points{'_slow' if sampling.slow else ''}",
                                  bind="query-params",
                                  help="Points drawn in the slice (half on its boundary).")
    n_predict = right.select_slider("PREDICT samples per point", CHECK_PREDICT_N,
                                    value=CHECK_PREDICT_N[0],
                                    key=f"{PREFIX}check_n", bind="query-params",
                                    help="Monte-Carlo samples of PREDICT at each point.")
    i, j = (pixel_index(image.shape, *p) for p in pixels)
    settings = RegionCheckSettings(
        image_key=image_key(image.pixels), n0=sampling.n0, n=sampling.n,
        alpha=jobs.CHECK_ALPHA, batch_size=sampling.batch, seed=jobs.CHECK_SEED, device="cpu",
        model_id=model_id, noise=choice, norm=norm, i=i, j=j, points=points,
        n_predict=n_predict)
    key = settings.key()
    job: jobs.BackgroundJob | None = ss.get(CHECK_JOB)
    running = job is not None and job.running
    col_button, col_about = st.columns([1.3, 2.7], vertical_alignment="center")
    clicked = col_button.button("Run empirical check", key=f"{PREFIX}check_run",
                                disabled=running, width="stretch")
    seconds = cpu_seconds(card, settings.samples)
    col_about.caption(f"CERTIFY: n0 = {settings.n0}, n = {settings.n:,} · PREDICT: n = "
                      f"{n_predict} at each of {points} points · α = {settings.alpha:g} · seed "
                      f"{settings.seed} · CPU · {settings.samples:,} samples "
                      + (f"(up to about {fmt(seconds / 60, 2)} min at the rate the card of "
                         f"{model_id} records, {fmt_rate(settings.samples / seconds)} samples/s "
                         "under load; the progress gives the live estimate)"
                         if sampling.slow and seconds else
                         "(seconds for MNIST, tens of seconds for CIFAR-10)"))
    if clicked and key not in checks:
        job = jobs.start_job(lambda: jobs.start_region_check(
            settings, image.pixels, jobs.session_probe()), CHECK_JOB,
            "Cannot run the check") or job
    if job is not None and (result := jobs.new_outcome(job)) is not None:
        jobs.remember(checks, job.key, result, CHECK_CACHE_SIZE)
    running = job is not None and job.running
    job_fragment(check_panel, job)
    result = checks.get(key)
    if result is not None:
        ss[CHECK_LAST] = key
        show_check(result, (describe(pixels[0], c), describe(pixels[1], c)))
    elif ss.get(CHECK_LAST) in checks and not running:
        changed = ", ".join(settings.differences(checks[ss[CHECK_LAST]].settings))
        st.caption(f"The last check was for other settings ({changed or 'settings'} "
                   "changed): run it again for these.")


def show_check(result: RegionCheck, names: tuple[str, str]) -> None:
    """The certificate at x, the check's points on its region's slice (pixels ``names``),
    counts and meaning."""
    s, cert, check = result.settings, result.certificate, result.check
    classes = model_cards()[s.model_id].architecture.classes
    sym = norm_symbol(s.norm)
    if check is None:
        st.warning(f"CERTIFY abstained at this image (p̲_A = {fmt_p(cert.p_a_lower)} ≤ ½ for "
                   f"{s.model_id} with this noise): there is no certified region to check. "
                   "A model trained at this σ, or a smaller σ, may certify.")
        return
    counts = check.counts()
    view = region_slice(s.noise, cert.p_a_lower, s.norm, s.i, s.j)
    top, bottom = st.columns(3), st.columns(3)
    text_metric(top[0], "Certified class", classes[check.certified],
                help="The class CERTIFY returned at the image.")
    top[1].metric("p̲_A", fmt_p(cert.p_a_lower), help=f"One-sided Clopper–Pearson lower "
                  f"bound at α = {s.alpha:g} from n = {s.n:,} samples: {full(cert.p_a_lower)}.")
    top[2].metric(f"R ({sym})", fmt(result.radius, 3), delta=view.radius_kind,
                  delta_color=KIND_COLOURS.get(view.radius_kind, "gray"),
                  delta_arrow="off", help="The base noise's radius at p̲_A: the region is "
                  f"{{δ : ‖δ/s‖_p ≤ R}}, R = {full(result.radius)}. exact: tight; sound: valid, "
                  "maybe loose.")
    bottom[0].metric("Held", f"{counts['held']} / {s.points}",
                     help="PREDICT returned the certified class.")
    bottom[1].metric("Changed", counts["changed"], help="PREDICT returned another class.")
    bottom[2].metric("Abstained", counts["abstained"],
                     help="PREDICT's test was not significant: no answer (not a violation).")
    subtitle = (f"{s.model_id} · class {classes[check.certified]} · p̲_A = "
                f"{fmt_p(cert.p_a_lower)} · R = {fmt(result.radius, 3)}")
    chart(check_figure(view, *names, check, classes, subtitle), key="region_check")
    if counts["changed"]:
        st.error(f"PREDICT returned another class at {counts['changed']} of {s.points} points "
                 "inside the certified slice. Each PREDICT answer is wrong with probability "
                 f"≤ α = {s.alpha:g} and the certificate fails with probability ≤ α, so unless "
                 "one of those events happened this contradicts the certificate.")
    else:
        st.success(f"No point changed class: PREDICT returned {classes[check.certified]} at "
                   f"{counts['held']} of {s.points} points and abstained at "
                   f"{counts['abstained']}.")
    st.caption(
        f"What this shows: an empirical spot-check at {s.points} points of one 2-D slice (only "
        "pixels A and B moved; half of the points drawn on the boundary ‖δ/s‖_p = R, in the "
        "quadrants where both pixels can move, then clipped to [0, 1], which only pulls them "
        "inwards), not a proof; the certificate covers the whole region in all d dimensions. "
        "An abstention is not a violation: PREDICT's test of the "
        f"top two classes with n = {s.n_predict:,} samples was not significant at "
        f"α = {s.alpha:g}, as is common near the boundary, where p_A falls towards ½. "
        f"{result.elapsed:.1f} s.")
