"""The ``ucan`` command line: radius, certify, bench, train, models.

Errors are one line on stderr (``ucan: error: …``) and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ucan_core.errors import UcanError, parse_norm
from ucan_core.noises import NOISES, make_noise


def _params(pairs: Sequence[str]) -> dict[str, float]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UcanError(f"--param takes key=value, got {pair!r}")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise UcanError(f"--param {key} needs a number, got {value!r}") from None
    return params


def _finite(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _print_json(data: Any) -> None:
    def clean(obj: Any) -> Any:
        if isinstance(obj, float):
            return _finite(obj)
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [clean(v) for v in obj]
        return obj

    print(json.dumps(clean(data), indent=2, allow_nan=False))


def cmd_radius(args: argparse.Namespace) -> None:
    pa = float(args.pa)
    if not (0.5 < pa <= 1.0):
        raise UcanError(f"--pa must lie in (0.5, 1], got {args.pa}: at p_A <= 1/2 nothing is certified")
    noise = make_noise(args.noise, args.sigma, args.dim, **_params(args.param))
    norm = parse_norm(args.norm)
    radius = noise.radius(pa, norm)
    if args.json:
        _print_json({**radius.to_dict(), "radius": radius.value, "noise": noise.describe(),
                     "p_a": pa, "method": "closed"})
        return
    print(f"{radius.value:.6g}  ({radius.kind}, l{radius.norm}; {noise.title}, sigma={noise.sigma:g}, "
          f"d={noise.dim}, p_A={pa:g})")
    print(f"formula: {radius.formula}")


def _device(name: str) -> torch.device:
    from ucan_core.devices import resolve_device

    return resolve_device(name)


def _smoothing_noise(args: argparse.Namespace, shape: tuple[int, int, int], device: torch.device,
                     card_noise: dict[str, Any]) -> Any:
    from ucan_core.npg import build_noise

    name = args.noise or card_noise["name"]
    sigma = args.sigma if args.sigma is not None else card_noise["sigma"]
    params = {**card_noise.get("params", {}), **_params(args.param)} if not args.noise else _params(args.param)
    return build_noise(name, sigma, shape, npg=args.npg, pattern_norm=args.pattern_norm,
                       kappa=args.kappa, iota=args.iota, device=device, **params)


def cmd_certify(args: argparse.Namespace) -> None:
    from ucan_core.images import read_image, to_tensor
    from ucan_core.models import load_model
    from ucan_core.smoothing import SmoothedClassifier

    device = _device(args.device)
    model, card = load_model(args.model, device)
    arch = card.architecture
    x = to_tensor(read_image(args.image), arch.input_shape)
    noise = _smoothing_noise(args, arch.input_shape, device, card.noise)
    smoothed = SmoothedClassifier(model, noise, arch.num_classes)
    cert = smoothed.certify(x, args.n0, args.n, args.alpha, args.batch, seed=args.seed)
    data = cert.to_dict()
    data["predicted_name"] = None if cert.abstained else arch.classes[cert.prediction]
    data["model"], data["image"] = args.model, str(args.image)
    if args.json:
        _print_json(data)
        return
    name = "abstain" if cert.abstained else f"{cert.prediction} ({data['predicted_name']})"
    print(f"prediction: {name}")
    print(f"p_A lower bound: {cert.p_a_lower:.6f}  (n={cert.n}, alpha={cert.alpha:g}, "
          f"top count {max(cert.counts)})")
    print(f"radius: {cert.radius:.6g} in l{cert.norm} ({cert.kind}); ALM {cert.alm:.6g}")
    for label, radius in cert.radii.items():
        print(f"  l{label}: {radius.value:.6g} ({radius.kind})")
    print(f"soundness: {cert.soundness}: {cert.note}")


def cmd_bench(args: argparse.Namespace) -> None:
    from ucan_core.bench import benchmark
    from ucan_core.images import list_images, to_tensor
    from ucan_core.models import load_model

    device = _device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, card = load_model(args.model, device)
    arch = card.architecture
    pool = [img for img in list_images().values() if img.dataset == card.dataset]
    if len(pool) < args.inputs:
        raise UcanError(f"only {len(pool)} bundled {card.dataset} images for --inputs {args.inputs}")
    inputs = torch.stack([to_tensor(img.load(), arch.input_shape) for img in pool[:args.inputs]])
    noise = make_noise(card.noise["name"], card.noise["sigma"], math.prod(arch.input_shape),
                       device=device, **card.noise.get("params", {}))
    result = benchmark(model, noise, inputs, arch.num_classes, args.n, args.batch, args.repeats)
    _print_json({"model": args.model, **result})


def cmd_train(args: argparse.Namespace) -> None:
    from ucan_core.datasets import load_mnist
    from ucan_core.models import ARCHITECTURES, ModelCard, build_model, save_weights
    from ucan_core.training import TrainConfig, accuracy, train_classifier

    if args.dataset != "mnist":
        raise UcanError("only --dataset mnist is available in this version")
    device = _device(args.device)
    torch.manual_seed(args.seed)
    arch = ARCHITECTURES[args.arch]
    x_train, y_train = load_mnist(args.data_root, "train", download=args.download)
    x_test, y_test = load_mnist(args.data_root, "test", download=args.download)
    noise = make_noise(args.noise, args.sigma, math.prod(arch.input_shape), device=device,
                       **_params(args.param))
    model = build_model(args.arch)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=args.lr, seed=args.seed)
    losses = train_classifier(model, x_train, y_train, noise, config,
                              log=lambda line: print(line, file=sys.stderr))
    metrics = {"split": "test", "images": len(x_test),
               "clean_accuracy": accuracy(model, x_test, y_test),
               "noisy_accuracy": accuracy(model, x_test, y_test, noise, seed=args.seed)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_weights(model, out / f"{args.id}.safetensors")
    card = ModelCard(
        id=args.id, arch=args.arch, dataset=args.dataset, noise=noise.describe(),
        training={"split": "train", "images": len(x_train), "epochs": args.epochs,
                  "batch": args.batch, "lr": args.lr, "seed": args.seed, "optimizer":
                  "SGD nesterov, momentum 0.9, wd 5e-4, one-cycle", "final_loss": losses[-1]},
        metrics=metrics,
        command="ucan " + " ".join(shlex.quote(a) for a in args.argv),
        description=f"{args.arch} trained on {args.dataset} with {noise.title} noise "
                    f"sigma={noise.sigma:g} (Gaussian data augmentation, Cohen et al. 2019)")
    card.write(out / f"{args.id}.json")
    _print_json({"id": args.id, **metrics})


def cmd_models(args: argparse.Namespace) -> None:
    from ucan_core.models import list_models

    for model_id, card in list_models().items():
        acc = card.metrics.get("clean_accuracy")
        print(f"{model_id}\t{card.arch}\t{card.dataset}\t{card.noise['name']} sigma="
              f"{card.noise['sigma']:g}\tclean acc {acc:.4f}" if acc is not None else model_id)


def _add_noise_options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--noise", required=required, default=None, type=str.lower,
                   help=f"noise density: {', '.join(NOISES)}")
    p.add_argument("--sigma", type=float, required=required, default=None,
                   help="per-coordinate standard deviation (pixel units)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="extra noise parameter, e.g. shape=1.5 for gennorm")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ucan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("radius", help="closed-form certified radius for a noise, norm and p_A")
    _add_noise_options(p, required=True)
    p.add_argument("--norm", default="2", help="1, 2 or inf (any p > 0 by conversion)")
    p.add_argument("--pa", type=float, required=True, help="lower bound on p_A, in (0.5, 1]")
    p.add_argument("--dim", type=int, required=True, help="input dimension d")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_radius)

    p = sub.add_parser("certify", help="certify one image with a bundled model")
    p.add_argument("--model", required=True, help="bundled model id (see `ucan models`)")
    p.add_argument("--image", required=True, help="PNG or JPEG file")
    _add_noise_options(p, required=False)
    p.add_argument("--npg", default="isotropic", choices=("isotropic", "pattern"),
                   help="noise parameter generator")
    p.add_argument("--pattern-norm", default="2", help="pattern NPG norm: 1, 2 or inf")
    p.add_argument("--kappa", type=float, default=1.0, help="pattern NPG kappa")
    p.add_argument("--iota", type=float, default=1.0, help="pattern NPG iota")
    p.add_argument("--n0", type=int, default=100, help="selection samples")
    p.add_argument("--n", type=int, default=10_000, help="estimation samples")
    p.add_argument("--alpha", type=float, default=0.001, help="failure probability")
    p.add_argument("--batch", type=int, default=1000, help="samples per forward pass")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_certify)

    p = sub.add_parser("bench", help="certify throughput vs forward pass vs naive loop (JSON)")
    p.add_argument("--model", required=True)
    p.add_argument("--n", type=int, default=20_000, help="samples per input")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--inputs", type=int, default=1, help="inputs certified together")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train", help="train a base classifier with noise augmentation")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--arch", default="mnist_cnn")
    _add_noise_options(p, required=True)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--id", required=True, help="model id (file name)")
    p.add_argument("--data-root", default="data", help="folder with the dataset files")
    p.add_argument("--download", action="store_true", help="download the dataset with torchvision")
    p.add_argument("--out", default="assets/models", help="output folder")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("models", help="list the bundled models")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        args.func(args)
    except UcanError as error:
        print(f"ucan: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ucan: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
