"""A standard certificate as the Certify page shows it: the status of the result, votes, p_A
and its interval, the radii with their kinds and filled formulas, the ALM of an anisotropic
noise, soundness, downloads and the attack audit."""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from app import state
from app.cached.certify import (
    certificate_json,
    certificate_row,
    formula_values,
    menu_label,
    p_a_summary,
    radius_perturbation,
)
from app.cached.images import bundled_catalog, dataset_title
from app.cached.models import classes_of, estimator_cards, model_cards, pixel_units
from app.cached.noise import noise_maps
from app.choices import (
    CERTIFY_NPG_OPTIONS,
    MODES,
    NPG_OPTIONS,
    CertifySettings,
    DualSettings,
    RoutingSettings,
    TwoStageSettings,
)
from app.figures.common import csv_text, fmt, fmt_p, fmt_rate, kind_badge, norm_symbol
from app.figures.formulas import fill_formula
from app.figures.scale import budget_figure, perturbation_png, scale_words
from app.figures.votes import p_a_interval_figure, votes_figure
from app.jobs import AuditOutcome, CertifyResult
from app.panels.audit import audit_section
from app.widgets.glossary import label, tooltip
from app.widgets.output import (
    chart,
    downloads,
    escape_markdown,
    reading_metric,
    soundness_badge,
    text_metric,
)
from ucan_core.certify.certificate import FIXED_BOUND, Certificate
from ucan_core.two_stage.engine import TwoStageCertificate
from ucan_core.zoo.bundled import list_images
from ucan_core.zoo.cards import ModelCard

Settings = CertifySettings | TwoStageSettings
#: Session-state key of the Certify page's result cache (result key → CertifyResult).
CERTIFY_CACHE = "certify_cache"


def bundled_id(image_key: str) -> str | None:
    """The bundled image id of a certificate's image key (None: an upload or inverted)."""
    kind, _, rest = image_key.partition(":")
    return rest if kind == "bundled" and ":" not in rest and rest in list_images() else None


def share_params(s: Settings) -> dict[str, str] | None:
    """URL values that reproduce the standard or Dual RS certificate of ``s`` on the Certify
    page (settings and seed), or None when its image is an upload (not in a URL) or it is a
    routing one."""
    image_id = bundled_id(s.image_key)
    if image_id is None or isinstance(s, RoutingSettings):
        return None
    sampling = {"n0": s.n0, "n": s.n, "alpha": s.alpha, "seed": s.seed}
    if isinstance(s, DualSettings):
        dataset = list_images()[image_id].dataset
        params = {"cert_mode": MODES["dual"], "cert_estimator": s.estimator_id,
                  "cert_source": "Bundled", "cert_dataset": dataset_title(dataset),
                  f"cert_image_{dataset}": dict(bundled_catalog()[dataset])[image_id],
                  **{f"cert_{k}": state.url_number(v) for k, v in sampling.items()}}
        levels = estimator_cards()[s.estimator_id].levels
        params.update({f"cert_expert_{level:g}": expert
                       for level, expert in zip(levels, s.expert_ids)})
        return params
    assert isinstance(s, CertifySettings)
    params = state.certify_noise_params(s.model_id, image_id, s.noise, **sampling)
    if s.sequential:
        params["cert_sequential"] = "true"
        if s.target_radius:
            params["cert_target"] = state.url_number(s.target_radius)
    return params


