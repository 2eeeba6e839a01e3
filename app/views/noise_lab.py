"""Noise Lab: pick an image and a noise, see σ/μ maps, noisy samples and radius curves.

Instant tier only (no Monte-Carlo certification): every number comes from ``ucan_core``
(through ``app.cached``); figures are built by the pure functions of ``app.figures``. Presets
set the noise widgets; teaching mode hides the seed, κ and ι. A density without a closed-form
radius is sent to the Radius page, which computes its universal radius.
"""

from __future__ import annotations

import time

import streamlit as st

from app import state
from app.cached.images import MAX_SIDE
from app.cached.models import learned_model
from app.cached.noise import direct_radii, noise_view, radius_curves
from app.choices import LEARNED_NPG_OPTIONS, NPG_TITLES
from app.figures.common import fmt, kind_badge, norm_symbol
from app.figures.curves import P_GRID, radius_curve_figure, radius_traces
from app.figures.formulas import fill_formula, values_table
from app.figures.images import grid_png, image_png
from app.figures.maps import mu_map_figure, sigma_map_figure
from app.widgets.images import image_picker, picked_bundled_id
from app.widgets.noise import noise_picker
from app.widgets.output import chart, soundness_badge
from app.widgets.presets import PRESETS, matching_preset, preset_picker
from ucan_core.certify.radii import uses_closed_form
from ucan_core.errors import UcanError

_t0 = time.perf_counter()

DEFAULTS = {"p_a": 0.9, "seed": 0, "n_samples": 8}

st.title("Noise Lab")
st.markdown(
    "Choose an image and a smoothing noise. The page shows where the noise is strong "
    "(σ map) and where it is shifted (μ map), what the noisy inputs look like, and the "
    "closed-form certified radius as a function of p_A, the lower bound on the "
    "top-class probability. Everything is seeded, so the same settings reproduce the same view.")

#: The input shape of the bundled learned NPGs (MNIST).
LEARNED_SHAPE = (1, 28, 28)
controls, results = st.columns([1, 3], gap="large")

# --------------------------------------------------------------------------------------------
# Controls
with controls:
    preset_picker()
    st.subheader("Image")
    image = image_picker()

    st.subheader("Noise")
    # the bundled learned NPGs take MNIST-shaped images only: not offered for other images,
    # unless a link asks for one (then the page says why it cannot draw it)
    asked = st.query_params.get("npg") in LEARNED_NPG_OPTIONS.values()
    choice, norm = noise_picker(image.shape, learned=image.shape == LEARNED_SHAPE or asked)
    preset = matching_preset(choice, norm)
    st.caption(f"Preset: **{preset}**. {PRESETS[preset].note}" if preset
               else "Custom settings (no preset).")

    st.subheader("View")
    p_a = st.slider("p_A (marker and formula)", 0.501, 0.999, DEFAULTS["p_a"], 0.001,
                    format="%.3f", key="p_a", bind="query-params",
                    help="Lower bound on the top-class probability at which the radius is "
                         "marked on the curve and filled into the formula.")
    seed = DEFAULTS["seed"]
    if not state.teaching_mode():
        seed = int(st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=seed, step=1,
                                   key="seed", bind="query-params",
                                   help="Seed of the noise sampler: same seed, same samples."))
    n_samples = st.slider("Number of samples", 1, 16, DEFAULTS["n_samples"], 1, key="n_samples",
                          bind="query-params",
                          help="How many noisy samples x + ε to draw.")

shape = image.shape
sigma, npg = choice.sigma, choice.npg

