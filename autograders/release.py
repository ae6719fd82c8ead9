"""Student versions of the assignments, made by nbgrader in a throw-away course directory.

nbgrader's ``generate_assignment`` also records every source cell (hidden tests included)
in a gradebook. Running it in a temporary course directory keeps the repo's own
``gradebook.db`` untouched, and lets the batch grader put the rows it needs into a
gradebook of its own.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograders.assignments import NOTEBOOKS, ROOT, TEXT_TWIN_GLOB, discover
from autograders.dblock import gradebook_lock

__all__ = [
    "ROOT",
    "NOTEBOOKS",
    "Course",
    "ReleaseError",
    "discover_assignments",
    "temp_course",
    "release",
    "public_lines",
    "secret_lines",
]

# the text twin NAME.md holds the solutions and hidden tests, like the source notebook
_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", TEXT_TWIN_GLOB)


class ReleaseError(Exception):
    """nbgrader could not make a student version; the message says which and why."""


def discover_assignments(notebooks: Path = NOTEBOOKS) -> list[str]:
    """The names of the assignments under ``notebooks`` (see :func:`assignments.discover`).

    Raises:
        ReleaseError: ``notebooks`` is not a folder.
    """
    try:
        return [a.name for a in discover(notebooks)]
    except FileNotFoundError as exc:
        raise ReleaseError(str(exc)) from exc


def _check_assignments(notebooks: Path, wanted: Sequence[str] | None) -> list[str]:
    known = discover_assignments(notebooks)
    if not wanted:
        if not known:
            raise ReleaseError(f"no assignments in {notebooks} (expected NAME/NAME.ipynb)")
        return known
    unknown = [a for a in wanted if a not in known]
    if unknown:
        raise ReleaseError(
            f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}"
        )
    return list(wanted)


def course_config(root: Path, db_url: str) -> Config:
    """The course's nbgrader config, pointed at another course root and gradebook."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.source_directory = "source"
    config.CourseDirectory.db_url = db_url
    # nbgrader's API checks its exchange folder (unused here) and logs CRITICAL if the
    # system-wide default is not writable: give it one inside the course.
    config.Exchange.root = str(root / "exchange")
    return config


@dataclass(frozen=True)
class Course:
    """A throw-away nbgrader course directory.

    Attributes:
        root: the course directory (``source/``, ``release/`` inside).
        assignments: the assignments released in it.
        db_url: the gradebook nbgrader wrote the source cells into.
    """

    root: Path
    assignments: tuple[str, ...]
    db_url: str

    def source(self, assignment: str) -> Path:
        """The instructor's source notebook (solutions and hidden tests)."""
        return self.root / "source" / assignment / f"{assignment}.ipynb"

    def released(self, assignment: str) -> Path:
        """The student version of ``assignment``'s folder."""
        return self.root / "release" / assignment


@contextmanager
def temp_course(
    notebooks: Path = NOTEBOOKS,
    assignments: Sequence[str] | None = None,
    db_url: str | None = None,
) -> Iterator[Course]:
    """Release ``assignments`` (default: all) in a temporary course directory.

    Args:
        notebooks: the folder holding the nbgrader source assignments.
        assignments: which ones; ``None`` or empty means every assignment.
        db_url: the gradebook to record the source cells in; default a gradebook inside
            the temporary directory, removed with it.

    Yields:
        The :class:`Course`; the directory is removed on exit.

    Raises:
        ReleaseError: an unknown assignment, or nbgrader failed (its log is in the message).
    """
    from nbgrader.apps import NbGraderAPI

    names = _check_assignments(notebooks, assignments)
    with tempfile.TemporaryDirectory(prefix="m14-course-") as tmp:
        root = Path(tmp)
        url = db_url or f"sqlite:///{root / 'gradebook.db'}"
        (root / "exchange").mkdir()
        for name in names:
            shutil.copytree(notebooks / name, root / "source" / name, ignore=_IGNORE)
        api = NbGraderAPI(config=course_config(root, url))
        with gradebook_lock(url):  # other graders may share this gradebook
            for name in names:
                outcome = api.generate_assignment(name, force=True)
                if not outcome.get("success"):
                    detail = "\n".join(str(outcome.get(k) or "") for k in ("log", "error"))
                    raise ReleaseError(f"nbgrader could not release {name}:\n{detail.strip()}")
                _strip_presenter_cells(root / "release" / name)
        yield Course(root=root, assignments=tuple(names), db_url=url)


