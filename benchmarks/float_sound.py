"""Float-sound CERTIFY (the Gaussian on the 1/255 grid, noises/discrete.py) vs default float32
Gaussian CERTIFY, side by side in one run on the bundled MNIST model, at the same σ and n.

Each pair certifies the same few images with both noises back to back, at the same n, in
alternating order (so the load of a shared machine hits both alike), and reports samples/s of
each; the median and quartiles of the per-pair time ratio are printed last, with the
noisy-input generation alone (sampling plus the sum, no model). Then both modes certify
``--images`` images at ``--n`` samples and their ℓ2 radii are printed side by side
(Voráček & Hein report the sound certificates very close to the usual ones).

    python benchmarks/float_sound.py [--pairs 15] [--pair-n 2000] [--images 6] [--n 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from ucan_core import SmoothedClassifier, load_model, make_noise
from ucan_core.certify.seeds import make_rng
from ucan_core.io.images import to_tensor
from ucan_core.zoo.bundled import list_images


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mnist-gaussian-0.50")
    parser.add_argument("--images", type=int, default=6, help="images whose radii are compared")
    parser.add_argument("--n", type=int, default=10_000, help="samples of the radius runs")
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=15, help="timed pairs (default, sound)")
    parser.add_argument("--pair-n", type=int, default=2000, help="samples per input of a pair")
    parser.add_argument("--pair-images", type=int, default=3)
    return parser.parse_args()


def timed(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def quartiles(values: list[float]) -> list[float]:
    return [round(v, 3) for v in statistics.quantiles(values, n=4)]


def main() -> None:
    args = parse()
    model, card = load_model(args.model)
    arch = card.architecture
    bundled = [im for im in list_images().values() if im.dataset == card.dataset][:args.images]
    xs = torch.stack([to_tensor(im.load(), arch.input_shape) for im in bundled])
    default = card.noise_source().at()
    sound = make_noise("discrete_gaussian", default.sigma, default.dim)
    modes = {"default": SmoothedClassifier(model, default, arch.num_classes),
             "sound": SmoothedClassifier(model, sound, arch.num_classes)}
    few = xs[:args.pair_images]
    flat = few.reshape(len(few), -1)
    per_input = args.batch // len(few)
    samples = len(few) * (args.n0 + args.pair_n)
    rates: dict[str, list[float]] = {"default": [], "sound": []}
    noise_rates: dict[str, list[float]] = {"default": [], "sound": []}
    for pair in range(args.pairs):  # short runs back to back: both see the same load
        order = ("default", "sound") if pair % 2 == 0 else ("sound", "default")
        for mode in order:
            smoothed = modes[mode]
            seconds = timed(lambda s=smoothed, p=pair: s.certify_batch(
                few, args.n0, args.pair_n, args.alpha, args.batch, seed=p))
            rates[mode].append(samples / seconds)
            rng = make_rng(pair, "cpu")
            seconds = timed(lambda s=smoothed, g=rng: [s.noise.perturb(flat, per_input, g)
                                                       for _ in range(10)])
            noise_rates[mode].append(10 * per_input * len(few) / seconds)
        print(json.dumps({"pair": pair, "order": order,
                          "default_samples_per_s": round(rates["default"][-1]),
                          "sound_samples_per_s": round(rates["sound"][-1])}), flush=True)
    certs = {mode: smoothed.certify_batch(xs, args.n0, args.n, args.alpha, args.batch, seed=0)
             for mode, smoothed in modes.items()}
    for (image, a), b in zip(zip(bundled, certs["default"]), certs["sound"]):
        print(json.dumps({"image": image.id, "label": image.label,
                          "default": {"prediction": a.prediction, "p_a_lower": round(a.p_a_lower, 5),
                                      "radius_l2": round(a.radius, 5), "kind": a.kind},
                          "sound": {"prediction": b.prediction, "p_a_lower": round(b.p_a_lower, 5),
                                    "radius_l2": round(b.radius, 5), "kind": b.kind},
                          "radius_difference": round(b.radius - a.radius, 5)}))
    ratios = [d / s for d, s in zip(rates["default"], rates["sound"])]
    noise_ratios = [d / s for d, s in zip(noise_rates["default"], noise_rates["sound"])]
    print(json.dumps({
        "model": args.model, "sigma": default.sigma, "pairs": args.pairs,
        "pair_images": len(few), "n0": args.n0, "pair_n": args.pair_n,
        "threads": torch.get_num_threads(),
        "median_default_samples_per_s": round(statistics.median(rates["default"])),
        "median_sound_samples_per_s": round(statistics.median(rates["sound"])),
        "median_time_ratio_sound_over_default": round(statistics.median(ratios), 3),
        "quartiles_time_ratio": quartiles(ratios),
        "median_noisy_inputs_per_s": {m: round(statistics.median(v)) for m, v in noise_rates.items()},
        "median_noise_only_time_ratio": round(statistics.median(noise_ratios), 3),
        "quartiles_noise_only_time_ratio": quartiles(noise_ratios)}))


if __name__ == "__main__":
    main()
