"""Noise maps: isotropic, pattern-fixed, universal and input-dependent σ and μ maps, side by side.

The learned maps come from the bundled models' noise parameter generators
(``ucan_core.npg.source.NoiseSource`` of each model) evaluated on the current image; each
column carries the soundness tag of the certificates its noise gives. Figures come from
``app.figures.maps``.
"""

from __future__ import annotations

import json
import time

import streamlit as st

from app.cached.images import bundled_catalog, bundled_model_input, uploaded_model_input
from app.cached.models import model_cards
from app.cached.noise import fixed_maps, learned_maps
from app.choices import NoiseChoice
from app.figures.common import csv_text, norm_symbol
from app.figures.images import image_png
from app.figures.maps import map_rows, maps_figure
from app.widgets.noise import NORMS, pattern_sliders
from app.widgets.output import chart, downloads, soundness_badge
from ucan_core.errors import UcanError

_t0 = time.perf_counter()
PREFIX = "maps_"

st.title("Noise maps")
st.markdown(
    "UCAN shapes the smoothing noise per pixel: x + μ + s ⊙ ε, with a scale map s (so pixel i "
    "has noise level sᵢ·σ) and a mean map μ. Four ways to get the maps, on the same image: "
    "**isotropic** (s = 1, μ = 0), a **pattern-fixed** map over the pixel position, a "
    "**universal** map learned once for the whole dataset, and an **input-dependent** map "
    "computed from the image itself. One colour scale per row of maps.")

cards = model_cards()
learned: dict[float, dict[str, str]] = {}
for model_id, card in cards.items():
    if card.npg in ("universal", "input-dependent"):
        learned.setdefault(float(card.noise["sigma"]), {})[card.npg] = model_id
families = {f"{s:g}": ids for s, ids in sorted(learned.items()) if len(ids) == 2}
if not families:
    st.error("No bundled models with learned universal and input-dependent NPGs found.")
    st.stop()

controls, results = st.columns([1, 3], gap="large")
with controls:
    sigma = st.selectbox("σ of the models", list(families), key=f"{PREFIX}sigma",
                         bind="query-params", index=min(1, len(families) - 1),
                         help="Base noise level σ; the learned maps come from the bundled "
                              "universal and input-dependent models trained at this σ.")
    ids = families[sigma]
    shape = cards[ids["universal"]].architecture.input_shape
    st.caption(f"Models: `{ids['universal']}` and `{ids['input-dependent']}`.")
    catalog = dict(bundled_catalog()[cards[ids["universal"]].dataset])
    image_id = st.selectbox("Image", list(catalog), key=f"{PREFIX}image", bind="query-params",
                            format_func=catalog.__getitem__,
                            help="A bundled test image of the models' dataset; the "
                                 "input-dependent map changes with it, the others do not.")
    upload = st.file_uploader("…or upload an image", type=["png", "jpg", "jpeg"],
                              key=f"{PREFIX}upload",
                              help="PNG or JPEG, converted to the models' input shape "
                                   f"{'×'.join(map(str, shape))}.")
    image = bundled_model_input(image_id, shape)
    if upload is not None:
        try:
            image = uploaded_model_input(upload.getvalue(), upload.name, shape)
        except UcanError as error:
            st.error(f"Upload refused: {error}. Showing the bundled image instead.")
    st.image(image_png(image.pixels, min_tile=168), caption=image.name, width=200)
    st.subheader("Pattern")
    pattern = st.radio("Pattern norm", NORMS, index=1, key=f"{PREFIX}pattern",
                       bind="query-params", horizontal=True, format_func=norm_symbol,
                       help="The norm p of the pattern map s = κ‖(a, b)‖_p² + ι.")
    kappa, iota = pattern_sliders(PREFIX)

card = cards[ids["universal"]]
iso = NoiseChoice.of_card(card, sigma=float(sigma))
pat = NoiseChoice.of_card(card, sigma=float(sigma), npg=f"pattern-{pattern}", kappa=kappa,
                          iota=iota)

with results:
    try:
        maps = [fixed_maps(iso, "isotropic"),
                fixed_maps(pat, f"pattern {norm_symbol(pattern)}"),
                learned_maps(ids["universal"], image.pixels, "universal"),
                learned_maps(ids["input-dependent"], image.pixels, "input-dependent")]
    except UcanError as error:
        st.error(f"Cannot compute the maps: {error}")
        st.stop()
    names = [m.title for m in maps]
    std_maps, shifts = [m.std_map for m in maps], [m.shift for m in maps]
    chart(maps_figure(std_maps, names, "sigma"), key="maps_sigma_row")
    chart(maps_figure(shifts, names, "mu"), key="maps_mu_row")
    for column, entry in zip(st.columns(len(maps)), maps):
        with column:
            st.markdown(f"**{entry.title}** {soundness_badge(entry.soundness)}")
            s = entry.stats
            st.caption(f"s ∈ [{s['scale_min']:.3g}, {s['scale_max']:.3g}], geometric mean "
                       f"{s['scale_geomean']:.3g} · max |μ| = {s['shift_abs_max']:.3g}")
            st.caption(entry.note)
    st.markdown(
        "**Reading the tags.** Fixed maps (isotropic, pattern, universal) give certificates "
        "for the deployed smoothed classifier (:green-badge[sound]). The input-dependent maps "
        "are recomputed from whatever input the classifier sees, so a certificate made with "
        "the maps of this image covers only the classifier with the maps frozen here: "
        ":orange-badge[input-dependent], **not a certificate for the deployed classifier**.")
    stem = f"noise-maps-sigma{sigma}-{image.key.replace(':', '-')[:40]}"
    downloads([
        ("Maps (CSV)", csv_text(map_rows(std_maps, shifts, names)),
         f"{stem}.csv"),
        ("Summary (JSON)", json.dumps([{"noise": m.title, "soundness": m.soundness,
                                        "note": m.note, **m.stats} for m in maps], indent=2),
         f"{stem}.json")], key="maps_dl")

st.caption(f"Server time for this view: {(time.perf_counter() - _t0) * 1000:.0f} ms")
