"""Session-state and URL key names shared by the pages, the teaching mode and the figure
download format (the sidebar of ``app/main.py`` sets them; every page reads them)."""

from __future__ import annotations

import streamlit as st

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


def certify_params(model_id: str, image_id: str, dataset: str, **sampling: object) -> dict[str, str]:
    """URL parameters that open the Certify page on a standard certificate of bundled model
    ``model_id`` and bundled image ``image_id`` (of ``dataset``), with ``sampling`` values
    (``n0``, ``n``, ``alpha``, ``seed``) where they differ from the page's defaults."""
    params = {"cert_mode": "standard", "cert_model": model_id, "cert_source": "Bundled",
              f"cert_image_{dataset}": image_id, "cert_n": "2000"}
    params.update({f"cert_{name}": repr(value) if isinstance(value, float) else str(value)
                   for name, value in sampling.items()})
    return params
