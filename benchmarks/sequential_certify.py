"""Sequential (anytime-valid) CERTIFY vs fixed-n CERTIFY, side by side in one run.

For each target radius r, the sequential run stops per image as soon as the anytime-valid
radius reaches r (or the anytime upper bound rules r out), at most ``--n`` samples; the
fixed run draws ``--n`` samples for every image once. Printed per dataset and r: certified
accuracy at r of both, estimation samples used (ratio fixed / sequential) and wall time.
Also the radius loss of the anytime-valid bound against Clopper–Pearson at the same full n, on
the same samples (the fixed run's estimation counts).

    python benchmarks/sequential_certify.py [--images 100] [--n 10000] [--datasets mnist,cifar10]

Data: the MNIST test set and the 100 exact CIFAR-10 test images under ``--data-root``
(default ``../shared/data``, the development copy).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ucan_core import SmoothedClassifier, load_model
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.radii import certified_radii
from ucan_core.certify.sequential import certified_accuracy_sequential, cs_lower
from ucan_core.io.datasets import load_dataset

SETUPS = {"mnist": ("mnist-gaussian-0.50", "mnist", "test"),
          "cifar10": ("cifar10-gaussian-0.50", "cifar10", "test100")}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--radii", default="0.25,0.5,1.0")
    parser.add_argument("--datasets", default="mnist,cifar10")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--data-root", default=str(Path(__file__).resolve().parents[2]
                                                   / "shared" / "data"))
    return parser.parse_args()


def certified(certs, labels: np.ndarray, r: float) -> float:
    return float(np.mean([c.prediction == y and c.radius >= r for c, y in zip(certs, labels)]))


def anytime_radius(smoothed: SmoothedClassifier, fixed: Certificate) -> float:
    """The anytime-valid radius on the fixed run's own estimation counts (same samples, same n)."""
    k = fixed.counts[fixed.prediction]
    p_lower = cs_lower(k, fixed.n, fixed.alpha)
    noise = smoothed.noise
    return certified_radii(noise, p_lower, noise.native_norm)[0].value if p_lower > 0.5 else 0.0


def run_dataset(name: str, args: argparse.Namespace, radii: list[float]) -> None:
    model_id, dataset, split = SETUPS[name]
    folder = Path(args.data_root) / dataset
    xs, ys = load_dataset(dataset, folder, split)
    xs, ys = xs[:args.images], ys[:args.images].numpy()
    model, card = load_model(model_id)
    smoothed = SmoothedClassifier(model, card.noise_source().at(), card.architecture.num_classes)
    began = time.perf_counter()
    fixed = smoothed.certify_batch(xs, args.n0, args.n, args.alpha, args.batch, seed=0)
    fixed_s = time.perf_counter() - began
    losses = [1 - anytime_radius(smoothed, f) / f.radius for f in fixed if f.radius > 0]
    print(json.dumps({"dataset": name, "model": model_id, "images": len(ys), "n": args.n,
                      "radius_loss_at_full_n_median_pct": round(100 * float(np.median(losses)), 2),
                      "radius_loss_at_full_n_max_pct": round(100 * float(np.max(losses)), 2)}))
    began = time.perf_counter()
    table = certified_accuracy_sequential(smoothed, xs, ys, radii, args.n0, args.n, args.alpha,
                                          args.batch, seed=0)
    seq_s = time.perf_counter() - began
    for row in table:
        print(json.dumps({
            "dataset": name, "radius": row.radius,
            "certified_fixed": round(certified(fixed, ys, row.radius), 4),
            "certified_sequential": round(row.certified_accuracy, 4),
            "samples_fixed": args.n * len(ys), "samples_sequential": row.samples_used,
            "samples_ratio_fixed_over_sequential": round(args.n * len(ys) / row.samples_used, 2),
            "seconds_fixed": round(fixed_s, 1),
            "seconds_sequential_all_radii": round(seq_s, 1)}))


def main() -> None:
    args = parse()
    torch.manual_seed(0)
    radii = [float(r) for r in args.radii.split(",")]
    for name in args.datasets.split(","):
        run_dataset(name, args, radii)


if __name__ == "__main__":
    main()
