"""Learn: a guided walk through randomized smoothing on one image, in slow motion.

noise → votes → Clopper–Pearson → radius → region, then why the radius grows with p_A and
why a bound must be anytime-valid to be peeked at. CERTIFY runs with a small bundled model
for n = 10, 100, 1,000 and the final n (cached; n = 100,000 in a background job with
progress and Cancel), so the page reads well on load without any interaction. One control
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
from app.cached.images import bundled_catalog, bundled_model_input
from app.cached.learn import (
    DEFAULT_IMAGE,
    run_walkthrough,
    stage_of,
    stage_sizes,
    walkthrough,
    walkthrough_samples,
)
from app.cached.models import default_index, model_cards, quick_on_cpu
from app.cached.noise import noisy_samples
from app.choices import NoiseChoice
from app.figures.common import csv_text, fmt
from app.figures.formulas import fill_formula
from app.figures.images import grid_png, image_png
from app.figures.learn import monte_carlo_figure
from app.panels.job import JobWords, job_fragment, job_panel
from app.panels.learn import clopper_pearson_section, peeking_section, region_section, shift_section
from app.widgets.output import chart, downloads
from app.workers import keyed_job

_t0 = time.perf_counter()
PREFIX = "learn_"
FINAL_N = (1_000, 10_000, 100_000)
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
    "Cohen et al.'s CERTIFY, with the Monte Carlo run at n = 10, 100, 1,000 and the final "
    "n, so you can watch the bound on p_A tighten and the radius grow.")

isotropic = {k: c for k, c in model_cards().items() if c.npg == "isotropic"}
cards = {k: c for k, c in isotropic.items()
         if quick_on_cpu(c, walkthrough_samples(min(FINAL_N)))}
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
                               index=list(catalog).index(DEFAULT_IMAGE)
                               if DEFAULT_IMAGE in catalog else 0,
                               help="The test image x to certify. The default, MNIST #0018 "
                                    "(a 3 that looks a little like an 8), gets contested "
                                    "votes, so the bound has something to show.")
final_n = col_n.select_slider("Final n", FINAL_N, value=10_000, key=f"{PREFIX}n",
                              bind="query-params", format_func=lambda n: f"{n:,}",
                              help="Estimation samples of the last stage. 100,000 runs in "
                                   "the background (about a minute on a CPU) with progress "
                                   "and Cancel; every result is kept for this session.")
alpha = col_alpha.selectbox("α", ALPHAS, index=1, key=f"{PREFIX}alpha", bind="query-params",
                            help="Failure probability: the bound on p_A holds with "
                                 "probability ≥ 1 − α.")
seed = 0
if not state.teaching_mode():
    seed = int(col_seed.number_input("Seed", 0, 2**31 - 1, seed, 1, key=f"{PREFIX}seed",
                                     bind="query-params",
                                     help="Seed of the noise: same seed, same walk-through."))

if slow := sorted(set(isotropic) - set(cards)):
    st.caption(f"Not offered here: {', '.join(slow)}. The walk-through draws at least "
               f"{walkthrough_samples(min(FINAL_N)):,} samples on the CPU, far too many for "
               "these photo models (about a sample per second); certify a photo on the "
               "**Certify** page instead (Images: Photos).")
sigma = float(card.noise["sigma"])
choice = NoiseChoice.of_card(card)
image = bundled_model_input(image_id, arch.input_shape)
sizes_text = ", ".join(f"{n:,}" for n in stage_sizes(final_n))
run_key = json.dumps([model_id, image_id, final_n, alpha, seed])


def walkthrough_panel() -> None:
    """Progress and Cancel of the walk-through's background job; the page redraws when it ends."""
    job_panel(ss.get(JOB_KEY), WALKTHROUGH, lambda job: (
        f"Running CERTIFY at n = {sizes_text}: {job.done:,} / {job.total:,} samples · "
        f"{job.elapsed:.0f} s"), f"{PREFIX}cancel")


if final_n <= SCRIPT_MAX_N:
    with st.spinner(f"Running CERTIFY at n = {sizes_text}…"):
        certificates = walkthrough(model_id, image_id, final_n, alpha, seed)
elif run_key in runs:
    certificates = runs[run_key]
else:
    args = (model_id, image_id, final_n, alpha, seed)
    job = keyed_job(JOB_KEY, run_key, walkthrough_samples(final_n),
                    lambda progress: run_walkthrough(*args, progress), jobs.session_probe(),
                    "Cannot run the walk-through")
    if job is not None and (outcome := jobs.new_outcome(job)) is not None:
        jobs.remember(runs, run_key, outcome, 8)
        st.rerun()
    job_fragment(walkthrough_panel, job)
    st.caption(f"The steps below appear when CERTIFY at n = {sizes_text} has finished "
               f"(Final n = 10,000 shows them at once).")
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
st.markdown(f"The model `{model_id}` was trained on such noisy images, so it still "
            f"recognises most of them. The noise has d = {c * h * w:,} coordinates, one per "
            "pixel.")

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
                f"(pixel units: images in [0, 1]), with probability ≥ 1 − α = {1 - alpha:g} "
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