def _strip_presenter_cells(folder: Path) -> None:
    """Drop presenter notes and reveal cells from every notebook of a student version.

    The course's nbgrader config already drops them (``StripPresenterCells``); this makes
    the release safe even under a config without it.
    """
    from autograders.notebook_text import read_notebook, write_notebook
    from autograders.presenter import strip_presenter_cells

    for notebook in sorted(folder.rglob("*.ipynb")):
        nb = read_notebook(notebook)
        if strip_presenter_cells(nb):
            notebook.write_text(write_notebook(nb), encoding="utf-8")


def release(
    outdir: Path,
    assignments: Sequence[str] | None = None,
    *,
    notebooks: Path = NOTEBOOKS,
    only_missing: bool = False,
    force: bool = False,
) -> list[str]:
    """Write the student versions to ``outdir/ASSIGNMENT/ASSIGNMENT.ipynb``.

    Args:
        outdir: where to write (created if missing).
        assignments: which ones; default every assignment in ``notebooks``.
        notebooks: the folder holding the nbgrader source assignments.
        only_missing: skip assignments whose folder already exists in ``outdir`` (a
            student's work is never overwritten).
        force: replace existing assignment folders (instructor use only).

    Returns:
        The assignments written.

    Raises:
        ReleaseError: an assignment folder exists (and neither flag is set), an unknown
            assignment, or nbgrader failed.
    """
    names = _check_assignments(notebooks, assignments)
    existing = [a for a in names if (outdir / a).exists()]
    if existing and not (only_missing or force):
        raise ReleaseError(
            f"{outdir} already holds {', '.join(existing)}; pass --force to replace them"
        )
    todo = [a for a in names if not (only_missing and a in existing)]
    if not todo:
        return []
    with temp_course(notebooks, todo) as course:
        outdir.mkdir(parents=True, exist_ok=True)
        for name in todo:
            target = outdir / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(course.released(name), target, ignore=_IGNORE)
    return todo


_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _split_lines(source_notebook: Path, *, hidden_only: bool = False) -> tuple[set[str], set[str]]:
    """``(inside secret blocks, outside them)``: the stripped lines of the source notebook."""
    from autograders.notebook_text import read_notebook

    secret: set[str] = set()
    public: set[str] = set()
    for cell in read_notebook(source_notebook).cells:
        inside = False
        for raw in cell.source.split("\n"):
            line = raw.strip()
            if any(marker in line for marker in _MARKERS):
                inside = "BEGIN" in line and not (hidden_only and "SOLUTION" in line)
                continue
            (secret if inside else public).add(line)
    return secret, public


def public_lines(source_notebook: Path) -> set[str]:
    """The lines a source notebook shows outside its solution and hidden-test blocks."""
    return _split_lines(source_notebook)[1]


def secret_lines(source_notebook: Path, *, hidden_only: bool = False) -> set[str]:
    """Lines a student version must never contain: those of solution and hidden-test blocks.

    With ``hidden_only``, only hidden-test lines (what feedback must never show, while it
    may show the student's own code, which can match the solution).

    Trivial lines (blank, ``pass``, lone brackets, ``else:``...) and lines that also appear
    outside every secret block of the source (so a student may legitimately see them) are
    left out. Lines are compared stripped of surrounding whitespace.
    """
    secret, public = _split_lines(source_notebook, hidden_only=hidden_only)
    trivial = {
        "",
        "pass",
        "else:",
        "try:",
        "finally:",
        "return",
        "raise",
        "continue",
        "break",
        '"""',
    }
    return {
        line
        for line in secret - public
        if line not in trivial and any(ch.isalnum() for ch in line) and len(line) > 3
    }
