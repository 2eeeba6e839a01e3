"""Compare: two noise configurations side by side on the same image.

σ maps on one shared sequential colour scale and μ maps on one shared diverging scale
(``app.figures.maps``), seeded noisy samples of each, and both noises' closed-form
radius-vs-p_A curves overlaid in one norm (``app.figures.curves``), each labelled with its
kind. Every number comes from ``ucan_core`` through ``app.cached``.
"""

from __future__ import annotations

import time

import streamlit as st

from app import state
from app.cached.noise import Curves, NoiseView, noise_view, radius_curves
from app.choices import NPG_TITLES, NoiseChoice
from app.figures.common import fmt, kind_badge, norm_symbol
from app.figures.curves import P_GRID, Curve, radius_curve_figure, radius_traces
from app.figures.images import grid_png
from app.figures.maps import maps_figure
from app.widgets.images import image_picker
from app.widgets.noise import NORMS, noise_choice
from app.widgets.output import chart, soundness_badge
from app.widgets.presets import matching_preset, preset_picker
from ucan_core.certify.radii import uses_closed_form
from ucan_core.errors import UcanError

_t0 = time.perf_counter()
PREFIX = "cmp_"
#: Each configuration's widget prefix, trace colour and default NPG.
SIDES = {"A": ("cmp_a_", "#1f77b4", "isotropic"), "B": ("cmp_b_", "#d62728", "pattern-2")}
N_SAMPLES = 4


def why_smaller_ball(curves: dict[str, Curves], names: dict[str, str]) -> list[str]:
    """One line per anisotropic side whose largest inscribed ball (min sᵢ·R) is below the other
    side's isotropic R at the marker: why, from the engine's ALM (same volume or larger)."""
    lines = []
    for side, mine in curves.items():
        others = [c for s, c in curves.items() if s != side and c.aniso_values is None]
        if mine.aniso_marker is None or mine.alm_marker is None or not others:
            continue
        radius = float(others[0].iso_marker)
        if float(mine.aniso_marker) >= radius:
            continue
        ratio = float(mine.alm_marker) / radius if radius > 0 else float("nan")
        same = abs(ratio - 1) < 0.01
        size = (f"the **same volume** (ALM = {fmt(float(mine.alm_marker))} ≈ the other's R: "
                "the geometric mean of its σ is the same) but another shape" if same else
                f"a region of **{ratio:.2f}×** the other's R in size (ALM)")
        gain = ("Its gain is against perturbations of the noisy pixels, not in every "
                "direction; the preset *UCAN universal* shows learned maps that also enlarge "
                "the region." if same else
                "Its gain is the larger region: perturbations of the noisy pixels, not a "
                "ball in every direction.")
        lines.append(
            f"Why {side}'s ball is smaller ({names[side].split(': ', 1)[-1]}): anisotropic "
            f"noise certifies {size}, longer along the pixels with more noise and shorter "
            f"along those with less, so the largest ball inside (min sᵢ·R) is smaller. {gain}")
    return lines

st.title("Compare two noises")
st.markdown(
    "Two smoothing noises on the same image. The σ maps share one colour scale and the μ "
    "maps another, so a colour means the same number on both sides; the noisy samples use "
    "the same seed; the certified radius curves of both are drawn on one plot, in one norm. "
    "Start from a preset on either side, e.g. Gaussian against Laplace in ℓ1, or isotropic "
    "against UCAN's pattern.")

col_shared, *col_sides = st.columns(3, gap="large")
with col_shared:
    st.subheader("Image")
    image = image_picker(PREFIX)
    st.subheader("Both noises")
    norm = st.radio("Norm of both certificates", NORMS, index=1, key=f"{PREFIX}norm",
                    bind="query-params", horizontal=True, format_func=norm_symbol,
                    help="The ℓp norm in which both radius curves are measured.")
    p_a = st.slider("p_A (markers)", 0.501, 0.999, 0.9, 0.001, format="%.3f",
                    key=f"{PREFIX}p_a", bind="query-params",
                    help="Lower bound on the top-class probability at which both curves are "
                         "marked and the table below is filled.")
    seed = 0
    if not state.teaching_mode():
        seed = int(st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=seed,
                                   step=1, key=f"{PREFIX}seed", bind="query-params",
                                   help="Seed of both noise samplers: same seed, same "
                                        "samples."))

