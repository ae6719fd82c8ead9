"""Notebook 03's checks and hidden graders in plain Python (no sandbox): what nbgrader runs.

``selfcheck`` grades the known submissions in the sandbox, where the student's
functions are proxies; here the same submissions run as real functions, the way
plain ``nbgrader autograde`` sees them (the error chain is read from
``__cause__``, the async port is driven on real ``asyncio.sleep`` awaitables).
Each known mistake must fail exactly its test cells here too. Nothing sleeps:
the one submission that calls ``time.sleep`` is graded by selfcheck only.
"""

from __future__ import annotations

import contextlib
import io
import random
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograders.submissions import KnownSubmission, load_all
from course_lib.checks.kit import CheckFailed
from course_lib.checks.retry import (
    RETRYABLE_STATUSES,
    async_problem,
    record_port,
    record_port_async,
    reference_port,
)
from course_lib.retry import Retrying

ROOT = Path(__file__).resolve().parent.parent
NAME = "03-retries-backoff-jitter"
SOURCE = ROOT / "notebooks" / NAME / f"{NAME}.ipynb"
SLEEPS_FOR_REAL = {"async-blocks-event-loop"}


def _cells() -> list[tuple[str, str, bool]]:
    """``(grade_id, source without markers, is_test)`` for the answer and test cells."""
    nb = nbformat.read(SOURCE, as_version=4)
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("solution") or meta.get("grade")):
            continue
        lines = [
            line
            for line in cell.source.split("\n")
            if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line
        ]
        lines = [line for line in lines if "HIDDEN TESTS" not in line]
        cells.append((meta["grade_id"], "\n".join(lines), bool(meta.get("grade"))))
    return cells


def failed_cells(replace: dict[str, str]) -> list[str]:
    """Run the solution with ``replace``d answer cells; the test cells that fail."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    failed = []
    for grade_id, source, is_test in _cells():
        source = replace.get(grade_id, source)
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(source, grade_id, "exec"), namespace)
            except (AssertionError, Exception):  # noqa: BLE001 - a failing cell
                if not is_test:
                    raise
                failed.append(grade_id)
    return failed


def known() -> list[KnownSubmission]:
    return [
        k
        for k in load_all(ROOT / "autograders" / "submissions" / NAME)
        if k.base == "solution" and k.threat is None and k.name not in SLEEPS_FOR_REAL
    ]


def test_the_solution_passes_every_check() -> None:
    assert failed_cells({}) == []


@pytest.mark.filterwarnings("ignore:coroutine 'sleep' was never awaited:RuntimeWarning")
@pytest.mark.parametrize("submission", known(), ids=lambda k: k.name)
def test_a_known_mistake_fails_exactly_its_cells(submission: KnownSubmission) -> None:
    assert failed_cells(submission.replace) == list(submission.expect_failed or ())


# --- the recorders themselves, on the reference -------------------------------------------


def reference_retry(operation: Any, **kwargs: Any) -> Any:
    """The module's loop as the course's reference runs it, with the port's signature."""
    return Retrying(
        attempts=kwargs.get("max_attempts", 3),
        base=kwargs.get("base_delay", 0.1),
        cap=kwargs.get("max_delay", 3.0),
        sleep=kwargs["sleep"],
        retry_on=kwargs["retryable"],
        rng=_CallableRandom(kwargs["random"]),
    ).call(operation)


class _CallableRandom(random.Random):
    """A ``random.Random`` whose draws come from a given ``random()`` function."""

    def __init__(self, draw: Any) -> None:
        super().__init__(0)
        self._draw = draw

    def random(self) -> float:
        return float(self._draw())


def test_the_recorder_sees_the_modules_example() -> None:
    scenario = ({}, ("fail", "fail", "ok"), 4)
    events = reference_port(Retrying, scenario)
    draws = random.Random(4)
    first, second = draws.random() * 0.2, draws.random() * 0.4
    assert events == [
        ("call", 1, "fail"),
        ("sleep", first),
        ("call", 2, "fail"),
        ("sleep", second),
        ("call", 3, "ok"),
        ("return", "ok (call 3)"),
    ]
    assert record_port(reference_retry, scenario) == events


def test_the_give_up_message_and_the_non_retryable_error() -> None:
    give_up = reference_port(Retrying, ({"max_attempts": 2}, ("fail", "fail"), 0))
    assert give_up[-1] == (
        "raise",
        "RetryError",
        "Operation failed after 2 attempts: connection reset (call 2)",
    )
    fatal = reference_port(Retrying, ({}, ("fail", "fatal"), 0))
    assert [e[0] for e in fatal] == ["call", "sleep", "call", "raise"]
    assert fatal[-1] == ("raise", "ValueError", "404 Not Found (call 2)")


def test_the_async_driver_sees_every_wait_give_control_back() -> None:
    async def port(operation: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return await operation()
            except ConnectionError:
                attempt += 1
                if attempt >= 3:
                    raise
                await kwargs["sleep"](kwargs["random"]() * min(3.0, 0.1 * 2**attempt))

    events = record_port_async(port, ({}, ("fail", "ok"), 1))
    assert [e[0] for e in events] == ["call", "sleep", "yield", "call", "yield", "return"]
    assert async_problem(port, ({}, ("fail", "ok"), 1), Retrying) is None


def test_an_async_port_that_does_not_await_its_sleep_is_named() -> None:
    async def port(operation: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return await operation()
            except ConnectionError:
                attempt += 1
                kwargs["sleep"](kwargs["random"]() * min(3.0, 0.1 * 2**attempt)).close()

    problem = async_problem(port, ({}, ("fail", "ok"), 1), Retrying)
    assert problem is not None and "gives control to the event loop" in problem
    assert "await sleep(delay)" in problem


def test_a_sync_function_is_refused_by_the_async_check() -> None:
    def port(operation: Any, **kwargs: Any) -> Any:
        return operation()

    with pytest.raises(CheckFailed, match="async def"):
        record_port_async(port, ({}, ("ok",), 1))


def test_the_should_retry_table() -> None:
    assert {408, 429, 500, 502, 503, 504} == RETRYABLE_STATUSES
