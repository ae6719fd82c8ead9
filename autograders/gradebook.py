"""Writing grades into nbgrader's gradebook the way ``nbgrader autograde`` does.

Only the trusted grading process calls these: the student's code never gets the
gradebook's path. What a row holds follows nbgrader's own code (``nbgrader/api.py``,
``preprocessors/saveautogrades.py``, ``preprocessors/latesubmissions.py``,
``converters/autograde.py``):

* the assignment, notebook and cell rows are what ``generate_assignment``'s ``SaveCells``
  writes (grade cells with their points, solution cells, source cells with the released
  source and its checksum), made here only when the gradebook does not have them yet;
* the submission's timestamp is the one in ``timestamp.txt`` (``None`` without one), as
  ``Autograde.init_assignment`` reads it; Formgrader calls a submission "autograded" only when
  that timestamp equals the one in the gradebook;
* an autograded test cell has ``needs_manual_grade = False`` and its ``auto_score``; each answer
  cell's comment carries, as ``auto_comment``, the plain-words messages of the test cells after
  it (nbgrader writes ``"No response."`` for an unchanged answer: so do we, before them);
* the late penalty of the notebook is ``AssignLatePenalties``' (the ``LateSubmissionPlugin``
  methods ``none`` and ``zero``, clamped to ``[0, score]``).

One difference, on purpose: a manual score or a manual comment is never touched. nbgrader's
autograde keeps the manual score too but flags every manually graded cell for review again;
here a cell is flagged (``needs_manual_grade = True``) only when its automatic score changed
under a manual one, and :func:`record_result` returns a notice saying so.

nbgrader is imported lazily and without its package ``__init__`` (which loads its Jupyter
server extensions, seconds of imports): see :func:`nbgrader_module`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import importlib.util
import json
import re
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograders.assignments import Assignment
from autograders.dblock import gradebook_lock

__all__ = [
    "COURSE_ID",
    "CSV_COLUMNS",
    "LATE_METHODS",
    "Recorded",
    "add_students",
    "ensure_assignment",
    "export_csv",
    "late_penalty",
    "nbgrader_module",
    "open_gradebook",
    "open_shared",
    "parse_timestamp",
    "record_result",
    "record_ungradable",
    "shared",
    "snapshot",
]

COURSE_ID = "module14-fault-tolerance"
"""The course id of ``autograders/nbgrader_config.py`` (``CourseDirectory.course_id``)."""

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

LATE_METHODS = ("none", "zero")
"""nbgrader's ``LateSubmissionPlugin.penalty_method`` values."""


