"""A regular (non-editable) install finds the bundled assets, and ``UCAN_ASSETS`` overrides them.

The wheel is built offline (``pip wheel --no-index --no-build-isolation``, setuptools from this
environment) from a copy of the tree in ``tmp_path``, so that no ``build/`` or ``*.egg-info``
lands in the repository. It is installed into a fresh virtual environment (no pip of its own:
this environment's pip installs into it with ``--python``) whose ``.pth`` file lends it this
environment's site-packages for torch and the other dependencies; that folder's own ``.pth``
files (the editable install of the repository) are not run, so ``ucan_core`` comes from the
wheel. Its ``ucan models`` runs from a folder outside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from ucan_core.cli import main
from ucan_core.errors import UcanError
from ucan_core.zoo.paths import ASSETS_ENV, assets_dir, images_dir, models_dir

ROOT = Path(__file__).resolve().parents[2]
MODEL = "mnist-gaussian-0.25"
#: What a wheel is built from: the packaging files, the engine and the assets.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "ucan_core", "assets")


def _env(**extra: str) -> dict[str, str]:
    """This environment without anything that would point Python or the engine at the repo."""
    env = {k: v for k, v in os.environ.items()
           if k not in (ASSETS_ENV, "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    return {**env, **extra}


def _run(command: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=_env(**extra), capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel of this tree installed; yields its root."""
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = _run([*pip, "wheel", "--no-index", "--no-deps", "--no-build-isolation", "-q",
                  "-w", str(tmp / "wheels"), str(source)], cwd=tmp)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "wheels").glob("*.whl")

    # Every asset travels in the wheel, under ucan_core/_assets/.
    with zipfile.ZipFile(wheel) as archive:
        packed = {name.removeprefix("ucan_core/_assets/") for name in archive.namelist()
                  if name.startswith("ucan_core/_assets/")}
    on_disk = {path.relative_to(source / "assets").as_posix()
               for path in (source / "assets").rglob("*") if path.is_file()}
    assert packed == on_disk

    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=tmp)
    assert site.returncode == 0, site.stderr
    lent = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(site.stdout.strip()) / "_lent_site_packages.pth").write_text("\n".join(lent) + "\n")
    done = _run([*pip, "--python", str(python), "install", "--no-index", "--no-deps", "-q",
                 str(wheel)], cwd=tmp)
    assert done.returncode == 0, done.stderr
    return venv


def test_a_wheel_install_lists_the_bundled_models_from_outside_the_repo(
        installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _run([str(installed / "bin" / "ucan"), "models"], cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    listed = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert MODEL in listed and "mnist-gaussian-1.00" in listed and "cifar10-gaussian-0.25" in listed


def test_the_installed_package_reads_its_own_assets(installed: Path, tmp_path: Path) -> None:
    code = ("import ucan_core; from ucan_core.zoo.paths import assets_dir; "
            "print(ucan_core.__file__); print(assets_dir())")
    done = _run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    package, assets = (Path(line).resolve() for line in done.stdout.splitlines())
    venv = installed.resolve()
    assert package.is_relative_to(venv) and not package.is_relative_to(ROOT)
    assert assets == package.parent / "_assets"
    assert assets.is_relative_to(venv) and not assets.is_relative_to(ROOT)
    assert (assets / "models" / f"{MODEL}.safetensors").is_file()


def test_ucan_assets_overrides_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "my-assets"
    (mine / "models").mkdir(parents=True)
    shutil.copy2(ROOT / "assets" / "models" / f"{MODEL}.json", mine / "models")
    monkeypatch.setenv(ASSETS_ENV, str(mine))
    assert assets_dir() == mine
    assert models_dir() == mine / "models" and images_dir() == mine / "images"
    assert main(["models"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == [MODEL]


def test_ucan_assets_that_is_no_folder_is_a_one_line_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing, file = tmp_path / "missing", tmp_path / "assets.txt"
    file.write_text("not a folder\n")
    for value in (missing, file):
        monkeypatch.setenv(ASSETS_ENV, str(value))
        with pytest.raises(UcanError, match=f"^{ASSETS_ENV}=.* is not a folder$"):
            assets_dir()
    done = _run([sys.executable, "-m", "ucan_core.cli", "models"], cwd=ROOT,
                **{ASSETS_ENV: str(file)})
    assert done.returncode == 2
    assert done.stderr == f"ucan: error: {ASSETS_ENV}={file} is not a folder\n"
    assert done.stdout == ""
