"""Region: 2-D slices of the certified region {δ : ‖δ/s‖_p ≤ R} (UCAN Fig. 1).

For two pixels of the current image the page draws the region's slice (rhombus, ellipse or
box), the ℓp ball of radius min sᵢ·R and the ALM ball over the noise density's level sets.
Pixels A and B are picked with row/column inputs (bound to the URL) or by clicking the
picture: a transparent marker layer (``region_figures.pixel_grid``) makes pixels selectable,
and the chart's ``on_select`` callback writes the clicked pixel into the inputs before they
render. The optional empirical check (run tier) certifies a bundled model smoothed with this
noise at the image in a background job (``page_services.start_region_check``, on
``services.BackgroundJob``) and runs PREDICT at points of the certified slice
(``ucan_core.slice_check``). Every number comes from ``ucan_core`` (through
``app.page_services``); the figures are built by the pure functions of
``app.region_figures``.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from functools import partial

import numpy as np
import streamlit as st

from app import figures, page_services, region_figures, services, widgets
from ucan_core.errors import UcanError

_t0 = time.perf_counter()
PREFIX = "rg_"
PICKER, CLICK_TARGET, CLICK_ERROR = "region_pixels", f"{PREFIX}click", "region_click_error"
PICKER_VIEWS = {"image": "image", "sigma": "σ map"}
CHECK_JOB, CHECK_CACHE, CHECK_LAST = "region_check_job", "region_checks", "region_check_last"
CHECK_CACHE_SIZE = 16
CHECK_POINTS = [8, 16, 24, 32, 48]
CHECK_PREDICT_N = [100, 200, 500]

ss = st.session_state
ss.setdefault(CHECK_CACHE, OrderedDict())
checks: OrderedDict[str, page_services.RegionCheck] = ss[CHECK_CACHE]


def pixel_inputs(name: str, shape: tuple[int, int, int], row: int,
                 col: int) -> tuple[int, int, int]:
    """Channel (colour images only), row and column of pixel ``name``, default (row, col)."""
    c, h, w = shape
    for key, top in ((f"{PREFIX}{name}_row_{h}", h - 1), (f"{PREFIX}{name}_col_{w}", w - 1)):
        raw = st.query_params.get(key)
        if raw is not None and not (raw.isdigit() and int(raw) <= top):
            st.warning(f"The link's {key}={raw} is not a pixel of this {h}×{w} image "
                       f"(0–{top}): pixel {name} uses its default.")
    left, right = st.columns(2)
    r = left.number_input(f"Pixel {name} row", 0, h - 1, row, 1, key=f"{PREFIX}{name}_row_{h}",
                          bind="query-params",
                          help=f"Row of pixel {name} (0 = top, {h - 1} = bottom).")
    q = right.number_input(f"Pixel {name} column", 0, w - 1, col, 1,
                           key=f"{PREFIX}{name}_col_{w}", bind="query-params",
                           help=f"Column of pixel {name} (0 = left, {w - 1} = right).")
    channel = 0
    if c > 1:
        channel = st.selectbox(f"Pixel {name} channel", list(range(c)),
                               key=f"{PREFIX}{name}_channel",
                               format_func=("red", "green", "blue").__getitem__,
                               help=f"Colour channel of pixel {name}.")
    return int(channel), int(r), int(q)


def describe(pixel: tuple[int, int, int], channels: int) -> str:
    """``(row 3, col 4)``, with the colour channel for colour images."""
    channel, row, col = pixel
    return f"(row {row}, col {col}" + (f", {'RGB'[channel]})" if channels > 1 else ")")


def apply_click(height: int, width: int) -> None:
    """``on_select`` of the picker: move pixel A or B (the radio's choice) to the clicked
    pixel by setting its row and column inputs before they render; a pick that is not a pixel
    of the image leaves them and says why."""
    points = ss[PICKER].selection.points
    if not points:
        return
    try:
        row, col = region_figures.picked_pixel(points, height, width)
    except ValueError as error:
        ss[CLICK_ERROR] = str(error)
        return
    ss.pop(CLICK_ERROR, None)
    target = ss.get(CLICK_TARGET, "A")
    ss[f"{PREFIX}{target}_row_{height}"] = row
    ss[f"{PREFIX}{target}_col_{width}"] = col


def pixel_picker(pixels: np.ndarray, std_map: np.ndarray, pixel_a: tuple[int, int, int],
                 pixel_b: tuple[int, int, int]) -> None:
    """The image (or its σ map) with A and B marked; a click on a pixel moves A or B."""
    _, height, width = pixels.shape
    shown = st.radio("Picture", list(PICKER_VIEWS), key=f"{PREFIX}picker", horizontal=True,
                     bind="query-params", format_func=PICKER_VIEWS.__getitem__,
                     label_visibility="collapsed")
    if shown == "image":
        picture = region_figures.image_figure(pixels, "Image: click a pixel to pick it", 300)
        values, label = pixels.mean(axis=0), "intensity"
    else:
        picture, values, label = figures.sigma_map_figure(std_map, 300), std_map.mean(axis=0), "σ"
    picker = region_figures.mark_pixels(region_figures.pixel_grid(picture, values, label),
                                        [(pixel_a[1], pixel_a[2], "A"),
                                         (pixel_b[1], pixel_b[2], "B")])
    widgets.chart(picker, key=PICKER, config={"displayModeBar": False},
                  on_select=partial(apply_click, height, width), selection_mode="points")
    error = ss.pop(CLICK_ERROR, None)
    if error:
        st.warning(f"Click not used: {error}.")


def integrate_check(job: services.BackgroundJob) -> None:
    """Move a finished check into the session cache (once)."""
    result = widgets.new_outcome(job)
    if result is not None:
        widgets.remember(checks, job.key, result, CHECK_CACHE_SIZE)


def check_panel() -> None:
    """Progress and Cancel of the running check; why it stopped, if it did not finish."""
    job: services.BackgroundJob | None = ss.get(CHECK_JOB)
    if job is None:
        return
    if job.running:
        st.progress(min(1.0, job.done / max(job.total, 1)),
                    text=f"Checking: {job.done:,} / {job.total:,} samples (CERTIFY at x, then "
                         f"PREDICT at each point) · {job.elapsed:.1f} s")
        widgets.cancel_button(job, f"{PREFIX}check_cancel")
        return
    if not job.integrated:
        st.rerun()  # the job just stopped: redraw the page with its outcome
    if not widgets.stopped_warning(job, "Check", "samples", "result") and job.error is not None:
        st.error(f"Check failed: {job.error}")


def show_check(result: page_services.RegionCheck, names: tuple[str, str]) -> None:
    """The certificate at x, the check's points on its region's slice, counts and meaning."""
    s, cert, check = result.settings, result.certificate, result.check
    classes = services.model_cards()[s.model_id].architecture.classes
    sym = figures.norm_symbol(s.norm)
    if check is None:
        st.warning(f"CERTIFY abstained at this image (p̲_A = {cert.p_a_lower:.4f} ≤ ½ for "
                   f"{s.model_id} with this noise): there is no certified region to check. "
                   "A model trained at this σ, or a smaller σ, may certify.")
        return
    counts = check.counts()
    view = page_services.region_slice(s.noise, cert.p_a_lower, s.norm, s.i, s.j)
    top, bottom = st.columns(3), st.columns(3)
    top[0].metric("Certified class", classes[check.certified])
    top[1].metric("p̲_A", f"{cert.p_a_lower:.4f}", help=f"One-sided Clopper–Pearson lower "
                  f"bound at α = {s.alpha:g} from n = {s.n:,} samples.")
    top[2].metric(f"R ({sym})", f"{result.radius:.4g}", delta=view.radius_kind,
                  delta_color=figures.KIND_COLOURS.get(view.radius_kind, "gray"),
                  delta_arrow="off", help="The base noise's radius at p̲_A: the region is "
                  "{δ : ‖δ/s‖_p ≤ R}. exact: tight; sound: valid, maybe loose.")
    bottom[0].metric("Held", f"{counts['held']} / {s.points}",
                     help="PREDICT returned the certified class.")
    bottom[1].metric("Changed", counts["changed"], help="PREDICT returned another class.")
    bottom[2].metric("Abstained", counts["abstained"],
                     help="PREDICT's test was not significant: no answer (not a violation).")
    subtitle = (f"{s.model_id} · class {classes[check.certified]} · p̲_A = "
                f"{cert.p_a_lower:.4f} · R = {result.radius:.4g}")
    widgets.chart(region_figures.check_figure(view, *names, check, classes, subtitle),
                  key="region_check")
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


def check_section(choice: services.NoiseChoice, norm: str, image: services.InputImage,
                  pixels: tuple[tuple[int, int, int], tuple[int, int, int]]) -> None:
    """The optional empirical check: model and sizes, the Run button, progress, result."""
    c, h, w = image.shape
    st.subheader("Empirical check (optional)")
    st.markdown(
        "Certify a bundled model smoothed with **this noise** at this image (Cohen's CERTIFY "
        "gives the class and p̲_A, hence R), then draw points inside the certified slice — half "
        "on its boundary, half spread inside, where pixels A and B can move within [0, 1] — "
        "and ask the smoothed classifier for its class at each (Cohen's PREDICT, Monte "
        "Carlo).")
    models = page_services.check_models(choice)
    if not models:
        st.info(f"No bundled model takes {c}×{h}×{w} inputs: the check needs an MNIST "
                "(1×28×28) or CIFAR-10 (3×32×32) image.")
        return
    left, middle, right = st.columns(3)
    model_id = left.selectbox("Model (base classifier)", models, key=f"{PREFIX}check_model_{h}",
                              bind="query-params",
                              help="A bundled classifier trained with isotropic Gaussian noise, "
                                   "smoothed here with this page's noise; the nearest σ first.")
    points = middle.select_slider("Points K", CHECK_POINTS, value=16,
                                  key=f"{PREFIX}check_points", bind="query-params",
                                  help="Points drawn in the slice (half on its boundary).")
    n_predict = right.select_slider("PREDICT samples per point", CHECK_PREDICT_N, value=100,
                                    key=f"{PREFIX}check_n", bind="query-params",
                                    help="Monte-Carlo samples of PREDICT at each point.")
    i, j = (page_services.pixel_index(image.shape, *p) for p in pixels)
    settings = page_services.RegionCheckSettings(
        image_key=page_services.image_key(image.pixels), n0=page_services.CHECK_N0,
        n=page_services.CHECK_N, alpha=page_services.CHECK_ALPHA,
        batch_size=page_services.CHECK_BATCH, seed=page_services.CHECK_SEED, device="cpu",
        model_id=model_id, noise=choice, norm=norm, i=i, j=j, points=points,
        n_predict=n_predict)
    key = settings.key()
    job: services.BackgroundJob | None = ss.get(CHECK_JOB)
    running = job is not None and job.running
    col_button, col_about = st.columns([1.3, 2.7], vertical_alignment="center")
    clicked = col_button.button("Run empirical check", key=f"{PREFIX}check_run",
                                disabled=running, width="stretch")
    col_about.caption(f"CERTIFY: n0 = {settings.n0}, n = {settings.n:,} · PREDICT: n = "
                      f"{n_predict} at each of {points} points · α = {settings.alpha:g} · seed "
                      f"{settings.seed} · CPU · {settings.samples:,} samples (seconds for "
                      "MNIST, tens of seconds for CIFAR-10)")
    if clicked and key not in checks:
        job = widgets.start_job(lambda: page_services.start_region_check(
            settings, image.pixels, services.session_probe()), CHECK_JOB,
            "Cannot run the check") or job
    if job is not None:
        integrate_check(job)
    running = job is not None and job.running
    widgets.job_fragment(check_panel, job)
    result = checks.get(key)
    if result is not None:
        ss[CHECK_LAST] = key
        show_check(result, (describe(pixels[0], c), describe(pixels[1], c)))
    elif ss.get(CHECK_LAST) in checks and not running:
        changed = ", ".join(settings.differences(checks[ss[CHECK_LAST]].settings))
        st.caption(f"The last check was for other settings ({changed or 'settings'} "
                   "changed): run it again for these.")


st.title("Certified region")
controls, results = st.columns([1, 3], gap="large")
results.markdown(
    "Anisotropic smoothing certifies a **region**, not a ball: every perturbation δ with "
    "‖δ/s‖_p ≤ R keeps the prediction, where s is the per-pixel noise scale and R the base "
    "noise's radius at p_A. Pick two pixels: the plot is the slice of that region in their "
    "plane (all other pixels unperturbed), with the largest ℓp ball inside it (radius "
    "min sᵢ·R, taken over all pixels) and the ALM ball of equal volume, over the level sets of "
    "the noise density.")

with controls:
    st.subheader("Image")
    image = widgets.image_picker(PREFIX)
    c, h, w = image.shape

    st.subheader("Noise")
    choice, norm = widgets.noise_picker(image.shape, PREFIX)
    p_a = st.slider("p_A (sets R)", 0.501, page_services.REGION_P_MAX, 0.9, 0.001, format="%.3f",
                    key=f"{PREFIX}p_a", bind="query-params",
                    help="Lower bound on the top-class probability; the base noise's radius "
                         "R at this p_A scales the region.")

    st.subheader("Pixels")
    st.radio("Clicking the picture sets", ["A", "B"], key=CLICK_TARGET, horizontal=True,
             format_func=lambda name: f"pixel {name}",
             help="Click a pixel of the image (or σ map) beside the numbers to move pixel A or "
                  "B there; the row and column inputs, and the URL, follow.")
    pixel_a = pixel_inputs("A", image.shape, h // 2, w // 2)
    pixel_b = pixel_inputs("B", image.shape, 0, 0)
    st.caption("Defaults: A at the centre, B in the top-left corner, where a pattern NPG "
               "differs most. Or click the picture.")


with results:
    try:
        noise = services.build(choice)
        std_map, _ = services.noise_maps(choice)
    except UcanError as error:
        st.error(f"Cannot build this region: {error}")
        st.stop()
    base = services.base_of(noise)
    sym = figures.norm_symbol(norm)
    st.caption(f"**{base.title}** noise, {services.NPG_OPTIONS[choice.npg]} generator · "
               f"d = {base.dim:,} ({c}×{h}×{w}) · σ = {choice.sigma:.2f} · p_A = {p_a:.3f} · "
               f"{sym} · {image.name}")

    col_map, col_numbers = st.columns([1, 1.2], gap="medium")
    with col_map:
        pixel_picker(image.pixels, std_map, pixel_a, pixel_b)
    if pixel_a == pixel_b:
        col_numbers.warning("Pick two different pixels: the slice needs two coordinates.")
        st.stop()
    i, j = (page_services.pixel_index(image.shape, *p) for p in (pixel_a, pixel_b))
    try:
        view = page_services.region_slice(choice, p_a, norm, i, j)
        others = [page_services.region_slice(choice, p_a, q, i, j, with_density=False)
                  for q in widgets.NORMS]
    except UcanError as error:
        col_numbers.error(f"Cannot build this region: {error}")
        st.stop()
    with col_numbers:
        rows = [f"| s at A | {view.scale[0]:.4g} | noise level sᵢ·σ = {view.std[0]:.4g} |",
                f"| s at B | {view.scale[1]:.4g} | noise level sⱼ·σ = {view.std[1]:.4g} |"]
        if view.radius is not None:
            base_kind, lp_kind = (figures.kind_badge(k) for k in (view.radius_kind, view.kind))
            rows += [f"| R (base noise, {sym}) | {view.radius:.6g} | {base_kind} |",
                     f"| min sᵢ·R ({sym} radius) | {view.lp_radius:.6g} | {lp_kind} |",
                     f"| ALM (∏sᵢ)^(1/d)·R | {view.alm:.6g} | :gray-badge[size measure] |"]
        st.markdown("| | value | |\n|---|---|---|\n" + "\n".join(rows))
        if view.radius is None:
            st.info(f"{base.title} noise has no closed-form certified radius: only its level "
                    "sets are drawn. Its radius needs the universal (numerical) engine.")
        else:
            st.caption("min sᵢ·R: the largest ℓp ball inside the region (minimum over all "
                       "pixels, not only A and B). ALM: radius of the isotropic region of the "
                       "same volume, a size measure, not a ball inside the region.")
        if any(view.shift):
            st.caption(f"Noise mean at A, B: μ = ({view.shift[0]:.4g}, {view.shift[1]:.4g}); "
                       "μ moves the noise, not the certified region.")
    widgets.chart(region_figures.region_figure(view, describe(pixel_a, c), describe(pixel_b, c)),
                  key="region_slice")
    if view.radius is not None:
        st.markdown(f"**The same slice in ℓ1, ℓ2 and ℓ∞** at p_A = {p_a:.3f}")
        widgets.chart(region_figures.norms_figure(others), key="region_norms")
        st.caption("The slice is {(δ_A/s_A, δ_B/s_B) : ‖·‖_p ≤ R}: a rhombus in ℓ1, an "
                   "ellipse in ℓ2, a box in ℓ∞, stretched by the noise scale of each pixel. "
                   "The ℓp ball of radius min sᵢ·R always fits inside; the ALM ball does not "
                   "have to.")
        stem = f"region-{base.name}-{choice.npg}-l{norm}-{i}-{j}"
        widgets.downloads([
            ("Curves (CSV)", figures.csv_text(view.rows()), f"{stem}.csv"),
            ("Numbers (JSON)", json.dumps({**view.summary(), "p_a": p_a, "pixel_a": i,
                                           "pixel_b": j, "noise": noise.describe()}, indent=2),
             f"{stem}.json")], key="region_dl")
        check_section(choice, norm, image, (pixel_a, pixel_b))

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
