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
    p_a_summary,
    radius_perturbation,
)
from app.cached.images import bundled_catalog
from app.cached.models import classes_of
from app.cached.noise import noise_maps
from app.choices import CERTIFY_NPG_OPTIONS, NPG_OPTIONS, CertifySettings, TwoStageSettings
from app.figures.common import csv_text, fmt, kind_badge, norm_symbol
from app.figures.formulas import fill_formula
from app.figures.scale import budget_figure, perturbation_png, scale_words
from app.figures.votes import p_a_interval_figure, votes_figure
from app.jobs import AuditOutcome, CertifyResult
from app.panels.audit import audit_section
from app.widgets.output import chart, downloads, escape_markdown, soundness_badge
from ucan_core.certify.certificate import FIXED_BOUND, Certificate
from ucan_core.two_stage.engine import TwoStageCertificate
from ucan_core.zoo.bundled import list_images, model_card

Settings = CertifySettings | TwoStageSettings
#: Session-state key of the Certify page's result cache (result key → CertifyResult).
CERTIFY_CACHE = "certify_cache"


def bundled_id(image_key: str) -> str | None:
    """The bundled image id of a certificate's image key (None: an upload or inverted)."""
    kind, _, rest = image_key.partition(":")
    return rest if kind == "bundled" and ":" not in rest and rest in list_images() else None


def share_params(s: CertifySettings) -> dict[str, str] | None:
    """URL values that reproduce the standard certificate of ``s`` on the Certify page
    (settings and seed), or None when its image is an upload (not in a URL)."""
    image_id = bundled_id(s.image_key)
    if image_id is None:
        return None
    params = state.certify_params(s.model_id, image_id, n0=s.n0, n=s.n, alpha=s.alpha,
                                  seed=s.seed)
    params[f"cert_npg_{s.model_id}"] = CERTIFY_NPG_OPTIONS[s.noise.npg]
    if s.noise.npg.startswith("pattern"):
        params.update(cert_kappa=state.url_number(s.noise.kappa),
                      cert_iota=state.url_number(s.noise.iota))
    if s.noise.sigma != float(model_card(s.model_id).noise["sigma"]):
        params.update({"cert_override": "true",
                       f"cert_sigma_{s.model_id}": state.url_number(s.noise.sigma)})
    return params


def region_params(result: CertifyResult) -> dict[str, str] | None:
    """URL values that open the Region page on ``result``'s certificate: the same image,
    noise, NPG and norm, p_A = its p̲_A (full precision), pixels A and B where σ is largest,
    and the certificate's key; None when the Region page cannot show it (an upload, a learned
    NPG, Dual RS or routing)."""
    s, cert = result.settings, result.certificate
    if not isinstance(s, CertifySettings) or s.noise.npg not in NPG_OPTIONS:
        return None
    image_id = bundled_id(s.image_key)
    if image_id is None:
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
    assert isinstance(s, CertifySettings)
    st.markdown("##### Follow this certificate")
    left, middle, right = st.columns([1.5, 1.3, 1])
    region = region_params(result)
    if region is not None:
        left.page_link("views/region.py", label="Open its certified region",
                       icon=":material/hexagon:", query_params=region)
    else:
        left.caption("Its region: the Region page draws fixed NPGs of bundled images only.")
    middle.markdown("[Attack it: the audit below ↓](#attack-audit)")
    image_id = bundled_id(s.image_key)
    if image_id is not None:
        right.page_link("views/learn.py", label="Learn on it", icon=":material/school:",
                        query_params={"learn_model": s.model_id,
                                      "learn_image": dict(bundled_catalog()[
                                          list_images()[image_id].dataset])[image_id]})
    params = share_params(s)
    if params is None:
        st.caption("An uploaded image is not part of a link: download the JSON to keep this "
                   "certificate.")
        return
    base = str(st.context.url or "").split("?", 1)[0]
    st.caption("Share it: this link reproduces the certificate (same settings and seed).")
    st.code(f"{base}?{urlencode(params)}", language=None, wrap_lines=True)


