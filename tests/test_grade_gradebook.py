"""The gradebook ``python -m autograders grade`` writes is the one ``nbgrader autograde`` writes.

One honest batch of the fixture assignment (a solution, a blank, a partly wrong one, two late
ones, one without ``timestamp.txt``, one in another time zone) is graded twice: by plain
``nbgrader autograde`` in a course released with ``nbgrader generate_assignment`` (a due
date set with ``nbgrader db assignment add``, ``LateSubmissionPlugin.penalty_method=zero``),
and by ``python -m autograders grade --course`` (the same due date and method in its course
settings) into a gradebook of its own. Every row is compared column by column: the
assignment and cell rows ``generate_assignment`` records, each submission's timestamp,
score and late penalty, each grade's scores and ``needs_manual_grade``, and nbgrader's
"No response." comments; and ``nbgrader export`` of both gradebooks is the same file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import require_program

from autograders.gradebook import open_gradebook
from autograders.submissions import solution_notebook

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
A = "99-fixture"
DUE = "2026-01-10 12:00:00 UTC"
STAMPS = {
    "alice": "2026-01-10 11:00:00 UTC",  # on time
    "bob": "2026-01-09 08:30:00 UTC",  # on time
    "carol": "2026-01-11 09:15:00 UTC",  # late
    "dave": "2026-01-10 09:00:00 America/New_York",  # 14:00 UTC: late
    "erin": None,  # no timestamp.txt
}

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
    }


def _run(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([str(BIN / "nbgrader"), *args, "--course-dir", str(course)])


def _rows(db: Path) -> dict[str, Any]:
    """Every value nbgrader's tools read from a gradebook, keyed for comparison."""
    rows: dict[str, Any] = {}
    with open_gradebook(f"sqlite:///{db}") as gb:
        assignment = gb.find_assignment(A)
        rows["duedate"] = assignment.duedate
        notebook = gb.find_notebook(A, A)
        rows["grade_cells"] = sorted(
            (c.name, c.max_score, c.cell_type) for c in notebook.grade_cells
        )
        rows["solution_cells"] = sorted(c.name for c in notebook.solution_cells)
        rows["source_cells"] = sorted(
            (c.name, c.cell_type, c.locked, c.source, c.checksum) for c in notebook.source_cells
        )
        for student in STAMPS:
            sub = gb.find_submission(A, student)
            nb = gb.find_submission_notebook(A, A, student)
            rows[f"{student}:submission"] = (
                sub.timestamp,
                sub.score,
                sub.max_score,
                sub.total_seconds_late,
                nb.late_submission_penalty,
                sub.needs_manual_grade,
            )
            for grade in nb.grades:
                rows[f"{student}:{grade.name}"] = (
                    grade.auto_score,
                    grade.manual_score,
                    grade.extra_credit,
                    grade.needs_manual_grade,
                    grade.max_score,
                )
            for comment in nb.comments:
                said = comment.auto_comment or ""
                rows[f"{student}:{comment.name}:no-response"] = said.startswith("No response.")
    return rows


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    tmp = tmp_path_factory.mktemp("same-rows")
    course = tmp / "course"
    shutil.copytree(FIXTURES / A, course / "notebooks" / A)
    _nbgrader(course, "generate_assignment", A)
    _nbgrader(course, "db", "assignment", "add", A, f"--duedate={DUE}")
    blank = nbformat.read(course / "release" / A / f"{A}.ipynb", as_version=4)
    solution = solution_notebook(nbformat.read(FIXTURES / A / f"{A}.ipynb", as_version=4), blank)
    partly = nbformat.from_dict(solution)
    for cell in partly.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "scale-answer":
            cell.source = "def scale(values, factor):\n    return values"
    books = {"alice": solution, "bob": blank, "carol": partly, "dave": solution, "erin": partly}
    for student, nb in books.items():
        folder = course / "submitted" / student / A
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{A}.ipynb")
        if STAMPS[student]:
            (folder / "timestamp.txt").write_text(STAMPS[student] + "\n", encoding="utf-8")
    ours = tmp / "ours"
    ours.mkdir()
    settings = tmp / "course.toml"
    settings.write_text(f'late_penalty = "zero"\n[duedates]\n"{A}" = "{DUE}"\n', encoding="utf-8")
    # ours first: nbgrader autograde then finds the submitted files exactly as they were
    _run(
        [
            sys.executable, "-m", "autograders", "--notebooks", str(FIXTURES), "grade",
            str(course / "submitted"), "--out", str(ours / "out"),
            "--db", f"sqlite:///{ours / 'gradebook.db'}", "--course", str(settings),
            "--no-progress",
        ]
    )  # fmt: skip
    _nbgrader(course, "autograde", A, "--LateSubmissionPlugin.penalty_method=zero")
    return course, ours, tmp


