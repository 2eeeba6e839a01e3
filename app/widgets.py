"""Widgets shared by several pages: the image picker, the noise picker and download buttons.

Pages call these instead of repeating the widget code; ``prefix`` keeps the widget keys (and
so the URL parameters they are bound to) apart between pages. The Noise Lab uses the empty
prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app import figures, services
from ucan_core.errors import UcanError
from ucan_core.noises import NOISES

NORMS = ["1", "2", "inf"]
DEFAULT_SIGMA = 0.5
DEFAULT_KAPPA = 1.0
DEFAULT_IOTA = 1.0
SOUNDNESS_COLOURS = {"sound": "green", "input-dependent": "orange", "approximate": "orange"}
PARAM_HELP = {
    "a": "Tail exponent a of the power law (pareto: a > 2; powinf: a > d + 2, 0 = automatic "
         "⌈1.3·d⌉ + 3).",
    "shape": "Shape s of the generalized normal: 1 = Laplace, 2 = Gaussian; closed-form radius "
             "for s ≥ 1 and s = 0.5.",
    "weight": "Mixture weight w of the first component.",
    "shape1": "Shape of the first exponential-power component.",
    "shape2": "Shape of the second exponential-power component.",
}


def image_picker(prefix: str = "") -> services.InputImage:
    """A bundled image (dataset, then image) or a PNG/JPEG upload; returns the image to use.

    A refused or missing upload falls back to the previous upload, else to the last bundled
    image, with a message saying so.
    """
    ss = st.session_state
    source = st.radio("Image source", ["Bundled", "Upload"], key=f"{prefix}source",
                      bind="query-params", horizontal=True,
                      help="A bundled test image (MNIST, CIFAR-10, photo) or your own PNG/JPEG.")
    catalog = services.bundled_catalog()
    datasets = [d for d in ("mnist", "cifar10", "photo") if d in catalog]
    datasets += [d for d in catalog if d not in datasets]
    if source == "Bundled":
        dataset = st.selectbox("Dataset", datasets, key=f"{prefix}dataset", bind="query-params",
                               format_func=lambda d: services.DATASET_TITLES.get(d, d),
                               help="The bundled images come from the MNIST and CIFAR-10 test "
                                    "sets, plus a few photos.")
        entries = dict(catalog[dataset])
        image_id = st.selectbox("Image", list(entries), key=f"{prefix}image_{dataset}",
                                bind="query-params", format_func=entries.__getitem__,
                                help="Test-set index and label of the bundled image.")
        ss[f"{prefix}last_bundled"] = image_id
        return services.bundled_image(image_id)
    upload = st.file_uploader("Upload an image", type=["png", "jpg", "jpeg"],
                              key=f"{prefix}upload",
                              help="PNG or JPEG, at most 10 MB and 16.7 Mpixel. It is checked "
                                   "before decoding; photos are reduced to a longer side of "
                                   f"{services.MAX_SIDE} px.")
    image = ss.get(f"{prefix}last_upload")
    if upload is not None:
        try:
            image = services.uploaded_image(upload.getvalue(), upload.name)
            ss[f"{prefix}last_upload"] = image
        except UcanError as error:
            st.error(f"Upload refused: {error}. Showing the previous image instead.")
    elif image is None:
        st.info("No upload yet: showing the last bundled image.")
    if image is None:
        image = services.bundled_image(ss.get(f"{prefix}last_bundled")
                                       or catalog[datasets[0]][0][0])
    return image


def noise_picker(shape: tuple[int, int, int],
                 prefix: str = "") -> tuple[services.NoiseChoice, str]:
    """Density (and its parameters), σ, the certificate's norm and the pattern NPG (κ, ι).

    Returns the noise for inputs of ``shape`` and the chosen norm (``"1"``, ``"2"``, ``"inf"``).
    """
    density = st.selectbox("Density", list(NOISES), key=f"{prefix}density", bind="query-params",
                           index=list(NOISES).index("gaussian"),
                           format_func=lambda n: f"{NOISES[n].title} ({n})",
                           help="The isotropic noise ε. Its per-coordinate standard deviation "
                                "is σ; each density derives its own scale λ from σ.")
    params: dict[str, float] = {}
    for pname, default in NOISES[density].defaults.items():
        params[pname] = st.number_input(
            f"{density} parameter: {pname}", value=float(default), step=0.1, format="%.3f",
            key=f"{prefix}param_{density}_{pname}", bind="query-params",
            help=PARAM_HELP.get(pname, f"Parameter {pname}."))
    sigma = st.slider("σ (noise level)", min_value=0.05, max_value=2.0, value=DEFAULT_SIGMA,
                      step=0.05, key=f"{prefix}sigma", bind="query-params",
                      help="Per-coordinate standard deviation of the base noise, in pixel "
                           "units (images are in [0, 1]). The radius scales with σ. Cauchy "
                           "has no variance: there σ matches the quartiles of N(0, σ²).")
    # One norm widget per density, so each starts at (and its URL omits) its native norm.
    norm = st.radio("Norm of the certificate", NORMS, key=f"{prefix}norm_{density}",
                    index=NORMS.index(services.native_norm_label(density)),
                    bind="query-params", horizontal=True, format_func=figures.norm_symbol,
                    help="The ℓp norm in which the radius is measured. It starts at the "
                         "density's native norm.")
    npg = st.selectbox("Noise generator (NPG)", list(services.NPG_OPTIONS), key=f"{prefix}npg",
                       bind="query-params", format_func=services.NPG_OPTIONS.__getitem__,
                       help="isotropic: the same σ everywhere. pattern ℓp (UCAN): a fixed "
                            "scale map s = κ‖(a, b)‖_p² + ι over the pixel position, "
                            "normalised to geometric mean 1.")
    kappa, iota = DEFAULT_KAPPA, DEFAULT_IOTA
    if npg != "isotropic":
        kappa, iota = pattern_sliders(prefix)
    choice = services.NoiseChoice(density=density, sigma=float(sigma), shape=shape, npg=npg,
                                  kappa=float(kappa), iota=float(iota),
                                  params=tuple(sorted(params.items())))
    return choice, norm


def pattern_sliders(prefix: str = "") -> tuple[float, float]:
    """κ and ι of the pattern-fixed NPG."""
    kappa = st.slider("κ (pattern strength)", 0.0, 4.0, DEFAULT_KAPPA, 0.1, key=f"{prefix}kappa",
                      bind="query-params",
                      help="How much the noise grows from the centre to the corners.")
    iota = st.slider("ι (pattern offset)", 0.05, 2.0, DEFAULT_IOTA, 0.05, key=f"{prefix}iota",
                     bind="query-params",
                     help="Base level of the scale map; a larger ι means a flatter map.")
    return float(kappa), float(iota)


def downloads(files: Sequence[tuple[str, str, str]], key: str) -> None:
    """One download button per (label, text, file name); CSV or JSON by the file's suffix."""
    for column, (label, text, name) in zip(st.columns(len(files)), files):
        mime = "application/json" if name.endswith(".json") else "text/csv"
        column.download_button(label, text, file_name=name, mime=mime, on_click="ignore",
                               key=f"{key}_{name}", width="stretch",
                               help=f"Save {name}: the numbers behind the figure.")


def soundness_badge(tag: str) -> str:
    """A Streamlit-markdown badge for a soundness tag (sound / input-dependent / unstated)."""
    return f":{SOUNDNESS_COLOURS.get(tag, 'gray')}-badge[{tag}]"
