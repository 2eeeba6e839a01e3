"""What the commands share: value parsers, JSON output, the device, stderr progress, and the
option groups (noise, NPG, sampling, training)."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ucan_core.errors import UcanError
from ucan_core.io.runs import RunProgress
from ucan_core.noises.catalog import NOISES


def _params(pairs: Sequence[str]) -> dict[str, float]:
    """The ``--param key=value`` pairs as numbers."""
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


def _csv(option: str, text: str | None) -> list[str]:
    """The comma-separated values of ``option`` (at least one)."""
    values = [v.strip() for v in (text or "").split(",") if v.strip()]
    if not values:
        raise UcanError(f"{option} needs comma-separated values, got {text!r}")
    return values


def _floats(option: str, text: str | None, count: int | None = None) -> list[float]:
    """The comma-separated numbers of ``option`` (exactly ``count`` of them if given)."""
    try:
        values = [float(v) for v in _csv(option, text)]
    except ValueError:
        raise UcanError(f"{option} needs comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise UcanError(f"{option} needs {count} comma-separated numbers, got {text!r}")
    return values


def seed_value(text: str) -> int:
    """argparse type of ``--seed``: an integer in the engine's seed range
    (:func:`~ucan_core.certify.seeds.check_seed`)."""
    from ucan_core.certify.seeds import check_seed

    try:
        value: object = int(text)
    except ValueError:
        value = text  # not an integer: check_seed refuses it, naming the text
    try:
        return check_seed(value)
    except UcanError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _non_finite_note(value: float) -> str:
    return "undefined (NaN)" if math.isnan(value) else "unbounded" if value > 0 else "-unbounded"


def _print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout. JSON has no infinity: a non-finite float is
    ``null``, and in an object a ``KEY_note`` beside it says which ("unbounded" for +∞, e.g.
    the radius at p_A = 1; "-unbounded"; "undefined (NaN)")."""
    def clean(obj: Any) -> Any:
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else None
        if isinstance(obj, dict):
            out = {}
            for key, value in obj.items():
                out[key] = clean(value)
                if isinstance(value, float) and not math.isfinite(value):
                    out[f"{key}_note"] = _non_finite_note(value)
            return out
        if isinstance(obj, (list, tuple)):
            return [clean(v) for v in obj]
        return obj

    print(json.dumps(clean(data), indent=2, allow_nan=False))


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run (for model cards and C-OPT results)."""
    return "ucan " + " ".join(shlex.quote(a) for a in args.argv)


def log_line(line: str) -> None:
    """A progress line on stderr."""
    print(line, file=sys.stderr)


def noise_source(args: argparse.Namespace, shape: tuple[int, int, int], dev: torch.device,
                 card_noise: dict[str, Any]) -> Callable[[torch.Tensor | None], Any]:
    """x ↦ the smoothing noise for input ``x`` (:class:`~ucan_core.npg.source.NoiseSource`):
    ``--model``'s learned NPG when its card has one, else isotropic or pattern noise from the
    card and the noise options."""
    from ucan_core.npg.source import NoiseSource
    from ucan_core.zoo.bundled import load_npg

    model_id = getattr(args, "model", None)
    source = NoiseSource.of_model(
        model_id or "", card_noise, shape, load_npg(model_id, dev) if model_id else None,
        density=args.noise, sigma=args.sigma, params=_params(args.param), npg=args.npg,
        pattern_norm=args.pattern_norm, kappa=args.kappa, iota=args.iota, device=dev)
    return source.at


def _clock(seconds: float) -> str:
    seconds = round(seconds) if math.isfinite(seconds) else 0
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


#: A run of more noisy samples than this is timed on two batches first (warn_if_long).
TIMED_RUN_SAMPLES = 10**7
#: The expected duration above which a run is announced on stderr.
LONG_RUN_SECONDS = 600.0


def warn_if_long(draw: Callable[[], object], drawn: int, n0: int, n: int, images: int,
                 stages: int = 1) -> None:
    """A warning on stderr when certifying ``images`` inputs with ``n0 + n`` noisy samples per
    stage would take over 10 minutes at the rate of the faster of two timed calls of ``draw``
    (which classifies ``drawn`` noisy samples; only for runs over 10⁷ samples), naming an
    --n that fits them. The run goes on: a user may mean it."""
    samples = stages * images * (n0 + n)
    if samples <= TIMED_RUN_SAMPLES:
        return
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        draw()
        seconds.append(time.perf_counter() - start)
    rate = drawn / max(min(seconds), 1e-9)
    expected = samples / rate
    if expected <= LONG_RUN_SECONDS:
        return
    took = _clock(expected) + " (h:mm:ss)" if expected < 172_800 else f"{expected / 86_400:,.0f} days"
    fits = max(1, int(rate * LONG_RUN_SECONDS / (stages * images)) - n0)
    log_line(f"ucan: warning: {samples:,} noisy samples at the measured {rate:,.0f} samples/s "
             f"take about {took}; --n {fits} takes about 10 minutes (Ctrl-C stops the run)")


class ProgressPrinter:
    """A dataset run's progress on stderr: rows written, rate and ETA. On a TTY one line
    rewritten in place (\\r), at most every 0.2 s within a chunk; otherwise one line per
    chunk."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = time.perf_counter()

    def __call__(self, p: RunProgress) -> None:
        if not p.chunk_done and time.perf_counter() - self.last <= 0.2:
            return
        self.last = time.perf_counter()
        line = (f"certify: {p.rows}/{p.total_rows} rows, {p.rate:.3g} images/s, "
                f"elapsed {_clock(p.elapsed)}, ETA {_clock(p.eta) if p.rate > 0 else '?'}")
        print(f"\r{line}\033[K" if self.tty else line, end="" if self.tty else "\n",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def add_noise_options(p: argparse.ArgumentParser, required: bool) -> None:
    """--noise, --sigma, --param."""
    p.add_argument("--noise", required=required, default=None, type=str.lower,
                   help=f"noise density: {', '.join(NOISES)}")
    p.add_argument("--sigma", type=float, required=required, default=None,
                   help="per-coordinate standard deviation (pixel units)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="extra noise parameter, e.g. shape=1.5 for gennorm")


def add_npg_options(p: argparse.ArgumentParser) -> None:
    """--npg isotropic|pattern and the pattern's --pattern-norm, --kappa, --iota."""
    p.add_argument("--npg", default="isotropic", choices=("isotropic", "pattern"),
                   help="noise parameter generator")
    p.add_argument("--pattern-norm", default="2", help="pattern NPG norm: 1, 2 or inf")
    p.add_argument("--kappa", type=float, default=1.0, help="pattern NPG kappa")
    p.add_argument("--iota", type=float, default=1.0, help="pattern NPG iota")


def add_sampling_options(p: argparse.ArgumentParser, n: int, per: str = "",
                         alpha_help: str = "failure probability") -> None:
    """CERTIFY's sampling options: --n0, --n, --alpha, --batch, --seed."""
    p.add_argument("--n0", type=int, default=100, help=f"selection samples{per}")
    p.add_argument("--n", type=int, default=n, help=f"estimation samples{per}")
    p.add_argument("--alpha", type=float, default=0.001, help=alpha_help)
    p.add_argument("--batch", type=int, default=1000, help="samples per forward pass")
    p.add_argument("--seed", type=seed_value, default=0, help="random seed")


def add_data_options(p: argparse.ArgumentParser, what: str = "the dataset files") -> None:
    """--data-root and --download."""
    p.add_argument("--data-root", default="data", help=f"folder with {what}")
    p.add_argument("--download", action="store_true", help="download the dataset with torchvision")


def add_training_options(p: argparse.ArgumentParser, epochs: int, out: str) -> None:
    """--epochs, --batch, --lr, --seed, --id, the data options, --out and --device."""
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=seed_value, default=0)
    p.add_argument("--id", required=True, help="model id (file name)")
    add_data_options(p)
    p.add_argument("--out", default=out, help="output folder")
    p.add_argument("--device", default="auto")


def add_selector_training_options(p: argparse.ArgumentParser, train_images: int,
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
    add_training_options(p, epochs=5, out="assets/models/estimators")


def run_options(args: argparse.Namespace) -> Any:
    """The :class:`~ucan_core.training.recipes.Run` of a training command."""
    from ucan_core.training.recipes import Run

    return Run(id=args.id, out=args.out, epochs=args.epochs, batch=args.batch, lr=args.lr,
               seed=args.seed, device=args.device, data_root=args.data_root,
               download=args.download, command=command_line(args), log=log_line)
