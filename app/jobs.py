"""Background jobs of the app, in one place: a certification (standard with fixed n or
anytime-valid with a Stop button, Dual RS, routing), an attack audit of a certificate and the
Region page's empirical check — what each runs in the engine, how it is started and its
outcome taken — and the session probe that stops the job of a closed browser tab. They run
on the server's one job queue (``app.workers``: BackgroundJob, JobQueue, polling).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app.cached.models import model_on, noise_source, quick_on_cpu, sampling_defaults, two_stage_on
from app.cached.noise import build
from app.choices import CertifySettings, RegionCheckSettings, TwoStageSettings
from app.workers import (  # noqa: F401 — the job machinery, re-exported for the pages
    JOB_FIRST_WAIT_S,
    JOB_POLL_S,
    LOG,
    QUEUE,
    SESSION_TIMEOUT_S,
    BackgroundJob,
    new_outcome,
    poll_interval,
    remember,
    session_timeout,
    start_job,
)
from ucan_core.audit.attack import AttackBudget
from ucan_core.audit.certificates import (
    AttackEvidence,
    AuditResult,
    RegionShape,
    TwoStageEvidence,
    attack_evidence,
    claimed_region,
    two_stage_evidence,
)
from ucan_core.audit.deployed import DeployedSmoothing
from ucan_core.audit.slice_check import SliceCheck, check_slice
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import Progress, SmoothedClassifier
from ucan_core.devices import resolve_device
from ucan_core.errors import UcanError
from ucan_core.noises.base import Noise
from ucan_core.two_stage.engine import SelectAndCertify, TwoStageCertificate
from ucan_core.zoo.bundled import model_card
from ucan_core.zoo.cards import ModelCard


def session_probe() -> Callable[[], bool]:
    """A check, safe to call from any thread, that the calling script's browser session is
    still connected (Streamlit's runtime); always True where there is no server session
    (AppTest, plain Python)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return lambda: True
    session_id = ctx.session_id

    def alive() -> bool:
        return not runtime.exists() or bool(runtime.get_instance().is_active_session(session_id))

    return alive


class CertifyJob(BackgroundJob):
    """One certification of one input ``x``: ``classifier.certify`` (standard with fixed n,
    Dual RS or routing), or for standard settings with ``sequential`` the anytime-valid
    ``certify_sequential`` up to n_max = ``settings.n``: ``live`` is then the certificate a
    stop would return now (after every round of samples) and :meth:`stop` ends the run with
    it, a valid certificate (Cancel still discards the run)."""

    def __init__(self, settings: CertifySettings | TwoStageSettings,
                 classifier: SmoothedClassifier | SelectAndCertify, x: torch.Tensor,
                 noise: Noise | None,
                 alive: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        s = settings
        self.sequential = isinstance(s, CertifySettings) and s.sequential
        self.stop_event = threading.Event()
        self.live: Certificate | None = None
        standard = isinstance(s, CertifySettings)

        def task(progress: Progress) -> Certificate | TwoStageCertificate:
            if self.sequential:
                assert isinstance(classifier, SmoothedClassifier)
                return self._sequential(classifier, x, progress)
            return classifier.certify(x, s.n0, s.n, s.alpha, s.batch_size, s.seed,
                                      overall_progress(progress, s.samples) if standard
                                      else progress)

        super().__init__(s.key(), s.samples, task, alive, timeout)
        self.settings = settings
        self.noise = noise
        self.pixels = x.numpy().copy()

    def _sequential(self, classifier: SmoothedClassifier, x: torch.Tensor,
                    progress: Progress) -> Certificate:
        s = self.settings
        assert isinstance(s, CertifySettings)
        cert = classifier.certify_sequential(
            x, s.n0, s.n, s.alpha, s.target_radius, s.batch_size, s.seed, progress,
            self.stop_event.is_set, self._watch)
        self.total = s.n0 + cert.samples_used   # what was drawn: the run may stop early
        return cert

    def _watch(self, cert: Certificate) -> None:
        self.live = cert

    def stop(self) -> None:
        """End a sequential run now with the certificate it has (``live``)."""
        self.stop_event.set()

    @property
    def stopped(self) -> bool:
        """A sequential run that was ended by :meth:`stop`."""
        return self.stop_event.is_set()


# --------------------------------------------------------------------------------------------
# Certification (Certify page)


def overall_progress(progress: Progress, total: int) -> Progress:
    """The engine counts the selection and the estimation samples of CERTIFY separately
    (``done`` restarts at 0 with its own total): report them as one count of ``total``, so
    that the progress bar and the ETA (from the run's mean rate) never jump back."""
    finished, last, stage = 0, 0, 0

    def report(done: int, stage_total: int) -> None:
        nonlocal finished, last, stage
        if stage_total != stage or last >= stage:   # a new stage has begun
            finished, stage = finished + last, stage_total
        last = done
        progress(min(finished + done, total), total)

    return report



def start_certify_job(settings: CertifySettings | TwoStageSettings, pixels: np.ndarray,
                      alive: Callable[[], bool] | None = None) -> CertifyJob:
    """Build the engine objects (errors raise UcanError here) and start the worker."""
    device = str(resolve_device(settings.device))
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    if isinstance(settings, TwoStageSettings):
        return CertifyJob(settings, two_stage_on(settings, device), x, None, alive).start()
    card = model_card(settings.model_id)
    noise = noise_source(settings.model_id, settings.noise, device).at(x)
    classifier = SmoothedClassifier(model_on(settings.model_id, device), noise,
                                    card.architecture.num_classes, device=device)
    return CertifyJob(settings, classifier, x, noise, alive).start()


@dataclass
class CertifyResult:
    """A finished certification (standard, Dual RS or routing) as the page caches it."""

    key: str
    settings: CertifySettings | TwoStageSettings
    certificate: Certificate | TwoStageCertificate
    noise: Noise | None  # None for two stages (one noise per menu entry)
    pixels: np.ndarray      # the certified input, for the audit
    elapsed: float          # wall time of the job, all stages
    samples_per_s: float
    finished_at: float      # time.time()
    stopped: bool = False   # a sequential run ended by its Stop button


def result_of(job: CertifyJob) -> CertifyResult:
    assert job.result is not None
    return CertifyResult(job.key, job.settings, job.result, job.noise, job.pixels, job.elapsed,
                         job.total / job.elapsed if job.elapsed > 0 else float("nan"),
                         time.time(), job.stopped)


# --------------------------------------------------------------------------------------------
# Attack audit of a standard, Dual RS or routing certificate, on demand (``ucan_core.audit``)

#: A small budget (seconds on a CPU for MNIST): PGD 2 × 10 steps on 16 draws, 4 random
#: boundary directions, 200 screening votes per candidate, 2,000 verification samples.
AUDIT_BUDGET = AttackBudget(steps=10, restarts=2, draws=16, directions=4, screen=200,
                            n_verify=2000)


class AuditJob(BackgroundJob):
    """The audit of one cached certificate (``target``: its result key) with ``budget``;
    ``done``/``total`` count the engine's units (PGD steps, screening, verifications) once
    it reports the first. Its result: an :class:`AttackEvidence` for a standard certificate,
    a :class:`TwoStageEvidence` for a two-stage one."""

    def __init__(self, key: str, target: str, budget: AttackBudget,
                 task: Callable[[Progress], AttackEvidence | TwoStageEvidence],
                 pixels: np.ndarray, alive: Callable[[], bool] | None = None) -> None:
        super().__init__(key, 1, task, alive)
        self.target = target
        self.budget = budget
        self.pixels = pixels


def audit_key(result_key: str, shape: RegionShape, budget: AttackBudget = AUDIT_BUDGET) -> str:
    """Cache key of an audit: the certificate's result key, the region and the budget."""
    text = json.dumps([result_key, shape, asdict(budget)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def start_audit_job(result: CertifyResult, shape: RegionShape,
                    budget: AttackBudget = AUDIT_BUDGET,
                    alive: Callable[[], bool] | None = None) -> AuditJob:
    """Attack ``result``'s certificate on the deployed classifier inside the region it claims
    and verify the worst candidate (:func:`audit_task`), with progress and Cancel."""
    return AuditJob(audit_key(result.key, shape, budget), result.key, budget,
                    audit_task(result, shape, budget), result.pixels, alive).start()


def audit_task(result: CertifyResult, shape: RegionShape,
               budget: AttackBudget) -> Callable[[Progress], AttackEvidence | TwoStageEvidence]:
    """The engine call that audits ``result``'s certificate; the seed is the certificate's.

    Standard RS: the deployed smoothed classifier (an input-dependent NPG recomputes its maps
    at every attacked point) over ``"ball"`` (the ℓp ball of the certified radius) or
    ``"region"`` (the whole anisotropic region), with the evidence to show
    (``attack_evidence``: the worst point, the base classifier attacked with the same budget,
    the attack beyond R). Dual RS and routing: the deployed two-stage
    classifier, selection then classification, with its verified point
    (``two_stage_evidence``), over the ℓ2 ball of min(R_sel, R_c), the only ``shape`` they
    claim."""
    s, cert = result.settings, result.certificate
    device = str(resolve_device(s.device))
    x = torch.from_numpy(result.pixels)
    if isinstance(s, TwoStageSettings):
        assert isinstance(cert, TwoStageCertificate)
        if shape != "ball":
            raise UcanError(f"a two-stage certificate claims an l2 ball, not a {shape}")
        router = two_stage_on(s, device)
        region = claimed_region(router.selector.noise, cert.radius, cert.norm)
        return lambda progress: two_stage_evidence(
            router, x, cert.selection.prediction, cert.prediction, region, budget, seed=s.seed,
            target=cert.target, progress=progress)
    assert isinstance(s, CertifySettings) and isinstance(cert, Certificate)
    assert result.noise is not None
    card = model_card(s.model_id)
    source = noise_source(s.model_id, s.noise, device)  # an input-dependent NPG: redeployed
    deployed = DeployedSmoothing(model_on(s.model_id, device), card.architecture.num_classes,
                                 result.noise, source.generator if source.input_dependent else None)
    region = claimed_region(result.noise, cert.radius, cert.norm, shape)
    return lambda progress: attack_evidence(
        deployed, x, cert.prediction, region, budget, seed=s.seed, soundness=cert.soundness,
        shape=shape, progress=progress)


@dataclass
class AuditOutcome:
    """A finished audit as the page caches it: the verdict, the ``evidence`` to show (x′ and
    the votes there; for a standard certificate also the base-classifier attack and the
    attack beyond R) and the certified input ``pixels``."""

    result: AuditResult
    budget: AttackBudget
    elapsed: float
    evidence: AttackEvidence | TwoStageEvidence | None = None
    pixels: np.ndarray | None = None


def audit_outcome(job: AuditJob) -> AuditOutcome:
    assert job.result is not None
    return AuditOutcome(job.result.audit, job.budget, job.elapsed, job.result, job.pixels)


# --------------------------------------------------------------------------------------------
# Empirical check of a certified region (Region page)

#: CERTIFY at the image (n0 selection, n estimation samples, level α), then PREDICT at the
#: slice's points; small on purpose, so that an MNIST check takes seconds on a CPU.
CHECK_N0, CHECK_N, CHECK_ALPHA, CHECK_BATCH, CHECK_SEED = 100, 1000, 0.001, 1000, 0
#: Points of a check by default; for a model slower than ``quick_on_cpu`` allows, fewer.
DEFAULT_CHECK_POINTS, SLOW_CHECK_POINTS = 16, 8


@dataclass(frozen=True)
class CheckSampling:
    """A model's check: CERTIFY's n0, n and batch, and the points it starts with."""

    n0: int
    n: int
    batch: int
    points: int
    slow: bool


def check_sampling(card: ModelCard) -> CheckSampling:
    """:data:`CHECK_N0`, :data:`CHECK_N` and :data:`CHECK_BATCH` with :data:`DEFAULT_CHECK_POINTS`
    points, or, for a model whose CERTIFY at those sizes would take longer than
    ``quick_on_cpu`` allows (the photo models), the n0, n and batch it is certified with on
    the Certify page (``sampling_defaults``) and :data:`SLOW_CHECK_POINTS` points."""
    if quick_on_cpu(card, CHECK_N0 + CHECK_N):
        return CheckSampling(CHECK_N0, CHECK_N, CHECK_BATCH, DEFAULT_CHECK_POINTS, False)
    sampling = sampling_defaults(card)
    return CheckSampling(int(sampling["n0"]), int(sampling["n"]), int(sampling["batch"]),
                         SLOW_CHECK_POINTS, True)


@dataclass(frozen=True)
class RegionCheck:
    """A finished check: the certificate at x, R in the page's norm at its p̲_A, and PREDICT
    at the slice's points (``None`` when CERTIFY abstained: no region to check)."""

    settings: RegionCheckSettings
    certificate: Certificate
    radius: float
    check: SliceCheck | None
    elapsed: float


def start_region_check(settings: RegionCheckSettings, pixels: np.ndarray,
                       alive: Callable[[], bool] | None = None) -> BackgroundJob:
    """Start the check in a worker (engine calls only): CERTIFY of the model smoothed with the
    page's noise at x; if it certifies class c with p̲_A, the region {‖δ/s‖_p ≤ R(p̲_A)} in
    ``settings.norm``, and PREDICT at points of its slice (``ucan_core.audit.slice_check``)."""
    s = settings
    card = model_card(s.model_id)
    noise = build(s.noise)
    classifier = SmoothedClassifier(model_on(s.model_id, "cpu"), noise,
                                    card.architecture.num_classes)
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))

    def task(progress: Callable[[int, int], None]) -> RegionCheck:
        began = time.perf_counter()
        cert = classifier.certify(x, s.n0, s.n, s.alpha, s.batch_size, s.seed,
                                  lambda done, _: progress(done, s.samples))
        if cert.abstained:
            return RegionCheck(s, cert, 0.0, None, time.perf_counter() - began)
        region = noise.region(cert.p_a_lower, s.norm)
        check = check_slice(classifier, x, cert.prediction, region, s.i, s.j, s.points,
                            s.n_predict, s.alpha, s.batch_size, s.seed,
                            lambda done, _: progress(s.n0 + s.n + done, s.samples))
        return RegionCheck(s, cert, region.radius, check, time.perf_counter() - began)

    return BackgroundJob(s.key(), s.samples, task, alive).start()
