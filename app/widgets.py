"""Widgets shared by several pages: the image picker, the noise picker, presets, the teaching
mode switch, download buttons, Plotly charts with a figure download and background-job controls.

Pages call these instead of repeating the widget code; ``prefix`` keeps the widget keys (and
so the URL parameters they are bound to) apart between pages. The Noise Lab uses the empty
prefix.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from app import figures, page_services, services
from ucan_core.errors import UcanError
from ucan_core.noises.catalog import NOISES

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
#: Session-state key of the sidebar's teaching-mode toggle (app/main.py), also its URL name.
TEACHING_KEY = "teaching"
#: Session-state key of the sidebar's figure download format (app/main.py), also its URL name.
FIGURE_FORMAT_KEY = "figure_format"
FIGURE_FORMATS = ["PNG", "SVG"]
#: Session-state key where app/main.py records the current page's title (figure file names).
PAGE_KEY = "page_title"


def teaching_mode() -> bool:
    """True when the sidebar's teaching mode is on: pages hide their advanced controls
    (generator κ and ι, density parameters, seeds, numerical settings) and use the defaults."""
    return bool(st.session_state.get(TEACHING_KEY, False))


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
        return self.npg in page_services.LEARNED_NPG_OPTIONS


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


def matching_preset(choice: services.NoiseChoice, norm: str) -> str | None:
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


def noise_picker(shape: tuple[int, int, int], prefix: str = "", *,
                 learned: bool = False) -> tuple[services.NoiseChoice, str]:
    """:func:`noise_choice` followed by :func:`norm_picker`: the noise for inputs of ``shape``
    and the certificate's norm (``"1"``, ``"2"``, ``"inf"``)."""
    choice = noise_choice(shape, prefix, learned=learned)
    return choice, norm_picker(choice.density, prefix)


def norm_picker(density: str, prefix: str = "") -> str:
    """The certificate's norm. One widget per density, so each starts at (and its URL omits)
    the density's native norm."""
    return st.radio("Norm of the certificate", NORMS, key=f"{prefix}norm_{density}",
                    index=NORMS.index(services.native_norm_label(density)),
                    bind="query-params", horizontal=True, format_func=figures.norm_symbol,
                    help="The ℓp norm in which the radius is measured. It starts at the "
                         "density's native norm.")