def quiet_jsonschema() -> None:
    """Skip ``rfc3987_syntax`` (1.4 s to build a grammar) when nbformat loads jsonschema.

    jsonschema uses it only to check the ``iri`` string formats, which no notebook schema
    uses; without it jsonschema simply has no checker for them.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def nbgrader_module(name: str) -> Any:
    """Import ``nbgrader.<name>`` without running ``nbgrader/__init__.py`` first.

    nbgrader's package ``__init__`` imports its four Jupyter server extensions (tornado,
    jupyter_server, the exchange: seconds of imports) only to offer them to a Jupyter server.
    The grader needs the gradebook API and the CSV exporter. The package module is put in
    place empty (with ``__path__`` and ``__version__``); any other attribute asked of it
    runs the real ``__init__`` then, so nothing that needs it breaks.
    """
    quiet_jsonschema()
    if "nbgrader" not in sys.modules:
        spec = importlib.util.find_spec("nbgrader")
        if spec is None or spec.submodule_search_locations is None or spec.origin is None:
            raise ImportError("nbgrader is not installed (pip install -e '.[course]')")
        package = types.ModuleType("nbgrader")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        package.__file__ = spec.origin
        origin = spec.origin

        def load_rest(attribute: str) -> Any:
            if attribute.startswith("__"):
                raise AttributeError(attribute)
            if importlib.util.find_spec(f"nbgrader.{attribute}") is not None:  # a submodule
                return importlib.import_module(f"nbgrader.{attribute}")
            package.__dict__.pop("__getattr__", None)
            code = compile(Path(origin).read_text(encoding="utf-8"), origin, "exec")
            exec(code, package.__dict__)  # noqa: S102 - nbgrader's own __init__
            return getattr(package, attribute)

        package.__dict__["__getattr__"] = load_rest
        sys.modules["nbgrader"] = package
        package.__dict__["__version__"] = importlib.import_module("nbgrader._version").__version__
    return importlib.import_module(f"nbgrader.{name}")


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([0-9a-f]*)['\"]?", re.MULTILINE)


def _alembic_head(api: Any) -> Callable[[], str]:
    """nbgrader's ``get_alembic_version`` without running the ``alembic`` program.

    A new gradebook is stamped with the head revision of nbgrader's migrations; nbgrader asks
    the ``alembic`` command for it (a subprocess, and ``alembic: not found`` when the venv's
    ``bin/`` is not on PATH). The head is the one revision no other revision follows; it is
    read from the migration files themselves. Anything unexpected falls back to nbgrader's.
    """
    original: Callable[[], str] = api.get_alembic_version
    versions = Path(api.__file__).parent / "alembic" / "versions"

    def head() -> str:
        revisions, parents = set(), set()
        for path in versions.glob("*.py"):
            found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
            if found.get("revision"):
                revisions.add(found["revision"])
            if found.get("down_revision"):
                parents.add(found["down_revision"])
        heads = revisions - parents
        return heads.pop() if len(heads) == 1 else original()

    return head


def _api() -> Any:
    api = nbgrader_module("api")
    if not getattr(api.get_alembic_version, "_m14", False):
        api.get_alembic_version = _alembic_head(api)
        api.get_alembic_version._m14 = True
    warnings.filterwarnings("ignore", module=r"nbgrader\.api")  # SAWarning chatter
    return api


def open_gradebook(db_url: str) -> Any:
    """nbgrader's ``Gradebook`` on ``db_url`` (course :data:`COURSE_ID`); use it with ``with``.

    Opening may create the tables: under the writers' lock (:mod:`autograders.dblock`).
    """
    with gradebook_lock(db_url):
        return _api().Gradebook(db_url, COURSE_ID)


_SHARED: dict[str, Any] = {}


@contextlib.contextmanager
def shared(db_url: str) -> Iterator[None]:
    """Inside this block every function here uses ONE open gradebook on ``db_url``.

    Opening nbgrader's ``Gradebook`` (an engine, a table check) costs tens of milliseconds;
    a batch records hundreds of rows. Only the one thread that writes may use it.
    """
    if db_url in _SHARED:
        yield
        return
    gb = open_gradebook(db_url)
    _SHARED[db_url] = gb
    try:
        yield
    finally:
        del _SHARED[db_url]
        gb.close()


def open_shared(db_url: str) -> Any:
    """The gradebook of an enclosing :func:`shared` block, else a new one (use with ``with``)."""
    if db_url in _SHARED:
        return contextlib.nullcontext(_SHARED[db_url])
    return open_gradebook(db_url)


def parse_timestamp(text: str) -> dt.datetime:
    """A ``timestamp.txt`` value as nbgrader reads it (``nbgrader.utils.parse_utc``): naive UTC.

    Raises:
        ValueError: not a timestamp.
    """
    utils = nbgrader_module("utils")
    value: dt.datetime = utils.parse_utc(text.strip())
    return value


def late_penalty(method: str, score: float, seconds_late: float) -> float | None:
    """The late penalty nbgrader's ``AssignLatePenalties`` stores for one notebook.

    Args:
        method: ``none`` (no penalty) or ``zero`` (the whole score), as nbgrader's
            ``LateSubmissionPlugin.penalty_method``.
        score: the notebook's score before the penalty.
        seconds_late: how late the submission was (0: on time).

    Returns:
        The penalty, clamped to ``[0, score]``; ``None`` when on time or no method.

    Raises:
        ValueError: an unknown method.
    """
    if method not in LATE_METHODS:
        raise ValueError(
            f"unknown late penalty method {method!r} (known: {', '.join(LATE_METHODS)})"
        )
    if seconds_late <= 0 or method == "none":
        return None
    return max(0.0, score)  # 'zero': the whole score, never below 0


def _blank(source: str) -> str:
    from autograders.engine import STUB, blank_answer

    return blank_answer(source, STUB)


def _source_rows(assignment: Assignment) -> dict[str, Any]:
    """The cell rows ``generate_assignment``'s ``SaveCells`` records for one notebook."""
    utils = nbgrader_module("utils")
    nbformat = importlib.import_module("nbformat")
    data = assignment.read()
    grade_cells: dict[str, dict[str, Any]] = {}
    solution_cells: dict[str, dict[str, Any]] = {}
    source_cells: dict[str, dict[str, Any]] = {}
    for raw in data.get("cells", []):
        cell = nbformat.from_dict(raw)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta or "grade_id" not in meta:
            continue
        source = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        if meta.get("solution") and cell.cell_type == "code":
            source = _blank(source)  # what ClearSolutions leaves
        cell.source = source
        grade_id = meta["grade_id"]
        if meta.get("grade"):
            grade_cells[grade_id] = {
                "max_score": float(meta.get("points", 0) or 0),
                "cell_type": cell.cell_type,
            }
        if meta.get("solution"):
            solution_cells[grade_id] = {}
        if meta.get("grade") or meta.get("solution") or meta.get("locked"):
            source_cells[grade_id] = {
                "cell_type": cell.cell_type,
                "locked": bool(meta.get("locked")),
                "source": source,
                "checksum": utils.compute_checksum(cell),
            }
    kernelspec = json.dumps(data.get("metadata", {}).get("kernelspec", {}))
    return {
        "kernelspec": kernelspec,
        "grade": grade_cells,
        "solution": solution_cells,
        "source": source_cells,
    }


