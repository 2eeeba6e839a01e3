"""Region: 2-D slices of the certified region {δ : ‖δ/s‖_p ≤ R} (UCAN Fig. 1).

For two pixels of the current image the page draws the region's slice (rhombus, ellipse or
box), the ℓp ball of radius min sᵢ·R and the ALM ball over the noise density's level sets
(``app.cached.region``, drawn by ``app.figures.region``). Pixels A and B are picked with
row/column inputs (bound to the URL) or by clicking the picture (``app.widgets.pixels``). The
optional empirical check (run tier) certifies a bundled model smoothed with this noise at the
image in a background job (``app.jobs.start_region_check``) and runs PREDICT at points of the
certified slice (``ucan_core.audit.slice_check``; ``app.panels.region_check``).
Every number comes from ``ucan_core``.
"""

from __future__ import annotations

import json
import time

import streamlit as st

from app import state
from app.cached.noise import build, noise_maps
from app.cached.region import REGION_P_MAX, REGION_P_MIN, pixel_index, region_slice
from app.choices import NPG_OPTIONS
from app.figures.common import csv_text, fmt, fmt_p, kind_badge, norm_symbol
from app.figures.region import norms_figure, region_figure
from app.panels.certificate import CERTIFY_CACHE, certificate_banner, human_scale
from app.panels.region_check import check_section
from app.widgets.images import image_picker
from app.widgets.noise import NORMS, noise_picker
from app.widgets.output import chart, downloads, escape_markdown
from app.widgets.pixels import (
    CLICK_TARGET,
    PREFIX,
    describe,
    number_check,
    pixel_inputs,
    pixel_picker,
    show_url_refusals,
    url_value_check,
)
from ucan_core.errors import UcanError

_t0 = time.perf_counter()
ss = st.session_state

st.title("Certified region")
controls, results = st.columns([1, 3], gap="large")
results.markdown(
    "Every change of the image inside the green shape keeps the prediction. With the same "
    "noise at every pixel the shape is a ball; where the noise differs per pixel it is "
    "stretched along the noisy pixels. Pick two pixels: the plot shows the shape in their "
    "plane (all other pixels unchanged), over the noise's level sets." if state.teaching_mode()
    else "Anisotropic smoothing certifies a **region**, not a ball: every perturbation δ with "
    "‖δ/s‖_p ≤ R keeps the prediction, where s is the per-pixel noise scale and R the base "
    "noise's radius at p_A. Pick two pixels: the plot is the slice of that region in their "
    "plane (all other pixels unperturbed), with the largest ℓp ball inside it (radius "
    "min sᵢ·R, taken over all pixels) and the ALM ball of equal volume, over the level sets of "
    "the noise density.")

