"""The panel of a background job (``app.jobs``, run by ``app.workers``): a fragment that
refreshes while the job is queued or runs — its place in the server's queue, its progress,
Cancel (and Stop for an anytime-valid certification, with the radius it would keep now) — and
why it stopped if it did not finish. One :func:`job_panel` serves every page's job."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import streamlit as st

from app.choices import MODES
from app.figures.common import fmt, fmt_p, fmt_rate, norm_symbol
from app.jobs import AuditJob, BackgroundJob, CertifyJob, CertifyResult
from app.workers import JOB_WORKERS, poll_interval
from ucan_core.audit.certificates import BEYOND_FACTORS


def job_fragment(panel: Callable[[], None], job: BackgroundJob | None) -> None:
    """Draw ``panel`` as a fragment that refreshes while ``job`` runs, every
    :func:`~app.workers.poll_interval` seconds (slower when the server holds many jobs)."""
    st.fragment(panel, run_every=poll_interval() if job is not None and job.running else None)()


def cancel_button(job: BackgroundJob, key: str) -> None:
    """Cancel for a running background job ("Cancelling…" once pressed)."""
    if job.cancel_event.is_set():
        st.caption("Cancelling…")
    elif st.button("Cancel", key=key):
        job.cancel()
        st.caption("Cancelling…")


@dataclass(frozen=True)
class JobWords:
    """How a page names its job: ``what`` stopped ("The walk-through"), the ``unit`` it
    counts, the ``outcome`` a cancelled run lacks, and the ``failure`` before an error."""

    what: str
    unit: str
    outcome: str
    failure: str


def stopped_warning(job: BackgroundJob, words: JobWords) -> bool:
    """Say why a stopped job has no outcome (its browser session was gone, or it was
    cancelled after ``job.done`` units); False if it was neither."""
    if job.abandoned:
        st.warning(f"{words.what} stopped: this browser session was disconnected for more than "
                   f"{job.timeout:.0f} s.")
    elif job.cancelled:
        st.warning(f"{words.what} cancelled after {job.done:,} / {job.total:,} {words.unit} "
                   f"({job.elapsed:.1f} s): no {words.outcome} for this run.")
    return job.cancelled


def queued_line(job: BackgroundJob) -> str:
    """Where a queued job stands in the server's queue."""
    ahead = job.ahead
    return (f"Queued: {ahead:,} job{'s' if ahead != 1 else ''} ahead of you"
            if ahead else "Queued: next in line") + (
        f" (the server runs {JOB_WORKERS} at a time for everyone; "
        f"waiting {job.waited:.0f} s)")


def job_panel(job: BackgroundJob | None, words: JobWords, text: Callable[[BackgroundJob], str],
              cancel_key: str, details: Callable[[BackgroundJob], None] | None = None,
              error_here: bool = True) -> bool:
    """A job's progress bar (``text(job)``; its queue place while queued), ``details`` below it
    and Cancel while it runs; once it stopped, redraw the page (the outcome is taken there),
    or say why there is none: cancelled, or failed (an error box, or a caption when not
    ``error_here``: a run for other settings). True when it stopped without an outcome."""
    if job is None:
        return False
    if job.running:
        if job.queued:
            st.progress(0.0, text=queued_line(job))
        else:
            st.progress(min(1.0, job.done / max(job.total, 1)), text=text(job))
            if details is not None:
                details(job)
        cancel_button(job, cancel_key)
        return False
    if not job.integrated:
        st.rerun()  # the job just stopped: redraw the whole page with its outcome
    if stopped_warning(job, words):
        return True
    if job.error is not None:
        if error_here:
            st.error(f"{words.failure}: {job.error}")
        else:
            st.caption(f"The last run, with other settings, failed: {job.error}")
        return True
    return False


# --------------------------------------------------------------------------------------------
# The Certify page's job: a certification or an audit

CERTIFICATION = JobWords("Certification", "samples", "result", "Certification failed")
AUDIT = JobWords("Audit", "steps", "verdict", "Audit failed")


def certification_text(job: BackgroundJob) -> str:
    assert isinstance(job, CertifyJob)
    eta = job.eta
    verb = ("Certifying" if job.settings.mode == "standard"
            else f"Certifying with {MODES[job.settings.mode]}")
    if job.sequential:
        verb += " (anytime-valid, at most)"
    return (f"{verb}: {job.done:,} / {job.total:,} samples · "
            + (f"ETA {eta:.0f} s" if eta is not None else "ETA …"))


