"""What a radius or a certificate is: its kind (exact / sound / approximate) and soundness."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

#: exact: tight; sound: a valid certificate that may be loose; approximate: an estimate.
Kind = Literal["exact", "sound", "approximate"]


@dataclass(frozen=True)
class Radius:
    """A certified radius in one ℓp norm, with what kind of statement it is."""

    value: float
    norm: str
    kind: Kind
    formula: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: What a certificate covers (:data:`SOUNDNESS_NOTES`).
Soundness = Literal["sound", "input-dependent", "approximate"]

SOUNDNESS_NOTES: dict[str, str] = {
    "sound": "Certificate: with probability ≥ 1 − α over the sampling, the deployed smoothed "
             "classifier returns the same class everywhere within the radius.",
    "input-dependent": "Not a certificate for the deployed classifier: the noise parameters "
                       "were computed from this input and are frozen here; the deployed "
                       "classifier recomputes them on a perturbed input.",
    "approximate": "Approximation: a numerical estimate of the radius, not a guarantee.",
}
