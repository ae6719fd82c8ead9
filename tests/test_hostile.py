"""The hostile catalogue: every ``autograders/submissions/*/hostile-*.toml`` gets its score.

Each hostile submission is built with the known-submission loader
(``autograders.submissions``) and graded by the hardened engine inside a fake
course directory that also holds a gradebook, another student's submission and
a copy of the source notebook (the one graded against). Afterwards every one
of those files must be byte-for-byte unchanged.

The limits are the defaults except ``cell_timeout`` (20 s instead of 30 s, so
the infinite-loop entry costs 40 s, not a minute; 10 s was too short for the
machine exercise on a loaded 2-core machine); the expected scores hold for any
timeout long enough for the correct solution.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from conftest import require_program

from autograders.engine import Limits, SubmissionError, blank_answer, grade_notebook
from autograders.sandbox import Runtime
from autograders.submissions import THREATS, KnownSubmission, build, load, solution_notebook

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = sorted((ROOT / "autograders" / "submissions").glob("*/hostile-*.toml"))
LIMITS = Limits(cell_timeout=20.0)
NEEDS_PLAIN_CHECKS = {"hostile-always-equal-should-trip"}
"""Entries the boundary alone cannot hold: the window's objects are handed back to the
student's own should_trip, which no comparison sees; the checks must refuse them."""


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    with Runtime() as made:
        yield made


def _versions(source_path: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(solution, blank) student versions of a source notebook, built without nbgrader."""
    source = nbformat.read(source_path, as_version=4)
    blank = copy.deepcopy(source)
    for cell in blank.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = blank_answer(cell.source)
    return solution_notebook(source, blank), blank


def _hashes(*roots: Path) -> dict[str, str]:
    found = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_the_catalogue_covers_every_threat() -> None:
    known = [load(path) for path in CATALOGUE]
    assert len(known) >= 15
    assert {k.threat for k in known} == set(THREATS)
    for k in known:
        assert k.expected_score is not None, f"{k.path.name} must give expected_score"


@pytest.mark.slow
@pytest.mark.parametrize("path", CATALOGUE, ids=[f"{p.parent.name}/{p.stem}" for p in CATALOGUE])
def test_hostile_submission_gets_its_expected_score(
    path: Path, runtime: Runtime, tmp_path: Path
) -> None:
    known: KnownSubmission = load(path)
    if path.stem in NEEDS_PLAIN_CHECKS and not (ROOT / "course_lib" / "checks" / "kit.py").exists():
        pytest.xfail("needs the checks to take only plain values (course_lib.checks.kit.plain)")
    assignment = path.parent.name
    source_path = ROOT / "notebooks" / assignment / f"{assignment}.ipynb"
    if not source_path.is_file():
        pytest.skip(f"{assignment} has no source notebook yet")
    solution, blank = _versions(source_path)

    course = tmp_path / "course"
    source_copy = course / "source" / assignment / source_path.name
    source_copy.parent.mkdir(parents=True)
    shutil.copyfile(source_path, source_copy)
    (course / "gradebook.db").write_bytes(os.urandom(4096))
    other = course / "submitted" / "alice" / assignment / source_path.name
    other.parent.mkdir(parents=True)
    nbformat.write(solution, other)
    mine = course / "submitted" / "mallory" / assignment / source_path.name
    mine.parent.mkdir(parents=True)
    mine.write_bytes(build(known, solution=solution, blank=blank))

    # Only the fake course is watched: the repository itself changes under
    # parallel work, and the sandbox never sees it anyway (tests/test_sandbox.py).
    watched = (course,)
    before = _hashes(*watched)
    if known.expect_ungradable:
        with pytest.raises(SubmissionError):
            grade_notebook(source_copy, mine, student="mallory", runtime=runtime, limits=LIMITS)
    else:
        result = grade_notebook(
            source_copy, mine, student="mallory", runtime=runtime, limits=LIMITS
        )
        lost = [
            f"{t.grade_id}: {t.status}: {t.message[:200]}"
            for t in result.tests
            if t.points < t.max_points
        ]
        assert result.score == known.expected_score, (
            f"{path.name} scored {result.score}, expected {known.expected_score}; lost: {lost}"
        )
        if known.expect_failed is not None:
            failed = {t.grade_id for t in result.tests if t.points < t.max_points}
            assert failed == set(known.expect_failed)
    assert _hashes(*watched) == before, "grading changed files outside its temp dirs"
