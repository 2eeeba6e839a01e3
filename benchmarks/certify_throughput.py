"""CERTIFY throughput vs the raw forward pass and vs Cohen et al.'s one-input loop.

Runs ``ucan_core.bench.benchmark`` on a bundled model and prints one JSON object per
configuration (same model, device and inputs, measured side by side in one run).

    python benchmarks/certify_throughput.py [--model ID] [--device cpu] [--n 20000]
"""

from __future__ import annotations

import argparse
import sys

from ucan_core.cli import main as ucan


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mnist-gaussian-0.25")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args()


def run() -> int:
    args = parse()
    status = 0
    for inputs, batch in ((1, 1000), (10, 1000), (10, 4000)):
        status |= ucan(["bench", "--model", args.model, "--device", args.device, "--n",
                        str(args.n), "--batch", str(batch), "--inputs", str(inputs),
                        "--repeats", str(args.repeats)])
    return status


if __name__ == "__main__":
    sys.exit(run())
