"""Nothing a released notebook shows scores a point when pasted as the answer.

For every assignment in ``notebooks/``: take the student versions (the session's release,
``released_course`` in ``tests/conftest.py``), collect every block they show (fenced blocks
in Markdown cells, whatever their language, and the source of every code cell that is not an
answer cell), paste each block into every answer cell of the assignment, and grade the
result with the engine. Blocks of *every* released notebook are
pasted into each assignment: notebook 01 shows the module's state diagram, which must earn
nothing in notebook 07. Each must score 0 points: an exercise whose answer is on the page
teaches nothing and grades nothing.

A block is pasted two ways: as Python code as it is (when it is Python), and as text, as the
string an answer cell assigns (``DIAGRAM = '''...'''``, for every name the solution's answer
cell sets to a string). Pastes that cannot earn anything are not graded (they grade as the
blank does, 0, which selfcheck shows): code that binds none of the names the answer cells
define (only answer cells run when a submission is graded), and text where no answer is a
string. A control submission (the solution) must score full marks in the same batch, so a
grader that failed everything would not pass this test.

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
from conftest import ReleasedCourse

from autograders.assignments import nbgrader_metadata
from autograders.grading import Submission, grade_batch
from autograders.release import discover_assignments
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


def text_answer_names(source: str) -> set[str]:
    """Names the solution's answer cell sets to a string: where pasted text could score."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant | ast.JoinedStr)
        and (not isinstance(node.value, ast.Constant) or isinstance(node.value.value, str))
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def defined_names(source: str) -> set[str] | None:
    """Every name ``source`` binds anywhere (defs, classes, assignments, imports, ...).

    ``None`` when that cannot be told from the text: a syntax error, or code that binds
    names indirectly (``globals()``, ``exec``, ``setattr``, ``__builtins__``).
    """
    if any(word in source for word in ("globals(", "exec(", "setattr(", "__builtins__")):
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def could_score(block: str, answer_names: set[str]) -> bool:
    """Could this block, pasted as code into every answer cell, earn anything?

    Only the answer cells of a submission run when it is graded, and the test cells use
    the names the answer cells define: a block that binds none of those names grades as
    the blank notebook does (0 points, which the selfcheck shows for every assignment).
    """
    names = defined_names(block)
    return names is None or bool(names & answer_names)


def pasted(
    nb: Any, text: str, *, as_code: bool, text_names: dict[str, set[str]] | None = None
) -> Any | None:
    """The released notebook with ``text`` in every answer cell (``None``: nowhere to put it).

    As code, ``text`` replaces each answer cell. As text, it becomes the value of each
    name that answer cell's solution sets to a string (``text_names``: grade_id -> names).
    """
    result = copy.deepcopy(nb)
    changed = False
    for cell in result.cells:
        meta = nbgrader_metadata(cell)
        if not meta.get("solution"):
            continue
        if as_code:
            cell.source = text
            changed = True
        elif names := sorted((text_names or {}).get(meta.get("grade_id", ""), set())):
            cell.source = "\n".join(f"{name} = {text!r}" for name in names)
            changed = True
    return result if changed else None


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]


def _released(course: ReleasedCourse, name: str) -> Any:
    """The student version of ``name`` (the session's release of every assignment)."""
    return _read(course.out / name / f"{name}.ipynb")


@pytest.fixture(scope="module")
def every_block(released_course: ReleasedCourse) -> list[tuple[str, str, bool]]:
    """The blocks of every released notebook, deduplicated across notebooks."""
    blocks: dict[str, tuple[str, str, bool]] = {}
    for assignment in released_course.assignments:
        for block in shown_blocks(_released(released_course, assignment.name), assignment.name):
            blocks.setdefault(block[1].strip(), block)
    return list(blocks.values())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nothing_a_released_notebook_shows_scores_a_point(
    assignment: str,
    released_course: ReleasedCourse,
    every_block: list[tuple[str, str, bool]],
    tmp_path: Path,
) -> None:
    blank = _released(released_course, assignment)
    source = {a.name: a.notebook for a in released_course.assignments}[assignment]
    candidates: dict[str, tuple[str, Any]] = {
        "control-solution": ("the solution", solution_notebook(_read(source), blank))
    }
    assert shown_blocks(blank), f"the released {assignment} shows nothing?"
    answer_names: set[str] = set()
    text_names: dict[str, set[str]] = {}
    for cell in _read(source).cells:
        meta = nbgrader_metadata(cell)
        if meta.get("solution") and cell.cell_type == "code":
            answer_names |= defined_names(cell.source) or set()
            text_names[meta["grade_id"]] = text_answer_names(cell.source)
    assert answer_names, f"{assignment}'s answer cells define nothing?"
    for number, (where, text, is_code) in enumerate(every_block):
        for as_code in (True, False) if is_code else (False,):
            if as_code and not could_score(text, answer_names):
                continue
            nb = pasted(blank, text, as_code=as_code, text_names=text_names)
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
