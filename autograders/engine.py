"""The hardened grading engine: verdicts the student's code cannot forge.

:func:`grade_notebook` grades one submitted notebook against the instructor's
nbgrader SOURCE notebook:

1. **Rebuild** the notebook from the source. Only the sources of answer cells
   (``solution: true``, matched by ``grade_id``) come from the submission; test
   cells, their points, locked cells and everything else come from the source.
   A missing answer cell is graded as the blank exercise (the released stub);
   extra, duplicated or reordered cells are ignored; edited or deleted test
   cells are restored. Each of these is reported in ``NotebookResult.notes``.
   A file that is not a notebook raises :class:`SubmissionError`.
2. **Run the student's code in a sandbox** (:mod:`autograders.sandbox`): the
   answer cells, and the source's other non-test code cells (setup: imports,
   constants) in notebook order. A non-answer cell is skipped when it only
   displays things: it imports plotly/ipywidgets/anywidget/IPython.display or a
   ``course_lib`` widget/plot module, or calls ``display(...)``, ``show(...)``
   or ``.show()``.
3. **Establish verdicts outside the student's process.** Each test cell's code
   runs HERE, in the trusted parent, with the pristine ``course_lib`` (checks
   included), in a fresh namespace where each top-level name defined by the
   answer cells or by the setup cells the sandbox ran (a locked skeleton class,
   say) is a proxy (:class:`autograders.remote.RemoteObject`) into the sandbox,
   or plain data. The student can only influence the data the proxies return, so a
   wrong implementation fails whatever else the submission does.
4. **Isolate exercises.** Each test cell gets ``Limits.cell_timeout`` seconds of
   student time, and ``Limits.grader_limit`` seconds of wall time in all (main
   thread only: checks slowed down by what the student's code returned). A
   timeout, a limit hit or a dead process fails that test cell with a plain
   message; the sandbox is then restarted (answer cells replayed) for the next
   test cell. An answer cell that itself never finishes (or kills the process)
   is skipped in every restart, which costs the exercises using it.
5. **One budget per submission.** Everything above (sandbox starts, replays,
   test cells, restarts) shares ``Limits.submission_seconds`` of wall time; the
   sandbox's own waits stop at that deadline and the parent's alarms are capped
   by it. Once it is spent the sandbox is killed with all its processes and the
   remaining test cells score 0 ("not graded: ... time budget"). Memory,
   processes and CPU are budgets of the whole sandbox too (its cgroup, see
   :mod:`autograders.cgroup`); which mechanism bounded it is in
   ``NotebookResult.log`` (for the instructor, not in the feedback).

The autograded notebook (rebuilt notebook, each test cell followed by outputs:
what the visible check printed, what the student's code printed, and an
``error`` output with the message when the cell lost points) is
``NotebookResult.autograded`` (an ``nbformat.NotebookNode``) — for feedback HTML
and formgrader views. It still holds the hidden tests: strip them (nbgrader's
``ClearHiddenTests``) before showing it to a student.

Statuses: ``passed``; ``failed`` (an AssertionError: a check said no);
``error`` (another exception, or the student's process ended itself / sent
garbage); ``timeout``; ``limit`` (memory, CPU, file size); ``missing`` (the
submission had none of the answer cells: nothing was graded for this test).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import io
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat

from autograders.assignments import nbgrader_metadata
from autograders.feedback import strip_hidden_tests
from autograders.remote import Session
from autograders.sandbox import Limits, Runtime, Sandbox, SandboxFailure, SandboxStartError

__all__ = [
    "STUB",
    "Limits",
    "NotebookResult",
    "SubmissionError",
    "TestResult",
    "blank_answer",
    "grade_notebook",
]

STUB = (
    'raise NotImplementedError("Not written yet: replace this line with your code '
    '(see the exercise above).")'
)
"""The course-wide code stub nbgrader puts in place of a solution."""

MAX_SUBMISSION_BYTES = 20 * 1024 * 1024
MAX_ANSWER_CHARS = 1_000_000
MAX_MESSAGE_CHARS = 4000

Status = Literal["passed", "failed", "error", "timeout", "limit", "missing"]

_DISPLAY_MODULES = re.compile(
    r"^(plotly|ipywidgets|anywidget|IPython\.display|matplotlib|course_lib\.(widgets|viz|plots|animation))"
)


_BUILTIN_NAMES = frozenset(vars(builtins))

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class TestResult:
    """The verdict on one test cell.

    Attributes:
        grade_id: the test cell's nbgrader grade_id.
        points: points earned.
        max_points: points available (from the source notebook).
        status: passed/failed/error/timeout/limit/missing.
        message: plain words for the student.
    """

    __test__ = False  # not a pytest test class

    grade_id: str
    points: float
    max_points: float
    status: Status
    message: str


@dataclass(frozen=True)
class NotebookResult:
    """The verdict on one submitted notebook.

    Attributes:
        assignment: the assignment name (the source notebook's folder).
        notebook: the notebook name (source file stem).
        student: the student id given to grade_notebook.
        tests: one TestResult per test cell, in notebook order.
        notes: submission-level remarks (restored cells, ignored cells...).
        score: total points earned.
        max_score: total points available.
        autograded: the rebuilt notebook with results under each test cell.
        log: the engine's own notes for the instructor (never shown to the
            student): how the sandbox was bounded, restarts, the budget.
        peak_memory: the most memory one sandbox of this submission used at
            once, all its processes together, in bytes (from its cgroup; 0
            without one).
    """

    assignment: str
    notebook: str
    student: str
    tests: tuple[TestResult, ...]
    notes: tuple[str, ...]
    score: float
    max_score: float
    autograded: Any = field(default=None, compare=False, repr=False)
    log: tuple[str, ...] = field(default=(), compare=False)
    peak_memory: int = field(default=0, compare=False)


class SubmissionError(Exception):
    """The submission cannot be graded at all; the message names the problem."""


@dataclass
class _Cell:
    index: int  # position in the source notebook
    kind: Literal["answer", "test", "setup", "other"]
    grade_id: str
    source: str  # what runs (answer: the student's; others: the source's)
    points: float = 0.0


def _text(source: Any) -> str | None:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def _unedited_test_cell(submitted: str, source: str) -> bool:
    """Whether a submitted test cell is the source's, or its student version.

    The student version is the source cell with its hidden tests removed (nbgrader's
    ClearHiddenTests), so an honest submission differs from the source there; line-end
    white space and blank lines at the ends do not count as edits either.
    """

    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    released, _ = strip_hidden_tests(source)
    return norm(submitted) in (norm(source), norm(released))


def blank_answer(source: str, stub: str = STUB) -> str:
    """The released (blank) version of an answer cell: each solution region becomes the stub.

    Mirrors nbgrader's ``ClearSolutions``: the lines from ``### BEGIN SOLUTION``
    to ``### END SOLUTION`` are replaced by the stub, indented like the marker.
    A cell without markers becomes the stub alone.
    """
    lines = source.splitlines()
    out: list[str] = []
    inside = False
    found = False
    for line in lines:
        if "### BEGIN SOLUTION" in line:
            inside = found = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + stub)
        elif "### END SOLUTION" in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out) if found else stub


def _only_displays(source: str) -> bool:
    """Whether a non-answer cell only shows widgets/plots (skipped in the sandbox)."""
    try:
        tree = ast.parse(
            "\n".join(
                "pass" if line.lstrip().startswith(("%", "!")) else line
                for line in source.splitlines()
            )
        )
    except SyntaxError:
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(_DISPLAY_MODULES.match(a.name) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and _DISPLAY_MODULES.match(node.module):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("display", "show"):
                return True
            if isinstance(func, ast.Attribute) and func.attr == "show":
                return True
    return False


def _defined_names(source: str) -> list[str]:
    """Top-level names a cell defines (def, class, assignment), minus builtins' names."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    # A student's ``len = ...`` or ``AssertionError = ...`` must not reach the
    # test cell's namespace, where it would change what the test's own code does.
    return [n for n in dict.fromkeys(names) if not n.startswith("_") and n not in _BUILTIN_NAMES]


