"""Radius: the universal (UniCR) certified radius vs p_A beside the closed forms.

For one or several noise densities at the same σ, in any ℓp norm and dimension d, the page
overlays the engine's universal radius curve, the density's closed form (if any) and,
optionally, PixelDP's Gaussian ℓ2 radius; it tabulates their relative difference and draws the
worst-case direction found on the image grid. Every number comes from ``ucan_core.universal``
(through ``app.cached.radius``); the figures are built by ``app.figures.radius``.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict

import numpy as np
import streamlit as st

from app import jobs, state
from app.cached import radius as cached_radius
from app.figures import radius as radius_figures
from app.figures.common import csv_text, fmt, kind_badge, norm_symbol
from app.panels.job import JobWords, job_fragment, job_panel
from app.widgets.images import image_picker
from app.widgets.noise import DEFAULT_SIGMA
from app.widgets.output import chart, downloads
from app.workers import keyed_job
from ucan_core.errors import UcanError
from ucan_core.noises.catalog import NOISES
from ucan_core.universal.search import MODES

_t0 = time.perf_counter()
PREFIX = "rd_"
NORMS = ["0.5", "1", "1.5", "2", "3", "4", "inf"]
#: The largest typed d: the largest input the app works with (3 × 224 × 224).
MAX_DIM = 3 * 224 * 224
MAX_DENSITIES = 4
JOB_KEY, CURVES_KEY = "rd_job", "rd_curves"
CURVES = JobWords("The conservative curves", "curves", "curves", "Cannot compute the curves")
ss = st.session_state
computed: OrderedDict[str, cached_radius.DensityCurves] = ss.setdefault(CURVES_KEY, OrderedDict())
EXPLANATION = r"""
**How the radius is found (Neyman–Pearson).** Shift the input by δ. Among all base
classifiers with P(f(x + ε) = A) = p_A, the worst one puts class A on the set where the
likelihood ratio of the shifted noise to the unshifted one is **lowest**. Under the shift that
set keeps the probability $\beta(p_A) = \int_0^{p_A} e^{Q(u)}\,du$, with Q the quantile
function of the log-ratio under the unshifted noise. The smoothed classifier is robust at δ
**iff β(p_A) > ½** (two classes). The **radius** is the smallest ‖δ‖_p on that boundary; the
engine searches directions (axis, k-sparse, diagonal).

