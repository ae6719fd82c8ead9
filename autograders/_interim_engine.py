"""A plain, UNSANDBOXED stand-in for ``autograders.engine`` (used only while it is missing).

It follows the engine contract (``grade_notebook`` and the result types) so the batch
driver, the gradebook, the feedback and ``selfcheck`` can be built and tested before the
hardened engine lands. It runs the student's code in an ordinary Jupyter kernel with the
grader's rights: never use it on untrusted work. ``autograders.grading`` picks the real
engine as soon as ``autograders/engine.py`` exists.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nbformat

from autograders.feedback import strip_hidden_tests

__all__ = ["Limits", "NotebookResult", "SubmissionError", "TestResult", "grade_notebook"]

ROOT = Path(__file__).resolve().parent.parent
STUB = (
    'raise NotImplementedError("Not written yet: replace this line with your code '
    '(see the exercise above).")'
)


@dataclass(frozen=True)
class TestResult:
    """One test cell's outcome."""

    grade_id: str
    points: float
    max_points: float
    status: Literal["passed", "failed", "error", "timeout", "limit", "missing"]
    message: str


@dataclass(frozen=True)
class NotebookResult:
    """One graded notebook."""

    assignment: str
    notebook: str
    student: str
    tests: tuple[TestResult, ...]
    notes: tuple[str, ...]
    score: float
    max_score: float


class SubmissionError(Exception):
    """The submission cannot be graded at all; the message names the problem."""


@dataclass(frozen=True)
class Limits:
    """Resource limits (only ``cell_timeout`` is enforced here)."""

    cell_timeout: float = 30.0
    memory_mb: int = 1024
    processes: int = 64
    output_bytes: int = 1_000_000


def _nbgrader(cell: Any) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _read_submission(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubmissionError(f"{path.name} cannot be read: {exc}") from exc
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{path.name} is not valid notebook JSON ({exc})") from exc
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for a non-notebook
        raise SubmissionError(f"{path.name} is not a Jupyter notebook ({exc})") from exc


def grade_notebook(
    source_notebook: Path,
    submitted_notebook: Path,
    *,
    student: str,
    sandbox: bool = True,
    limits: Limits = Limits(),  # noqa: B008
) -> NotebookResult:
    """Grade one submission against the instructor's source notebook (no sandbox)."""
    from nbclient import NotebookClient

    source = nbformat.read(source_notebook, as_version=4)
    submitted = _read_submission(submitted_notebook)
    answers: dict[str, str] = {}
    present: dict[str, str] = {}
    for cell in submitted.cells:
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        if isinstance(grade_id, str):
            present[grade_id] = cell.get("source", "")
            if meta.get("solution"):
                answers[grade_id] = cell.get("source", "")
    notes: list[str] = []
    run = nbformat.v4.new_notebook(metadata=source.metadata)
    tests: list[tuple[int, str, float]] = []
    for cell in source.cells:
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id", "")
        new = nbformat.from_dict(json.loads(json.dumps(cell)))
        if cell.cell_type == "code" and meta.get("solution"):
            new.source = answers.get(grade_id, STUB)
            if grade_id not in answers:
                notes.append(f"answer cell {grade_id} was missing from your notebook")
        elif cell.cell_type == "code" and meta.get("grade"):
            visible, _ = strip_hidden_tests(cell.source)
            if grade_id not in present:
                notes.append(f"cell {grade_id} was deleted; the original was restored")
            elif present[grade_id].strip() != visible.strip():
                notes.append(f"cell {grade_id} was edited; the original was restored")
            tests.append((len(run.cells), grade_id, float(meta.get("points", 0))))
        if new.cell_type == "code":
            new.outputs = []
            new.execution_count = None
        run.cells.append(new)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["NBGRADER_EXECUTION"] = "autograde"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    with tempfile.TemporaryDirectory(prefix="m14-grade-") as tmp:
        client = NotebookClient(
            run,
            timeout=limits.cell_timeout,
            kernel_name="python3",
            allow_errors=True,
            interrupt_on_timeout=True,
            resources={"metadata": {"path": tmp}},
        )
        client.execute(env=env, cwd=tmp, stderr=subprocess.DEVNULL)
    results = []
    for index, grade_id, points in tests:
        results.append(_score(run.cells[index], grade_id, points))
    return NotebookResult(
        assignment=source_notebook.parent.name,
        notebook=source_notebook.stem,
        student=student,
        tests=tuple(results),
        notes=tuple(notes),
        score=sum(t.points for t in results),
        max_score=sum(t.max_points for t in results),
    )


def _score(cell: Any, grade_id: str, points: float) -> TestResult:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name, value = output.get("ename", "Error"), output.get("evalue", "")
            status: Literal["failed", "error"] = "failed" if name == "AssertionError" else "error"
            text = f"{name}: {value}" if value else name
            return TestResult(grade_id, 0.0, points, status, text)
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = "the test wrote to stderr: " + output.get("text", "").strip()[:300]
            return TestResult(grade_id, 0.0, points, "failed", text)
    return TestResult(grade_id, points, points, "passed", "passed")
