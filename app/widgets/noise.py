"""The noise pickers: density (and its parameters), σ, the NPG (isotropic, pattern-fixed κ
and ι, the bundled learned generators) and the certificate's norm."""

from __future__ import annotations

import streamlit as st

from app import state
from app.cached.noise import native_norm_label
from app.choices import LEARNED_NPG_OPTIONS, NPG_OPTIONS, NPG_TITLES, NoiseChoice
from app.figures.common import norm_symbol
from app.widgets.glossary import label, tooltip
from ucan_core.noises.catalog import NOISES

NORMS = ["1", "2", "inf"]
DEFAULT_SIGMA = 0.5
#: The short list of densities teaching mode offers.
TEACHING_DENSITIES = ("gaussian", "laplace", "uniform")
DEFAULT_KAPPA = 1.0
DEFAULT_IOTA = 1.0
PARAM_HELP = {
    "a": "Tail exponent a of the power law (pareto: a > 2; powinf: a > d + 2, 0 = automatic "
         "⌈1.3·d⌉ + 3).",
    "shape": "Shape s of the generalized normal: 1 = Laplace, 2 = Gaussian; closed-form radius "
             "for s ≥ 1 and s = 0.5.",
    "weight": "Mixture weight w of the first component.",
    "shape1": "Shape of the first exponential-power component.",
    "shape2": "Shape of the second exponential-power component.",
}


def noise_picker(shape: tuple[int, int, int], prefix: str = "", *,
                 learned: bool = False) -> tuple[NoiseChoice, str]:
    """:func:`noise_choice` followed by :func:`norm_picker`: the noise for inputs of ``shape``
    and the certificate's norm (``"1"``, ``"2"``, ``"inf"``)."""
    choice = noise_choice(shape, prefix, learned=learned)
    return choice, norm_picker(choice.density, prefix)


def norm_picker(density: str, prefix: str = "") -> str:
    """The certificate's norm. One widget per density, so each starts at (and its URL omits)
    the density's native norm."""
    return st.radio("Norm of the certificate", NORMS, key=f"{prefix}norm_{density}",
                    index=NORMS.index(native_norm_label(density)),
                    bind="query-params", horizontal=True, format_func=norm_symbol,
                    help="The ℓp norm in which the radius is measured. It starts at the "
                         "density's native norm.")


def noise_choice(shape: tuple[int, int, int], prefix: str = "", *, learned: bool = False,
                 default_npg: str = "isotropic") -> NoiseChoice:
    """Density (and its parameters), σ and the NPG: isotropic, pattern-fixed (κ, ι) and, with
    ``learned``, the bundled models' learned generators. Teaching mode hides the density
    parameters, κ and ι and uses their defaults."""
    densities = list(TEACHING_DENSITIES if state.teaching_mode() else NOISES)
    density = st.selectbox("Density", densities, key=f"{prefix}density", bind="query-params",
                           index=densities.index("gaussian"),
                           format_func=lambda n: f"{NOISES[n].title} ({n})",
                           help="The isotropic noise ε. Its per-coordinate standard deviation "
                                "is σ; each density derives its own scale λ from σ.")
    params = {pname: float(default) for pname, default in NOISES[density].defaults.items()}
    if not state.teaching_mode():
        for pname, default in list(params.items()):
            params[pname] = st.number_input(
                f"{density} parameter: {pname}", value=default, step=0.1, format="%.3f",
                key=f"{prefix}param_{density}_{pname}", bind="query-params",
                help=PARAM_HELP.get(pname, f"Parameter {pname}."))
    sigma = st.slider(label("σ", "σ (noise level)"), min_value=0.05, max_value=2.0, value=DEFAULT_SIGMA,
                      step=0.05, key=f"{prefix}sigma", bind="query-params",
                      help=tooltip("σ", "Per-coordinate standard deviation of the base "
                                   "noise, in pixel units (images are in [0, 1]). The radius "
                                   "scales with σ. Cauchy has no variance: there σ matches the "
                                   "quartiles of N(0, σ²)."))
    options = list(NPG_OPTIONS)
    options += list(LEARNED_NPG_OPTIONS) if learned else []
    npg = st.selectbox("Noise generator (NPG)", options, key=f"{prefix}npg",
                       index=options.index(default_npg), bind="query-params",
                       format_func=NPG_TITLES.__getitem__,
                       help="isotropic: the same σ everywhere. pattern ℓp (UCAN): a fixed "
                            "scale map s = κ‖(a, b)‖_p² + ι over the pixel position, "
                            "normalised to geometric mean 1."
                            + (" learned (UCAN, MNIST images): the maps of the bundled model "
                               "trained at the nearest σ; universal maps are fixed (sound), "
                               "input-dependent maps are computed from the image (not a "
                               "certificate for the deployed classifier)." if learned else ""))
    kappa, iota = DEFAULT_KAPPA, DEFAULT_IOTA
    if npg.startswith("pattern-"):
        kappa, iota = pattern_sliders(prefix)
    return NoiseChoice(density=density, sigma=float(sigma), shape=shape, npg=npg,
                                kappa=float(kappa), iota=float(iota),
                                params=tuple(sorted(params.items())))


def pattern_sliders(prefix: str = "") -> tuple[float, float]:
    """κ and ι of the pattern-fixed NPG (the defaults in teaching mode)."""
    if state.teaching_mode():
        return DEFAULT_KAPPA, DEFAULT_IOTA
    kappa = st.slider("κ (pattern strength)", 0.0, 4.0, DEFAULT_KAPPA, 0.1, key=f"{prefix}kappa",
                      bind="query-params",
                      help="How much the noise grows from the centre to the corners.")
    iota = st.slider("ι (pattern offset)", 0.05, 2.0, DEFAULT_IOTA, 0.05, key=f"{prefix}iota",
                     bind="query-params",
                     help="Base level of the scale map; a larger ι means a flatter map.")
    return float(kappa), float(iota)