def region_params(result: CertifyResult) -> dict[str, str] | None:
    """URL values that open the Region page on ``result``'s certificate: the same image,
    noise, NPG and norm, p_A = its p̲_A (full precision), pixels A and B where σ is largest,
    and the certificate's key; for Dual RS the expert's isotropic Gaussian noise at the
    selected level and its p̲_A. None when the Region page cannot show it (an upload, a
    learned NPG, routing)."""
    s, cert = result.settings, result.certificate
    image_id = bundled_id(s.image_key)
    if image_id is None:
        return None
    if isinstance(cert, TwoStageCertificate):
        cls = cert.classification
        if not isinstance(s, DualSettings) or cls is None:
            return None
        return {**state.image_params("rg_", image_id),
                **state.noise_params("rg_", "gaussian", float(cls.noise["sigma"]), "2"),
                "rg_p_a": state.url_number(cert.p_a_lower_c), state.REGION_CERT_KEY: result.key}
    if not isinstance(s, CertifySettings) or s.noise.npg not in NPG_OPTIONS:
        return None
    noise = s.noise
    pattern = noise.npg != "isotropic"
    params = {**state.image_params("rg_", image_id),
              **state.noise_params("rg_", noise.density, noise.sigma, cert.norm, noise.npg,
                                   noise.kappa if pattern else None,
                                   noise.iota if pattern else None),
              "rg_p_a": state.url_number(cert.p_a_lower), state.REGION_CERT_KEY: result.key}
    params.update({f"rg_param_{noise.density}_{k}": state.url_number(v) for k, v in noise.params})
    if pattern:
        std_map = noise_maps(noise)[0]
        _, h, w = std_map.shape
        for name, flat in zip("AB", np.argsort(-std_map.ravel(), kind="stable")[:2]):
            channel, row, col = np.unravel_index(int(flat), std_map.shape)
            params.update({f"rg_{name}_row_{h}": str(row), f"rg_{name}_col_{w}": str(col)})
            if std_map.shape[0] > 1:
                params[f"rg_{name}_channel"] = ("red", "green", "blue")[int(channel)]
    return params


def follow_links(result: CertifyResult) -> None:
    """Where to follow this certificate: its region, its audit (below) and Learn on it, and the
    link that reproduces it."""
    s = result.settings
    st.markdown("##### Follow this certificate")
    left, middle, right = st.columns([1.5, 1.3, 1])
    region = region_params(result)
    if region is not None:
        left.page_link("views/region.py", label="Open its certified region",
                       icon=":material/hexagon:", query_params=region)
    else:
        left.caption("Its region: the Region page draws fixed NPGs and Dual RS's chosen level "
                     "of bundled images only.")
    middle.markdown("[Attack it: the audit below ↓](#attack-audit)")
    image_id = bundled_id(s.image_key)
    if image_id is not None and isinstance(s, CertifySettings):
        right.page_link("views/learn.py", label="Learn on it", icon=":material/school:",
                        query_params={"learn_model": s.model_id,
                                      "learn_image": dict(bundled_catalog()[
                                          list_images()[image_id].dataset])[image_id]})
    params = share_params(s)
    if params is None:
        st.caption("Only a standard or Dual RS certificate of a bundled image is part of a "
                   "link: download the JSON to keep this certificate.")
        return
    base = str(st.context.url or "").split("?", 1)[0]
    cert = result.certificate
    used = cert.samples_used if isinstance(cert, Certificate) else s.n
    if used < s.n:  # an anytime-valid run that stopped early: the same run to that count
        params["cert_n"] = str(used)
    st.caption("Share it: this link reproduces the certificate (same settings and seed"
               + ("; an anytime-valid run to the samples this one used" if used < s.n else "")
               + ").")
    st.code(f"{base}?{urlencode(params)}", language=None, wrap_lines=True)


