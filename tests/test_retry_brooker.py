"""Brooker's experiment (course_lib.sim.brooker) and the retry-storm widget's data.

The notebook prints the table of :func:`brooker_table` for 10..100 clients, 10
seeded runs per cell; the 100-client row must show the blog's ordering. No test
here sleeps: the simulation runs on virtual time.
"""

from __future__ import annotations

import random
from functools import cache

import pytest

from course_lib.backoff import DecorrelatedJitter, FullJitter
from course_lib.sim.brooker import (
    BROOKER_BASE,
    BROOKER_CAP,
    BrookerResult,
    FunctionSchedule,
    brooker_run,
    brooker_schedules,
    brooker_table,
)


@cache
def row_at_100(runs: int, seed: int) -> dict[str, BrookerResult]:
    return {r.schedule: r for r in brooker_table(clients=(100,), runs=runs, seed=seed)}


@pytest.mark.parametrize(("runs", "seed"), [(10, 0), (20, 0)])
def test_the_100_client_row_shows_the_blogs_ordering(runs: int, seed: int) -> None:
    row = row_at_100(runs, seed)
    none, full, equal, decorrelated = (row[s] for s in ("none", "full", "equal", "decorrelated"))
    assert full.calls < none.calls / 2, (
        f"full jitter should make fewer than half the calls of no jitter: "
        f"{full.calls} vs {none.calls}"
    )
    assert full.completion < none.completion
    assert equal.calls > full.calls and equal.completion > full.completion, (
        f"equal jitter: more calls and slower than full ({equal} vs {full})"
    )
    assert decorrelated.calls > full.calls and decorrelated.completion < full.completion, (
        f"decorrelated: more calls than full, in less time ({decorrelated} vs {full})"
    )


def test_the_notebook_table_is_the_sweep_the_100_row_comes_from() -> None:
    table = brooker_table(clients=(10, 100), runs=10, seed=0)
    assert [(r.clients, r.schedule) for r in table] == [
        (n, s) for n in (10, 100) for s in ("none", "full", "equal", "decorrelated")
    ]
    at_100 = {r.schedule: r for r in table if r.clients == 100}
    assert at_100 == row_at_100(10, 0)
    for r in table:
        assert r.calls >= r.clients, "every client writes at least once"


def test_work_grows_faster_than_the_clients() -> None:
    table = brooker_table(clients=(25, 50), runs=4, seed=3)
    calls = {(r.schedule, r.clients): r.calls for r in table}
    for name in brooker_schedules():
        assert calls[(name, 50)] > 2 * calls[(name, 25)], f"{name}: work is about O(N^2)"


def test_runs_are_seeded() -> None:
    schedule = FullJitter(base=BROOKER_BASE, cap=BROOKER_CAP)
    assert brooker_run(30, schedule, 7) == brooker_run(30, schedule, 7)
    assert brooker_run(30, schedule, 7) != brooker_run(30, schedule, 8)


def test_a_single_client_writes_once() -> None:
    calls, done = brooker_run(1, FullJitter(base=BROOKER_BASE, cap=BROOKER_CAP), 0)
    assert calls == 1 and 0.0 < done < 0.1


def test_function_schedules_give_the_same_runs_as_the_classes() -> None:
    def full_jitter(attempt: int, *, base: float, cap: float, random: object) -> float:
        return random() * min(cap, base * 2**attempt)  # type: ignore[operator]

    def decorrelated(previous: float, *, base: float, cap: float, random: object) -> float:
        return min(cap, base + random() * (3 * previous - base))  # type: ignore[operator]

    base, cap = BROOKER_BASE, BROOKER_CAP
    mine = FunctionSchedule(full_jitter)
    assert brooker_run(40, mine, 2) == brooker_run(40, FullJitter(base=base, cap=cap), 2)
    mine_d = FunctionSchedule(decorrelated, decorrelated=True)
    ref_d = DecorrelatedJitter(base=base, cap=cap)
    assert brooker_run(40, mine_d, 2) == brooker_run(40, ref_d, 2)
    rng = random.Random(0)
    assert mine_d.delay(1, rng) <= 3 * base


def test_a_schedule_that_raises_is_reported_and_left_out() -> None:
    def stub(attempt: int, **_: object) -> float:
        raise NotImplementedError("Not written yet: full_jitter")

    seen: list[tuple[str, str]] = []
    table = brooker_table(
        {"full": FunctionSchedule(stub), "none": brooker_schedules()["none"]},
        clients=(5, 6),
        runs=1,
        on_error=lambda name, error: seen.append((name, str(error))),
    )
    assert seen == [("full", "Not written yet: full_jitter")]
    assert [r.schedule for r in table] == ["none", "none"]
    with pytest.raises(NotImplementedError):
        brooker_table({"full": FunctionSchedule(stub)}, clients=(5,), runs=1)


def test_bad_arguments_are_refused_with_their_names() -> None:
    with pytest.raises(ValueError, match="clients"):
        brooker_run(0, FullJitter(), 0)
    with pytest.raises(ValueError, match="runs"):
        brooker_table(runs=0)
    with pytest.raises(ValueError, match="delay"):
        brooker_run(5, FunctionSchedule(lambda attempt, **_: -1.0), 0)
    with pytest.raises(ValueError, match="fn must be"):
        FunctionSchedule(3)  # type: ignore[arg-type]
