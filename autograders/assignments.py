"""The course's assignments, found in one place.

An assignment is a folder ``notebooks/NAME/`` holding its nbgrader source notebook
``NAME.ipynb`` (solutions and hidden tests in) and, next to it, the same notebook as
MyST Markdown text, ``NAME.md`` (see :mod:`autograders.notebook_text`). Its known
submissions live in ``autograders/submissions/NAME/``.

Everything that needs "every assignment" (release, selfcheck, the nbval collection, the
structure tests, the browser tests) asks :func:`discover`; nothing else lists them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = [
    "NAME_PATTERN",
    "NOTEBOOKS",
    "ROOT",
    "SUBMISSIONS",
    "TEXT_TWIN_GLOB",
    "Assignment",
    "GradedCell",
    "assignment_names",
    "discover",
    "nbgrader_metadata",
]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"

#: What a new assignment may be called: two digits, a dash, lower-case words joined by dashes.
NAME_PATTERN = re.compile(r"^[0-9]{2}-[a-z0-9]+(?:-[a-z0-9]+)*$")
#: The file names of the text twins (``NN-name.md``, solutions and hidden tests in): a release
#: (ours and plain nbgrader's, see ``autograders/nbgrader_config.py``) never copies them.
TEXT_TWIN_GLOB = "[0-9][0-9]-*.md"


def nbgrader_metadata(cell: Any) -> dict[str, Any]:
    """A cell's ``metadata.nbgrader`` (empty for a cell nbgrader does not manage).

    A submitted notebook is untrusted, so anything that is not a dict where a dict
    belongs reads as "no nbgrader metadata" instead of raising.

    Args:
        cell: a notebook cell, as an ``nbformat`` node or a plain dict.

    Returns:
        A copy of the cell's nbgrader metadata.
    """
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    data = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return dict(data) if isinstance(data, dict) else {}


@dataclass(frozen=True)
class GradedCell:
    """A cell nbgrader manages (an answer, a test or a locked cell) and where it is.

    Attributes:
        index: the cell's position in the notebook (0-based).
        grade_id: its nbgrader ``grade_id``.
        cell_type: ``"code"`` or ``"markdown"``.
        solution: an answer cell (nbgrader ``solution: true``).
        grade: an autograded test cell (nbgrader ``grade: true``).
        locked: read-only for the student.
        points: the points of a test cell (0 otherwise).
        source: the cell's source text.
    """

    index: int
    grade_id: str
    cell_type: str
    solution: bool
    grade: bool
    locked: bool
    points: float
    source: str


@dataclass(frozen=True)
class Assignment:
    """One assignment of the course.

    Attributes:
        name: the folder's name, e.g. ``01-circuit-breaker``.
        folder: ``notebooks/NAME``.
    """

    name: str
    folder: Path

    @property
    def notebook(self) -> Path:
        """The nbgrader source notebook, ``NAME.ipynb`` (solutions and hidden tests in)."""
        return self.folder / f"{self.name}.ipynb"

    @property
    def text(self) -> Path:
        """The notebook as MyST Markdown text, ``NAME.md`` (may not exist yet)."""
        return self.folder / f"{self.name}.md"

    @property
    def submissions(self) -> Path:
        """The folder of known submissions, ``autograders/submissions/NAME``."""
        return SUBMISSIONS / self.name

    def read(self) -> dict[str, Any]:
        """The source notebook as plain JSON (read afresh on every call)."""
        data: dict[str, Any] = json.loads(self.notebook.read_text(encoding="utf-8"))
        return data

    @cached_property
    def graded_cells(self) -> tuple[GradedCell, ...]:
        """Every nbgrader-managed cell, in notebook order (read once)."""
        found = []
        for index, cell in enumerate(self.read().get("cells", [])):
            meta = nbgrader_metadata(cell)
            if not meta:
                continue
            source = cell.get("source", "")
            found.append(
                GradedCell(
                    index=index,
                    grade_id=str(meta.get("grade_id", "")),
                    cell_type=str(cell.get("cell_type", "")),
                    solution=bool(meta.get("solution")),
                    grade=bool(meta.get("grade")),
                    locked=bool(meta.get("locked")),
                    points=float(meta.get("points", 0) or 0),
                    source="".join(source) if isinstance(source, list) else str(source),
                )
            )
        return tuple(found)

    @property
    def answer_cells(self) -> tuple[GradedCell, ...]:
        """The cells a student writes in (nbgrader ``solution: true``)."""
        return tuple(c for c in self.graded_cells if c.solution)

    @property
    def test_cells(self) -> tuple[GradedCell, ...]:
        """The autograded test cells (nbgrader ``grade: true``), each with its points."""
        return tuple(c for c in self.graded_cells if c.grade)

    @property
    def max_score(self) -> float:
        """Full marks: the sum of the test cells' points."""
        return sum(c.points for c in self.test_cells)


def discover(notebooks_dir: Path | None = None) -> list[Assignment]:
    """Every assignment in ``notebooks_dir``, sorted by name.

    An assignment is a folder ``NAME`` holding ``NAME.ipynb``. Hidden folders (such as
    ``.ipynb_checkpoints``), folders starting with ``_`` and loose files are not
    assignments.

    Args:
        notebooks_dir: the folder to look in; default the repository's ``notebooks/``.

    Returns:
        The assignments found (possibly none).

    Raises:
        FileNotFoundError: ``notebooks_dir`` is not a folder.
    """
    folder = NOTEBOOKS if notebooks_dir is None else Path(notebooks_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"notebooks folder {folder} does not exist")
    return [
        Assignment(name=p.name, folder=p)
        for p in sorted(folder.iterdir())
        if p.is_dir() and p.name[:1] not in "._" and (p / f"{p.name}.ipynb").is_file()
    ]


def assignment_names(notebooks_dir: Path | None = None) -> list[str]:
    """The names of :func:`discover`'s assignments (``[]`` if the folder is missing)."""
    folder = NOTEBOOKS if notebooks_dir is None else Path(notebooks_dir)
    return [a.name for a in discover(folder)] if folder.is_dir() else []