def certificate_banner(cache: Mapping[str, CertifyResult], cert_key: str | None,
                       p_a: float) -> None:
    """On the Region page: which certificate it was opened from (``cert_key``, looked up in
    this session's ``cache``), with its p̲_A and radius (for Dual RS: the expert's, and the
    certified min(R_σ, R_c))."""
    if not cert_key:
        return
    result = cache.get(cert_key)
    if result is None:
        st.info(f"Opened from a certificate's link: p_A = {fmt_p(p_a)} is its p̲_A. The "
                "certificate itself is not in this session (certify it on the Certify page).")
        return
    cert, s = result.certificate, result.settings
    image = escape_markdown(s.image_key.split(":", 1)[1])
    if isinstance(cert, TwoStageCertificate):
        own = cert.p_a_lower_c
        text = (f"**The Dual RS certificate of {escape_markdown(s.selection_model)} on "
                f"{image}**: the σ-estimator chose σ = {menu_label(cert.selected)} (its radius "
                f"R_σ = {fmt(cert.r_sel, 3)}); that level's expert has p̲_A = {fmt_p(own)}, "
                f"radius R_c = {fmt(cert.r_c, 3)}. Certified radius R = min(R_σ, R_c) = "
                f"{fmt(cert.radius, 3)} (ℓ2, {cert.kind}). Drawn below: the expert's isotropic "
                "Gaussian noise at p_A = its p̲_A, so the ball is R_c's"
                + (f"; the certificate covers the smaller ball of radius R = "
                   f"{fmt(cert.radius, 3)}" if cert.radius < cert.r_c else
                   ", the certified ball itself"))
    else:
        own = cert.p_a_lower
        text = (f"**The certificate of {escape_markdown(s.model_id)} on {image}**: "
                f"p̲_A = {fmt_p(own)}, certified radius R = {fmt(cert.radius, 3)} "
                f"({norm_symbol(cert.norm)}, {cert.kind}). p_A below is that p̲_A")
    st.info(text + ("" if abs(p_a - own) < 1e-12 else
                    f" — now changed to {fmt_p(p_a)}, so the region below is not the "
                    "certificate's") + ".")
    params = share_params(s)
    if params is not None:
        st.page_link("views/certify.py", label="Back to this certificate and its audit",
                     icon=":material/verified:", query_params=params)


def human_scale(pixels: np.ndarray, radius: float, norm: str, key: str,
                card: ModelCard | None = None) -> None:
    """What ``radius`` means at a human scale: per pixel in grey levels, against common attack
    budgets, and the image moved by a δ of exactly that norm (in the pixel units of the model
    of ``card``, if one)."""
    st.markdown(f"**What R = {fmt(radius, 3)} means** ({pixel_units(card)})")
    left, right = st.columns([1.2, 1], gap="medium")
    with left:
        st.markdown("\n".join(f"- {line}" for line in scale_words(radius, norm, pixels.size)))
        chart(budget_figure(radius, norm), key=f"{key}_budgets",
              config={"displayModeBar": False})
    with right:
        if radius > 0:
            delta = radius_perturbation(pixels, radius, norm)
            st.image(perturbation_png(pixels, delta), width="stretch")
            st.caption(f"x, x + δ and δ (amplified): δ is a random direction scaled by the "
                       f"engine to {norm_symbol(norm)} norm exactly R = {fmt(radius, 3)} (shown "
                       "clipped to [0, 1]). Every such image keeps the certified class.")


def status_line(result: CertifyResult, status: str, current: Settings) -> None:
    """Whether ``result`` is fresh (the last run, for the ``current`` settings), cached (for
    them, from this session's cache) or stale (for other settings: which changed)."""
    if status == "fresh":
        st.markdown(":green-badge[fresh] Computed by the last run for the current settings.")
    elif status == "cached":
        ago = time.time() - result.finished_at
        st.markdown(f":violet-badge[cached] Result for the current settings, computed "
                    f"{ago:.0f} s ago and taken from this session's cache (no new sampling).")
    else:
        changed = ", ".join(current.differences(result.settings)) or "settings"
        st.markdown(f":orange-badge[stale] Settings changed since this result ({changed}). "
                    "Press **Certify** to update; shown below: the last result.")


def radii_table(cert: Certificate | TwoStageCertificate) -> None:
    """The ℓ1/ℓ2/ℓ∞ radii of a certificate with their kinds and formulas."""
    if cert.radii:
        rows = [{"norm": norm_symbol(q), "radius": r.value, "kind": r.kind,
                 "formula": r.formula} for q, r in cert.radii.items()]
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={"radius": st.column_config.NumberColumn(
                         format="%.3g", help="Rounded for reading; full precision in the "
                                             "downloads.")})


def certificate_downloads(stem: str, json_text: str, row: dict) -> None:
    """JSON and CSV download buttons for the shown certificate."""
    downloads([("Download JSON", json_text, f"{stem}.json"),
                       ("Download CSV", csv_text([row]), f"{stem}.csv")],
                      key="cert_dl", what="the certificate and the settings that produced it")


