"""Glossary: every symbol the app uses, in plain words (``app.widgets.glossary``)."""

from __future__ import annotations

import streamlit as st

from app.widgets.glossary import GLOSSARY

st.title("Glossary")
st.markdown("Every symbol the pages use, in plain words. Radii are in **pixel units**: images "
            "are scaled to [0, 1], so a change of 1/255 is one grey level.")
st.dataframe([{"symbol": t.symbol, "in plain words": t.words, "meaning": t.meaning}
              for t in GLOSSARY], hide_index=True, width="stretch",
             height=35 * (len(GLOSSARY) + 1) + 3)
