"""UniCR: the certified radius of any density in any ℓp norm, by a numerical Neyman–Pearson search."""

from ucan_core.universal.search import (
    MODES,
    Settings,
    UniversalCurve,
    universal_radius,
    universal_radius_curve,
)

__all__ = ["MODES", "Settings", "UniversalCurve", "universal_radius", "universal_radius_curve"]
