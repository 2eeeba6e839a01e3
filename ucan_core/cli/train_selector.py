"""``ucan train-selector``: a routing selector over a menu of fixed noise configurations
(``ucan_core.training.recipes``)."""

from __future__ import annotations

import argparse

from ucan_core.cli._common import _print_json, add_selector_training_options, run_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-selector", help="train a routing selector over a menu of fixed "
                                              "noise configurations (sound anisotropic routing)")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--menu", required=True, nargs="+", metavar="KIND=MODEL",
                   help="configurations: isotropic, pattern-l1, pattern-l2, pattern-linf "
                        "(isotropic models), universal (its NPG's maps), clusters:K (K frozen "
                        "clusters of an input-dependent NPG's maps), each =MODEL id")
    p.add_argument("--sigma-s", type=float, required=True,
                   help="Gaussian sigma_s smoothing the selector (>= the menu's largest "
                        "sigma * geometric mean of s)")
    p.add_argument("--measure", default="radius", choices=("radius", "alm"),
                   help="labels from each configuration's estimated l2 radius or ALM")
    p.add_argument("--kappa", type=float, default=1.0, help="pattern maps: kappa")
    p.add_argument("--iota", type=float, default=1.0, help="pattern maps: iota")
    add_selector_training_options(p, train_images=4000, val_images=1000, samples=8)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Labels and clusters from the first ``--train-images`` training images, metrics on the
    next ``--val-images`` (held out; the test set is not used)."""
    from ucan_core.training.recipes import train_selector

    _print_json(train_selector(
        run_options(args), args.dataset, args.menu, args.sigma_s, measure=args.measure,
        kappa=args.kappa, iota=args.iota, train_images=args.train_images,
        val_images=args.val_images, samples=args.samples, temperature=args.temperature,
        source=args.init_from))
