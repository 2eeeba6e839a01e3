"""Noise Lab: pick an image and a noise, see σ/μ maps, noisy samples and radius curves.

Instant tier only (no Monte-Carlo certification): every number comes from ``ucan_core``
(through ``app.services`` and ``app.page_services``); figures are built by the pure functions
of ``app.figures``. Presets set the noise widgets; teaching mode hides the seed, κ and ι.
"""

from __future__ import annotations

import time

import streamlit as st

from app import figures, page_services, services, widgets
from ucan_core.errors import UcanError

_t0 = time.perf_counter()

DEFAULTS = {"p_a": 0.9, "seed": 0, "n_samples": 8}

st.title("Noise Lab")
st.markdown(
    "Choose an image and a smoothing noise. The page shows where the noise is strong "
    "(σ map) and where it is shifted (μ map), what the noisy inputs look like, and the "
    "closed-form certified radius as a function of p_A, the lower bound on the "
    "top-class probability. Everything is seeded, so the same settings reproduce the same view.")

controls, results = st.columns([1, 3], gap="large")

# --------------------------------------------------------------------------------------------
# Controls
with controls:
    widgets.preset_picker()
    st.subheader("Image")
    image = widgets.image_picker()

    st.subheader("Noise")
    choice, norm = widgets.noise_picker(image.shape, learned=True)
    preset = widgets.matching_preset(choice, norm)
    st.caption(f"Preset: **{preset}**. {widgets.PRESETS[preset].note}" if preset
               else "Custom settings (no preset).")

    st.subheader("View")
    p_a = st.slider("p_A (marker and formula)", 0.501, 0.999, DEFAULTS["p_a"], 0.001,
                    format="%.3f", key="p_a", bind="query-params",
                    help="Lower bound on the top-class probability at which the radius is "
                         "marked on the curve and filled into the formula.")
    seed = DEFAULTS["seed"]
    if not widgets.teaching_mode():
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
        view = page_services.noise_view(choice, image.pixels, n_samples, seed)
    except UcanError as error:
        st.error(f"Cannot build this noise: {error}")
        st.stop()
    noise, std_map, shift, samples = view.noise, view.std_map, view.shift, view.samples
    base = services.base_of(noise)
    c, h, w = shape
    reduced = (f" Worked on at a reduced resolution: {w}×{h} (from "
               f"{image.original_size[0]}×{image.original_size[1]}; longer side ≤ "
               f"{services.MAX_SIDE} px)." if image.reduced else "")
    st.caption(f"**{base.title}** noise, {page_services.NPG_TITLES[npg]} generator · "
               f"d = {base.dim:,} ({c}×{h}×{w}) · σ = {sigma:.2f} · λ = {base.lambd:.4g}"
               + (f" · κ = {choice.kappa:g}, ι = {choice.iota:g}" if choice.pattern_norm
                  else "")
               + (f" · maps of `{page_services.learned_model(npg, sigma)}`"
                  if npg in page_services.LEARNED_NPG_OPTIONS else "")
               + f" · certificates {widgets.soundness_badge(view.soundness)}")
    if view.soundness != "sound":
        st.warning("Input-dependent maps are computed from the image being certified: a "
                   "certificate with them covers the classifier with the maps frozen at this "
                   "image, **not the deployed classifier**, which recomputes them on the "
                   "attacked input.")

    col_img, col_sigma, col_mu = st.columns([1, 1.4, 1.4])
    with col_img:
        st.markdown("**Input x**")
        st.image(figures.image_png(image.pixels, min_tile=224),
                 caption=image.name + (f".{reduced}" if reduced else ""),
                 width="stretch")
    with col_sigma:
        widgets.chart(figures.sigma_map_figure(std_map), key="sigma_map")
    with col_mu:
        widgets.chart(figures.mu_map_figure(shift), key="mu_map")

    st.markdown(f"**{n_samples} noisy samples x + μ + s⊙ε** (seed {seed})")
    st.image(figures.grid_png(samples, ncols=8 if max(h, w) <= 64 else 4, min_tile=112),
             caption="Pixel values clipped to [0, 1] for display only; the classifier sees "
                     "the unclipped x + ε.", width="stretch")

    st.markdown(f"**Certified radius in {figures.norm_symbol(norm)}**")
    if not services.has_closed_form(noise):
        st.info(f"{base.title} noise has no closed-form certified radius. Its radius needs "
                "the universal (numerical) radius engine, which is planned; the maps and "
                "samples above are exact.")
    else:
        try:
            curves = services.radius_curves(noise, figures.P_GRID, p_a, norm)
            iso_radius = base.radius(p_a, norm)
            symbols = figures.values_table(sigma, base.lambd, base.dim, p_a, base.params)
            symbols.update(services.direct_radii(noise, p_a))
        except UcanError as error:
            st.error(f"Cannot compute the radius: {error}")
            st.stop()
        traces = figures.radius_traces(curves, norm)
        col_curve, col_formula = st.columns([3, 2], gap="medium")
        with col_curve:
            widgets.chart(figures.radius_curve_figure(figures.P_GRID, traces, p_a, norm),
                          key="radius_curve")
        with col_formula:
            kinds = [f"{t.label}: {figures.kind_badge(t.kind)}" for t in traces
                     if t.dash == "solid"]
            st.markdown("Kind for " + figures.norm_symbol(norm) + " — " + " · ".join(kinds))
            st.markdown("  \n".join(figures.fill_formula(
                iso_radius.formula, symbols, iso_radius.value, iso_radius.kind, norm)))
            if curves.aniso_values is not None:
                described = noise.describe()
                smin, gmean = described["scale_min"], described["scale_geomean"]
                st.markdown(
                    f"`min sᵢ·R = {figures.fmt(smin)} · {figures.fmt(iso_radius.value)} "
                    f"= {figures.fmt(curves.aniso_marker)}` {figures.kind_badge(curves.aniso_kind)}"
                    "  \n"
                    f"`ALM = (∏sᵢ)^(1/d)·R = {figures.fmt(gmean)} · "
                    f"{figures.fmt(iso_radius.value)} = {figures.fmt(curves.alm_marker)}` "
                    ":gray-badge[size measure]")
                st.caption("The anisotropic noise certifies the region {δ : ‖δ/s‖_p ≤ R}. "
                           "min sᵢ·R is the largest ℓp ball inside it (sound); the ALM is the "
                           "radius of the isotropic region of equal volume — a size of the "
                           "region, not a radius guarantee."
                           + (" The pattern map has geometric mean 1, so the ALM coincides "
                              "with the isotropic curve at the same σ." if choice.pattern_norm
                              else ""))
            st.caption(f"d = {base.dim:,}, λ = {base.lambd:.4g}, σ = {sigma:.2f}, "
                       f"p_A = {p_a:.3f}. Exact = tight; sound = valid but possibly loose.")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
