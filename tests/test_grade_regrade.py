"""Regrading is safe: only what changed is graded again, and manual grades are kept.

One folder of the fixture assignment is graded through the command line again and again:
a second run grades nothing; after one notebook changes only that one is graded; ``--student``
and ``--force`` select; a manual score and comment set as Formgrader sets them survive a
regrade that changes the automatic score under them, and the run prints a notice.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import require_program

from autograders.gradebook import open_gradebook
from autograders.release import release
from autograders.submissions import solution_notebook

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
A = "99-fixture"

pytestmark = pytest.mark.slow


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autograders", "--notebooks", str(FIXTURES), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def table(done: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    """The score table: student -> the rest of its row."""
    rows = {}
    for line in done.stdout.split("\n\n")[0].splitlines()[1:]:
        student, *rest = line.split()
        rows[student] = rest
    return rows


def _with_answer(nb: nbformat.NotebookNode, grade_id: str, source: str) -> nbformat.NotebookNode:
    changed = nbformat.from_dict(nb)
    for cell in changed.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return changed


def test_regrades_only_what_changed_and_keeps_manual_grades(tmp_path: Path) -> None:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    release(tmp_path / "release", notebooks=FIXTURES)
    blank = nbformat.read(tmp_path / "release" / A / f"{A}.ipynb", as_version=4)
    solution = solution_notebook(nbformat.read(FIXTURES / A / f"{A}.ipynb", as_version=4), blank)
    subs = tmp_path / "submitted"
    for student, nb in (("alice", solution), ("bob", blank), ("carol", solution)):
        (subs / student / A).mkdir(parents=True)
        nbformat.write(nb, subs / student / A / f"{A}.ipynb")
    out = tmp_path / "out"
    db = out / "gradebook.db"
    grade = ("grade", str(subs), "--out", str(out), "--no-progress")

    first = run(*grade)
    assert first.returncode == 0, first.stderr
    assert table(first) == {"alice": [A, "5", "5"], "bob": [A, "0", "5"], "carol": [A, "5", "5"]}
    csv_before = (out / "grades.csv").read_text(encoding="utf-8")

    again = run(*grade)
    assert again.returncode == 0, again.stderr
    assert all(row[1:] == ["unchanged,", "not", "regraded"] for row in table(again).values())
    assert "3 submission(s) unchanged since they were last graded" in again.stdout
    assert (out / "grades.csv").read_text(encoding="utf-8") == csv_before

    # carol changes her notebook: only she is graded again
    broken_add = _with_answer(solution, "add-answer", "def add(a, b):\n    return 0")
    nbformat.write(broken_add, subs / "carol" / A / f"{A}.ipynb")
    changed = run(*grade)
    rows = table(changed)
    assert rows["carol"] == [A, "3", "5"]
    assert rows["alice"][1:] == rows["bob"][1:] == ["unchanged,", "not", "regraded"]

    # --student with --force: that student only, even unchanged
    forced = run(*grade, "--student", "bob", "--force")
    assert list(table(forced)) == ["bob"] and table(forced)["bob"] == [A, "0", "5"]
    bad = run(*grade, "--assignment", "00-nope")
    assert bad.returncode == 2 and "unknown assignment(s) 00-nope" in bad.stderr

    # a manual grade and comment, set as Formgrader sets them
    with open_gradebook(f"sqlite:///{db}") as gb:
        grade_row = gb.find_grade("add-tests", A, A, "alice")
        grade_row.manual_score = 1.5
        comment = gb.find_comment("add-answer", A, A, "alice")
        comment.manual_comment = "Good start; see me about edge cases."
        gb.db.commit()
    nbformat.write(broken_add, subs / "alice" / A / f"{A}.ipynb")  # her auto score drops 2 -> 0
    regraded = run(*grade)
    assert regraded.returncode == 0, regraded.stderr
    assert (
        "NOTICE: alice/99-fixture add-tests: the automatic score changed from 2 to 0; "
        "the manual score 1.5 is kept (flagged for review)" in regraded.stderr
    )
    with open_gradebook(f"sqlite:///{db}") as gb:
        grade_row = gb.find_grade("add-tests", A, A, "alice")
        assert (grade_row.auto_score, grade_row.manual_score) == (0.0, 1.5)
        assert grade_row.needs_manual_grade
        assert gb.find_comment("add-answer", A, A, "alice").manual_comment == (
            "Good start; see me about edge cases."
        )
        assert gb.find_submission(A, "alice").score == 1.5 + 3
    by_exercise = list(csv.DictReader((out / "grades-by-exercise.csv").read_text().splitlines()))
    alice_add = next(
        r for r in by_exercise if r["student_id"] == "alice" and r["grade_id"] == "add-tests"
    )
    assert alice_add == {
        "student_id": "alice",
        "assignment": A,
        "exercise": "Exercise 1",
        "grade_id": "add-tests",
        "auto_score": "0",
        "manual_score": "1.5",
        "score": "1.5",
        "max_score": "2",
        "needs_manual_grade": "yes",
    }
    # graded again unchanged with --force: the manual grade is still kept, no new notice
    forced = run(*grade, "--student", "alice", "--force")
    assert "NOTICE" not in forced.stderr
    with open_gradebook(f"sqlite:///{db}") as gb:
        assert gb.find_grade("add-tests", A, A, "alice").manual_score == 1.5
