"""Notebook 02's checks, hidden graders, simulation scenario and widget, without a kernel.

The solution's classes are taken from the notebook's text twin (answer cells with the
solutions), the buggy ones from the known submissions, so these tests follow the notebook.
No test sleeps: waits run on a ManualClock, races are driven by the SteppedLock hook.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jupytext
import pytest

from autograders.graders import bulkhead as graders
from course_lib.checks import bulkhead as checks
from course_lib.checks.kit import CheckFailed
from course_lib.sim.bulkheads import isolation
from course_lib.widgets.bulkhead_widget import compare_bulkheads, show_bulkheads

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02-bulkheads" / "02-bulkheads.md"
SUBMISSIONS = ROOT / "autograders" / "submissions" / "02-bulkheads"


def _namespace(replace: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the notebook's given and answer cells (solutions, or ``replace`` by grade_id)."""
    replace = replace or {}
    ns: dict[str, Any] = {}
    for cell in jupytext.read(NOTEBOOK).cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if cell.cell_type != "code" or meta.get("grade") or grade_id is None:
            continue
        exec(compile(replace.get(grade_id, cell.source), grade_id, "exec"), ns)  # noqa: S102
    return ns


@pytest.fixture(scope="module")
def solution() -> dict[str, Any]:
    return _namespace()


def _bug(name: str) -> dict[str, Any]:
    submission = tomllib.loads((SUBMISSIONS / f"{name}.toml").read_text())
    return _namespace(submission["replace"])


def test_solution_passes_every_check_and_grader(solution: dict[str, Any]) -> None:
    sem, lock, pool = (
        solution["SemaphoreBulkhead"],
        solution["SteppedLock"],
        solution["ThreadPoolBulkhead"],
    )
    checks.check_semaphore(sem)
    graders.grade_semaphore(sem)
    checks.check_thread_safety(sem, lock)
    graders.grade_thread_safety(sem, lock)
    checks.check_call(sem)
    graders.grade_call(sem)
    checks.check_wait(sem)
    graders.grade_wait(sem)
    checks.check_pool(pool)
    graders.grade_pool(pool)
    checks.check_isolation(solution["make_bulkheads"])
    graders.grade_isolation(solution["make_bulkheads"])
    checks.check_littles_law(solution["concurrency_needed"], solution["bulkhead_size"])
    graders.grade_littles_law(solution["concurrency_needed"], solution["bulkhead_size"])


def test_the_race_is_caught_every_time_with_the_interleaving_named() -> None:
    ns = _bug("check-then-acquire-race")
    for _ in range(3):  # deterministic: the same verdict on every run
        with pytest.raises(CheckFailed) as info:
            checks.check_thread_safety(ns["SemaphoreBulkhead"], ns["SteppedLock"])
        message = str(info.value)
        assert "a second caller called try_acquire(): they got True and True" in message
        assert "3 calls were inside a bulkhead of 2" in message
    # its sequential behaviour is right: exercise 1 keeps its points
    checks.check_semaphore(ns["SemaphoreBulkhead"])
    graders.grade_semaphore(ns["SemaphoreBulkhead"])


def test_a_lock_whose_hook_runs_late_does_not_hide_the_race() -> None:
    submission = tomllib.loads((SUBMISSIONS / "hostile-fake-stepped-lock.toml").read_text())
    ns = _namespace(submission["replace"])
    with pytest.raises(CheckFailed):
        graders.grade_thread_safety(ns["SemaphoreBulkhead"], ns["SteppedLock"])


