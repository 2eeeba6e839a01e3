"""THE rule for a radius: the closed form where the noise has one, else the universal engine
(UniCR's numerical Neyman–Pearson search), scaled by the anisotropic map.

Which closed forms count is a named :data:`Policy`, because two legitimate uses differ:

* ``"closed-form"`` — every closed form (exact, a sound lower bound, or the sound cross-norm
  conversion) before the universal engine: a certificate (:func:`certified_radii`) and
  ``ucan radius --method auto``;
* ``"exact"`` — only a closed form that is exact in the norm asked for, else the universal
  engine's approximate radius: noise optimisation (C-OPT, I-OPT), which compares shapes and
  must not favour one whose closed form is merely a loose bound.
"""

from __future__ import annotations

from typing import Literal

from ucan_core.labels import Radius
from ucan_core.noises.base import Noise
from ucan_core.norms import norm_label, parse_norm
from ucan_core.universal.lookup import interpolated_radius

UNIVERSAL_FORMULA = "universal Neyman–Pearson radius (UniCR, approximate)"

Policy = Literal["closed-form", "exact"]


def uses_closed_form(noise: Noise, norm: float | str, policy: Policy = "closed-form") -> bool:
    """Whether ``noise``'s radius in ``norm`` comes from its base noise's closed form under
    ``policy`` (module docstring); otherwise it comes from the universal engine."""
    direct = noise.base.direct
    if policy == "exact":
        return direct.get(parse_norm(norm)) == "exact"
    return bool(direct)


def certified_radii(noise: Noise, p_a: float,
                    norm: float) -> tuple[Radius, dict[str, Radius], float]:
    """Native-norm radius, ℓ1/ℓ2/ℓ∞ radii and ALM at lower bound ``p_a``.

    Closed forms where the base noise has them (policy ``"closed-form"``, kinds as the noise
    states); otherwise the universal engine's radius R (kind ``approximate``, no ℓ1/ℓ2/ℓ∞
    table), reported as min_i s_i · R with ALM (∏ s_i)^{1/d} · R.
    """
    if uses_closed_form(noise, norm):
        return noise.radius(p_a, norm), noise.radii(p_a), noise.alm(p_a, norm)
    value = interpolated_radius(noise.base, p_a, norm)
    formula = UNIVERSAL_FORMULA if noise.base is noise else f"min_i s_i · {UNIVERSAL_FORMULA}"
    radius = Radius(value * float(noise.scale.min()), norm_label(norm), "approximate", formula)
    return radius, {}, value * noise.alm_factor
