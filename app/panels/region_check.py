"""The Region page's empirical check (``app.jobs.start_region_check``): the certificate at
the image, the PREDICT answers at points of the certified region's slice, their counts and
what a spot-check does and does not show."""

from __future__ import annotations

import streamlit as st

from app.cached.models import model_cards
from app.cached.region import region_slice
from app.figures.common import KIND_COLOURS, fmt, fmt_p, full, norm_symbol
from app.figures.region import check_figure
from app.jobs import RegionCheck
from app.widgets.output import chart


def show_check(result: RegionCheck, names: tuple[str, str]) -> None:
    """The certificate at x, the check's points on its region's slice (pixels ``names``),
    counts and meaning."""
    s, cert, check = result.settings, result.certificate, result.check
    classes = model_cards()[s.model_id].architecture.classes
    sym = norm_symbol(s.norm)
    if check is None:
        st.warning(f"CERTIFY abstained at this image (p̲_A = {fmt_p(cert.p_a_lower)} ≤ ½ for "
                   f"{s.model_id} with this noise): there is no certified region to check. "
                   "A model trained at this σ, or a smaller σ, may certify.")
        return
    counts = check.counts()
    view = region_slice(s.noise, cert.p_a_lower, s.norm, s.i, s.j)
    top, bottom = st.columns(3), st.columns(3)
    top[0].metric("Certified class", classes[check.certified])
    top[1].metric("p̲_A", fmt_p(cert.p_a_lower), help=f"One-sided Clopper–Pearson lower "
                  f"bound at α = {s.alpha:g} from n = {s.n:,} samples: {full(cert.p_a_lower)}.")
    top[2].metric(f"R ({sym})", fmt(result.radius, 3), delta=view.radius_kind,
                  delta_color=KIND_COLOURS.get(view.radius_kind, "gray"),
                  delta_arrow="off", help="The base noise's radius at p̲_A: the region is "
                  f"{{δ : ‖δ/s‖_p ≤ R}}, R = {full(result.radius)}. exact: tight; sound: valid, "
                  "maybe loose.")
    bottom[0].metric("Held", f"{counts['held']} / {s.points}",
                     help="PREDICT returned the certified class.")
    bottom[1].metric("Changed", counts["changed"], help="PREDICT returned another class.")
    bottom[2].metric("Abstained", counts["abstained"],
                     help="PREDICT's test was not significant: no answer (not a violation).")
    subtitle = (f"{s.model_id} · class {classes[check.certified]} · p̲_A = "
                f"{fmt_p(cert.p_a_lower)} · R = {fmt(result.radius, 3)}")
    chart(check_figure(view, *names, check, classes, subtitle),
                  key="region_check")
    if counts["changed"]:
        st.error(f"PREDICT returned another class at {counts['changed']} of {s.points} points "
                 "inside the certified slice. Each PREDICT answer is wrong with probability "
                 f"≤ α = {s.alpha:g} and the certificate fails with probability ≤ α, so unless "
                 "one of those events happened this contradicts the certificate.")
    else:
        st.success(f"No point changed class: PREDICT returned {classes[check.certified]} at "
                   f"{counts['held']} of {s.points} points and abstained at "
                   f"{counts['abstained']}.")
    st.caption(
        f"What this shows: an empirical spot-check at {s.points} points of one 2-D slice (only "
        "pixels A and B moved; half of the points drawn on the boundary ‖δ/s‖_p = R, in the "
        "quadrants where both pixels can move, then clipped to [0, 1], which only pulls them "
        "inwards), not a proof; the certificate covers the whole region in all d dimensions. "
        "An abstention is not a violation: PREDICT's test of the "
        f"top two classes with n = {s.n_predict:,} samples was not significant at "
        f"α = {s.alpha:g}, as is common near the boundary, where p_A falls towards ½. "
        f"{result.elapsed:.1f} s.")
