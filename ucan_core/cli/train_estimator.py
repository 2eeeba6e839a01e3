"""``ucan train-estimator``: a Dual RS σ-estimator (``ucan_core.training.recipes``)."""

from __future__ import annotations

import argparse

from ucan_core.cli._common import _csv, _print_json, add_selector_training_options, run_options
from ucan_core.errors import UcanError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-estimator", help="train a Dual RS sigma-estimator")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--experts", required=True, metavar="ID[,ID...]",
                   help="bundled models whose votes build the labels: one per level, or one")
    p.add_argument("--levels", required=True, help="noise levels, increasing, e.g. 0.25,0.5,1")
    p.add_argument("--sigma-e", type=float, required=True,
                   help="Gaussian sigma_e smoothing the estimator (>= the largest level)")
    add_selector_training_options(p, train_images=10_000, val_images=2000, samples=16)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Soft labels from the experts' votes on the first ``--train-images`` training images,
    training under N(0, σ_e²I), metrics on the next ``--val-images`` (held out)."""
    from ucan_core.training.recipes import train_estimator
    from ucan_core.two_stage.selectors import check_levels

    try:
        levels = check_levels([float(v) for v in _csv("--levels", args.levels)])
    except ValueError as error:
        raise UcanError(f"--levels: {error}") from None
    experts = _csv("--experts", args.experts)
    _print_json(train_estimator(
        run_options(args), args.dataset, experts, levels, args.sigma_e,
        train_images=args.train_images, val_images=args.val_images, samples=args.samples,
        temperature=args.temperature, source=args.init_from))
