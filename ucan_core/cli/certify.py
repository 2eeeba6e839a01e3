"""``ucan certify``: one image, or a dataset into a resumable certify log; standard smoothing
(``--model``), Dual RS (``--dual``) or sound routing (``--route``)."""

from __future__ import annotations

import argparse
from typing import Any

from ucan_core.cli._certify_run import (
    add_ray_options,
    check_dataset_args,
    dataset_indices,
    dataset_run,
    show,
)
from ucan_core.cli._certify_two_stage import dual, route
from ucan_core.cli._common import (
    add_data_options,
    add_noise_options,
    add_npg_options,
    add_sampling_options,
    noise_source,
    warn_if_long,
)
from ucan_core.devices import resolve_device
from ucan_core.errors import UcanError
from ucan_core.io.logs import SEQUENTIAL_COLUMNS
from ucan_core.io.runs import batch_certifier, load_split


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("certify", help="certify one image, or a dataset into a Cohen-format log")
    p.add_argument("--model", help="bundled model id (see `ucan models`)")
    # --model, --dual and --route exclude each other by hand-written checks, not an argparse
    # group: the tests assert the one-line messages that name what does not apply
    p.add_argument("--dual", metavar="ESTIMATOR",
                   help="Dual RS instead of --model: bundled sigma-estimator id")
    p.add_argument("--experts", metavar="ID[,ID...]",
                   help="Dual RS: bundled model per level of the estimator (or one for all)")
    p.add_argument("--route", metavar="SELECTOR",
                   help="sound anisotropic routing instead of --model: bundled selector id "
                        "(its menu names the configurations and models)")
    p.add_argument("--image", help="PNG or JPEG file (certify one image)")
    p.add_argument("--dataset", choices=("mnist", "cifar10"),
                   help="certify dataset images into the TSV log --out (resumed if it exists)")
    p.add_argument("--split", default="test", help="dataset split")
    p.add_argument("--skip", type=int, default=1, help="certify every SKIP-th image")
    p.add_argument("--max", type=int, default=None,
                   help="at most MAX images: indices range(0, N, SKIP)[:MAX] (a count; Cohen's "
                        "certify.py instead stops at dataset index MAX)")
    p.add_argument("--inputs-per-pass", type=int, default=10,
                   help="images certified together per certify_batch call")
    add_data_options(p)
    p.add_argument("--out", help="certification log (TSV) for --dataset")
    add_ray_options(p)
    add_noise_options(p, required=False)
    add_npg_options(p)
    add_sampling_options(p, n=10_000)
    seq = p.add_argument_group("sequential CERTIFY (anytime-valid: may stop early, stays sound)")
    seq.add_argument("--sequential", action="store_true",
                     help="draw estimation samples until the anytime-valid radius reaches "
                          "--target-radius (or the target is ruled out) or --n-max samples")
    seq.add_argument("--target-radius", type=float, default=None, metavar="R",
                     help="stop as soon as radius R is certified or ruled out (--sequential)")
    seq.add_argument("--n-max", type=int, default=None, metavar="N",
                     help="most estimation samples per input (--sequential; default --n)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    if (args.image is None) == (args.dataset is None):  # kept: the tests assert this message
        raise UcanError("give exactly one of --image PATH (one image) or --dataset NAME "
                        "(a certification log)")
    if not args.sequential and (args.target_radius is not None or args.n_max is not None):
        raise UcanError("--target-radius and --n-max need --sequential")
    if args.sequential and (args.route is not None or args.dual is not None):
        raise UcanError("--sequential applies to standard smoothing (--model), not to Dual RS "
                        "or routing")
    if args.route is not None:
        route(args)
    elif args.dual is not None:
        dual(args)
    elif args.model is None:
        raise UcanError("give --model MODEL, or --dual ESTIMATOR --experts IDS (Dual RS), or "
                        "--route SELECTOR (sound anisotropic routing)")
    else:
        _standard(args)


def _standard(args: argparse.Namespace) -> None:
    from ucan_core.certify.smoothed import SmoothedClassifier
    from ucan_core.io.images import read_image, to_tensor
    from ucan_core.zoo.bundled import load_model

    if args.dataset is not None:
        check_dataset_args(args)
    dev = resolve_device(args.device)
    model, card = load_model(args.model, dev)
    arch = card.architecture
    if args.dataset is None:
        x = to_tensor(read_image(args.image), arch.input_shape)
        noise = noise_source(args, arch.input_shape, dev, card.noise)(x)
        smoothed = SmoothedClassifier(model, noise, arch.num_classes)
        warn_if_long(lambda: smoothed.predict(x, args.batch, 0.001, args.batch, seed=0),
                     args.batch, args.n0, _n_max(args) if args.sequential else args.n, 1)
        if args.sequential:
            cert = smoothed.certify_sequential(x, args.n0, _n_max(args), args.alpha,
                                               args.target_radius, args.batch, seed=args.seed)
        else:
            cert = smoothed.certify(x, args.n0, args.n, args.alpha, args.batch, seed=args.seed)
        name = None if cert.abstained else arch.classes[cert.prediction]
        show(args, cert, {"predicted_name": name, "model": args.model,
                           "image": str(args.image)}, classes=arch.classes)
        return
    if card.dataset != args.dataset:
        raise UcanError(f"model {args.model} is for {card.dataset}, not {args.dataset}")
    xs, ys = load_split(args.dataset, args.data_root, args.split, args.download)
    per_input = card.npg == "input-dependent"
    if per_input:  # the noise is recomputed from each input: one input per pass
        args.inputs_per_pass = 1
    noise_for = noise_source(args, arch.input_shape, dev, card.noise)
    fixed = SmoothedClassifier(model, noise_for(xs[0] if per_input else None), arch.num_classes)

    def smoothed_at(first: int) -> SmoothedClassifier:
        return SmoothedClassifier(model, noise_for(xs[first]), arch.num_classes)

    if getattr(args, "build_only", None) is None:  # not a Ray worker of this command
        warn_if_long(lambda: fixed.predict(xs[0], args.batch, 0.001, args.batch, seed=0),
                     args.batch, args.n0, _n_max(args) if args.sequential else args.n,
                     len(dataset_indices(args, len(xs))))
    settings = {"model": args.model, "noise": fixed.noise.describe()}
    columns = None
    if args.sequential:
        n_max = _n_max(args)

        def certify(chunk: list[int], seed: int, progress: Any) -> list[Any]:
            smoothed = smoothed_at(chunk[0]) if per_input else fixed
            return smoothed.certify_sequential_batch(xs[chunk], args.n0, n_max, args.alpha,
                                                     args.target_radius, args.batch, seed=seed,
                                                     progress=progress)

        settings.update(sequential=True, target_radius=args.target_radius, n_max=n_max)
        columns = SEQUENTIAL_COLUMNS
    else:
        certify = batch_certifier(smoothed_at if per_input else fixed, xs, args.n0, args.n,
                                  args.alpha, args.batch)
    dataset_run(args, xs, ys, settings, certify, f"l{fixed.noise.native_norm:g}", columns)


def _n_max(args: argparse.Namespace) -> int:
    """The sample budget of a sequential run: --n-max, else --n."""
    from ucan_core.checks import check_count

    return check_count("--n-max", args.n_max if args.n_max is not None else args.n)
