"""The certificate of one input: what CERTIFY returns, with its kind and soundness."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ucan_core.labels import FLOAT_NOTE, SOUNDNESS_NOTES, Kind, Radius, Soundness

ABSTAIN = -1  # the prediction of a certificate, or of PREDICT, that abstains
FIXED_BOUND = "clopper-pearson (fixed n)"


@dataclass
class Certificate:
    """Result of CERTIFY for one input.

    ``prediction`` is −1 when abstaining. ``radius`` is in the noise's native norm
    (``norm``) with tightness ``kind``; ``radii`` gives ℓ1/ℓ2/ℓ∞ with their kinds; ``alm``
    is the volume-equivalent radius of the (anisotropic) certified region; ``soundness``
    says what the statement covers (:data:`SOUNDNESS_NOTES`). ``bound`` names how
    ``p_a_lower`` was computed from the ``samples_used`` estimation samples: Clopper–Pearson
    at the fixed n, or an anytime-valid confidence sequence for a run that may stop early.
    ``assumption`` states what the certificate rests on, from its noise: the float32 noise
    stands for the continuous noise of the theorem (:data:`FLOAT_NOTE`, the default), or the
    float-sound argument of the grid noise (:data:`~ucan_core.labels.GRID_NOTE`).
    """

    prediction: int
    p_a_lower: float
    radius: float
    norm: str
    kind: Kind
    radii: dict[str, Radius]
    alm: float
    counts: list[int]
    selection_counts: list[int]
    n0: int
    n: int
    alpha: float
    noise: dict[str, Any]
    soundness: Soundness
    seconds: float = 0.0
    samples_used: int = 0
    bound: str = FIXED_BOUND
    assumption: str = FLOAT_NOTE
    note: str = field(init=False)

    def __post_init__(self) -> None:
        self.note = SOUNDNESS_NOTES[self.soundness]
        self.samples_used = self.samples_used or self.n

    @property
    def abstained(self) -> bool:
        return self.prediction == ABSTAIN

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=True)
