"""The grading engine: the proxy protocol, verdicts, rebuilt notebooks, isolation.

Graded against the engine's own fixture assignment
(``tests/fixtures/engine/50-engine-fixture``: a failure-rate function, a tiny
breaker class, and ``call(fn, fallback)`` taking functions from the test).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import require_program

from autograders import rpc
from autograders.engine import (
    STUB,
    Limits,
    NotebookResult,
    SubmissionError,
    blank_answer,
    grade_notebook,
)
from autograders.remote import Session, StudentCodeError, exception_from_info
from autograders.sandbox import Runtime, Sandbox, SandboxFailure
from course_lib.errors import CircuitOpenError, RetryError

SOURCE = (
    Path(__file__).resolve().parent
    / "fixtures" / "engine" / "50-engine-fixture" / "50-engine-fixture.ipynb"
)  # fmt: skip


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    with Runtime() as made:
        yield made


def _source() -> Any:
    return nbformat.read(SOURCE, as_version=4)


def _cell(nb: Any, grade_id: str) -> Any:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def _student(
    tmp_path: Path,
    replace: dict[str, str] | None = None,
    edit: Callable[[Any], None] | None = None,
    name: str = "50-engine-fixture.ipynb",
) -> Path:
    """A submission: the source with answers replaced / cells edited."""
    nb = copy.deepcopy(_source())
    for grade_id, text in (replace or {}).items():
        _cell(nb, grade_id).source = text
    if edit is not None:
        edit(nb)
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def _grade(path: Path, runtime: Runtime, **limits: Any) -> NotebookResult:
    return grade_notebook(SOURCE, path, student="s1", runtime=runtime, limits=Limits(**limits))


def _scores(result: NotebookResult) -> dict[str, tuple[str, float]]:
    return {t.grade_id: (t.status, t.points) for t in result.tests}


BREAKER_GT = """
class Breaker:
    def __init__(self, threshold):
        self.threshold = threshold
        self.outcomes = []
        self.state = "CLOSED"

    def record(self, success):
        self.outcomes = (self.outcomes + [success])[-WINDOW:]
        if len(self.outcomes) == WINDOW and failure_rate(self.outcomes) > self.threshold:
            self.state = "OPEN"

    def call(self, fn, fallback=None):
        if self.state == "OPEN":
            if fallback is not None:
                return fallback()
            raise CircuitOpenError("open")
        try:
            result = fn()
        except Exception:
            self.record(False)
            raise
        self.record(True)
        return result
