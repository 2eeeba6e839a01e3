"""The ``ucan`` command line: radius, certify, analyze, bench, train, models.

Errors are one line on stderr (``ucan: error: …``) and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from collections.abc import Callable, Sequence
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
                     card_noise: dict[str, Any]) -> Callable[[torch.Tensor | None], Any]:
    """A function x ↦ the smoothing noise for input ``x``: the model's learned NPG when its
    card has one (loaded once, evaluated on ``x``; a universal NPG needs no input), else
    isotropic or pattern noise (the same for every input)."""
    from ucan_core.models import load_npg
    from ucan_core.npg import build_noise

    name = args.noise or card_noise["name"]
    sigma = args.sigma if args.sigma is not None else card_noise["sigma"]
    params = {**card_noise.get("params", {}), **_params(args.param)} if not args.noise else _params(args.param)
    generator = load_npg(args.model, device) if getattr(args, "model", None) else None
    if generator is None:
        noise = build_noise(name, sigma, shape, npg=args.npg, pattern_norm=args.pattern_norm,
                            kappa=args.kappa, iota=args.iota, device=device, **params)
        return lambda x: noise
    from ucan_core.generators import smoothing_noise

    if args.npg != "isotropic":
        raise UcanError(f"model {args.model} has a learned {generator.kind} NPG; "
                        f"--npg {args.npg} applies to isotropic models only")
    base = make_noise(name, sigma, math.prod(shape), device=device, **params)

    def for_input(x: torch.Tensor | None) -> Any:
        if x is None:
            if generator.input_dependent:
                raise UcanError(f"model {args.model} has an input-dependent NPG: its noise is "
                                "computed from each input")
            x = torch.zeros(shape)
        return smoothing_noise(generator, base, x)

    return for_input


def _load_split(name: str, root: str, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from ucan_core import datasets

    loader = getattr(datasets, f"load_{name}", None)
    if loader is None:
        raise UcanError(f"--dataset {name} is not available in this version "
                        f"(ucan_core.datasets has no load_{name} yet)")
    return loader(root, split, download=download)


def _chunk_seed(seed: int, first_idx: int) -> int:
    """The seed of the chunk that starts at dataset index ``first_idx``: a function of
    (seed, first_idx) only, so a resumed run redraws exactly the same noise."""
    import numpy as np

    return int(np.random.SeedSequence([seed, first_idx]).generate_state(1)[0])


def _clock(seconds: float) -> str:
    seconds = round(seconds) if math.isfinite(seconds) else 0
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Progress:
    """Progress on stderr: rows written, certification rate and ETA. On a TTY one line
    rewritten in place (\\r) after every forward pass; otherwise one line per chunk."""

    def __init__(self, rows: int, total_rows: int, images: int) -> None:
        self.rows, self.total_rows, self.images = rows, total_rows, images
        self.certified = self.base = 0.0
        self.start = self.last = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def within_chunk(self, size: int) -> Callable[[int, int], None] | None:
        """A ``certify_batch`` progress callback for a chunk of ``size`` images (TTY only)."""
        self.base = self.certified
        if not self.tty:
            return None

        def update(done: int, total: int) -> None:
            self.certified = self.base + size * done / total
            if time.perf_counter() - self.last > 0.2:
                self._show()

        return update

    def chunk_done(self, size: int, rows: int) -> None:
        self.certified = self.base + size
        self.rows += rows
        self._show()

    def _show(self) -> None:
        self.last = time.perf_counter()
        elapsed = self.last - self.start
        rate = self.certified / elapsed if elapsed > 0 else 0.0
        eta = (self.images - self.certified) / rate if rate > 0 else math.nan
        line = (f"certify: {self.rows}/{self.total_rows} rows, {rate:.3g} images/s, "
                f"elapsed {_clock(elapsed)}, ETA {_clock(eta) if rate > 0 else '?'}")
        print(f"\r{line}\033[K" if self.tty else line, end="" if self.tty else "\n",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def _check_run_file(out: Path, settings: dict[str, Any], has_rows: bool) -> None:
    """Resume only a log written with the same settings (kept in ``OUT.run.json``)."""
    run_file = out.with_name(out.name + ".run.json")
    if run_file.is_file():
        try:
            old = json.loads(run_file.read_text())
        except (OSError, ValueError):
            raise UcanError(f"cannot read {run_file}: delete it or use another --out") from None
        changed = sorted(k for k in settings.keys() | old.keys() if old.get(k) != settings.get(k))
        if changed:
            raise UcanError(f"{out} was written with other settings ({', '.join(changed)}): "
                            "resume with the same options or use another --out")
    elif has_rows:
        raise UcanError(f"{out} has rows but no {run_file.name} to check its settings: "
                        "use another --out")
    else:
        run_file.write_text(json.dumps(settings, indent=2) + "\n")


def _certify_dataset(args: argparse.Namespace) -> None:
    from ucan_core.analysis import DEFAULT_RADII, format_table, summarize
    from ucan_core.errors import check_count
    from ucan_core.logs import LogRow, LogWriter, read_log
    from ucan_core.models import load_model
    from ucan_core.smoothing import SmoothedClassifier

    if args.out is None:
        raise UcanError("--dataset needs --out LOG.tsv")
    check_count("--skip", args.skip)
    check_count("--inputs-per-pass", args.inputs_per_pass)
    check_count("--seed", args.seed, 0)
    if args.max is not None:
        check_count("--max", args.max)
    device = _device(args.device)
    model, card = load_model(args.model, device)
    if card.dataset != args.dataset:
        raise UcanError(f"model {args.model} is for {card.dataset}, not {args.dataset}")
    arch = card.architecture
    xs, ys = _load_split(args.dataset, args.data_root, args.split, args.download)
    per_input = card.npg == "input-dependent"
    if per_input:  # the noise is recomputed from each input: one input per pass
        args.inputs_per_pass = 1

    noise_for = _smoothing_noise(args, arch.input_shape, device, card.noise)

    def smoothed_for(first: int) -> SmoothedClassifier:
        noise = noise_for(xs[first] if per_input else None)
        return SmoothedClassifier(model, noise, arch.num_classes)

    smoothed = smoothed_for(0)
    noise = smoothed.noise
    indices = list(range(0, len(xs), args.skip))[:args.max]
    settings = {"model": args.model, "dataset": args.dataset, "split": args.split,
                "skip": args.skip, "max": args.max, "n0": args.n0, "n": args.n,
                "alpha": args.alpha, "batch": args.batch, "seed": args.seed,
                "inputs_per_pass": args.inputs_per_pass, "noise": noise.describe()}
    out = Path(args.out)
    with LogWriter(out) as log:
        _check_run_file(out, settings, bool(log.done))
        done = set(log.done)
        if done or log.dropped_line:
            cut = "; dropped a truncated last line" if log.dropped_line else ""
            print(f"resuming {out}: {len(done)} of {len(indices)} rows done{cut}", file=sys.stderr)
        if not done <= set(indices):
            raise UcanError(f"{out} has rows for idx outside this run "
                            f"(e.g. {min(done - set(indices))}): use another --out")
        k = args.inputs_per_pass
        chunks = [indices[i:i + k] for i in range(0, len(indices), k)]
        todo = [chunk for chunk in chunks if not done.issuperset(chunk)]
        progress = _Progress(len(done), len(indices), sum(map(len, todo)))
        for chunk in todo:  # a partly written chunk is recomputed whole: same noise, same rows
            if per_input:
                smoothed = smoothed_for(chunk[0])
            certs = smoothed.certify_batch(xs[chunk], args.n0, args.n, args.alpha, args.batch,
                                           seed=_chunk_seed(args.seed, chunk[0]),
                                           progress=progress.within_chunk(len(chunk)))
            new = [LogRow.from_certificate(i, int(ys[i]), cert)
                   for i, cert in zip(chunk, certs) if i not in done]
            for row in new:
                log.write(row)
            progress.chunk_done(len(chunk), len(new))
        progress.close()
    summary = summarize(read_log(out), DEFAULT_RADII)
    if args.json:
        print(format_table([summary], "json"), end="")
        return
    print(f"{out}: {summary.rows} rows; certified accuracy at r = fraction of rows with "
          f"correct = 1 and l{noise.native_norm:g} radius >= r")
    print(format_table([summary], "md"), end="")


def cmd_certify(args: argparse.Namespace) -> None:
    from ucan_core.images import read_image, to_tensor
    from ucan_core.models import load_model
    from ucan_core.smoothing import SmoothedClassifier

    if (args.image is None) == (args.dataset is None):
        raise UcanError("give exactly one of --image PATH (one image) or --dataset NAME "
                        "(a certification log)")
    if args.dataset is not None:
        _certify_dataset(args)
        return
    device = _device(args.device)
    model, card = load_model(args.model, device)
    arch = card.architecture
    x = to_tensor(read_image(args.image), arch.input_shape)
    noise = _smoothing_noise(args, arch.input_shape, device, card.noise)(x)
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
    from ucan_core.generators import smoothing_noise
    from ucan_core.images import list_images, to_tensor
    from ucan_core.models import load_model, load_npg

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
    generator = load_npg(args.model, device)
    if generator is not None:  # a learned NPG: its maps (for an input-dependent one, the first input's)
        noise = smoothing_noise(generator, noise, inputs[0])
    result = benchmark(model, noise, inputs, arch.num_classes, args.n, args.batch, args.repeats)
    _print_json({"model": args.model, **result})


def _train_with_npg(args: argparse.Namespace, model: torch.nn.Module, base: Any,
                    train: tuple[torch.Tensor, torch.Tensor],
                    test: tuple[torch.Tensor, torch.Tensor]) -> None:
    """``ucan train --npg universal|input-dependent``: classifier and NPG trained jointly
    (UCAN §4.2–4.3), selected on the last ``--val`` training images, scored on the test set."""
    from ucan_core.generators import make_generator
    from ucan_core.models import ARCHITECTURES, ModelCard, load_model, save_npg_model
    from ucan_core.training import TrainConfig, evaluate_npg, train_with_npg

    arch = ARCHITECTURES[args.arch]
    if args.train_images:
        train = (train[0][:args.train_images], train[1][:args.train_images])
    init = "random (from scratch)"
    if args.init_from:
        source, source_card = load_model(args.init_from)
        if source_card.arch != args.arch:
            raise UcanError(f"--init-from {args.init_from} is a {source_card.arch}, not {args.arch}")
        model.load_state_dict(source.state_dict())
        seen = source_card.training.get("images")
        init = (f"classifier fine-tuned from bundled model {args.init_from} (trained on {seen} "
                f"{source_card.training.get('split', 'train')} images: the validation images "
                "here may have been seen by the initial classifier); NPG from scratch")
    options: dict[str, Any] = {"s_min": args.s_min}
    if args.npg == "universal":
        options["hidden"] = tuple(int(h) for h in args.hidden.split(","))
    else:
        options["width"] = args.width
    generator = make_generator(args.npg, arch.input_shape, args.gamma_mu, args.gamma_s, **options)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=args.lr, seed=args.seed)
    result = train_with_npg(model, generator, *train, base, config, args.variance_loss,
                            args.variance_weight, draws=args.draws, npg_lr=args.npg_lr,
                            val_size=args.val, log=lambda line: print(line, file=sys.stderr))
    metrics = {"split": "test", "images": len(test[0]),
               **evaluate_npg(model, generator, *test, base, seed=args.seed)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_npg_model(model, generator, out / f"{args.id}.safetensors")
    npg_config = {**generator.config(), "variance_loss": args.variance_loss,
                  "variance_weight": args.variance_weight, "draws": args.draws,
                  "npg_lr": args.npg_lr}
    selected = result.validation[result.best_epoch - 1] if result.validation else {}
    soundness = ("certificates are input-dependent: they cover the classifier frozen at the "
                 "certified input, not the deployed one" if generator.input_dependent else
                 "input-independent noise: certificates are sound")
    card = ModelCard(
        id=args.id, arch=args.arch, dataset=args.dataset, noise=base.describe(), npg=args.npg,
        npg_config=npg_config,
        training={"split": "train", "images": result.train_images,
                  "validation": {"images": result.val_images,
                                 "rows": f"training images {result.train_images}.."
                                         f"{result.train_images + result.val_images - 1} "
                                         f"(the last {result.val_images} used)",
                                 "selection": result.selection, "best_epoch": result.best_epoch,
                                 "selected": selected},
                  "init": init, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
                  "npg_lr": args.npg_lr, "seed": args.seed,
                  "optimizer": "classifier SGD nesterov, momentum 0.9, wd 5e-4; NPG Adam; "
                               "one-cycle schedules",
                  "loss": f"smoothing CE over {args.draws} draw(s) - {args.variance_weight:g} * "
                          f"{args.variance_loss}(s)",
                  "final_loss": result.losses[-1],
                  "final_smoothing_loss": result.smoothing_losses[-1]},
        metrics=metrics,
        command="ucan " + " ".join(shlex.quote(a) for a in args.argv),
        description=f"{args.arch} trained jointly with a {args.npg} NPG (UCAN) on {args.dataset}: "
                    f"noise x + mu + s*eps, eps {base.title} sigma={base.sigma:g}, "
                    f"s in [{args.s_min:g}, {args.gamma_s:g}], |mu| <= {args.gamma_mu:g}; "
                    f"{soundness}. noisy_accuracy: one draw of the learned noise per test image.")
    card.write(out / f"{args.id}.json")
    _print_json({"id": args.id, **metrics})


def cmd_train(args: argparse.Namespace) -> None:
    from ucan_core.datasets import load_dataset
    from ucan_core.models import ARCHITECTURES, ModelCard, build_model, save_weights
    from ucan_core.training import TrainConfig, accuracy, train_classifier

    device = _device(args.device)
    torch.manual_seed(args.seed)
    arch = ARCHITECTURES[args.arch]
    x_train, y_train = load_dataset(args.dataset, args.data_root, "train", download=args.download)
    x_test, y_test = load_dataset(args.dataset, args.data_root, "test", download=args.download)
    noise = make_noise(args.noise, args.sigma, math.prod(arch.input_shape), device=device,
                       **_params(args.param))
    model = build_model(args.arch)
    if args.npg != "isotropic":
        _train_with_npg(args, model, noise, (x_train, y_train), (x_test, y_test))
        return
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


def cmd_analyze(args: argparse.Namespace) -> None:
    from ucan_core.analysis import (
        DEFAULT_RADII,
        format_table,
        has_distinct_alm,
        summarize,
        write_plot,
    )
    from ucan_core.logs import read_log

    radii = DEFAULT_RADII if args.radii is None else tuple(args.radii)
    if not all(math.isfinite(r) and r >= 0 for r in radii):
        raise UcanError(f"--radii must be finite numbers >= 0, got {' '.join(map(str, radii))}")
    high_prob = tuple(args.high_prob) if args.high_prob else None
    lines = []
    for path in args.logs:
        log = read_log(path)
        lines.append((path, log, "radius"))
        if args.alm or has_distinct_alm(log):
            lines.append((path, log, "alm"))
    summaries = [summarize(log, radii, measure, high_prob, name) for name, log, measure in lines]
    print(format_table(summaries, args.format), end="")
    if args.plot:
        write_plot(lines, args.plot, high_prob)


def cmd_models(args: argparse.Namespace) -> None:
    from ucan_core.models import list_models

    for model_id, card in list_models().items():
        acc = card.metrics.get("clean_accuracy")
        print(f"{model_id}\t{card.arch}\t{card.dataset}\t{card.noise['name']} sigma="
              f"{card.noise['sigma']:g}\tnpg {card.npg}\tclean acc {acc:.4f}"
              if acc is not None else model_id)


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

    p = sub.add_parser("certify", help="certify one image, or a dataset into a Cohen-format log")
    p.add_argument("--model", required=True, help="bundled model id (see `ucan models`)")
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
    p.add_argument("--data-root", default="data", help="folder with the dataset files")
    p.add_argument("--download", action="store_true", help="download the dataset with torchvision")
    p.add_argument("--out", help="certification log (TSV) for --dataset")
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
                   help="NPG: start the classifier from a bundled model's weights")
    p.add_argument("--train-images", type=int, default=0,
                   help="NPG: use only the first N training images (quick runs; 0 = all)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("analyze", help="certified accuracy tables (and a plot) from certify logs")
    p.add_argument("logs", nargs="+", metavar="LOG", help="certify logs (Cohen's or ucan's)")
    p.add_argument("--radii", nargs="+", type=float, default=None, metavar="R",
                   help="radii of the table (default 0 0.25 0.5 0.75 1 1.5 2 2.5 3)")
    p.add_argument("--format", default="md", choices=("md", "csv", "json"), help="table format")
    p.add_argument("--alm", action="store_true",
                   help="also tabulate against the ALM column (automatic where it differs)")
    p.add_argument("--high-prob", nargs=2, type=float, metavar=("ALPHA", "RHO"),
                   help="Cohen's high-probability lower bounds instead of plain fractions")
    p.add_argument("--plot", metavar="FILE.html", help="write a Plotly HTML plot (offline)")
    p.set_defaults(func=cmd_analyze)

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
