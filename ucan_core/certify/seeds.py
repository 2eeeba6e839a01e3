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

from ucan_core.errors import UcanError

#: The largest seed: ``torch.Generator.manual_seed`` takes 64-bit words, ``SeedSequence``
#: any integer >= 0; a seed is an integer in [0, MAX_SEED] for both.
MAX_SEED = 2**64 - 1


def check_seed(seed: object, name: str = "seed") -> int:
    """``seed`` as an int if it is an integer in [0, 2⁶⁴ − 1], else UcanError (the one seed
    rule: a single image and a dataset run accept the same seeds)."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED:
        return int(seed)
    raise UcanError(f"{name} must be an integer in [0, 2**64 - 1], got {seed!r}")


def derive_seed(seed: int, *keys: int) -> int:
    """The seed of the stream named by ``keys`` under ``seed``: the first 32-bit word of
    ``SeedSequence([seed, *keys])``."""
    return int(np.random.SeedSequence([check_seed(seed), *keys]).generate_state(1)[0])


def make_rng(seed: int | None, device: str | torch.device) -> torch.Generator | None:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (None: no generator, torch's
    global stream)."""
    if seed is None:
        return None
    rng = torch.Generator(device=device)
    rng.manual_seed(check_seed(seed))
    return rng
