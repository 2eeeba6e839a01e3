"""UCAN Explorer: a Streamlit + Plotly app over the ``ucan_core`` engine."""
