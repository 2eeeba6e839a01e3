"""Learn page: CERTIFY in slow motion (n = 10, 100, 1,000, then the final n; for a photo
model 10, 30, then the final n) with a bundled isotropic model on a bundled image, what one
stage's numbers are, the Gaussian at x and at x + δ against the ½ threshold (Cohen et al.'s
Figure 1), and a simulation of peeking at Clopper–Pearson against the anytime-valid bound."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from app.cached.certify import p_a_summary
from app.cached.images import bundled_model_input
from app.cached.models import model_on, noise_source, quick_on_cpu, sampling_defaults
from app.cached.noise import build
from app.choices import NoiseChoice
from app.figures.learn import Stage
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.sequential import cs_lower, peeking_rates
from ucan_core.certify.smoothed import Progress, SmoothedClassifier
from ucan_core.certify.stats import clopper_pearson_lower
from ucan_core.noises.catalog import make_noise
from ucan_core.zoo.bundled import model_card
from ucan_core.zoo.cards import ModelCard

#: The default image: MNIST test digit #0018, a 3 that the default model (mnist-gaussian-0.25,
#: σ = 0.25) reads as 3 on about 75 % of the noisy copies and as 8 on the rest (k = 753 of
#: n = 1,000 at seed 0; p̲_A ≈ 0.71, R ≈ 0.14). Its votes are contested at small n, so the
#: bound and the radius visibly change with n; most digits are unanimous (p̂_A = 1).
DEFAULT_IMAGE = "mnist-0018"


@dataclass(frozen=True)
class WalkthroughPlan:
    """The walk-through's sampling for one model: the slow-motion ``stages`` before the final
    n, the final n it offers (``finals``, ``default`` first shown), the selection samples
    n0 = min(``n0``, n) of each stage, and the batch."""

    stages: tuple[int, ...]
    finals: tuple[int, ...]
    default: int
    n0: int
    batch: int

    def sizes(self, final_n: int) -> list[int]:
        """The stages' n: ``stages`` below ``final_n``, then ``final_n``."""
        return [n for n in self.stages if n < final_n] + [final_n]

    def samples(self, final_n: int) -> int:
        """All the samples the walk-through draws (selection and estimation, every stage)."""
        return sum(min(self.n0, n) + n for n in self.sizes(final_n))


#: The small models' plan (thousands of samples a second): n = 10 → 100 → 1,000 → final n.
SMALL_MODEL_PLAN = WalkthroughPlan((10, 100, 1000), (1_000, 10_000, 100_000), 10_000, 100, 1000)
#: The plan of a model that draws about a sample a second on a CPU (the denoised photo
#: models): n = 10 → 30 → final n of 100 (its Certify default), 300 or 1,000, with the n0 and
#: batch of its card.
SLOW_MODEL_STAGES, SLOW_MODEL_FINALS = (10, 30), (100, 300, 1_000)


def walkthrough_plan(card: ModelCard) -> WalkthroughPlan:
    """:data:`SMALL_MODEL_PLAN`, or for a model whose card says it would take longer than
    ``quick_on_cpu`` allows for that plan's smallest walk-through, the slow-model plan with
    the n0 and batch it is certified with (``sampling_defaults``)."""
    small = SMALL_MODEL_PLAN
    if quick_on_cpu(card, small.samples(min(small.finals))):
        return small
    sampling = sampling_defaults(card)
    return WalkthroughPlan(SLOW_MODEL_STAGES, SLOW_MODEL_FINALS, min(SLOW_MODEL_FINALS),
                           int(sampling["n0"]), int(sampling["batch"]))


