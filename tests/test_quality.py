"""The code is linted and formatted (ruff); course_lib and autograders are type-checked.

``mypy --strict`` reads its packages from pyproject's ``[tool.mypy]``.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    done = _run(
        "ruff", "check", "course_lib", "autograders", "tests", "benchmarks", "deploy", "conftest.py"
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_settled() -> None:
    done = _run(
        "ruff",
        "format",
        "--check",
        "course_lib",
        "autograders",
        "tests",
        "benchmarks",
        "deploy",
        "conftest.py",
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_course_lib_and_autograders_are_strictly_typed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert set(config["packages"]) >= {"course_lib", "autograders"} and config["strict"]
    done = _run("mypy", "--no-incremental")
    assert done.returncode == 0, done.stdout + done.stderr
