"""Packaging beyond ``pyproject.toml``: a built wheel (and sdist) carries the top-level
``assets/`` folder as package data ``ucan_core/_assets/…``, where ``ucan_core.zoo.paths``
finds it in a non-editable install. The folder stays at the repository root (no copy in git);
each of its sub-folders is listed as a data-only package so that setuptools takes its files
without warnings. Checked by ``tests/engine/test_packaging.py``."""

from setuptools import find_namespace_packages, setup

ASSETS = ["ucan_core._assets",
          *(f"ucan_core._assets.{name}" for name in find_namespace_packages(where="assets"))]

setup(
    packages=[*find_namespace_packages(include=["ucan_core", "ucan_core.*"],
                                       exclude=["*.__pycache__"]), *ASSETS],
    package_dir={"ucan_core._assets": "assets"},
    package_data={name: ["*"] for name in ASSETS},
)
