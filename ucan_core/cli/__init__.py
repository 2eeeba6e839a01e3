"""The ``ucan`` command line: radius, certify, analyze, bench, train, models.

One module per command (``add_parser`` registers it, ``run`` runs it); the engine workflows
they call take explicit parameters (``ucan_core.io.runs``, ``ucan_core.audit.replay``,
``ucan_core.training.recipes``). Errors are one line on stderr (``ucan: error: …``) and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from ucan_core.cli import (
    analyze,
    audit,
    bench,
    certify,
    copt,
    iopt,
    models,
    radius,
    tightness,
    train,
    train_estimator,
    train_selector,
)
from ucan_core.errors import UcanError

#: The commands in the order ``ucan --help`` lists them.
COMMANDS = (radius, tightness, certify, bench, train, train_estimator, train_selector, analyze,
            audit, copt, iopt, models)


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, like every other error of the CLI (its
    subcommand parsers are of the same class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ucan: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ucan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        args.func(args)
    except UcanError as error:
        print(f"ucan: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ucan: interrupted", file=sys.stderr)
        return 130
    return 0


__all__ = ["build_parser", "main"]
