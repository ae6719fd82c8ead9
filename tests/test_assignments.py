"""One structure test for every assignment :func:`autograders.assignments.discover` finds.

A new assignment is checked here without editing a test: every answer cell is followed by
its test cell; grade_ids and points are right; every test cell has a visible check and a
hidden region that imports only from ``autograders.graders``; the committed notebook has no
outputs; its MyST text twin agrees with it; it has known submissions. The ``slow`` part reads
the student versions (one release of every assignment per session, shared with
``tests/test_release.py``): the course's stub in every answer cell, no solution, no hidden
test.

Each check is a function returning the problems it found, tried on a broken notebook too, so
a check that cannot fail is noticed.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import FIXTURES, STUB, ReleasedCourse

from autograders import cli
from autograders.assignments import Assignment, discover, nbgrader_metadata
from autograders.notebook_text import (
    SyncError,
    differences,
    notebook_from_text,
    read_notebook,
    sync,
    write_notebook,
)
from autograders.presenter import is_presenter_cell
from autograders.release import secret_lines
from autograders.submissions import load

ASSIGNMENTS = discover()
GRADE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
GRADERS = "autograders.graders"
FIXTURE_NOTEBOOKS = FIXTURES / "notebooks"


def each_assignment() -> list[Any]:
    return [pytest.param(a, id=a.name) for a in ASSIGNMENTS]


# --- the checks ----------------------------------------------------------------------------


def output_problems(nb: dict[str, Any]) -> list[str]:
    """Code cells with outputs or execution counts (a committed notebook has none)."""
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"cell {index} has outputs or an execution count")
    return problems


def order_problems(nb: dict[str, Any]) -> list[str]:
    """Every answer cell is followed by a test cell before the next answer cell."""
    problems: list[str] = []
    waiting: str | None = None  # the answer cell still without its test cell
    for cell in nb["cells"]:
        meta = nbgrader_metadata(cell)
        if meta.get("solution"):
            if waiting is not None:
                problems.append(f"answer cell {waiting} has no test cell after it")
            waiting = str(meta.get("grade_id"))
        elif meta.get("grade"):
            waiting = None
    if waiting is not None:
        problems.append(f"answer cell {waiting} has no test cell after it")
    return problems


def metadata_problems(nb: dict[str, Any]) -> list[str]:
    """grade_ids present, well-formed and unique; answer and test cells set up as nbgrader needs."""
    problems: list[str] = []
    seen: set[str] = set()
    answers = tests = 0
    for index, cell in enumerate(nb["cells"]):
        meta = nbgrader_metadata(cell)
        if not meta:
            continue
        gid = meta.get("grade_id")
        where = f"cell {index} ({gid})"
        if not isinstance(gid, str) or not GRADE_ID.match(gid):
            problems.append(f"{where}: grade_id must be lower-case words joined by dashes")
        elif gid in seen:
            problems.append(f"{where}: grade_id used twice")
        seen.add(str(gid))
        if meta.get("schema_version") != 3:
            problems.append(f"{where}: schema_version must be 3")
        if meta.get("solution") and meta.get("grade"):
            problems.append(f"{where}: a cell is an answer or a test, not both")
        if meta.get("solution"):
            answers += 1
            if cell["cell_type"] != "code" or meta.get("locked"):
                problems.append(f"{where}: an answer cell is an unlocked code cell")
            if meta.get("points"):
                problems.append(f"{where}: an answer cell has no points (its test cell has)")
        elif meta.get("grade"):
            tests += 1
            points = meta.get("points")
            if cell["cell_type"] != "code" or not meta.get("locked"):
                problems.append(f"{where}: a test cell is a locked code cell")
            if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
                problems.append(f"{where}: a test cell has a positive number of points")
        elif meta.get("points"):
            problems.append(f"{where}: only test cells have points")
    if not answers or not tests:
        problems.append(f"{answers} answer cell(s) and {tests} test cell(s); want at least one")
    return problems


def _imports_outside(code: str, allowed: str) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom):
            modules = ["." * node.level + (node.module or "")]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        bad += [m for m in modules if m != allowed and not m.startswith(allowed + ".")]
    return bad


def hidden_problems(nb: dict[str, Any]) -> list[str]:
    """Each test cell: a visible check, then one hidden region importing only from the graders.

    The visible part (what the student version keeps) may not import ``autograders``: the
    student's installation has ``course_lib`` only.
    """
    problems: list[str] = []
    for cell in nb["cells"]:
        meta = nbgrader_metadata(cell)
        if not meta.get("grade"):
            continue
        gid = meta.get("grade_id")
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = source.split("\n")
        begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN_HIDDEN]
        ends = [i for i, line in enumerate(lines) if line.strip() == END_HIDDEN]
        if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
            problems.append(f"{gid}: want one {BEGIN_HIDDEN} ... {END_HIDDEN} region")
            continue
        visible = "\n".join(lines[: begins[0]] + lines[ends[0] + 1 :])
        hidden = "\n".join(lines[begins[0] + 1 : ends[0]])
        try:
            visible_code = [n for n in ast.parse(visible).body if not isinstance(n, ast.Import)]
            hidden_tree = ast.parse(hidden)
        except SyntaxError as exc:
            problems.append(f"{gid}: not valid Python: {exc}")
            continue
        if not [n for n in visible_code if not isinstance(n, ast.ImportFrom)]:
            problems.append(f"{gid}: no visible check before the hidden region")
        if not hidden_tree.body:
            problems.append(f"{gid}: the hidden region is empty")
        shown = [m for m in _imports_outside(visible, "course_lib") if m.startswith("autograders")]
        if shown:
            problems.append(
                f"{gid}: the visible part imports {', '.join(shown)}, which a student does not "
                "have: import graders inside the hidden region"
            )
        outside = _imports_outside(hidden, GRADERS)
        if outside:
            problems.append(
                f"{gid}: the hidden region imports {', '.join(outside)}; "
                f"hidden graders live in {GRADERS}"
            )
    return problems


def student_version_problems(released: Path, source: Path) -> list[str]:
    """The stub in every answer cell; no solution, no hidden test; the same graded cells."""
    problems: list[str] = []
    text = released.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        if marker in text:
            problems.append(f"the student version holds {marker!r}")
    student = nbformat.read(released, as_version=4)
    sources = "\n".join(c.source for c in student.cells).split("\n")
    leaked = sorted(secret_lines(source) & {line.strip() for line in sources})
    if leaked:
        problems.append(f"the student version holds solution or hidden lines: {leaked}")
    theirs = [nbgrader_metadata(c).get("grade_id") for c in student.cells]
    ours = [
        nbgrader_metadata(c).get("grade_id")
        for c in nbformat.read(source, 4).cells
        if not is_presenter_cell(c)  # presenter notes never reach a student
    ]
    if theirs != ours:
        problems.append(f"the cells differ: {theirs} vs {ours}")
    for cell in student.cells:
        if nbgrader_metadata(cell).get("solution") and STUB not in cell.source:
            problems.append(f"{nbgrader_metadata(cell)['grade_id']}: no stub {STUB!r}")
    return problems


# --- every discovered assignment -----------------------------------------------------------


def test_the_course_stub_raises_a_helpful_error() -> None:
    with pytest.raises(NotImplementedError, match=r"^Not written yet: .*see the exercise above"):
        exec(STUB, {})  # noqa: S102 - the course's own nbgrader config


def test_the_course_has_assignments() -> None:
    assert ASSIGNMENTS, "discover() found no assignment in notebooks/"


@pytest.mark.parametrize("assignment", each_assignment())
def test_no_outputs(assignment: Assignment) -> None:
    nb = assignment.read()
    nbformat.validate(nbformat.from_dict(nb))
    assert output_problems(nb) == []


@pytest.mark.parametrize("assignment", each_assignment())
def test_every_answer_cell_is_followed_by_its_test_cell(assignment: Assignment) -> None:
    assert order_problems(assignment.read()) == []


@pytest.mark.parametrize("assignment", each_assignment())
def test_grade_ids_and_points(assignment: Assignment) -> None:
    assert metadata_problems(assignment.read()) == []
    assert assignment.max_score == sum(c.points for c in assignment.test_cells) > 0


@pytest.mark.parametrize("assignment", each_assignment())
def test_test_cells_have_a_visible_check_and_a_hidden_region(assignment: Assignment) -> None:
    assert hidden_problems(assignment.read()) == []


@pytest.mark.parametrize("assignment", each_assignment())
def test_text_twin_agrees(assignment: Assignment) -> None:
    assert differences(assignment.notebook, assignment.text) == [], (
        f"run: python -m autograders sync {assignment.name}"
    )


@pytest.mark.parametrize("assignment", each_assignment())
def test_known_submissions_exist(assignment: Assignment) -> None:
    found = sorted(assignment.submissions.glob("*.toml"))
    assert found, f"{assignment.submissions} holds no known submission (*.toml)"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", each_assignment())
def test_student_version(assignment: Assignment, released_course: ReleasedCourse) -> None:
    released = released_course.out / assignment.name / f"{assignment.name}.ipynb"
    assert student_version_problems(released, assignment.notebook) == []


# --- the checks catch what they should -----------------------------------------------------


def _fixture_nb() -> dict[str, Any]:
    path = FIXTURE_NOTEBOOKS / "99-fixture" / "99-fixture.ipynb"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _cell(nb: dict[str, Any], grade_id: str) -> dict[str, Any]:
    return next(c for c in nb["cells"] if nbgrader_metadata(c).get("grade_id") == grade_id)


def test_the_checks_pass_the_fixture() -> None:
    nb = _fixture_nb()
    for check in (output_problems, order_problems, metadata_problems, hidden_problems):
        assert check(nb) == [], check.__name__


def test_a_moved_test_cell_is_caught() -> None:
    nb = _fixture_nb()
    test = _cell(nb, "add-tests")
    nb["cells"].remove(test)
    nb["cells"].append(test)
    assert order_problems(nb) == ["answer cell add-answer has no test cell after it"]
    nb["cells"].remove(_cell(nb, "scale-tests"))
    nb["cells"].remove(test)
    assert order_problems(nb) == [
        "answer cell add-answer has no test cell after it",
        "answer cell scale-answer has no test cell after it",
    ]


def test_bad_metadata_is_caught() -> None:
    nb = _fixture_nb()
    _cell(nb, "scale-tests")["metadata"]["nbgrader"]["grade_id"] = "add-tests"
    _cell(nb, "add-answer")["metadata"]["nbgrader"]["locked"] = True
    meta = _cell(nb, "add-tests")["metadata"]["nbgrader"]
    meta["points"], meta["locked"] = 0, False
    assert metadata_problems(nb) == [
        "cell 2 (add-answer): an answer cell is an unlocked code cell",
        "cell 3 (add-tests): a test cell is a locked code cell",
        "cell 3 (add-tests): a test cell has a positive number of points",
        "cell 6 (add-tests): grade_id used twice",
    ]
    for c in nb["cells"]:
        c["metadata"].pop("nbgrader", None)
    assert metadata_problems(nb) == ["0 answer cell(s) and 0 test cell(s); want at least one"]


def test_hidden_region_rules_are_caught() -> None:
    nb = _fixture_nb()
    add = _cell(nb, "add-tests")
    add["source"] = "".join(add["source"]).replace(
        BEGIN_HIDDEN, BEGIN_HIDDEN + "\nfrom course_lib.checks.kit import anything\nimport os"
    )
    scale = _cell(nb, "scale-tests")
    scale["source"] = "".join(scale["source"]).split(BEGIN_HIDDEN)[0]
    assert hidden_problems(nb) == [
        "add-tests: the hidden region imports course_lib.checks.kit, os; "
        "hidden graders live in autograders.graders",
        f"scale-tests: want one {BEGIN_HIDDEN} ... {END_HIDDEN} region",
    ]
    add["source"] = f"{BEGIN_HIDDEN}\nfrom autograders.graders.x import g\ng()\n{END_HIDDEN}"
    assert hidden_problems(nb)[0] == "add-tests: no visible check before the hidden region"
    add["source"] = f"from autograders.graders.x import g\ng()\n{BEGIN_HIDDEN}\ng()\n{END_HIDDEN}"
    assert hidden_problems(nb)[0] == (
        "add-tests: the visible part imports autograders.graders.x, which a student does not "
        "have: import graders inside the hidden region"
    )


def test_outputs_are_caught() -> None:
    nb = copy.deepcopy(_fixture_nb())
    _cell(nb, "add-tests")["execution_count"] = 3
    assert output_problems(nb) == ["cell 3 has outputs or an execution count"]


# --- the text twin and `sync` --------------------------------------------------------------


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture notebook copied alone, without its text twin."""
    source = FIXTURE_NOTEBOOKS / "99-fixture" / "99-fixture.ipynb"
    notebook = tmp_path / "99-fixture" / "99-fixture.ipynb"
    notebook.parent.mkdir()
    notebook.write_bytes(source.read_bytes())
    return notebook, notebook.with_suffix(".md")


