"""The two exceptions of the engine: a bad user input and a cancelled run.

Every :class:`UcanError` carries one line that names the argument, the value received and
what is expected. The CLI prints that line and exits 2; the app shows it next to the control.
"""

from __future__ import annotations


class UcanError(ValueError):
    """A bad input from the user: wrong value, unknown name, unreadable file."""


class Cancelled(Exception):
    """Raised by a progress callback to stop a running certification."""
