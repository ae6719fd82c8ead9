"""Nothing a released notebook shows scores a point when pasted as the answer.

For every assignment in ``notebooks/``: release the student versions, collect every block
they show (fenced blocks in Markdown cells, whatever their language, and the source of every
code cell that is not an answer cell), paste each block into every answer cell of the
assignment, and grade the result with the engine. Blocks of *every* released notebook are
pasted into each assignment: notebook 01 shows the module's state diagram, which must earn
nothing in notebook 07. Each must score 0 points: an exercise whose answer is on the page
teaches nothing and grades nothing.

A block is pasted two ways: as Python code as it is (when it is Python), and as text, as the
string an answer cell assigns (``DIAGRAM = '''...'''``, for every name the released answer
cell assigns at its top level). A control submission (the solution) must score full marks in
the same batch, so a grader that failed everything would not pass this test.

Graded with ``sandbox=False`` (the engine's ``--no-sandbox``): what is under test is what the
notebook shows, not the sandbox (``tests/test_sandbox.py`` and the selfcheck's hostile
submissions test that); the pasted code is the course's own.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograders.assignments import nbgrader_metadata
from autograders.grading import Submission, grade_batch
from autograders.release import Course, discover_assignments, temp_course
from autograders.submissions import solution_notebook

pytestmark = pytest.mark.slow

ASSIGNMENTS = discover_assignments()

_FENCE = re.compile(
    r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S
)


def _is_python(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def shown_blocks(nb: Any, name: str = "") -> list[tuple[str, str, bool]]:
    """``(where, text, is_code)`` for every block the released notebook shows, deduplicated."""
    blocks: dict[str, tuple[str, str, bool]] = {}
    for index, cell in enumerate(nb.cells):
        where = f"{name} " * bool(name) + (
            nbgrader_metadata(cell).get("grade_id") or f"cell {index}"
        )
        if cell.cell_type == "markdown":
            for match in _FENCE.finditer(cell.source):
                language, text = match.group(2).lower(), match.group(3)
                code = language in ("python", "py", "") and _is_python(text)
                blocks.setdefault(text.strip(), (f"{where} ```{language}", text, code))
        elif cell.cell_type == "code" and not nbgrader_metadata(cell).get("solution"):
            blocks.setdefault(cell.source.strip(), (where, cell.source, True))
    return [b for text, b in blocks.items() if text]


def _assigned_names(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]


def pasted(nb: Any, text: str, *, as_code: bool) -> Any | None:
    """The released notebook with ``text`` in every answer cell (``None``: nowhere to put it)."""
    result = copy.deepcopy(nb)
    changed = False
    for cell in result.cells:
        if not nbgrader_metadata(cell).get("solution"):
            continue
        if as_code:
            cell.source = text
            changed = True
        elif names := _assigned_names(cell.source):
            cell.source = "\n".join(f"{name} = {text!r}" for name in dict.fromkeys(names))
            changed = True
    return result if changed else None


@pytest.fixture(scope="module")
def course() -> Any:
    with temp_course() as released:
        yield released


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def every_block(course: Course) -> list[tuple[str, str, bool]]:
    """The blocks of every released notebook, deduplicated across notebooks."""
    blocks: dict[str, tuple[str, str, bool]] = {}
    for name in course.assignments:
        for block in shown_blocks(_read(course.released(name) / f"{name}.ipynb"), name):
            blocks.setdefault(block[1].strip(), block)
    return list(blocks.values())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nothing_a_released_notebook_shows_scores_a_point(
    assignment: str, course: Course, every_block: list[tuple[str, str, bool]], tmp_path: Path
) -> None:
    blank = _read(course.released(assignment) / f"{assignment}.ipynb")
    source = course.source(assignment)
    candidates: dict[str, tuple[str, Any]] = {
        "control-solution": ("the solution", solution_notebook(_read(source), blank))
    }
    assert shown_blocks(blank), f"the released {assignment} shows nothing?"
    for number, (where, text, is_code) in enumerate(every_block):
        for as_code in (True, False) if is_code else (False,):
            nb = pasted(blank, text, as_code=as_code)
            if nb is not None:
                how = "as code" if as_code else "as text"
                candidates[f"block{number}-{'code' if as_code else 'text'}"] = (
                    f"{where} pasted {how}",
                    nb,
                )

    submissions = []
    for student, (_, nb) in candidates.items():
        path = tmp_path / student / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)  # type: ignore[no-untyped-call]
        submissions.append(Submission(student, assignment, assignment, path))
    report = grade_batch(submissions, {assignment: source}, sandbox=False, progress=False)
    assert report.failures == []
    scores = {g.submission.student: g.result for g in report.graded}

    control = scores.pop("control-solution")
    assert control.score == control.max_score > 0
    scored = {
        candidates[student][0]: [t.grade_id for t in result.tests if t.points > 0]
        for student, result in scores.items()
        if result.score > 0
    }
    assert scored == {}, f"shown in the released {assignment} and worth points when pasted"