def test_sync_writes_the_missing_text_and_the_round_trip_is_exact(pair: tuple[Path, Path]) -> None:
    notebook, text = pair
    before = notebook.read_bytes()
    assert differences(notebook, text) == ["99-fixture.md is missing"]
    result = sync(notebook)
    assert result.wrote == text and result.problems == ("99-fixture.md is missing",)
    assert "grade_id: add-answer" in text.read_text(encoding="utf-8")
    assert differences(notebook, text) == []
    assert sync(notebook, to="ipynb").wrote is None  # in step: nothing written
    assert write_notebook(notebook_from_text(text.read_text(), read_notebook(notebook))) == (
        before.decode("utf-8")
    )


def test_an_edited_text_is_synced_into_the_notebook_keeping_ids(pair: tuple[Path, Path]) -> None:
    notebook, text = pair
    sync(notebook, to="text")
    ids = [c.id for c in read_notebook(notebook).cells]
    edited = text.read_text(encoding="utf-8").replace("points: 3", "points: 4")
    edited = edited.replace("## Exercise 2", "## Exercise 2 (now 4 points)")
    text.write_text(edited, encoding="utf-8")
    problems = differences(notebook, text)
    assert problems == [
        "cell 4: the source differs",
        "cell 6 (scale-tests): the nbgrader metadata differs: "
        + str(nbgrader_metadata(read_notebook(notebook).cells[6]))
        + " vs "
        + str({**nbgrader_metadata(read_notebook(notebook).cells[6]), "points": 4}),
    ]
    result = sync(notebook, to="ipynb")
    assert result.wrote == notebook
    nb = read_notebook(notebook)
    assert [c.id for c in nb.cells] == ids
    assert nbgrader_metadata(nb.cells[6])["points"] == 4
    assert nb.cells[4].source.startswith("## Exercise 2 (now 4 points)")
    assert (
        differences(notebook, text) == []
        and output_problems(json.loads(notebook.read_text())) == []
    )


