"""``python -m ucan_core.cli``: the ``ucan`` command line."""

import sys

from ucan_core.cli import main

sys.exit(main())