choices: dict[str, NoiseChoice] = {}
for (side, (prefix, _, default_npg)), column in zip(SIDES.items(), col_sides):
    with column:
        st.subheader(f"Noise {side}")
        preset_picker(prefix, image_prefix=PREFIX, norm_key=f"{PREFIX}norm")
        choices[side] = noise_choice(image.shape, prefix, learned=True, default_npg=default_npg)
        preset = matching_preset(choices[side], norm)
        st.caption(f"Preset: **{preset}**" if preset else "Custom settings (no preset).")

views: dict[str, NoiseView] = {}
for side, choice in choices.items():
    try:
        views[side] = noise_view(choice, image.pixels, N_SAMPLES, seed)
    except UcanError as error:
        st.error(f"Cannot build noise {side}: {error}")
        st.stop()

names = {side: f"{side}: {view.noise.base.title} σ = {choices[side].sigma:.2f}, "
               f"{NPG_TITLES[choices[side].npg]}"
         for side, view in views.items()}
for side, column in zip(views, st.columns(2, gap="medium")):
    column.markdown(f"**{names[side]}** · certificates "
                    f"{soundness_badge(views[side].soundness)}")
st.caption(f"{image.name} · d = {views['A'].noise.dim:,} "
           f"({'×'.join(map(str, image.shape))})")

col_sigma, col_mu = st.columns(2, gap="medium")
with col_sigma:
    chart(maps_figure([v.std_map for v in views.values()], list(views), "sigma", height=340),
          key="compare_sigma")
with col_mu:
    chart(maps_figure([v.shift for v in views.values()], list(views), "mu", height=340),
          key="compare_mu")

st.markdown(f"**{N_SAMPLES} noisy samples x + μ + s⊙ε of each** (seed {seed}; clipped to "
            "[0, 1] for display only)")
for side, column in zip(views, st.columns(2, gap="medium")):
    column.image(grid_png(views[side].samples, ncols=N_SAMPLES, min_tile=112),
                 caption=names[side], width="stretch")

traces: list[Curve] = []
side_curves: dict[str, Curves] = {}
for side, view in views.items():
    _, colour, _ = SIDES[side]
    if not uses_closed_form(view.noise, norm):
        st.info(f"{names[side]}: {view.noise.base.title} noise has no closed-form "
                "radius (the Radius page computes it numerically); no curve for it here.")
        continue
    try:
        curves = radius_curves(view.noise, P_GRID, p_a, norm)
    except UcanError as error:
        st.error(f"Cannot compute the radius of {side}: {error}")
        continue
    tag = "" if view.soundness == "sound" else f" [{view.soundness}]"
    side_curves[side] = curves
    traces += radius_traces(curves, norm, f"{side}{tag}: ", colour, with_base=False,
                            iso_symbol="circle-open", alm=not state.teaching_mode())
if traces:
    chart(radius_curve_figure(P_GRID, traces, p_a, norm, height=420), key="compare_curves")
    st.markdown(f"| at p_A = {p_a:.3f} | radius | kind |\n|---|---|---|\n" + "\n".join(
        f"| {t.label} | {fmt(t.marker_value)} | "
        + (kind_badge(t.kind) if t.dash == "solid" else ":gray-badge[size measure]")
        + " |" for t in traces))
    st.caption("Anisotropic noise: min sᵢ·R is the largest ℓp ball inside the certified "
               "region (a radius); the dashed ALM is the radius of the isotropic region of "
               "equal volume, a size measure, not a radius guarantee. Hover a curve for full "
               "precision.")
    for line in why_smaller_ball(side_curves, names):
        st.markdown(line)

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
