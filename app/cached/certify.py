"""What a certificate shows and downloads, from the engine: the p_A summary of a stage
(``ucan_core.certify.stats``), the numbers of its radius formula, and its CSV row and JSON
(on ``ucan_core.io.records.record``, the engine's certificate serialiser; two-stage
certificates keep their log names)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st
import torch

from app.cached.images import bundled_model_input
from app.cached.models import classes_of, model_on, noise_source
from app.cached.noise import build, noisy_samples
from app.choices import NoiseChoice, TwoStageSettings
from ucan_core.audit.attack import project
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.planner import Plan, plan
from ucan_core.certify.seeds import make_rng
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.certify.stats import clopper_pearson_interval
from ucan_core.io.records import record
from ucan_core.norms import parse_norm
from ucan_core.two_stage.engine import TwoStageCertificate
from ucan_core.zoo.bundled import model_card

if TYPE_CHECKING:
    from app.jobs import CertifyResult


@dataclass(frozen=True)
class PASummary:
    """p_A of the selected class: counts, empirical frequency, the one-sided lower bound
    (used by the certificate) and the two-sided Clopper–Pearson interval at 1 − α (display)."""

    selected: int
    k: int
    n: int
    p_hat: float
    lower: float
    ci_low: float
    ci_high: float


def p_a_summary(cert: Certificate) -> PASummary:
    # ĉ_A as the engine selects it (argmax of the selection counts); the certificate's
    # prediction is −1 when it abstains, so it cannot be read from there.
    selected = int(np.argmax(np.asarray(cert.selection_counts)))
    k = int(cert.counts[selected])
    low, high = clopper_pearson_interval(k, cert.n, cert.alpha)
    return PASummary(selected, k, cert.n, k / cert.n, cert.p_a_lower, low, high)


def formula_values(cert: Certificate) -> dict[str, float]:
    """Symbols of the radius formula (σ, λ, d, p_A, parameters, min_i s_i) → numbers."""
    noise = cert.noise
    table: dict[str, float] = {"σ": float(noise["sigma"]), "λ": float(noise["lambda"]),
                               "d": float(noise["dim"]), "p_A": float(cert.p_a_lower)}
    for key, value in (noise.get("params") or {}).items():
        if len(key) == 1:
            table[key] = float(value)
    if "scale_min" in noise:
        table["min_i s_i"] = float(noise["scale_min"])
    return table


def certificate_row(result: CertifyResult, classes: tuple[str, ...]) -> dict[str, Any]:
    """One flat CSV row for a certificate (its fields as the engine serialises them,
    :func:`~ucan_core.io.records.record`), its p_A summary and the settings that produced it."""
    cert, s = result.certificate, result.settings
    data, summary = record(cert), p_a_summary(cert)
    row: dict[str, Any] = {
        "model": s.model_id, "image": s.image_key, "device": s.device,
        "prediction": data["prediction"],
        "prediction_name": "abstain" if cert.abstained else classes[cert.prediction],
        "selected_class": summary.selected, "p_a_hat": summary.p_hat,
        "p_a_lower": data["p_a_lower"], "ci_low": summary.ci_low, "ci_high": summary.ci_high,
        "radius": data["radius"], "norm": data["norm"], "kind": data["kind"]}
    for norm, radius in data["radii"].items():
        row[f"radius_l{norm}"] = radius["value"]
        row[f"kind_l{norm}"] = radius["kind"]
    row.update({
        "alm": data["alm"], "soundness": data["soundness"], "noise": data["noise"].get("name"),
        "sigma": data["noise"].get("sigma"), "npg": s.noise.npg, "kappa": s.noise.kappa,
        "iota": s.noise.iota, "n0": data["n0"], "n": data["n"], "alpha": data["alpha"],
        "batch_size": s.batch_size, "seed": s.seed,
        "counts": " ".join(str(c) for c in data["counts"]),
        "selection_counts": " ".join(str(c) for c in data["selection_counts"]),
        "elapsed_s": round(result.elapsed, 4), "samples_per_s": round(result.samples_per_s, 1)})
    return row


#: What min(R_sel, ALM) of a routing certificate is: a size of the certified set at most.
ALM_UPPER_KIND = "upper bound, not certified"


def _log_name(cert: TwoStageCertificate, name: str) -> str:
    """The name the certificate's logs and JSON use for its field ``name``."""
    return cert.LOG_NAMES.get(name, name)


def selection_fields(cert: TwoStageCertificate) -> dict[str, Any]:
    """The selection stage's outcome of a Dual RS or routing certificate (and, where it has
    them, the ALMs), named as in the engine's certify logs."""
    data = record(cert)
    names = [_log_name(cert, name) for name in ("selected", "r_sel", "p_a_lower_sel")]
    names += [name for name in ("alm", "alm_c", "alm_upper") if name in data]
    fields = {name: data[name] for name in names}
    if "alm_upper" in fields:
        fields["alm_upper_kind"] = ALM_UPPER_KIND
    return fields


def menu_label(entry: Any) -> str:
    """A menu entry as text: a σ level (``0.25``) or a configuration's name."""
    return entry if isinstance(entry, str) else f"{entry:g}"


def menu_fields(cert: TwoStageCertificate) -> dict[str, Any]:
    """The selector's menu and smoothing noise of a Dual RS or routing certificate."""
    return {_log_name(cert, "menu"): " ".join(map(menu_label, cert.menu)),
            _log_name(cert, "sigma_sel"): cert.sigma_sel}


