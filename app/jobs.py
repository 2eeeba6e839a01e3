"""Background jobs of the app, in one place: a certification (standard, Dual RS, routing),
an attack audit of a certificate and the Region page's empirical check — how each is started,
polled, cancelled and its outcome taken — and the session probe that stops the job of a
closed browser tab.

A job runs the engine in a worker thread. The worker never calls Streamlit: it writes plain
attributes of its :class:`BackgroundJob` (done/total, result, error, cancelled), and the page
reads them from a polling fragment (``app.panels.job``). Cancel is a threading.Event checked in
the engine's progress callback, which raises ``ucan_core.errors.Cancelled`` to stop the run;
the same callback cancels a job whose browser session has gone (:func:`session_probe`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import streamlit as st
import torch
from streamlit import runtime
from streamlit.logger import get_logger
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app.cached.models import model_on, noise_source, two_stage_on
from app.cached.noise import build
from app.choices import CertifySettings, RegionCheckSettings, TwoStageSettings
from ucan_core.audit.attack import AttackBudget
from ucan_core.audit.certificates import (
    AttackEvidence,
    AuditResult,
    RegionShape,
    attack_evidence,
    audit_two_stage,
    claimed_region,
)
from ucan_core.audit.deployed import DeployedSmoothing
from ucan_core.audit.slice_check import SliceCheck, check_slice
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import Progress, SmoothedClassifier
from ucan_core.devices import resolve_device
from ucan_core.errors import Cancelled, UcanError
from ucan_core.noises.base import Noise
from ucan_core.two_stage.engine import SelectAndCertify, TwoStageCertificate
from ucan_core.zoo.bundled import model_card

_JOB_IDS = itertools.count(1)
#: The server's log (Streamlit's console format and ``logger.level``): one line per job end.
LOG = get_logger("ucan_explorer")


def session_timeout(text: str | None, default: float = 30.0) -> float:
    """Seconds after which a job whose browser session is gone cancels itself: ``text`` (the
    environment variable UCAN_SESSION_TIMEOUT_S) if it is a number > 0, else ``default``
    (a bad value is logged, not fatal: the app must start)."""
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        LOG.warning("UCAN_SESSION_TIMEOUT_S=%r is not a number of seconds > 0; using %g s",
                    text, default)
        return default
    return value


#: A job whose browser session has been disconnected for this long cancels itself (s); the
#: environment variable UCAN_SESSION_TIMEOUT_S sets another value (the closed-tab browser test).
SESSION_TIMEOUT_S = session_timeout(os.environ.get("UCAN_SESSION_TIMEOUT_S"))


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


class BackgroundJob:
    """One engine call (``task``) running in a worker thread; plain state that the page polls.

    The worker calls only the engine. The progress callback it hands to ``task`` records
    ``done``/``total`` and raises :class:`Cancelled` once :meth:`cancel` was called, or once
    ``alive`` (see :func:`session_probe`) has said no for ``timeout`` seconds (default
    :data:`SESSION_TIMEOUT_S`): the heartbeat is the last time the browser session was seen
    connected, so a closed tab's job stops (``abandoned``). A task without progress calls
    runs to its end.
    """

    def __init__(self, key: str, total: int, task: Callable[[Progress], Any],
                 alive: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        self.id = next(_JOB_IDS)
        self.key = key
        self.cancel_event = threading.Event()
        self.done = 0
        self.total = total
        self.started = time.perf_counter()
        self.finished: float | None = None
        self.result: Any = None
        self.error: str | None = None
        self.cancelled = False
        self.abandoned = False       # cancelled by the heartbeat: the session was gone
        self.integrated = False      # the page has moved the outcome into its cache
        self.timeout = SESSION_TIMEOUT_S if timeout is None else timeout
        self.heartbeat = time.monotonic()
        self._alive = alive or (lambda: True)
        self._task: Callable[[Progress], Any] | None = task
        self.thread = threading.Thread(target=self._work, name=f"ucan-job-{self.id}",
                                       daemon=True)

    def start(self) -> BackgroundJob:
        self.started = time.perf_counter()
        self.thread.start()
        return self

    def _check(self) -> None:
        """Refresh the heartbeat, cancel after ``timeout`` s without one, honour a cancel."""
        now = time.monotonic()
        if self._alive():
            self.heartbeat = now
        elif now - self.heartbeat > self.timeout:
            self.abandoned = True
            self.cancel_event.set()
        if self.cancel_event.is_set():
            raise Cancelled()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self._check()

    def _work(self) -> None:
        try:
            self._check()
            assert self._task is not None
            self.result = self._task(self._progress)
            self.done = self.total
        except Cancelled:
            self.cancelled = True
        except UcanError as error:
            self.error = str(error)
        except Exception as error:  # noqa: BLE001 — shown to the user, not raised in a thread
            self.error = f"unexpected {type(error).__name__}: {error}"
        finally:
            self._task = None  # drop the model/input references
            self.finished = time.perf_counter()
            self._log_end()

    def _log_end(self) -> None:
        """One line in the server log saying how the job ended and how far it got."""
        if self.abandoned:
            how = f"abandoned: its browser session was not seen for over {self.timeout:g} s"
        elif self.cancelled:
            how = "cancelled"
        elif self.error is not None:
            how = f"failed ({self.error})"
        else:
            how = "finished"
        LOG.info("%s %d %s; %s / %s done in %.1f s", type(self).__name__, self.id, how,
                 f"{self.done:,}", f"{self.total:,}", self.elapsed)

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def rate(self) -> float:
        """Samples per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None before the first batch)."""
        if not self.done or not self.rate:
            return None
        return max(0.0, (self.total - self.done) / self.rate)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the worker; True when it has finished."""
        self.thread.join(timeout)
        return not self.running


