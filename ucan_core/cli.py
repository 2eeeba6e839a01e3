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

from ucan_core import universal
from ucan_core.errors import UcanError
from ucan_core.io.records import log_row
from ucan_core.noises.catalog import NOISES, make_noise
from ucan_core.norms import parse_norm
from ucan_core.universal import tightness


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
    method = args.method
    if method == "auto":
        method = "closed" if noise.direct and args.pb is None else "universal"
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
    print(f"{result['radius']:.6g}  ({result['kind']}, l{result['norm']}; {noise.title}, "
          f"sigma={noise.sigma:g}, d={noise.dim}, p_A={pa:g}; {method})")
    print(f"formula: {result['formula']}")
    if method == "universal":
        print(f"worst direction: {result['worst_direction']}")
        print(result["statement"])


def cmd_tightness(args: argparse.Namespace) -> None:
    dims = _floats("--dims", args.dims)
    if not all(d.is_integer() for d in dims):
        raise UcanError(f"--dims needs comma-separated integers, got {args.dims!r}")
    dims = [int(d) for d in dims]
    p_values = _floats("--pa", args.pa)
    cases = tightness.TIGHT_CASES + (tightness.BOUND_CASES if args.all else ())
    rows = tightness.validate(cases, dims, p_values, sigma=args.sigma)
    print(tightness.format_rows(rows, args.format), end="")
    if args.format == "md":
        print("\nPixelDP vs Cohen (Gaussian ℓ2):\n")
        for row in tightness.pixeldp_rows(p_values, args.sigma):
            print(f"p_A={row['p_a']:g}: Cohen {row['cohen']:.4g}, PixelDP {row['pixeldp']:.4g} "
                  f"({100 * row['ratio']:.0f} %)")
    if args.plot:
        tightness.write_figure(args.plot, sigma=args.sigma, dim=max(dims))


def _device(name: str) -> torch.device:
    from ucan_core.devices import resolve_device

    return resolve_device(name)


def _smoothing_noise(args: argparse.Namespace, shape: tuple[int, int, int], device: torch.device,
                     card_noise: dict[str, Any]) -> Callable[[torch.Tensor | None], Any]:
    """A function x ↦ the smoothing noise for input ``x`` (:class:`NoiseSource`): the model's
    learned NPG when its card has one (loaded once), else isotropic or pattern noise."""
    from ucan_core.npg.source import NoiseSource
    from ucan_core.zoo.bundled import load_npg

    model_id = getattr(args, "model", None)
    source = NoiseSource.of_model(
        model_id or "", card_noise, shape, load_npg(model_id, device) if model_id else None,
        density=args.noise, sigma=args.sigma, params=_params(args.param), npg=args.npg,
        pattern_norm=args.pattern_norm, kappa=args.kappa, iota=args.iota, device=device)
    return source.at