def two_stage_row(result: CertifyResult, classes: tuple[str, ...]) -> dict[str, Any]:
    """One flat CSV row for a Dual RS or routing certificate: both stages and the settings."""
    cert, s = result.certificate, result.settings
    assert isinstance(cert, TwoStageCertificate) and isinstance(s, TwoStageSettings)
    sel, cls, tag = cert.selection, cert.classification, s.stage_tag
    models = {k: " ".join(v) if isinstance(v, list) else v for k, v in s.models().items()}
    row: dict[str, Any] = {
        **models, "image": s.image_key, "device": s.device, "prediction": cert.prediction,
        "prediction_name": "abstain" if cert.abstained else classes[cert.prediction],
        **selection_fields(cert), "radius": cert.radius, "r_c": cert.r_c,
        "p_a_lower_c": cert.p_a_lower_c, "alpha": cert.alpha, f"alpha_{tag}": sel.alpha,
        "alpha_c": cls.alpha if cls is not None else None,
        "norm": cert.norm, "kind": cert.kind}
    for norm, radius in cert.radii.items():
        row[f"radius_l{norm}"] = radius.value
        row[f"kind_l{norm}"] = radius.kind
    row.update({
        "soundness": cert.soundness, "note": cert.note, **menu_fields(cert),
        "n0": s.n0, "n": s.n, "batch_size": s.batch_size, "seed": s.seed,
        f"counts_{tag}": " ".join(str(c) for c in sel.counts),
        "counts_c": " ".join(str(c) for c in cls.counts) if cls is not None else "",
        "elapsed_s": round(result.elapsed, 4), "samples_per_s": round(result.samples_per_s, 1)})
    return row


def two_stage_json(result: CertifyResult) -> str:
    """A Dual RS or routing certificate (both stages included) and its settings, as JSON."""
    cert, s = result.certificate, result.settings
    assert isinstance(cert, TwoStageCertificate) and isinstance(s, TwoStageSettings)
    return json.dumps(record(cert, **selection_fields(cert), **s.models(), image=s.image_key,
                             n0=s.n0, n=s.n, batch_size=s.batch_size, seed=s.seed,
                             device=s.device), indent=2, allow_nan=True)


def certificate_json(cert: Certificate) -> str:
    """A standard certificate as JSON (every field)."""
    return json.dumps(record(cert), indent=2, allow_nan=True)


# --------------------------------------------------------------------------------------------
# Engine calls behind the Start page, the human scale of a radius and the sample planner

#: The Start page's example: a bundled MNIST digit certified with a bundled model.
DEMO_MODEL, DEMO_IMAGE = "mnist-gaussian-0.25", "mnist-0000"
DEMO_N0, DEMO_N, DEMO_ALPHA, DEMO_SEED, DEMO_COPIES = 100, 2000, 0.001, 0, 8


@dataclass(frozen=True)
class Demo:
    """The Start page's certificate: the image, a few of its noisy copies, the certificate
    (votes, p̲_A, radius) and the class names."""

    pixels: np.ndarray
    copies: np.ndarray
    certificate: Certificate
    classes: tuple[str, ...]
    sigma: float


@st.cache_resource(show_spinner="Certifying the example digit…")
def demo_certificate() -> Demo:
    """CERTIFY of the bundled MNIST digit :data:`DEMO_IMAGE` with :data:`DEMO_MODEL` (once
    per server: every session shares it)."""
    card = model_card(DEMO_MODEL)
    shape = tuple(card.architecture.input_shape)
    pixels = bundled_model_input(DEMO_IMAGE, shape).pixels
    choice = NoiseChoice.of_card(card)
    x = torch.from_numpy(pixels)
    classifier = SmoothedClassifier(model_on(DEMO_MODEL, "cpu"),
                                    noise_source(DEMO_MODEL, choice, "cpu").at(x),
                                    card.architecture.num_classes)
    cert = classifier.certify(x, DEMO_N0, DEMO_N, DEMO_ALPHA, 1000, DEMO_SEED)
    copies = noisy_samples(choice, pixels, DEMO_COPIES, DEMO_SEED)
    return Demo(pixels, copies, cert, classes_of(DEMO_MODEL, len(cert.counts)), choice.sigma)


@st.cache_data(show_spinner=False, max_entries=32)
def radius_perturbation(pixels: np.ndarray, radius: float, norm: str, seed: int = 0) -> np.ndarray:
    """A δ of ``norm``-size exactly ``radius``: a seeded random direction put on the sphere
    by the engine's ℓp projection (``ucan_core.audit.attack.project``), shaped like ``pixels``."""
    rng = make_rng(seed, "cpu")
    u = torch.randn(1, int(np.prod(pixels.shape)), generator=rng, dtype=torch.float64)
    far = u * (1e3 * max(radius, 1e-9) / float(u.abs().min().clamp_min(1e-12)))
    return project(far, radius, parse_norm(norm)).reshape(pixels.shape).numpy()


@st.cache_data(show_spinner=False, max_entries=64)
def sample_plan(choice: NoiseChoice, alpha: float, n: int, target: float | None = None) -> Plan:
    """The engine's planner (``ucan_core.certify.planner.plan``) for the base noise of
    ``choice``: the largest radius n samples can certify at α, and the samples a ``target``
    radius needs (fixed n and anytime-valid)."""
    return plan(build(replace(choice, npg="isotropic")), alpha, n=n, target=target)