def test_every_gradebook_value_is_nbgraders(both: tuple[Path, Path, Path]) -> None:
    course, ours, _ = both
    theirs_rows = _rows(course / "gradebook.db")
    ours_rows = _rows(ours / "gradebook.db")
    assert sorted(ours_rows) == sorted(theirs_rows)
    different = {
        key: (ours_rows[key], theirs_rows[key])
        for key in theirs_rows
        if ours_rows[key] != theirs_rows[key]
    }
    assert not different, different
    # the batch is not trivial: late penalties, full marks, zero and a partial score
    assert theirs_rows["carol:submission"][4] == 2.0  # late: "zero" takes her 2 points
    assert theirs_rows["dave:submission"][4] == 5.0
    assert theirs_rows["alice:submission"][4] is None
    assert theirs_rows["erin:submission"][0] is None  # no timestamp.txt
    assert theirs_rows["alice:scale-tests"] == (3.0, None, None, False, 3.0)
    assert theirs_rows["bob:add-answer:no-response"] is True


def test_nbgrader_export_of_both_is_the_same(both: tuple[Path, Path, Path]) -> None:
    course, ours, tmp = both
    exports = []
    for name, db in (("theirs", course / "gradebook.db"), ("ours", ours / "gradebook.db")):
        to = tmp / f"{name}.csv"
        _run(
            [str(BIN / "nbgrader"), "export", "--db", f"sqlite:///{db}", "--to", str(to)],
            cwd=tmp,
        )
        exports.append(to.read_text(encoding="utf-8"))
    assert exports[0] == exports[1]
    assert "2026-01-10 12:00:00" in exports[0]  # the due date is in both


def test_autograded_notebooks_in_nbgraders_layout(both: tuple[Path, Path, Path]) -> None:
    course, ours, _ = both
    for student in STAMPS:
        theirs = course / "autograded" / student / A / f"{A}.ipynb"
        mine = ours / "autograded" / student / A / f"{A}.ipynb"
        assert theirs.is_file() and mine.is_file()
        assert mine.stat().st_size < 200_000
        nb = nbformat.read(mine, as_version=4)
        ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        assert [i for i in ids if i] == [
            c.metadata.get("nbgrader", {}).get("grade_id")
            for c in nbformat.read(theirs, as_version=4).cells
            if c.metadata.get("nbgrader", {}).get("grade_id")
        ]
        assert (mine.parent / "timestamp.txt").is_file() == (STAMPS[student] is not None)


def test_comments_carry_the_plain_words_messages(both: tuple[Path, Path, Path]) -> None:
    _, ours, _ = both
    with open_gradebook(f"sqlite:///{ours / 'gradebook.db'}") as gb:
        carol = {
            c.name: c.auto_comment for c in gb.find_submission_notebook(A, A, "carol").comments
        }
        alice = {
            c.name: c.auto_comment for c in gb.find_submission_notebook(A, A, "alice").comments
        }
    assert alice == {"add-answer": None, "scale-answer": None}
    assert carol["add-answer"] is None
    assert carol["scale-answer"] and "scale([1, 2], 3) should be [3, 6]" in carol["scale-answer"]
