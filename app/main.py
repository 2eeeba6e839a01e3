"""UCAN Explorer entry point: ``streamlit run app/main.py`` from the repository root."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Plotly looks pandas up in sys.modules without importing it: while one session's thread is
# still importing pandas (Streamlit's dataframes do, lazily), another session's figure saw the
# half-initialised module ("partially initialized module 'pandas' has no attribute 'Series'":
# 4 exception boxes in 20 sessions). Importing it here makes every script thread wait for it.
import pandas  # noqa: E402, F401
import streamlit as st  # noqa: E402

from app import state  # noqa: E402

st.set_page_config(page_title="UCAN Explorer", page_icon="🎲", layout="wide")

#: Below 1,024 px of window, columns narrower than 200 px wrap onto the next line instead of
#: shrinking until their labels break letter by letter (Streamlit only stacks below 640 px).
NARROW_CSS = """<style>
@media (max-width: 1024px) {
  [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
  [data-testid="stColumn"] { min-width: min(100%, 200px); }
}
</style>"""
st.html(NARROW_CSS)

PAGES_DIR = Path(__file__).resolve().parent / "views"
#: Navigation sections: (file in views/, title, icon), each in the order of the former flat
#: list; Start is the default page. Material Symbols ship with Streamlit's own font, so they render
#: without a system emoji font.
SECTIONS = {
    "Start": [("start.py", "Start", ":material/home:"),
              ("glossary.py", "Glossary", ":material/menu_book:")],
    "Explore": [("noise_lab.py", "Noise Lab", ":material/science:"),
                ("compare.py", "Compare", ":material/compare_arrows:"),
                ("radius.py", "Radius", ":material/straighten:"),
                ("npg_maps.py", "Noise maps", ":material/map:")],
    "Certify": [("certify.py", "Certify", ":material/verified:"),
                ("region.py", "Region", ":material/hexagon:")],
    "Learn": [("learn.py", "Learn", ":material/school:")],
    "Results": [("results.py", "Results", ":material/show_chart:")],
}
DEFAULT_PAGE = "start.py"
page = st.navigation({section: [st.Page(PAGES_DIR / name, title=title, icon=icon,
                                        default=name == DEFAULT_PAGE)
                                for name, title, icon in pages]
                      for section, pages in SECTIONS.items()})
arrived = st.session_state.get(state.PAGE_KEY) != page.title
st.session_state[state.PAGE_KEY] = page.title
# the sidebar's toggle keeps this session's value over a link's URL: a link to another page
# asking for teaching mode (Start's "Teach" scenario) turns it on
if arrived and st.query_params.get(state.TEACHING_KEY) == "true":
    st.session_state[state.TEACHING_KEY] = True

with st.sidebar:
    st.markdown("### UCAN Explorer")
    st.toggle("Teaching mode", key=state.TEACHING_KEY, bind="query-params",
              help="A simpler view for classes and demos: hides the advanced controls (seeds, "
                   "pattern κ and ι, density parameters, numerical settings, two-stage "
                   "internals), offers three densities (Gaussian, Laplace, uniform) and uses "
                   "plain words, with the symbols on hover.")
    st.radio("Figure download format", state.FIGURE_FORMATS, key=state.FIGURE_FORMAT_KEY,
             bind="query-params", horizontal=True,
             help="What the camera button at the top right of every chart (shown on hover) "
                  "saves: PNG, a picture at twice the screen resolution, or SVG, vector "
                  "graphics that stay sharp at any size. Files are named after the page and "
                  "the figure.")
    st.markdown(
        "An interactive look at **randomized smoothing**: a classifier is made certifiably "
        "robust by voting over noisy copies of its input. UCAN shapes that noise per pixel "
        "(anisotropic σ and μ maps).")
    st.markdown(
        "Every radius is labelled :green-badge[exact] (tight), :blue-badge[sound] (valid, "
        "maybe loose) or :orange-badge[approximate] (an estimate)."
        + ("" if state.teaching_mode() else " The ALM is a size of the certified region, not "
           "a radius."))
    st.caption("All numbers come from the `ucan_core` engine.")

page.run()