class CertifyJob(BackgroundJob):
    """One certification: ``classifier.certify`` (standard, Dual RS or routing) of one input
    ``x``."""

    def __init__(self, settings: CertifySettings | TwoStageSettings,
                 classifier: SmoothedClassifier | SelectAndCertify, x: torch.Tensor,
                 noise: Noise | None,
                 alive: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        s = settings
        standard = isinstance(settings, CertifySettings)
        super().__init__(settings.key(), settings.samples,
                         lambda progress: classifier.certify(
                             x, s.n0, s.n, s.alpha, s.batch_size, s.seed,
                             overall_progress(progress, s.samples) if standard else progress),
                         alive, timeout)
        self.settings = settings
        self.noise = noise
        self.pixels = x.numpy().copy()


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


def result_of(job: CertifyJob) -> CertifyResult:
    assert job.result is not None
    return CertifyResult(job.key, job.settings, job.result, job.noise, job.pixels, job.elapsed,
                         job.total / job.elapsed if job.elapsed > 0 else float("nan"),
                         time.time())


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
    an :class:`AuditResult` for a two-stage one."""

    def __init__(self, key: str, target: str, budget: AttackBudget,
                 task: Callable[[Progress], AttackEvidence | AuditResult],
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
               budget: AttackBudget) -> Callable[[Progress], AttackEvidence | AuditResult]:
    """The engine call that audits ``result``'s certificate; the seed is the certificate's.

    Standard RS: the deployed smoothed classifier (an input-dependent NPG recomputes its maps
    at every attacked point) over ``"ball"`` (the ℓp ball of the certified radius) or
    ``"region"`` (the whole anisotropic region), with the evidence to show
    (``attack_evidence``: the worst point, the base classifier attacked with the same budget,
    the attack beyond R). Dual RS and routing: the deployed two-stage
    classifier, selection then classification (``audit_two_stage``), over the ℓ2 ball of
    min(R_sel, R_c), the only ``shape`` they claim."""
    s, cert = result.settings, result.certificate
    device = str(resolve_device(s.device))
    x = torch.from_numpy(result.pixels)
    if isinstance(s, TwoStageSettings):
        assert isinstance(cert, TwoStageCertificate)
        if shape != "ball":
            raise UcanError(f"a two-stage certificate claims an l2 ball, not a {shape}")
        router = two_stage_on(s, device)
        region = claimed_region(router.selector.noise, cert.radius, cert.norm)
        return lambda progress: audit_two_stage(
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
    """A finished audit as the page caches it: the verdict, and for a standard certificate
    the ``evidence`` to show (x′, the base-classifier attack, the attack beyond R) and the
    certified input ``pixels``."""

    result: AuditResult
    budget: AttackBudget
    elapsed: float
    evidence: AttackEvidence | None = None
    pixels: np.ndarray | None = None


def audit_outcome(job: AuditJob) -> AuditOutcome:
    assert job.result is not None
    if isinstance(job.result, AttackEvidence):
        return AuditOutcome(job.result.audit, job.budget, job.elapsed, job.result, job.pixels)
    return AuditOutcome(job.result, job.budget, job.elapsed)


# --------------------------------------------------------------------------------------------
# Empirical check of a certified region (Region page)

#: CERTIFY at the image (n0 selection, n estimation samples, level α), then PREDICT at the
#: slice's points; small on purpose, so that an MNIST check takes seconds on a CPU.
CHECK_N0, CHECK_N, CHECK_ALPHA, CHECK_BATCH, CHECK_SEED = 100, 1000, 0.001, 1000, 0


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


# --------------------------------------------------------------------------------------------
# Starting a job from a page and taking its outcome

#: How often the panel of a running background job refreshes (s).
JOB_POLL_S = 0.5
#: After a click the script waits this long for the worker, so short runs and argument errors
#: from the engine show up in the same rerun (s).
JOB_FIRST_WAIT_S = 0.4


def start_job(start: Callable[[], BackgroundJob], state_key: str,
              failure: str) -> BackgroundJob | None:
    """Start a background job (``start()``), keep it in session state ``state_key`` and wait
    :data:`JOB_FIRST_WAIT_S` for it; if it cannot start, say ``failure: why`` and return None."""
    try:
        job = start()
    except UcanError as error:
        st.error(f"{failure}: {error}")
        return None
    except Exception as error:  # noqa: BLE001 — e.g. out of memory loading the model
        st.error(f"{failure}: unexpected {type(error).__name__}: {error}")
        return None
    st.session_state[state_key] = job
    job.wait(JOB_FIRST_WAIT_S)
    return job


def new_outcome(job: BackgroundJob) -> Any:
    """A stopped job's result, the first time it is asked for (it is then marked integrated);
    None while it runs, afterwards, or when it failed or was cancelled."""
    if job.running or job.integrated:
        return None
    job.integrated = True
    return job.result


def remember(cache: OrderedDict[str, Any], key: str, value: Any, size: int) -> None:
    """Put ``value`` in the session's LRU ``cache`` (at most ``size`` entries)."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
