"""Writing grades into nbgrader's SQLite gradebook, and exporting ``grades.csv``.

Only the trusted grading process calls these: the student's code never gets the
gradebook's path. The CSV comes from nbgrader's own ``CsvExportPlugin``, so it has exactly
the columns of ``nbgrader export``.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins.export import CsvExportPlugin
from sqlalchemy.exc import SAWarning

from autograders.dblock import gradebook_lock

__all__ = [
    "CSV_COLUMNS",
    "add_students",
    "export_csv",
    "record_result",
    "record_ungradable",
    "snapshot",
]

CSV_COLUMNS = (
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
)


def _submission(gb: Gradebook, assignment: str, student: str, when: dt.datetime) -> Any:
    gb.update_or_create_student(student)
    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        with warnings.catch_warnings():  # SQLAlchemy autoflush chatter inside nbgrader's own code
            warnings.simplefilter("ignore", SAWarning)
            submission = gb.add_submission(assignment, student)
    submission.timestamp = when
    return submission


def add_students(db_url: str, students: Iterable[str]) -> None:
    """Make sure these students exist, creating the missing ones in this order.

    nbgrader's export lists students by name, then in the order they were added; adding
    a batch's students up front keeps ``grades.csv`` in submission order however the
    grading finishes.
    """
    with gradebook_lock(db_url), Gradebook(db_url) as gb:
        for student in dict.fromkeys(students):
            gb.update_or_create_student(student)


def record_result(db_url: str, result: Any, when: dt.datetime | None = None) -> list[str]:
    """Store one engine ``NotebookResult`` as the student's autograded scores.

    Args:
        db_url: the gradebook (its assignment rows must exist: see ``release.temp_course``).
        result: ``NotebookResult`` with ``assignment``, ``notebook``, ``student``, ``tests``.
        when: the submission timestamp (default now, UTC).

    Returns:
        Warnings: test ids the gradebook does not know (their points are not stored).
    """
    problems = []
    with gradebook_lock(db_url), Gradebook(db_url) as gb:
        _submission(gb, result.assignment, result.student, when or dt.datetime.now(dt.UTC))
        for test in result.tests:
            try:
                grade = gb.find_grade(
                    test.grade_id, result.notebook, result.assignment, result.student
                )
            except MissingEntry:
                problems.append(
                    f"{result.assignment}: no test cell {test.grade_id} in the gradebook"
                )
                continue
            grade.auto_score = float(test.points)
            grade.manual_score = None
        gb.db.commit()
    return problems


def record_ungradable(
    db_url: str, assignment: str, notebook: str, student: str, when: dt.datetime | None = None
) -> None:
    """Store a submission that could not be graded: every test cell scores 0."""
    with gradebook_lock(db_url), Gradebook(db_url) as gb:
        _submission(gb, assignment, student, when or dt.datetime.now(dt.UTC))
        for grade in gb.find_submission_notebook(notebook, assignment, student).grades:
            grade.auto_score = 0.0
            grade.manual_score = None
        gb.db.commit()


def export_csv(db_url: str, path: Path) -> Path:
    """Write ``path`` exactly as ``nbgrader export`` would (its ``CsvExportPlugin``)."""
    with Gradebook(db_url) as gb:
        CsvExportPlugin(to=str(path)).export(gb)
    return path


def snapshot(db_url: str, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Sequence[Any]]:
    """Every stored value of the given ``(assignment, student)`` submissions, for comparison."""
    rows: dict[tuple[str, str], Sequence[Any]] = {}
    with Gradebook(db_url) as gb:
        for assignment, student in pairs:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                rows[(assignment, student)] = ()
                continue
            grades = []
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grades.append(
                        (
                            notebook.name,
                            grade.name,
                            grade.auto_score,
                            grade.manual_score,
                            grade.extra_credit,
                            grade.needs_manual_grade,
                        )
                    )
            rows[(assignment, student)] = (
                str(submission.timestamp),
                submission.score,
                tuple(sorted(grades, key=repr)),
            )
    return rows
