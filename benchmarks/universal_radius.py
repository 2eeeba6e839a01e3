"""Universal (UniCR) radius speed: one radius and a 50-point radius-vs-p_A curve at d = 3072,
in ℓ1, ℓ2 and ℓ∞, against a UniCR-style brute-force Monte Carlo radius at one p_A.

The brute force is the official code's method made fair (log space, float64, the same worst
direction handed to it): N noise draws of d coordinates, the likelihood ratio summed over all
d coordinates at each scale, plug-in quantiles, 20 bisection steps on the scale. Everything is
measured side by side in one run on the same device, with one CPU thread and with torch's
default thread count (the engine runs many small tensor operations, where threads mostly
add synchronisation); prints one JSON object per norm and thread count.

    python benchmarks/universal_radius.py [--noise laplace] [--device auto] [--samples 2000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from ucan_core.devices import resolve_device
from ucan_core.noises.catalog import make_noise
from ucan_core.noises.iid import IIDNoise
from ucan_core.universal.search import universal_radius, universal_radius_curve


def brute_force_radius(noise: IIDNoise, p_a: float, direction: np.ndarray, samples: int,
                       steps: int = 20, seed: int = 0) -> float:
    """Bisection on the scale of ``direction`` with plug-in Monte Carlo ROC values."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    eps = noise.sample(samples, gen).to(torch.float64)
    delta = torch.as_tensor(direction, dtype=torch.float64, device=eps.device)
    base = noise._log_density_1d(eps).sum(1)
    lo, hi = 0.0, 4.0 * noise.sigma * float(np.abs(direction).sum()) / float(np.abs(direction).max())
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        ratio, _ = torch.sort(noise._log_density_1d(eps - mid * delta).sum(1) - base)
        beta = torch.exp(ratio.clamp(max=700))[: int(samples * p_a)].sum() / samples
        lo, hi = (mid, hi) if beta > 0.5 else (lo, mid)
    return lo


def timed(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, out


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", default="laplace")
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--dim", type=int, default=3072)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--samples", type=int, default=2000, help="brute-force Monte Carlo draws")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    device = resolve_device(args.device)
    noise = make_noise(args.noise, args.sigma, args.dim, device=device)
    p_curve = np.linspace(0.51, 0.999, 50)
    default_threads = torch.get_num_threads()
    for norm, threads in [(q, t) for q in ("1", "2", "inf") for t in sorted({1, default_threads})]:
        torch.set_num_threads(threads)
        t_one, one = timed(lambda q=norm: universal_radius(noise, 0.9, q), args.repeats)
        t_curve, curve = timed(lambda q=norm: universal_radius_curve(noise, p_curve, q),
                               args.repeats)
        t_brute, brute = timed(
            lambda r=one: brute_force_radius(noise, 0.9, r.direction(0), args.samples), 1)
        print(json.dumps({
            "noise": args.noise, "dim": args.dim, "norm": norm, "device": str(device),
            "threads": threads,
            "one_radius_s": round(t_one, 3), "curve_50_s": round(t_curve, 3),
            "brute_force_one_radius_s": round(t_brute, 3), "brute_force_samples": args.samples,
            "curve_50_vs_one_radius": round(t_curve / t_one, 2),
            "brute_force_vs_one_radius": round(t_brute / t_one, 2),
            "radius_at_0.9": round(float(one.radius[0]), 6),
            "brute_force_radius_at_0.9": round(brute, 6),
            "worst_direction": one.worst_label(0)}))


if __name__ == "__main__":
    run()
