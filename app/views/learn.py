"""Learn: a guided walk through randomized smoothing on one image, in slow motion.

noise → votes → Clopper–Pearson → radius → region, then why the radius grows with p_A and
why a bound must be anytime-valid to be peeked at. CERTIFY runs with a small bundled model
for n = 10, 100, 1,000 and the final n (cached; n = 100,000 in a background job with
progress and Cancel), so the page reads well on load without any interaction; a photo model
(about a sample a second on a CPU) runs n = 10, 30 and a final n of 100–1,000 in a
background job (``app.cached.learn.walkthrough_plan``). One control
chooses the stage n (▶ plays it). Every number comes from ``ucan_core`` (through
``app.cached``); figures come from ``app.figures``.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict

import streamlit as st

from app import jobs, state
from app.cached.certify import formula_values
from app.cached.images import bundled_catalog, bundled_model_input, default_image
from app.cached.learn import (
    DEFAULT_IMAGE,
    SMALL_MODEL_PLAN,
    run_walkthrough,
    stage_of,
    walkthrough,
    walkthrough_plan,
)
from app.cached.models import cpu_seconds, default_index, model_cards, pixel_units, quick_on_cpu
from app.cached.noise import noisy_samples
from app.choices import PHOTOS, NoiseChoice
from app.figures.common import csv_text, fmt, fmt_rate
from app.figures.formulas import fill_formula
from app.figures.images import grid_png, image_png
from app.figures.learn import monte_carlo_figure
from app.panels.job import JobWords, job_fragment, job_panel
from app.panels.learn import clopper_pearson_section, peeking_section, region_section, shift_section
from app.widgets.output import chart, downloads
from app.workers import keyed_job

_t0 = time.perf_counter()
PREFIX = "learn_"
ALPHAS = (0.01, 0.001, 0.0001)
#: Final n up to this runs in the script (seconds); above, in a background job.
SCRIPT_MAX_N = 10_000
JOB_KEY, RUNS_KEY, PLAY_KEY, NEXT_KEY = ("learn_job", "learn_runs", "learn_playing",
                                         "learn_next_stage")
#: Seconds per stage when ▶ plays the stages.
PLAY_S = 1.2
WALKTHROUGH = JobWords("The walk-through", "samples", "result", "The walk-through failed")
ss = st.session_state
runs: OrderedDict[str, list] = ss.setdefault(RUNS_KEY, OrderedDict())

st.title("Learn: randomized smoothing, step by step")
st.markdown(
    "A classifier f is made **certifiably robust** by voting: the smoothed classifier g(x) "
    "returns the class that f gives most often on noisy copies x + ε. Because the vote is a "
    "probability, a small change of x can only change it a little, so it stays the same "
    "within a radius that we can compute. Below, one image goes through the five steps of "
    "Cohen et al.'s CERTIFY, with the Monte Carlo run at growing sample sizes n (10, 100, "
    "1,000 and the final n; 10, 30 and the final n for a photo model), so you can watch the "
    "bound on p_A tighten and the radius grow.")

cards = {k: c for k, c in model_cards().items() if c.npg == "isotropic"}
if not cards:
    st.error("No bundled isotropic models found in assets/models.")
    st.stop()
col_model, col_image, col_n, col_alpha, col_seed = st.columns([1.3, 1.2, 1.2, 0.8, 0.7])
model_id = col_model.selectbox("Model", list(cards), key=f"{PREFIX}model", bind="query-params",
                               index=default_index(list(cards)),
                               help="A bundled base classifier f: a small one trained with "
                                    "the Gaussian noise it is smoothed with, or a photo model "
                                    "(a denoiser, then an off-the-shelf ImageNet classifier).")
card = cards[model_id]
arch = card.architecture
plan = walkthrough_plan(card)
catalog = dict(bundled_catalog()[card.dataset])
image_id = col_image.selectbox("Image", list(catalog), key=f"{PREFIX}image",
                               bind="query-params", format_func=catalog.__getitem__,
                               index=list(catalog).index(DEFAULT_IMAGE)
                               if DEFAULT_IMAGE in catalog
                               else default_image(card.dataset, list(catalog)),
                               help="The test image x to certify. The default, MNIST #0018 "
                                    "(a 3 that looks a little like an 8), gets contested "
                                    "votes, so the bound has something to show.")
slow = plan != SMALL_MODEL_PLAN
final_n = col_n.select_slider(
    "Final n", plan.finals, value=plan.default, bind="query-params",
    key=f"{PREFIX}n_{card.dataset}" if slow else f"{PREFIX}n", format_func=lambda n: f"{n:,}",
    help="Estimation samples of the last stage; every result is kept for this session. "
         + ("This photo model draws about a sample a second on a CPU: every walk-through runs "
            "in the background with progress and Cancel." if slow else
            "100,000 runs in the background (about a minute on a CPU) with progress and "
            "Cancel."))
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
sizes_text = ", ".join(f"{n:,}" for n in plan.sizes(final_n))
samples = plan.samples(final_n)
if slow and (seconds := cpu_seconds(card, samples)) is not None:
    stages_text = ", ".join(f"{n:,}" for n in plan.stages)
    st.caption(f"`{model_id}` is a photo model: a denoiser, then an off-the-shelf ImageNet "
               f"classifier, so it runs n = {stages_text}, then the final n: {samples:,} samples, "
               f"up to about {10 * round(seconds / 10):,.0f} s on this CPU at the rate its card "
               f"records ({fmt_rate(samples / seconds)} samples/s, measured under load); the "
               "progress below gives the live estimate.")
run_key = json.dumps([model_id, image_id, final_n, alpha, seed])


def walkthrough_panel() -> None:
    """Progress and Cancel of the walk-through's background job; the page redraws when it ends."""
    job_panel(ss.get(JOB_KEY), WALKTHROUGH, lambda job: (
        f"Running CERTIFY at n = {sizes_text}: {job.done:,} / {job.total:,} samples · "
        f"{job.elapsed:.0f} s"), f"{PREFIX}cancel")


