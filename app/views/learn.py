"""Learn: a guided walk through randomized smoothing on one image, in slow motion.

noise → votes → Clopper–Pearson → radius → region. CERTIFY runs with a small bundled model
for n = 10, 100, 1,000 and the final n (cached), so the page reads well on load without any
interaction. Every number comes from ``ucan_core`` (through ``app.cached``); figures come
from ``app.figures``.
"""

from __future__ import annotations

import json
import time

import streamlit as st

from app import state
from app.cached.certify import formula_values
from app.cached.images import bundled_catalog, bundled_model_input
from app.cached.learn import radius_cap, stage_of, stage_sizes, walkthrough
from app.cached.models import default_index, model_cards
from app.cached.noise import noisy_samples
from app.cached.region import pixel_index, region_slice
from app.choices import NoiseChoice
from app.figures.common import csv_text, fmt
from app.figures.formulas import fill_formula, substitute
from app.figures.images import grid_png, image_png
from app.figures.learn import monte_carlo_figure
from app.figures.region import region_figure
from app.widgets.output import chart, downloads

_t0 = time.perf_counter()
PREFIX = "learn_"
FINAL_N = (1_000, 10_000, 100_000)
ALPHAS = (0.01, 0.001, 0.0001)

st.title("Learn: randomized smoothing, step by step")
st.markdown(
    "A classifier f is made **certifiably robust** by voting: the smoothed classifier g(x) "
    "returns the class that f gives most often on noisy copies x + ε. Because the vote is a "
    "probability, a small change of x can only change it a little, so it stays the same "
    "within a radius that we can compute. Below, one image goes through the five steps of "
    "Cohen et al.'s CERTIFY, with the Monte Carlo run at n = 10, 100, 1,000 and the final "
    "n, so you can watch the bound on p_A tighten and the radius grow.")

cards = {k: c for k, c in model_cards().items() if c.npg == "isotropic"}
if not cards:
    st.error("No bundled isotropic models found in assets/models.")
    st.stop()
col_model, col_image, col_n, col_alpha, col_seed = st.columns([1.3, 1.2, 1.2, 0.8, 0.7])
model_id = col_model.selectbox("Model", list(cards), key=f"{PREFIX}model", bind="query-params",
                               index=default_index(list(cards)),
                               help="A small bundled base classifier f, trained with the "
                                    "Gaussian noise it is smoothed with.")
card = cards[model_id]
arch = card.architecture
catalog = dict(bundled_catalog()[card.dataset])
image_id = col_image.selectbox("Image", list(catalog), key=f"{PREFIX}image",
                               bind="query-params", format_func=catalog.__getitem__,
                               help="The test image x to certify.")
final_n = col_n.select_slider("Final n", FINAL_N, value=10_000, key=f"{PREFIX}n",
                              bind="query-params", format_func=lambda n: f"{n:,}",
                              help="Estimation samples of the last stage (100,000 takes tens "
                                   "of seconds on a CPU, once; results are cached).")
alpha = col_alpha.selectbox("α", ALPHAS, index=1, key=f"{PREFIX}alpha", bind="query-params",
                            help="Failure probability: the bound on p_A holds with "
                                 "probability ≥ 1 − α.")
seed = 0
if not state.teaching_mode():
    seed = int(col_seed.number_input("Seed", 0, 2**31 - 1, seed, 1, key=f"{PREFIX}seed",
                                     bind="query-params",
                                     help="Seed of the noise: same seed, same walk-through."))

sigma = float(card.noise["sigma"])
choice = NoiseChoice.of_card(card)
image = bundled_model_input(image_id, arch.input_shape)
sizes_text = ", ".join(f"{n:,}" for n in stage_sizes(final_n))
with st.spinner(f"Running CERTIFY at n = {sizes_text}…"):
    certificates = walkthrough(model_id, image_id, final_n, alpha, seed)
stages = [stage_of(cert) for cert in certificates]
classes = arch.classes
c, h, w = arch.input_shape

# --------------------------------------------------------------------------------------------
st.subheader("1 · Noise: the classifier sees noisy copies x + ε")
col_x, col_samples = st.columns([1, 3], gap="medium")
col_x.image(image_png(image.pixels, min_tile=168), caption=f"x: {image.name}",
            width=180)
col_samples.image(grid_png(noisy_samples(choice, image.pixels, 8, seed), ncols=8, min_tile=96),
                  caption=f"8 of the noisy copies, ε ~ N(0, σ²I) with σ = {sigma:g} in pixel "
                          f"units (clipped to [0, 1] for display only).", width="stretch")
st.markdown(f"The model `{model_id}` was trained on such noisy images, so it still "
            f"recognises most of them. The noise has d = {c * h * w:,} coordinates, one per "
            "pixel.")

# --------------------------------------------------------------------------------------------
st.subheader("2 · Votes: count what f says on n noisy copies")
sizes = [s.n for s in stages]
shown_n = st.select_slider("Stage (number of samples n)", sizes, value=sizes[-1],
                           key=f"{PREFIX}stage_{final_n}", format_func=lambda n: f"{n:,}",
                           help="Which Monte Carlo stage the numbers and formulas below "
                                "describe; ▶ in the figure plays all stages.")
