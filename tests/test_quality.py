"""The library is linted and type-checked: ruff over the tree, mypy --strict over course_lib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", "course_lib", "autograders", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_course_lib_is_strictly_typed() -> None:
    done = _run("mypy", "--no-incremental")  # [tool.mypy] in pyproject: strict, course_lib
    assert done.returncode == 0, done.stdout + done.stderr
