"""``ucan train``: a base classifier trained with noise augmentation, optionally jointly with
a learned NPG (UCAN) or at every Dual RS level (``ucan_core.training.recipes``)."""

from __future__ import annotations

import argparse

from ucan_core.cli._common import (
    _floats,
    _params,
    _print_json,
    add_noise_options,
    add_training_options,
    run_options,
)
from ucan_core.zoo.architectures import ARCHITECTURES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a base classifier with noise augmentation")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--arch", default="mnist_cnn", choices=tuple(ARCHITECTURES),
                   help="base classifier architecture")
    add_noise_options(p, required=True)
    add_training_options(p, epochs=10, out="assets/models")
    p.add_argument("--npg", default="isotropic", choices=("isotropic", "universal", "input-dependent"),
                   help="learned noise parameter generator trained jointly (UCAN); the noise "
                        "options give the base noise")
    p.add_argument("--gamma-mu", type=float, default=0.25, help="NPG: |mu| <= gamma_mu (pixels)")
    p.add_argument("--gamma-s", type=float, default=2.0, help="NPG: scale map s <= gamma_s")
    p.add_argument("--s-min", type=float, default=0.1, help="NPG: scale map s >= s_min > 0")
    p.add_argument("--variance-loss", default="mean", choices=("mean", "min"),
                   help="NPG: maximise mean(s) (ALM) or min(s) (lp radius)")
    p.add_argument("--variance-weight", type=float, default=0.2, help="NPG: weight of the variance loss")
    p.add_argument("--draws", type=int, default=2, help="NPG: noise draws per image and step")
    p.add_argument("--npg-lr", type=float, default=1e-3, help="NPG: Adam learning rate")
    p.add_argument("--val", type=int, default=5000,
                   help="NPG: last VAL training images held out for model selection")
    p.add_argument("--width", type=int, default=16, help="input-dependent NPG: channels")
    p.add_argument("--hidden", default="16,32,64,128", help="universal NPG: MLP hidden widths")
    p.add_argument("--init-from", default=None, metavar="MODEL",
                   help="start the classifier from a bundled model's weights (fine-tuning)")
    p.add_argument("--train-images", type=int, default=0,
                   help="use only the first N training images (quick runs; 0 = all)")
    p.add_argument("--levels", default=None, metavar="S1,S2,...",
                   help="isotropic: draw each image's noise level from these (increasing, "
                        "--sigma among them): one expert for every Dual RS level")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from ucan_core.training.recipes import NPGOptions, train_model

    npg = None
    if args.npg != "isotropic":
        hidden = tuple(int(h) for h in args.hidden.split(",")) if args.npg == "universal" else ()
        npg = NPGOptions(args.npg, gamma_mu=args.gamma_mu, gamma_s=args.gamma_s,
                         s_min=args.s_min, variance_loss=args.variance_loss,
                         variance_weight=args.variance_weight, draws=args.draws,
                         npg_lr=args.npg_lr, val=args.val, width=args.width, hidden=hidden)
    levels = _floats("--levels", args.levels) if args.levels else None
    _print_json(train_model(run_options(args), args.dataset, args.arch, args.noise, args.sigma,
                            _params(args.param), source=args.init_from,
                            train_images=args.train_images, levels=levels, npg=npg))
