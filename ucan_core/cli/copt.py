"""``ucan copt``: C-OPT grid search of the gennorm shape (``ucan_core.optimize.copt``)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ucan_core.cli._common import (
    _floats,
    _print_json,
    add_data_options,
    add_sampling_options,
    command_line,
    log_line,
)
from ucan_core.devices import resolve_device
from ucan_core.errors import UcanError
from ucan_core.io.runs import load_split
from ucan_core.norms import parse_norm


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("copt", help="C-OPT: grid search of the gennorm shape (train, certify, "
                                    "robustness score per shape)")
    p.add_argument("--dataset", default="mnist", choices=("mnist", "cifar10"))
    p.add_argument("--arch", default="mnist_cnn", help="architecture trained per grid point")
    p.add_argument("--shapes", required=True, help="gennorm shapes s > 0, e.g. 0.5,1,2,4")
    p.add_argument("--sigmas", required=True, help="per-coordinate std sigmas, e.g. 0.25,0.5")
    p.add_argument("--norm", default="1", help="norm of the radii: 1, 2, inf or any p > 0")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-size", type=int, default=10_000, help="first N training images")
    p.add_argument("--train-batch", type=int, default=128, help="training batch size")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--test-every", type=int, default=100, help="certify every K-th test image")
    p.add_argument("--test-start", type=int, default=0, help="first test image certified")
    add_sampling_options(p, n=1000, alpha_help="failure probability per certificate")
    add_data_options(p)
    p.add_argument("--out", required=True, help="output folder (logs, copt.csv, copt.json)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """One certify log per grid point, then ``copt.csv`` (certified accuracy) and
    ``copt.json`` (scores, settings, command)."""
    from ucan_core.analysis import format_table
    from ucan_core.checks import check_count
    from ucan_core.optimize.copt import check_grid, copt
    from ucan_core.training.classifier import TrainConfig

    shapes, sigmas = check_grid(_floats("--shapes", args.shapes), _floats("--sigmas", args.sigmas))
    norm = parse_norm(args.norm)
    for option in ("--train-size", "--test-every", "--epochs", "--train-batch"):
        check_count(option, getattr(args, option[2:].replace("-", "_")))
    check_count("--test-start", args.test_start, 0)
    dev = resolve_device(args.device)
    x_train, y_train = load_split(args.dataset, args.data_root, "train", args.download)
    if args.train_size > len(x_train):
        raise UcanError(f"--train-size {args.train_size} exceeds the {len(x_train)} training "
                        "images")
    test = load_split(args.dataset, args.data_root, "test", args.download)
    indices = list(range(args.test_start, len(test[0]), args.test_every))
    config = TrainConfig(epochs=args.epochs, batch_size=args.train_batch, lr=args.lr,
                         seed=args.seed)
    out = Path(args.out)
    began = time.perf_counter()
    result = copt((x_train[:args.train_size], y_train[:args.train_size]), test, indices, shapes,
                  sigmas, norm, out, arch=args.arch, config=config, n0=args.n0, n=args.n,
                  alpha=args.alpha, batch=args.batch, device=dev, log=log_line)
    settings = {"dataset": args.dataset, "arch": args.arch, "train_images": args.train_size,
                "epochs": args.epochs, "train_batch": args.train_batch, "lr": args.lr,
                "seed": args.seed, "test_indices": f"range({args.test_start}, {len(test[0])}, "
                                                   f"{args.test_every})", "n0": args.n0,
                "n": args.n, "alpha": args.alpha, "device": str(dev)}
    data = {"method": "C-OPT grid search over gennorm shape at fixed sigma (UniCR 4.2)",
            "score": "robustness score of a shape = sum over the sigmas of the area under its "
                     "certified-accuracy curve, = sum of ACRs",
            "note": "each grid point's certificates hold for its own smoothed classifier; the "
                    "best shape is selected on these test images (optimistic): certify it on "
                    "other images to report it",
            "command": command_line(args),
            "seconds": time.perf_counter() - began, "settings": settings, **result.to_dict()}
    (out / "copt.csv").write_text(format_table(result.summaries, "csv"))
    (out / "copt.json").write_text(json.dumps(data, indent=2) + "\n")
    if args.json:
        _print_json(data)
        return
    print(f"C-OPT, l{result.norm} radii, {result.images} test images (logs in {out}):")
    print(format_table(result.summaries, "md"), end="")
    for shape, score in result.scores.items():
        print(f"robustness score shape={shape}: {score:.4f} (sum over sigma "
              f"{', '.join(f'{s:g}' for s in sigmas)} of the area = ACR)")
    print(f"best shape: {result.best_shape:g}")
