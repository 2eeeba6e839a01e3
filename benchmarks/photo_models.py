"""Denoised smoothing on photos: speed, accuracy under noise and certified accuracy.

Measures, on the 20 bundled ImageNet-class photos (``assets/images/imagenet``, resized to
3×224×224 in [0, 1]) and the bundled ``imagenet-denoised-*`` models:

1. samples per second of the composite (FFDNet → EfficientNet-Lite0), of the denoiser and of
   the classifier alone, at ``--batch`` images per forward pass;
2. clean top-1 of the classifier alone and of the composite (denoiser run on the clean photo);
3. top-1 under Gaussian noise σ ∈ {0.12, 0.25, 0.5} of the classifier alone (``--draws``
   noisy copies per photo) and with the denoiser in front (``--draws-denoised`` copies; at
   σ = 0.5, above FFDNet's training range, the denoiser runs at its largest trained level
   75/255, marked as such);
4. Cohen et al.'s CERTIFY of every photo with each bundled model (``--n0``, ``--n``,
   ``--alpha``), one log per model (ucan certify-log format, resumed if interrupted; the true
   label's votes among the n0 + n noisy copies beside it in ``<model>.votes.json``), the time
   per certificate and the certified accuracy at r = 0, 0.1, 0.25, 0.5.

Everything goes to ``--out/photo_models.json``; ``--update-cards`` copies the measured
numbers into the models' cards. The composite costs ~10 GMAC a sample (FFDNet ~10, the
classifier 0.4): at 5 samples/s (2 idle cores) the default run takes ~20 minutes, at the
~1 sample/s of a loaded 2-core VM over an hour.

    .venv/bin/python benchmarks/photo_models.py --update-cards

Split over processes (fair share on a loaded machine): ``--certify-only`` runs step 4 alone
(``--photos FIRST END`` a slice of it, into its own ``--out``); then ``--no-certify`` (and
``--reuse`` to keep steps 1–3) summarises the logs as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from ucan_core import SmoothedClassifier, list_images, load_model, make_noise, to_tensor
from ucan_core.io.logs import LogWriter, read_log
from ucan_core.io.records import log_row
from ucan_core.zoo.denoised import DenoisedClassifier
from ucan_core.zoo.ffdnet import TRAINED_SIGMA_MAX
from ucan_core.zoo.paths import models_dir

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("imagenet-denoised-0.12", "imagenet-denoised-0.25")
NOISY_SIGMAS = (0.12, 0.25, 0.5)
RADII = (0.0, 0.1, 0.25, 0.5)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--batch", type=int, default=16, help="images per forward pass")
    parser.add_argument("--draws", type=int, default=8,
                        help="noisy copies per photo for the classifier alone (step 3)")
    parser.add_argument("--draws-denoised", type=int, default=4,
                        help="noisy copies per photo through the denoiser (step 3)")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--photos", nargs=2, type=int, metavar=("FIRST", "END"),
                        help="certify only photos FIRST..END-1 (split a run over processes, "
                             "each with its own --out, then concatenate the logs)")
    parser.add_argument("--n0", type=int, default=16)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "results" / "photos")
    parser.add_argument("--update-cards", action="store_true")
    parser.add_argument("--certify-only", action="store_true",
                        help="only step 4 (e.g. one process per model), no summary written")
    parser.add_argument("--no-certify", action="store_true",
                        help="summarise the logs as they are (no new certificates)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep steps 1-3 from an existing photo_models.json")
    return parser.parse_args()


def rate(fn, x: torch.Tensor, repeats: int = 2) -> float:
    """Images per second of ``fn`` on batch ``x`` (after one warm-up pass)."""
    fn(x)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(x)
    return repeats * len(x) / (time.perf_counter() - start)


def top1(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean())


def noisy_accuracy(model: DenoisedClassifier, xs: torch.Tensor, ys: torch.Tensor, sigma: float,
                   draws: int, batch: int, denoise: bool) -> float:
    """Top-1 over ``draws`` noisy copies of every photo, of the classifier alone or, with
    ``denoise``, behind the denoiser (at σ, or at 75/255 above its range)."""
    level = min(sigma, TRAINED_SIGMA_MAX)
    rng = torch.Generator().manual_seed(int(sigma * 1000))
    noisy = (xs.unsqueeze(0) + sigma * torch.randn((draws, *xs.shape), generator=rng)).flatten(0, 1)
    logits = []
    for chunk in noisy.split(batch):
        chunk = chunk.contiguous(memory_format=torch.channels_last)
        logits.append(model.classify(model.denoiser(chunk, level).clamp(0, 1) if denoise else chunk))
    return top1(torch.cat(logits), ys.repeat(draws))


def write_certificates(smoothed: SmoothedClassifier, log_path: Path, votes: dict[str, int],
                       votes_path: Path, xs: torch.Tensor, ys: torch.Tensor,
                       args: argparse.Namespace, device: str) -> None:
    """CERTIFY the photos not yet in the log (``--photos``: a slice), one row each, and keep
    the true label's votes among the n0 + n noisy copies in ``votes_path``."""
    model_id = log_path.stem
    with LogWriter(log_path) as log:
        for idx in range(*(args.photos or (0, len(xs)))):
            if idx in log.done and str(idx) in votes:
                continue
            if idx in log.done:
                raise SystemExit(f"{log_path} has photo {idx} but {votes_path.name} lacks it")
            cert = smoothed.certify(xs[idx].to(device), args.n0, args.n, args.alpha, args.batch,
                                    seed=idx)
            label = int(ys[idx])
            votes[str(idx)] = cert.selection_counts[label] + cert.counts[label]
            votes_path.write_text(json.dumps(votes, indent=1) + "\n")
            log.write(log_row(idx, label, cert))
            print(f"{model_id} photo {idx}: predict {cert.prediction} label {int(ys[idx])} "
                  f"p_A >= {cert.p_a_lower:.3f} radius {cert.radius:.3f} ({cert.kind}, "
                  f"{cert.soundness}) {cert.seconds:.1f} s", flush=True)


