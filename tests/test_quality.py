"""The code is linted and formatted (ruff) and course_lib is type-checked (mypy --strict)."""

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


def test_ruff_format_is_settled() -> None:
    done = _run("ruff", "format", "--check", "course_lib", "autograders", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_course_lib_is_strictly_typed() -> None:
    done = _run("mypy", "--no-incremental")  # [tool.mypy] in pyproject: strict, course_lib
    assert done.returncode == 0, done.stdout + done.stderr
