"""``ucan audit``: attack the certificates of a certify log, or of one image, on the deployed
smoothed classifier (``ucan_core.audit.replay``)."""

from __future__ import annotations

import argparse
import sys

from ucan_core.cli._common import (
    _print_json,
    add_data_options,
    add_noise_options,
    noise_source,
    seed_value,
)
from ucan_core.devices import resolve_device
from ucan_core.errors import UcanError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="attack certificates on the deployed smoothed classifier "
                                     "(PGD, random and boundary directions, high-n verification)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("log", nargs="?",
                        help="a `ucan certify --dataset` log (LOG.run.json beside it)")
    p.add_argument("--model", help="bundled model id (with --image)")
    source.add_argument("--image", help="PNG or JPEG: certify it, then audit that certificate")
    add_data_options(p, "the log's dataset files")
    p.add_argument("--max", type=int, default=None, help="audit the first MAX rows of the log")
    p.add_argument("--norms", nargs="+", default=None, metavar="P",
                   help="attacked norms among 1 2 inf (default: the noise's native norm)")
    p.add_argument("--region", default="ball", choices=("ball", "region"),
                   help="attack the certified lp ball, or the whole anisotropic region |delta/s|_p <= R")
    p.add_argument("--frozen", action="store_true",
                   help="input-dependent NPG: attack the classifier frozen at the certified input")
    add_noise_options(p, required=False)
    p.set_defaults(npg="isotropic", pattern_norm="2", kappa=1.0, iota=1.0)
    for name, kind, text in (
            ("steps", int, "PGD steps"), ("restarts", int, "PGD random starts"),
            ("draws", int, "noise draws per PGD step"), ("step-size", float, "PGD step / radius"),
            ("directions", int, "random boundary directions"),
            ("screen", int, "votes per candidate to pick the one verified"),
            ("n-verify", int, "fresh samples verifying it"),
            ("audit-alpha", float, "level of the verification bound"),
            ("batch", int, "samples per forward pass")):
        p.add_argument(f"--{name}", type=kind, default=None, help=f"{text} (default: AttackBudget's)")
    for name, kind, default, text in (
            ("n0", int, 100, "selection samples (--image)"),
            ("n", int, 10_000, "estimation samples (--image)"),
            ("alpha", float, 0.001, "certification failure probability (--image)"),
            ("seed", seed_value, 0, "random seed")):
        p.add_argument(f"--{name}", type=kind, default=default, help=text)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON (summary and every certificate)")
    p.set_defaults(func=run)


def _progress(done: int, total: int, violations: int) -> None:
    print(f"audit: {done}/{total} certificates, {violations} violation(s)", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    from ucan_core.audit import replay
    from ucan_core.audit.attack import AttackBudget
    from ucan_core.certify.smoothed import SmoothedClassifier
    from ucan_core.checks import check_count
    from ucan_core.io.images import read_image, to_tensor
    from ucan_core.zoo.bundled import load_model, load_npg

    if (args.log is None) == (args.image is None):  # kept: neither is the tested message
        raise UcanError("give exactly one of LOG (a `ucan certify --dataset` log) or --image PATH "
                        "with --model (one certificate)")
    options = {"steps": args.steps, "restarts": args.restarts, "draws": args.draws,
               "step_size": args.step_size, "directions": args.directions, "screen": args.screen,
               "n_verify": args.n_verify, "alpha": args.audit_alpha, "batch_size": args.batch}
    budget = AttackBudget(**{k: v for k, v in options.items() if v is not None})
    if args.max is not None:
        check_count("--max", args.max)
    logged: dict = {}
    rows: list = []
    if args.log is not None:
        opened = replay.open_log(args.log, args.data_root, args.download, args.max)
        if opened.two_stage:
            if args.model or args.frozen or args.region != "ball":
                raise UcanError("a Dual RS or routing log names its own models, and its "
                                "certificate is an lp ball: --model, --frozen and --region "
                                "region do not apply")
            results = replay.audit_two_stage_log(opened, budget, device=resolve_device(args.device),
                                                 norms=args.norms, seed=args.seed,
                                                 progress=_progress)
            _report(args, opened.name, budget, results)
            return
        args.model, logged, rows = replay.single_noise_rows(opened)
    elif args.model is None:
        raise UcanError("--image needs --model")
    dev = resolve_device(args.device)
    model, card = load_model(args.model, dev)
    arch = card.architecture
    noise_for = noise_source(args, arch.input_shape, dev, logged or card.noise)
    if args.image is not None:
        x = to_tensor(read_image(args.image), arch.input_shape)
        cert = SmoothedClassifier(model, noise_for(x), arch.num_classes).certify(
            x, args.n0, args.n, args.alpha, budget.batch_size, seed=args.seed)
        rows = [replay.certificate_row(x, cert)]
    elif rows:
        replay.check_logged_noise(logged, noise_for(rows[0][1]), args.model)
    generator = (load_npg(args.model, dev) if card.npg == "input-dependent" and not args.frozen
                 else None)
    results = replay.audit_rows(model, arch.num_classes, noise_for, rows, budget,
                                norms=args.norms, region=args.region, generator=generator,
                                seed=args.seed, progress=_progress)
    _report(args, args.model, budget, results)


def _report(args: argparse.Namespace, name: str, budget: object, results: list) -> None:
    """The audit: JSON with ``--json``, else the summary table."""
    from ucan_core.audit import replay

    if args.json:
        _print_json(replay.report(name, budget, results))
        return
    print(replay.report_text(args.log or args.image, name, budget, results), end="")
