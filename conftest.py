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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark nbval's cells ``slow`` (they execute a notebook in a kernel)."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