def noise_choice(shape: tuple[int, int, int], prefix: str = "", *, learned: bool = False,
                 default_npg: str = "isotropic") -> services.NoiseChoice:
    """Density (and its parameters), σ and the NPG: isotropic, pattern-fixed (κ, ι) and, with
    ``learned``, the bundled models' learned generators. Teaching mode hides the density
    parameters, κ and ι and uses their defaults."""
    density = st.selectbox("Density", list(NOISES), key=f"{prefix}density", bind="query-params",
                           index=list(NOISES).index("gaussian"),
                           format_func=lambda n: f"{NOISES[n].title} ({n})",
                           help="The isotropic noise ε. Its per-coordinate standard deviation "
                                "is σ; each density derives its own scale λ from σ.")
    params = {pname: float(default) for pname, default in NOISES[density].defaults.items()}
    if not teaching_mode():
        for pname, default in list(params.items()):
            params[pname] = st.number_input(
                f"{density} parameter: {pname}", value=default, step=0.1, format="%.3f",
                key=f"{prefix}param_{density}_{pname}", bind="query-params",
                help=PARAM_HELP.get(pname, f"Parameter {pname}."))
    sigma = st.slider("σ (noise level)", min_value=0.05, max_value=2.0, value=DEFAULT_SIGMA,
                      step=0.05, key=f"{prefix}sigma", bind="query-params",
                      help="Per-coordinate standard deviation of the base noise, in pixel "
                           "units (images are in [0, 1]). The radius scales with σ. Cauchy "
                           "has no variance: there σ matches the quartiles of N(0, σ²).")
    options = list(services.NPG_OPTIONS)
    options += list(page_services.LEARNED_NPG_OPTIONS) if learned else []
    npg = st.selectbox("Noise generator (NPG)", options, key=f"{prefix}npg",
                       index=options.index(default_npg), bind="query-params",
                       format_func=page_services.NPG_TITLES.__getitem__,
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
    return services.NoiseChoice(density=density, sigma=float(sigma), shape=shape, npg=npg,
                                kappa=float(kappa), iota=float(iota),
                                params=tuple(sorted(params.items())))


def pattern_sliders(prefix: str = "") -> tuple[float, float]:
    """κ and ι of the pattern-fixed NPG (the defaults in teaching mode)."""
    if teaching_mode():
        return DEFAULT_KAPPA, DEFAULT_IOTA
    kappa = st.slider("κ (pattern strength)", 0.0, 4.0, DEFAULT_KAPPA, 0.1, key=f"{prefix}kappa",
                      bind="query-params",
                      help="How much the noise grows from the centre to the corners.")
    iota = st.slider("ι (pattern offset)", 0.05, 2.0, DEFAULT_IOTA, 0.05, key=f"{prefix}iota",
                     bind="query-params",
                     help="Base level of the scale map; a larger ι means a flatter map.")
    return float(kappa), float(iota)


def downloads(files: Sequence[tuple[str, str, str]], key: str,
              what: str = "the numbers behind the figure") -> None:
    """One download button per (label, text, file name); CSV or JSON by the file's suffix;
    ``what`` says in the tooltip what the files hold."""
    for column, (label, text, name) in zip(st.columns(len(files)), files):
        mime = "application/json" if name.endswith(".json") else "text/csv"
        column.download_button(label, text, file_name=name, mime=mime, on_click="ignore",
                               key=f"{key}_{name}", width="stretch",
                               help=f"Save {name}: {what}.")


def figure_name(key: str) -> str:
    """Default file name of chart ``key``'s image: ``ucan-<page>-<key>`` in lower case with
    hyphens, less a first key word that repeats the page's (``compare_sigma`` on the Compare
    page gives ``ucan-compare-sigma``)."""
    page = re.findall(r"[a-z0-9]+", str(st.session_state.get(PAGE_KEY, "")).lower())
    words = re.findall(r"[a-z0-9]+", key.lower())
    if words and words[0] in page:
        words = words[1:]
    return "-".join(["ucan", *page, *words])


def chart(figure: go.Figure, key: str, *, filename: str | None = None, tools: bool = False,
          config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """``st.plotly_chart`` whose camera button (top right, on hover) downloads the figure in
    the sidebar's format: PNG at twice the screen resolution, or SVG. The file is
    ``<filename>.png|svg``, by default :func:`figure_name`. ``tools`` keeps Plotly's zoom
    and pan buttons beside it; ``config`` overrides the Plotly config (``{"displayModeBar":
    False}`` hides the bar); other arguments go to ``st.plotly_chart``."""
    fmt = str(st.session_state.get(FIGURE_FORMAT_KEY) or FIGURE_FORMATS[0]).lower()
    image = ({"format": fmt, "filename": filename or figure_name(key)}
             | ({"scale": 2} if fmt == "png" else {}))
    plotly_config: dict[str, Any] = {"displaylogo": False, "toImageButtonOptions": image}
    if not tools:
        plotly_config["modeBarButtons"] = [["toImage"]]
    return st.plotly_chart(figure, key=key, config=plotly_config | (config or {}), **kwargs)


#: How often the panel of a running background job refreshes (s).
JOB_POLL_S = 0.5
#: After a click the script waits this long for the worker, so short runs and argument errors
#: from the engine show up in the same rerun (s).
JOB_FIRST_WAIT_S = 0.4


def start_job(start: Callable[[], services.BackgroundJob], state_key: str,
              failure: str) -> services.BackgroundJob | None:
    """Start a background job (``start()``), keep it in session state ``state_key`` and wait
    :data:`JOB_FIRST_WAIT_S` for it; if it cannot start, say ``failure: why`` and return None."""
    try:
        job = start()
    except UcanError as error:
        st.error(f"{failure}: {error}")
        return None
    except Exception as error:  # noqa: BLE001 — e.g. out of memory loading the model
        st.error(f"{failure}: unexpected {type(error).__name__}: {error}")
        return None
    st.session_state[state_key] = job
    job.wait(JOB_FIRST_WAIT_S)
    return job


def new_outcome(job: services.BackgroundJob) -> Any:
    """A stopped job's result, the first time it is asked for (it is then marked integrated);
    None while it runs, afterwards, or when it failed or was cancelled."""
    if job.running or job.integrated:
        return None
    job.integrated = True
    return job.result


def remember(cache: OrderedDict[str, Any], key: str, value: Any, size: int) -> None:
    """Put ``value`` in the session's LRU ``cache`` (at most ``size`` entries)."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


def job_fragment(panel: Callable[[], None], job: services.BackgroundJob | None) -> None:
    """Draw ``panel`` as a fragment that refreshes every :data:`JOB_POLL_S` while ``job`` runs."""
    st.fragment(panel, run_every=JOB_POLL_S if job is not None and job.running else None)()


def cancel_button(job: services.BackgroundJob, key: str) -> None:
    """Cancel for a running background job ("Cancelling…" once pressed)."""
    if job.cancel_event.is_set():
        st.caption("Cancelling…")
    elif st.button("Cancel", key=key):
        job.cancel()
        st.caption("Cancelling…")


def stopped_warning(job: services.BackgroundJob, what: str, unit: str, outcome: str) -> bool:
    """Say why a stopped job has no ``outcome`` (its browser session was gone, or it was
    cancelled after ``job.done`` ``unit``); False if it was neither."""
    if job.abandoned:
        st.warning(f"{what} stopped: this browser session was disconnected for more than "
                   f"{job.timeout:.0f} s.")
    elif job.cancelled:
        st.warning(f"{what} cancelled after {job.done:,} / {job.total:,} {unit} "
                   f"({job.elapsed:.1f} s): no {outcome} for this run.")
    return job.cancelled


def soundness_badge(tag: str) -> str:
    """A Streamlit-markdown badge for a soundness tag (sound / input-dependent / unstated)."""
    return f":{SOUNDNESS_COLOURS.get(tag, 'gray')}-badge[{tag}]"
