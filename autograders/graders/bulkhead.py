"""Hidden grading for notebook 02, "Bulkheads" (instructor side, not in the wheel).

One grader per exercise; each refuses code that borrows the reference
(:func:`~autograders.graders._pristine.refuse_reference`), then runs the
exercise's problem function from :mod:`course_lib.checks.bulkhead` over seeded,
generated scenarios (:func:`~course_lib.checks.kit.find_divergence`) and fails
with the shortest one that goes wrong. The model is the PRISTINE reference
:class:`course_lib.bulkhead.SemaphoreBulkhead` (:func:`load_reference`), except
for the thread pool's bookkeeping (:class:`PoolModel`, below: the reference
pool runs real threads, which a scenario cannot step through).

1. :func:`grade_semaphore`: random try_acquire/release sequences, limits never exceeded,
   rejections exactly when full
2. :func:`grade_thread_safety`: the same with a second caller cutting in just before
   the lock is taken (deterministic interleavings, no scheduler involved)
3. :func:`grade_call`: results, rejections and errors at every occupancy
4. :func:`grade_wait`: a free slot taken at once (``acquire()`` returns None), then
   bounded waits on a manual clock, slots freed before, at and after the deadline
5. :func:`grade_pool`: random submit/finish sequences vs :class:`PoolModel`
6. :func:`grade_isolation`: each bulkhead filled alone (its size), then random
   per-dependency steps, one reference bulkhead each
7. :func:`grade_littles_law`: rates and latencies from 1 to 10,000, whole products
   (20 calls/s x 500 ms x 1.5 = 15) included
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from autograders.graders._pristine import load_reference, refuse_reference
from course_lib.checks.bulkhead import (
    call_problem,
    free_slot_problem,
    isolation_problem,
    littles_law_problem,
    pool_problem,
    race_problem,
    semaphore_problem,
    wait_problem,
)
from course_lib.checks.kit import find_divergence, require, shorter_sequences

__all__ = [
    "PoolModel",
    "grade_call",
    "grade_isolation",
    "grade_littles_law",
    "grade_pool",
    "grade_semaphore",
    "grade_thread_safety",
    "grade_wait",
]


def _reference(capacity: int) -> Any:
    """A fresh pristine reference ``SemaphoreBulkhead(max_concurrent=capacity)``."""
    return load_reference("bulkhead").SemaphoreBulkhead(max_concurrent=capacity)


def _guarded(cls: Any, what: str) -> Callable[..., Any]:
    """Makes instances of the student's ``cls``, refusing each one that holds the reference."""

    def make(*args: Any, **kwargs: Any) -> Any:
        made = cls(*args, **kwargs)
        refuse_reference(made, what)
        return made

    return make


def _same_setting(scenario: tuple[Any, list[Any]]) -> Iterator[tuple[Any, list[Any]]]:
    setting, items = scenario
    for shorter in shorter_sequences(items):
        yield setting, shorter


def _random_ops(
    rng: random.Random, capacity: int, length: int, *, extra_release: bool = True
) -> list[str]:
    """try_acquire/release steps that fill, overflow and drain; a release too many at times."""
    ops: list[str] = []
    held = 0
    for _ in range(length):
        if rng.random() < 0.6 or held == 0 and (not extra_release or rng.random() < 0.8):
            ops.append("try_acquire")
            held = min(capacity, held + 1)
        else:
            ops.append("release")
            held = max(0, held - 1)
    return ops


# --- exercise 1 ---------------------------------------------------------------------------


def grade_semaphore(bulkhead_cls: Any, *, scenarios: int = 40, seed: int = 1201) -> None:
    """Hidden grading for exercise 1: random sequences vs the pristine reference."""
    refuse_reference(bulkhead_cls, "SemaphoreBulkhead")
    make = _guarded(bulkhead_cls, "SemaphoreBulkhead")

    def generate(rng: random.Random) -> tuple[int, list[str]]:
        capacity = rng.randint(1, 4)
        return capacity, _random_ops(rng, capacity, rng.randint(1, 3 * capacity + 3))

    def problem(scenario: tuple[int, list[str]]) -> str | None:
        capacity, ops = scenario
        return semaphore_problem(make, capacity, ops, _reference(capacity))

    require(
        find_divergence(problem, generate, scenarios=scenarios, seed=seed, smaller=_same_setting)
    )


# --- exercise 2 ---------------------------------------------------------------------------


