"""THE seed derivation: every independent random stream of the engine is seeded from the
user's seed and the stream's keys through NumPy's ``SeedSequence``, so two streams with
different keys are independent and a stream's numbers depend on its keys only (a resumed
dataset run redraws exactly the noise of the chunk it recomputes).

Streams in use (keys after the seed): a dataset-run chunk ``(first idx)``, a two-stage
stage ``(0 = selection, 1 + k = menu entry k)``, an audited row ``(idx)`` and within it the
attack and verifications ``(0, 1, 2, 3)``, an I-OPT evaluation ``(index)``.
"""

from __future__ import annotations

import numpy as np
import torch


def derive_seed(seed: int, *keys: int) -> int:
    """The seed of the stream named by ``keys`` under ``seed``: the first 32-bit word of
    ``SeedSequence([seed, *keys])``."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def make_rng(seed: int | None, device: str | torch.device) -> torch.Generator | None:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (None: no generator, torch's
    global stream)."""
    if seed is None:
        return None
    rng = torch.Generator(device=device)
    rng.manual_seed(int(seed))
    return rng
