"""``ucan iopt``: per-input hill climbing of the gennorm noise (``ucan_core.optimize.iopt``)."""

from __future__ import annotations

import argparse

from ucan_core.cli._common import _floats, _print_json, add_sampling_options, log_line
from ucan_core.devices import resolve_device
from ucan_core.errors import UcanError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("iopt", help="I-OPT: per-input hill climbing of the gennorm noise "
                                    "(input-dependent, Bonferroni-corrected)")
    p.add_argument("--model", required=True, help="bundled isotropic model (Gaussian or gennorm)")
    p.add_argument("--image", required=True, help="PNG or JPEG file")
    p.add_argument("--norm", default="2", help="norm of the radius: 1, 2, inf or any p > 0")
    p.add_argument("--max-evals", type=int, default=10,
                   help="K: most noise configurations evaluated; each bound at alpha/K")
    p.add_argument("--shape-step", type=float, default=0.25, help="hill-climbing step in shape")
    p.add_argument("--scale-step", type=float, default=0.1,
                   help="hill-climbing step in the sigma multiplier")
    p.add_argument("--shape-range", default="1,8", help="LOW,HIGH shapes searched (LOW > 0)")
    p.add_argument("--scale-range", default="0.25,4", help="LOW,HIGH sigma multipliers searched")
    add_sampling_options(p, n=10_000, per=" per evaluation",
                         alpha_help="family-wise failure probability")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from ucan_core.io.images import read_image, to_tensor
    from ucan_core.npg.source import NoiseSource
    from ucan_core.optimize.iopt import iopt
    from ucan_core.zoo.bundled import load_model

    dev = resolve_device(args.device)
    model, card = load_model(args.model, dev)
    if card.npg != "isotropic":
        raise UcanError(f"model {args.model} has a learned {card.npg} NPG; I-OPT starts from an "
                        "isotropic training noise")
    arch = card.architecture
    x = to_tensor(read_image(args.image), arch.input_shape)
    noise = NoiseSource.of_model(args.model, card.noise, arch.input_shape, None, device=dev).fixed
    low_s, high_s = _floats("--shape-range", args.shape_range, 2)
    low_m, high_m = _floats("--scale-range", args.scale_range, 2)
    result = iopt(model, x, arch.num_classes, noise, args.norm, max_evals=args.max_evals,
                  n0=args.n0, n=args.n, alpha=args.alpha, batch=args.batch, seed=args.seed,
                  shape_step=args.shape_step, scale_step=args.scale_step,
                  shape_range=(low_s, high_s), scale_range=(low_m, high_m), log=log_line)
    if args.json:
        _print_json({"model": args.model, "image": str(args.image), **result.to_dict()})
        return
    best, first, ref = result.selected, result.evaluations[0], result.reference
    print(f"target class: {result.target} (first evaluation's selection samples)")
    for label, e in (("selected", best), ("start", first)):
        print(f"{label}: gennorm shape={e.shape:g} sigma={e.sigma:g} (scale {e.scale:g}): "
              f"p_A lower bound {e.p_a_lower:.6f} (alpha/K = {result.alpha_each:g}), radius "
              f"{e.radius:.6g} in l{result.norm} ({e.kind})")
    print(f"reference (deployed classifier, training noise, alpha={ref['alpha']:g}): prediction "
          f"{ref['prediction']}, p_A lower bound {ref['p_a_lower']:.6f}, radius "
          f"{ref['radius']:.6g} ({ref['kind']}, {ref['soundness']})")
    print(f"soundness: {result.soundness}: {result.note}")
    print(f"statistics: {result.statement}")
