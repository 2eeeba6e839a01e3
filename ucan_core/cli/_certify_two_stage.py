"""``ucan certify --dual`` (Dual RS) and ``--route`` (sound anisotropic routing)."""

from __future__ import annotations

import argparse
from typing import Any

from ucan_core.cli._certify_run import check_dataset_args, dataset_indices, dataset_run, show
from ucan_core.cli._common import _csv, warn_if_long
from ucan_core.devices import resolve_device
from ucan_core.errors import UcanError
from ucan_core.io.runs import batch_certifier, load_split


def dual(args: argparse.Namespace) -> None:
    """``--dual ESTIMATOR --experts IDS``: Dual RS of one image or a dataset."""
    from ucan_core.io.logs import DUAL_COLUMNS
    from ucan_core.two_stage.dual import load_dual

    if (args.model is not None or args.noise is not None or args.sigma is not None
            or args.param or args.npg != "isotropic"):
        raise UcanError("--dual smooths with Gaussian noise at the σ-estimator's levels and "
                        "routes to --experts: --model, --noise, --sigma, --param and --npg do "
                        "not apply")
    experts = _csv("--experts", args.experts)
    if args.dataset is not None:
        check_dataset_args(args)
    dual, card = load_dual(args.dual, experts, resolve_device(args.device))
    settings = {"dual": args.dual, "experts": experts, "levels": list(dual.levels),
                "sigma_e": dual.sigma_e}
    _two_stage(args, dual, card, f"σ-estimator {args.dual}", settings, DUAL_COLUMNS,
               {"estimator": args.dual, "experts": experts}, {})


def route(args: argparse.Namespace) -> None:
    """``--route SELECTOR``: sound anisotropic routing of one image or a dataset."""
    from ucan_core.io.logs import ROUTE_COLUMNS
    from ucan_core.two_stage.routing import load_router

    if (args.model is not None or args.dual is not None or args.experts is not None
            or args.noise is not None or args.sigma is not None or args.param
            or args.npg != "isotropic"):
        raise UcanError("--route takes its configurations and models from the selector's menu: "
                        "--model, --dual, --experts, --noise, --sigma, --param and --npg do "
                        "not apply")
    if args.dataset is not None:
        check_dataset_args(args)
    router, card = load_router(args.route, resolve_device(args.device))
    settings = {"route": args.route, "menu": list(router.names), "sigma_s": router.sigma_s}
    _two_stage(args, router, card, f"selector {args.route}", settings, ROUTE_COLUMNS,
               {"selector": args.route}, {e.name: e.model for e in router.entries})


def _two_stage(args: argparse.Namespace, router: Any, card: Any, what: str,
               settings: dict[str, Any], columns: tuple[str, ...], labels: dict[str, Any],
               models: dict[str, str]) -> None:
    """The two-stage ``router`` (``card``: its dataset and input shape) certifies the dataset
    images into the log, or the one image (``labels`` go into its JSON)."""
    from ucan_core.io.images import read_image, to_tensor

    def warn(x: Any, images: int) -> None:  # both stages: n0 = 1 and n = batch − 1 each
        n = max(1, args.batch - 1)
        warn_if_long(lambda: router.certify(x, 1, n, 0.001, args.batch, seed=0), 2 * (1 + n),
                     args.n0, args.n, images, stages=2)

    if args.dataset is None:
        x = to_tensor(read_image(args.image), card.architecture.input_shape)
        warn(x, 1)
        cert = router.certify(x, args.n0, args.n, args.alpha, args.batch, seed=args.seed)
        show(args, cert, {**labels, "image": str(args.image)}, models=models)
        return
    if card.dataset != args.dataset:
        raise UcanError(f"{what} is for {card.dataset}, not {args.dataset}")
    xs, ys = load_split(args.dataset, args.data_root, args.split, args.download)
    if getattr(args, "build_only", None) is None:  # not a Ray worker of this command
        warn(xs[0], len(dataset_indices(args, len(xs))))
    dataset_run(args, xs, ys, settings,
                 batch_certifier(router, xs, args.n0, args.n, args.alpha, args.batch), "l2",
                 columns)
