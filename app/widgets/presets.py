"""Presets: named noise configurations (density, σ, norm, NPG) for demos and teaching, and
the "Preset" selectbox that writes one into the noise widgets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import streamlit as st

from app.choices import LEARNED_NPG_OPTIONS, NoiseChoice
from app.widgets.noise import DEFAULT_IOTA, DEFAULT_KAPPA


@dataclass(frozen=True)
class Preset:
    """A named noise configuration (density, σ, norm, NPG) for demos and teaching; pattern
    presets use the default κ and ι."""

    density: str
    sigma: float
    norm: str
    npg: str = "isotropic"
    note: str = ""

    @property
    def learned(self) -> bool:
        """Uses a bundled model's learned NPG (MNIST-shaped images only)."""
        return self.npg in LEARNED_NPG_OPTIONS


PRESETS = {
    "Cohen Gaussian ℓ2 σ = 0.5": Preset(
        "gaussian", 0.5, "2", note="Cohen et al. (2019): isotropic Gaussian noise, exact ℓ2 "
                                   "radius σΦ⁻¹(p_A)."),
    "Laplace ℓ1": Preset("laplace", 0.5, "1",
                         note="Laplace noise: exact ℓ1 radius (Teng et al. 2020)."),
    "Uniform ℓ1": Preset("uniform", 0.5, "1",
                         note="Uniform noise: exact ℓ1 radius (Yang et al. 2020)."),
    "UCAN pattern ℓ2": Preset(
        "gaussian", 0.5, "2", "pattern-2",
        note="UCAN's pattern-fixed NPG: more noise towards the corners (sound)."),
    "UCAN universal": Preset(
        "gaussian", 0.5, "2", "universal",
        note="UCAN's learned universal maps, one pair for the whole dataset (sound; MNIST)."),
    "UCAN input-dependent (unsound)": Preset(
        "gaussian", 0.5, "2", "input-dependent",
        note="UCAN's maps computed from the image itself: NOT a certificate for the deployed "
             "classifier (MNIST)."),
}


def preset_state(name: str, prefix: str = "", image_prefix: str | None = None,
                 norm_key: str | None = None) -> dict[str, object]:
    """The session-state values (widget key → value) that preset ``name`` sets: density, σ,
    norm (under ``norm_key``, default the noise picker's own), NPG, κ and ι, and for learned
    NPGs a bundled MNIST image (image widgets under ``image_prefix``, default ``prefix``)."""
    preset = PRESETS[name]
    state: dict[str, object] = {
        f"{prefix}density": preset.density, f"{prefix}sigma": preset.sigma,
        norm_key or f"{prefix}norm_{preset.density}": preset.norm, f"{prefix}npg": preset.npg,
        f"{prefix}kappa": DEFAULT_KAPPA, f"{prefix}iota": DEFAULT_IOTA}
    if preset.learned:
        image_prefix = prefix if image_prefix is None else image_prefix
        state.update({f"{image_prefix}source": "Bundled", f"{image_prefix}dataset": "mnist"})
    return state


def matching_preset(choice: NoiseChoice, norm: str) -> str | None:
    """The name of the preset that ``choice`` in ``norm`` equals, if any."""
    for name, preset in PRESETS.items():
        if ((preset.density, preset.norm, preset.npg) == (choice.density, norm, choice.npg)
                and math.isclose(preset.sigma, choice.sigma)
                and (choice.pattern_norm is None
                     or (choice.kappa, choice.iota) == (DEFAULT_KAPPA, DEFAULT_IOTA))):
            return name
    return None


def preset_picker(prefix: str = "", image_prefix: str | None = None,
                  norm_key: str | None = None) -> None:
    """A "Preset" selectbox. Choosing one writes its values into the session state (see
    :func:`preset_state`) before the noise widgets render, then returns to the placeholder;
    the widgets, bound to the URL, carry the state from there."""
    key = f"{prefix}preset"

    def apply() -> None:
        name = st.session_state[key]
        if name is not None:
            st.session_state.update(preset_state(name, prefix, image_prefix, norm_key))
            st.session_state[key] = None

    st.selectbox("Preset", list(PRESETS), index=None, key=key, on_change=apply,
                 placeholder="Choose a preset…",
                 help="Sets the density, σ, norm and noise generator at once (the learned "
                      "generators also pick an MNIST image); every setting stays editable.\n\n"
                      + "\n".join(f"- **{n}**: {p.note}" for n, p in PRESETS.items()))