def certify_all(model_id: str, xs: torch.Tensor, ys: torch.Tensor, args: argparse.Namespace,
                device: str) -> dict[str, object]:
    """CERTIFY every photo with ``model_id`` into ``--out/<model_id>.tsv`` (resumed)."""
    model, card = load_model(model_id, device)
    sigma = float(card.noise["sigma"])
    noise = make_noise("gaussian", sigma, xs[0].numel(), device=device)
    smoothed = SmoothedClassifier(model, noise, card.architecture.num_classes)
    log_path = args.out / f"{model_id}.tsv"
    settings = {"model": model_id, "n0": args.n0, "n": args.n, "alpha": args.alpha,
                "batch": args.batch, "seed": "photo index", "threads": args.threads,
                "device": device, "images": len(xs), "input_shape": [3, 224, 224]}
    run_file = log_path.with_name(log_path.name + ".run.json")
    if run_file.is_file() and json.loads(run_file.read_text()) != settings:
        raise SystemExit(f"{log_path} was written with other settings: delete it to rerun")
    votes_path = args.out / f"{model_id}.votes.json"
    votes = json.loads(votes_path.read_text()) if votes_path.is_file() else {}
    if not args.no_certify:  # (only read the log then: another process may be writing it)
        run_file.write_text(json.dumps(settings, indent=2) + "\n")
        write_certificates(smoothed, log_path, votes, votes_path, xs, ys, args, device)
    rows = read_log(log_path)
    certified = {f"{r:g}": float(((rows.correct == 1) & (rows.radius >= r)).mean()) for r in RADII}
    best_p = args.alpha ** (1 / args.n)  # Clopper–Pearson bound when all n samples agree
    from scipy.stats import norm

    samples = len(rows) * (args.n0 + args.n)
    return {"model": model_id, "sigma": sigma, "n0": args.n0, "n": args.n, "alpha": args.alpha,
            "images": len(rows), "certified_accuracy": certified,
            "noisy_top1_with_denoiser": sum(votes.values()) / samples,
            "abstained": int((rows.predict == -1).sum()),
            "seconds_per_certificate": float(rows.time.mean()),
            "max_radius_at_this_n": sigma * float(norm.ppf(best_p)),
            "log": str(log_path.relative_to(ROOT) if log_path.is_relative_to(ROOT) else log_path)}


