"""Sections of the Learn page's walk-through that draw one step from explicit arguments: the
Clopper–Pearson bound of a stage, the certified region of the final stage, why the radius
grows with p_A (Cohen et al.'s Figure 1 along δ) and peeking vs an anytime-valid bound."""

from __future__ import annotations

import streamlit as st

from app.cached.learn import peeking, radius_cap, shift_view
from app.cached.region import pixel_index, region_slice
from app.choices import NoiseChoice
from app.figures.common import fmt
from app.figures.learn import Stage, peeking_figure, shift_figure
from app.figures.region import region_figure
from app.widgets.output import chart


def clopper_pearson_section(stage: Stage, alpha: float, choice: NoiseChoice) -> None:
    """Step 3: p̂_A and the one-sided Clopper–Pearson bound of ``stage``, filled in, and the
    cap that its n puts on any radius."""
    st.subheader("3 · Clopper–Pearson: a lower bound on p_A")
    st.markdown("p_A = P(f(x + ε) = ĉ_A) is unknown; the votes estimate it:")
    st.latex(rf"\hat p_A = \frac{{k}}{{n}} = \frac{{{stage.k}}}{{{stage.n}}} = "
             rf"{fmt(stage.p_hat)}")
    st.markdown("CERTIFY uses a bound that holds with probability ≥ 1 − α (Clopper–Pearson, "
                "one-sided; B⁻¹ is the quantile of the beta distribution):")
    st.latex(rf"\begin{{aligned}}\underline{{p}}_A &= B^{{-1}}(\alpha;\, k,\, n - k + 1)\\ "
             rf"&= B^{{-1}}({alpha:g};\, {stage.k},\, {stage.n - stage.k + 1}) = "
             rf"{fmt(stage.lower)}\end{{aligned}}")
    st.caption(f"Two-sided {(1 - alpha) * 100:.6g}% interval (display only): "
               f"[{fmt(stage.ci_low)}, {fmt(stage.ci_high)}]; full precision in the table "
               "below.")
    cap_p, cap_r = radius_cap(choice, stage.n, alpha)
    st.caption(f"With n = {stage.n:,} samples, even k = n gives only p̲_A = {fmt(cap_p)}, "
               f"so no radius beyond {fmt(cap_r)} can be certified: more samples, a "
               "tighter bound.")


def region_section(choice: NoiseChoice, final: Stage, shape: tuple[int, int, int]) -> None:
    """Step 5: the slice of the final stage's certified ℓ2 ball through the centre pixel and
    the corner of an image of ``shape``."""
    st.subheader("5 · Region: every perturbation inside is safe")
    if final.abstained:
        st.info("The final stage abstains, so there is no certified region to draw.")
        return
    _, h, w = shape
    pixel_a, pixel_b = (h // 2, w // 2), (0, 0)
    i, j = (pixel_index(shape, 0, *p) for p in (pixel_a, pixel_b))
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


def shift_section(sigma: float, p_view: float, key: str) -> None:
    """Step 6: the Gaussian at x and at x + δ against the worst-case boundary, with a slider
    (``key``) for ‖δ‖₂, at the lower bound ``p_view``."""
    st.subheader("6 · Why the radius grows with p_A")
    if p_view <= 0.5:
        st.info("This run abstains (p̲_A ≤ ½): pick another image or a larger n to see a "
                "radius.")
        return
    col_fig, col_words = st.columns([1.6, 1], gap="medium")
    reach = float(shift_view(sigma, p_view, 0.0).radius)
    shift = col_words.slider("‖δ‖₂: how far x is moved (pixel units)", 0.0,
                             round(max(2 * reach, sigma), 3), round(reach / 2, 3),
                             step=round(max(2 * reach, sigma) / 100, 4), format="%.3f",
                             key=key,
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


def peeking_section() -> None:
    """Step 7: the simulated false-certificate rates of peeking at Clopper–Pearson and of the
    anytime-valid bound (``app.cached.learn.peeking``)."""
    st.subheader("7 · Peeking vs anytime-valid: when may you stop sampling?")
    sim = peeking()
    st.markdown(
        "Clopper–Pearson's p̲_A holds at **one n fixed in advance**. Watching it while the "
        "votes arrive and stopping the first time it certifies is *peeking*: every look is "
        f"another chance to be fooled. Below, {sim.streams:,} simulated runs whose true p_A "
        f"is {sim.p:g} (α = {sim.alpha:g}) stop the first time the bound exceeds {sim.p:g}: "
        "a **false certificate**, a radius larger than the true one. An **anytime-valid** "
        "bound (a confidence sequence, `ucan_core.certify.sequential`) holds at every n at "
        "once, so such stopping keeps the promise.")
    col_peek, col_peek_words = st.columns([1.6, 1], gap="medium")
    with col_peek:
        chart(peeking_figure(sim), key="learn_peeking")
    col_peek_words.markdown(
        f"After looking every {int(sim.looks[0])} votes up to n = {int(sim.looks[-1]):,}:  \n"
        f"- peeking at Clopper–Pearson: **{sim.clopper_pearson[-1]:.0%}** false certificates "
        f"(promised ≤ {sim.alpha:.0%})  \n"
        f"- anytime-valid bound: **{sim.anytime[-1]:.1%}**  \n"
        "The price: at a fixed n the anytime-valid bound is a little lower, so its radius is "
        "a little smaller. `SmoothedClassifier.certify_sequential`, `ucan certify "
        "--sequential` and the Certify page's **Stop when I say (anytime-valid)** use it to "
        "stop early, soundly.")
