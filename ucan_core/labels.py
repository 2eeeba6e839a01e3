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

#: The assumption of a default-mode certificate (a continuous noise drawn in float32).
FLOAT_NOTE = ("Floating-point assumption: the noise is drawn in float32 and added to the input "
              "in float32; the guarantee is proven for the continuous noise, and a base "
              "classifier that reads the float lattice of the draws could break it.")
#: The assumption of a float-sound certificate (:mod:`ucan_core.noises.discrete`).
GRID_NOTE = ("Float-sound (Voráček & Hein 2023): the input is on the 1/255 grid, the noise is "
             "the Gaussian rounded to that grid, drawn from random integers with exact integer "
             "thresholds, and input + noise is summed in integers, so the model reads exactly "
             "the inputs of the theorem's smoothed classifier; the radius covers perturbations "
             "on the 1/255 grid and already deducts the thresholds' error. Assumes fair random "
             "bits and a model whose output for one input does not depend on its batch.")
