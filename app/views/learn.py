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
    peeking,
    radius_cap,
    run_walkthrough,
    shift_view,
    stage_of,
    stage_sizes,
    walkthrough,
    walkthrough_samples,
)
from app.cached.models import default_index, model_cards, quick_on_cpu
from app.cached.noise import noisy_samples
from app.cached.region import pixel_index, region_slice
from app.choices import NoiseChoice
from app.figures.common import csv_text, fmt
from app.figures.formulas import fill_formula
from app.figures.images import grid_png, image_png
from app.figures.learn import monte_carlo_figure, peeking_figure, shift_figure
from app.figures.region import region_figure
from app.panels.job import JobWords, job_fragment, job_panel
from app.widgets.output import chart, downloads

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
    job = ss.get(JOB_KEY)
    if job is not None and job.key != run_key and job.running:
        job.cancel()                       # the settings changed: that run is not wanted
    if job is None or job.key != run_key or not (job.running or job.cancelled or job.error):
        args = (model_id, image_id, final_n, alpha, seed)
        job = jobs.start_job(lambda: jobs.BackgroundJob(
            run_key, walkthrough_samples(final_n),
            lambda progress: run_walkthrough(*args, progress), jobs.session_probe()).start(),
            JOB_KEY, "Cannot run the walk-through")
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
st.subheader("3 · Clopper–Pearson: a lower bound on p_A")
st.markdown("p_A = P(f(x + ε) = ĉ_A) is unknown; the votes estimate it:")
st.latex(rf"\hat p_A = \frac{{k}}{{n}} = \frac{{{stage.k}}}{{{stage.n}}} = {fmt(stage.p_hat)}")
st.markdown("CERTIFY uses a bound that holds with probability ≥ 1 − α (Clopper–Pearson, "
            "one-sided; B⁻¹ is the quantile of the beta distribution):")
st.latex(rf"\begin{{aligned}}\underline{{p}}_A &= B^{{-1}}(\alpha;\, k,\, n - k + 1)\\ "
         rf"&= B^{{-1}}({alpha:g};\, {stage.k},\, {stage.n - stage.k + 1}) = {fmt(stage.lower)}"
         r"\end{aligned}")
st.caption(f"Two-sided {(1 - alpha) * 100:.6g}% interval (display only): "
           f"[{fmt(stage.ci_low)}, {fmt(stage.ci_high)}]; full precision in the table below.")
cap_p, cap_r = radius_cap(choice, stage.n, alpha)
st.caption(f"With n = {stage.n:,} samples, even k = n gives only p̲_A = {fmt(cap_p)}, "
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

# --------------------------------------------------------------------------------------------
st.subheader("6 · Why the radius grows with p_A")
p_view = stage.lower if not stage.abstained else final.lower
if p_view <= 0.5:
    st.info("This run abstains (p̲_A ≤ ½): pick another image or a larger n to see a radius.")
else:
    col_fig, col_words = st.columns([1.6, 1], gap="medium")
    reach = float(shift_view(sigma, p_view, 0.0).radius)
    shift = col_words.slider("‖δ‖₂: how far x is moved (pixel units)", 0.0,
                             round(max(2 * reach, sigma), 3), round(reach / 2, 3),
                             step=round(max(2 * reach, sigma) / 100, 4), format="%.3f",
                             key=f"{PREFIX}shift",
                             help="Move the input along a direction δ and watch the votes.")
    view = shift_view(sigma, p_view, shift)
    with col_fig:
        chart(shift_figure(view), key="learn_shift_figure")
    col_words.markdown(
        f"Along δ only one coordinate of the noise matters. The worst base classifier for "
        f"us says ĉ_A left of the boundary b, where x's noise (grey) has mass "
        f"p̲_A = {fmt(p_view)}. Moving x by δ slides the noise (blue): it keeps "
        f"**{view.p_shifted:.1%}** left of b. The vote stays ĉ_A while that is above ½, "
        f"that is while the blue peak is left of b: ‖δ‖₂ < b = σΦ⁻¹(p̲_A) = "
        f"**R = {fmt(view.radius)}**. A larger p_A puts b further right: a larger radius "
        "(Cohen et al. 2019, Figure 1).")

# --------------------------------------------------------------------------------------------
st.subheader("7 · Peeking vs anytime-valid: when may you stop sampling?")
sim = peeking()
st.markdown(
    "Clopper–Pearson's p̲_A holds at **one n fixed in advance**. Watching it while the votes "
    "arrive and stopping the first time it certifies is *peeking*: every look is another "
    f"chance to be fooled. Below, {sim.streams:,} simulated runs whose true p_A is "
    f"{sim.p:g} (α = {sim.alpha:g}) stop the first time the bound exceeds {sim.p:g}: a "
    "**false certificate**, a radius larger than the true one. An **anytime-valid** bound "
    "(a confidence sequence, `ucan_core.certify.sequential`) holds at every n at once, so "
    "such stopping keeps the promise.")
col_peek, col_peek_words = st.columns([1.6, 1], gap="medium")
with col_peek:
    chart(peeking_figure(sim), key="learn_peeking")
col_peek_words.markdown(
    f"After looking every {int(sim.looks[0])} votes up to n = {int(sim.looks[-1]):,}:  \n"
    f"- peeking at Clopper–Pearson: **{sim.clopper_pearson[-1]:.0%}** false certificates "
    f"(promised ≤ {sim.alpha:.0%})  \n"
    f"- anytime-valid bound: **{sim.anytime[-1]:.1%}**  \n"
    "The price: at a fixed n the anytime-valid bound is a little lower, so its radius is a "
    "little smaller. `SmoothedClassifier.certify_sequential` and `ucan certify --sequential` "
    "use it to stop early, soundly.")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
