"""Region: 2-D slices of the certified region {δ : ‖δ/s‖_p ≤ R} (UCAN Fig. 1).

For two pixels of the current image the page draws the region's slice (rhombus, ellipse or
box), the ℓp ball of radius min sᵢ·R and the ALM ball over the noise density's level sets.
Every number comes from ``ucan_core`` (through ``app.page_services``); the figures are built
by the pure functions of ``app.region_figures``.
"""

from __future__ import annotations

import json
import time

import streamlit as st

from app import figures, page_services, region_figures, services, widgets
from ucan_core.errors import UcanError

_t0 = time.perf_counter()
PREFIX = "rg_"



def pixel_inputs(name: str, shape: tuple[int, int, int], row: int,
                 col: int) -> tuple[int, int, int]:
    """Channel (colour images only), row and column of pixel ``name``, default (row, col)."""
    c, h, w = shape
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

    pixel_a = pixel_inputs("A", image.shape, h // 2, w // 2)
    pixel_b = pixel_inputs("B", image.shape, 0, 0)
    st.caption("Defaults: A at the centre, B in the top-left corner, where a pattern NPG "
               "differs most.")


with results:
    if pixel_a == pixel_b:
        st.warning("Pick two different pixels: the slice needs two coordinates.")
        st.stop()
    i, j = (page_services.pixel_index(image.shape, *p) for p in (pixel_a, pixel_b))
    try:
        noise = services.build(choice)
        std_map, _ = services.noise_maps(choice)
        view = page_services.region_slice(choice, p_a, norm, i, j)
        others = [page_services.region_slice(choice, p_a, q, i, j, with_density=False)
                  for q in widgets.NORMS]
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
        marked = region_figures.mark_pixels(figures.sigma_map_figure(std_map, height=300),
                                            [(pixel_a[1], pixel_a[2], "A"),
                                             (pixel_b[1], pixel_b[2], "B")])
        st.plotly_chart(marked, key="region_pixels", config={"displayModeBar": False})
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
    st.plotly_chart(region_figures.region_figure(view, describe(pixel_a, c), describe(pixel_b, c)),
                    key="region_slice", config={"displayModeBar": False})
    if view.radius is not None:
        st.markdown(f"**The same slice in ℓ1, ℓ2 and ℓ∞** at p_A = {p_a:.3f}")
        st.plotly_chart(region_figures.norms_figure(others), key="region_norms",
                        config={"displayModeBar": False})
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

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
