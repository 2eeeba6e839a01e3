"""The chunks of a dataset run (:func:`~ucan_core.io.runs.certify_dataset`) certified by Ray
Core actors, on this machine or on a Ray cluster; the driver stays the log's one writer.

* **Same rows as one process** — the chunks are those of the one-process run
  (:func:`~ucan_core.io.runs.pending_chunks`) with the same seeds
  (:func:`~ucan_core.io.runs.chunk_seed`: a function of the run's seed and the chunk's first
  index only), and their certificates are handed to the writer in chunk order, so the log has
  the one-process log's rows in the same order, whatever the number of workers.
* **Fault tolerance** — a worker whose process dies is restarted by Ray
  (``max_restarts``) and its chunk retried (``max_task_retries``): its rows are redone, and a
  chunk reaches the writer once. A killed driver leaves its fsynced rows; the rerun resumes.
* **Loopback unless asked** — a local cluster started here (no ``address``) binds its
  processes to 127.0.0.1 and starts no dashboard; only ``address`` joins other machines.

Ray is the optional extra ``ray`` (``pip install 'ucan-explorer[ray]'``); this module imports
it only when a run asks for it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ucan_core.errors import UcanError
from ucan_core.io.runs import CertifyChunk, chunk_seed

LOOPBACK = "127.0.0.1"
#: Restarts of a dead worker, and retries of its chunk, before the run fails.
MAX_RESTARTS = 3


@dataclass(frozen=True)
class PerWorker:
    """A ``certify_chunk`` built inside each Ray worker: ``build()`` runs in the worker (again
    after a restart), e.g. to load the model on the worker's own GPU and its images from the
    worker's disk. A plain ``certify_chunk`` is instead pickled and copied to every worker."""

    build: Callable[[], CertifyChunk]


def require_ray() -> None:
    """UcanError (one line) when Ray is not installed; imports nothing."""
    if importlib.util.find_spec("ray") is None:
        raise UcanError("--workers > 1 and --ray-address need Ray: "
                        "pip install 'ucan-explorer[ray]'")


def _connect(workers: int | None, address: str | None) -> tuple[ModuleType, bool]:
    """Ray, initialised: an already initialised session as it is, the cluster at ``address``,
    or else a new local cluster on 127.0.0.1 with ``workers`` CPUs and no dashboard. The flag
    says whether this call started Ray (and so shuts it down)."""
    require_ray()
    if address is None and "ray" not in sys.modules:
        # read when ray is imported (Ray's switch for a machine-local node): the node takes
        # the loopback address, not the one other machines would use, and its servers listen
        # on 127.0.0.1 only
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray
    from ray._private import ray_constants

    if ray.is_initialized():
        return ray, False
    if address is not None:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        return ray, True
    if ray_constants.ENABLE_RAY_CLUSTER:
        raise UcanError(f"ray was imported before this run, so a local Ray node would not be "
                        f"bound to {LOOPBACK}: start one with `ray start --head "
                        f"--node-ip-address {LOOPBACK}` and pass its address")
    ray.init(num_cpus=max(workers or 1, os.cpu_count() or 1), include_dashboard=False,
             _node_ip_address=LOOPBACK, log_to_driver=False, logging_level=logging.WARNING)
    return ray, True


class _Worker:
    """One Ray actor: its own certifier (one model), certifying chunks on request.

    ``spec`` is a :class:`PerWorker` (small: it travels with the actor's definition), or a
    list that holds the reference of a ``certify_chunk`` the driver put in Ray's object store
    (one copy for all workers), nested so that Ray does not resolve it: the driver keeps it
    alive, so a restarted worker finds it again (Ray issue 53727)."""

    def __init__(self, spec: PerWorker | list[Any]) -> None:
        import ray

        self.certify = spec.build() if isinstance(spec, PerWorker) else ray.get(spec[0])

    def ready(self) -> None:
        """Returns once the certifier is built."""

    def run(self, chunk: list[int], seed: int) -> list[Any]:
        return list(self.certify(chunk, seed, None))


def _last_line(error: Exception) -> str:
    """The last line of a Ray actor error's message (the cause, after Ray's traceback)."""
    lines = str(getattr(error, "error_msg", error)).strip().splitlines()
    return lines[-1] if lines else type(error).__name__


def certify_chunks(chunks: Sequence[list[int]], seed: int,
                   certify_chunk: CertifyChunk | PerWorker,
                   write: Callable[[list[int], Sequence[Any]], None], *,
                   workers: int | None = None, address: str | None = None,
                   ready: Callable[[], None] | None = None) -> None:
    """Certify ``chunks`` (each with :func:`~ucan_core.io.runs.chunk_seed`) on ``workers``
    Ray actors and hand each chunk's certificates to ``write(chunk, certs)`` in chunk order.

    ``workers``: by default one per GPU of the cluster, or one per CPU when it has no GPU.
    Actors take one GPU each when the cluster has as many (a share of them otherwise) and one
    CPU each. At most two chunks per worker run ahead of the next one to write. ``ready()``
    is called once every worker has built its certifier (the certification starts)."""
    if not chunks:
        return
    ray, started = _connect(workers, address)
    try:
        from ray.exceptions import RayActorError, RayTaskError

        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0.0)
        count = workers or int(gpus or resources.get("CPU", 1.0))
        actor = ray.remote(_Worker).options(
            num_cpus=1, num_gpus=min(1.0, gpus / count) if gpus else 0,
            max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS)
        spec = certify_chunk if isinstance(certify_chunk, PerWorker) else [ray.put(certify_chunk)]
        pool = [actor.remote(spec) for _ in range(min(count, len(chunks)))]
        idle, running, finished = list(pool), {}, {}
        submitted = written = 0
        try:
            try:
                ray.get([worker.ready.remote() for worker in pool])
            except RayActorError as error:
                raise UcanError(f"a Ray worker could not start: {_last_line(error)}") from None
            if ready is not None:
                ready()
            while written < len(chunks):
                while idle and submitted < min(len(chunks), written + 2 * len(pool)):
                    chunk, worker = chunks[submitted], idle.pop()
                    ref = worker.run.remote(chunk, chunk_seed(seed, chunk[0]))
                    running[ref] = (submitted, worker)
                    submitted += 1
                done, _ = ray.wait(list(running), num_returns=1)
                index, worker = running.pop(done[0])
                try:
                    finished[index] = ray.get(done[0])
                except RayTaskError as error:
                    if isinstance(error.cause, UcanError):
                        raise error.cause from None
                    raise UcanError(f"a Ray worker failed on the images {chunks[index]}: "
                                    f"{type(error.cause).__name__}: {error.cause}") from error
                except RayActorError as error:
                    raise UcanError(f"a Ray worker died on the images {chunks[index]} after "
                                    f"{MAX_RESTARTS} restarts ({_last_line(error)}); the rows "
                                    "written are kept: rerun to resume") from None
                idle.append(worker)
                while written in finished:
                    write(chunks[written], finished.pop(written))
                    written += 1
        finally:
            for worker in pool:
                ray.kill(worker, no_restart=True)
    finally:
        if started:
            ray.shutdown()
