"""How the app's background jobs run (``app.jobs`` defines them): :class:`BackgroundJob`
(one engine call with progress, Cancel and a session heartbeat), the one server-wide
:class:`JobQueue` that runs them on a bounded pool of worker threads, and the page-side
helpers to start a job, poll it and take its outcome.

A job's worker never calls Streamlit: it writes plain attributes (done/total, result, error,
cancelled), and the page reads them from a polling fragment (``app.panels.job``). Cancel is a
threading.Event checked in the engine's progress callback, which raises
``ucan_core.errors.Cancelled``; the same callback cancels a job whose browser session has
gone (``alive``: ``app.jobs.session_probe``).

Under load (a class of 20 opening the app at once) every job waits its turn in one FIFO
queue: :data:`JOB_WORKERS` workers run at most that many jobs at once, each with at most
``cores // busy workers`` torch threads, so N sessions never start N × cores threads on a
small machine; a queued job says how many jobs are ahead of it, and the page polls more
slowly the more jobs the server holds (:func:`poll_interval`).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import math
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import streamlit as st
import torch
from streamlit.logger import get_logger

from ucan_core.certify.smoothed import Progress
from ucan_core.errors import Cancelled, UcanError

_JOB_IDS = itertools.count(1)
#: The server's log (Streamlit's console format and ``logger.level``): one line per job end.
LOG = get_logger("ucan_explorer")
CORES = os.cpu_count() or 1


def positive_number(name: str, text: str | None, default: float) -> float:
    """The environment variable ``name``'s value ``text`` if it is a finite number > 0, else
    ``default`` (a bad value is logged, not fatal: the app must start)."""
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        LOG.warning("%s=%r is not a number > 0; using %g", name, text, default)
        return default
    return value


def session_timeout(text: str | None, default: float = 30.0) -> float:
    """Seconds after which a job whose browser session is gone cancels itself: ``text`` (the
    environment variable UCAN_SESSION_TIMEOUT_S) if it is a number > 0, else ``default``."""
    return positive_number("UCAN_SESSION_TIMEOUT_S", text, default)


#: A job whose browser session has been disconnected for this long cancels itself (s); the
#: environment variable UCAN_SESSION_TIMEOUT_S sets another value (the closed-tab browser test).
SESSION_TIMEOUT_S = session_timeout(os.environ.get("UCAN_SESSION_TIMEOUT_S"))
#: Jobs that run at once, server-wide (UCAN_JOB_WORKERS; default: one per core, at most 4).
JOB_WORKERS = int(positive_number("UCAN_JOB_WORKERS", os.environ.get("UCAN_JOB_WORKERS"),
                                  min(CORES, 4)))


class BackgroundJob:
    """One engine call (``task``) run by the :data:`QUEUE`'s workers; plain state that the
    page polls.

    The worker calls only the engine. The progress callback it hands to ``task`` records
    ``done``/``total`` and raises :class:`Cancelled` once :meth:`cancel` was called, or once
    ``alive`` (``app.jobs.session_probe``) has said no for ``timeout`` seconds (default
    :data:`SESSION_TIMEOUT_S`): the heartbeat is the last time the browser session was seen
    connected, so a closed tab's job stops (``abandoned``), queued or running. A task without
    progress calls runs to its end. ``queued`` until a worker takes it; ``elapsed`` counts
    from then.
    """

    def __init__(self, key: str, total: int, task: Callable[[Progress], Any],
                 alive: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        self.id = next(_JOB_IDS)
        self.key = key
        self.cancel_event = threading.Event()
        self.done = 0
        self.total = total
        self.submitted = self.started = time.perf_counter()
        self.queued = False
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
        self._stopped = threading.Event()
        self.queue: JobQueue | None = None

    def start(self) -> BackgroundJob:
        """Put the job in the server's queue (:data:`QUEUE`)."""
        QUEUE.submit(self)
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

    def run(self) -> None:
        """Run the task here (a worker of the queue) and record how it ended."""
        self.queued = False
        self.started = time.perf_counter()
        if time.monotonic() - self.heartbeat <= self.timeout:
            self.heartbeat = time.monotonic()  # not yet missed in the queue: a full timeout
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
            self._end()

    def _end(self) -> None:
        self._task = None  # drop the model/input references
        self.finished = time.perf_counter()
        self._log_end()
        self._stopped.set()

    def withdrawn(self) -> None:
        """Cancelled before a worker took it (:meth:`JobQueue.withdraw`)."""
        self.queued = False
        self.cancelled = True
        self.started = time.perf_counter()
        self._end()

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
        LOG.info("%s %d %s; %s / %s done in %.1f s (%.1f s queued)", type(self).__name__,
                 self.id, how, f"{self.done:,}", f"{self.total:,}", self.elapsed, self.waited)

    def cancel(self) -> None:
        self.cancel_event.set()
        if self.queue is not None:
            self.queue.withdraw(self)

    @property
    def running(self) -> bool:
        """Not finished yet: queued or at work."""
        return self.finished is None

    @property
    def ahead(self) -> int:
        """Jobs ahead of this one in its queue (0 once it runs)."""
        return self.queue.ahead_of(self) if self.queue is not None else 0

    @property
    def waited(self) -> float:
        """Seconds spent in the queue (so far, while queued)."""
        return (time.perf_counter() if self.queued else self.started) - self.submitted

    @property
    def elapsed(self) -> float:
        """Seconds at work (0 while queued)."""
        if self.queued:
            return 0.0
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
        """Wait up to ``timeout`` s for the job to stop; True when it has."""
        return self._stopped.wait(timeout)


