"""Learn page: CERTIFY in slow motion (n = 10, 100, 1,000, then the final n) with a bundled
isotropic model on a bundled image, and what one stage's numbers are."""

from __future__ import annotations

import streamlit as st
import torch

from app.cached.certify import p_a_summary
from app.cached.images import bundled_model_input
from app.cached.models import model_on, noise_source
from app.cached.noise import build
from app.choices import NoiseChoice
from app.figures.learn import Stage
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.certify.stats import clopper_pearson_lower
from ucan_core.zoo.bundled import model_card

#: The slow-motion stages before the final n.
STAGES = (10, 100, 1000)
LEARN_N0 = 100
LEARN_BATCH = 1000


def stage_sizes(final_n: int) -> list[int]:
    """n = 10 → 100 → 1,000 → final_n (stages at or above final_n dropped)."""
    return [n for n in STAGES if n < final_n] + [final_n]


@st.cache_data(show_spinner=False, max_entries=16)
def walkthrough(model_id: str, image_id: str, final_n: int, alpha: float,
                seed: int) -> list[Certificate]:
    """CERTIFY with a bundled isotropic model on a bundled image, once per stage size
    (n0 = min(100, n), same seed): the certificates of the slow-motion Monte Carlo."""
    card = model_card(model_id)
    arch = card.architecture
    x = torch.from_numpy(bundled_model_input(image_id, arch.input_shape).pixels)
    noise = noise_source(model_id, NoiseChoice.of_card(card)).at(x)
    classifier = SmoothedClassifier(model_on(model_id, "cpu"), noise, arch.num_classes)
    return [classifier.certify(x, min(LEARN_N0, n), n, alpha, LEARN_BATCH, seed)
            for n in stage_sizes(final_n)]


def stage_of(cert: Certificate) -> Stage:
    """The numbers of one walk-through certificate (p_A interval from the engine)."""
    summary = p_a_summary(cert)
    return Stage(n=cert.n, n0=cert.n0, counts=tuple(cert.counts), selected=summary.selected,
                 k=summary.k, p_hat=summary.p_hat, lower=cert.p_a_lower, ci_low=summary.ci_low,
                 ci_high=summary.ci_high, radius=cert.radius, abstained=cert.abstained)


def radius_cap(choice: NoiseChoice, n: int, alpha: float) -> tuple[float, float]:
    """The largest p̲_A that n samples can give (all n votes for ĉ_A) and its radius in the
    noise's native norm: the cap on what CERTIFY can certify at this n."""
    p_lower = clopper_pearson_lower(n, n, alpha)
    return p_lower, build(choice).radius(p_lower).value
