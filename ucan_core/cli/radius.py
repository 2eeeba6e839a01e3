"""``ucan radius``: the certified radius of a noise, norm and p_A (closed form or universal)."""

from __future__ import annotations

import argparse
import math

from ucan_core import universal
from ucan_core.certify.radii import uses_closed_form
from ucan_core.cli._common import _params, _print_json, add_noise_options
from ucan_core.errors import UcanError
from ucan_core.noises.catalog import make_noise
from ucan_core.norms import parse_norm


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("radius", help="certified radius for a noise, norm and p_A "
                                      "(closed form or universal numerical search)")
    add_noise_options(p, required=True)
    p.add_argument("--norm", default="2",
                   help="any p > 0 or inf (closed forms: 1, 2, inf direct, others by conversion)")
    p.add_argument("--pa", type=float, required=True,
                   help="lower bound on p_A, in (0.5, 1] (1: closed forms only; an unbounded "
                        "radius is JSON null with radius_note \"unbounded\")")
    p.add_argument("--pb", type=float, default=None,
                   help="upper bound on p_B (universal only; default binary p_B = 1 - p_A)")
    p.add_argument("--dim", type=int, required=True, help="input dimension d")
    p.add_argument("--method", choices=("auto", "closed", "universal"), default="auto",
                   help="closed form, universal Neyman–Pearson search (UniCR), or auto: the "
                        "closed form where the noise has one (exact or sound), else universal")
    p.add_argument("--mode", choices=universal.MODES, default="approximate",
                   help="universal only: approximate (plug-in) or conservative (Monte Carlo "
                        "with a DKW bound, holds with probability >= 1 - alpha_np)")
    p.add_argument("--samples", type=int, default=universal.Settings.conservative_samples,
                   help="conservative mode: Monte Carlo draws of the likelihood ratio (at most "
                        f"{universal.Settings().max_samples:,}: a 4 GiB bound)")
    p.add_argument("--alpha-np", type=float, default=universal.Settings.alpha_np,
                   help="conservative mode: failure probability of the DKW bound")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    pa = float(args.pa)
    if not (0.5 < pa <= 1.0):
        raise UcanError(f"--pa must lie in (0.5, 1], got {args.pa}: at p_A <= 1/2 nothing is certified")
    noise = make_noise(args.noise, args.sigma, args.dim, **_params(args.param))
    norm = parse_norm(args.norm)
    method = args.method
    if method == "auto":
        method = "closed" if uses_closed_form(noise, norm) and args.pb is None else "universal"
    if method == "closed":
        if args.pb is not None:
            raise UcanError("--pb needs --method universal (closed forms are binary, p_B = 1 - p_A)")
        radius = noise.radius(pa, norm)
        result = {**radius.to_dict(), "radius": radius.value}
    else:
        settings = universal.Settings(conservative_samples=args.samples, alpha_np=args.alpha_np)
        curve = universal.universal_radius(noise, pa, norm, args.mode, settings, p_b=args.pb)
        result = {**universal.search.describe(curve),
                  "formula": "universal Neyman–Pearson search (UniCR)"}
    if args.json:
        _print_json({**result, "noise": noise.describe(), "p_a": pa, "p_b": args.pb,
                     "method": method})
        return
    value = "unbounded (inf)" if math.isinf(result["radius"]) else f"{result['radius']:.6g}"
    print(f"{value}  ({result['kind']}, l{result['norm']}; {noise.title}, "
          f"sigma={noise.sigma:g}, d={noise.dim}, p_A={pa:g}; {method})")
    print(f"formula: {result['formula']}")
    if method == "universal":
        print(f"worst direction: {result['worst_direction']}")
        print(result["statement"])
