"""Hidden grading for notebook 00, "Cascading failures" (instructor side, not in the wheel).

One grader per exercise. Each refuses code that borrows the reference
(:func:`~autograders.graders._pristine.refuse_reference`), then runs the
exercise's problem function from :mod:`course_lib.checks.cascade` on seeded,
generated cases, comparing with a PRISTINE copy of :mod:`course_lib.cascade`
(:func:`~autograders.graders._pristine.load_reference`), and fails with the
smallest case that goes wrong (:func:`~course_lib.checks.kit.find_divergence`,
shrinking towards round, small numbers):

1. :func:`grade_occupancy`: Little's law over random rates and latencies
2. :func:`grade_exhaustion`: pools that fill, are already full, or never fill
3. :func:`grade_first_out`: random chains of 1 to 5 services
4. :func:`grade_timeout`: the student's timeout in the simulation, on two more seeds
5. :func:`grade_drain`: spikes with and without a backlog, and pools that never drain

Exercises 1, 2 and 5 are plain arithmetic: every case costs one call into the
student's sandbox, so a few hundred cases grade in well under a second.
Exercise 3 gives the student's function the pristine ``time_to_exhaustion``,
so a mistake in exercise 2 costs exercise 2 only.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from autograders.graders._pristine import load_reference, refuse_reference
from course_lib.checks.cascade import (
    drain_problem,
    exhaustion_problem,
    first_out_problem,
    occupancy_problem,
    timeout_problem,
)
from course_lib.checks.kit import find_divergence, require

__all__ = [
    "TIMEOUT_SEEDS",
    "grade_drain",
    "grade_exhaustion",
    "grade_first_out",
    "grade_occupancy",
    "grade_timeout",
]

TIMEOUT_SEEDS = (2, 3)
"""Seeds of the simulation runs that grade exercise 4 (the notebook shows seed 1)."""

Case = tuple[float, ...]
C = TypeVar("C")


def _reference() -> Any:
    return load_reference("cascade")


def _rounder(value: float) -> Iterator[float]:
    """Rounder, smaller versions of a positive number, simplest first."""
    seen: set[float] = set()
    for candidate in (1, 10, 100, 1000, round(value, -2), round(value, -1), round(value)):
        number = float(candidate)
        if 0 < number < value and number not in seen:
            seen.add(number)
            yield int(number) if number.is_integer() else number


def _simpler(valid: Callable[[Case], bool]) -> Callable[[Case], Iterator[Case]]:
    """Shrink candidates for a tuple of numbers: one field made rounder/smaller, still valid."""

    def candidates(case: Case) -> Iterator[Case]:
        for i, value in enumerate(case):
            for smaller in _rounder(value):
                shrunk = (*case[:i], smaller, *case[i + 1 :])
                if valid(shrunk):
                    yield shrunk

    return candidates


def _find(
    problem: Callable[[C], str | None],
    generate: Callable[[random.Random], C],
    *,
    scenarios: int,
    seed: int,
    smaller: Callable[[C], Iterator[C]] | None = None,
) -> None:
    require(find_divergence(problem, generate, scenarios=scenarios, seed=seed, smaller=smaller))


# --- exercise 1 ---------------------------------------------------------------------------


def grade_occupancy(occupancy: Any, *, scenarios: int = 150, seed: int = 1001) -> None:
    """Hidden grading for exercise 1: random rates (per second) and latencies (ms)."""
    refuse_reference(occupancy, "occupancy")
    ref = _reference()

    def generate(rng: random.Random) -> Case:
        rate = rng.choice([rng.randint(1, 500), rng.randint(1, 400) / 4])
        return rate, rng.choice([rng.randint(1, 5000), rng.randint(0, 400) / 8])

    _find(
        lambda c: occupancy_problem(occupancy, c[0], c[1], reference=ref),
        generate,
        scenarios=scenarios,
        seed=seed,
        smaller=_simpler(lambda c: c[0] > 0),
    )


# --- exercise 2 ---------------------------------------------------------------------------


def _valid_exhaustion(case: Case) -> bool:
    workers, rate, old, new = case
    return float(workers).is_integer() and workers >= 1 and rate > 0 and 0 <= old <= new


def grade_exhaustion(time_to_exhaustion: Any, *, scenarios: int = 200, seed: int = 1002) -> None:
    """Hidden grading for exercise 2: pools that fill, that are full already, that never fill."""
    refuse_reference(time_to_exhaustion, "time_to_exhaustion")
    ref = _reference()

    def generate(rng: random.Random) -> Case:
        workers = rng.randint(1, 200)
        rate = rng.choice([rng.randint(1, 400), rng.randint(1, 400) / 4])
        # latencies around the pool's limit workers/rate, so all three outcomes come up
        limit_ms = 1000 * workers / rate
        old = round(limit_ms * rng.choice([0.05, 0.3, 0.7, 0.95, 1.2]), rng.choice([0, 1]))
        new = round(old + limit_ms * rng.choice([0.1, 0.5, 1.0, 3.0, 20.0]), rng.choice([0, 1]))
        return workers, rate, old, max(old, new)

    def problem(case: Case) -> str | None:
        workers, rate, old, new = case
        return exhaustion_problem(time_to_exhaustion, int(workers), rate, old, new, reference=ref)

    _find(problem, generate, scenarios=scenarios, seed=seed, smaller=_simpler(_valid_exhaustion))


# --- exercise 3 ---------------------------------------------------------------------------

Chain = tuple[tuple[tuple[str, int, float], ...], float, float]
_NAMES = ("gateway", "orders", "payments", "ledger", "fraud-check")


def _as_chain(services: tuple[tuple[str, int, float], ...]) -> list[dict[str, Any]]:
    return [{"name": n, "workers": w, "latency_ms": lat} for n, w, lat in services]


def grade_first_out(first_to_run_out: Any, *, scenarios: int = 60, seed: int = 1003) -> None:
    """Hidden grading for exercise 3: random chains of 1 to 5 services, spikes big and small."""
    refuse_reference(first_to_run_out, "first_to_run_out")
    ref = _reference()

    def generate(rng: random.Random) -> Chain:
        size = rng.randint(1, 5)
        services = tuple(
            (_NAMES[i], rng.choice([5, 8, 10, 20, 50, 100]), float(rng.choice([2, 5, 10, 30, 80])))
            for i in range(size)
        )
        rate = float(rng.choice([10, 20, 50, 100]))
        extra = float(rng.choice([50, 200, 1000, 2000, 5000]))
        return services, rate, extra

    def smaller(case: Chain) -> Iterator[Chain]:
        services, rate, extra = case
        for i in range(len(services)):  # fewer services (the spike moves to the new last one)
            if len(services) > 1:
                yield services[:i] + services[i + 1 :], rate, extra

    _find(
        lambda c: first_out_problem(first_to_run_out, _as_chain(c[0]), c[1], c[2], reference=ref),
        generate,
        scenarios=scenarios,
        seed=seed,
        smaller=smaller,
    )


# --- exercise 4 ---------------------------------------------------------------------------


def grade_timeout(timeout_ms: Any, still_broken: Any) -> None:
    """Hidden grading for exercise 4: the same judgement on seeds the notebook does not show.

    A timeout that only just works on the notebook's run (no headroom in orders'
    pool) can fail on another seed: Little's law is about averages, and a pool
    sized to the average is full half the time.
    """
    for seed in TIMEOUT_SEEDS:
        require(timeout_problem(timeout_ms, still_broken, seed))


# --- exercise 5 ---------------------------------------------------------------------------


def _valid_drain(case: Case) -> bool:
    workers, rate, normal, spike, duration = case
    return (
        float(workers).is_integer()
        and workers >= 1
        and rate > 0
        and 0 < normal <= spike
        and duration >= 0
    )


def grade_drain(drain_time: Any, *, scenarios: int = 200, seed: int = 1005) -> None:
    """Hidden grading for exercise 5: backlogs small and huge, none at all, and never drained."""
    refuse_reference(drain_time, "drain_time")
    ref = _reference()

    def generate(rng: random.Random) -> Case:
        workers = rng.randint(1, 100)
        normal = float(rng.choice([5, 10, 20, 50, 100, 200]))
        healthy = workers * 1000 / normal
        rate = round(healthy * rng.choice([0.1, 0.5, 0.8, 0.95, 1.1]), rng.choice([0, 2]))
        spike = normal * rng.choice([1.5, 2, 5, 10, 40])
        return workers, max(rate, 0.25), normal, spike, float(rng.choice([1, 5, 20, 30, 120]))

    def problem(case: Case) -> str | None:
        workers, rate, normal, spike, duration = case
        return drain_problem(drain_time, int(workers), rate, normal, spike, duration, reference=ref)

    _find(problem, generate, scenarios=scenarios, seed=seed, smaller=_simpler(_valid_drain))
