"""``ucan tightness``: the universal radius against every closed form (UniCR Fig. 4)."""

from __future__ import annotations

import argparse

from ucan_core.cli._common import _floats
from ucan_core.errors import UcanError
from ucan_core.universal import tightness


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tightness", help="universal radius vs every closed form (UniCR Fig. 4)")
    p.add_argument("--dims", default="784,3072", help="comma-separated dimensions")
    p.add_argument("--pa", default=",".join(map(str, tightness.P_VALUES)),
                   help="comma-separated p_A values")
    p.add_argument("--sigma", type=float, default=0.5, help="noise standard deviation")
    p.add_argument("--all", action="store_true",
                   help="also the lower-bound closed forms (Pareto, Exp-ℓ2)")
    p.add_argument("--format", choices=("md", "csv", "json"), default="md")
    p.add_argument("--plot", help="write the Fig. 4 reproduction (HTML) here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    dims = _floats("--dims", args.dims)
    if not all(d.is_integer() for d in dims):
        raise UcanError(f"--dims needs comma-separated integers, got {args.dims!r}")
    dims = [int(d) for d in dims]
    p_values = _floats("--pa", args.pa)
    cases = tightness.TIGHT_CASES + (tightness.BOUND_CASES if args.all else ())
    rows = tightness.validate(cases, dims, p_values, sigma=args.sigma)
    if args.format == "md":
        print(tightness.report(rows, p_values, args.sigma), end="")
    else:
        print(tightness.format_rows(rows, args.format), end="")
    if args.plot:
        tightness.write_figure(args.plot, sigma=args.sigma, dim=max(dims))
