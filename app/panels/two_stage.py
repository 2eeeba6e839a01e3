"""A Dual RS or sound-routing certificate as the Certify page shows it: both stages (R_sel,
R_c, p̲_A, α/2 each), the certified radius min(R_sel, R_c), for routing the chosen
configuration's maps and the ALM, soundness, downloads and the attack audit. One view for
both families: the numbers come from the certificate's one vocabulary, the words from
:data:`app.panels.words.WORDS`."""

from __future__ import annotations

import streamlit as st

from app import state
from app.cached.certify import (
    ALM_UPPER_KIND,
    menu_label,
    p_a_summary,
    two_stage_json,
    two_stage_row,
)
from app.cached.models import classes_of, describe_route, menu_entry, menu_models
from app.cached.noise import route_maps
from app.choices import MODES, RoutingSettings, TwoStageSettings
from app.figures.common import fmt, fmt_p, fmt_rate, kind_badge
from app.figures.maps import mu_map_figure, sigma_map_figure
from app.figures.votes import votes_figure
from app.jobs import AuditOutcome, CertifyResult
from app.panels.audit import audit_section
from app.panels.certificate import (
    Settings,
    certificate_downloads,
    follow_links,
    human_scale,
    radii_table,
    status_line,
)
from app.panels.words import WORDS
from app.widgets.output import chart, reading_metric, soundness_badge, text_metric
from ucan_core.certify.certificate import Certificate
from ucan_core.two_stage.engine import TwoStageCertificate
from ucan_core.two_stage.routing import RouteCertificate


def expert_noise(cls: Certificate | None) -> str:
    """The Gaussian noise of the classification stage, from its certificate: σ, and the range
    of the scale map s of a routing configuration."""
    if cls is None:
        return "—"
    if "scale_min" not in cls.noise:
        return f"σ = {cls.noise['sigma']:g}"
    return (f"σ = {cls.noise['sigma']:g}, s ∈ [{cls.noise['scale_min']:.3g}, "
            f"{cls.noise['scale_max']:.3g}]")