def _load_split(name: str, root: str, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from ucan_core.io import datasets

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


def _check_dataset_args(args: argparse.Namespace) -> None:
    """The options of ``certify --dataset``, checked before any model or data is loaded."""
    from ucan_core.checks import check_count

    if args.out is None:
        raise UcanError("--dataset needs --out LOG.tsv")
    check_count("--skip", args.skip)
    check_count("--inputs-per-pass", args.inputs_per_pass)
    check_count("--seed", args.seed, 0)
    if args.max is not None:
        check_count("--max", args.max)


ChunkProgress = Callable[[int, int], None] | None
CertifyChunk = Callable[[list[int], int, ChunkProgress], list[Any]]


def _write_certify_log(args: argparse.Namespace, images: int, settings: dict[str, Any],
                       certify: CertifyChunk, row: Callable[[int, Any], Any], norm: str,
                       columns: tuple[str, ...] | None = None) -> None:
    """Certify every ``--skip``-th of ``images`` dataset images (at most ``--max``) in chunks
    of ``--inputs-per-pass`` into the log ``--out`` (resumed when its ``settings`` match):
    ``certify(chunk, seed, progress)`` gives the certificates, ``row(idx, cert)`` a log row
    with the header ``columns`` (default: the ucan columns). Then prints the summary."""
    from ucan_core.analysis import DEFAULT_RADII, format_table, summarize
    from ucan_core.io.logs import UCAN_COLUMNS, LogWriter, read_log

    indices = list(range(0, images, args.skip))[:args.max]
    settings = {**settings, "dataset": args.dataset, "split": args.split, "skip": args.skip,
                "max": args.max, "n0": args.n0, "n": args.n, "alpha": args.alpha,
                "batch": args.batch, "seed": args.seed, "inputs_per_pass": args.inputs_per_pass}
    out = Path(args.out)
    with LogWriter(out, columns or UCAN_COLUMNS) as log:
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
            certs = certify(chunk, _chunk_seed(args.seed, chunk[0]),
                            progress.within_chunk(len(chunk)))
            new = [row(i, cert) for i, cert in zip(chunk, certs) if i not in done]
            for line in new:
                log.write(line)
            progress.chunk_done(len(chunk), len(new))
        progress.close()
    summary = summarize(read_log(out), DEFAULT_RADII)
    if args.json:
        print(format_table([summary], "json"), end="")
        return
    print(f"{out}: {summary.rows} rows; certified accuracy at r = fraction of rows with "
          f"correct = 1 and {norm} radius >= r")
    print(format_table([summary], "md"), end="")


def _certify_dataset(args: argparse.Namespace) -> None:
    from ucan_core.certify.smoothed import SmoothedClassifier
    from ucan_core.zoo.bundled import load_model

    _check_dataset_args(args)
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

    def certify(chunk: list[int], seed: int, progress: ChunkProgress) -> list[Any]:
        current = smoothed_for(chunk[0]) if per_input else smoothed
        return current.certify_batch(xs[chunk], args.n0, args.n, args.alpha, args.batch,
                                     seed=seed, progress=progress)

    _write_certify_log(args, len(xs), {"model": args.model, "noise": noise.describe()}, certify,
                       lambda i, cert: log_row(i, int(ys[i]), cert),
                       f"l{noise.native_norm:g}")


def cmd_certify(args: argparse.Namespace) -> None:
    from ucan_core.certify.smoothed import SmoothedClassifier
    from ucan_core.io.images import read_image, to_tensor
    from ucan_core.zoo.bundled import load_model

    if (args.image is None) == (args.dataset is None):
        raise UcanError("give exactly one of --image PATH (one image) or --dataset NAME "
                        "(a certification log)")
    if args.route is not None:
        _certify_route(args)
        return
    if args.dual is not None:
        _certify_dual(args)
        return
    if args.model is None:
        raise UcanError("give --model MODEL, or --dual ESTIMATOR --experts IDS (Dual RS), or "
                        "--route SELECTOR (sound anisotropic routing)")
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


def _csv(option: str, text: str | None) -> list[str]:
    """The comma-separated values of ``option`` (at least one)."""
    values = [v.strip() for v in (text or "").split(",") if v.strip()]
    if not values:
        raise UcanError(f"{option} needs comma-separated values, got {text!r}")
    return values


def _certify_dual(args: argparse.Namespace) -> None:
    """``certify --dual ESTIMATOR --experts IDS``: Dual RS of one image or a dataset."""
    from ucan_core.io.logs import DUAL_COLUMNS
    from ucan_core.two_stage.dual import load_dual

    if (args.model is not None or args.noise is not None or args.sigma is not None
            or args.param or args.npg != "isotropic"):
        raise UcanError("--dual smooths with Gaussian noise at the σ-estimator's levels and "
                        "routes to --experts: --model, --noise, --sigma, --param and --npg do "
                        "not apply")
    experts = _csv("--experts", args.experts)
    if args.dataset is not None:
        _check_dataset_args(args)
    dual, card = load_dual(args.dual, experts, _device(args.device))
    settings = {"dual": args.dual, "experts": experts, "levels": list(dual.levels),
                "sigma_e": dual.sigma_e}
    cert = _certify_two_stage(args, dual, card, f"σ-estimator {args.dual}", settings,
                              log_row, DUAL_COLUMNS,
                              {"estimator": args.dual, "experts": experts})
    if cert is None:
        return
    sel, cls = cert.selection, cert.classification
    print(f"prediction: {'abstain' if cert.abstained else cert.prediction}")
    choice = "abstains" if sel.abstained else f"selects sigma={cert.selected:g}"
    print(f"stage 1, sigma-estimator smoothed at sigma_e={cert.sigma_sel:g} over levels "
          f"{', '.join(f'{v:g}' for v in cert.menu)}: {choice}; p_A lower bound "
          f"{sel.p_a_lower:.6f} (alpha={sel.alpha:g}); R_sigma {cert.r_sel:.6g}")
    if cls is not None:
        print(f"stage 2, classifier smoothed at sigma={cert.selected:g}: p_A lower bound "
              f"{cls.p_a_lower:.6f} (alpha={cls.alpha:g}); R_c {cert.r_c:.6g}")
    print(f"radius: min(R_sigma, R_c) = {cert.radius:.6g} in l2 ({cert.kind})")
    for label, radius in cert.radii.items():
        print(f"  l{label}: {radius.value:.6g} ({radius.kind})")
    print(f"soundness: {cert.soundness}: {cert.note}")


def _certify_two_stage(args: argparse.Namespace, router: Any, card: Any, what: str,
                       settings: dict[str, Any], row: Callable[[int, int, Any], Any],
                       columns: tuple[str, ...], labels: dict[str, Any]) -> Any:
    """``certify --dual/--route``: the two-stage ``router`` (``card``: its dataset and input
    shape) certifies the dataset images into the log (``row(idx, label, cert)`` makes its
    rows, ``settings`` go to LOG.run.json), or the one image, printed as JSON with
    ``labels`` when ``--json``. Returns that image's certificate to print as text, else
    None."""
    from ucan_core.io.images import read_image, to_tensor

    if args.dataset is not None:
        if card.dataset != args.dataset:
            raise UcanError(f"{what} is for {card.dataset}, not {args.dataset}")
        xs, ys = _load_split(args.dataset, args.data_root, args.split, args.download)
        _write_certify_log(
            args, len(xs), settings,
            lambda chunk, seed, progress: router.certify_batch(
                xs[chunk], args.n0, args.n, args.alpha, args.batch, seed=seed, progress=progress),
            lambda i, cert: row(i, int(ys[i]), cert), "l2", columns)
        return None
    x = to_tensor(read_image(args.image), card.architecture.input_shape)
    cert = router.certify(x, args.n0, args.n, args.alpha, args.batch, seed=args.seed)
    if args.json:
        _print_json({**cert.to_dict(), **labels, "image": str(args.image)})
        return None
    return cert


def _certify_route(args: argparse.Namespace) -> None:
    """``certify --route SELECTOR``: sound anisotropic routing of one image or a dataset."""
    from ucan_core.io.logs import ROUTE_COLUMNS
    from ucan_core.two_stage.routing import load_router

    if (args.model is not None or args.dual is not None or args.experts is not None
            or args.noise is not None or args.sigma is not None or args.param
            or args.npg != "isotropic"):
        raise UcanError("--route takes its configurations and models from the selector's menu: "
                        "--model, --dual, --experts, --noise, --sigma, --param and --npg do "
                        "not apply")
    if args.dataset is not None:
        _check_dataset_args(args)
    router, card = load_router(args.route, _device(args.device))
    settings = {"route": args.route, "menu": list(router.names), "sigma_s": router.sigma_s}
    cert = _certify_two_stage(args, router, card, f"selector {args.route}", settings,
                              log_row, ROUTE_COLUMNS, {"selector": args.route})
    if cert is not None:
        print("\n".join(router.describe(cert)))


def cmd_bench(args: argparse.Namespace) -> None:
    from ucan_core.bench import benchmark
    from ucan_core.io.images import to_tensor
    from ucan_core.npg.learned import smoothing_noise
    from ucan_core.zoo.bundled import list_images, load_model, load_npg

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


def _train_with_npg(args: argparse.Namespace, model: torch.nn.Module, base: Any, init: str,
                    train: tuple[torch.Tensor, torch.Tensor],
                    test: tuple[torch.Tensor, torch.Tensor]) -> None:
    """``ucan train --npg universal|input-dependent``: classifier and NPG trained jointly
    (UCAN §4.2–4.3), selected on the last ``--val`` training images, scored on the test set."""
    from ucan_core.io.checkpoints import save_npg_model
    from ucan_core.npg.learned import make_generator
    from ucan_core.training.classifier import TrainConfig
    from ucan_core.training.npg import evaluate_npg, train_with_npg
    from ucan_core.zoo.architectures import ARCHITECTURES
    from ucan_core.zoo.cards import ModelCard

    arch = ARCHITECTURES[args.arch]
    if args.init_from:
        init = (f"classifier {init}: the validation images here may have been seen by the "
                "initial classifier; NPG from scratch")
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
    from ucan_core.io.datasets import load_dataset
    from ucan_core.training.classifier import MixedLevels, TrainConfig, accuracy, train_classifier
    from ucan_core.two_stage.selectors import check_levels
    from ucan_core.zoo.architectures import ARCHITECTURES, build_model
    from ucan_core.zoo.cards import ModelCard

    device = _device(args.device)
    torch.manual_seed(args.seed)
    arch = ARCHITECTURES[args.arch]
    x_train, y_train = load_dataset(args.dataset, args.data_root, "train", download=args.download)
    x_test, y_test = load_dataset(args.dataset, args.data_root, "test", download=args.download)
    if args.train_images:
        x_train, y_train = x_train[:args.train_images], y_train[:args.train_images]
    noise = make_noise(args.noise, args.sigma, math.prod(arch.input_shape), device=device,
                       **_params(args.param))
    model = build_model(args.arch)
    init = _init_from(args, model)
    if args.npg != "isotropic":
        if args.levels:
            raise UcanError("--levels trains an isotropic classifier for Dual RS; it does not "
                            "combine with --npg")
        _train_with_npg(args, model, noise, init, (x_train, y_train), (x_test, y_test))
        return
    levels = check_levels(_floats("--levels", args.levels)) if args.levels else ()
    if levels and args.sigma not in levels:
        raise UcanError(f"--sigma {args.sigma:g} (the card's level) must be one of --levels")
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=args.lr, seed=args.seed)
    losses = train_classifier(model, x_train, y_train, MixedLevels(noise, levels) if levels else noise,
                              config, log=lambda line: print(line, file=sys.stderr))
    metrics = {"split": "test", "images": len(x_test),
               "clean_accuracy": accuracy(model, x_test, y_test),
               "noisy_accuracy": accuracy(model, x_test, y_test, noise, seed=args.seed)}
    training = {"split": "train", "images": len(x_train), "init": init, "epochs": args.epochs,
                "batch": args.batch, "lr": args.lr, "seed": args.seed, "optimizer":
                "SGD nesterov, momentum 0.9, wd 5e-4, one-cycle", "final_loss": losses[-1]}
    how = f"{noise.title} noise sigma={noise.sigma:g}"
    if levels:
        training["levels"] = list(levels)
        metrics["noisy_accuracy_per_level"] = {
            f"{level:g}": metrics["noisy_accuracy"] if level == noise.sigma else accuracy(
                model, x_test, y_test, make_noise(args.noise, level, noise.dim, device=device,
                                                  **_params(args.param)), seed=args.seed)
            for level in levels}
        how = (f"{noise.title} noise at a level drawn per image from "
               f"{', '.join(f'{v:g}' for v in levels)} (one expert for every Dual RS level; "
               f"card level sigma={noise.sigma:g})")
    card = ModelCard(
        id=args.id, arch=args.arch, dataset=args.dataset, noise=noise.describe(),
        training=training, metrics=metrics,
        description=f"{args.arch} trained on {args.dataset} with {how} "
                    "(Gaussian data augmentation, Cohen et al. 2019)")
    _save_model(args, model, card)