def test_sync_auto_writes_from_the_file_modified_last(pair: tuple[Path, Path]) -> None:
    notebook, text = pair
    sync(notebook)
    text.write_text(text.read_text().replace("returning the sum", "returning a + b"))
    os.utime(notebook, (1, 1))  # the text is newer
    assert sync(notebook).wrote == notebook
    assert "returning a + b" in read_notebook(notebook).cells[1].source
    nb = read_notebook(notebook)
    nb.cells[1].source = "## Exercise 1\nWrite `add`."
    notebook.write_text(write_notebook(nb))
    os.utime(text, (1, 1))  # now the notebook is newer
    assert sync(notebook).wrote == text
    assert "Write `add`." in text.read_text()


def test_sync_errors_are_plain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SyncError, match="neither .*nope.ipynb nor .*nope.md exists"):
        sync(tmp_path / "nope.ipynb")
    (tmp_path / "bad.md").write_text("```{code-cell}\n---\nnot: [yaml\n---\nx = 1\n```\n")
    assert differences(tmp_path / "bad.ipynb", tmp_path / "bad.md") == ["bad.ipynb is missing"]
    assert cli.main(["--notebooks", str(FIXTURE_NOTEBOOKS), "sync", "nope"]) == 2
    assert "'nope' is neither an assignment (99-fixture) nor an existing" in capsys.readouterr().err