def show_two_stage_result(result: CertifyResult, status: str, current: Settings,
                          audits: dict[str, AuditOutcome], job_key: str) -> None:
    """A Dual RS or routing certificate: the selected level or configuration, both stages
    (R_sel, R_c, p̲_A, α/2 each), the certified radius min(R_sel, R_c), for routing the
    configuration's maps and the ALM, soundness, downloads and the audit (arguments as for
    :func:`app.panels.certificate.show_result`)."""
    cert, s = result.certificate, result.settings
    assert isinstance(s, TwoStageSettings) and isinstance(cert, TwoStageCertificate)
    words, mode_name = WORDS[cert.target], MODES[s.mode]
    sel, cls = cert.selection, cert.classification
    models = menu_models(s, cert.menu)
    classes = classes_of(models[0], len(cls.counts) if cls is not None else 10)
    choice = "abstain" if sel.abstained else menu_label(cert.selected)
    outcome = words.template.format(choice)
    expert = "—" if sel.abstained else models[sel.prediction]
    status_line(result, status, current)
    name = "abstain" if cert.abstained else classes[cert.prediction]
    m1, m2, m3, m4 = st.columns([1, 1.5, 1.4, 0.8])
    text_metric(m1, "Prediction", name, help=f"The certified class: {name}.")
    m2.metric(words.choice_label, choice,
              help=f"The {words.unit} chosen by the smoothed {words.selector} for this input.")
    reading_metric(m3, "Certified radius (ℓ2)", cert.radius,
                   help=f"min({words.r_sel}, R_c): within it the {words.selector} keeps this "
                        f"{words.unit} and the classifier smoothed with it keeps the class.")
    reading_metric(m4, "Elapsed", result.elapsed, unit="s",
                   help="Wall time of both stages in seconds.")
    m4.caption(f"{fmt_rate(result.samples_per_s)} samples/s on {s.device}")
    teaching = state.teaching_mode()
    if teaching and not cert.abstained:
        st.markdown(f"**Two guarantees; the smaller one counts.** {words.plain.capitalize()} "
                    f"keeps choosing {outcome} for every image within {fmt(sel.radius, 3)} of "
                    f"this one, and the classifier it chose keeps answering {name} within "
                    f"{fmt(cert.r_c, 3)}: so the answer holds within the smaller distance, "
                    f"{fmt(cert.radius, 3)}.")
    elif not teaching:
        r1, r2, r3, r4 = st.columns(4)
        reading_metric(r1, f"{words.r_sel} ({words.selector})", sel.radius,
                       help=f"The radius within which the smoothed {words.selector} keeps its "
                            f"choice.")
        if cls is None:
            r2.metric("R_c (classifier)", "not reached")
            r4.metric("p̲_A (classifier)", "not reached")
        else:
            reading_metric(r2, "R_c (classifier)", cert.r_c,
                           help="The radius within which the chosen classifier keeps its class.")
            reading_metric(r4, "p̲_A (classifier)", cert.p_a_lower_c, probability=True,
                           help="Guaranteed share of the classifier's votes (at α/2).")
        reading_metric(r3, f"p̲_A ({words.selector})", sel.p_a_lower, probability=True,
                       help=f"Guaranteed share of the {words.selector}'s votes for its choice "
                            "(at α/2).")
    if sel.abstained:
        st.warning(f"Abstain: the smoothed {words.selector} selects no {words.unit} (p̲_A = "
                   f"{fmt_p(sel.p_a_lower)} ≤ ½), so {mode_name} makes no certified prediction; "
                   "the classification stage is not run.")
    elif cert.abstained:
        st.warning(f"Abstain: at the selected {words.unit} {outcome} the smoothed "
                   f"classifier has p̲_A = {fmt_p(cert.p_a_lower_c)} ≤ ½.")
    else:
        radius = (f"**{fmt(cert.radius, 3)}**" if teaching else
                  f"**min({words.r_sel}, R_c) = min({fmt(sel.radius, 3)}, {fmt(cert.r_c, 3)}) = "
                  f"{fmt(cert.radius, 3)}**")
        st.markdown(f"**Prediction: {name}**, certified in ℓ2 up to radius {radius} "
                    f"{kind_badge(cert.kind)} (pixel units, images in [0, 1]).")

    stage_sel = p_a_summary(sel)
    stage_cls = p_a_summary(cls) if cls is not None else None
    rows = [{"stage": f"1 · {words.selector}", "model": s.selection_model,
             "Gaussian noise": f"{words.sigma_sel} = {cert.sigma_sel:g}", "α": sel.alpha,
             "outcome": outcome, "votes": f"{stage_sel.k:,} / {sel.n:,}",
             "p̲_A": sel.p_a_lower}]
    if cls is not None and stage_cls is not None:
        rows.append({"stage": "2 · classifier", "model": expert,
                     "Gaussian noise": expert_noise(cls), "α": cls.alpha,
                     "outcome": "abstain" if cls.abstained else classes[cls.prediction],
                     "votes": f"{stage_cls.k:,} / {cls.n:,}", "p̲_A": cls.p_a_lower})
    if not teaching:
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={"α": st.column_config.NumberColumn(format="%g"),
                                    "p̲_A": st.column_config.NumberColumn(format="%.4f")})
        st.caption(f"α split: each stage runs CERTIFY at α/2 = {sel.alpha:g} (one-sided "
                   "Clopper–Pearson), so by the union bound both stage certificates hold "
                   f"together with probability ≥ 1 − α, α = {cert.alpha:g}.")

    col_sel, col_cls = st.columns(2, gap="medium")
    with col_sel:
        chart(votes_figure([words.entry(v) for v in cert.menu], sel.counts,
                           sel.selection_counts, stage_sel.selected, sel.n, sel.n0),
              key=f"cert_votes_{s.stage_tag}")
    col_sel.caption(f"Stage 1: {words.plain}'s votes per {words.unit}." if teaching else
                    f"Stage 1: the {words.selector}'s votes per {words.unit} (its classes are "
                    f"the {words.unit}s).")
    if cls is not None and stage_cls is not None:
        with col_cls:
            chart(votes_figure(classes, cls.counts, cls.selection_counts, stage_cls.selected,
                               cls.n, cls.n0), key="cert_votes")
        col_cls.caption(f"Stage 2: votes of {expert} smoothed with Gaussian noise "
                        f"{expert_noise(cls)}.")
    if cert.target == "routing" and not sel.abstained:
        configuration_maps(s.selection_model, choice)
    if not cert.abstained:
        human_scale(result.pixels, cert.radius, cert.norm, "cert_scale")
        follow_links(result)

    if not cert.abstained:
        st.markdown(f"**Certified radius** — ℓ2: `{fmt(cert.radius, 3)}` "
                    f"{kind_badge(cert.kind)}")
        radii_table(cert)
        if isinstance(cert, RouteCertificate):
            route_alm(cert)
    st.markdown(f"Soundness: {soundness_badge(cert.soundness)} " + (
        f"The guarantee holds for the classifier as deployed ({words.plain} and the "
        f"classifiers it chooses from, together), with probability ≥ 1 − {cert.alpha:g}."
        if teaching else cert.note))
    if isinstance(s, RoutingSettings) and isinstance(cert, RouteCertificate):
        with st.expander("The certificate in words (as `ucan certify --route` prints it)"):
            st.code("\n".join(describe_route(s, cert)), language=None)
    certificate_downloads(f"certificate-{cert.target}-{s.selection_model}-{result.key[:8]}",
                          two_stage_json(result), two_stage_row(result, classes))
    st.caption(
        f"{s.title} · {s.image_key.split(':', 1)[0]} image {s.image_key.split(':')[1][:16]} · "
        f"n0 = {s.n0:,} · n = {s.n:,} per stage · α = {cert.alpha:g} · batch "
        f"{s.batch_size:,} · seed {s.seed} · {s.device} · {result.elapsed:.2f} s, "
        f"{fmt_rate(result.samples_per_s)} samples/s")
    audit_section(result, classes, audits, job_key)


