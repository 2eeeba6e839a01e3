"""Session-state and URL key names shared by the pages, the teaching mode and the figure
download format (the sidebar of ``app/main.py`` sets them; every page reads them)."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app.cached.images import bundled_catalog, dataset_title
from app.cached.models import learned_model, model_cards
from app.choices import CERTIFY_NPG_OPTIONS, LEARNED, LEARNED_NPG_OPTIONS, MODES, NPG_TITLES, NoiseChoice
from app.figures.common import norm_symbol
from ucan_core.noises.catalog import NOISES
from ucan_core.zoo.bundled import list_images

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


def figure_format() -> str:
    """The sidebar's figure download format in lower case: ``"png"`` or ``"svg"``."""
    return str(st.session_state.get(FIGURE_FORMAT_KEY) or FIGURE_FORMATS[0]).lower()


def page_title() -> str:
    """The title of the page being shown (set by app/main.py)."""
    return str(st.session_state.get(PAGE_KEY, ""))


#: The Region page's URL parameter naming the certificate it was opened from (its result key).
REGION_CERT_KEY = "rg_cert"


def url_number(value: float | int) -> str:
    """A number as a URL value, at full precision."""
    return repr(float(value)) if isinstance(value, float) else str(value)


def image_params(prefix: str, image_id: str) -> dict[str, str]:
    """URL values of an image picker (``prefix``) showing bundled image ``image_id``: bound
    selectboxes keep their displayed label in the URL, so these are labels."""
    dataset = list_images()[image_id].dataset
    return {f"{prefix}source": "Bundled", f"{prefix}dataset": dataset_title(dataset),
            f"{prefix}image_{dataset}": dict(bundled_catalog()[dataset])[image_id]}


def noise_params(prefix: str, density: str, sigma: float, norm: str, npg: str = "isotropic",
                 kappa: float | None = None, iota: float | None = None) -> dict[str, str]:
    """URL values of a noise picker (``app.widgets.noise``, ``prefix``) set to this noise, as
    the labels its bound widgets keep in the URL."""
    params = {f"{prefix}density": f"{NOISES[density].title} ({density})",
              f"{prefix}sigma": url_number(float(sigma)),
              f"{prefix}norm_{density}": norm_symbol(norm), f"{prefix}npg": NPG_TITLES[npg]}
    params.update({f"{prefix}{name}": url_number(float(value))
                   for name, value in (("kappa", kappa), ("iota", iota)) if value is not None})
    return params


def certify_params(model_id: str, image_id: str, **sampling: float | int) -> dict[str, str]:
    """URL values that open the Certify page on a standard certificate of bundled model
    ``model_id`` and bundled image ``image_id``, n = 2,000 unless ``sampling`` (``n0``,
    ``n``, ``alpha``, ``seed``) says otherwise."""
    dataset = list_images()[image_id].dataset
    params = {"cert_mode": MODES["standard"], "cert_model": model_id, "cert_source": "Bundled",
              f"cert_image_{dataset}": dict(bundled_catalog()[dataset])[image_id],
              "cert_n": "2000"}
    params.update({f"cert_{name}": url_number(value) for name, value in sampling.items()})
    return params


def certify_noise_params(model_id: str, image_id: str, noise: NoiseChoice,
                         **sampling: float | int) -> dict[str, str]:
    """:func:`certify_params` with the noise of ``noise`` on model ``model_id``: its NPG (one
    of ``CERTIFY_NPG_OPTIONS``), κ and ι of a pattern, and σ overridden where it is not the
    model's."""
    params = certify_params(model_id, image_id, **sampling)
    params[f"cert_npg_{model_id}"] = CERTIFY_NPG_OPTIONS[noise.npg]
    if noise.pattern_norm is not None:
        params.update(cert_kappa=url_number(float(noise.kappa)),
                      cert_iota=url_number(float(noise.iota)))
    if noise.sigma != float(model_cards()[model_id].noise["sigma"]):
        params.update({"cert_override": "true",
                       f"cert_sigma_{model_id}": url_number(float(noise.sigma))})
    return params


def noise_lab_certify_params(image_id: str, noise: NoiseChoice) -> dict[str, str] | None:
    """URL values that open Certify on bundled image ``image_id`` with the Noise Lab's
    ``noise``: a fixed NPG on the isotropic bundled model of the image's dataset trained with
    this density (parameters included) at the σ nearest to the noise's, a learned one on the
    model that Noise Lab draws its maps from; None where Certify has no such model."""
    cards = model_cards()
    dataset = list_images()[image_id].dataset
    if noise.npg in LEARNED_NPG_OPTIONS:
        model_id = learned_model(noise.npg, noise.sigma)
        if cards[model_id].dataset != dataset:
            return None
        return certify_noise_params(model_id, image_id, replace(noise, npg=LEARNED))
    fitting = [m for m, card in cards.items()
               if card.dataset == dataset and card.npg == "isotropic"
               and NoiseChoice.of_card(card).density == noise.density
               and NoiseChoice.of_card(card).params == noise.params]
    if not fitting:
        return None
    model_id = min(fitting, key=lambda m: (abs(float(cards[m].noise["sigma"]) - noise.sigma), m))
    return certify_noise_params(model_id, image_id, noise)
