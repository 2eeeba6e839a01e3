"""``ucan certify``'s output: one certificate as JSON or text, and the dataset run into a
resumable log (:func:`~ucan_core.io.runs.certify_dataset`) with its summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ucan_core.cli._common import ProgressPrinter, _print_json
from ucan_core.errors import UcanError
from ucan_core.io.records import certificate_lines, record
from ucan_core.io.runs import CertifyChunk, certify_dataset


def show(args: argparse.Namespace, cert: Any, context: dict[str, Any],
          classes: Any = None, models: dict[str, str] | None = None) -> None:
    """One image's certificate: JSON with ``context`` when ``--json``, else text."""
    if args.json:
        _print_json(record(cert, **context))
    else:
        print("\n".join(certificate_lines(cert, classes, models)))


def check_dataset_args(args: argparse.Namespace) -> None:
    """The options of ``certify --dataset``, checked before any model or data is loaded."""
    from ucan_core.checks import check_count

    if args.out is None:
        raise UcanError("--dataset needs --out LOG.tsv")
    check_count("--skip", args.skip)
    check_count("--inputs-per-pass", args.inputs_per_pass)
    check_count("--seed", args.seed, 0)
    if args.max is not None:
        check_count("--max", args.max)


def dataset_run(args: argparse.Namespace, xs: Any, ys: Any, settings: dict[str, Any],
                 certify: CertifyChunk, norm: str, columns: tuple[str, ...] | None = None) -> None:
    """Every ``--skip``-th image (at most ``--max``) into the log ``--out``
    (:func:`~ucan_core.io.runs.certify_dataset`), then the certified-accuracy summary."""
    from ucan_core.analysis import DEFAULT_RADII, format_table, summarize
    from ucan_core.io.logs import UCAN_COLUMNS

    indices = list(range(0, len(xs), args.skip))[:args.max]
    settings = {**settings, "dataset": args.dataset, "split": args.split, "skip": args.skip,
                "max": args.max, "n0": args.n0, "n": args.n, "alpha": args.alpha,
                "batch": args.batch, "seed": args.seed, "inputs_per_pass": args.inputs_per_pass}
    printer = ProgressPrinter()
    log = certify_dataset(args.out, indices, certify, ys, settings, seed=args.seed,
                          inputs_per_pass=args.inputs_per_pass, columns=columns or UCAN_COLUMNS,
                          progress=printer, live=printer.tty,
                          log=lambda line: print(line, file=sys.stderr))
    printer.close()
    summary = summarize(log, DEFAULT_RADII)
    if args.json:
        print(format_table([summary], "json"), end="")
        return
    print(f"{Path(args.out)}: {summary.rows} rows; certified accuracy at r = fraction of rows with "
          f"correct = 1 and {norm} radius >= r")
    print(format_table([summary], "md"), end="")
