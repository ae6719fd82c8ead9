"""Feedback for students: never a line of a hidden test.

Two pieces live here:

* ``HideHiddenTests``, an nbgrader preprocessor used by ``nbgrader generate_feedback``
  (see ``autograders/nbgrader_config.py``). nbgrader's own feedback shows the hidden tests
  (issue #917): in the test cell's source, and in the traceback of a failing hidden test.
  It removes the hidden region from the source and cuts tracebacks of test cells holding
  hidden tests down to ``ErrorName: message``. It is built on first use (nbgrader and
  nbconvert are imported then), so the grader, which only renders pages, never loads them.
* :func:`render_feedback`, the HTML page ``python -m autograders grade`` writes for one
  graded notebook: a header with the total, the due date and any late penalty; one row per
  exercise, labelled by its title, with the points and the plain-words message; for a
  failure whose message tells a call-by-call story ("after ..., the call at ...: your ...;
  the reference ..."), that story drawn as a small static timeline, the student's breaker
  beside the reference, call by call (plain HTML, readable offline, no kernel); and the
  student's own code. Test cells are not shown at all, so no hidden test can leak.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [  # noqa: F822 - HideHiddenTests comes from __getattr__
    "HideHiddenTests",
    "PageInfo",
    "Timeline",
    "exercise_titles",
    "parse_timeline",
    "render_feedback",
    "render_ungradable",
    "strip_hidden_tests",
]

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


def _make_hide_hidden_tests() -> type:
    from nbconvert.exporters.exporter import ResourcesDict
    from nbformat.notebooknode import NotebookNode
    from nbgrader.preprocessors import NbGraderPreprocessor

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

    HideHiddenTests.__module__ = __name__
    return HideHiddenTests


_LAZY: dict[str, type] = {}


def __getattr__(name: str) -> type:
    """``HideHiddenTests`` is made on first use (it needs nbgrader and nbconvert)."""
    if name == "HideHiddenTests":
        if name not in _LAZY:
            _LAZY[name] = _make_hide_hidden_tests()
        return _LAZY[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
.header td, .header th { border: none; padding: .1rem .6rem .1rem 0; }
table.timeline { font-size: .9rem; margin: .6rem 0 .2rem; }
table.timeline td.same { color: #57606a; }
table.timeline tr.diverges td { background: #fff4e5; font-weight: 600; }
"""

_HEADING = re.compile(r"^#{1,2}\s+(.+?)\s*$", re.MULTILINE)
_POINTS = re.compile(r"\s*\(\s*\d+(?:\.\d+)?\s+points?\s*\)\s*$")


def exercise_titles(notebook: Mapping[str, Any]) -> dict[str, str]:
    """Test cell id -> the title of its exercise (the last ``#``/``##`` heading above it).

    ``"## Exercise 1 · The rolling window (2 points)"`` gives ``"Exercise 1 · The rolling
    window"``. A test cell with no heading above it keeps its id.
    """
    titles: dict[str, str] = {}
    current: str | None = None
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "markdown":
            headings = _HEADING.findall(text)
            if headings:
                current = _POINTS.sub("", headings[-1]).strip()
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("grade") and meta.get("grade_id"):
            titles[str(meta["grade_id"])] = current or str(meta["grade_id"])
    return titles


@dataclass(frozen=True)
class Timeline:
    """A failure's shortest diverging scenario, call by call.

    Attributes:
        setting: what the scenario starts from (e.g. the breaker's settings), or ``""``.
        calls: the calls both made the same decisions on, in order.
        last: the call where they part.
        yours: what the student's code did on ``last``.
        reference: what the reference did on ``last``.
    """

    setting: str
    calls: tuple[str, ...]
    last: str
    yours: str
    reference: str


_STORY = re.compile(
    r"^(?:(?P<setting>.*?):\s+)?after (?P<history>.+?), the (?P<last>(?:call|request|step)\b.*?)"
    r":\s+(?P<verdict>.*)$",
    re.DOTALL,
)
_VERDICT = re.compile(r"^(?P<yours>your\b.*?);\s*(?P<reference>the reference\b.*)$", re.DOTALL)


def parse_timeline(message: str) -> Timeline | None:
    """Read a call-by-call story out of a grader's message, if it tells one.

    The graders word their shortest diverging scenario as "With SETTINGS: after CALL, CALL,
    ..., the call at T (...): your breaker did X; the reference did Y" (see
    ``course_lib.checks.breaker.machine_problem``). When every item of the history names its
    time (``success at t=1s``, ``2 failures from t=3s``) or there is "no earlier calls", it
    becomes a
    :class:`Timeline`; any other message gives ``None`` (the page shows the message alone).
    """
    found = _STORY.match(message.strip())
    if not found:
        return None
    verdict = _VERDICT.match(found["verdict"].strip())
    if not verdict:
        return None
    history = found["history"].strip()
    if history == "no earlier calls":
        calls: tuple[str, ...] = ()
    else:
        calls = tuple(item.strip() for item in history.split(", "))
        if not all("t=" in item for item in calls):  # every call (or run of calls) has a time
            return None
    return Timeline(
        setting=re.sub(r"^[Ww]ith\s+", "", (found["setting"] or "").strip()),
        calls=calls,
        last=found["last"].strip(),
        yours=verdict["yours"].strip().rstrip("."),
        reference=verdict["reference"].strip().rstrip("."),
    )


