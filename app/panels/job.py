"""The panel of a background job (``app.jobs``): a fragment that refreshes while the job
runs, with its progress and a Cancel button, and why it stopped if it did not finish."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app.choices import MODES
from app.jobs import JOB_POLL_S, AuditJob, BackgroundJob, CertifyJob


def job_fragment(panel: Callable[[], None], job: BackgroundJob | None) -> None:
    """Draw ``panel`` as a fragment that refreshes every :data:`JOB_POLL_S` while ``job`` runs."""
    st.fragment(panel, run_every=JOB_POLL_S if job is not None and job.running else None)()


def cancel_button(job: BackgroundJob, key: str) -> None:
    """Cancel for a running background job ("Cancelling…" once pressed)."""
    if job.cancel_event.is_set():
        st.caption("Cancelling…")
    elif st.button("Cancel", key=key):
        job.cancel()
        st.caption("Cancelling…")


def stopped_warning(job: BackgroundJob, what: str, unit: str, outcome: str) -> bool:
    """Say why a stopped job has no ``outcome`` (its browser session was gone, or it was
    cancelled after ``job.done`` ``unit``); False if it was neither."""
    if job.abandoned:
        st.warning(f"{what} stopped: this browser session was disconnected for more than "
                   f"{job.timeout:.0f} s.")
    elif job.cancelled:
        st.warning(f"{what} cancelled after {job.done:,} / {job.total:,} {unit} "
                   f"({job.elapsed:.1f} s): no {outcome} for this run.")
    return job.cancelled


def certify_job_panel(job: BackgroundJob | None, current_key: str) -> None:
    """Progress (ETA for a certification) and Cancel of the Certify page's running job, a
    certification or an audit; its outcome once it stopped (an error of a certification for
    other settings than ``current_key`` only as a caption)."""
    if job is None:
        return
    audit = isinstance(job, AuditJob)
    if job.running:
        fraction = min(1.0, job.done / max(job.total, 1))
        if audit:
            st.progress(fraction, text=(f"Auditing the certificate: {job.done:,} / "
                                        f"{job.total:,} steps" if job.done else
                                        "Auditing the certificate: starting…"))
            st.caption(f"Steps: PGD steps and the clean gradient per attacked claim, the "
                       f"screening, the verifications · {job.elapsed:.1f} s elapsed")
        else:
            assert isinstance(job, CertifyJob)
            eta = job.eta
            verb = ("Certifying" if job.settings.mode == "standard"
                    else f"Certifying with {MODES[job.settings.mode]}")
            st.progress(fraction, text=f"{verb}: {job.done:,} / {job.total:,} samples · "
                        + (f"ETA {eta:.0f} s" if eta is not None else "ETA …"))
            s = job.settings
            st.caption(f"{s.title} · {s.image_key.split(':')[1][:16]} · n0 = {s.n0:,}, "
                       f"n = {s.n:,} · {s.device} · {job.elapsed:.1f} s elapsed · "
                       f"{job.rate:,.0f} samples/s")
        cancel_button(job, "cert_cancel")
        return
    if not job.integrated:
        st.rerun()  # the job just stopped: redraw the whole page with its outcome
    what = "Audit" if audit else "Certification"
    if stopped_warning(job, what, "steps" if audit else "samples",
                               "verdict" if audit else "result"):
        return
    if job.error is not None:
        if audit or job.key == current_key:
            st.error(f"{what} failed: {job.error}")
        else:  # the settings have changed since: no alarm, but say what happened
            st.caption(f"The last run, with other settings, failed: {job.error}")


def check_job_panel(job: BackgroundJob | None, cancel_key: str) -> None:
    """Progress and Cancel of the Region page's running check; why it stopped, if it did not
    finish."""
    if job is None:
        return
    if job.running:
        st.progress(min(1.0, job.done / max(job.total, 1)),
                    text=f"Checking: {job.done:,} / {job.total:,} samples (CERTIFY at x, then "
                         f"PREDICT at each point) · {job.elapsed:.1f} s")
        cancel_button(job, cancel_key)
        return
    if not job.integrated:
        st.rerun()  # the job just stopped: redraw the page with its outcome
    if not stopped_warning(job, "Check", "samples", "result") and job.error is not None:
        st.error(f"Check failed: {job.error}")
