"""Shared test helpers and the session's expensive fixtures.

Tests that need a system program (chromium, bubblewrap) skip with a reason on a
developer's machine that lacks it, but *fail* under CI (``CI`` set), where
``.ci/run`` installs them: a skip there would hide a missing install step.

Expensive things happen once per session: :func:`released_course` releases every
assignment once (with the real command line) for every test that reads a student version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from autograders.assignments import Assignment, discover

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BIN = Path(sys.executable).parent


def _course_stub() -> str:
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    stub: str = config.ClearSolutions.code_stub["python"]
    return stub


#: What a student sees in place of a solution (from the course's nbgrader config).
STUB = _course_stub()
#: The message the stub raises NotImplementedError with (as it reads in a notebook's JSON).
STUB_MESSAGE = STUB.split('"')[1]


def require_program(name: str, *, path: str | None = None, install_hint: str = "") -> str:
    """Return the program's path, or skip (locally) / fail (in CI) if it is missing."""
    found = path if path and Path(path).exists() else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed" + (f" ({install_hint})" if install_hint else "")
    if os.environ.get("CI"):
        pytest.fail(message + "; .ci/run must install it")
    pytest.skip(message)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@dataclass(frozen=True)
class ReleasedCourse:
    """Every assignment released once by ``python -m autograders release OUT``.

    Attributes:
        out: the folder released into (``OUT/NAME/NAME.ipynb``).
        assignments: the assignments discovered in ``notebooks/``.
        done: the finished command (its stdout names what it released).
    """

    out: Path
    assignments: tuple[Assignment, ...]
    done: subprocess.CompletedProcess[str]


@pytest.fixture(scope="session")
def released_course(tmp_path_factory: pytest.TempPathFactory) -> ReleasedCourse:
    """The student version of every assignment, made once per session by the real CLI."""
    assignments = tuple(discover())
    if not assignments:
        pytest.skip("no assignment in notebooks/ yet")
    out = tmp_path_factory.mktemp("released") / "release"
    done = subprocess.run(
        [sys.executable, "-m", "autograders", "release", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return ReleasedCourse(out, assignments, done)