def grade_thread_safety(
    bulkhead_cls: Any, lock_cls: Any, *, scenarios: int = 30, seed: int = 1202
) -> None:
    """Hidden grading for exercise 2: a second caller cuts in just before the lock is taken."""
    refuse_reference(bulkhead_cls, "SemaphoreBulkhead")
    make = _guarded(bulkhead_cls, "SemaphoreBulkhead")

    def generate(rng: random.Random) -> tuple[int, list[tuple[str, bool]]]:
        capacity = rng.randint(1, 3)
        ops = _random_ops(rng, capacity, rng.randint(2, 2 * capacity + 4), extra_release=False)
        return capacity, [(op, rng.random() < 0.5) for op in ops]

    def problem(scenario: tuple[int, list[tuple[str, bool]]]) -> str | None:
        capacity, steps = scenario
        return race_problem(make, lock_cls, capacity, steps, _reference(capacity))

    require(race_problem(make, lock_cls, 1, [("try_acquire", True)], _reference(1)))
    require(
        find_divergence(problem, generate, scenarios=scenarios, seed=seed, smaller=_same_setting)
    )


# --- exercise 3 ---------------------------------------------------------------------------


def grade_call(bulkhead_cls: Any) -> None:
    """Hidden grading for exercise 3: every occupancy, results and several kinds of error."""
    refuse_reference(bulkhead_cls, "SemaphoreBulkhead")
    make = _guarded(bulkhead_cls, "SemaphoreBulkhead")
    outcomes = ["return", "ValueError", "TimeoutError", "ConnectionError", "KeyError"]
    for capacity in (1, 2, 3):
        for held in range(capacity + 1):
            for outcome in outcomes:
                require(call_problem(make, capacity, held, outcome))


# --- exercise 4 ---------------------------------------------------------------------------

#: Waits and polls exact in binary, so the manual clock's sums are exact.
WAITS = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0)
POLLS = (0.03125, 0.0625, 0.25, 0.5)


def grade_wait(bulkhead_cls: Any, *, scenarios: int = 30, seed: int = 1204) -> None:
    """Hidden grading for exercise 4: slots freed before, at and after the deadline, or never."""
    # the class only: its instances hold this grader's own clock and sleep
    refuse_reference(bulkhead_cls, "SemaphoreBulkhead")
    fixed = [
        (0.0, 0.25, None),
        (0.5, 0.125, 0.5),  # freed exactly at the deadline
        (0.5, 0.125, 0.75),  # freed after it
        (2.0, 0.5, None),
    ]
    for max_wait, poll in ((0.0, 0.25), (0.5, 0.125)):  # a free slot: taken at once, None
        require(free_slot_problem(bulkhead_cls, max_wait, poll))
    for max_wait, poll, free_at in fixed:
        require(wait_problem(bulkhead_cls, max_wait, poll, free_at))

    def generate(rng: random.Random) -> tuple[float, float, float | None]:
        max_wait = rng.choice(WAITS)
        poll = rng.choice(POLLS)
        free_at = rng.choice([None, rng.randint(1, 24) / 8])
        return max_wait, poll, free_at

    require(
        find_divergence(
            lambda s: wait_problem(bulkhead_cls, *s), generate, scenarios=scenarios, seed=seed
        )
    )


# --- exercise 5 ---------------------------------------------------------------------------


class PoolModel:
    """The thread-pool bulkhead's bookkeeping: workers, a bounded FIFO queue, starts in order."""

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = workers
        self.capacity = queue
        self.active = 0
        self.waiting: deque[int] = deque()

    def submit(self, task: int) -> tuple[str, list[int]]:
        """``(answer, started)`` for submitting task number ``task``."""
        if self.active < self.workers:
            self.active += 1
            return "running", [task]
        if len(self.waiting) < self.capacity:
            self.waiting.append(task)
            return "queued", []
        return "full", []

    def finish(self) -> list[int]:
        """A worker finished: the tasks started (the oldest waiting one, or none)."""
        if self.waiting:
            return [self.waiting.popleft()]
        self.active -= 1
        return []


def _pool_expected(
    workers: int, queue: int, ops: list[str]
) -> list[tuple[str, list[int], int, int]]:
    model = PoolModel(workers, queue)
    expected: list[tuple[str, list[int], int, int]] = []
    task = 0
    for op in ops:
        if op == "submit":
            task += 1
            answer, started = model.submit(task)
        else:
            answer, started = "", model.finish()
        expected.append((answer, started, model.active, len(model.waiting)))
    return expected


