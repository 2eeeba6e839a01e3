"""THE rule for a certificate's radii: the closed form where the base noise has one, else the
universal engine's approximate radius (UniCR), scaled by the anisotropic map.
"""

from __future__ import annotations

from ucan_core.labels import Radius
from ucan_core.noises.base import Noise
from ucan_core.norms import norm_label
from ucan_core.universal.lookup import interpolated_radius

UNIVERSAL_FORMULA = "universal Neyman–Pearson radius (UniCR, approximate)"


def certified_radii(noise: Noise, p_a: float, norm: float) -> tuple[Radius, dict[str, Radius], float]:
    """Native-norm radius, ℓ1/ℓ2/ℓ∞ radii and ALM at lower bound ``p_a``.

    Closed forms where the base noise has them (kinds as the noise states); otherwise the
    universal engine's radius R (kind ``approximate``, no ℓ1/ℓ2/ℓ∞ table), reported as
    min_i s_i · R with ALM (∏ s_i)^{1/d} · R.
    """
    if noise.base.direct:
        return noise.radius(p_a, norm), noise.radii(p_a), noise.alm(p_a, norm)
    value = interpolated_radius(noise.base, p_a, norm)
    formula = UNIVERSAL_FORMULA if noise.base is noise else f"min_i s_i · {UNIVERSAL_FORMULA}"
    radius = Radius(value * float(noise.scale.min()), norm_label(norm), "approximate", formula)
    return radius, {}, value * noise.alm_factor
