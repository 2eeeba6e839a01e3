"""Widgets shared by several pages: ``images`` (the image pickers), ``noise`` (the noise and
norm pickers), ``presets`` (named noise configurations), ``models`` (the Certify page's model,
σ-estimator, selector and noise pickers), ``pixels`` (the Region page's pixel picker) and
``output`` (Plotly charts with a figure download, download buttons, badges).

Pages call these instead of repeating the widget code; ``prefix`` keeps the widget keys (and
so the URL parameters they are bound to) apart between pages. The Noise Lab uses the empty
prefix.
"""