def _init_from(args: argparse.Namespace, model: torch.nn.Module) -> str:
    """Load ``--init-from``'s weights into ``model``; what the card says of the start."""
    from ucan_core.zoo.bundled import load_model

    if not args.init_from:
        return "random (from scratch)"
    source, source_card = load_model(args.init_from)
    if source_card.arch != args.arch:
        raise UcanError(f"--init-from {args.init_from} is a {source_card.arch}, not {args.arch}")
    model.load_state_dict(source.state_dict())
    seen = source_card.training.get("images")
    return (f"fine-tuned from bundled model {args.init_from} (trained on {seen} "
            f"{source_card.training.get('split', 'train')} images)")


def _save_model(args: argparse.Namespace, model: torch.nn.Module, card: Any) -> None:
    """Write ``--out``/``--id``.safetensors and the card (with the reproducing command),
    then print the id and metrics as JSON."""
    from ucan_core.io.checkpoints import save_weights

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_weights(model, out / f"{args.id}.safetensors")
    card.command = "ucan " + " ".join(shlex.quote(a) for a in args.argv)
    card.write(out / f"{args.id}.json")
    _print_json({"id": args.id, **card.metrics})


def cmd_train_estimator(args: argparse.Namespace) -> None:
    """``ucan train-estimator``: soft labels from the experts' votes on the first
    ``--train-images`` training images, training under N(0, σ_e²I), metrics on the next
    ``--val-images`` (held out; the test set is not used)."""
    from ucan_core.checks import check_count
    from ucan_core.io.datasets import load_dataset
    from ucan_core.training.classifier import TrainConfig, accuracy
    from ucan_core.two_stage.selectors import (
        EstimatorCard,
        build_estimator,
        check_levels,
        check_sigma_e,
        radius_estimates,
        soft_labels,
        train_estimator,
    )
    from ucan_core.zoo.bundled import load_model

    try:
        levels = check_levels([float(v) for v in _csv("--levels", args.levels)])
    except ValueError as error:
        raise UcanError(f"--levels: {error}") from None
    sigma_e = check_sigma_e(args.sigma_e, levels)
    ids = _csv("--experts", args.experts)
    if len(ids) not in (1, len(levels)):
        raise UcanError(f"--experts: give one model per level ({len(levels)}) or one for all")
    train_n, val_n = check_count("--train-images", args.train_images), check_count(
        "--val-images", args.val_images)
    check_count("--samples", args.samples)
    device = _device(args.device)
    torch.manual_seed(args.seed)
    loaded = [load_model(i, device) for i in ids] * (len(levels) if len(ids) == 1 else 1)
    experts, first = [m for m, _ in loaded], loaded[0][1]
    if any(c.dataset != args.dataset or c.arch != first.arch for _, c in loaded):
        raise UcanError(f"--experts must all be {first.arch} models for {args.dataset}")
    x, y = load_dataset(args.dataset, args.data_root, "train", download=args.download)
    if train_n + val_n > len(x):
        raise UcanError(f"--train-images + --val-images exceed the {len(x)} training images")

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    classes = first.architecture.num_classes
    radii = radius_estimates(experts, levels, x[:train_n], y[:train_n], classes, args.samples,
                             seed=args.seed, log=log)
    body = load_model(args.init_from, device)[0] if args.init_from else None
    estimator = build_estimator(first.arch, len(levels), body).to(device)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=args.lr, seed=args.seed)
    losses = train_estimator(estimator, x[:train_n], soft_labels(radii, args.temperature),
                             sigma_e, config, log)
    val_x, val_y = x[train_n:train_n + val_n], y[train_n:train_n + val_n]
    best = radius_estimates(experts, levels, val_x, val_y, classes, args.samples,
                            seed=args.seed + len(levels), log=log).argmax(1)
    with torch.inference_mode():
        picks = estimator.eval()(val_x.to(device)).argmax(1).cpu()
    noise_e = make_noise("gaussian", sigma_e, val_x[0].numel(), device=device)

    def shares(index: torch.Tensor) -> dict[str, float]:
        return {f"{s:g}": float((index == i).double().mean()) for i, s in enumerate(levels)}

    metrics = {"split": "train", "images": val_n,
               "rows": f"training images {train_n}..{train_n + val_n - 1} (held out)",
               "best_level_share": shares(best), "selected_share": shares(picks),
               "agreement_clean": accuracy(estimator, val_x, best),
               "agreement_noisy": accuracy(estimator, val_x, best, noise_e, seed=args.seed)}
    card = EstimatorCard(
        id=args.id, arch=first.arch, dataset=args.dataset, noise=noise_e.describe(),
        levels=list(levels), sigma_e=sigma_e, experts=ids,
        training={"split": "train", "images": train_n, "rows": f"training images 0..{train_n - 1}",
                  "labels": f"softmax_i(R_i / {args.temperature:g}), R_i = sigma_i * "
                            f"Phi^-1((k_i + 1/2) / ({args.samples} + 1)), k_i = votes of expert "
                            f"i for the label on {args.samples} noisy copies",
                  "init": f"{args.init_from} (all but the last layer)" if args.init_from
                          else "random", "epochs": args.epochs, "batch": args.batch,
                  "lr": args.lr, "seed": args.seed, "noise": f"Gaussian sigma_e={sigma_e:g}",
                  "optimizer": "SGD nesterov, momentum 0.9, wd 5e-4, one-cycle",
                  "final_loss": losses[-1]},
        metrics=metrics,
        description=f"Dual RS sigma-estimator over levels {', '.join(map(str, levels))} "
                    f"(smoothed with Gaussian sigma_e={sigma_e:g}); agreement: argmax vs the "
                    "level with the largest estimated radius on held-out training images")
    _save_model(args, estimator, card)