def live_certificate(job: CertifyJob) -> None:
    """The anytime-valid certificate a Stop would keep now, and the Stop button."""
    s, live = job.settings, job.live
    if live is None:
        st.caption("The anytime-valid radius appears after the first round of samples.")
    else:
        norm = norm_symbol(live.norm)
        what = ("abstain for now: p̲_A ≤ ½, no radius yet" if live.abstained else
                f"certified radius **R = {fmt(live.radius, 3)}** ({norm}, {live.kind})")
        st.markdown(f"Anytime-valid now: {what} · p̲_A = {fmt_p(live.p_a_lower)} after "
                    f"{live.samples_used:,} of at most {s.n:,} estimation samples. It holds "
                    "whenever you stop (confidence sequence at level α).")
    if job.stopped:
        st.caption("Stopping: keeping the certificate of the last round…")
    elif st.button("Stop: keep this certificate", key="cert_stop", type="primary",
                   disabled=live is None,
                   help="End the run now with the anytime-valid certificate above, valid "
                        "for the samples drawn so far (Cancel discards the run instead)."):
        job.stop()
        st.caption("Stopping: keeping the certificate of the last round…")


def certification_details(job: BackgroundJob) -> None:
    assert isinstance(job, CertifyJob)
    s = job.settings
    st.caption(f"{s.title} · {s.image_key.split(':')[1][:16]} · n0 = {s.n0:,}, "
               f"{'n_max' if job.sequential else 'n'} = {s.n:,} · {s.device} · "
               f"{job.elapsed:.1f} s elapsed · {fmt_rate(job.rate)} samples/s")
    if job.sequential:
        live_certificate(job)


def audit_text(job: BackgroundJob) -> str:
    return (f"Auditing the certificate: {job.done:,} / {job.total:,} steps" if job.done
            else "Auditing the certificate: starting…")


def audit_steps(job: AuditJob, result: CertifyResult | None) -> str:
    """The steps of the audit ``job`` of ``result``'s certificate, in the order they run
    (``app.jobs.audit_task``)."""
    b = job.budget
    pgd = f"{b.restarts} × {b.steps} PGD steps on {b.draws} noise draws each"
    checks = (f"screening ({b.screen} votes a candidate), then verification of the worst with "
              f"{b.n_verify:,} fresh samples")
    if result is not None and result.settings.mode != "standard":
        return (f"Steps: {pgd} against each stage of the deployed two-stage classifier "
                f"(selection, then classification) inside the ℓ2 ball of min(R_sel, R_c) · "
                f"{checks} per stage · {job.elapsed:.1f} s elapsed")
    inside = "inside the certified region"
    if result is not None:
        cert = result.certificate
        inside = f"inside the {norm_symbol(cert.norm)} ball of radius R = {cert.radius:.4g}"
    beyond = ", ".join(f"{f:g}R" for f in BEYOND_FACTORS)
    return (f"Steps: {pgd} against the smoothed classifier {inside} · {checks} · the base "
            f"classifier alone with the same budget at R, then at {beyond} until its answer "
            f"changes · the smoothed classifier again beyond R · {job.elapsed:.1f} s elapsed")


def certify_job_panel(job: BackgroundJob | None, current_key: str,
                      results: Mapping[str, CertifyResult]) -> None:
    """The Certify page's job, a certification or an audit of one of ``results`` (the
    session's certificates): progress, Cancel, for an anytime-valid run the live certificate
    and Stop; its outcome once it stopped (an error of a certification for other settings than
    ``current_key`` only as a caption)."""
    if isinstance(job, AuditJob):
        target = results.get(job.target)
        job_panel(job, AUDIT, audit_text, "cert_cancel",
                  lambda j: st.caption(audit_steps(job, target)))
    else:
        job_panel(job, CERTIFICATION, certification_text, "cert_cancel", certification_details,
                  error_here=job is None or job.key == current_key)


CHECK = JobWords("Check", "samples", "result", "Check failed")


def check_text(job: BackgroundJob) -> str:
    return (f"Checking: {job.done:,} / {job.total:,} samples (CERTIFY at x, then PREDICT at "
            f"each point) · {job.elapsed:.1f} s")


def check_job_panel(job: BackgroundJob | None, cancel_key: str) -> None:
    """Progress and Cancel of the Region page's running check; why it stopped, if it did not
    finish."""
    job_panel(job, CHECK, check_text, cancel_key)