def bound_words(result: CertifyResult) -> str:
    """How p̲_A was bounded: Clopper–Pearson at the fixed n, or the anytime-valid confidence
    sequence (:func:`stop_words` says where it stopped)."""
    cert = result.certificate
    if cert.bound == FIXED_BOUND:
        return f"one-sided Clopper–Pearson at α = {cert.alpha:g}, fixed n"
    return f"anytime-valid confidence sequence at α = {cert.alpha:g}"


def stop_words(result: CertifyResult) -> str:
    """Where an anytime-valid run stopped: the samples it used of n_max and why."""
    cert, s = result.certificate, result.settings
    why = ("stopped by you" if result.stopped else "ran to n_max" if cert.samples_used >= s.n
           else "stopped at the target radius (reached or ruled out)")
    return f"samples used {cert.samples_used:,} of n_max = {s.n:,}, {why}"


def show_result(result: CertifyResult, status: str, current: Settings,
                audits: dict[str, AuditOutcome], job_key: str) -> None:
    """A standard certificate: votes, p_A, radii, soundness, downloads and the audit (its
    outcomes in ``audits``, its job in session state ``job_key``); ``status`` and ``current``
    as for :func:`status_line`."""
    cert, s = result.certificate, result.settings
    assert isinstance(s, CertifySettings) and isinstance(cert, Certificate)
    classes = classes_of(s.model_id, len(cert.counts))
    card = model_cards().get(s.model_id)
    units = pixel_units(card)
    summary = p_a_summary(cert)
    norm = norm_symbol(cert.norm)
    status_line(result, status, current)
    name = "abstain" if cert.abstained else classes[cert.prediction]
    teaching = state.teaching_mode()
    m1, m2, m3, m4 = st.columns([1.1, 1.3, 1.3, 0.9])
    text_metric(m1, "Prediction", name, help=f"The certified class: {name}.")
    reading_metric(m2, label("p̲_A", "p̲_A (lower bound)"), cert.p_a_lower, probability=True,
                   help=tooltip("p̲_A", "Guaranteed share of the votes for the top class: the "
                                       f"lower bound on p_A ({bound_words(result)}), from which "
                                       "the radius is computed."))
    reading_metric(m3, label("R", f"Certified radius ({norm})"), cert.radius,
                   help=tooltip("R", f"A {cert.kind} {norm} radius in {units}."))
    reading_metric(m4, "Elapsed", result.elapsed, unit="s",
                   help="Wall time of the run in seconds: n0 selection plus n estimation "
                        "samples.")
    m4.caption(f"{fmt_rate(result.samples_per_s)} samples/s on {s.device}")
    if cert.abstained:
        st.warning(f"Abstain: p̲_A = {fmt_p(cert.p_a_lower)} ≤ ½, so the smoothed classifier "
                   f"makes no certified prediction (selected class {classes[summary.selected]} "
                   f"got {summary.k:,} of {summary.n:,} votes).")
    else:
        st.markdown(f"**Prediction: {name}**, certified in {norm} up to radius "
                    f"**{fmt(cert.radius, 3)}** {kind_badge(cert.kind)} "
                    f"({units}).")
    if cert.bound != FIXED_BOUND:
        st.markdown(f":blue-badge[anytime-valid] Bound: {bound_words(result)}: "
                    f"{stop_words(result)}.")

    col_votes, col_p = st.columns([1.2, 1], gap="medium")
    with col_votes:
        chart(votes_figure(classes, cert.counts, cert.selection_counts, summary.selected,
                           cert.n, cert.n0), key="cert_votes")
        selection = ", ".join(f"{classes[i]}: {v:,}" for i, v in
                              enumerate(cert.selection_counts) if v)
        st.caption(f"Selection votes (n0 = {cert.n0:,}): {selection}. Estimation votes for "
                   f"ĉ_A = {classes[summary.selected]}: {summary.k:,} of {cert.n:,}.")
    with col_p:
        chart(p_a_interval_figure(summary.p_hat, summary.lower, summary.ci_low,
                                  summary.ci_high, cert.alpha), key="cert_p_a")
        if teaching:
            st.markdown(f"{summary.k:,} of {cert.n:,} noisy copies voted "
                        f"{classes[summary.selected]} (a share of {fmt_p(summary.p_hat)}). "
                        f"Allowing for the luck of sampling, the true share is at least "
                        f"**{fmt_p(cert.p_a_lower)}**, with probability ≥ 1 − {cert.alpha:g}: "
                        "the radius is computed from that guaranteed share.")
        else:
            st.markdown(
                f"p̂_A = {summary.k:,}/{cert.n:,} = `{fmt_p(summary.p_hat)}` (empirical)  \n"
                f"p̲_A = `{fmt_p(cert.p_a_lower)}` ({bound_words(result)}, **used**)  \n"
                f"{(1 - cert.alpha) * 100:.6g}% interval: [`{fmt_p(summary.ci_low)}`, "
                f"`{fmt_p(summary.ci_high)}`] (two-sided, display only; full precision in the "
                "downloads)")

    if cert.abstained:
        st.markdown("**Certified radius**: none, the smoothed classifier abstains "
                    "(every radius is 0 at p̲_A ≤ ½).")
    else:
        st.markdown(f"**Certified radius** — native norm {norm}: `{fmt(cert.radius, 3)}` "
                    f"{kind_badge(cert.kind)}")
        if not teaching:
            radii_table(cert)
    if "scale_min" in cert.noise and not cert.abstained and teaching:
        st.caption("The noise differs from pixel to pixel, so the certificate covers a region "
                   "stretched where the noise is large; the radius above is the largest ball "
                   "inside it (the Region page draws it).")
    elif "scale_min" in cert.noise and not cert.abstained:
        gmean = cert.noise["scale_geomean"]
        assert result.noise is not None
        base = result.noise.base.radius(cert.p_a_lower, cert.norm).value
        st.markdown(
            f"ALM ({norm}) = `{fmt(cert.alm, 3)}` :gray-badge[size of the certified region, not "
            f"a radius]  \n`ALM = (∏sᵢ)^(1/d)·R = {fmt(gmean, 4)} · "
            f"{fmt(base, 4)} = {fmt(cert.alm, 4)}`")
        st.caption("The anisotropic noise certifies {δ : ‖δ/s‖_p ≤ R}. Its ℓp radius "
                   "min sᵢ·R is the largest ball inside that region; the ALM is the radius of "
                   "the isotropic region of equal volume, a size measure only.")
    st.markdown(f"Soundness: {soundness_badge(cert.soundness)} {cert.note}")
    if not cert.abstained:
        formula = cert.radii[cert.norm].formula if cert.norm in cert.radii else None
        if formula:
            st.markdown("  \n".join(fill_formula(
                formula, formula_values(cert), cert.radius, cert.kind, cert.norm)))
            st.caption("p_A in the formula is the lower bound p̲_A; Φ⁻¹ is the standard "
                       "normal quantile.")

    if not cert.abstained:
        human_scale(result.pixels, cert.radius, cert.norm, "cert_scale", card)
        follow_links(result)
    certificate_downloads(f"certificate-{s.model_id}-{result.key[:8]}", certificate_json(cert),
                          certificate_row(result, classes))
    st.caption(
        f"{s.model_id} · {s.image_key.split(':', 1)[0]} image "
        f"{s.image_key.split(':')[1][:16]} · {cert.noise.get('title')} σ = "
        f"{cert.noise.get('sigma'):g} · {CERTIFY_NPG_OPTIONS.get(s.noise.npg, s.noise.npg)} · "
        f"n0 = {cert.n0:,} · n = {cert.n:,} · α = {cert.alpha:g} · batch {s.batch_size:,} · "
        f"seed {s.seed} · {s.device} · {result.elapsed:.2f} s, "
        f"{fmt_rate(result.samples_per_s)} samples/s")
    audit_section(result, classes, audits, job_key)
