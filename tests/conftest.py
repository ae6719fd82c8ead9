"""Shared test helpers.

Tests that need a system program (chromium, bubblewrap) skip with a reason on a
developer's machine that lacks it, but *fail* under CI (``CI`` set), where
``.ci/run`` installs them: a skip there would hide a missing install step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