Kinds: :green-badge[exact] a tight closed form · :blue-badge[sound] a valid bound that may be
loose (a closed form, a norm conversion, or a conservative curve whose worst direction is
provably searched) · :orange-badge[approximate] an estimate, not a guarantee.
"""

st.title("Radius vs p_A")
controls, results = st.columns([1, 3], gap="large")
results.markdown(
    "The **universal** engine (UniCR) finds the certified radius of *any* noise density "
    "numerically, from the Neyman–Pearson boundary. Here it runs next to each density's "
    "closed form, at equal variance (same σ; each density derives its own scale from σ), so "
    "you can see where a closed form is tight, where it is loose, and what the worst "
    "perturbation looks like.")

with controls:
    st.subheader("Dimension")
    source = st.radio("d from", ["Image", "Typed"], key=f"{PREFIX}dim_source",
                      bind="query-params", horizontal=True,
                      help="Image: d = C·H·W of the image as the app works with it. Typed: "
                           "any d (the worst direction is then drawn on a near-square grid).")
    if source == "Image":
        image = image_picker(PREFIX)
        shape: tuple[int, int, int] | None = image.shape
        dim = math.prod(image.shape)
        st.caption(f"d = C·H·W = {'×'.join(map(str, image.shape))} = {dim:,}")
    else:
        dim = int(st.number_input("d (dimension)", min_value=0, max_value=MAX_DIM, value=784,
                                  step=1, key=f"{PREFIX}dim", bind="query-params",
                                  help=f"Number of input coordinates, 1 to {MAX_DIM:,}."))
        shape = radius_figures.display_shape(dim) if dim >= 1 else None

    st.subheader("Noise")
    densities = st.multiselect(
        "Densities (equal σ)", list(NOISES), default=["gaussian"],
        max_selections=MAX_DENSITIES, key=f"{PREFIX}densities", bind="query-params",
        format_func=lambda n: f"{NOISES[n].title} ({n})",
        help=f"Up to {MAX_DENSITIES} densities, each with its default parameters. Cauchy, "
             "expmix and laplace_gaussian have no closed form: the universal curve only.")
    sigma = st.slider("σ (noise level)", min_value=0.05, max_value=2.0,
                      value=DEFAULT_SIGMA, step=0.05, key=f"{PREFIX}sigma",
                      bind="query-params",
                      help="Per-coordinate standard deviation shared by every density.")
    norm = st.select_slider("Norm ℓp", NORMS, value="2", key=f"{PREFIX}norm",
                            bind="query-params", format_func=norm_symbol,
                            help="The norm in which the radius is measured; fractional p "
                                 "(0.5, 1.5) too.")
    teaching = state.teaching_mode()
    mode = MODES[0]
    if not teaching:
        mode = st.radio("Mode", MODES, key=f"{PREFIX}mode", bind="query-params",
                        horizontal=True,
                        help="approximate: plug-in estimate of the boundary (fast). "
                             "conservative: fresh Monte Carlo draws with a DKW confidence "
                             "bound; sound where the worst direction is provably searched "
                             "(e.g. Gaussian), and several times slower (tens of seconds a "
                             "curve).")
    p_a = st.slider("p_A (markers, table row, worst direction)", cached_radius.P_LOW,
                    cached_radius.P_HIGH, 0.9, 0.001, format="%.3f", key=f"{PREFIX}p_a",
                    bind="query-params",
                    help="Snaps to the nearest p_A of the grid on which the curves are "
                         "computed.")
    show_pixeldp = st.toggle("PixelDP curve (ℓ2)", value=True, key=f"{PREFIX}pixeldp",
                             disabled=norm != "2", bind="query-params",
                             help="Overlay PixelDP's ℓ2 radius of Gaussian noise at this σ "
                                  "(Lecuyer et al. 2019): sound, but far below the "
                                  "Neyman–Pearson radius. ℓ2 only.")
    points, scales = cached_radius.DEFAULT_POINTS, cached_radius.DEFAULT_SCALES
    if not teaching:
        with st.expander("Numerical settings"):
            points = int(st.number_input("p_A values", 5, 60, points, 1, key=f"{PREFIX}points",
                                         bind="query-params",
                                         help="Grid points on (½, 1); the cost grows with "
                                              "them."))
            scales = int(st.select_slider("Scales per search grid", [12, 16, 24], scales,
                                          key=f"{PREFIX}scales", bind="query-params",
                                          help="Radii tried per direction before refining; "
                                               "more is slower and a little more precise."))
    error_slot = st.container()
    st.markdown(EXPLANATION)

with results:
    p = cached_radius.p_grid(points)
    marker = int(np.argmin(np.abs(p - p_a)))
    sym = norm_symbol(norm)
    entries: list[cached_radius.DensityCurves] = []
    errors: dict[str, list[str]] = {}
    slow: list[cached_radius.Spec] = []       # conservative curves: a background job
    job: jobs.BackgroundJob | None = None
    for name in densities:
        spec: cached_radius.Spec = (name, float(sigma), dim, norm, mode, points, scales)
        if mode == "conservative" and not cached_radius.is_ready(spec):
            if json.dumps(spec) in computed:
                entries.append(computed[json.dumps(spec)])
            else:
                slow.append(spec)
            continue
        with st.spinner(f"Universal {sym} radius of {NOISES[name].title} noise at {points} "
                        f"p_A values…", show_time=True):
            try:
                entries.append(cached_radius.density_curves(*spec))
            except UcanError as error:
                errors.setdefault(str(error), []).append(NOISES[name].title)
    for message, titles in errors.items():
        error_slot.error(f"{', '.join(titles)}: {message}")
    if slow:
        job = keyed_job(JOB_KEY, json.dumps(slow), len(slow),
                        lambda progress: cached_radius.compute_all(slow, progress),
                        jobs.session_probe(), "Cannot compute the curves")
        if job is not None and (outcome := jobs.new_outcome(job)) is not None:
            for spec, curves in zip(slow, outcome):
                jobs.remember(computed, json.dumps(spec), curves, 32)
            st.rerun()

        def curves_panel() -> None:
            """Progress and Cancel of the conservative curves; the page redraws at the end."""
            if job_panel(ss.get(JOB_KEY), CURVES, lambda job: (
                    f"Conservative curves: {job.done} / {job.total} done · {job.elapsed:.0f} s "
                    "(about a minute a curve on a CPU)"), f"{PREFIX}cancel",
                    lambda _: st.caption("Cancel takes effect between curves: the curve in "
                                         "progress finishes in the background and is dropped.")):
                st.button("Compute them again", key=f"{PREFIX}retry",
                          on_click=lambda: ss.pop(JOB_KEY, None))

        job_fragment(curves_panel, job)
    if not entries and slow and not errors:
        if job is not None and job.running:
            st.info("The conservative curves appear here once computed (progress above).")
        st.stop()
    if not entries:
        st.info("Pick at least one density with a valid dimension to draw its curve."
                if not errors else "No curve to draw: see the error next to the controls.")
        st.stop()

    pixeldp = (cached_radius.pixeldp(float(sigma), points)
               if show_pixeldp and norm == "2" else None)
    pairs = [(e.title, e.comparison) for e in entries]
    st.caption(f"d = {dim:,} · σ = {sigma:.2f} · {sym} · {mode} mode · {points} p_A values, "
               f"{scales} scales a direction · markers at p_A = {p[marker]:.3f}")
    figure = radius_figures.radius_figure(p, pairs, pixeldp, marker, norm)
    stem = f"radius-{'-'.join(e.name for e in entries)}-l{norm}-d{dim}-s{sigma:g}-{mode}"
    chart(figure, key="radius_curves", filename=stem, tools=True)
    if pixeldp is not None:
        st.caption("PixelDP's differential-privacy bound is sound but loose: compare it with the "
                   "Gaussian's exact ℓ2 radius (UniCR, Hong et al. 2022).")

    channels = shape[0] if shape else 1
    reduction = radius_figures.CHANNEL_0
    if channels > 1:
        reduction = st.radio("Worst direction shown as", [radius_figures.CHANNEL_0,
                                                          radius_figures.MEAN_ABS],
                             key=f"{PREFIX}reduction", horizontal=True,
                             help="The direction has one value per channel and pixel.")
    for entry, tab in zip(entries, st.tabs([e.title for e in entries])):
        cmp, curve = entry.comparison, entry.comparison.universal
        with tab:
            closed_col, universal_col, diff_col = st.columns(3)
            closed_col.metric(f"Closed form at p_A = {p[marker]:.3f}",
                              "none" if cmp.closed is None else fmt(cmp.closed[marker]))
            universal_col.metric("Universal", fmt(curve.radius[marker]))
            difference = cmp.relative_difference
            diff_col.metric("Difference vs closed",
                            "—" if difference is None else radius_figures.percent_text(
                                100 * float(difference[marker])),
                            help="(universal − closed)/closed: about 0 where the closed form "
                                 "is tight, > 0 where it is loose.")
            closed_text = ("no closed form" if cmp.closed is None
                           else f"closed form {kind_badge(str(cmp.closed_kind))}")
            known = ("the worst direction is provably among those searched"
                     if entry.direction_known else "the direction search is a heuristic")
            st.markdown(f"{closed_text} · universal {kind_badge(curve.kind)} · worst "
                        f"direction at this p_A: **{curve.worst_label(marker)}** ({known})")
            st.caption(curve.statement)
            st.dataframe(
                radius_figures.comparison_rows(entry.name, cmp), hide_index=True, height=250,
                column_order=["p_a", "closed", "universal", "difference_pct", "worst_direction"],
                column_config={
                    "p_a": st.column_config.NumberColumn("p_A", format="%.4f"),
                    "closed": st.column_config.NumberColumn("closed", format="%.5g"),
                    "universal": st.column_config.NumberColumn("universal", format="%.5g"),
                    "difference_pct": st.column_config.NumberColumn(
                        "difference (%)", format="%+.2f",
                        help="(universal − closed)/closed, in %: about 0 where the closed "
                             "form is tight, > 0 where it is loose."),
                    "worst_direction": st.column_config.TextColumn("worst direction")})
            direction_col, note_col = st.columns(2, gap="medium")
            with direction_col:
                chart(radius_figures.direction_figure(
                    curve.direction(marker), shape, reduction,
                    f"Worst direction at p_A = {p[marker]:.3f}: {curve.worst_label(marker)}"),
                    key=f"radius_direction_{entry.name}")
            note_col.caption("The unit-ℓp perturbation that came closest to breaking the "
                             "certificate. The noise is exchangeable, so only how many "
                             "pixels move and by how much matters; the engine puts them "
                             "first in reading order.")

    downloads([
        ("Curves (CSV)", csv_text(radius_figures.csv_rows(
            [(e.name, e.comparison) for e in entries], pixeldp, norm, mode)), f"{stem}.csv"),
        ("Figure (Plotly JSON)", figure.to_json(), f"{stem}.json")], key="radius_dl")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