"""


# -- the wire protocol ----------------------------------------------------------


def test_values_round_trip() -> None:
    value = [None, True, 3, 2.5, "s", (1, [2]), {"a": {"b": (None,)}}, float("inf")]
    encoded = rpc.encode(value, lambda v: pytest.fail(f"{v!r} is plain data"))
    body = json.dumps(encoded, allow_nan=False)
    assert rpc.decode(json.loads(body), lambda t, n: pytest.fail("no refs")) == value


def test_non_plain_values_become_references() -> None:
    refs: list[Any] = []

    def to_ref(v: Any) -> dict[str, Any]:
        refs.append(v)
        return {"$h": len(refs) - 1}

    assert rpc.encode({1: "int key"}, to_ref) == {"$h": 0}
    assert rpc.encode([object()], to_ref) == [{"$h": 1}]


@pytest.mark.parametrize(
    "garbage",
    [
        {"$x": 1},
        {"$h": -1},
        {"$h": "1"},
        {"a": 1, "b": 2},
        {"$f": "zero"},
        {"$t": "not a list"},
    ],
)
def test_malformed_values_are_refused(garbage: Any) -> None:
    with pytest.raises(rpc.ProtocolError):
        rpc.decode(garbage, lambda t, n: (t, n) if t == "$h" and n >= 0 else None)


def test_too_deep_or_too_big_values_are_refused() -> None:
    deep: Any = []
    for _ in range(rpc.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(rpc.ProtocolError, match="deeper"):
        rpc.decode(deep, lambda t, n: None)
    with pytest.raises(rpc.ProtocolError, match="items"):
        rpc.decode([[0] * 1000] * (rpc.MAX_ITEMS // 1000 + 2), lambda t, n: None)
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(rpc.ProtocolError, match="deeper"):
        rpc.encode(looped, lambda v: {"$h": 0})


def test_frames_must_be_json_objects() -> None:
    for body in (b"[1, 2]", b"\xff\xfe", b"{", b'{"x": NaN}'):
        with pytest.raises(rpc.ProtocolError):
            rpc.unpack_message(body)


def test_exceptions_map_to_the_nearest_known_class() -> None:
    class Mine(ValueError):
        pass

    exc = exception_from_info(rpc.exception_info(Mine("bad threshold")))
    assert type(exc) is ValueError and str(exc) == "bad threshold"
    info = rpc.exception_info(RetryError("gave up", attempts=3, last_error=None))
    exc = exception_from_info(info)
    assert type(exc) is RetryError and exc.attempts == 3
    exc = exception_from_info(rpc.exception_info(SystemExit(0)))
    assert isinstance(exc, StudentCodeError) and exc.type_name == "builtins.SystemExit"
    assert isinstance(exception_from_info("garbage"), StudentCodeError)
    assert isinstance(exception_from_info({"mro": ["os.system"], "message": 1}), StudentCodeError)


# -- the proxy session -----------------------------------------------------------


def test_proxies_call_methods_and_pass_callbacks(runtime: Runtime) -> None:
    session = Session(Sandbox(runtime, Limits()))
    code = (
        "from course_lib.errors import CircuitOpenError\n"
        "class Box:\n"
        "    def __init__(self):\n"
        "        self.items = []\n"
        "    def add(self, x):\n"
        "        self.items.append(x)\n"
        "        return len(self.items)\n"
        "    def twice(self, fn, *args):\n"
        "        return [fn(*args), fn(*args)]\n"
        "    def refuse(self):\n"
        "        raise CircuitOpenError('no')\n"
        "    def __len__(self):\n"
        "        return len(self.items)\n"
        "def fill(values):\n"
        "    values.append('added by student')\n"
    )
    assert session.exec_cell("c", code) is None
    box = session.lookup("Box")()
    assert box.add("a") == 1 and box.items == ["a"]
    seen: list[int] = []
    assert box.twice(lambda n: seen.append(n) or n * 2, 5) == [10, 10]
    assert seen == [5, 5]
    with pytest.raises(CircuitOpenError, match="no"):
        box.refuse()
    with pytest.raises(AttributeError):
        box.missing  # noqa: B018
    with pytest.raises(ConnectionError, match="down"):
        box.twice(lambda: (_ for _ in ()).throw(ConnectionError("down")))
    mine = ["mine"]
    session.lookup("fill")(mine)
    assert mine == ["mine", "added by student"], "in-place changes must reach the test's list"
    session.sandbox.kill()


def test_a_garbled_reply_fails_plainly(runtime: Runtime) -> None:
    session = Session(Sandbox(runtime, Limits()))
    code = (
        "import os\n"
        "def spoil():\n"
        "    for fd in sorted(int(n) for n in os.listdir('/proc/self/fd') if int(n) > 2):\n"
        "        try:\n"
        "            os.write(fd, b'\\x00\\x00\\x00\\x05garbage')\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 1\n"
    )
    assert session.exec_cell("c", code) is None
    with pytest.raises(SandboxFailure) as failure:
        session.lookup("spoil")()
    assert failure.value.kind == "error"
    assert "garbled" in failure.value.reason
    assert session.sandbox.dead


# -- grading whole notebooks -----------------------------------------------------


def test_the_solution_gets_full_marks(runtime: Runtime, tmp_path: Path) -> None:
    result = _grade(_student(tmp_path), runtime)
    assert (result.score, result.max_score) == (8.0, 8.0)
    assert [t.status for t in result.tests] == ["passed"] * 3
    assert result.notes == ()
    assert result.tests[0].message == "✓ failure_rate([True, False]) == 0.5"
    assert (result.assignment, result.notebook, result.student) == (
        "50-engine-fixture",
        "50-engine-fixture",
        "s1",
    )


def test_the_blank_gets_nothing(runtime: Runtime, tmp_path: Path) -> None:
    source = _source()
    blanks = {
        gid: blank_answer(_cell(source, gid).source) for gid in ("rate-answer", "breaker-answer")
    }
    result = _grade(_student(tmp_path, blanks), runtime)
    assert result.score == 0.0
    assert all(t.status == "error" for t in result.tests)
    assert result.tests[0].message.startswith("NotImplementedError: Not written yet")


def test_blank_answer_keeps_the_skeleton() -> None:
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    assert blank_answer(source) == f"def f(x):\n    {STUB}"
    assert blank_answer("x = 1") == STUB


def test_a_wrong_answer_fails_only_its_exercise(runtime: Runtime, tmp_path: Path) -> None:
    result = _grade(_student(tmp_path, {"breaker-answer": BREAKER_GT}), runtime)
    assert _scores(result) == {
        "rate-tests": ("passed", 2.0),
        "breaker-tests": ("failed", 0.0),
        "call-tests": ("passed", 3.0),
    }
    assert result.tests[1].message == (
        "after T, F, T, F at threshold 0.5 the breaker should be OPEN, not CLOSED"
    )


def test_edited_and_deleted_test_cells_are_restored(runtime: Runtime, tmp_path: Path) -> None:
    def edit(nb: Any) -> None:
        _cell(nb, "breaker-tests").source = 'print("✓ all good")'
        nb.cells.remove(_cell(nb, "call-tests"))

    wrong_twice = BREAKER_GT.replace("return fallback()", "return None")
    result = _grade(_student(tmp_path, {"breaker-answer": wrong_twice}, edit), runtime)
    assert _scores(result) == {
        "rate-tests": ("passed", 2.0),
        "breaker-tests": ("failed", 0.0),
        "call-tests": ("failed", 0.0),
    }
    assert "test cell breaker-tests was edited; the original was restored" in result.notes
    assert "test cell call-tests was deleted; the original was restored" in result.notes


def test_reordered_and_extra_cells(runtime: Runtime, tmp_path: Path) -> None:
    def edit(nb: Any) -> None:
        nb.cells.reverse()
        nb.cells.append(nbformat.v4.new_code_cell("failure_rate = lambda outcomes: 0.5"))

    result = _grade(_student(tmp_path, edit=edit), runtime)
    assert result.score == 8.0, "an extra cell must not run"
    assert "cells were reordered; the assignment's order was used" in result.notes
    assert any("1 cell(s) not in the assignment were ignored" in n for n in result.notes)


def test_missing_answer_cell_is_graded_blank(runtime: Runtime, tmp_path: Path) -> None:
    result = _grade(_student(tmp_path, edit=lambda nb: nb.cells.remove(_cell(nb, "rate-answer"))),
                    runtime)  # fmt: skip
    assert _scores(result)["rate-tests"] == ("error", 0.0)
    assert (
        "answer cell rate-answer is missing; the blank exercise was graded in its place"
        in result.notes
    )


def test_no_answer_cells_at_all_is_missing(runtime: Runtime, tmp_path: Path) -> None:
    def edit(nb: Any) -> None:
        nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("solution")]

    result = _grade(_student(tmp_path, edit=edit), runtime)
    assert {t.status for t in result.tests} == {"missing"}
    assert result.score == 0.0


def test_kernel_and_file_name_are_noted(runtime: Runtime, tmp_path: Path) -> None:
    def edit(nb: Any) -> None:
        nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}

    result = _grade(_student(tmp_path, edit=edit, name="my work (1).ipynb"), runtime)
    assert result.score == 8.0
    assert "the notebook's kernel is 'ir'; it was graded with 'python3'" in result.notes
    assert (
        "the notebook was submitted as my work (1).ipynb; it was graded as 50-engine-fixture.ipynb"
        in result.notes
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"cells": [', "is not valid notebook JSON"),
        (b"\xff\xfe", "is not valid notebook JSON"),
        (b'{"hello": 1}', "is not a Jupyter notebook"),
        (b'{"cells": [], "nbformat": 3}', "notebook format 3; version 4 is required"),
    ],
)
def test_unreadable_submissions_raise(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "50-engine-fixture.ipynb"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=problem):
        grade_notebook(SOURCE, path, student="s1")


def test_unknown_assignment_raises(tmp_path: Path) -> None:
    path = _student(tmp_path)
    with pytest.raises(SubmissionError, match="unknown assignment"):
        grade_notebook(tmp_path / "nope" / "nope.ipynb", path, student="s1")


def test_a_timeout_costs_only_its_exercise(runtime: Runtime, tmp_path: Path) -> None:
    looping = BREAKER_GT.replace(">", ">=").replace(
        "self.outcomes = (",
        "while self.threshold == 0.75:\n            pass\n        self.outcomes = (",
    )
    result = _grade(_student(tmp_path, {"breaker-answer": looping}), runtime, cell_timeout=2)
    assert _scores(result) == {
        "rate-tests": ("passed", 2.0),
        "breaker-tests": ("timeout", 0.0),
        "call-tests": ("passed", 3.0),
    }
    assert result.tests[1].message == (
        "your code ran for more than 2 s in exercise 2 (breaker-tests) and was stopped"
    )


def test_a_top_level_loop_costs_the_exercises_using_that_cell(
    runtime: Runtime, tmp_path: Path
) -> None:
    result = _grade(
        _student(tmp_path, {"breaker-answer": "while True:\n    pass"}), runtime, cell_timeout=2
    )
    assert _scores(result)["rate-tests"] == ("passed", 2.0)
    assert result.score == 2.0
    assert (
        "your code ran for more than 2 s in cell breaker-answer and was stopped; "
        "the exercises that use it were graded without it" in result.notes
    )


def test_the_autograded_notebook(runtime: Runtime, tmp_path: Path) -> None:
    result = _grade(_student(tmp_path, {"breaker-answer": BREAKER_GT}), runtime)
    nb = result.autograded
    nbformat.validate(nb)
    assert _cell(nb, "breaker-answer").source == BREAKER_GT
    passed = _cell(nb, "rate-tests").outputs
    assert [o.output_type for o in passed] == ["stream"]
    failed = _cell(nb, "breaker-tests").outputs
    assert failed[-1].output_type == "error"
    assert failed[-1].evalue == result.tests[1].message
    assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


def test_sandbox_false_grades_the_same(tmp_path: Path) -> None:
    result = grade_notebook(
        SOURCE, _student(tmp_path, {"breaker-answer": BREAKER_GT}), student="s1", sandbox=False
    )
    assert result.score == 5.0


def test_grading_writes_nothing_next_to_the_submission(runtime: Runtime, tmp_path: Path) -> None:
    path = _student(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    _grade(path, runtime)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_shadowed_builtins_do_not_reach_the_test_code(runtime: Runtime, tmp_path: Path) -> None:
    source = _cell(_source(), "rate-answer").source
    shadowing = source + "\n\nprint = range = AssertionError = ConnectionError = None\n"
    result = _grade(_student(tmp_path, {"rate-answer": shadowing}), runtime)
    assert result.score == 8.0
    wrong = "def failure_rate(outcomes):\n    return 0.5\n\nall = any = lambda *args: True\n"
    result = _grade(_student(tmp_path, {"rate-answer": wrong}), runtime)
    assert _scores(result)["rate-tests"] == ("failed", 0.0)


def test_checks_slowed_by_student_data_are_stopped(runtime: Runtime, tmp_path: Path) -> None:
    source = _source()
    _cell(source, "rate-tests").source = "for _ in range(failure_rate([True])):\n    pass"
    source_path = tmp_path / "source" / SOURCE.name
    source_path.parent.mkdir()
    nbformat.write(source, source_path)
    huge = "def failure_rate(outcomes):\n    return 10 ** 1000\n"
    submitted = _student(tmp_path, {"rate-answer": huge})
    result = grade_notebook(
        source_path, submitted, student="s1", runtime=runtime, limits=Limits(grader_seconds=1)
    )
    assert _scores(result)["rate-tests"] == ("timeout", 0.0)
    assert result.tests[0].message.startswith(
        "checking your code's answers took more than 1 s in exercise 1 (rate-tests)"
    )
    assert _scores(result)["call-tests"] == ("passed", 3.0), "the next exercises still run"


def test_long_messages_are_cut(runtime: Runtime, tmp_path: Path) -> None:
    source = _source()
    _cell(source, "rate-tests").source = "assert False, failure_rate([])"
    source_path = tmp_path / "source" / SOURCE.name
    source_path.parent.mkdir()
    nbformat.write(source, source_path)
    chatty = "def failure_rate(outcomes):\n    return 'x' * 1_000_000\n"
    result = grade_notebook(
        source_path, _student(tmp_path, {"rate-answer": chatty}), student="s1", runtime=runtime
    )
    assert result.tests[0].status == "failed"
    assert result.tests[0].message == "x" * 4000 + " [...]"


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="Limits.cell_timeout must be a positive number"):
        Limits(cell_timeout=0)
    with pytest.raises(ValueError, match="Limits.grader_seconds"):
        Limits(grader_seconds=-1)
    assert Limits(cell_timeout=10).grader_limit == 70


@pytest.mark.slow
def test_an_honest_submission_of_the_released_version_has_no_notes(
    runtime: Runtime, tmp_path: Path
) -> None:
    """The student version lacks the hidden tests: that is not an edit of the test cells."""
    from autograders.release import temp_course
    from autograders.submissions import solution_notebook

    assignment = SOURCE.parent.name
    with temp_course(SOURCE.parent.parent, [assignment]) as course:
        released = course.released(assignment) / SOURCE.name
        blank = nbformat.read(released, as_version=4)
        solved = solution_notebook(nbformat.read(SOURCE, as_version=4), blank)
    assert "HIDDEN TESTS" in SOURCE.read_text() and "HIDDEN TESTS" not in json.dumps(solved)
    path = tmp_path / SOURCE.name
    nbformat.write(solved, path)
    result = _grade(path, runtime)
    assert result.notes == ()
    assert result.score == result.max_score