def cmd_train_selector(args: argparse.Namespace) -> None:
    """``ucan train-selector``: a routing selector over ``--menu`` (``routing.train_selector``),
    labels and clusters from the first ``--train-images`` training images, metrics on the
    next ``--val-images`` (held out; the test set is not used)."""
    from ucan_core.checks import check_count
    from ucan_core.io.datasets import load_dataset
    from ucan_core.training.classifier import TrainConfig
    from ucan_core.two_stage.menu import build_menu
    from ucan_core.two_stage.routing import train_selector
    from ucan_core.zoo.bundled import load_model

    train_n = check_count("--train-images", args.train_images)
    val_n = check_count("--val-images", args.val_images)
    device = _device(args.device)
    torch.manual_seed(args.seed)
    x, y = load_dataset(args.dataset, args.data_root, "train", download=args.download)
    entries = build_menu(args.menu, x[:train_n], args.kappa, args.iota, args.seed, device)
    init = (args.init_from, load_model(args.init_from, device)[0]) if args.init_from else None
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=args.lr, seed=args.seed)
    bundle, card = train_selector(entries, args.measure, args.sigma_s, x, y, train_n, val_n,
                                  args.samples, args.temperature, config, args.id, init, device,
                                  log=lambda line: print(line, file=sys.stderr))
    _save_model(args, bundle, card)


def cmd_analyze(args: argparse.Namespace) -> None:
    from ucan_core.analysis import (
        DEFAULT_RADII,
        envelope,
        format_table,
        has_distinct_alm,
        summarize,
        write_plot,
    )
    from ucan_core.io.logs import read_log

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
        lines += [(path, log, column) for column in args.column if column in log.extra]
    summaries = [summarize(log, radii, measure, high_prob, name) for name, log, measure in lines]
    if args.envelope:
        summaries.append(envelope([summarize(read_log(path), radii, "radius", high_prob, path)
                                   for path in args.envelope],
                                  "envelope: best of " + ", ".join(args.envelope)))
    print(format_table(summaries, args.format), end="")
    if args.plot:
        write_plot(lines, args.plot, high_prob)


