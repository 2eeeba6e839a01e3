"""The words each two-stage family (Dual RS, sound routing) uses for the same things; the
numbers come from the certificate itself, in the engine's one two-stage vocabulary
(``selected``, ``menu``, ``r_sel``, ``p_a_lower_sel``, ``sigma_sel``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.cached.certify import menu_label


@dataclass(frozen=True)
class StageWords:
    """How the result views name the selection stage of one family."""

    selector: str        # the selection stage's model in words
    r_sel: str           # the symbol of its radius
    unit: str            # what it selects
    choice_label: str    # the metric of what it selected
    sigma_sel: str       # the symbol of its Gaussian noise level
    template: str        # a menu entry in a sentence or table ("σ = {}", "{}")
    plain: str           # the selection stage in plain words (teaching mode)

    def entry(self, value: Any) -> str:
        """A menu entry (a σ level, a configuration) as the views write it."""
        return self.template.format(menu_label(value))


#: By ``TwoStageCertificate.target``.
WORDS = {
    "dual-rs": StageWords(selector="σ-estimator", r_sel="R_σ", unit="level",
                          choice_label="Selected level σ", sigma_sel="σ_e", template="σ = {}",
                          plain="the noise-level chooser"),
    "routing": StageWords(selector="selector", r_sel="R_sel", unit="configuration",
                          choice_label="Selected configuration", sigma_sel="σ_s",
                          template="{}", plain="the noise chooser"),
}
