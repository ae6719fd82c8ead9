"""The gradebook on a real PostgreSQL server, written by two ``grade`` processes at once.

A class split between two graders: 20 submissions of the fixture assignment, 10 in each
folder, graded at the same time by two ``python -m autograders grade --db
postgresql+psycopg://...`` processes into one database. Every submission must be there
exactly once, with exactly one grade row per test cell and the right score; nothing
lost, nothing twice (:mod:`autograders.dblock` serialises the writers).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from conftest import require_program
from pg_server import create_database, postgres_bindir, running_postgres

from autograders.release import release
from autograders.submissions import solution_notebook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
A = "99-fixture"
SOURCE = FIXTURES / A / f"{A}.ipynb"


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    bindir = postgres_bindir()
    if bindir is None:
        require_program("initdb", install_hint="apt-get install postgresql")
    assert bindir is not None
    with running_postgres(bindir) as url:
        yield url


def _grade(subs: Path, out: Path, db: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "autograders", "--notebooks", str(FIXTURES),
            "grade", str(subs), "--out", str(out), "--db", db, "--no-progress",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_two_graders_at_once_lose_and_duplicate_nothing(postgres: str, tmp_path: Path) -> None:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    db = create_database(postgres, "gradebook")
    release(tmp_path / "release", notebooks=FIXTURES)
    blank = nbformat.read(tmp_path / "release" / A / f"{A}.ipynb", as_version=4)
    solution = solution_notebook(nbformat.read(SOURCE, as_version=4), blank)
    expected: dict[str, float] = {}
    for i in range(20):
        student = f"student{i:02d}"
        folder = tmp_path / ("half-a" if i % 2 == 0 else "half-b") / student / A
        folder.mkdir(parents=True)
        solved = i % 3 != 0
        nbformat.write(solution if solved else blank, folder / f"{A}.ipynb")
        expected[student] = -1.0 if solved else 0.0  # -1: full marks, read from the gradebook

    graders = [
        _grade(tmp_path / half, tmp_path / f"out-{half}", db) for half in ("half-a", "half-b")
    ]
    outputs = [g.communicate(timeout=900)[0] for g in graders]
    for grader, output in zip(graders, outputs, strict=True):
        assert grader.returncode == 0, output

    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    try:
        with engine.connect() as c:
            duplicates = c.execute(
                text(
                    "SELECT s.student_id, a.name, count(*) FROM submitted_assignment s "
                    "JOIN assignment a ON a.id = s.assignment_id "
                    "GROUP BY s.student_id, a.name HAVING count(*) > 1"
                )
            ).all()
            assert duplicates == [], f"submissions stored twice: {duplicates}"
            students = c.execute(text("SELECT count(*) FROM student")).scalar_one()
            assert students == 20
            assignments = c.execute(text("SELECT count(*) FROM assignment")).scalar_one()
            assert assignments == 1, "the assignment was created twice"
            cells = c.execute(text("SELECT count(*) FROM grade_cells gc")).scalar_one()
            grades = c.execute(
                text(
                    "SELECT st.id, count(g.id), sum(coalesce(g.manual_score, g.auto_score)), "
                    "sum(gc.max_score) FROM grade g "
                    "JOIN submitted_notebook sn ON sn.id = g.notebook_id "
                    "JOIN submitted_assignment sa ON sa.id = sn.assignment_id "
                    "JOIN student st ON st.id = sa.student_id "
                    "JOIN grade_cells gc ON gc.id = g.cell_id "
                    "GROUP BY st.id"
                )
            ).all()
    finally:
        engine.dispose()
    by_student = {row[0]: row for row in grades}
    assert sorted(by_student) == sorted(expected), "a submission is missing from the gradebook"
    for student, want in expected.items():
        _, count, score, max_score = by_student[student]
        assert count == cells, (
            f"{student}: {count} grade rows, expected one per test cell ({cells})"
        )
        assert score == (max_score if want < 0 else want), f"{student}: score {score}"
