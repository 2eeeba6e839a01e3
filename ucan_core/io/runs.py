"""The resumable dataset run: certify dataset images into a certify log, one fsynced row at a
time, resumable after any interruption.

Guarantees of :func:`certify_dataset`:

* **durable rows** — each row is written and fsynced before the next chunk starts
  (:class:`~ucan_core.io.logs.LogWriter`); a truncated last line is dropped on resume;
* **same settings or refusal** — the run's settings are kept in ``LOG.run.json`` beside the
  log; a log is resumed only with equal settings, and a log with rows but no settings file is
  refused (:func:`check_run_file`);
* **same noise on resume** — the images are certified in chunks of ``inputs_per_pass``
  consecutive run indices, and a chunk's seed is a function of (``seed``, its first dataset
  index) only (:func:`chunk_seed`), so a resumed run recomputes a partly written chunk whole
  and writes exactly the rows an uninterrupted run would have written; only the chunks with
  missing rows are certified.

The certification itself is a callable ``certify_chunk(indices, seed, progress)`` (one
certificate per index), so the same run serves standard smoothing, Dual RS and routing
(:func:`batch_certifier`). With ``backend="ray"`` the chunks are certified by Ray actors
(:mod:`ucan_core.io.ray_backend`: the same chunks and seeds, so the same rows) and this
process stays the one writer.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ucan_core.certify.seeds import derive_seed
from ucan_core.checks import check_count
from ucan_core.errors import UcanError
from ucan_core.io.logs import UCAN_COLUMNS, Log, LogWriter, read_log
from ucan_core.io.records import log_row

if TYPE_CHECKING:
    from ucan_core.io.ray_backend import PerWorker

#: ``progress(done, total)`` of one ``certify_batch`` call (samples drawn so far).
ChunkProgress = Callable[[int, int], None] | None
#: ``certify_chunk(indices, seed, progress)``: the certificates of the dataset ``indices``.
CertifyChunk = Callable[[list[int], int, ChunkProgress], Sequence[Any]]


@dataclass(frozen=True)
class RunProgress:
    """Where a dataset run stands: ``rows`` of ``total_rows`` written (resumed rows included),
    certification ``rate`` (images/s since the certification started: with Ray, once the
    workers are ready), ``elapsed`` and ``eta`` seconds
    (NaN while the rate is unknown); ``chunk_done`` is False for a report within a chunk
    (only with ``live=True``)."""

    rows: int
    total_rows: int
    rate: float
    elapsed: float
    eta: float
    chunk_done: bool


def load_split(name: str, root: str | Path, split: str,
               download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of a dataset split (``ucan_core.io.datasets.load_NAME``); UcanError
    when this version has no loader for ``name``."""
    from ucan_core.io import datasets

    loader = getattr(datasets, f"load_{name}", None)
    if loader is None:
        raise UcanError(f"--dataset {name} is not available in this version "
                        f"(ucan_core.datasets has no load_{name} yet)")
    return loader(root, split, download=download)


def data_fingerprint(xs: torch.Tensor, labels: Sequence[int] | torch.Tensor,
                     indices: Sequence[int]) -> str:
    """SHA-256 of the run's images (float32 bytes, in run order) and labels: part of the
    settings, so a resume on other images (another --data-root) is refused."""
    digest = hashlib.sha256()
    for start in range(0, len(indices), 1000):
        chunk = list(indices[start:start + 1000])
        digest.update(xs[chunk].to(torch.float32).contiguous().numpy().tobytes())
        digest.update(torch.as_tensor(labels)[chunk].to(torch.int64).numpy().tobytes())
    return digest.hexdigest()