def test_sync_check_reports_and_exits_1(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    notebook, text = pair
    args = ["--notebooks", str(notebook.parent.parent), "sync", "--check"]
    assert cli.main(args) == 1
    out = capsys.readouterr()
    assert "99-fixture: OUT OF STEP\n  99-fixture.md is missing" in out.out
    assert not text.exists()
    assert cli.main(["--notebooks", str(notebook.parent.parent), "sync"]) == 0
    assert cli.main(args) == 0
    assert capsys.readouterr().out.endswith("99-fixture: in step\n")


# --- `new` ---------------------------------------------------------------------------------


def test_new_makes_an_assignment_that_passes_every_structure_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebooks, submissions = tmp_path / "notebooks", tmp_path / "submissions"
    notebooks.mkdir()
    args = ["--notebooks", str(notebooks), "new", "08-bulkhead", "--submissions", str(submissions)]
    assert cli.main(args) == 0
    assert "created " in capsys.readouterr().out
    (made,) = discover(notebooks)
    assert made.name == "08-bulkhead" and made.text.is_file()
    nb = made.read()
    for check in (output_problems, order_problems, metadata_problems, hidden_problems):
        assert check(nb) == [], check.__name__
    assert differences(made.notebook, made.text) == []
    assert [c.grade_id for c in made.graded_cells] == ["rate-answer", "rate-tests"]
    assert made.max_score == 2
    assert "# 08 · Bulkhead" in made.text.read_text(encoding="utf-8")
    (known,) = sorted((submissions / "08-bulkhead").glob("*.toml"))
    assert load(known).expect_failed == ("rate-tests",)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("8-bulkhead", "bad assignment name '8-bulkhead': want two digits"),
        ("08_Bulkhead", "bad assignment name '08_Bulkhead'"),
        ("08-", "bad assignment name '08-'"),
        ("99-fixture", "99-fixture already exists: pick another name"),
        ("99-other", "number 99 is taken by 99-fixture"),
    ],
)
def test_new_refuses_a_bad_or_taken_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    args = ["--notebooks", str(FIXTURE_NOTEBOOKS), "new", name, "--submissions", str(tmp_path)]
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in FIXTURE_NOTEBOOKS.iterdir()) == ["99-fixture"]
    assert list(tmp_path.iterdir()) == []


def test_sync_reports_outputs_and_to_ipynb_drops_them(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    notebook, text = pair
    sync(notebook)
    nb = read_notebook(notebook)
    nb.cells[3].execution_count = 1
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="✓ add\n")]
    notebook.write_text(write_notebook(nb))
    notebooks = str(notebook.parent.parent)
    assert cli.main(["--notebooks", notebooks, "sync", "--check"]) == 1
    assert "99-fixture: 99-fixture.ipynb has outputs in cells 3: clear them" in (
        capsys.readouterr().out
    )
    assert cli.main(["--notebooks", notebooks, "sync", "--to", "ipynb"]) == 0
    assert output_problems(json.loads(notebook.read_text())) == []
    assert differences(notebook, text) == []
