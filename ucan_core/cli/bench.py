"""``ucan bench``: certify throughput against the bare forward pass and a naive loop."""

from __future__ import annotations

import argparse

import torch

from ucan_core.checks import check_count
from ucan_core.cli._common import _print_json
from ucan_core.devices import resolve_device
from ucan_core.errors import UcanError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="certify throughput vs forward pass vs naive loop (JSON)")
    p.add_argument("--model", required=True)
    p.add_argument("--n", type=int, default=20_000, help="samples per input")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--inputs", type=int, default=1, help="inputs certified together")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from ucan_core.bench import benchmark
    from ucan_core.io.images import to_tensor
    from ucan_core.npg.source import NoiseSource
    from ucan_core.zoo.bundled import list_images, load_model, load_npg

    check_count("--threads", args.threads, 0)
    dev = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, card = load_model(args.model, dev)
    arch = card.architecture
    pool = [img for img in list_images().values() if img.dataset == card.dataset]
    if len(pool) < args.inputs:
        raise UcanError(f"only {len(pool)} bundled {card.dataset} images for --inputs {args.inputs}")
    inputs = torch.stack([to_tensor(img.load(), arch.input_shape) for img in pool[:args.inputs]])
    # a learned NPG: its maps (for an input-dependent one, the first input's)
    noise = NoiseSource.of_model(args.model, card.noise, arch.input_shape,
                                 load_npg(args.model, dev), device=dev).at(inputs[0])
    result = benchmark(model, noise, inputs, arch.num_classes, args.n, args.batch, args.repeats)
    _print_json({"model": args.model, **result})
