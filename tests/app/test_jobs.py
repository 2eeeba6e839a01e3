"""The app's background jobs: the server's one bounded job queue (order, Cancel while queued,
torch threads per busy worker, polling under load), the anytime-valid certification with
its live certificate and Stop (engine-level and through the Certify page in AppTest), the
queue's place shown on the page, and the audit's steps in words."""

from __future__ import annotations

import threading
import time
from urllib.parse import unquote_plus

import numpy as np
import pytest
import torch
from apptest_helpers import open_with_params, text, wait_for_job

from app import choices, jobs, workers
from app.cached import images as cached_images
from app.panels.job import audit_steps
from ucan_core.certify.sequential import BOUND_NAME
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.npg.source import build_noise
from ucan_core.zoo.bundled import load_model


def blocking_job(release: threading.Event, log: list[str], name: str,
                 busy: list[int] | None = None) -> workers.BackgroundJob:
    """A job that records its start, waits for ``release`` and records its end."""
    def task(progress):
        log.append(f"start {name}")
        if busy is not None:
            busy.append(torch.get_num_threads())
        release.wait(30)
        log.append(f"end {name}")
        return name

    return workers.BackgroundJob(name, 1, task)


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_queue_runs_in_order_bounded_and_cancels_queued_jobs():
    queue, release, log = workers.JobQueue(1), threading.Event(), []
    first, second, third = (blocking_job(release, log, n) for n in ("a", "b", "c"))
    for job in (first, second, third):
        queue.submit(job)
    wait_until(lambda: log == ["start a"])
    assert not first.queued and second.queued and third.queued
    assert (first.ahead, second.ahead, third.ahead) == (0, 0, 1)
    assert queue.load == 3 and third.elapsed == 0.0
    third.cancel()                                   # withdrawn at once, never run
    assert third.cancelled and not third.running and queue.load == 2
    release.set()
    assert second.wait(30) and first.result == "a" and second.result == "b"
    assert log == ["start a", "end a", "start b", "end b"]
    assert second.waited > 0 and queue.load == 0


def test_a_queued_job_whose_session_went_away_never_runs():
    queue, release, log, ran = workers.JobQueue(1), threading.Event(), [], []
    queue.submit(blocking_job(release, log, "a"))
    wait_until(lambda: log == ["start a"])
    gone = workers.BackgroundJob("gone", 1, ran.append, alive=lambda: False, timeout=0.2)
    soon = workers.BackgroundJob("soon", 1, lambda progress: "ran", alive=lambda: False,
                                 timeout=30)
    queue.submit(gone)
    queue.submit(soon)
    time.sleep(0.3)                        # longer than gone's timeout, in the queue
    release.set()
    assert gone.wait(30) and gone.abandoned and gone.cancelled and not ran
    assert soon.wait(30) and soon.result == "ran" and not soon.abandoned


def test_busy_workers_share_the_cores_in_torch_threads():
    before = torch.get_num_threads()
    queue, release, log, threads = workers.JobQueue(2, cores=2), threading.Event(), [], []
    try:
        one = blocking_job(release, log, "one", threads)
        queue.submit(one)
        wait_until(lambda: len(threads) == 1)
        two = blocking_job(release, log, "two", threads)
        queue.submit(two)
        wait_until(lambda: len(threads) == 2)
        assert threads == [2, 1]                     # alone: both cores; beside another: one
        release.set()
        assert one.wait(30) and two.wait(30)
    finally:
        release.set()
        torch.set_num_threads(before)


def test_polling_slows_down_with_the_server_load():
    assert workers.poll_interval(0) == workers.poll_interval(1) == workers.JOB_POLL_S
    assert workers.poll_interval(8) == 6.0
    assert workers.poll_interval(20) == workers.poll_interval(200) == workers.JOB_POLL_MAX_S


def _settings(**changes) -> choices.CertifySettings:
    base = dict(model_id="mnist-gaussian-0.25", image_key="bundled:mnist-0000",
                noise=choices.NoiseChoice("gaussian", 0.25, (1, 28, 28)), n0=100, n=100_000,
                alpha=0.001, batch_size=500, seed=0, device="cpu", sequential=True)
    return choices.CertifySettings(**{**base, **changes})


def test_sequential_job_shows_its_certificate_live_and_stops_with_it():
    model, _ = load_model("mnist-gaussian-0.25")
    x = torch.from_numpy(cached_images.bundled_model_input("mnist-0000", (1, 28, 28)).pixels)
    noise = build_noise("gaussian", 0.25, (1, 28, 28))
    settings = _settings()
    assert settings.key() != _settings(sequential=False).key()
    assert settings.differences(_settings(sequential=False)) == ["anytime-valid"]
    job = jobs.CertifyJob(settings, SmoothedClassifier(model, noise, 10), x, noise).start()
    wait_until(lambda: job.live is not None and job.live.samples_used >= 500)
    job.stop()
    assert job.wait(60) and job.error is None and not job.cancelled and job.stopped
    cert = job.result
    assert cert.bound == BOUND_NAME and 500 <= cert.samples_used < settings.n
    assert cert.samples_used == job.live.samples_used and cert.radius == job.live.radius
    assert job.total == settings.n0 + cert.samples_used and cert.prediction == 7
    result = jobs.result_of(job)
    assert result.stopped and result.samples_per_s > 0
    # the same seed drawn to the same count without Stop: the same bound (a valid
    # certificate, not an approximation of one)
    rerun = SmoothedClassifier(model, noise, 10).certify_sequential(
        x, settings.n0, cert.samples_used, settings.alpha, None, settings.batch_size, 0)
    assert rerun.samples_used == cert.samples_used
    assert rerun.p_a_lower == pytest.approx(cert.p_a_lower, abs=1e-12)


