"""``ucan analyze``: certified-accuracy tables (and a plot) from certify logs."""

from __future__ import annotations

import argparse
import math

from ucan_core.errors import UcanError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="certified accuracy tables (and a plot) from certify logs")
    p.add_argument("logs", nargs="+", metavar="LOG", help="certify logs (Cohen's or ucan's)")
    p.add_argument("--radii", nargs="+", type=float, default=None, metavar="R",
                   help="radii of the table (default 0 0.25 0.5 0.75 1 1.5 2 2.5 3)")
    p.add_argument("--format", default="md", choices=("md", "csv", "json"), help="table format")
    p.add_argument("--alm", action="store_true",
                   help="also tabulate against the ALM column (automatic where it differs)")
    p.add_argument("--high-prob", nargs=2, type=float, metavar=("ALPHA", "RHO"),
                   help="Cohen's high-probability lower bounds instead of plain fractions")
    p.add_argument("--column", action="append", default=[], metavar="NAME",
                   help="also tabulate against this numeric log column where a log has it "
                        "(e.g. alm_upper of routing logs)")
    p.add_argument("--envelope", nargs="+", metavar="LOG",
                   help="add a row: the best certified accuracy of these logs at each radius")
    p.add_argument("--plot", metavar="FILE.html", help="write a Plotly HTML plot (offline)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from ucan_core.analysis import (
        DEFAULT_RADII,
        envelope,
        format_table,
        has_distinct_alm,
        summarize,
        write_plot,
    )
    from ucan_core.io.logs import read_log

    radii = DEFAULT_RADII if args.radii is None else tuple(args.radii)
    if not all(math.isfinite(r) and r >= 0 for r in radii):
        raise UcanError(f"--radii must be finite numbers >= 0, got {' '.join(map(str, radii))}")
    high_prob = tuple(args.high_prob) if args.high_prob else None
    lines = []
    for path in args.logs:
        log = read_log(path)
        lines.append((path, log, "radius"))
        if args.alm or has_distinct_alm(log):
            lines.append((path, log, "alm"))
        lines += [(path, log, column) for column in args.column if column in log.extra]
    summaries = [summarize(log, radii, measure, high_prob, name) for name, log, measure in lines]
    if args.envelope:
        summaries.append(envelope([summarize(read_log(path), radii, "radius", high_prob, path)
                                   for path in args.envelope],
                                  "envelope: best of " + ", ".join(args.envelope)))
    print(format_table(summaries, args.format), end="")
    if args.plot:
        write_plot(lines, args.plot, high_prob)