with controls:
    show_url_refusals()
    st.subheader("Image")
    image = image_picker(PREFIX)
    c, h, w = image.shape
    url_value_check({f"{PREFIX}p_a": (number_check(REGION_P_MIN, REGION_P_MAX),
                                      f"not a p_A in [{REGION_P_MIN}, 1 − 10⁻⁹]: p_A uses its "
                                      "default")}, image.shape)

    st.subheader("Noise")
    choice, norm = noise_picker(image.shape, PREFIX)
    p_a = float(st.number_input(
        "p_A (sets R)", REGION_P_MIN, REGION_P_MAX, 0.9, 0.001, format="%.6f",
        key=f"{PREFIX}p_a", bind="query-params",
        help="Lower bound on the top-class probability; the base noise's radius R at this p_A "
             "scales the region. Type any value in (½, 1 − 10⁻⁹], e.g. a certificate's p̲_A "
             "(kept at full precision; six decimals shown)."))

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
        noise = build(choice)
        std_map, _ = noise_maps(choice)
    except UcanError as error:
        st.error(f"Cannot build this region: {error}")
        st.stop()
    base = noise.base
    sym = norm_symbol(norm)
    teaching = state.teaching_mode()
    st.caption(f"**{base.title}** noise, {NPG_OPTIONS[choice.npg]} generator · "
               f"d = {base.dim:,} ({c}×{h}×{w}) · σ = {choice.sigma:.2f} · p_A = {fmt_p(p_a)} · "
               f"{sym} · {escape_markdown(image.name)}")
    certificate_banner(ss.get(CERTIFY_CACHE, {}), st.query_params.get(state.REGION_CERT_KEY),
                       p_a)

    col_map, col_numbers = st.columns([1, 1.2], gap="medium")
    with col_map:
        pixel_picker(image.pixels, std_map, pixel_a, pixel_b)
    if pixel_a == pixel_b:
        col_numbers.warning("Pick two different pixels: the slice needs two coordinates.")
        st.stop()
    i, j = (pixel_index(image.shape, *p) for p in (pixel_a, pixel_b))
    try:
        view = region_slice(choice, p_a, norm, i, j)
        others = [region_slice(choice, p_a, q, i, j, with_density=False) for q in NORMS]
    except UcanError as error:
        col_numbers.error(f"Cannot build this region: {error}")
        st.stop()
    with col_numbers:
        rows = [f"| {'noise scale at A' if teaching else 's at A'} | {fmt(view.scale[0], 3)} | "
                f"{'noise' if teaching else 'sᵢ·σ'} = {fmt(view.std[0], 3)} |",
                f"| {'noise scale at B' if teaching else 's at B'} | {fmt(view.scale[1], 3)} | "
                f"{'noise' if teaching else 'sⱼ·σ'} = {fmt(view.std[1], 3)} |"]
        if view.radius is not None:
            base_kind, lp_kind = (kind_badge(k) for k in (view.radius_kind, view.kind))
            if teaching:
                rows += [f"| radius of the largest {sym} ball inside | {fmt(view.lp_radius, 3)} | "
                         f"{lp_kind} |"]
            else:
                rows += [f"| R (base noise, {sym}) | {fmt(view.radius, 3)} | {base_kind} |",
                         f"| min sᵢ·R ({sym} radius) | {fmt(view.lp_radius, 3)} | {lp_kind} |",
                         f"| ALM (∏sᵢ)^(1/d)·R | {fmt(view.alm, 3)} | :gray-badge[a size] |"]
        st.markdown("| | value | |\n|---|---|---|\n" + "\n".join(rows))
        if view.radius is None:
            st.info(f"{base.title} noise has no closed-form certified radius: only its level "
                    "sets are drawn. Its radius needs the universal (numerical) engine.")
        elif view.coincide:
            st.caption(f"The noise is the same at every pixel, so the certified region **is** "
                       f"the {sym} ball: the plot draws one curve (region, ball and ALM ball "
                       "coincide). A pattern NPG makes them differ:")
            st.page_link("views/region.py", label="Make it anisotropic",
                         icon=":material/hexagon:", query_params={
                             **st.query_params.to_dict(),
                             **state.noise_params(PREFIX, choice.density, choice.sigma, norm,
                                                  "pattern-2")})
        elif teaching:
            st.caption("The noise differs from pixel to pixel, so the certified region is "
                       "stretched where the noise is large; the ball is the largest one that "
                       "fits inside it everywhere.")
        else:
            st.caption("min sᵢ·R: the largest ℓp ball inside the region (minimum over all "
                       "pixels, not only A and B). ALM: radius of the isotropic region of the "
                       "same volume, a size measure, not a ball inside the region.")
        if any(view.shift):
            st.caption(f"Noise mean at A, B: μ = ({fmt(view.shift[0], 3)}, {fmt(view.shift[1], 3)}); "
                       "μ moves the noise, not the certified region.")
    chart(region_figure(view, describe(pixel_a, c), describe(pixel_b, c), alm=not teaching),
          key="region_slice")
    if view.radius is not None:
        human_scale(image.pixels, view.lp_radius, norm, "region_scale")
    if view.radius is not None:
        st.markdown(f"**The same slice in ℓ1, ℓ2 and ℓ∞** at p_A = {fmt_p(p_a)}")
        chart(norms_figure(others, alm=not teaching), key="region_norms")
        st.caption("A rhombus in ℓ1, an ellipse in ℓ2, a box in ℓ∞: how the size of a change "
                   "is measured decides the shape, stretched by each pixel's noise." if teaching
                   else "The slice is {(δ_A/s_A, δ_B/s_B) : ‖·‖_p ≤ R}: a rhombus in ℓ1, an "
                   "ellipse in ℓ2, a box in ℓ∞, stretched by the noise scale of each pixel. "
                   "The ℓp ball of radius min sᵢ·R always fits inside; the ALM ball does not "
                   "have to.")
        stem = f"region-{base.name}-{choice.npg}-l{norm}-{i}-{j}"
        downloads([
            ("Curves (CSV)", csv_text(view.rows()), f"{stem}.csv"),
            ("Numbers (JSON)", json.dumps({**view.summary(), "p_a": p_a, "pixel_a": i,
                                           "pixel_b": j, "noise": noise.describe()}, indent=2),
             f"{stem}.json")], key="region_dl")
        check_section(choice, norm, image, (pixel_a, pixel_b))

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