def test_cancel_still_discards_a_sequential_run():
    model, _ = load_model("mnist-gaussian-0.25")
    x = torch.from_numpy(cached_images.bundled_model_input("mnist-0000", (1, 28, 28)).pixels)
    noise = build_noise("gaussian", 0.25, (1, 28, 28))
    job = jobs.CertifyJob(_settings(), SmoothedClassifier(model, noise, 10), x, noise).start()
    wait_until(lambda: job.live is not None)
    job.cancel()
    assert job.wait(60) and job.cancelled and job.result is None


def open_sequential(**params: str):
    return open_with_params("certify", {"cert_sequential": "true", "cert_n": "100000",
                                        **params})


def test_certify_page_runs_anytime_valid_and_stop_keeps_a_labelled_certificate():
    at = open_sequential()
    assert at.toggle(key="cert_sequential").value
    assert "Anytime-valid with at most n = 100,000: no radius above" in text(at)
    at.button(key="cert_run").click().run()
    job = at.session_state["certify_job"]
    try:
        assert job.sequential and job.settings.sequential
        wait_until(lambda: job.live is not None and job.live.samples_used >= 500)
        at.run()
        (bar,) = at.get("progress")
        assert "(anytime-valid, at most)" in bar.proto.text and "/ 100,100 samples" in bar.proto.text
        assert "Anytime-valid now: certified radius **R = " in text(at)
        assert "of at most 100,000 estimation samples" in text(at)
        at.button(key="cert_stop").click().run()
        assert job.stopped
        wait_for_job(at, "certify_job", 60)
    finally:
        job.cancel()
    (result,) = at.session_state["certify_cache"].values()
    cert = result.certificate
    assert result.stopped and cert.bound == BOUND_NAME and cert.samples_used < 100_000
    page = text(at)
    assert (f"anytime-valid confidence sequence at α = 0.001: samples used "
            f"{cert.samples_used:,} of n_max = 100,000, stopped by you") in page
    assert ":blue-badge[anytime-valid]" in page and "Clopper–Pearson at α" not in page
    assert not at.get("progress") and not at.exception
    # the share link reproduces it: the same anytime-valid run, to the samples it used
    (link,) = [c.value for c in at.code if "cert_sequential=true" in c.value]
    query = dict(pair.split("=", 1) for pair in link.split("?", 1)[1].split("&"))
    assert query["cert_n"] == str(cert.samples_used)
    again = open_with_params("certify", {k: unquote_plus(v) for k, v in query.items()})
    again.button(key="cert_run").click().run()
    wait_for_job(again, "certify_job", 60)
    (copy,) = again.session_state["certify_cache"].values()
    assert copy.certificate.samples_used == cert.samples_used and not copy.stopped
    assert copy.certificate.p_a_lower == cert.p_a_lower and copy.certificate.radius == cert.radius
    assert "ran to n_max" in text(again)


def test_fixed_n_stays_the_default_and_says_clopper_pearson():
    at = open_with_params("certify", {"cert_n": "500", "cert_n0": "20"})
    assert not at.toggle(key="cert_sequential").value
    assert not [n for n in at.number_input if n.key == "cert_target"]
    at.button(key="cert_run").click().run()
    wait_for_job(at, "certify_job", 60)
    (result,) = at.session_state["certify_cache"].values()
    assert not result.settings.sequential and result.certificate.samples_used == 500
    assert "one-sided Clopper–Pearson at α = 0.001, fixed n" in text(at)
    assert "anytime-valid]" not in text(at)


def test_a_queued_certification_says_how_many_jobs_are_ahead():
    release, log = threading.Event(), []
    blockers = [blocking_job(release, log, f"b{i}") for i in range(workers.JOB_WORKERS + 1)]
    try:
        for job in blockers:
            job.start()
        wait_until(lambda: len(log) == workers.JOB_WORKERS)
        at = open_with_params("certify", {"cert_n": "300", "cert_n0": "20"})
        at.button(key="cert_run").click().run()
        job = at.session_state["certify_job"]
        assert job.queued and job.ahead == 1
        (bar,) = at.get("progress")
        assert bar.proto.text.startswith("Queued: 1 job ahead of you (the server runs "
                                         f"{workers.JOB_WORKERS} at a time for everyone")
        blockers[-1].cancel()                          # the job ahead leaves the queue
        at.run()
        assert at.get("progress")[0].proto.text.startswith("Queued: next in line")
    finally:
        release.set()
    wait_for_job(at, "certify_job", 60)
    assert job.waited > 0 and at.session_state["certify_cache"]


def test_audit_steps_say_what_the_audit_does():
    job = jobs.AuditJob("k", "target", jobs.AUDIT_BUDGET, lambda progress: None,
                        np.zeros((1, 28, 28), dtype=np.float32))
    words = audit_steps(job, None)
    b = jobs.AUDIT_BUDGET
    assert f"{b.restarts} × {b.steps} PGD steps on {b.draws} noise draws each" in words
    assert "against the smoothed classifier inside the certified region" in words
    assert "the base classifier alone with the same budget at R, then at 2R, 4R, 8R" in words
    assert "the smoothed classifier again beyond R" in words
    assert f"verification of the worst with {b.n_verify:,} fresh samples" in words