def run_file(out: str | Path) -> Path:
    """The settings file ``LOG.run.json`` of the log ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".run.json")


def check_run_file(out: str | Path, settings: Mapping[str, Any], has_rows: bool) -> None:
    """Resume only a log written with the same ``settings`` (kept in ``OUT.run.json``,
    written here for a new log); UcanError names the settings that changed."""
    out, path = Path(out), run_file(out)
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            raise UcanError(f"cannot read {path}: delete it or use another --out") from None
        if not isinstance(old, dict):
            raise UcanError(f"{path} is not a JSON object of settings: delete it or use "
                            "another --out")
        changed = sorted(k for k in settings.keys() | old.keys() if old.get(k) != settings.get(k))
        if changed:
            raise UcanError(f"{out} was written with other settings ({', '.join(changed)}): "
                            "resume with the same options or use another --out")
    elif has_rows:
        raise UcanError(f"{out} has rows but no {path.name} to check its settings: "
                        "use another --out")
    else:
        path.write_text(json.dumps(dict(settings), indent=2) + "\n")


def chunk_seed(seed: int, first_idx: int) -> int:
    """The seed of the chunk that starts at dataset index ``first_idx``: a function of
    (seed, first_idx) only, so a resumed run redraws exactly the same noise."""
    return derive_seed(seed, first_idx)


def pending_chunks(indices: Sequence[int], done: set[int], per_pass: int) -> list[list[int]]:
    """The chunks of ``per_pass`` consecutive ``indices`` that still miss a row (a partly
    written chunk is recomputed whole: same seed, same noise, same rows)."""
    chunks = [list(indices[i:i + per_pass]) for i in range(0, len(indices), per_pass)]
    return [chunk for chunk in chunks if not done.issuperset(chunk)]


def batch_certifier(classifier: Any, xs: torch.Tensor, n0: int, n: int, alpha: float,
                    batch_size: int = 1000) -> CertifyChunk:
    """``certify_chunk`` for a classifier with ``certify_batch`` (a SmoothedClassifier, Dual
    RS or routing) over the dataset images ``xs``; ``classifier`` may instead be a function
    of a chunk's first index that returns the classifier for that chunk (e.g. the noise of
    an input-dependent NPG, one input per chunk)."""
    pick = (lambda _: classifier) if hasattr(classifier, "certify_batch") else classifier

    def certify(chunk: list[int], seed: int, progress: ChunkProgress) -> Sequence[Any]:
        return pick(chunk[0]).certify_batch(xs[chunk], n0, n, alpha, batch_size, seed=seed,
                                            progress=progress)

    return certify


def certify_dataset(out: str | Path, indices: Sequence[int],
                    certify_chunk: CertifyChunk | PerWorker,
                    labels: Sequence[int] | torch.Tensor, settings: Mapping[str, Any], *,
                    seed: int = 0, inputs_per_pass: int = 10,
                    columns: tuple[str, ...] = UCAN_COLUMNS,
                    row: Callable[[int, int, Any], Any] = log_row,
                    progress: Callable[[RunProgress], None] | None = None, live: bool = False,
                    log: Callable[[str], None] | None = None, backend: str = "local",
                    workers: int | None = None, ray_address: str | None = None) -> Log:
    """Certify the dataset ``indices`` into the log ``out`` (module docstring) and return it.

    ``certify_chunk(chunk, seed, progress)`` certifies a chunk of ≤ ``inputs_per_pass``
    indices with the chunk's seed (:func:`chunk_seed`); ``row(idx, labels[idx], cert)``
    makes its rows (default :func:`~ucan_core.io.records.log_row`) under the header
    ``columns``. ``settings`` (everything that determines the rows) go to ``OUT.run.json``.
    ``progress`` gets a :class:`RunProgress` after every chunk, and with ``live`` also after
    every forward pass; ``log`` gets the line saying that a log is resumed.

    ``backend="ray"``: ``workers`` Ray actors certify the chunks (one model each; by default
    one per GPU, or per CPU, of the cluster), on a local cluster on 127.0.0.1 or on the
    cluster at ``ray_address``; ``certify_chunk`` is copied to each of them, or built in each
    when it is a :class:`~ucan_core.io.ray_backend.PerWorker`. ``live`` does not apply (the
    progress comes per chunk). The worker count is not part of the settings: any count
    resumes any log."""
    check_count("inputs_per_pass", inputs_per_pass)
    check_count("seed", seed, 0)
    if backend not in ("local", "ray"):
        raise UcanError(f"backend must be 'local' or 'ray', got {backend!r}")
    if backend == "local" and (workers not in (None, 1) or ray_address is not None):
        raise UcanError("workers and ray_address need backend='ray'")
    if workers is not None:
        check_count("workers", workers)
    out = Path(out)
    with LogWriter(out, columns) as writer:
        check_run_file(out, settings, bool(writer.done))
        done = set(writer.done)
        if (done or writer.dropped_line) and log is not None:
            cut = "; dropped a truncated last line" if writer.dropped_line else ""
            log(f"resuming {out}: {len(done)} of {len(indices)} rows done{cut}")
        if not done <= set(indices):
            raise UcanError(f"{out} has rows for idx outside this run "
                            f"(e.g. {min(done - set(indices))}): use another --out")
        todo = pending_chunks(indices, done, inputs_per_pass)
        tally = _Tally(len(done), len(indices), sum(map(len, todo)), progress)

        def write(chunk: list[int], certs: Sequence[Any]) -> None:
            new = [row(i, int(labels[i]), cert) for i, cert in zip(chunk, certs) if i not in done]
            for line in new:
                writer.write(line)
            tally.chunk_done(len(chunk), len(new))

        if backend == "ray":
            from ucan_core.io.ray_backend import certify_chunks

            certify_chunks(todo, seed, certify_chunk, write, workers=workers, address=ray_address,
                           ready=tally.restart)
        else:
            for chunk in todo:
                write(chunk, certify_chunk(chunk, chunk_seed(seed, chunk[0]),
                                           tally.within(len(chunk)) if live else None))
    return read_log(out)


class _Tally:
    """Rows written and images certified so far, reported as :class:`RunProgress`."""

    def __init__(self, rows: int, total_rows: int, images: int,
                 progress: Callable[[RunProgress], None] | None) -> None:
        self.rows, self.total_rows, self.images, self.progress = rows, total_rows, images, progress
        self.certified = self.base = 0.0
        self.start = time.perf_counter()

    def restart(self) -> None:
        """Start the clock again (the certification starts only now: workers are ready)."""
        self.start = time.perf_counter()

    def within(self, size: int) -> ChunkProgress:
        """A ``certify_batch`` progress callback for the next chunk of ``size`` images."""
        self.base = self.certified

        def update(done: int, total: int) -> None:
            self.certified = self.base + size * done / total
            self._report(False)

        return update

    def chunk_done(self, size: int, rows: int) -> None:
        self.certified = self.base = self.base + size
        self.rows += rows
        self._report(True)

    def _report(self, chunk_done: bool) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.start
        rate = self.certified / elapsed if elapsed > 0 else 0.0
        eta = (self.images - self.certified) / rate if rate > 0 else float("nan")
        self.progress(RunProgress(self.rows, self.total_rows, rate, elapsed, eta, chunk_done))