def _release_freed_memory() -> None:
    """Give the allocator's freed pages back to the OS (glibc ``malloc_trim``): a job's
    noisy batches are freed when it ends, but glibc keeps them mapped."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class JobQueue:
    """One FIFO of background jobs for the whole server, run by at most ``workers`` threads
    (started when needed, kept while there is work). A worker taking a job caps torch's
    threads at ``cores // busy workers`` (at least 1); when the last job ends, freed memory
    goes back to the OS."""

    def __init__(self, workers: int, cores: int = CORES) -> None:
        self.workers, self.cores = max(1, workers), max(1, cores)
        self._pending: deque[BackgroundJob] = deque()
        self._lock = threading.Condition()
        self._threads = 0
        self._busy = 0

    def submit(self, job: BackgroundJob) -> None:
        with self._lock:
            job.queue, job.queued = self, True
            self._pending.append(job)
            if self._threads - self._busy < len(self._pending) and self._threads < self.workers:
                self._threads += 1
                threading.Thread(target=self._work, name=f"ucan-worker-{self._threads}",
                                 daemon=True).start()
            self._lock.notify()

    def withdraw(self, job: BackgroundJob) -> None:
        """Take a cancelled job out of the queue before a worker does (it ends at once)."""
        with self._lock:
            if job not in self._pending:
                return
            self._pending.remove(job)
        job.withdrawn()

    def ahead_of(self, job: BackgroundJob) -> int:
        with self._lock:
            return self._pending.index(job) if job in self._pending else 0

    @property
    def load(self) -> int:
        """Jobs queued or at work."""
        with self._lock:
            return len(self._pending) + self._busy

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._threads -= 1
                    if self._busy == 0 and self._threads == 0:
                        _release_freed_memory()
                    return
                job = self._pending.popleft()
                self._busy += 1
                torch.set_num_threads(max(1, self.cores // self._busy))
            try:
                job.run()
            finally:
                with self._lock:
                    self._busy -= 1


#: The server's one job queue.
QUEUE = JobQueue(JOB_WORKERS)

# --------------------------------------------------------------------------------------------
# Starting a job from a page and taking its outcome

#: How often the panel of a running job refreshes when it is the server's only job (s).
JOB_POLL_S = 1.0
#: The slowest refresh, however many jobs the server holds (s).
JOB_POLL_MAX_S = 15.0
#: After a click the script waits this long for the worker, so short runs and argument errors
#: from the engine show up in the same rerun (s).
JOB_FIRST_WAIT_S = 0.4


def poll_interval(load: int | None = None) -> float:
    """Seconds between two refreshes of a job's panel: :data:`JOB_POLL_S`, growing by 0.75 s
    per job the server holds (``load``, default :attr:`JobQueue.load`) up to
    :data:`JOB_POLL_MAX_S`. A browser asks for the next refresh on a fixed timer, whether or
    not the last one has arrived; under load, a refresh slower than the timer never shows."""
    jobs = QUEUE.load if load is None else load
    return min(JOB_POLL_MAX_S, max(JOB_POLL_S, 0.75 * jobs))


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


def keyed_job(state_key: str, key: str, total: int, task: Callable[[Progress], Any],
              alive: Callable[[], bool], failure: str) -> BackgroundJob | None:
    """The session's job for the run ``key`` (session state ``state_key``): a running job for
    another key is cancelled (its settings are gone); a new one starts (:func:`start_job`)
    unless the job of this key runs, finished with an outcome the page has not taken yet
    (:func:`new_outcome`), or stopped without a result (cancelled or failed: its message stays
    until the settings change or the page drops it)."""
    job = st.session_state.get(state_key)
    if job is not None and job.key != key and job.running:
        job.cancel()
    if job is None or job.key != key or not (job.running or not job.integrated
                                             or job.cancelled or job.error):
        job = start_job(lambda: BackgroundJob(key, total, task, alive).start(), state_key,
                        failure)
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