if final_n <= SCRIPT_MAX_N and quick_on_cpu(card, samples):
    with st.spinner(f"Running CERTIFY at n = {sizes_text}…"):
        certificates = walkthrough(model_id, image_id, final_n, alpha, seed)
elif run_key in runs:
    certificates = runs[run_key]
else:
    args = (model_id, image_id, final_n, alpha, seed)
    job = keyed_job(JOB_KEY, run_key, samples,
                    lambda progress: run_walkthrough(*args, progress), jobs.session_probe(),
                    "Cannot run the walk-through")
    if job is not None and (outcome := jobs.new_outcome(job)) is not None:
        jobs.remember(runs, run_key, outcome, 8)
        st.rerun()
    job_fragment(walkthrough_panel, job)
    st.caption(f"The steps below appear when CERTIFY at n = {sizes_text} has finished"
               + ("." if slow else " (Final n = 10,000 shows them at once)."))
    st.stop()
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
photo = card.dataset == PHOTOS
st.markdown((f"The model `{model_id}` first removes the noise with a denoiser, then an "
             "off-the-shelf ImageNet classifier reads the cleaned copy (denoised smoothing), "
             "so it still recognises many of them." if photo else
             f"The model `{model_id}` was trained on such noisy images, so it still "
             "recognises most of them.")
            + f" The noise has d = {c * h * w:,} coordinates, one per pixel"
            + (f" of the {h}×{w} image the classifier receives (the photo is resized to it)."
               if photo else "."))

# --------------------------------------------------------------------------------------------
st.subheader("2 · Votes: count what f says on n noisy copies")
sizes = [s.n for s in stages]
stage_key = f"{PREFIX}stage_{final_n}"
if NEXT_KEY in ss:                         # ▶ moved on: set the control before it is drawn
    ss[stage_key] = ss.pop(NEXT_KEY)
ss.setdefault(stage_key, sizes[-1])


def play() -> None:
    ss[stage_key], ss[PLAY_KEY] = sizes[0], (0, time.monotonic())


col_stage, col_play = st.columns([5, 1], vertical_alignment="bottom")
shown_n = col_stage.select_slider(
    "Stage (number of samples n)", sizes, key=stage_key,
    format_func=lambda n: f"{n:,}",
    help="The one n control: the figure, the numbers and the formulas below all describe "
         "this stage; ▶ plays the stages n = 10 → … → the final n.")
col_play.button("▶ Play n", key=f"{PREFIX}play", on_click=play, width="stretch",
                help="Step through the stages, one every second or so.")
current = sizes.index(shown_n)
stage = stages[current]


def advance() -> None:
    """While ▶ plays: once a stage has been shown for PLAY_S, move the n control to the next
    stage and redraw the page; stop after the last."""
    if PLAY_KEY not in ss:
        return
    index, since = ss[PLAY_KEY]
    if time.monotonic() - since < 0.9 * PLAY_S:
        return
    if index + 1 >= len(sizes):
        del ss[PLAY_KEY]
        return
    ss[PLAY_KEY], ss[NEXT_KEY] = (index + 1, time.monotonic()), sizes[index + 1]
    st.rerun(scope="app")


st.fragment(advance, run_every=PLAY_S if PLAY_KEY in ss else None)()
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
clopper_pearson_section(stage, alpha, choice)

# --------------------------------------------------------------------------------------------
st.subheader("4 · Radius: from p̲_A to a certified ℓ2 radius")
cert = certificates[current]
if stage.abstained:
    st.warning(f"p̲_A = {stage.lower:.4f} ≤ ½: the smoothed classifier **abstains** at this "
               "stage (no certified prediction, radius 0).")
else:
    radius = cert.radii[cert.norm]
    st.latex(r"R = \sigma\,\Phi^{-1}(\underline{p}_A) = "
             rf"{sigma:g}\cdot\Phi^{{-1}}({fmt(stage.lower)}) = {fmt(cert.radius)}")
    st.markdown("  \n".join(fill_formula(
        radius.formula, formula_values(cert), cert.radius, cert.kind, cert.norm,
        digits=4)))
    st.markdown(f"g(x + δ) = **{top}** for every ‖δ‖₂ ≤ **{cert.radius:.4g}** "
                f"({pixel_units(card)}), with probability ≥ 1 − α = {1 - alpha:g} "
                "over the sampling.")
st.dataframe([s.row() for s in stages], hide_index=True, width="stretch",
             key="learn_table",
             column_config={k: st.column_config.NumberColumn(format="%.6f")
                            for k in ("p_a_hat", "p_a_lower", "ci_low", "ci_high", "radius")})
downloads([
    ("Stages (CSV)", csv_text([s.row() for s in stages]), "walkthrough.csv"),
    ("Certificates (JSON)", json.dumps([cert.to_dict() for cert in certificates], indent=2),
     "walkthrough.json")], key="learn_dl")
st.page_link("views/certify.py", label="Certify this image", icon=":material/verified:",
             query_params=state.certify_params(model_id, image_id),
             help="Opens Certify with this model, its σ and this image, at Certify's own "
                  "sampling settings.")

# --------------------------------------------------------------------------------------------
final = stages[-1]
region_section(choice, final, arch.input_shape)
shift_section(sigma, stage.lower if not stage.abstained else final.lower, f"{PREFIX}shift")
peeking_section()

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
