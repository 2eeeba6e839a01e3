"""Float-sound CERTIFY (the Gaussian on the 1/255 grid, noises/discrete.py) vs default float32
Gaussian CERTIFY, side by side in one run on the bundled MNIST model, at the same σ and n.

Each repeat certifies the same images with both noises, in alternating order (so drift in the
load of a shared machine hits both alike), and reports samples/s of each and their ratio;
the medians over repeats are printed last. Also the noisy-input generation alone (sampling
plus the sum, no model) and the ℓ2 radii of both modes per image (Voráček & Hein report
the sound certificates very close to the usual ones).

    python benchmarks/float_sound.py [--images 5] [--n 10000] [--repeats 5]
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
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args()


def timed(work: Callable[[], object]) -> tuple[float, object]:
    began = time.perf_counter()
    out = work()
    return time.perf_counter() - began, out


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
    samples = len(xs) * (args.n0 + args.n)
    rates: dict[str, list[float]] = {"default": [], "sound": []}
    noise_rates: dict[str, list[float]] = {"default": [], "sound": []}
    certs: dict[str, list] = {}
    flat = xs.reshape(len(xs), -1)
    for repeat in range(args.repeats):
        order = ("default", "sound") if repeat % 2 == 0 else ("sound", "default")
        for mode in order:
            seconds, out = timed(lambda m=mode, r=repeat: modes[m].certify_batch(
                xs, args.n0, args.n, args.alpha, args.batch, seed=r))
            rates[mode].append(samples / seconds)
            certs.setdefault(mode, out)
            noise = modes[mode].noise
            rng = make_rng(repeat, "cpu")
            seconds, _ = timed(lambda n=noise, g=rng: [n.perturb(flat, args.batch // len(xs), g)
                                                        for _ in range(10)])
            noise_rates[mode].append(10 * args.batch // len(xs) * len(xs) / seconds)
        ratio = rates["default"][-1] / rates["sound"][-1]
        print(json.dumps({"repeat": repeat, "order": order,
                          "default_samples_per_s": round(rates["default"][-1]),
                          "sound_samples_per_s": round(rates["sound"][-1]),
                          "time_ratio_sound_over_default": round(ratio, 3)}), flush=True)
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
        "model": args.model, "sigma": default.sigma, "images": len(xs), "n0": args.n0,
        "n": args.n, "repeats": args.repeats, "threads": torch.get_num_threads(),
        "median_default_samples_per_s": round(statistics.median(rates["default"])),
        "median_sound_samples_per_s": round(statistics.median(rates["sound"])),
        "median_time_ratio_sound_over_default": round(statistics.median(ratios), 3),
        "median_noisy_inputs_per_s": {m: round(statistics.median(v)) for m, v in noise_rates.items()},
        "median_noise_only_time_ratio": round(statistics.median(noise_ratios), 3)}))


if __name__ == "__main__":
    main()
