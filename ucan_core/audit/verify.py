"""Verifying an attack's point: a fresh Monte-Carlo upper bound on the certified class."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ucan_core.audit.attack import AttackBudget, _Attack
from ucan_core.certify.smoothed import Progress, SmoothedClassifier
from ucan_core.certify.stats import clopper_pearson_upper, predict_top


class _Tally:
    """The audit's units of work done out of ``total``, each reported to ``progress``."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.done, self.total = progress, 0, total

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


@dataclass(frozen=True)
class _Verdict:
    """Fresh-sample verification at one point: the claimed class's ``count``, its one-sided
    upper bound ``p_upper``, the ``top`` class, and whether PREDICT confidently returns
    a class other than the claimed one (:meth:`changed_from`); ``confident``: the top-two
    test passed at the verification level; ``counts``: the votes of every class."""

    count: int
    p_upper: float
    top: int
    confident: bool
    counts: tuple[int, ...]

    def changed_from(self, claimed: int) -> bool:
        return self.confident and self.top != claimed


def _verify(smoothed: SmoothedClassifier, point: torch.Tensor, claimed: int,
            budget: AttackBudget, alpha: float, seed: int) -> _Verdict:
    """``budget.n_verify`` fresh votes of ``smoothed`` at ``point``: the Clopper–Pearson
    upper bound at ``alpha`` on P(f(point + ε) = claimed) and Cohen's PREDICT test."""
    counts = smoothed.certify(point, 1, budget.n_verify, alpha, budget.batch_size, seed=seed).counts
    top, confident = predict_top(counts, alpha)
    return _Verdict(int(counts[claimed]), clopper_pearson_upper(counts[claimed], budget.n_verify, alpha),
                    top, confident, tuple(int(c) for c in counts))


def _distances(attack: _Attack, point: torch.Tensor) -> dict[str, float]:
    """``delta_norm`` ‖x′ − x‖_p and ``region_norm`` ‖(x′ − x)/s‖_p / R of a candidate."""
    delta = (point - attack.x).flatten().double().cpu()
    scale = attack.scale.double().cpu()
    return {"delta_norm": float(torch.linalg.vector_norm(delta, ord=attack.norm)),
            "region_norm": float(torch.linalg.vector_norm(delta / scale, ord=attack.norm))
            / attack.radius}