# --------------------------------------------------------------------------------------------
# Results
with results:
    try:
        view = noise_view(choice, image.pixels, n_samples, seed)
    except UcanError as error:
        st.error(f"Cannot build this noise: {error}")
        st.stop()
    noise, std_map, shift, samples = view.noise, view.std_map, view.shift, view.samples
    base = noise.base
    c, h, w = shape
    reduced = (f" Worked on at a reduced resolution: {w}×{h} (from "
               f"{image.original_size[0]}×{image.original_size[1]}; longer side ≤ "
               f"{MAX_SIDE} px)." if image.reduced else "")
    teaching = state.teaching_mode()
    st.caption(f"**{base.title}** noise, {NPG_TITLES[npg]} generator · "
               f"d = {base.dim:,} ({c}×{h}×{w}) · σ = {sigma:.2f}"
               + ("" if teaching else f" · λ = {fmt(base.lambd)}")
               + (f" · κ = {choice.kappa:g}, ι = {choice.iota:g}" if choice.pattern_norm
                  else "")
               + (f" · maps of `{learned_model(npg, sigma)}`"
                  if npg in LEARNED_NPG_OPTIONS else "")
               + f" · certificates {soundness_badge(view.soundness)}")
    if view.soundness != "sound":
        st.warning("Input-dependent maps are computed from the image being certified: a "
                   "certificate with them covers the classifier with the maps frozen at this "
                   "image, **not the deployed classifier**, which recomputes them on the "
                   "attacked input.")

    col_img, col_sigma, col_mu = st.columns([1, 1.4, 1.4])
    with col_img:
        st.markdown("**Input x**")
        st.image(image_png(image.pixels, min_tile=224),
                 caption=image.name + (f".{reduced}" if reduced else ""),
                 width="stretch")
    with col_sigma:
        chart(sigma_map_figure(std_map), key="sigma_map")
    with col_mu:
        chart(mu_map_figure(shift), key="mu_map")

    image_id = picked_bundled_id()
    certify = None if image_id is None else state.noise_lab_certify_params(image_id, choice)
    if certify is not None:
        st.page_link("views/certify.py", label="Certify this image with this noise",
                     icon=":material/verified:", query_params=certify)
    else:
        st.caption("Certify: a bundled image with the density of a bundled model of its "
                   "dataset only.")

    st.markdown(f"**{n_samples} noisy samples x + μ + s⊙ε** (seed {seed})")
    st.image(grid_png(samples, ncols=8 if max(h, w) <= 64 else 4, min_tile=112),
             caption="Pixel values clipped to [0, 1] for display only; the classifier sees "
                     "the unclipped x + ε.", width="stretch")

    st.markdown(f"**Certified radius in {norm_symbol(norm)}**")
    if not uses_closed_form(noise, norm):
        st.info(f"{base.title} noise has no closed-form certified radius: the **Radius** page "
                "computes it with the universal (numerical) radius engine. The maps and "
                "samples above are exact.")
    else:
        try:
            curves = radius_curves(noise, P_GRID, p_a, norm)
            iso_radius = base.radius(p_a, norm)
            symbols = values_table(sigma, base.lambd, base.dim, p_a, base.params)
            symbols.update(direct_radii(noise, p_a))
        except UcanError as error:
            st.error(f"Cannot compute the radius: {error}")
            st.stop()
        traces = radius_traces(curves, norm, alm=not teaching)
        col_curve, col_formula = st.columns([3, 2], gap="medium")
        with col_curve:
            chart(radius_curve_figure(P_GRID, traces, p_a, norm), key="radius_curve")
        with col_formula:
            kinds = [f"{t.label}: {kind_badge(t.kind)}" for t in traces
                     if t.dash == "solid"]
            st.markdown("Kind for " + norm_symbol(norm) + " — " + " · ".join(kinds))
            st.markdown("  \n".join(fill_formula(
                iso_radius.formula, symbols, iso_radius.value, iso_radius.kind, norm)))
            if curves.aniso_values is not None and teaching:
                st.caption("The noise differs from pixel to pixel: the certificate covers a "
                           "region stretched where the noise is large, and the anisotropic "
                           "curve is the largest ball inside it.")
            elif curves.aniso_values is not None:
                smin, gmean = float(noise.scale.double().min()), noise.alm_factor
                st.markdown(
                    f"`min sᵢ·R = {fmt(smin)} · {fmt(iso_radius.value)} "
                    f"= {fmt(curves.aniso_marker)}` {kind_badge(curves.aniso_kind)}"
                    "  \n"
                    f"`ALM = (∏sᵢ)^(1/d)·R = {fmt(gmean)} · "
                    f"{fmt(iso_radius.value)} = {fmt(curves.alm_marker)}` "
                    ":gray-badge[size measure]")
                st.caption("The anisotropic noise certifies the region {δ : ‖δ/s‖_p ≤ R}. "
                           "min sᵢ·R is the largest ℓp ball inside it (sound); the ALM is the "
                           "radius of the isotropic region of equal volume — a size of the "
                           "region, not a radius guarantee."
                           + (" The pattern map has geometric mean 1, so the ALM coincides "
                              "with the isotropic curve at the same σ." if choice.pattern_norm
                              else ""))
            st.caption(f"d = {base.dim:,}, {'' if teaching else f'λ = {fmt(base.lambd)}, '}σ = {sigma:.2f}, "
                       f"p_A = {p_a:.3f}. Exact = tight; sound = valid but possibly loose.")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
