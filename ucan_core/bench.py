"""Throughput of CERTIFY against its limit and against the classic reference loop.

Three measurements on the same model, device, inputs and batch size, interleaved in one run:

* ``forward`` — the raw batched forward pass on pre-drawn noisy inputs (the limit);
* ``certify`` — :meth:`SmoothedClassifier.certify_batch` (sampling, forward, counting);
* ``naive`` — Cohen et al.'s loop: one input at a time, a host transfer and Python
  counting after every batch.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from ucan_core.certify.smoothed import Noise, SmoothedClassifier
from ucan_core.checks import check_count


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@torch.inference_mode()
def naive_counts(model: nn.Module, noise: Noise, x: torch.Tensor, num: int,
                 batch_size: int, num_classes: int) -> np.ndarray:
    """Reference algorithm: repeat one input, add noise, predict, copy to host, count in Python."""
    counts = np.zeros(num_classes, dtype=np.int64)
    remaining = num
    while remaining > 0:
        size = min(batch_size, remaining)
        batch = x.unsqueeze(0).repeat(size, 1, 1, 1)
        noisy = batch + noise.sample(size).view_as(batch)
        for prediction in model(noisy).argmax(1).cpu().numpy():
            counts[prediction] += 1
        remaining -= size
    return counts


@torch.inference_mode()
def benchmark(model: nn.Module, noise: Noise, inputs: torch.Tensor, num_classes: int,
              n: int, batch_size: int, repeats: int = 3) -> dict[str, Any]:
    """Samples per second of forward, certify and naive; median over ``repeats`` rounds."""
    check_count("n", n)
    check_count("batch_size", batch_size)
    device = noise.device
    model = model.to(device).eval()
    inputs = inputs.to(device)
    smoothed = SmoothedClassifier(model, noise, num_classes)
    shape = inputs.shape[1:]
    per_input = max(1, batch_size // len(inputs))
    forward_batch = (inputs.repeat_interleave(per_input, 0)
                     + noise.sample(len(inputs) * per_input).view(-1, *shape))
    steps = max(1, (n * len(inputs)) // forward_batch.shape[0])

    def run_forward() -> int:
        for _ in range(steps):
            model(forward_batch).argmax(1)
        return steps * forward_batch.shape[0]

    def run_certify() -> int:
        smoothed.certify_batch(inputs, n0=1, n=n - 1, alpha=0.001, batch_size=batch_size, seed=0)
        return n * len(inputs)

    def run_naive() -> int:
        for x in inputs:
            naive_counts(model, noise, x, n, batch_size, num_classes)
        return n * len(inputs)

    runs = {"forward": run_forward, "certify": run_certify, "naive": run_naive}
    run_certify()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            _sync(device)
            began = time.perf_counter()
            samples = run()
            _sync(device)
            rates[name].append(samples / (time.perf_counter() - began))
    median = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "device": str(device), "inputs": len(inputs), "n": n, "batch": batch_size,
        "repeats": repeats, "threads": torch.get_num_threads(),
        "samples_per_s": {name: round(value, 1) for name, value in median.items()},
        "certify_vs_forward": round(median["certify"] / median["forward"], 4),
        "certify_vs_naive": round(median["certify"] / median["naive"], 4),
    }