def configuration_maps(selector_id: str, config: str) -> None:
    """The σ and μ maps of the menu configuration that the selector chose."""
    entry = menu_entry(selector_id, config)
    st.markdown(f"**Selected configuration: {config}** · {entry['source']} · model "
                f"{entry['model']} · σ = {entry['sigma']:g} · s ∈ [{entry['scale_min']:.3g}, "
                f"{entry['scale_max']:.3g}]")
    std_map, shift = route_maps(selector_id, config)
    col_sigma, col_mu = st.columns(2, gap="medium")
    with col_sigma:
        chart(sigma_map_figure(std_map), key="cert_route_sigma")
    with col_mu:
        chart(mu_map_figure(shift), key="cert_route_mu")
    st.caption("The noise of this configuration: μ + s ⊙ N(0, σ²I), per-pixel level sᵢ·σ. The "
               "maps are fixed (the same for every input), so the certificate is sound for "
               "the deployed router.")


def route_alm(cert: RouteCertificate) -> None:
    """The routing certificate's ALM (certified) and min(R_sel, ALM) (an upper bound only)."""
    upper = ALM_UPPER_KIND
    a1, a2, a3 = st.columns(3)
    reading_metric(a1, "Certified ALM", cert.alm, delta="certified, a size",
                   delta_color="blue", delta_arrow="off",
                   help="(∏ᵢ min(sᵢ·R, R_sel))^(1/d): the size of an ellipsoid inside the "
                        "certified set S. A size (the radius of the isotropic set of equal "
                        "volume), not a radius.")
    reading_metric(a2, "ALM of the configuration", cert.alm_c,
                   help="(∏sᵢ)^(1/d)·R: the chosen configuration's own ALM, without R_sel.")
    reading_metric(a3, "min(R_sel, ALM)", cert.alm_upper, delta=upper, delta_color="orange",
                   delta_arrow="off",
                   help="S lies inside both the ball of radius R_sel and the configuration's "
                        "region, so its size is at most the smaller of the two sizes. Not a "
                        "certified quantity.")
    st.markdown(
        f"Certified ALM = `{fmt(cert.alm, 3)}` {kind_badge('sound')} :gray-badge[size of "
        f"an ellipsoid inside the certified set, not a radius]  \n"
        f"min(R_sel, ALM) = min({fmt(cert.r_sel, 3)}, {fmt(cert.alm_c, 3)}) = "
        f"`{fmt(cert.alm_upper, 3)}` "
        f":orange-badge[{upper}]")
    st.caption("The router keeps its class on S = B₂(R_sel) ∩ {‖δ/s‖₂ ≤ R}. The size of S "
               "lies between the certified ALM and min(R_sel, ALM).")