def _read_submission(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SubmissionError(f"the submitted notebook {path.name} does not exist") from None
    except OSError as exc:
        raise SubmissionError(f"the submitted notebook {path.name} cannot be read: {exc}") from None
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(
            f"{path.name} is {len(data)} bytes; a notebook may be at most {MAX_SUBMISSION_BYTES}"
        )
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SubmissionError(f"{path.name} is not valid notebook JSON ({exc})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SubmissionError(f"{path.name} is not a Jupyter notebook (no list of cells)")
    if notebook.get("nbformat") != 4:
        raise SubmissionError(
            f"{path.name} is notebook format {notebook.get('nbformat')!r}; version 4 is required"
        )
    return notebook


def _plan(
    source_nb: Any, submission: dict[str, Any], source_path: Path, submitted_path: Path
) -> tuple[list[_Cell], list[str], int]:
    """Rebuild the cells to run from the source and the submission; collect notes."""
    notes: list[str] = []
    if submitted_path.name != source_path.name:
        notes.append(
            f"the notebook was submitted as {submitted_path.name}; "
            f"it was graded as {source_path.name}"
        )
    raw_meta = submission.get("metadata")
    kernel: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    raw_spec = kernel.get("kernelspec")
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    expected_kernel = source_nb.metadata.get("kernelspec", {}).get("name", "python3")
    if spec.get("name") not in (None, expected_kernel):
        notes.append(
            f"the notebook's kernel is {str(spec.get('name'))[:40]!r}; "
            f"it was graded with {expected_kernel!r}"
        )

    submitted: dict[str, str] = {}
    order: list[str] = []
    extra = 0
    plain_sources = {
        c.source
        for c in source_nb.cells
        if c.cell_type == "code" and "grade_id" not in nbgrader_metadata(c)
    }
    for cell in submission["cells"]:
        if not isinstance(cell, dict):
            extra += 1
            continue
        grade_id = nbgrader_metadata(cell).get("grade_id")
        text = _text(cell.get("source"))
        if not isinstance(grade_id, str) or text is None:
            if cell.get("cell_type") == "code" and text not in plain_sources:
                extra += 1
            continue
        if grade_id in submitted:
            notes.append(f"cell {grade_id[:60]} appears more than once; the first one was used")
            continue
        submitted[grade_id] = text
        order.append(grade_id)

    cells: list[_Cell] = []
    answers = 0
    known: list[str] = []
    for index, cell in enumerate(source_nb.cells):
        meta = nbgrader_metadata(cell)
        grade_id = str(meta.get("grade_id", f"cell-{index}"))
        if "grade_id" in meta:
            known.append(grade_id)
        if cell.cell_type != "code":
            if "grade_id" in meta and grade_id in submitted and submitted[grade_id] != cell.source:
                notes.append(f"cell {grade_id} was edited; the original was restored")
            continue
        if meta.get("solution"):
            answers += 1
            if grade_id in submitted:
                text = submitted[grade_id]
                if len(text) > MAX_ANSWER_CHARS:
                    notes.append(f"answer cell {grade_id} is too long; it was graded as blank")
                    text = blank_answer(cell.source)
            else:
                notes.append(
                    f"answer cell {grade_id} is missing; the blank exercise was graded in its place"
                )
                text = blank_answer(cell.source)
            cells.append(_Cell(index, "answer", grade_id, text))
        elif meta.get("grade"):
            if grade_id not in submitted:
                notes.append(f"test cell {grade_id} was deleted; the original was restored")
            elif not _unedited_test_cell(submitted[grade_id], cell.source):
                notes.append(f"test cell {grade_id} was edited; the original was restored")
            cells.append(_Cell(index, "test", grade_id, cell.source, float(meta.get("points", 0))))
        else:
            if "grade_id" in meta and grade_id in submitted and submitted[grade_id] != cell.source:
                notes.append(f"cell {grade_id} was edited; the original was restored")
            kind: Literal["setup", "other"] = "other" if _only_displays(cell.source) else "setup"
            cells.append(_Cell(index, kind, grade_id, cell.source))

    unknown = [g for g in order if g not in known]
    if unknown or extra:
        notes.append(
            f"{len(unknown) + extra} cell(s) not in the assignment were ignored "
            "(only the answer cells are graded)"
        )
    in_both = [g for g in order if g in known]
    if in_both != [g for g in known if g in submitted]:
        notes.append("cells were reordered; the assignment's order was used")
    present = sum(1 for c in cells if c.kind == "answer" and c.grade_id in submitted)
    return cells, notes, present if answers else -1


def _new_output(output_type: str, **fields: Any) -> Any:
    return nbformat.v4.new_output(output_type, **fields)  # type: ignore[no-untyped-call]


class _GraderTimeout(BaseException):
    """The trusted checks ran too long (e.g. on a huge number the student's code returned)."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise _GraderTimeout after ``seconds`` of wall time (main thread only; else no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise _GraderTimeout()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Grader:
    """Runs the plan: a sandbox with the student's cells, test cells in the parent.

    Everything it does for one submission (sandbox starts, replays, test cells,
    restarts) shares ONE wall-clock budget, ``Limits.submission_seconds``: every
    sandbox gets its deadline, every wait in the parent (the checks, a replay)
    runs under an alarm capped by what is left. Once it is spent, the sandbox is
    killed and the remaining test cells are not run.
    """

    def __init__(self, cells: list[_Cell], limits: Limits, runtime: Runtime, isolated: bool):
        self.cells = cells
        self.limits = limits
        self.runtime = runtime
        self.isolated = isolated
        self.deadline = time.monotonic() + limits.submission_seconds
        self.skipped: dict[str, str] = {}  # answer/setup cell -> why it is skipped
        self.errors: dict[str, str] = {}  # answer cell -> the exception it raised
        self.session: Session | None = None
        self.log: list[str] = []
        self.starts = 0
        self.peak_memory = 0
        self.names = list(
            dict.fromkeys(
                n for c in cells if c.kind in ("answer", "setup") for n in _defined_names(c.source)
            )
        )

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def budget_message(self) -> str:
        return f"used up the submission's time budget of {self.limits.submission_seconds:g} s"

    def _start(self) -> Sandbox:
        try:
            sandbox = Sandbox(
                self.runtime, self.limits, isolated=self.isolated, deadline=self.deadline
            )
        except SandboxStartError:
            if self.time_left() <= 0:
                raise SandboxFailure("timeout", self.budget_message()) from None
            raise
        self.starts += 1
        if self.starts == 1:
            self.log.append(f"sandbox bounded by: {sandbox.isolation}")
        return sandbox

    def session_for_tests(self) -> Session:
        """A live session with all answer/setup cells replayed (restarting as needed).

        Raises:
            SandboxFailure: the submission's time budget is spent.
        """
        while self.session is None or self.session.sandbox.dead:
            if self.session is not None:
                self._forget(self.session.sandbox)
                self.session = None
            if self.time_left() <= 0:
                raise SandboxFailure("timeout", self.budget_message())
            sandbox = self._start()
            session = Session(sandbox)
            try:
                for cell in self.cells:
                    if cell.kind not in ("answer", "setup") or cell.grade_id in self.skipped:
                        continue
                    sandbox.budget = self.limits.cell_timeout
                    try:
                        # the sandbox's own waits stop first; this also bounds the parent
                        with _alarm(
                            min(self.limits.cell_timeout + 10, max(self.time_left(), 0.01))
                        ):
                            error = session.exec_cell(cell.grade_id, cell.source)
                    except _GraderTimeout:
                        sandbox.kill()
                        raise SandboxFailure(
                            "timeout", f"ran for more than {self.limits.cell_timeout:g} s"
                        ) from None
                    if error is not None and cell.kind == "answer":
                        self.errors.setdefault(cell.grade_id, f"{type(error).__name__}: {error}")
                sandbox.take_output()
            except SandboxFailure as failure:
                sandbox.kill()
                self._forget(sandbox)
                if self.time_left() <= 0:
                    raise SandboxFailure("timeout", self.budget_message()) from None
                self.skipped[cell.grade_id] = failure.reason
                self.log.append(f"cell {cell.grade_id} skipped in replays: {failure.reason}")
                continue
            self.session = session
        return self.session

    def _forget(self, sandbox: Sandbox) -> None:
        sandbox.kill()
        self.peak_memory = max(self.peak_memory, sandbox.peak_memory)

    def not_run(self, cell: _Cell) -> TestResult:
        """The verdict on a test cell that was not run: the budget was spent before it."""
        return TestResult(
            cell.grade_id,
            0.0,
            cell.points,
            "timeout",
            f"not graded: your code {self.budget_message()} before this exercise "
            "(see the exercises above)",
        )

    def run_test(self, number: int, cell: _Cell) -> tuple[TestResult, list[Any]]:
        where = f"in exercise {number} ({cell.grade_id})"
        stdout = io.StringIO()
        if self.time_left() <= 0:
            return self.not_run(cell), []
        try:
            session = self.session_for_tests()
        except SandboxFailure:
            return self.not_run(cell), []
        session.sandbox.budget = self.limits.cell_timeout
        namespace: dict[str, Any] = {"__name__": "__main__"}
        status: Status = "passed"
        message = ""
        grader_limit = min(self.limits.grader_limit, max(self.time_left(), 0.01))
        try:
            with _alarm(grader_limit):
                for name in self.names:
                    with contextlib.suppress(NameError):
                        namespace[name] = session.lookup(name)
                with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stdout):
                    exec(compile(cell.source, f"<test cell {cell.grade_id}>", "exec"), namespace)
        except _GraderTimeout:
            session.sandbox.kill()
            status = "timeout"
            if self.time_left() <= 0:
                message = f"your code {self.budget_message()} {where} and was stopped"
            else:
                message = (
                    f"checking your code's answers took more than {grader_limit:g} s {where} "
                    "and was stopped (are the numbers or sizes your code returns reasonable?)"
                )
        except SandboxFailure as failure:
            status = "timeout" if failure.kind == "timeout" else failure.kind  # type: ignore[assignment]
            stopped = " and was stopped" if failure.kind in ("timeout", "limit") else ""
            message = f"your code {failure.reason} {where}{stopped}"
            self.log.append(f"{cell.grade_id}: sandbox ended: {failure.reason}")
        except AssertionError as exc:
            status = "failed"
            message = str(exc).strip() or f"a check failed {where}"
        except Exception as exc:
            status = "error"
            message = f"{type(exc).__name__}: {exc}".strip()
        student_output = session.sandbox.take_output() if not session.sandbox.dead else ""
        if status == "passed":
            message = stdout.getvalue().strip() or "passed"
        if len(message) > MAX_MESSAGE_CHARS:  # it may quote data the student's code returned
            message = message[:MAX_MESSAGE_CHARS] + " [...]"
        visible = stdout.getvalue()[: self.limits.output_bytes]
        result = TestResult(
            cell.grade_id, cell.points if status == "passed" else 0.0, cell.points, status, message
        )
        outputs: list[Any] = []
        if visible:
            outputs.append(_new_output("stream", name="stdout", text=visible))
        if student_output:
            outputs.append(_new_output("stream", name="stdout", text=student_output))
        if status != "passed":
            outputs.append(_new_output("error", ename=status, evalue=message, traceback=[message]))
        return result, outputs

    def close(self) -> None:
        if self.session is not None:
            self._forget(self.session.sandbox)
        if self.peak_memory:
            self.log.append(f"peak memory of one sandbox: {self.peak_memory / 2**20:.0f} MiB")
        if self.time_left() <= 0:
            self.log.append(self.budget_message().replace("used up", "grading used up"))


def grade_notebook(
    source_notebook: Path,
    submitted_notebook: Path,
    *,
    student: str,
    sandbox: bool = True,
    limits: Limits = Limits(),  # noqa: B008 - frozen dataclass
    runtime: Runtime | None = None,
) -> NotebookResult:
    """Grade one submitted notebook against the instructor's source notebook.

    Args:
        source_notebook: the nbgrader source notebook (solutions and hidden
            tests), e.g. ``notebooks/01-circuit-breaker/01-circuit-breaker.ipynb``.
        submitted_notebook: the student's notebook file.
        student: the student id (recorded in the result).
        sandbox: run student code under bubblewrap with limits (``False``: a
            plain child process, only for benchmarks).
        limits: resource limits per sandbox / per test cell.
        runtime: a :class:`~autograders.sandbox.Runtime` shared by a batch
            (built and removed here if not given).

    Returns:
        The verdicts; ``result.autograded`` holds the autograded notebook.

    Raises:
        SubmissionError: unknown assignment (no source notebook), or the
            submission is not a readable version-4 notebook.
        autograders.sandbox.SandboxStartError: the sandbox cannot run here
            (bwrap missing or refused): a problem of the grading machine,
            never blamed on the student.
    """
    source_notebook = Path(source_notebook)
    submitted_notebook = Path(submitted_notebook)
    if not source_notebook.is_file():
        raise SubmissionError(
            f"unknown assignment: there is no source notebook {source_notebook.name} "
            f"for {source_notebook.parent.name}"
        )
    source_nb: Any = nbformat.read(source_notebook, as_version=4)  # type: ignore[no-untyped-call]
    submission = _read_submission(submitted_notebook)
    cells, notes, present = _plan(source_nb, submission, source_notebook, submitted_notebook)

    own_runtime = runtime is None
    active = runtime or Runtime()
    grader = _Grader(cells, limits, active, sandbox)
    results: list[TestResult] = []
    outputs: dict[int, list[Any]] = {}
    try:
        tests = [c for c in cells if c.kind == "test"]
        for number, cell in enumerate(tests, start=1):
            if present == 0:
                results.append(
                    TestResult(
                        cell.grade_id,
                        0.0,
                        cell.points,
                        "missing",
                        "the submission has none of the answer cells, so there was nothing to test",
                    )
                )
                continue
            result, cell_outputs = grader.run_test(number, cell)
            results.append(result)
            outputs[cell.index] = cell_outputs
    finally:
        grader.close()
        if own_runtime:
            active.close()

    for line in grader.log:
        _LOG.info("%s/%s: %s", student, source_notebook.stem, line)
    for grade_id, reason in grader.skipped.items():
        notes.append(
            f"your code {reason} in cell {grade_id} and was stopped; "
            "the exercises that use it were graded without it"
        )
    for grade_id, error in grader.errors.items():
        notes.append(f"answer cell {grade_id} raised {error[:300]}")

    autograded = copy.deepcopy(source_nb)
    by_index = {c.index: c for c in cells}
    for index, nb_cell in enumerate(autograded.cells):
        if nb_cell.cell_type == "code":
            nb_cell.outputs = outputs.get(index, [])
            nb_cell.execution_count = None
            plan = by_index.get(index)
            if plan is not None and plan.kind == "answer":
                nb_cell.source = plan.source
    return NotebookResult(
        assignment=source_notebook.parent.name,
        notebook=source_notebook.stem,
        student=student,
        tests=tuple(results),
        notes=tuple(notes),
        score=sum(r.points for r in results),
        max_score=sum(r.max_points for r in results),
        autograded=autograded,
        log=tuple(grader.log),
        peak_memory=grader.peak_memory,
    )
