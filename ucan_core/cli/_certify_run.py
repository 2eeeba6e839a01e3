"""``ucan certify``'s output: one certificate as JSON or text, and the dataset run into a
resumable log (:func:`~ucan_core.io.runs.certify_dataset`) with its summary, in this process
or on Ray workers (``--workers``, ``--ray-address``)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ucan_core.cli._common import ProgressPrinter, _print_json
from ucan_core.errors import UcanError
from ucan_core.io.records import certificate_lines, record
from ucan_core.io.runs import CertifyChunk, certify_dataset, data_fingerprint


def show(args: argparse.Namespace, cert: Any, context: dict[str, Any],
          classes: Any = None, models: dict[str, str] | None = None) -> None:
    """One image's certificate: JSON with ``context`` when ``--json``, else text."""
    if args.json:
        _print_json(record(cert, **context))
    else:
        print("\n".join(certificate_lines(cert, classes, models)))


def add_ray_options(p: argparse.ArgumentParser) -> None:
    """--workers and --ray-address of ``certify --dataset``."""
    p.add_argument("--workers", type=int, default=None, metavar="K",
                   help="certify --dataset on K Ray workers, one model each (a local cluster "
                        "on 127.0.0.1 unless --ray-address; one per GPU when it has GPUs); "
                        "needs the ray extra")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="run the --dataset workers on the Ray cluster at ADDR (host:port of "
                        "`ray start --head`); K defaults to one per GPU (or CPU) of the cluster")


@dataclass(frozen=True)
class _SameCommand:
    """Builds, inside a Ray worker, the certifier of the same ``ucan certify`` command: its
    model on the worker's device (``--device``, e.g. auto: the worker's GPU) and its images
    from ``--data-root`` (made absolute by the driver), without running it."""

    args: argparse.Namespace

    def __call__(self) -> CertifyChunk:
        built: list[CertifyChunk] = []
        args = argparse.Namespace(**{**vars(self.args), "workers": None, "ray_address": None,
                                     "build_only": built.append})
        args.func(args)
        return built[0]


def check_dataset_args(args: argparse.Namespace) -> None:
    """The options of ``certify --dataset``, checked before any model or data is loaded."""
    from ucan_core.checks import check_count

    if args.out is None:
        raise UcanError("--dataset needs --out LOG.tsv")
    check_count("--skip", args.skip)
    check_count("--inputs-per-pass", args.inputs_per_pass)
    if args.max is not None:
        check_count("--max", args.max)
    if args.workers is not None:
        check_count("--workers", args.workers)
    if (args.workers or 1) > 1 or args.ray_address is not None:
        from ucan_core.io.ray_backend import require_ray

        require_ray()


def dataset_indices(args: argparse.Namespace, count: int) -> list[int]:
    """The dataset indices a run certifies: every ``--skip``-th of ``count``, at most ``--max``."""
    return list(range(0, count, args.skip))[:args.max]


def dataset_run(args: argparse.Namespace, xs: Any, ys: Any, settings: dict[str, Any],
                 certify: CertifyChunk, norm: str, columns: tuple[str, ...] | None = None) -> None:
    """Every ``--skip``-th image (at most ``--max``) into the log ``--out``
    (:func:`~ucan_core.io.runs.certify_dataset`), then the certified-accuracy summary."""
    from ucan_core.analysis import DEFAULT_RADII, format_table, summarize
    from ucan_core.io.logs import UCAN_COLUMNS
    from ucan_core.io.ray_backend import PerWorker

    if getattr(args, "build_only", None) is not None:  # a Ray worker of this command
        args.build_only(certify)
        return
    ray = (args.workers or 1) > 1 or args.ray_address is not None
    indices = dataset_indices(args, len(xs))
    settings = {**settings, "dataset": args.dataset, "split": args.split, "skip": args.skip,
                "max": args.max, "n0": args.n0, "n": args.n, "alpha": args.alpha,
                "batch": args.batch, "seed": args.seed, "inputs_per_pass": args.inputs_per_pass,
                "data_sha256": data_fingerprint(xs, ys, indices)}
    printer = ProgressPrinter()
    if ray:
        certify = PerWorker(_SameCommand(argparse.Namespace(
            **{**vars(args), "data_root": str(Path(args.data_root).resolve())})))
    log = certify_dataset(args.out, indices, certify, ys, settings,
                          seed=args.seed, inputs_per_pass=args.inputs_per_pass,
                          columns=columns or UCAN_COLUMNS, progress=printer,
                          live=printer.tty and not ray, log=lambda line: print(line, file=sys.stderr),
                          backend="ray" if ray else "local",
                          workers=args.workers if ray else None, ray_address=args.ray_address)
    printer.close()
    summary = summarize(log, DEFAULT_RADII)
    if args.json:
        print(format_table([summary], "json"), end="")
        return
    print(f"{Path(args.out)}: {summary.rows} rows; certified accuracy at r = fraction of rows with "
          f"correct = 1 and {norm} radius >= r")
    print(format_table([summary], "md"), end="")
