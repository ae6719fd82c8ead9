"""Grading that no submission can stall, fool or starve (issue #19).

* the protocol: every exchange is bounded (writes too), a reply must answer the
  request in progress; a forged or late frame ends the sandbox;
* plain values: a student object (a proxy) is never compared, tested or used as a
  number by the checks; a subclass of int crosses as a proxy;
* one budget per sandbox: memory and processes of the whole sandbox (its cgroup),
  children that ``setsid`` die with it; the documented fallback without cgroups;
* one time budget per submission, and a batch that delivers the others' grades.

Bounds are derived from the configured limits with generous margins (a busy
2-core machine): they separate "bounded" from "unbounded", not fast from slow.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import require_program

from autograders import cgroup
from autograders import sandbox as sandbox_module
from autograders.engine import Limits, blank_answer, grade_notebook
from autograders.grading import Graded, Submission, grade_all, grade_batch
from autograders.remote import PlainValueError, RemoteObject, Session
from autograders.sandbox import Runtime, Sandbox, SandboxFailure
from autograders.submissions import solution_notebook

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
A = "99-fixture"
SOURCE = FIXTURES / A / f"{A}.ipynb"

FIND_SERVER = (
    "import gc, json, os, sys, time\n"
    "server = next(o for o in gc.get_objects() if type(o).__name__ == '_Server')\n"
    "def forge(reply):\n"
    "    body = json.dumps(reply).encode()\n"
    "    os.write(server.resp_fd, len(body).to_bytes(4, 'big') + body)\n"
    "def current_id():\n"
    "    frame = sys._getframe()\n"
    "    while frame is not None:\n"
    "        message = frame.f_locals.get('message')\n"
    "        if isinstance(message, dict) and message.get('op') == 'exec':\n"
    "            return message.get('id')\n"
    "        frame = frame.f_back\n"
)
"""Student code that finds the sandbox's RPC server and can write frames of its own."""


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    with Runtime() as made:
        yield made


def _session(runtime: Runtime, **limits: Any) -> Session:
    return Session(Sandbox(runtime, Limits(**limits)))