def _timeline_html(timeline: Timeline) -> str:
    e = html.escape
    rows = [
        f'<tr><td>{i}</td><td>{e(call)}</td><td class="same">same decision</td>'
        '<td class="same">same decision</td></tr>'
        for i, call in enumerate(timeline.calls, start=1)
    ]
    rows.append(
        f'<tr class="diverges"><td>{len(timeline.calls) + 1}</td><td>{e(timeline.last)}</td>'
        f"<td>{e(timeline.yours)}</td><td>{e(timeline.reference)}</td></tr>"
    )
    setting = f"<div>{e(timeline.setting)}</div>" if timeline.setting else ""
    return (
        f'{setting}<table class="timeline"><tr><th>#</th><th>call</th><th>your code</th>'
        "<th>the reference</th></tr>" + "".join(rows) + "</table>"
    )


@dataclass(frozen=True)
class PageInfo:
    """What the page header says besides the score.

    Attributes:
        titles: test cell id -> exercise title.
        duedate: the due date (naive UTC), if the assignment has one.
        timestamp: when it was submitted (naive UTC), if known.
        penalty: the late penalty taken off (``None``: none).
        source_file: the file as it was collected (LMS downloads), if not the usual name.
    """

    titles: Mapping[str, str] | None = None
    duedate: dt.datetime | None = None
    timestamp: dt.datetime | None = None
    penalty: float | None = None
    source_file: str = ""


def _fmt(points: float) -> str:
    return f"{points:g}"


def _when(value: dt.datetime | None) -> str:
    return "none" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _page(title: str, body: str) -> str:
    e = html.escape
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1>{body}</body></html>\n"
    )


def _header(score: float, max_score: float, info: PageInfo) -> str:
    e = html.escape
    total = score - (info.penalty or 0.0)
    rows = [("Total", f"{_fmt(total)} / {_fmt(max_score)}")]
    if info.penalty:
        rows.append(("Late penalty", f"-{_fmt(info.penalty)} (score before it: {_fmt(score)})"))
    rows.append(("Due", _when(info.duedate)))
    if info.timestamp is not None:
        rows.append(("Submitted", _when(info.timestamp)))
    if info.source_file:
        rows.append(("File", info.source_file))
    cells = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    return (
        f"<p><strong>Score: {_fmt(score)} / {_fmt(max_score)}</strong></p>"
        f'<table class="header">{cells}</table>'
    )


def render_feedback(
    result: _ResultLike, answers: Iterable[tuple[str, str]], info: PageInfo | None = None
) -> str:
    """Render one graded notebook as a self-contained HTML page.

    Args:
        result: the engine's ``NotebookResult`` (scores, messages, notes).
        answers: ``(grade_id, source)`` of the student's own answer cells, as submitted.
        info: titles, due date, timestamp, late penalty (default: none known).

    Returns:
        The HTML text. It holds the student's code, the scores and the messages, and
        nothing from any test cell.
    """
    e = html.escape
    info = info or PageInfo()
    titles = info.titles or {}
    rows = []
    for test in result.tests:
        css = "passed" if test.status == "passed" else "notpassed"
        words = _STATUS_WORDS.get(test.status, test.status)
        story = parse_timeline(test.message) if test.status != "passed" else None
        drawn = _timeline_html(story) if story else ""
        rows.append(
            f"<tr><td>{e(titles.get(test.grade_id, test.grade_id))}</td>"
            f"<td>{_fmt(test.points)} / {_fmt(test.max_points)}</td>"
            f'<td class="{css}">{e(words)}</td><td>{e(test.message)}{drawn}</td></tr>'
        )
    notes = "".join(f"<li>{e(note)}</li>" for note in result.notes)
    code = "".join(
        f"<h3>{e(grade_id)}</h3><pre><code>{e(source)}</code></pre>" for grade_id, source in answers
    )
    title = f"{result.assignment} / {result.notebook}: feedback for {result.student}"
    return _page(
        title,
        _header(result.score, result.max_score, info)
        + "<table><tr><th>Exercise</th><th>Points</th><th>Result</th><th>What happened</th></tr>"
        + "".join(rows)
        + "</table>"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "<h2>Your code</h2>"
        + (code or "<p>No answer cells were found in your notebook.</p>"),
    )


def render_ungradable(
    assignment: str, notebook: str, student: str, reason: str, info: PageInfo | None = None
) -> str:
    """The page for a submission that could not be graded at all: the reason, in plain words."""
    e = html.escape
    info = info or PageInfo()
    extra = []
    if info.source_file:
        extra.append(f"<p>File: {e(info.source_file)}</p>")
    if info.duedate is not None:
        extra.append(f"<p>Due: {e(_when(info.duedate))}</p>")
    return _page(
        f"{assignment} / {notebook}: feedback for {student}",
        "<p><strong>Your notebook could not be graded, so it scores 0.</strong></p>"
        f"<p>Why: {e(reason)}</p>" + "".join(extra) + "<p>Open it in JupyterLab, check that it "
        "opens and saves, and ask your instructor to grade it again.</p>",
    )
