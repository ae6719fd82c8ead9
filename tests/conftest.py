"""Shared test helpers and the session's expensive fixtures.

Tests that need a system program (chromium, bubblewrap) skip with a reason on a
developer's machine that lacks it, but *fail* under CI (``CI`` set), where
``.ci/run`` installs them: a skip there would hide a missing install step.

Expensive things happen once per session: :func:`released_course` releases every
assignment once (with the real command line) for every test that reads a student version,
and :func:`student_lab` is the one student JupyterLab every browser test file drives (each
file in a folder of its own, through its module-scoped ``lab`` fixture built on
:func:`lab_folder`; every kernel is shut down after each test that used a :func:`page`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from traitlets.config.loader import PyFileConfigLoader

from autograders.assignments import Assignment, discover

if TYPE_CHECKING:
    from browser_lab import LabServer

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


# --- the browser tests -----------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, which Playwright drives (skips locally, fails in CI, if missing)."""
    return require_program(
        "chromium", path="/usr/bin/chromium", install_hint="apt install chromium"
    )


@pytest.fixture(scope="session")
def student_lab(chromium: str) -> Iterator[LabServer]:
    """The student's JupyterLab, as ``python -m autograders open`` starts it (nbgrader's
    instructor tools off), started once for every browser test file and always stopped."""
    from browser_lab import running_lab

    with tempfile.TemporaryDirectory(prefix="m14-lab-") as tmp:
        workdir = Path(tmp)
        root = workdir / "served"
        root.mkdir()
        with running_lab(workdir, root, student=True) as server:
            yield server


@pytest.fixture(scope="module")
def lab_folder(student_lab: LabServer, request: pytest.FixtureRequest) -> Iterator[LabServer]:
    """:func:`student_lab` seen from a new folder of the test file's own (named after it);
    the file's kernels are shut down when it is done."""
    lab = student_lab.in_folder(request.module.__name__)
    try:
        yield lab
    finally:
        lab.shut_down_kernels()


@pytest.fixture
def page(chromium: str, lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh headless Chromium page (its own profile) for one test on the file's ``lab``.

    Afterwards a screenshot of where it was (``test-artifacts/browser/TEST-last.png``), and
    every kernel the test started is shut down.
    """
    from browser_lab import chromium_page, screenshot

    try:
        with (
            tempfile.TemporaryDirectory(prefix="m14-chromium-") as profile,
            chromium_page(chromium, Path(profile)) as page,
        ):
            try:
                yield page
            finally:
                # an artifact only: a page that crashed must not hide the test's own failure
                with contextlib.suppress(Exception):
                    screenshot(page, f"{request.node.name}-last")
    finally:
        lab.shut_down_kernels()