def certificate_banner(cache: Mapping[str, CertifyResult], cert_key: str | None,
                       p_a: float) -> None:
    """On the Region page: which certificate it was opened from (``cert_key``, looked up in
    this session's ``cache``), with its p̲_A and radius."""
    if not cert_key:
        return
    result = cache.get(cert_key)
    if result is None:
        st.info(f"Opened from a certificate's link: p_A = {p_a:.6f} is its p̲_A. The "
                "certificate itself is not in this session (certify it on the Certify page).")
        return
    cert, s = result.certificate, result.settings
    image = escape_markdown(s.image_key.split(":", 1)[1])
    st.info(f"**The certificate of {escape_markdown(s.model_id)} on {image}**: "
            f"p̲_A = {cert.p_a_lower:.6f}, certified radius R = {cert.radius:.4f} "
            f"({norm_symbol(cert.norm)}, {cert.kind}). p_A below is that p̲_A"
            + ("" if abs(p_a - cert.p_a_lower) < 1e-12 else
               f" — now changed to {p_a:.6f}, so the region below is not the certificate's")
            + ".")
    params = share_params(s) if isinstance(s, CertifySettings) else None
    if params is not None:
        st.page_link("views/certify.py", label="Back to this certificate and its audit",
                     icon=":material/verified:", query_params=params)


def human_scale(pixels: np.ndarray, radius: float, norm: str, key: str) -> None:
    """What ``radius`` means at a human scale: per pixel in grey levels, against common attack
    budgets, and the image moved by a δ of exactly that norm."""
    st.markdown(f"**What R = {radius:.4g} means** (pixel units, images in [0, 1])")
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
                       f"engine to {norm_symbol(norm)} norm exactly R = {radius:.4g} (shown "
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
                     column_config={"radius": st.column_config.NumberColumn(format="%.6g")})


def certificate_downloads(stem: str, json_text: str, row: dict) -> None:
    """JSON and CSV download buttons for the shown certificate."""
    downloads([("Download JSON", json_text, f"{stem}.json"),
                       ("Download CSV", csv_text([row]), f"{stem}.csv")],
                      key="cert_dl", what="the certificate and the settings that produced it")


def bound_words(result: CertifyResult) -> str:
    """How p̲_A was bounded: Clopper–Pearson at the fixed n, or the anytime-valid confidence
    sequence after the estimation samples it used, of at most the settings' n, and why it
    stopped there."""
    cert, s = result.certificate, result.settings
    if cert.bound == FIXED_BOUND:
        return f"one-sided Clopper–Pearson at α = {cert.alpha:g}, fixed n"
    why = ("stopped by you" if result.stopped else "ran to n_max" if cert.samples_used >= s.n
           else "stopped at the target radius (reached or ruled out)")
    return (f"anytime-valid confidence sequence at α = {cert.alpha:g}: samples used "
            f"{cert.samples_used:,} of n_max = {s.n:,}, {why}")


