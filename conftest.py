"""What nbval executes: the discovered source notebooks, and nothing else.

``--nbval-lax`` (pyproject's ``addopts``) makes pytest collect every ``.ipynb`` under its
``testpaths``. Only the assignments' source notebooks (``autograders.assignments.discover``)
are meant: not the test fixtures' notebooks, not checkpoints, not a released copy. Each
notebook nbval collects runs a kernel, so its cells are marked ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograders.assignments import NOTEBOOKS, discover

_SOURCES = frozenset(a.notebook.resolve() for a in (discover() if NOTEBOOKS.is_dir() else []))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip every notebook that is not one of the assignments' source notebooks."""
    if collection_path.suffix == ".ipynb" and collection_path.resolve() not in _SOURCES:
        return True
    return None


#: The longest test file (about 9 minutes of the suite's ~18 on two workers): collected
#: first, so that with ``-n 2`` one worker starts it while the other runs everything else.
LONGEST_FIRST = "test_selfcheck.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark nbval's cells ``slow`` (they execute a notebook in a kernel); the longest file first."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.path.name != LONGEST_FIRST)  # stable: the rest keep order
