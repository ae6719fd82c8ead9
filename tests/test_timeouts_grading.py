"""Notebook 04's checks and hidden graders: the solution passes, each known bug fails its exercise.

The notebook's answer and test cells (hidden tests included; the ungraded demo cells
skipped) run in this process with answer cells replaced as
``autograders/submissions/04-timeouts/*.toml`` says; the failing test cells must be the
file's ``expect_failed``. The hidden graders start real loopback servers here (bounded
waits); afterwards no server, thread or socket of theirs is left.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "04-timeouts" / "04-timeouts.ipynb"
SUBMISSIONS = ROOT / "autograders" / "submissions" / "04-timeouts"
TEST_CELLS = {
    "settings-tests",
    "body-tests",
    "choose-tests",
    "budget-tests",
    "forward-tests",
    "fetch-tests",
}

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autograders.assignments import nbgrader_metadata  # noqa: E402
from course_lib import loopback  # noqa: E402
from course_lib.checks import timeouts as checks  # noqa: E402
from course_lib.checks.kit import CheckFailed  # noqa: E402

# What each known bug's failing test must say (plain words a student can act on).
EXPECTED_MESSAGES = {
    "settings-read-as-connect": ["['connect'] should be", "that is the read timeout"],
    "settings-none-in-default": ["is None", "waits forever"],
    "body-no-total-deadline": ["should raise TimeoutError", "only a total deadline"],
    "body-last-read-not-capped": ["past its total deadline", "at most the time left"],
    "choose-percentile-upside-down": ["should be", "samples slower"],
    "rate-times-count": ["slower / 100 <= 0.29", "at most 29 samples slower"],
    "budget-not-reduced": ["are not subtracted"],
    "budget-goes-negative": ["never negative"],
    "forward-not-propagated": ["should return headers with 'x-deadline-ms'"],
    "forward-rounds-to-nearest": ["rounded down"],
    "fetch-leaks-connection": ["leaks"],
    "fetch-swallows-cancellation": ["should end with 'cancelled'"],
    "fetch-releases-before-request": [
        "delay=0, seconds=5) gave its connection back before the request ran",
        "release(1) came before await asyncio.sleep(0)",
    ],
}


def _strip_markers(source: str) -> str:
    return "\n".join(
        line
        for line in source.split("\n")
        if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line
    )


def run_notebook_cells(nb: Any, replace: dict[str, str] | None = None) -> dict[str, Any]:
    """Exec the nbgrader code cells in order; return each test cell's error (or None)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    results: dict[str, Any] = {}
    replace = replace or {}
    for cell in nb.cells:
        meta = nbgrader_metadata(cell)
        if cell.cell_type != "code" or not meta:
            continue
        grade_id = meta["grade_id"]
        source = replace.get(grade_id, cell.source)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(_strip_markers(source), grade_id, "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001 - recorded for the assertions
            if not meta.get("grade"):
                raise AssertionError(f"the answer cell {grade_id} raised {error!r}") from error
            results[grade_id] = error
        else:
            if meta.get("grade"):
                results[grade_id] = None
    return results


def _sockets() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:"):
                found.add(target)
    return found


@pytest.fixture(scope="module")
def source_nb() -> Any:
    return nbformat.read(str(NOTEBOOK), as_version=4)


def test_notebook_words(source_nb: Any) -> None:
    text = "\n".join(cell.source for cell in source_nb.cells)
    assert "the seed" not in text.lower() and "seed's" not in text.lower()
    assert "the module's notes" in text.lower() and "1-2 s" in text and "2-5 s" in text
    assert checks.DEADLINE_HEADER == loopback.DEADLINE_HEADER


def test_students_never_read_the_word_seed(source_nb: Any) -> None:
    # Prose and code comments say "reproducible"; code such as seed=1 may stay.
    prose = [cell.source for cell in source_nb.cells if cell.cell_type == "markdown"]
    comments = [
        line.split("#", 1)[1]
        for cell in source_nb.cells
        if cell.cell_type == "code"
        for line in cell.source.split("\n")
        if "#" in line
    ]
    assert [text for text in prose + comments if "seed" in text.lower()] == []


def test_choose_rule_is_the_quotient_not_the_product() -> None:
    # 0.29 * 100 is 28.999...: 29 slower samples out of 100 are within a rate of 0.29.
    assert checks.allowed_slower(100, 0.29) == 29
    assert checks.allowed_slower(8, 0.25) == 2
    assert checks.expected_choice([(i + 1) / 1000 for i in range(100)], 0.29) == 0.071
    assert checks.expected_choice([0.01 * (i + 1) for i in range(8)], 0.125) == 0.07


@pytest.mark.slow
def test_solution_passes_every_test_cell_and_leaves_nothing_running(source_nb: Any) -> None:
    threads_before = set(threading.enumerate())
    sockets_before = _sockets()
    results = run_notebook_cells(source_nb)
    assert set(results) == TEST_CELLS
    assert {gid: repr(err) for gid, err in results.items() if err is not None} == {}
    assert loopback.running() == []
    assert [t.name for t in set(threading.enumerate()) - threads_before if t.is_alive()] == []
    assert _sockets() - sockets_before == set()


def _known() -> list[Path]:
    return sorted(
        path
        for path in SUBMISSIONS.glob("*.toml")
        if "threat" not in tomllib.loads(path.read_text())
    )


def test_every_known_bug_has_its_message() -> None:
    assert {path.stem for path in _known()} == set(EXPECTED_MESSAGES)
    assert len(EXPECTED_MESSAGES) >= 6


@pytest.mark.slow  # each runs every hidden grader, real loopback servers included (~5 s)
@pytest.mark.parametrize("path", _known(), ids=lambda p: p.stem)
def test_known_bug_fails_exactly_its_exercise(path: Path, source_nb: Any) -> None:
    known = tomllib.loads(path.read_text())
    results = run_notebook_cells(source_nb, known["replace"])
    failed = {gid for gid, err in results.items() if err is not None}
    assert failed == set(known["expect_failed"])
    for gid in failed:
        error = results[gid]
        assert isinstance(error, CheckFailed), repr(error)
        for words in EXPECTED_MESSAGES[path.stem]:
            assert words in str(error), str(error)
    assert loopback.running() == []


def test_checks_refuse_bad_values_plainly() -> None:
    def nan_settings(connect: float, read: float) -> dict[str, float]:
        if connect in (None, 0) or read in (None, 0):
            raise ValueError("connect and read")
        return {"connect": float("nan"), "read": read, "write": read, "pool": connect}

    with pytest.raises(CheckFailed, match="not a finite number"):
        checks.check_settings(nan_settings)


def test_blank_answers_say_not_written_yet() -> None:
    def blank(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Not written yet")

    async def blank_async(*args: Any) -> Any:
        raise NotImplementedError("Not written yet")

    for check, answer in (
        (checks.check_settings, blank),
        (checks.check_read_body, blank),
        (checks.check_choose_timeout, blank),
        (checks.check_budget_left, blank),
        (checks.check_forward_headers, blank),
        (checks.check_fetch_within, blank_async),
    ):
        with pytest.raises(NotImplementedError):
            check(answer)