def run_walkthrough(model_id: str, image_id: str, final_n: int, alpha: float, seed: int,
                    progress: Progress | None = None) -> list[Certificate]:
    """CERTIFY with a bundled isotropic model on a bundled image, once per stage of its
    :func:`walkthrough_plan` (n0 = min(plan n0, n), same seed): the certificates of the
    slow-motion Monte Carlo. ``progress(done, total)`` counts the samples of all stages (a
    background job's)."""
    card = model_card(model_id)
    arch, plan = card.architecture, walkthrough_plan(card)
    x = torch.from_numpy(bundled_model_input(image_id, arch.input_shape).pixels)
    noise = noise_source(model_id, NoiseChoice.of_card(card)).at(x)
    classifier = SmoothedClassifier(model_on(model_id, "cpu"), noise, arch.num_classes)
    total, before, certificates = plan.samples(final_n), 0, []
    for n in plan.sizes(final_n):
        n0 = min(plan.n0, n)
        step = None if progress is None else (
            lambda done, _, before=before: progress(before + done, total))
        certificates.append(classifier.certify(x, n0, n, alpha, plan.batch, seed, step))
        before += n0 + n
    return certificates


@st.cache_data(show_spinner=False, max_entries=16)
def walkthrough(model_id: str, image_id: str, final_n: int, alpha: float,
                seed: int) -> list[Certificate]:
    """:func:`run_walkthrough`, cached (the page runs it in the script for n ≤ 10,000)."""
    return run_walkthrough(model_id, image_id, final_n, alpha, seed)


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


@dataclass(frozen=True)
class ShiftView:
    """Cohen et al.'s Figure 1 in one dimension, along δ: the noise density at x and at
    x + δ, the worst-case boundary b (class A on the side of x, with mass p_A there) and
    the mass the shifted noise keeps on that side; it stays > ½ iff ‖δ‖₂ < R = b."""

    t: np.ndarray
    density_x: np.ndarray
    density_shifted: np.ndarray
    shift: float
    boundary: float
    p_a: float
    p_shifted: float
    radius: float


def shift_view(sigma: float, p_a: float, shift: float, points: int = 400) -> ShiftView:
    """The Gaussian (σ) marginal of the engine at x and shifted by ``shift`` = ‖δ‖₂, the
    boundary b with P_x(t ≤ b) = p_A, P_{x+δ}(t ≤ b), and the engine's ℓ2 radius R(p_A)."""
    noise = make_noise("gaussian", sigma, 1)
    marginal = noise.marginal()
    boundary = float(marginal.ppf(p_a))
    t = np.linspace(-4 * sigma, max(boundary, shift) + 4 * sigma, points)
    return ShiftView(t, marginal.pdf(t), marginal.pdf(t - shift), shift, boundary, p_a,
                     float(marginal.cdf(boundary - shift)), noise.radius(p_a, 2).value)


@dataclass(frozen=True)
class Peeking:
    """False-certificate rates of the first-time-it-certifies stopping rule over Bernoulli(p)
    streams looked at every ``looks[0]`` draws: by look n, for each bound."""

    p: float
    alpha: float
    streams: int
    looks: np.ndarray
    clopper_pearson: np.ndarray
    anytime: np.ndarray


@st.cache_data(show_spinner=False, max_entries=4)
def peeking(p: float = 0.7, alpha: float = 0.05, look_every: int = 10, n_max: int = 2000,
            streams: int = 4000, seed: int = 0) -> Peeking:
    """Simulate ``streams`` Bernoulli(p) vote streams (p plays the true p_A), look at each every
    ``look_every`` draws up to ``n_max`` and stop the first time the lower bound exceeds p (a
    false certificate: a radius beyond the true one): the share of streams so stopped by each
    look, for the engine's Clopper–Pearson bound (valid at one fixed n only) and its
    anytime-valid confidence sequence (valid at every n at once). Vectorised over streams."""
    looks, fixed = peeking_rates(clopper_pearson_lower, p, alpha, look_every, n_max, streams,
                                 seed)
    anytime = peeking_rates(cs_lower, p, alpha, look_every, n_max, streams, seed)[1]
    return Peeking(p, alpha, streams, looks, fixed, anytime)