def _pids_of_uid(uid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if int(text.split("Uid:")[1].split()[0]) == uid:
            found.append(int(status.parent.name))
    return found


def _wait_until(condition: Any, seconds: float = 10.0) -> bool:
    waiter = threading.Event()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        waiter.wait(0.1)
    return bool(condition())


# -- the protocol ----------------------------------------------------------------


def test_a_reply_to_no_request_ends_the_sandbox(runtime: Runtime) -> None:
    session = _session(runtime)
    code = FIND_SERVER + "forge({'return': None})\n"
    with pytest.raises(SandboxFailure) as failure:
        session.exec_cell("forger", code)
    assert failure.value.kind == "error"
    assert "never made" in failure.value.reason
    assert session.sandbox.dead


def test_a_forged_reply_with_the_right_id_is_caught_by_the_late_real_one(
    runtime: Runtime,
) -> None:
    """The student can read the id (same process); then the runner's own reply comes late."""
    session = _session(runtime)
    code = FIND_SERVER + "forge({'return': None, 're': current_id()})\nx = 1\n"
    assert session.exec_cell("forger", code) is None  # the forged 'done' is taken...
    with pytest.raises(SandboxFailure) as failure:  # ...and the real reply is out of order
        session.lookup("x")
    assert "never made" in failure.value.reason
    assert session.sandbox.dead


@pytest.mark.slow
def test_a_sandbox_that_stops_reading_cannot_block_a_large_write(runtime: Runtime) -> None:
    """Issue #19's stall: a forged 'done', then no more reading, then a 300 KB cell."""
    session = _session(runtime, cell_timeout=3)
    code = FIND_SERVER + "forge({'return': None, 're': current_id()})\ntime.sleep(3600)\n"
    assert session.exec_cell("forger", code) is None
    session.sandbox.budget = 3
    start = time.monotonic()
    with pytest.raises(SandboxFailure) as failure:
        session.exec_cell("padded", "x = 1\n# " + "p" * 300_000)
    elapsed = time.monotonic() - start
    assert (failure.value.kind, failure.value.reason) == ("timeout", "ran for more than 3 s")
    assert elapsed < 3 + 30, f"the write waited {elapsed:.0f} s with a 3 s budget"
    assert session.sandbox.dead


def test_large_frames_both_ways(runtime: Runtime) -> None:
    session = _session(runtime)
    big = "y" * 2_000_000
    assert session.exec_cell("big", f"text = {big!r}\n# " + "p" * 500_000) is None
    assert session.lookup("text") == big
    session.sandbox.kill()


def test_the_submission_deadline_stops_a_sandbox(runtime: Runtime) -> None:
    limits = Limits(cell_timeout=60, submission_seconds=2)
    session = Session(Sandbox(runtime, limits, deadline=time.monotonic() + 2))
    start = time.monotonic()
    with pytest.raises(SandboxFailure) as failure:
        session.exec_cell("sleeper", "import time\ntime.sleep(600)")
    assert failure.value.kind == "timeout"
    assert "time budget of 2 s" in failure.value.reason
    assert time.monotonic() - start < 2 + 30


# -- plain values across the boundary -----------------------------------------------

WEIRD = (
    "class Weird:\n"
    "    def __eq__(self, other): return True\n"
    "    def __ne__(self, other): return False\n"
    "    def __lt__(self, other): return True\n"
    "    def __bool__(self): return True\n"
    "    def __len__(self): return 1\n"
    "    def __int__(self): return 1\n"
    "    def __float__(self): return 1.0\n"
    "    def __index__(self): return 1\n"
    "    def __add__(self, other): return 1\n"
    "    def __contains__(self, item): return True\n"
    "    def __hash__(self): return 1\n"
    "    def __repr__(self): return 'Weird()'\n"
    "    def __iter__(self): return iter([1, 2])\n"
    "class RollingWindow:\n"
    "    calls = Weird()\n"
    "    failures = Weird()\n"
    "    failure_rate = float('nan')\n"
    "class Int(int):\n"
    "    def __eq__(self, other): return True\n"
    "    __hash__ = int.__hash__\n"
    "class Text(str):\n"
    "    pass\n"
    "class Real(float):\n"
    "    pass\n"
    "values = {'int': Int(3), 'str': Text('closed'), 'float': Real(0.5), 'plain': [1, 'a', 2.5]}\n"
)


@pytest.fixture(scope="module")
def weird(runtime: Runtime) -> Iterator[Session]:
    session = _session(runtime)
    assert session.exec_cell("weird", WEIRD) is None
    yield session
    session.sandbox.kill()


@pytest.mark.parametrize(
    "operation",
    [
        lambda x: x == 0,
        lambda x: x != 0,
        lambda x: x < 1,
        lambda x: x <= 1,
        lambda x: x > 1,
        lambda x: x >= 1,
        bool,
        hash,
        int,
        float,
        len,
        lambda x: [0, 1][x],
        lambda x: x + 1,
        lambda x: 1 - x,
        lambda x: abs(x),
        lambda x: 1 in x,
        lambda x: (x, 1) != (2, 1),
        lambda x: [x] == [0],
    ],
    ids=[
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "bool",
        "hash",
        "int",
        "float",
        "len",
        "index",
        "add",
        "rsub",
        "abs",
        "in",
        "tuple-ne",
        "list-eq",
    ],  # fmt: skip
)
def test_a_proxy_refuses_comparisons_and_numbers(weird: Session, operation: Any) -> None:
    window = weird.lookup("RollingWindow")()
    calls = window.calls
    assert isinstance(calls, RemoteObject)
    with pytest.raises(PlainValueError) as refused:
        operation(calls)
    assert isinstance(refused.value, AssertionError), "a refusal must fail the check"
    assert "RollingWindow.calls" in str(refused.value)
    assert "an object of type Weird" in str(refused.value)


def test_a_proxy_still_forwards_what_checks_legitimately_do(weird: Session) -> None:
    window = weird.lookup("RollingWindow")()
    calls = window.calls
    assert repr(calls) == "Weird()" and str(calls) == "Weird()" and f"{calls!r}" == "Weird()"
    assert list(calls) == [1, 2]
    assert isinstance(calls, RemoteObject) and not isinstance(calls, int)
    assert type(window.failure_rate) is float  # NaN is a plain float: the checks judge it


def test_only_exact_plain_types_cross_by_value(weird: Session) -> None:
    values = weird.lookup("values")
    assert type(values) is dict
    assert values["plain"] == [1, "a", 2.5]
    for key in ("int", "str", "float"):
        assert isinstance(values[key], RemoteObject), f"a {key} subclass must stay a proxy"
    with pytest.raises(PlainValueError, match="an object of type Int"):
        assert values["int"] == 3
    assert str(values["str"]) == "closed"  # str() of a str subclass gives a plain str


# -- one resource budget per sandbox -------------------------------------------------


def _needs_cgroup() -> None:
    if not cgroup.available():
        pytest.skip("cgroup v1 controllers are not writable here (the fallback is tested)")


CHILDREN = (
    "import os, time\n"
    "def child(work):\n"
    "    pid = os.fork()\n"
    "    if pid == 0:\n"
    "        try:\n"
    "            os.setsid()\n"
    "            work()\n"
    "        finally:\n"
    "            os._exit(0)\n"
    "    return pid\n"
)


@pytest.mark.slow
def test_memory_is_one_budget_for_all_processes(runtime: Runtime) -> None:
    """4 children x 200 MB under a 384 MB budget: the total stays under it."""
    _needs_cgroup()
    limit_mb = 384
    session = _session(runtime, memory_mb=limit_mb)
    code = CHILDREN + (
        "def hog():\n"
        "    data = b'x' * (200 * 1024 * 1024)\n"
        "    time.sleep(30)\n"
        "pids = [child(hog) for _ in range(4)]\n"
        "time.sleep(3)\n"
    )
    assert session.exec_cell("hogs", code) is None
    sandbox = session.sandbox
    assert sandbox.cgroup is not None
    assert sandbox.cgroup.oom_kills() >= 1, "the kernel should have stopped a child"
    sandbox.kill()
    assert 0 < sandbox.peak_memory <= limit_mb * 1024 * 1024


def test_children_that_setsid_die_with_the_sandbox(runtime: Runtime) -> None:
    _needs_cgroup()
    session = _session(runtime)
    code = CHILDREN + (
        "def escape():\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(600)\n"
        "for _ in range(3):\n"
        "    os.waitpid(child(escape), 0)\n"
        "uid = os.getuid()\n"
    )
    assert session.exec_cell("escape", code) is None
    uid = session.lookup("uid")
    sandbox = session.sandbox
    assert sandbox.cgroup is not None
    paths = list(sandbox.cgroup.paths.values())
    assert len(_pids_of_uid(uid)) >= 4  # the runner and three orphaned grandchildren
    sandbox.kill()
    assert _wait_until(lambda: not _pids_of_uid(uid)), "a setsid child survived the sandbox"
    assert not any(path.exists() for path in paths), "the sandbox's cgroup was not removed"


def test_processes_are_one_budget_for_the_sandbox(runtime: Runtime) -> None:
    _needs_cgroup()
    session = _session(runtime, processes=8)
    code = CHILDREN + (
        "started = refused = 0\n"
        "for _ in range(40):\n"
        "    try:\n"
        "        child(lambda: time.sleep(5))\n"
        "        started += 1\n"
        "    except OSError:\n"
        "        refused += 1\n"
    )
    assert session.exec_cell("forks", code) is None
    assert session.lookup("started") < 8 + 8
    assert session.lookup("refused") > 0
    session.sandbox.kill()


def test_cgroups_left_by_a_killed_grader_are_swept() -> None:
    _needs_cgroup()
    stale = [cgroup._base(c) / "m14-sandbox-999999999-dead" for c in cgroup.CONTROLLERS]
    for path in stale:
        path.mkdir()
    cgroup._sweep()
    assert not any(path.exists() for path in stale)


def test_without_cgroups_the_fallback_forbids_forks(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module, "cgroup_available", lambda: False)
    session = _session(runtime)
    assert session.sandbox.isolation == "rlimit-nproc-1"
    assert session.sandbox.cgroup is None
    code = (
        "import os\ntry:\n    os.fork()\n    forked = True\nexcept OSError:\n    forked = False\n"
    )
    assert session.exec_cell("fork", code) is None
    assert session.lookup("forked") is False
    session.sandbox.kill()


# -- one time budget per submission; a batch that delivers ---------------------------

HANG = (
    FIND_SERVER
    + "forge({'return': None, 're': current_id()})\n"
    + "time.sleep(3600)\n"
    + "def add(a, b):\n"
    + "    return a + b\n"
)
"""Issue #19's stalling notebook: a forged 'this cell is done', then it stops reading."""


def _fixture_versions() -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    source = nbformat.read(SOURCE, as_version=4)
    blank = nbformat.reads(nbformat.writes(source), as_version=4)
    for cell in blank.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = blank_answer(cell.source)
    return solution_notebook(source, blank), blank


def _hang_notebook(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    hang = nbformat.reads(nbformat.writes(solution), as_version=4)
    for cell in hang.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id == "add-answer":
            cell.source = HANG
        elif grade_id == "scale-answer":
            cell.source += "\n# " + "p" * 300_000
    return hang


@pytest.mark.slow
def test_one_budget_bounds_a_submission_that_stalls(runtime: Runtime, tmp_path: Path) -> None:
    solution, _ = _fixture_versions()
    path = tmp_path / f"{A}.ipynb"
    nbformat.write(_hang_notebook(solution), path)
    limits = Limits(cell_timeout=10, submission_seconds=12)
    start = time.monotonic()
    result = grade_notebook(SOURCE, path, student="mallory", runtime=runtime, limits=limits)
    elapsed = time.monotonic() - start
    # without the budget: >= 4 x 10 s (two replays that stall, two test cells that stall)
    assert elapsed < 12 + 20, f"grading took {elapsed:.0f} s with a 12 s budget"
    assert result.score == 0
    assert any("time budget of 12 s" in t.message for t in result.tests)
    assert any("bounded by: cgroup" in line or "rlimit" in line for line in result.log)
    assert not any("cgroup" in note or "rlimit" in note for note in result.notes)


@pytest.mark.slow
def test_a_stalling_submission_does_not_withhold_nine_others(tmp_path: Path) -> None:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    solution, blank = _fixture_versions()
    submitted = tmp_path / "submitted"
    books = {"a-mallory": _hang_notebook(solution)}
    books.update({f"b-good{i}": solution for i in range(5)})
    books.update({f"c-blank{i}": blank for i in range(4)})
    for student, nb in books.items():
        path = submitted / student / A / f"{A}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    out = tmp_path / "out"
    limits = Limits(cell_timeout=10, submission_seconds=15)
    start = time.monotonic()
    report = grade_all(
        submitted, out, notebooks=FIXTURES, jobs=2, progress=False, log=lambda _: None,
        limits=limits,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert not report.failures
    scores = {g.submission.student: g.result.score for g in report.graded}
    expected = {s: 0.0 if s.startswith(("a-", "c-")) else 5.0 for s in books}
    assert scores == expected
    for student in books:
        assert (out / "feedback" / student / A / f"{A}.html").is_file()
    rows = list(csv.DictReader((out / "grades.csv").read_text().splitlines()))
    assert [r["student_id"] for r in rows] == sorted(books)
    # the stalled one is bounded by its budget; release + nine fast ones take well under 120 s
    assert elapsed < 15 + 120, f"the batch took {elapsed:.0f} s"


@pytest.mark.slow
def test_results_arrive_as_submissions_finish(tmp_path: Path) -> None:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    solution, _ = _fixture_versions()
    subs = []
    for student, nb in (("a-mallory", _hang_notebook(solution)), ("b-good", solution)):
        path = tmp_path / student / A / f"{A}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        subs.append(Submission(student, A, A, path))
    arrived: list[str] = []
    report = grade_batch(
        subs,
        {A: SOURCE},
        jobs=2,
        progress=False,
        on_result=lambda item: arrived.append(item.submission.student),
        limits=Limits(cell_timeout=10, submission_seconds=15),
    )
    assert arrived == ["b-good", "a-mallory"], "the good one must not wait for the stalled one"
    assert [g.submission.student for g in report.graded] == ["a-mallory", "b-good"]
    assert all(isinstance(g, Graded) for g in report.graded)


@pytest.mark.slow
def test_a_stuck_worker_is_stopped_and_the_others_still_graded(tmp_path: Path) -> None:
    """The batch's last resort: no result for ``stall_seconds`` -> kill, retry once, give up."""
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    solution, blank = _fixture_versions()
    subs = []
    for student, nb in (("a-mallory", _hang_notebook(solution)), ("b-blank", blank)):
        path = tmp_path / student / A / f"{A}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        subs.append(Submission(student, A, A, path))
    start = time.monotonic()
    report = grade_batch(
        subs,
        {A: SOURCE},
        jobs=2,
        progress=False,
        stall_seconds=20,  # far below this engine budget: the worker looks stuck
        limits=Limits(cell_timeout=300, submission_seconds=600),
    )
    assert [g.submission.student for g in report.graded] == ["b-blank"]
    assert [f.submission.student for f in report.failures] == ["a-mallory"]
    assert "did not finish" in report.failures[0].reason
    assert time.monotonic() - start < 2 * 20 + 120
