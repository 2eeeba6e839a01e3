"""UCAN Explorer: a Streamlit + Plotly app over the ``ucan_core`` engine.

``main.py`` (navigation in sections, the sidebar) · ``state`` (session/URL keys, teaching mode,
figure format) · ``choices`` (the hashable choices that key the caches) · ``jobs`` (background
jobs: certify, audit, region check) · ``cached/`` (the only ``st.cache_*`` users: engine calls,
no widgets) · ``figures/`` (pure figure builders, no Streamlit) · ``widgets/`` (pickers,
presets, output helpers) · ``panels/`` (results drawn from explicit arguments) · ``views/``
(one file per page: controls and dispatch). The app does no maths itself: every number comes
from ``ucan_core``.
"""
