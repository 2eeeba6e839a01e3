"""The repository root on ``sys.path``, so that tests import ``app`` however pytest is started.

Tests live in ``engine/`` (library and CLI), ``app/`` (Streamlit AppTest) and ``e2e/``
(Playwright in Debian Chromium, with its own fixtures).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