def show_result(result: CertifyResult, status: str, current: Settings,
                audits: dict[str, AuditOutcome], job_key: str) -> None:
    """A standard certificate: votes, p_A, radii, soundness, downloads and the audit (its
    outcomes in ``audits``, its job in session state ``job_key``); ``status`` and ``current``
    as for :func:`status_line`."""
    cert, s = result.certificate, result.settings
    assert isinstance(s, CertifySettings) and isinstance(cert, Certificate)
    classes = classes_of(s.model_id, len(cert.counts))
    summary = p_a_summary(cert)
    norm = norm_symbol(cert.norm)
    status_line(result, status, current)
    name = "abstain" if cert.abstained else classes[cert.prediction]
    m1, m2, m3, m4 = st.columns([1.1, 1.3, 1.3, 0.9])
    m1.metric("Prediction", name)
    m2.metric("p̲_A (lower bound)", f"{cert.p_a_lower:.6f}")
    m3.metric(f"Certified radius ({norm})", f"{cert.radius:.6g}")
    m4.metric("Elapsed", f"{result.elapsed:.1f} s",
              help="Wall time of the run: n0 selection plus n estimation samples.")
    m4.caption(f"{result.samples_per_s:,.0f} samples/s on {s.device}")
    if cert.abstained:
        st.warning(f"Abstain: p̲_A = {cert.p_a_lower:.4f} ≤ ½, so the smoothed classifier "
                   f"makes no certified prediction (selected class {classes[summary.selected]} "
                   f"got {summary.k:,} of {summary.n:,} votes).")
    else:
        st.markdown(f"**Prediction: {name}**, certified in {norm} up to radius "
                    f"**{cert.radius:.6g}** {kind_badge(cert.kind)} "
                    f"(pixel units, images in [0, 1]).")
    if cert.bound != FIXED_BOUND:
        st.markdown(f":blue-badge[anytime-valid] Bound: {bound_words(result)}.")

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
        st.markdown(
            f"p̂_A = {summary.k:,}/{cert.n:,} = `{summary.p_hat:.6f}` (empirical)  \n"
            f"p̲_A = `{cert.p_a_lower:.6f}` ({bound_words(result)}, **used**)  \n"
            f"{(1 - cert.alpha) * 100:.6g}% interval: [`{summary.ci_low:.6f}`, "
            f"`{summary.ci_high:.6f}`] (two-sided, display only)")

    if cert.abstained:
        st.markdown("**Certified radius**: none, the smoothed classifier abstains "
                    "(every radius is 0 at p̲_A ≤ ½).")
    else:
        st.markdown(f"**Certified radius** — native norm {norm}: `{cert.radius:.6g}` "
                    f"{kind_badge(cert.kind)}")
        radii_table(cert)
    if "scale_min" in cert.noise and not cert.abstained:
        gmean = cert.noise["scale_geomean"]
        assert result.noise is not None
        base = result.noise.base.radius(cert.p_a_lower, cert.norm).value
        st.markdown(
            f"ALM ({norm}) = `{cert.alm:.6g}` :gray-badge[size of the certified region, not a "
            f"radius]  \n`ALM = (∏sᵢ)^(1/d)·R = {fmt(gmean, 6)} · "
            f"{fmt(base, 6)} = {fmt(cert.alm, 6)}`")
        st.caption("The anisotropic noise certifies {δ : ‖δ/s‖_p ≤ R}. Its ℓp radius "
                   "min sᵢ·R is the largest ball inside that region; the ALM is the radius of "
                   "the isotropic region of equal volume, a size measure only.")
    st.markdown(f"Soundness: {soundness_badge(cert.soundness)} {cert.note}")
    if not cert.abstained:
        formula = cert.radii[cert.norm].formula if cert.norm in cert.radii else None
        if formula:
            st.markdown("  \n".join(fill_formula(
                formula, formula_values(cert), cert.radius, cert.kind, cert.norm,
                digits=6)))
            st.caption("p_A in the formula is the lower bound p̲_A; Φ⁻¹ is the standard "
                       "normal quantile.")

    if not cert.abstained:
        human_scale(result.pixels, cert.radius, cert.norm, "cert_scale")
        follow_links(result)
    certificate_downloads(f"certificate-{s.model_id}-{result.key[:8]}", certificate_json(cert),
                          certificate_row(result, classes))
    st.caption(
        f"{s.model_id} · {s.image_key.split(':', 1)[0]} image "
        f"{s.image_key.split(':')[1][:16]} · {cert.noise.get('title')} σ = "
        f"{cert.noise.get('sigma'):g} · {CERTIFY_NPG_OPTIONS.get(s.noise.npg, s.noise.npg)} · "
        f"n0 = {cert.n0:,} · n = {cert.n:,} · α = {cert.alpha:g} · batch {s.batch_size:,} · "
        f"seed {s.seed} · {s.device} · {result.elapsed:.2f} s, "
        f"{result.samples_per_s:,.0f} samples/s")
    audit_section(result, classes, audits, job_key)