@pytest.mark.parametrize(
    ("bug", "grader", "words"),
    [
        ("call-slot-lost-on-error", "call", "must be given back even when fn raises"),
        (
            "wait-never-times-out",
            "wait",
            r"with max_wait=0, acquire\(\) must give up at once without calling sleep\(\)",
        ),
        ("wait-sleeps-past-deadline", "wait", "past its deadline"),
        ("wait-no-last-look", "wait", "without looking once more; the slot was free then"),
        ("wait-on-the-wall-clock", "wait", "although max_wait is 1 s"),
        ("wait-sleeps-all-at-once", "wait", "longer than poll_interval"),
        (
            "wait-returns-true",
            "wait",
            r"On a new SemaphoreBulkhead\(max_concurrent=1, max_wait=1, poll_interval=0.25\), "
            r"its slot free, acquire\(\) got the slot and returned True; it should return None",
        ),
        (
            "wait-returns-false-when-full",
            "wait",
            r"\(max_wait=0, poll_interval=0.25\), acquire\(\) returned False although no slot "
            "was ever free: once max_wait has passed, raise BulkheadFullError",
        ),
        ("pool-queue-unbounded", "pool", "the queue is bounded"),
        ("pool-newest-first", "pool", "oldest queued first"),
        ("one-pool-shared", "isolation", "each dependency its own bulkhead"),
        (
            "isolation-one-size",
            "isolation",
            r"gave B a bulkhead that admitted only 1 call; .*here 3",
        ),
        ("littles-law-milliseconds", "sizing", "1000 times too many"),
        ("size-int-plus-one", "sizing", "returned 16; expected 15"),
        ("size-clamps-before-headroom", "sizing", "returned 2; expected 1"),
        ("release-goes-negative", "semaphore", "did not raise RuntimeError"),
    ],
)
def test_each_known_bug_fails_its_visible_check_in_plain_words(
    bug: str, grader: str, words: str
) -> None:
    ns = _bug(bug)
    run: Callable[[], None] = {
        "call": lambda: checks.check_call(ns["SemaphoreBulkhead"]),
        "wait": lambda: checks.check_wait(ns["SemaphoreBulkhead"]),
        "pool": lambda: checks.check_pool(ns["ThreadPoolBulkhead"]),
        "isolation": lambda: checks.check_isolation(ns["make_bulkheads"]),
        "sizing": lambda: checks.check_littles_law(ns["concurrency_needed"], ns["bulkhead_size"]),
        "semaphore": lambda: checks.check_semaphore(ns["SemaphoreBulkhead"]),
    }[grader]
    with pytest.raises(CheckFailed, match=words):
        run()


def test_simulation_shared_pool_starves_a_and_isolated_pools_do_not() -> None:
    shared = isolation("shared", seed=1).summary()
    isolated = isolation("isolated", seed=1).summary()
    assert shared["b_peak_in_flight"] == 20, "B's hung calls take every slot of the shared pool"
    assert isolated["b_peak_in_flight"] == 10, "B fills its own pool and no more"
    assert shared["a_rejected_per_s_during"] > 40
    assert isolated["a_rejected_per_s_during"] < 1
    assert isolated["a_served_per_s_during"] > 50
    assert isolation("shared", seed=1).frames == isolation("shared", seed=1).frames  # seeded


def test_simulation_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="^layout must be one of"):
        isolation("pooled")
    with pytest.raises(ValueError, match="^limits must give A and B"):
        isolation(limits={"A": 0, "B": 3})


def test_widget_frames_are_small_and_a_stub_is_a_one_line_message(
    solution: dict[str, Any],
) -> None:
    widget = show_bulkheads()
    assert [p["layout"] for p in widget.panels] == ["shared", "isolated"]
    assert widget.frame_count == 81
    assert len(json.dumps(widget.panels)) < 20_000

    def stub(limits: dict[str, int]) -> Any:
        raise NotImplementedError("Not written yet: make_bulkheads")

    panels = compare_bulkheads(stub).panels
    assert panels[2]["error"] == (
        "isolated pools, yours raised NotImplementedError: Not written yet: make_bulkheads"
    )
    assert panels[2]["frames"] == []
    mine = compare_bulkheads(solution["make_bulkheads"]).panels
    assert mine[2]["frames"] == mine[1]["frames"], "the solution draws what the reference draws"