def ensure_assignment(db_url: str, assignment: Assignment, duedate: dt.datetime | None) -> None:
    """Make the gradebook know ``assignment`` as ``generate_assignment`` would record it.

    An assignment whose notebook is already in the gradebook (released there with nbgrader,
    or graded before) keeps its rows; only its due date is set when one is given.

    Args:
        db_url: the gradebook.
        assignment: the source assignment.
        duedate: naive UTC due date, or ``None`` to leave the gradebook's as it is.
    """
    api = _api()
    with gradebook_lock(db_url), open_shared(db_url) as gb:
        fields = {} if duedate is None else {"duedate": duedate}
        gb.update_or_create_assignment(assignment.name, **fields)
        try:
            gb.find_notebook(assignment.name, assignment.name)
            return
        except api.MissingEntry:
            pass
        rows = _source_rows(assignment)
        gb.add_notebook(assignment.name, assignment.name, kernelspec=rows["kernelspec"])
        for kind in ("grade", "solution", "source"):
            make = getattr(gb, f"update_or_create_{kind}_cell")
            for name, info in rows[kind].items():
                make(name, assignment.name, assignment.name, **info)


def add_students(
    db_url: str, students: Iterable[str], roster: Mapping[str, Mapping[str, str]] = {}
) -> None:  # noqa: B006
    """Make sure these students exist, in this order; fill names/emails from ``roster``.

    nbgrader's export lists students by name, then in the order they were added; adding a
    batch's students up front keeps ``grades.csv``'s order however the grading finishes.
    """
    with gradebook_lock(db_url), open_shared(db_url) as gb:
        for student in dict.fromkeys(students):
            info = {k: v for k, v in roster.get(student, {}).items() if v}
            gb.update_or_create_student(student, **info)


def import_roster(db_url: str, roster: Mapping[str, Mapping[str, str]]) -> None:
    """Store every roster entry (``first_name``, ``last_name``, ``email``) as a student."""
    add_students(db_url, list(roster), roster)


@dataclass
class Recorded:
    """What recording one submission changed, for the instructor.

    Attributes:
        notices: manual grades kept while the automatic score under them changed.
        warnings: test ids the gradebook does not know (their points are not stored).
        seconds_late: how late the submission was (0 on time or without a due date).
        penalty: the late penalty stored (``None``: none).
        duedate: the assignment's due date (naive UTC), if it has one.
    """

    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds_late: float = 0.0
    penalty: float | None = None
    duedate: dt.datetime | None = None


def _submission(gb: Any, assignment: str, student: str, when: dt.datetime | None) -> Any:
    api = _api()
    gb.update_or_create_student(student)
    try:
        submission = gb.find_submission(assignment, student)
    except api.MissingEntry:
        submission = gb.add_submission(assignment, student)
    submission.timestamp = when
    gb.db.commit()
    return submission


def _answer_of_tests(assignment: Assignment) -> dict[str, str]:
    """Test cell id -> the answer cell just before it (where its comment goes)."""
    owner: dict[str, str] = {}
    answer: str | None = None
    for cell in assignment.graded_cells:
        if cell.solution:
            answer = cell.grade_id
        if cell.grade and answer is not None:
            owner[cell.grade_id] = answer
    return owner


def _finish(gb: Any, submission: Any, notebook: str, method: str, done: Recorded) -> None:
    """Late penalty, as ``AssignLatePenalties``: reset, then set when late."""
    nb = gb.find_submission_notebook(notebook, submission.assignment.name, submission.student.id)
    nb.late_submission_penalty = None
    done.duedate = submission.duedate
    done.seconds_late = float(submission.total_seconds_late)
    if done.seconds_late > 0:
        penalty = late_penalty(method, float(nb.score), done.seconds_late)
        nb.late_submission_penalty = penalty
        done.penalty = penalty
    gb.db.commit()


