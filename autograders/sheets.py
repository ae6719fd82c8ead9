"""Grade sheets, written from the gradebook after every ``grade`` run (into ``OUT``).

* ``grades.csv``: exactly what ``nbgrader export`` writes (its ``CsvExportPlugin``): one row
  per student and assignment, for Formgrader users and nbgrader's own tools.
* ``grades-by-student.csv``: one row per student, one column per assignment (the score after
  the late penalty) plus ``total`` and ``max_total``, and ``notes`` naming what a number alone
  hides (an ungradable submission, a late penalty, a manual grade awaiting review).
* ``grades-by-exercise.csv``: one row per student and test cell: the exercise's title, the
  automatic and manual scores, the score that counts, and whether it needs a manual look.
* ``canvas.csv``: the column layout of Canvas' own gradebook export, which its gradebook
  import accepts: ``Student`` ("Last, First"), ``ID`` (the Canvas user id, the roster's
  ``lms_user_id``), ``SIS User ID``, ``SIS Login ID`` (the student id), ``Section``, then one
  column per assignment, and a second row ``Points Possible``. Canvas requires a student
  identifier column (Student name, ID or SIS User ID), ``SIS Login ID`` and ``Section``, then
  the assignment columns; a column whose name Canvas does not know creates a new assignment
  ("How do I import grades in the Gradebook?", Canvas Instructor Guide,
  https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807;
  restated with the same columns by
  https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades).
  Canvas matches rows by ``ID`` first: give a roster with ``lms_user_id`` for a clean import.
  A submission that was not graded is left blank (Canvas leaves a blank cell unchanged).
* ``submissions.csv``: one row per submission ever graded into this ``OUT`` (ungradable ones
  included, marked so, with the reason): the file, how it was matched, the status, the score.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autograders import gradebook

__all__ = ["CANVAS_COLUMNS", "SHEETS", "write_sheets"]

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
"""The identity columns of Canvas' gradebook export, in its order."""

SHEETS = (
    "grades.csv",
    "grades-by-student.csv",
    "grades-by-exercise.csv",
    "canvas.csv",
    "submissions.csv",
)


def _num(value: float | None) -> str:
    return "" if value is None else f"{float(value):g}"


def _write(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def write_sheets(
    db_url: str,
    out: Path,
    *,
    state: Mapping[str, Mapping[str, Any]],
    course_assignments: Sequence[str],
    titles: Mapping[str, Mapping[str, str]],
) -> dict[str, Path]:
    """Write every sheet into ``out`` from the gradebook.

    Args:
        db_url: the gradebook.
        out: the output folder.
        state: ``STUDENT/ASSIGNMENT`` -> what the grader recorded (status, file, reason).
        course_assignments: the course's assignments, in order (the wide sheets' columns).
        titles: assignment -> test cell id -> exercise title.

    Returns:
        Sheet name -> path.
    """
    written = {"grades.csv": gradebook.export_csv(db_url, out / "grades.csv")}
    api = gradebook.nbgrader_module("api")
    by_student: list[list[Any]] = []
    by_exercise: list[list[Any]] = []
    canvas: list[list[Any]] = []
    with gradebook.open_shared(db_url) as gb:
        in_book = {a.name: a for a in gb.assignments}
        columns = [a for a in course_assignments if a in in_book]
        columns += sorted(a for a in in_book if a not in columns)
        maxima = {a: float(in_book[a].max_score) for a in columns}
        for student in sorted(gb.students, key=lambda s: s.id):
            row: list[Any] = [student.id, student.last_name or "", student.first_name or ""]
            row.append(student.email or "")
            canvas_row: list[Any] = [
                ", ".join(n for n in (student.last_name, student.first_name) if n) or student.id,
                student.lms_user_id or "",
                "",
                student.id,
                "",
            ]
            total = 0.0
            notes = []
            for name in columns:
                recorded = state.get(f"{student.id}/{name}", {})
                try:
                    sub = gb.find_submission(name, student.id)
                except api.MissingEntry:
                    row.append("")
                    canvas_row.append("")
                    continue
                penalty = float(sub.late_submission_penalty or 0.0)
                score = float(sub.score) - penalty
                total += score
                row.append(_num(score))
                canvas_row.append(_num(score))
                if recorded.get("status") == "ungradable":
                    notes.append(f"{name}: UNGRADABLE ({recorded.get('reason', '')})")
                if penalty:
                    notes.append(f"{name}: late, -{penalty:g}")
                if sub.needs_manual_grade:
                    notes.append(f"{name}: needs a manual look")
                for nb in sub.notebooks:
                    for grade in sorted(nb.grades, key=lambda g: g.name):
                        by_exercise.append(
                            [
                                student.id,
                                name,
                                titles.get(name, {}).get(grade.name, grade.name),
                                grade.name,
                                _num(grade.auto_score),
                                _num(grade.manual_score),
                                _num(grade.score),
                                _num(grade.max_score),
                                "yes" if grade.needs_manual_grade else "no",
                            ]
                        )
            row += [_num(total), _num(sum(maxima.values())), "; ".join(notes)]
            by_student.append(row)
            canvas.append(canvas_row)
    written["grades-by-student.csv"] = _write(
        out / "grades-by-student.csv",
        ["student_id", "last_name", "first_name", "email", *columns, "total", "max_total", "notes"],
        by_student,
    )
    written["grades-by-exercise.csv"] = _write(
        out / "grades-by-exercise.csv",
        [
            "student_id",
            "assignment",
            "exercise",
            "grade_id",
            "auto_score",
            "manual_score",
            "score",
            "max_score",
            "needs_manual_grade",
        ],
        by_exercise,
    )
    points = ["    Points Possible", "", "", "", "", *(_num(maxima[a]) for a in columns)]
    written["canvas.csv"] = _write(
        out / "canvas.csv", [*CANVAS_COLUMNS, *columns], [points, *canvas]
    )
    written["submissions.csv"] = _write(
        out / "submissions.csv",
        ["student_id", "assignment", "status", "auto_score", "file", "matched", "reason"],
        [
            [
                key.split("/", 1)[0],
                key.split("/", 1)[1],
                entry.get("status", ""),
                _num(entry.get("score")) if entry.get("status") == "graded" else "",
                entry.get("file", ""),
                entry.get("how", ""),
                entry.get("reason", ""),
            ]
            for key, entry in sorted(state.items())
        ],
    )
    return written
