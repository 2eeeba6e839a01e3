"""Where the bundled assets are: ``$UCAN_ASSETS`` if set (it must be a folder, else a one-line
:class:`UcanError`), else the copy installed with the package (``ucan_core/_assets``, which
only a built wheel has: ``setup.py`` maps the top-level ``assets/`` into it), else the
repository's ``assets/`` (source tree or editable install)."""

from __future__ import annotations

import os
from pathlib import Path

from ucan_core.errors import UcanError

ASSETS_ENV = "UCAN_ASSETS"
_PACKAGE = Path(__file__).resolve().parents[1]


def assets_dir() -> Path:
    """The bundled assets folder (models, images, results, Cohen et al.'s logs)."""
    override = os.environ.get(ASSETS_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_dir():
            raise UcanError(f"{ASSETS_ENV}={override} is not a folder")
        return path
    installed, source = _PACKAGE / "_assets", _PACKAGE.parent / "assets"
    return installed if installed.is_dir() else source


def models_dir() -> Path:
    return assets_dir() / "models"


def images_dir() -> Path:
    return assets_dir() / "images"