def measure(args: argparse.Namespace, xs: torch.Tensor, ys: torch.Tensor) -> dict[str, object]:
    """Steps 1–3: speed, clean top-1, top-1 under noise."""
    results: dict[str, object] = {"photos": len(xs), "input_shape": [3, 224, 224],
                                  "device": args.device, "threads": args.threads,
                                  "cpu": platform.processor() or platform.machine(),
                                  "load_average_at_start": os.getloadavg()}
    wall, cpu = time.perf_counter(), time.process_time()
    model, _ = load_model(MODELS[-1], args.device)
    batch = xs[:1].repeat(8, 1, 1, 1).to(args.device)
    on_device = xs.to(args.device), ys.to(args.device)
    with torch.inference_mode():
        channels_last = batch.contiguous(memory_format=torch.channels_last)
        results["samples_per_second"] = {
            "composite": rate(model, batch),
            "denoiser": rate(lambda z: model.denoise(z), channels_last),
            "classifier": rate(model.classify, channels_last), "batch": len(batch)}
        print("speed", results["samples_per_second"], flush=True)
        clean = {"classifier_alone": top1(model.classify(on_device[0]), on_device[1])}
        for model_id in MODELS:
            level_model, card = load_model(model_id, args.device)
            clean[f"composite_{card.noise['sigma']:g}"] = top1(level_model(on_device[0]), on_device[1])
        results["clean_top1"] = clean
        print("clean", clean, flush=True)
        results["noisy_top1_classifier_alone"] = {
            f"{sigma:g}": noisy_accuracy(model, *on_device, sigma, args.draws, args.batch, False)
            for sigma in NOISY_SIGMAS}
        results["noisy_draws_classifier_alone"] = args.draws
        results["noisy_top1_with_denoiser"] = {
            f"{sigma:g}": noisy_accuracy(model, *on_device, sigma, args.draws_denoised, args.batch,
                                         True) for sigma in NOISY_SIGMAS}
        results["noisy_draws_with_denoiser"] = args.draws_denoised
        results["noisy_note"] = ("sigma 0.5 is above FFDNet's training range (sigma <= 75/255): "
                                 "there the denoiser runs at 75/255")
        print("noisy", results["noisy_top1_classifier_alone"], results["noisy_top1_with_denoiser"],
              flush=True)
    results["load_average_at_end"] = os.getloadavg()
    results["measure_wall_seconds"] = time.perf_counter() - wall
    results["measure_cpu_seconds"] = time.process_time() - cpu
    return results


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    photos = [img for img in list_images().values() if img.dataset == "imagenet"]
    xs = torch.stack([to_tensor(img.load(), (3, 224, 224)) for img in photos])
    ys = torch.tensor([img.label for img in photos])
    if args.certify_only:
        for model_id in args.models:
            print(json.dumps(certify_all(model_id, xs, ys, args, args.device)), flush=True)
        return
    summary = args.out / "photo_models.json"
    if args.reuse and summary.is_file():
        results = {k: v for k, v in json.loads(summary.read_text()).items() if k != "certify"}
    else:
        results = measure(args, xs, ys)
        summary.write_text(json.dumps(results, indent=2) + "\n")
    results["certify"] = [certify_all(m, xs, ys, args, args.device) for m in args.models]
    summary.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    if args.update_cards:
        update_cards(results)


def update_cards(results: dict) -> None:
    """Write the measured numbers into the bundled models' cards."""
    for cert in results["certify"]:
        path = models_dir() / f"{cert['model']}.json"
        card = json.loads(path.read_text())
        sigma = cert["sigma"]
        card["metrics"] = {
            "split": "bundled ImageNet-class photos (assets/images/imagenet)",
            "images": results["photos"],
            "certified_images": cert["images"],
            "clean_accuracy": results["clean_top1"][f"composite_{sigma:g}"],
            "classifier_clean_accuracy": results["clean_top1"]["classifier_alone"],
            "noisy_accuracy": cert["noisy_top1_with_denoiser"],  # CERTIFY's n0 + n copies
            "noisy_draws_per_image": cert["n0"] + cert["n"],
            "noisy_accuracy_without_denoiser": results["noisy_top1_classifier_alone"][f"{sigma:g}"],
            "noisy_draws_per_image_without_denoiser": results["noisy_draws_classifier_alone"],
            "certified_accuracy": cert["certified_accuracy"],
            "certify": {k: cert[k] for k in ("n0", "n", "alpha", "seconds_per_certificate",
                                             "max_radius_at_this_n", "log")},
            "samples_per_second_cpu": results["samples_per_second"]["composite"],
        }
        path.write_text(json.dumps(card, indent=2) + "\n")


if __name__ == "__main__":
    main()