AuditRow = tuple[int, torch.Tensor, int, float, str, dict[str, float]]
RADIUS_COLUMNS = {n: f"radius_l{n}" for n in ("1", "2", "inf")}


def _audit_log(args: argparse.Namespace) -> tuple[Any, dict[str, Any], list[tuple[int, int, torch.Tensor]]]:
    """A ``ucan certify --dataset`` log, its settings file, and its first ``--max`` rows as
    (row, dataset idx, image), each checked to carry its image's label."""
    from ucan_core.io.logs import read_log

    log = read_log(args.log)
    missing = [c for c in ("p_a_lower", "soundness", *RADIUS_COLUMNS.values()) if c not in log.extra]
    if log.kind != "certify" or missing:
        raise UcanError(f"{args.log} is not a ucan certify log (no {', '.join(missing) or 'radius'} column)")
    run_file = Path(args.log).with_name(Path(args.log).name + ".run.json")
    try:
        settings = json.loads(run_file.read_text())
        dataset, split = settings["dataset"], settings["split"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UcanError(f"the audit needs the settings file {run_file.name} that `ucan certify "
                        "--dataset` writes next to its log") from None
    xs, ys = _load_split(dataset, args.data_root, split, args.download)
    rows = []
    for i in range(min(len(log), args.max or len(log))):
        idx = int(log.idx[i])
        if not 0 <= idx < len(xs) or int(ys[idx]) != int(log.label[i]):
            raise UcanError(f"{args.log}: row idx {idx} does not carry the label of {dataset} "
                            f"{split} image {idx}")
        rows.append((i, idx, xs[idx]))
    return log, settings, rows


def _audit_log_rows(args: argparse.Namespace, log: Any, settings: dict[str, Any],
                    rows: list[tuple[int, int, torch.Tensor]]) -> tuple[str, dict[str, Any], list[AuditRow]]:
    """The model id and noise of a single-noise log and its rows as (idx, image, certified
    class, p̲_A, soundness, logged ℓ1/ℓ2/ℓ∞ radii)."""
    try:
        model_id, noise = settings["model"], settings["noise"]
        npg = str(noise.get("npg", ""))
    except (KeyError, TypeError, AttributeError):
        raise UcanError(f"{args.log}'s settings file names no model and noise") from None
    if npg.startswith("pattern"):
        raise UcanError("pattern-noise logs cannot be audited: their settings file does not "
                        "record the pattern's norm, kappa and iota")
    return model_id, noise, [
        (idx, x, int(log.predict[i]), float(log.extra["p_a_lower"][i]), str(log.extra["soundness"][i]),
         {n: float(log.extra[c][i]) for n, c in RADIUS_COLUMNS.items()}) for i, idx, x in rows]


def _audit_two_stage_log(args: argparse.Namespace, log: Any, settings: dict[str, Any],
                         rows: list[tuple[int, int, torch.Tensor]], budget: Any) -> list[Any]:
    """Audit the rows of a Dual RS or routing log (``audit.audit_two_stage``), each row's
    radii first checked against the rebuilt stages (min(R_sel, R_c) from its two p̲_A)."""
    import numpy as np

    from ucan_core.audit.certificates import audit_two_stage
    from ucan_core.noises.region import CertifiedRegion
    from ucan_core.norms import norm_label
    from ucan_core.two_stage.dual import load_dual
    from ucan_core.two_stage.routing import load_router

    if args.model or args.frozen or args.region != "ball":
        raise UcanError("a Dual RS or routing log names its own models, and its certificate is "
                        "an lp ball: --model, --frozen and --region region do not apply")
    device = _device(args.device)
    if "dual" in settings:
        router, _ = load_dual(settings["dual"], settings["experts"], device)
        target, entry, p_sel = "dual-rs", "level", "p_a_lower_sigma"
        menu: list[Any] = list(router.levels)
    else:
        router, _ = load_router(settings["route"], device)
        target, entry, p_sel = "routing", "config", "p_a_lower_sel"
        menu = list(router.names)
    missing = [c for c in (entry, p_sel) if c not in log.extra]
    if missing:
        raise UcanError(f"{args.log} is a {target} log without its {', '.join(missing)} "
                        "column(s): it was not written by `ucan certify`")
    results = []
    for count, (i, idx, x) in enumerate(rows, 1):
        certified, chosen = int(log.predict[i]), log.extra[entry][i]
        selected = menu.index(chosen) if chosen in menu else -1
        logged = {n: float(log.extra[c][i]) for n, c in RADIUS_COLUMNS.items()}
        if certified >= 0:
            if selected < 0:
                raise UcanError(f"row idx {idx}: its {entry} {chosen!r} is not in {menu}")
            r_sel = router.selector.noise.radii(float(log.extra[p_sel][i]))
            r_c = router.stages[selected].noise.radii(float(log.extra["p_a_lower"][i]))
            for n, value in logged.items():
                if not math.isclose(value, min(r_sel[n].value, r_c[n].value), rel_tol=1e-6,
                                    abs_tol=1e-9):
                    raise UcanError(f"row idx {idx}: its l{n} radius {value!r} is not min(R_sel, "
                                    "R_c) of the rebuilt stages (other models?)")
        for norm in args.norms or ["2"]:
            q = parse_norm(norm)
            radius = logged.get(norm_label(q), math.nan) if certified >= 0 else 0.0
            results.append(audit_two_stage(
                router, x, selected, certified, CertifiedRegion(np.ones(x.numel()), radius, q),
                budget, seed=_chunk_seed(args.seed, idx), target=target, idx=idx))
        print(f"audit: {count}/{len(rows)} certificates, "
              f"{sum(r.violation for r in results)} violation(s)", file=sys.stderr)
    return results


def cmd_audit(args: argparse.Namespace) -> None:
    from ucan_core.audit.attack import AttackBudget
    from ucan_core.audit.certificates import audit_certificate, claimed_region
    from ucan_core.audit.deployed import DeployedSmoothing
    from ucan_core.certify.smoothed import SmoothedClassifier
    from ucan_core.checks import check_count
    from ucan_core.io.images import read_image, to_tensor
    from ucan_core.norms import norm_label
    from ucan_core.zoo.bundled import load_model, load_npg

    if (args.log is None) == (args.image is None):
        raise UcanError("give exactly one of LOG (a `ucan certify --dataset` log) or --image PATH "
                        "with --model (one certificate)")
    options = {"steps": args.steps, "restarts": args.restarts, "draws": args.draws,
               "step_size": args.step_size, "directions": args.directions, "screen": args.screen,
               "n_verify": args.n_verify, "alpha": args.audit_alpha, "batch_size": args.batch}
    budget = AttackBudget(**{k: v for k, v in options.items() if v is not None})
    if args.max is not None:
        check_count("--max", args.max)
    logged: dict[str, Any] = {}
    rows: list[AuditRow] = []
    if args.log is not None:
        log, settings, log_rows = _audit_log(args)
        if "dual" in settings or "route" in settings:
            _report_audit(args, settings.get("dual") or settings["route"], budget,
                          _audit_two_stage_log(args, log, settings, log_rows, budget))
            return
        args.model, logged, rows = _audit_log_rows(args, log, settings, log_rows)
    elif args.model is None:
        raise UcanError("--image needs --model")
    device = _device(args.device)
    model, card = load_model(args.model, device)
    arch = card.architecture
    noise_for = _smoothing_noise(args, arch.input_shape, device, logged or card.noise)
    if args.image is not None:
        x = to_tensor(read_image(args.image), arch.input_shape)
        cert = SmoothedClassifier(model, noise_for(x), arch.num_classes).certify(
            x, args.n0, args.n, args.alpha, budget.batch_size, seed=args.seed)
        rows = [(0, x, cert.prediction, cert.p_a_lower, cert.soundness,
                 {label: r.value for label, r in cert.radii.items()})]
    elif rows:
        rebuilt = noise_for(rows[0][1]).describe()
        keys = ("name", "sigma", "params", "npg", "input_dependent")
        if any(rebuilt.get(k) != logged.get(k) for k in keys):
            raise UcanError(f"the log's noise ({', '.join(f'{k}={logged.get(k)}' for k in keys)}) is "
                            f"not the one rebuilt for {args.model}: pass the --noise/--sigma/--param "
                            "of its `ucan certify` run")
    generator = load_npg(args.model, device) if card.npg == "input-dependent" and not args.frozen else None
    results = []
    for count, (idx, x, certified, p_a, soundness, radii) in enumerate(rows, 1):
        noise = noise_for(x)
        expected = noise.radii(p_a) if certified >= 0 else {}
        deployed = DeployedSmoothing(model, arch.num_classes, noise, generator)
        for norm in args.norms or [noise.native_norm]:
            label = norm_label(parse_norm(norm))
            claimed = radii.get(label, math.nan) if certified >= 0 else 0.0
            if label in expected and not math.isclose(claimed, expected[label].value,
                                                      rel_tol=1e-6, abs_tol=1e-9):
                raise UcanError(f"row idx {idx}: its l{label} radius {claimed!r} does not match the "
                                f"rebuilt noise's {expected[label].value!r} (another model or noise?)")
            results.append(audit_certificate(
                deployed, x, certified, claimed_region(noise, claimed, norm, args.region), budget,
                seed=_chunk_seed(args.seed, idx), soundness=soundness, idx=idx, shape=args.region))
        print(f"audit: {count}/{len(rows)} certificates, "
              f"{sum(r.violation for r in results)} violation(s)", file=sys.stderr)
    _report_audit(args, args.model, budget, results)


def _report_audit(args: argparse.Namespace, name: str, budget: Any, results: list[Any]) -> None:
    """Print the audit of ``name``'s certificates: JSON with ``--json``, else the summary table."""
    from dataclasses import asdict

    from ucan_core.audit.certificates import format_summary, summarize

    summaries = summarize(results)
    if args.json:
        _print_json({"model": name, "budget": asdict(budget),
                     "summary": [asdict(s) for s in summaries], "results": [asdict(r) for r in results]})
        return
    print(f"attack audit of {args.log or args.image} ({name}; violation: upper bound on "
          f"p_c < 1/2 at alpha {budget.alpha:g} from n_verify = {budget.n_verify} samples)")
    print(format_summary(summaries), end="")


def _floats(option: str, text: str | None, count: int | None = None) -> list[float]:
    """The comma-separated numbers of ``option`` (exactly ``count`` of them if given)."""
    try:
        values = [float(v) for v in _csv(option, text)]
    except ValueError:
        raise UcanError(f"{option} needs comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise UcanError(f"{option} needs {count} comma-separated numbers, got {text!r}")
    return values


def cmd_copt(args: argparse.Namespace) -> None:
    """``ucan copt``: C-OPT grid search (``noise_opt.copt``): one certify log per grid point,
    then ``copt.csv`` (certified accuracy) and ``copt.json`` (scores, settings, command)."""
    from ucan_core.analysis import format_table
    from ucan_core.checks import check_count
    from ucan_core.optimize.copt import check_grid, copt
    from ucan_core.training.classifier import TrainConfig

    shapes, sigmas = check_grid(_floats("--shapes", args.shapes), _floats("--sigmas", args.sigmas))
    norm = parse_norm(args.norm)
    for option in ("--train-size", "--test-every", "--epochs", "--train-batch"):
        check_count(option, getattr(args, option[2:].replace("-", "_")))
    check_count("--test-start", args.test_start, 0)
    device = _device(args.device)
    x_train, y_train = _load_split(args.dataset, args.data_root, "train", args.download)
    if args.train_size > len(x_train):
        raise UcanError(f"--train-size {args.train_size} exceeds the {len(x_train)} training "
                        "images")
    test = _load_split(args.dataset, args.data_root, "test", args.download)
    indices = list(range(args.test_start, len(test[0]), args.test_every))
    config = TrainConfig(epochs=args.epochs, batch_size=args.train_batch, lr=args.lr,
                         seed=args.seed)
    out = Path(args.out)
    began = time.perf_counter()
    result = copt((x_train[:args.train_size], y_train[:args.train_size]), test, indices, shapes,
                  sigmas, norm, out, arch=args.arch, config=config, n0=args.n0, n=args.n,
                  alpha=args.alpha, batch=args.batch, device=device,
                  log=lambda line: print(line, file=sys.stderr))
    settings = {"dataset": args.dataset, "arch": args.arch, "train_images": args.train_size,
                "epochs": args.epochs, "train_batch": args.train_batch, "lr": args.lr,
                "seed": args.seed, "test_indices": f"range({args.test_start}, {len(test[0])}, "
                                                   f"{args.test_every})", "n0": args.n0,
                "n": args.n, "alpha": args.alpha, "device": str(device)}
    data = {"method": "C-OPT grid search over gennorm shape at fixed sigma (UniCR 4.2)",
            "score": "robustness score of a shape = sum over the sigmas of the area under its "
                     "certified-accuracy curve, = sum of ACRs",
            "note": "each grid point's certificates hold for its own smoothed classifier; the "
                    "best shape is selected on these test images (optimistic): certify it on "
                    "other images to report it",
            "command": "ucan " + " ".join(shlex.quote(a) for a in args.argv),
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


def cmd_iopt(args: argparse.Namespace) -> None:
    """``ucan iopt``: per-input hill climbing of the gennorm noise (``noise_opt.iopt``)."""
    from ucan_core.io.images import read_image, to_tensor
    from ucan_core.optimize.iopt import iopt
    from ucan_core.zoo.bundled import load_model

    device = _device(args.device)
    model, card = load_model(args.model, device)
    if card.npg != "isotropic":
        raise UcanError(f"model {args.model} has a learned {card.npg} NPG; I-OPT starts from an "
                        "isotropic training noise")
    arch = card.architecture
    x = to_tensor(read_image(args.image), arch.input_shape)
    noise = make_noise(card.noise["name"], card.noise["sigma"], math.prod(arch.input_shape),
                       device=device, **card.noise.get("params", {}))
    low_s, high_s = _floats("--shape-range", args.shape_range, 2)
    low_m, high_m = _floats("--scale-range", args.scale_range, 2)
    result = iopt(model, x, arch.num_classes, noise, args.norm, max_evals=args.max_evals,
                  n0=args.n0, n=args.n, alpha=args.alpha, batch=args.batch, seed=args.seed,
                  shape_step=args.shape_step, scale_step=args.scale_step,
                  shape_range=(low_s, high_s), scale_range=(low_m, high_m),
                  log=lambda line: print(line, file=sys.stderr))
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


def cmd_models(args: argparse.Namespace) -> None:
    from ucan_core.zoo.bundled import list_models

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


def _add_sampling_options(p: argparse.ArgumentParser, n: int, per: str = "",
                          alpha_help: str = "failure probability") -> None:
    """CERTIFY's sampling options: --n0, --n, --alpha, --batch, --seed."""
    p.add_argument("--n0", type=int, default=100, help=f"selection samples{per}")
    p.add_argument("--n", type=int, default=n, help=f"estimation samples{per}")
    p.add_argument("--alpha", type=float, default=0.001, help=alpha_help)
    p.add_argument("--batch", type=int, default=1000, help="samples per forward pass")
    p.add_argument("--seed", type=int, default=0, help="random seed")


def _add_training_options(p: argparse.ArgumentParser, epochs: int, out: str) -> None:
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--id", required=True, help="model id (file name)")
    p.add_argument("--data-root", default="data", help="folder with the dataset files")
    p.add_argument("--download", action="store_true", help="download the dataset with torchvision")
    p.add_argument("--out", default=out, help="output folder")
    p.add_argument("--device", default="auto")


def _add_selector_training_options(p: argparse.ArgumentParser, train_images: int,
                                   val_images: int, samples: int) -> None:
    """Options of ``train-estimator`` and ``train-selector``: labels from votes on the first
    training images, held-out metrics on the next ones, then the training options."""
    p.add_argument("--init-from", default=None, metavar="MODEL",
                   help="start from a bundled model's weights (all but the last layer)")
    p.add_argument("--train-images", type=int, default=train_images,
                   help="the first N training images build labels (and clusters) and train")
    p.add_argument("--val-images", type=int, default=val_images,
                   help="the next N training images: held-out metrics")
    p.add_argument("--samples", type=int, default=samples,
                   help="noisy copies per image and level (menu entry)")
    p.add_argument("--temperature", type=float, default=0.1, help="labels softmax(R / T)")
    _add_training_options(p, epochs=5, out="assets/models/estimators")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ucan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("radius", help="certified radius for a noise, norm and p_A "
                                      "(closed form or universal numerical search)")
    _add_noise_options(p, required=True)
    p.add_argument("--norm", default="2",
                   help="any p > 0 or inf (closed forms: 1, 2, inf direct, others by conversion)")
    p.add_argument("--pa", type=float, required=True, help="lower bound on p_A, in (0.5, 1]")
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
                   help="conservative mode: Monte Carlo draws of the likelihood ratio")
    p.add_argument("--alpha-np", type=float, default=universal.Settings.alpha_np,
                   help="conservative mode: failure probability of the DKW bound")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_radius)

    p = sub.add_parser("tightness", help="universal radius vs every closed form (UniCR Fig. 4)")
    p.add_argument("--dims", default="784,3072", help="comma-separated dimensions")
    p.add_argument("--pa", default=",".join(map(str, tightness.P_VALUES)),
                   help="comma-separated p_A values")
    p.add_argument("--sigma", type=float, default=0.5, help="noise standard deviation")
    p.add_argument("--all", action="store_true",
                   help="also the lower-bound closed forms (Pareto, Exp-ℓ2, Exp-ℓ∞ in ℓ∞)")
    p.add_argument("--format", choices=("md", "csv", "json"), default="md")
    p.add_argument("--plot", help="write the Fig. 4 reproduction (HTML) here")
    p.set_defaults(func=cmd_tightness)

    p = sub.add_parser("certify", help="certify one image, or a dataset into a Cohen-format log")
    p.add_argument("--model", help="bundled model id (see `ucan models`)")
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
    p.add_argument("--data-root", default="data", help="folder with the dataset files")
    p.add_argument("--download", action="store_true", help="download the dataset with torchvision")
    p.add_argument("--out", help="certification log (TSV) for --dataset")
    _add_noise_options(p, required=False)
    p.add_argument("--npg", default="isotropic", choices=("isotropic", "pattern"),
                   help="noise parameter generator")
    p.add_argument("--pattern-norm", default="2", help="pattern NPG norm: 1, 2 or inf")
    p.add_argument("--kappa", type=float, default=1.0, help="pattern NPG kappa")
    p.add_argument("--iota", type=float, default=1.0, help="pattern NPG iota")
    _add_sampling_options(p, n=10_000)
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
    _add_training_options(p, epochs=10, out="assets/models")
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
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("train-estimator", help="train a Dual RS sigma-estimator")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--experts", required=True, metavar="ID[,ID...]",
                   help="bundled models whose votes build the labels: one per level, or one")
    p.add_argument("--levels", required=True, help="noise levels, increasing, e.g. 0.25,0.5,1")
    p.add_argument("--sigma-e", type=float, required=True,
                   help="Gaussian sigma_e smoothing the estimator (>= the largest level)")
    _add_selector_training_options(p, train_images=10_000, val_images=2000, samples=16)
    p.set_defaults(func=cmd_train_estimator)

    p = sub.add_parser("train-selector", help="train a routing selector over a menu of fixed "
                                              "noise configurations (sound anisotropic routing)")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--menu", required=True, nargs="+", metavar="KIND=MODEL",
                   help="configurations: isotropic, pattern-l1, pattern-l2, pattern-linf "
                        "(isotropic models), universal (its NPG's maps), clusters:K (K frozen "
                        "clusters of an input-dependent NPG's maps), each =MODEL id")
    p.add_argument("--sigma-s", type=float, required=True,
                   help="Gaussian sigma_s smoothing the selector (>= the menu's largest "
                        "sigma * geometric mean of s)")
    p.add_argument("--measure", default="radius", choices=("radius", "alm"),
                   help="labels from each configuration's estimated l2 radius or ALM")
    p.add_argument("--kappa", type=float, default=1.0, help="pattern maps: kappa")
    p.add_argument("--iota", type=float, default=1.0, help="pattern maps: iota")
    _add_selector_training_options(p, train_images=4000, val_images=1000, samples=8)
    p.set_defaults(func=cmd_train_selector)

    p = sub.add_parser("analyze", help="certified accuracy tables (and a plot) from certify logs")
    p.add_argument("logs", nargs="+", metavar="LOG", help="certify logs (Cohen's or ucan's)")
    p.add_argument("--radii", nargs="+", type=float, default=None, metavar="R",
                   help="radii of the table (default 0 0.25 0.5 0.75 1 1.5 2 2.5 3)")
    p.add_argument("--format", default="md", choices=("md", "csv", "json"), help="table format")
    p.add_argument("--alm", action="store_true",
                   help="also tabulate against the ALM column (automatic where it differs)")
    p.add_argument("--high-prob", nargs=2, type=float, metavar=("ALPHA", "RHO"),
                   help="Cohen's high-probability lower bounds instead of plain fractions")
    p.add_argument("--column", action="append", default=[], metavar="NAME",
                   help="also tabulate against this numeric log column where a log has it "
                        "(e.g. alm_upper of routing logs)")
    p.add_argument("--envelope", nargs="+", metavar="LOG",
                   help="add a row: the best certified accuracy of these logs at each radius")
    p.add_argument("--plot", metavar="FILE.html", help="write a Plotly HTML plot (offline)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("audit", help="attack certificates on the deployed smoothed classifier "
                                     "(PGD, random and boundary directions, high-n verification)")
    p.add_argument("log", nargs="?", help="a `ucan certify --dataset` log (LOG.run.json beside it)")
    p.add_argument("--model", help="bundled model id (with --image)")
    p.add_argument("--image", help="PNG or JPEG: certify it, then audit that certificate")
    p.add_argument("--data-root", default="data", help="folder with the log's dataset files")
    p.add_argument("--download", action="store_true", help="download the dataset with torchvision")
    p.add_argument("--max", type=int, default=None, help="audit the first MAX rows of the log")
    p.add_argument("--norms", nargs="+", default=None, metavar="P",
                   help="attacked norms among 1 2 inf (default: the noise's native norm)")
    p.add_argument("--region", default="ball", choices=("ball", "region"),
                   help="attack the certified lp ball, or the whole anisotropic region |delta/s|_p <= R")
    p.add_argument("--frozen", action="store_true",
                   help="input-dependent NPG: attack the classifier frozen at the certified input")
    _add_noise_options(p, required=False)
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
            ("n0", int, 100, "selection samples (--image)"), ("n", int, 10_000, "estimation samples (--image)"),
            ("alpha", float, 0.001, "certification failure probability (--image)"),
            ("seed", int, 0, "random seed")):
        p.add_argument(f"--{name}", type=kind, default=default, help=text)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON (summary and every certificate)")
    p.set_defaults(func=cmd_audit)

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
    _add_sampling_options(p, n=1000, alpha_help="failure probability per certificate")
    p.add_argument("--data-root", default="data", help="folder with the dataset files")
    p.add_argument("--download", action="store_true", help="download the dataset with torchvision")
    p.add_argument("--out", required=True, help="output folder (logs, copt.csv, copt.json)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_copt)

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
    _add_sampling_options(p, n=10_000, per=" per evaluation",
                          alpha_help="family-wise failure probability")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_iopt)

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
