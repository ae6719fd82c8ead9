"""Feedback for students: never a line of a hidden test.

Two pieces live here:

* :class:`HideHiddenTests`, an nbgrader preprocessor used by ``nbgrader generate_feedback``
  (see ``autograders/nbgrader_config.py``). nbgrader's own feedback shows the hidden tests
  (issue #917): in the test cell's source, and in the traceback of a failing hidden test.
  It removes the hidden region from the source and cuts tracebacks of test cells holding
  hidden tests down to ``ErrorName: message``.
* :func:`render_feedback`, the HTML page ``python -m autograders grade`` writes for one
  graded notebook: each exercise's score and plain-words message, and the student's own
  code. Test cells are not shown at all, so no hidden test can leak through them.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Protocol

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

__all__ = ["HideHiddenTests", "render_feedback", "render_ungradable", "strip_hidden_tests"]

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"


def strip_hidden_tests(source: str) -> tuple[str, bool]:
    """Return ``source`` without its hidden-test regions, and whether it had any.

    Lines from a ``BEGIN HIDDEN TESTS`` marker to its ``END HIDDEN TESTS`` marker
    (both included) are removed. An unterminated region runs to the end of the cell.
    """
    kept: list[str] = []
    inside = found = False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = found = True
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept), found


class HideHiddenTests(NbGraderPreprocessor):  # type: ignore[misc]
    """nbgrader preprocessor: remove hidden tests from a notebook shown to a student."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Strip hidden regions from the source and hidden-test tracebacks from outputs."""
        if cell.cell_type != "code":
            return cell, resources
        cell.source, had_hidden = strip_hidden_tests(cell.source)
        if had_hidden:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [
                        f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                    ]
        return cell, resources


class _TestLike(Protocol):
    grade_id: str
    points: float
    max_points: float
    status: str
    message: str


class _ResultLike(Protocol):
    assignment: str
    notebook: str
    student: str
    score: float
    max_score: float

    @property
    def tests(self) -> Sequence[_TestLike]: ...

    @property
    def notes(self) -> Sequence[str]: ...


_STATUS_WORDS = {
    "passed": "passed",
    "failed": "did not pass",
    "error": "stopped with an error",
    "timeout": "ran out of time",
    "limit": "hit a resource limit",
    "missing": "could not be run",
}

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
.passed { color: #1a7f37; } .notpassed { color: #b42318; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; }
"""


def _fmt(points: float) -> str:
    return f"{points:g}"


def render_feedback(result: _ResultLike, answers: Iterable[tuple[str, str]]) -> str:
    """Render one graded notebook as a self-contained HTML page.

    Args:
        result: the engine's ``NotebookResult`` (scores, messages, notes).
        answers: ``(grade_id, source)`` of the student's own answer cells, as submitted.

    Returns:
        The HTML text. It holds the student's code, the scores and the messages, and
        nothing from any test cell.
    """
    e = html.escape
    rows = []
    for test in result.tests:
        css = "passed" if test.status == "passed" else "notpassed"
        words = _STATUS_WORDS.get(test.status, test.status)
        rows.append(
            f"<tr><td>{e(test.grade_id)}</td><td>{_fmt(test.points)} / {_fmt(test.max_points)}"
            f'</td><td class="{css}">{e(words)}</td><td>{e(test.message)}</td></tr>'
        )
    notes = "".join(f"<li>{e(note)}</li>" for note in result.notes)
    code = "".join(
        f"<h3>{e(grade_id)}</h3><pre><code>{e(source)}</code></pre>" for grade_id, source in answers
    )
    title = f"{result.assignment} / {result.notebook}: feedback for {result.student}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1>"
        f"<p><strong>Score: {_fmt(result.score)} / {_fmt(result.max_score)}</strong></p>"
        "<table><tr><th>Exercise</th><th>Points</th><th>Result</th><th>What happened</th></tr>"
        + "".join(rows)
        + "</table>"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "<h2>Your code</h2>"
        + (code or "<p>No answer cells were found in your notebook.</p>")
        + "</body></html>\n"
    )


def render_ungradable(assignment: str, notebook: str, student: str, reason: str) -> str:
    """The page for a submission that could not be graded at all: the reason, in plain words."""
    e = html.escape
    title = f"{assignment} / {notebook}: feedback for {student}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1><p><strong>Your notebook could not be graded, so it scores 0."
        f"</strong></p><p>Why: {e(reason)}</p><p>Open it in JupyterLab, check that it opens and "
        "saves, and ask your instructor to grade it again.</p></body></html>\n"
    )
