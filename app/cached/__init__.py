"""Cached calls into the engine (``ucan_core``): the app's only ``st.cache_data`` and
``st.cache_resource`` users, and no widgets.

Nothing here does certification maths: the modules build engine objects, ask them for maps,
samples, radius curves, regions, log summaries and certificates, and pack the answers for
the panels and the pure figure builders. One module per job: ``images`` (bundled images and
uploads), ``noise`` (a page's noise: maps, samples, radius curves; the learned NPGs of the
bundled models), ``models`` (bundled classifiers, σ-estimators, routers), ``certify`` (what
a certificate shows and downloads), ``region``, ``radius``, ``results`` and ``learn`` (one
page each). Engine errors are :class:`ucan_core.errors.UcanError`, left to the page.

Memory: every cache here is server-wide (shared by all sessions, so it does not grow with
them) and bounded: by ``max_entries`` (4 to 64 entries each), or, for the argument-free
catalogue loaders, by one entry. What one session keeps (its certificates, audits, checks,
curves, walk-throughs) is bounded in its page (LRU ``app.workers.remember``) and goes with the
session.
"""