current = sizes.index(shown_n)
stage = stages[current]
chart(monte_carlo_figure(stages, classes, current), key="learn_monte_carlo")
st.caption("Left: the votes at this stage (ĉ_A in blue). Middle: p̂_A (purple) with its "
           "two-sided interval (grey bar) and the one-sided lower bound p̲_A (red) that "
           "CERTIFY uses; at or below ½ (orange) it abstains. Right: the certified radius.")
top = classes[stage.selected]
st.markdown(
    f"CERTIFY first draws n0 = {stage.n0:,} copies to **select** the likely top class: "
    f"ĉ_A = **{top}**. It then draws n = {stage.n:,} fresh copies and counts the votes for "
    f"ĉ_A: **k = {stage.k:,}** of {stage.n:,}. Each stage is a separate run with the same "
    "seed; press ▶ to replay n growing.")

# --------------------------------------------------------------------------------------------
st.subheader("3 · Clopper–Pearson: a lower bound on p_A")
filled = substitute("B⁻¹(α; k, n − k + 1)", {"α": alpha, "k": stage.k, "n": stage.n})
st.markdown(
    f"p_A = P(f(x + ε) = ĉ_A) is unknown; the votes estimate it:  \n"
    f"`p̂_A = k/n = {stage.k:,}/{stage.n:,} = {fmt(stage.p_hat, 6)}`  \n"
    f"CERTIFY uses a bound that holds with probability ≥ 1 − α (Clopper–Pearson, "
    f"one-sided; B⁻¹ is the beta quantile):  \n"
    f"`p̲_A = B⁻¹(α; k, n − k + 1) = {filled} = {fmt(stage.lower, 6)}`  \n"
    f"Two-sided {(1 - alpha) * 100:.6g}% interval (display only): "
    f"[`{fmt(stage.ci_low, 6)}`, `{fmt(stage.ci_high, 6)}`]")
cap_p, cap_r = radius_cap(choice, stage.n, alpha)
st.caption(f"With n = {stage.n:,} samples, even k = n gives only p̲_A = {fmt(cap_p, 6)}, "
           f"so no radius beyond {fmt(cap_r)} can be certified: more samples, a "
           "tighter bound.")

# --------------------------------------------------------------------------------------------
st.subheader("4 · Radius: from p̲_A to a certified ℓ2 radius")
cert = certificates[current]
if stage.abstained:
    st.warning(f"p̲_A = {stage.lower:.4f} ≤ ½: the smoothed classifier **abstains** at this "
               "stage (no certified prediction, radius 0).")
else:
    radius = cert.radii[cert.norm]
    st.markdown("  \n".join(fill_formula(
        radius.formula, formula_values(cert), cert.radius, cert.kind, cert.norm,
        digits=6)))
    st.markdown(f"g(x + δ) = **{top}** for every ‖δ‖₂ ≤ **{cert.radius:.4g}** "
                f"(pixel units), with probability ≥ 1 − α = {1 - alpha:g} over the sampling.")
st.dataframe([s.row() for s in stages], hide_index=True, width="stretch",
             key="learn_table",
             column_config={k: st.column_config.NumberColumn(format="%.6f")
                            for k in ("p_a_hat", "p_a_lower", "ci_low", "ci_high", "radius")})
downloads([
    ("Stages (CSV)", csv_text([s.row() for s in stages]), "walkthrough.csv"),
    ("Certificates (JSON)", json.dumps([cert.to_dict() for cert in certificates], indent=2),
     "walkthrough.json")], key="learn_dl")

# --------------------------------------------------------------------------------------------
st.subheader("5 · Region: every perturbation inside is safe")
final = stages[-1]
if final.abstained:
    st.info("The final stage abstains, so there is no certified region to draw.")
else:
    pixel_a, pixel_b = (h // 2, w // 2), (0, 0)
    i, j = (pixel_index(arch.input_shape, 0, *p) for p in (pixel_a, pixel_b))
    view = region_slice(choice, final.lower, "2", i, j)
    col_region, col_text = st.columns([1.4, 1], gap="medium")
    with col_region:
        chart(region_figure(
            view, f"(row {pixel_a[0]}, col {pixel_a[1]})",
            f"(row {pixel_b[0]}, col {pixel_b[1]})", height=560), key="learn_region")
    col_text.markdown(
        f"At n = {final.n:,} the certified set is the ℓ2 ball of radius R = "
        f"**{final.radius:.4g}** around x. Drawn: its slice through two pixels (centre and "
        "corner), over the level sets of the Gaussian noise, which are circles too: "
        "isotropic noise certifies a ball.")
    col_text.markdown(
        "UCAN's **anisotropic** noise gives each pixel its own noise scale sᵢ and certifies "
        "the region ‖δ/s‖₂ ≤ R: an ellipse in this slice, larger where the noise is larger. "
        "Explore it on the **Region** page, and the learned maps on **Noise maps**.")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
