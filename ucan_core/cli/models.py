"""``ucan models``: the bundled models, one line each."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the bundled models")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from ucan_core.zoo.bundled import list_models

    for model_id, card in list_models().items():
        acc = card.metrics.get("clean_accuracy")
        print(f"{model_id}\t{card.arch}\t{card.dataset}\t{card.noise['name']} sigma="
              f"{card.noise['sigma']:g}\tnpg {card.npg}\tclean acc {acc:.4f}"
              if acc is not None else model_id)
