"""The README's examples work as written: every ```python block runs and every
`.venv/bin/ucan …` line in a ```bash block exits 0."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def ucan_lines() -> list[str]:
    return [line.strip() for block in blocks("bash") for line in block.splitlines()
            if line.strip().startswith(".venv/bin/ucan ")]


def test_readme_has_the_two_command_quick_start() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line.split("#")[0].strip() for line in blocks("bash")[0].splitlines()]
    assert [c for c in commands if c] == ["make run", "make test"]
    assert "make run" in quick and "make test" in quick


@pytest.mark.parametrize("code", blocks("python"))
def test_python_example_runs(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("line", ucan_lines())
def test_cli_example_runs(line: str) -> None:
    args = shlex.split(line)[1:]
    done = subprocess.run([sys.executable, "-m", "ucan_core.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