def record_result(
    db_url: str,
    result: Any,
    assignment: Assignment | None = None,
    when: dt.datetime | None = None,
    *,
    late_method: str = "none",
) -> Recorded:
    """Store one engine ``NotebookResult`` as ``nbgrader autograde`` would.

    Args:
        db_url: the gradebook (the assignment's rows must exist: :func:`ensure_assignment`).
        result: ``NotebookResult`` with ``assignment``, ``notebook``, ``student``, ``tests``.
        assignment: the source assignment (which answer cell each test cell follows; without
            it the comments are left as they are).
        when: the submission's timestamp (naive UTC, from ``timestamp.txt``), or ``None``.
        late_method: nbgrader's ``LateSubmissionPlugin.penalty_method``.

    Returns:
        What changed: notices about manual grades kept, unknown test ids, lateness.
    """
    api = _api()
    done = Recorded()
    owner = _answer_of_tests(assignment) if assignment is not None else {}
    comments: dict[str, list[str]] = {}
    with gradebook_lock(db_url), open_shared(db_url) as gb:
        submission = _submission(gb, result.assignment, result.student, when)
        for test in result.tests:
            try:
                grade = gb.find_grade(
                    test.grade_id, result.notebook, result.assignment, result.student
                )
            except api.MissingEntry:
                done.warnings.append(
                    f"{result.assignment}: no test cell {test.grade_id} in the gradebook"
                )
                continue
            new = float(test.points)
            if grade.manual_score is not None:
                if grade.auto_score is not None and float(grade.auto_score) != new:
                    done.notices.append(
                        f"{result.student}/{result.assignment} {test.grade_id}: the automatic "
                        f"score changed from {float(grade.auto_score):g} to {new:g}; the manual "
                        f"score {float(grade.manual_score):g} is kept (flagged for review)"
                    )
                    grade.needs_manual_grade = True
            else:
                grade.needs_manual_grade = False
            grade.auto_score = new
            if test.status != "passed" and test.message and test.grade_id in owner:
                comments.setdefault(owner[test.grade_id], []).append(test.message)
        submitted_nb = gb.find_submission_notebook(
            result.notebook, result.assignment, result.student
        )
        unanswered = _unanswered(result, assignment) if assignment is not None else set()
        for comment in submitted_nb.comments if assignment is not None else []:
            name = comment.cell.name
            lines = (["No response."] if name in unanswered else []) + comments.get(name, [])
            comment.auto_comment = "\n\n".join(lines) or None
        gb.db.commit()
        _finish(gb, submission, result.notebook, late_method, done)
    return done


def _unanswered(result: Any, assignment: Assignment) -> set[str]:
    """Answer cells the student left as released (nbgrader's "No response.")."""
    notebook = getattr(result, "autograded", None)
    if notebook is None:
        return set()
    blank = {c.grade_id: _blank(c.source).strip() for c in assignment.answer_cells}
    found = set()
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in blank and cell.source.strip() == blank[grade_id]:
            found.add(grade_id)
    return found


def record_ungradable(
    db_url: str,
    assignment: str,
    notebook: str,
    student: str,
    when: dt.datetime | None = None,
    reason: str = "the submission could not be graded",
    *,
    late_method: str = "none",
) -> Recorded:
    """Store a submission that could not be graded: every test cell scores 0, as nbgrader
    does for a missing notebook; each answer cell's comment says why."""
    done = Recorded()
    with gradebook_lock(db_url), open_shared(db_url) as gb:
        submission = _submission(gb, assignment, student, when)
        nb = gb.find_submission_notebook(notebook, assignment, student)
        for grade in nb.grades:
            if grade.manual_score is not None and float(grade.auto_score or 0) != 0.0:
                done.notices.append(
                    f"{student}/{assignment} {grade.name}: the automatic score changed from "
                    f"{float(grade.auto_score or 0):g} to 0; the manual score "
                    f"{float(grade.manual_score):g} is kept (flagged for review)"
                )
                grade.needs_manual_grade = True
            elif grade.manual_score is None:
                grade.needs_manual_grade = False
            grade.auto_score = 0.0
        for comment in nb.comments:
            comment.auto_comment = f"Not graded: {reason}"
        gb.db.commit()
        _finish(gb, submission, notebook, late_method, done)
    return done


def export_csv(db_url: str, path: Path) -> Path:
    """Write ``path`` exactly as ``nbgrader export`` would (its ``CsvExportPlugin``)."""
    plugin = nbgrader_module("plugins.export").CsvExportPlugin
    with open_shared(db_url) as gb:
        plugin(to=str(path)).export(gb)
    return path


def snapshot(db_url: str, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Sequence[Any]]:
    """Every stored value of the given ``(assignment, student)`` submissions, for comparison."""
    api = _api()
    rows: dict[tuple[str, str], Sequence[Any]] = {}
    with open_shared(db_url) as gb:
        for assignment, student in pairs:
            try:
                submission = gb.find_submission(assignment, student)
            except api.MissingEntry:
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
