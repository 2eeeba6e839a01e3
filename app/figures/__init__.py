"""Pure figure builders for the UCAN Explorer (no Streamlit, no certification maths).

Every builder takes numpy arrays (or plain numbers) that the engine (``ucan_core``) already
computed and returns a Plotly figure, PNG bytes or text; one module per figure family:
``common`` (colours, symbols, number formatting, CSV), ``maps`` (σ and μ heatmaps),
``images`` (PNG tiles), ``curves`` (radius vs p_A), ``formulas`` (formulas filled with
numbers), ``votes`` (Certify: votes and the p_A interval), ``learn``, ``radius``, ``region``
and ``results`` (one page each). The only array work done here is for display: picking a
channel, striding large maps down, clipping noisy images to [0, 1] and upscaling small tiles.

Theme: the pages draw with ``st.plotly_chart``'s default ``theme="streamlit"``, whose template
follows the app's light or dark theme (backgrounds, text, grid). The builders therefore set
no opaque background or text colour of their own, and every trace colour reads on both
backgrounds: sequential Viridis for σ maps, diverging red–blue centred at 0 on a neutral
translucent grey for μ maps (``maps.MU_SCALE``; never a white square).
"""