def grade_pool(pool_cls: Any, *, scenarios: int = 30, seed: int = 1205) -> None:
    """Hidden grading for exercise 5: random submit/finish sequences vs :class:`PoolModel`."""
    refuse_reference(pool_cls, "ThreadPoolBulkhead")  # the class: instances hold our start

    def generate(rng: random.Random) -> tuple[tuple[int, int], list[str]]:
        workers, queue = rng.randint(1, 3), rng.randint(0, 3)
        ops: list[str] = []
        active = 0
        for _ in range(rng.randint(1, 2 * (workers + queue) + 4)):
            if active and rng.random() < 0.35:
                ops.append("finish")
            else:
                ops.append("submit")
            active = sum(1 for o in ops if o == "submit") - ops.count("finish")
        return (workers, queue), ops

    def valid(ops: list[str], workers: int, queue: int) -> bool:
        model = PoolModel(workers, queue)
        for op in ops:
            if op == "finish" and model.active == 0:
                return False
            model.submit(0) if op == "submit" else model.finish()
        return True

    def problem(scenario: tuple[tuple[int, int], list[str]]) -> str | None:
        (workers, queue), ops = scenario
        if not valid(ops, workers, queue):
            return None  # a finish with no task running: not a scenario (shrinking made it)
        return pool_problem(pool_cls, workers, queue, ops, _pool_expected(workers, queue, ops))

    require(
        find_divergence(problem, generate, scenarios=scenarios, seed=seed, smaller=_same_setting)
    )


# --- exercise 6 ---------------------------------------------------------------------------


def grade_isolation(make_bulkheads: Any, *, scenarios: int = 25, seed: int = 1206) -> None:
    """Hidden grading for exercise 6: random steps on 2-3 dependencies, one reference each."""
    refuse_reference(make_bulkheads, "make_bulkheads")

    def guarded(limits: dict[str, int]) -> Any:
        made = make_bulkheads(limits)
        refuse_reference(made, "make_bulkheads(...)")
        return made

    def generate(rng: random.Random) -> tuple[dict[str, int], list[tuple[str, str]]]:
        names = ["payments", "inventory", "search"][: rng.randint(2, 3)]
        limits = {name: rng.randint(1, 3) for name in names}
        held = dict.fromkeys(names, 0)
        ops: list[tuple[str, str]] = []
        # one dependency saturates first, then the others are used
        first = rng.choice(names)
        for _ in range(limits[first] + 1):
            ops.append((first, "try_acquire"))
        held[first] = limits[first]
        for _ in range(rng.randint(1, 8)):
            name = rng.choice(names)
            if held[name] and rng.random() < 0.3:
                ops.append((name, "release"))
                held[name] -= 1
            else:
                ops.append((name, "try_acquire"))
                held[name] = min(limits[name], held[name] + 1)
        return limits, ops

    def problem(scenario: tuple[dict[str, int], list[tuple[str, str]]]) -> str | None:
        limits, ops = scenario
        models = {name: _reference(n) for name, n in limits.items()}
        return isolation_problem(guarded, limits, ops, models)

    require(
        find_divergence(problem, generate, scenarios=scenarios, seed=seed, smaller=_same_setting)
    )


# --- exercise 7 ---------------------------------------------------------------------------


def grade_littles_law(
    concurrency_needed: Any, bulkhead_size: Any, *, scenarios: int = 60, seed: int = 1207
) -> None:
    """Hidden grading for exercise 7: rates and latencies over four orders of magnitude."""
    refuse_reference(concurrency_needed, "concurrency_needed")
    refuse_reference(bulkhead_size, "bulkhead_size")
    fixed = [
        (1.0, 10.0, 1.5),  # at least 1
        (10.0, 50.0, 1.5),  # under one slot: the headroom first, then at least 1
        (20.0, 500.0, 1.5),  # the module's example: exactly 15, not rounded up to 16
        (40.0, 250.0, 2.0),  # exactly 20
        (8.0, 125.0, 3.0),  # exactly 3
    ]
    for rate, latency_ms, headroom in fixed:
        require(littles_law_problem(concurrency_needed, bulkhead_size, rate, latency_ms, headroom))

    def generate(rng: random.Random) -> tuple[float, float, float]:
        rate = float(rng.choice([1, 2, 5, 10, 20, 50, 100, 250, 1000, 5000]) * rng.randint(1, 9))
        latency_ms = float(rng.choice([1, 5, 10, 30, 50, 100, 250, 500, 2000]) * rng.randint(1, 5))
        headroom = rng.choice([1.0, 1.2, 1.25, 1.5, 2.0, 3.0])
        return rate, latency_ms, headroom

    require(
        find_divergence(
            lambda s: littles_law_problem(concurrency_needed, bulkhead_size, *s),
            generate,
            scenarios=scenarios,
            seed=seed,
        )
    )
