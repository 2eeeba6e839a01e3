"""The Certify page's choice between fixed-n CERTIFY (Cohen et al.'s published protocol, the
default) and anytime-valid CERTIFY that may stop early, with an optional target radius and
the engine's planner for both."""

from __future__ import annotations

import streamlit as st

from app.cached.certify import sample_plan
from app.choices import NoiseChoice
from ucan_core.errors import UcanError


def sequential_picker(choice: NoiseChoice, alpha: float, n: int) -> tuple[bool, float | None]:
    """"Stop when I say (anytime-valid)" and its optional target radius (0: none): whether
    the run is sequential, with n as its n_max, and the target; below, what n_max can certify
    at best and what the target needs (base noise, native norm)."""
    sequential = st.toggle(
        "Stop when I say (anytime-valid)", key="cert_sequential", bind="query-params",
        help="Fixed n (off, the published protocol): Clopper–Pearson at exactly n samples. On: "
             "an anytime-valid bound (a confidence sequence) that holds at every sample size "
             "at once, so the run shows its certified radius growing and a Stop button keeps "
             "a valid certificate at any moment; n becomes the most samples it may draw. "
             "At equal n its radius is a few percent smaller.")
    if not sequential:
        return False, None
    target = float(st.number_input(
        "Target radius (optional, 0: none)", min_value=0.0, max_value=10.0, value=0.0,
        step=0.05, format="%.3f", key="cert_target", bind="query-params",
        help="Stop by itself as soon as this radius is certified, or as soon as it is ruled "
             "out; 0 draws until n or until you press Stop."))
    try:
        plan = sample_plan(choice, alpha, n, target or None)
    except UcanError as error:
        st.caption(f"Planner: {error}")
        return True, target or None
    best = plan.max_radius_sequential or 0.0
    line = (f"Anytime-valid with at most n = {n:,}: no radius above **{best:.3g}** even if "
            "every vote agrees.")
    if target:
        line += (f" R = {target:g} needs at least {plan.needed_n_sequential:,} samples "
                 f"({plan.needed_n_fixed:,} at a fixed n)." if plan.needed_n_sequential
                 else f" No number of samples certifies R = {target:g} with this noise.")
    st.caption(line)
    return True, target or None
