"""The class list and the course calendar: who the students are, when each assignment is due.

* The **roster** is a CSV in the format ``nbgrader db student import`` reads: a column ``id``
  (the student id, as in the submissions), and any of ``first_name``, ``last_name``,
  ``email``, ``lms_user_id``; other columns are ignored and an empty cell means "unknown"
  (nbgrader's ``DbGenericImportApp`` does the same).
* The **course settings** are a small TOML file (``grade --course course.toml``)::

      late_penalty = "zero"      # nbgrader's LateSubmissionPlugin.penalty_method: none | zero

      [duedates]                 # any time nbgrader's parse_utc reads; UTC when no zone given
      "01-circuit-breaker" = "2026-03-02 17:00:00 UTC"

  Due dates are written into the gradebook's assignment rows, where nbgrader keeps them
  (``nbgrader db assignment add NAME --duedate=...`` writes the same field), so
  ``nbgrader export``, Formgrader and plain ``nbgrader autograde`` see them too. For plain
  ``nbgrader autograde`` to take the same penalty, set ``c.LateSubmissionPlugin.penalty_method``
  to the same method in ``nbgrader_config.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROSTER_KEYS", "CourseError", "CourseSettings", "load_course", "load_roster"]

ROSTER_KEYS = ("first_name", "last_name", "email", "lms_user_id")
"""The student fields a roster may give besides ``id`` (nbgrader's ``Student`` columns)."""


class CourseError(Exception):
    """A roster or course settings file that cannot be read; the message names the problem."""


def load_roster(path: Path) -> dict[str, dict[str, str]]:
    """Read a roster CSV: student id -> its non-empty fields.

    Raises:
        CourseError: the file is missing, has no ``id`` column, or repeats an id.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CourseError(f"cannot read the roster {path}: {exc.strerror or exc}") from exc
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip() for f in reader.fieldnames or []]
    if "id" not in fields:
        raise CourseError(
            f"roster {path} has no 'id' column (found: {', '.join(fields) or 'nothing'}); "
            "expected nbgrader's student CSV: id,first_name,last_name,email"
        )
    reader.fieldnames = fields
    roster: dict[str, dict[str, str]] = {}
    for line, row in enumerate(reader, start=2):
        student = (row.get("id") or "").strip()
        if not student:
            raise CourseError(f"roster {path}, line {line}: empty id")
        if student in roster:
            raise CourseError(f"roster {path}, line {line}: id {student!r} appears twice")
        roster[student] = {
            k: (row.get(k) or "").strip() for k in ROSTER_KEYS if (row.get(k) or "").strip()
        }
    return roster


@dataclass(frozen=True)
class CourseSettings:
    """Due dates and the late-penalty method.

    Attributes:
        duedates: assignment -> due date (naive UTC, as nbgrader stores it).
        late_penalty: nbgrader's ``LateSubmissionPlugin.penalty_method``: ``none`` or ``zero``.
    """

    duedates: dict[str, dt.datetime] = field(default_factory=dict)
    late_penalty: str = "none"


def load_course(path: Path | None, known: Sequence[str]) -> CourseSettings:
    """Read the course settings TOML (no file: no due dates, no penalty).

    Raises:
        CourseError: unreadable TOML, an unknown key or assignment, a bad date or method.
    """
    if path is None:
        return CourseSettings()
    from autograders.gradebook import LATE_METHODS, parse_timestamp

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CourseError(f"cannot read the course settings {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"course settings {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"duedates", "late_penalty"})
    if unknown:
        raise CourseError(
            f"course settings {path}: unknown key(s) {', '.join(unknown)} "
            "(known: late_penalty, [duedates])"
        )
    method = data.get("late_penalty", "none")
    if method not in LATE_METHODS:
        raise CourseError(
            f"course settings {path}: late_penalty = {method!r}; use one of "
            f"{', '.join(LATE_METHODS)} (nbgrader's LateSubmissionPlugin.penalty_method)"
        )
    raw = data.get("duedates", {})
    if not isinstance(raw, dict):
        raise CourseError(f"course settings {path}: [duedates] must be a table")
    duedates = {}
    for name, value in raw.items():
        if name not in known:
            raise CourseError(
                f"course settings {path}: due date for unknown assignment {name!r} "
                f"(known: {', '.join(known) or 'none'})"
            )
        try:
            duedates[name] = parse_timestamp(str(value))
        except (ValueError, OverflowError) as exc:
            raise CourseError(
                f"course settings {path}: due date of {name} {value!r} is not a time ({exc})"
            ) from exc
    return CourseSettings(duedates=duedates, late_penalty=method)
