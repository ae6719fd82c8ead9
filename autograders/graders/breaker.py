"""Hidden grading for notebook 01, "Build a circuit breaker" (instructor side, not in the wheel).

One grader per exercise; each refuses code that borrows the reference
(:func:`~autograders.graders._pristine.refuse_reference`), then runs the
exercise's problem function from :mod:`course_lib.checks.breaker` on many seeded,
generated scenarios (:func:`~course_lib.checks.kit.find_divergence`) and fails
with the shortest scenario that goes wrong:

1. :func:`grade_window`: random outcome sequences vs a ``deque(maxlen=size)``
2. :func:`grade_should_trip`: every case up to 12 calls, simplest first
3. :func:`grade_closed`: random runs from CLOSED to the trip, vs the student's own pieces
4. :func:`grade_call`: more results, falsy fallbacks (0, "", [], False) and other errors
5. :func:`grade_cooldown`: random cooldowns and trip times, probing the boundary
6. :func:`grade_half_open`: random interleavings of permits and trial outcomes
7. :func:`grade_machine`: random scenarios with random settings vs the pristine reference
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from autograders.graders._pristine import load_reference, refuse_reference
from course_lib.checks.breaker import (
    Action,
    call_problem,
    closed_problem,
    cooldown_problem,
    half_open_problem,
    machine_problem,
    new,
    state_of,
    trip_problem,
    window_problem,
    window_size_problem,
)
from course_lib.checks.kit import fail, find_divergence, require, shorter_sequences
from course_lib.replay import BreakerConfig, Step, random_scenario

__all__ = [
    "grade_call",
    "grade_closed",
    "grade_cooldown",
    "grade_half_open",
    "grade_machine",
    "grade_should_trip",
    "grade_window",
]

#: Thresholds exactly representable in binary (see :mod:`course_lib.checks.breaker`).
THRESHOLDS = (0.25, 0.375, 0.5, 0.625, 0.75, 1.0)
#: Cooldowns (seconds) used by the generated scenarios.
COOLDOWNS = (1.0, 2.5, 5.0, 10.0, 30.0)


def _random_config(rng: random.Random) -> BreakerConfig:
    """A random valid configuration, with thresholds and cooldowns exact in binary."""
    size = rng.randint(1, 12)
    return BreakerConfig(
        window_size=size,
        failure_rate_threshold=rng.choice(THRESHOLDS),
        minimum_calls=rng.randint(1, size),
        cooldown=rng.choice(COOLDOWNS),
        half_open_max_calls=rng.randint(1, 4),
    )


def _guarded(cls: Any, what: str) -> Callable[..., Any]:
    """Makes instances of the student's ``cls``, refusing each one that holds the reference."""

    def make(*args: Any, **kwargs: Any) -> Any:
        made = cls(*args, **kwargs)
        refuse_reference(made, what)
        return made

    return make


def _last_shorter(scenario: tuple[Any, list[Any]]) -> Iterator[tuple[Any, list[Any]]]:
    """Shrink candidates for ``(setting, sequence)`` scenarios: the same setting, a shorter list."""
    setting, items = scenario
    for shorter in shorter_sequences(items):
        yield setting, shorter


# --- exercise 1 ---------------------------------------------------------------------------


def grade_window(window_cls: Any, *, scenarios: int = 150, seed: int = 1401) -> None:
    """Hidden grading for exercise 1: seeded random sequences vs a ``deque(maxlen=size)``."""
    refuse_reference(window_cls, "RollingWindow")
    window_cls = _guarded(window_cls, "RollingWindow")
    for bad in (0, -1, -7):
        require(window_size_problem(window_cls, bad))

    def generate(rng: random.Random) -> tuple[int, list[bool]]:
        size = rng.randint(1, 12)
        p_fail = rng.choice([0.2, 0.5, 0.8])
        return size, [rng.random() < p_fail for _ in range(rng.randint(0, 3 * size + 2))]

    def smaller(scenario: tuple[int, list[bool]]) -> Iterator[tuple[int, list[bool]]]:
        size, outcomes = scenario
        yield from ((s, outcomes) for s in range(1, size))  # a smaller window first
        yield from _last_shorter(scenario)

    require(
        find_divergence(
            lambda s: window_problem(window_cls, *s),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=smaller,
        )
    )


# --- exercise 2 ---------------------------------------------------------------------------


def grade_should_trip(should_trip: Any) -> None:
    """Hidden grading for exercise 2: every case up to 12 calls, simplest cases first."""
    refuse_reference(should_trip, "should_trip")
    for calls in range(0, 13):
        for failures in range(0, calls + 1):
            for minimum_calls in range(1, 13):
                for threshold in THRESHOLDS:
                    require(trip_problem(should_trip, failures, calls, threshold, minimum_calls))


# --- exercise 3 ---------------------------------------------------------------------------


def grade_closed(
    breaker_cls: Any, window_cls: Any, should_trip: Any, *, scenarios: int = 120, seed: int = 1403
) -> None:
    """Hidden grading for exercise 3: random runs from CLOSED to the trip, vs your own pieces."""
    refuse_reference(breaker_cls, "MyBreaker")
    breaker_cls = _guarded(breaker_cls, "MyBreaker")
    refuse_reference(window_cls, "RollingWindow")
    window_cls = _guarded(window_cls, "RollingWindow")
    refuse_reference(should_trip, "should_trip")

    def generate(rng: random.Random) -> tuple[BreakerConfig, list[bool]]:
        config = _random_config(rng)
        p_fail = rng.choice([0.2, 0.5, 0.8])
        return config, [rng.random() < p_fail for _ in range(3 * config.window_size + 2)]

    require(
        find_divergence(
            lambda s: closed_problem(breaker_cls, window_cls, should_trip, *s),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=_last_shorter,
        )
    )


# --- exercise 4 ---------------------------------------------------------------------------


def grade_call(breaker_cls: Any) -> None:
    """Hidden grading for exercise 4: more results, falsy fallbacks (0, "", [], False), errors."""
    refuse_reference(breaker_cls, "MyBreaker")
    breaker_cls = _guarded(breaker_cls, "MyBreaker")
    cases = [
        (42, 0, TimeoutError),
        ("ok", "", ValueError),
        ([1, 2], [], RuntimeError),
        (None, False, OSError),
        ({"id": 7}, {"queued": True}, KeyError),
        ("order #42", "cached checkout", ConnectionError),
    ]
    for result, fallback, error in cases:
        require(call_problem(breaker_cls, result, fallback, error))


# --- exercise 5 ---------------------------------------------------------------------------


def grade_cooldown(breaker_cls: Any, *, scenarios: int = 120, seed: int = 1405) -> None:
    """Hidden grading for exercise 5: random cooldowns and trip times, probing the boundary."""
    refuse_reference(breaker_cls, "MyBreaker")
    breaker_cls = _guarded(breaker_cls, "MyBreaker")

    def generate(rng: random.Random) -> tuple[tuple[float, float], list[float]]:
        cooldown = rng.choice(COOLDOWNS + (0.25, 60.0))
        opened_at = rng.randint(0, 4000) / 4
        probes = sorted(
            {rng.randint(0, int(cooldown * 4) - 1) / 4 for _ in range(rng.randint(0, 4))}
        )
        probes.append(rng.choice([cooldown, cooldown, cooldown + rng.randint(1, 40) / 4]))
        return (cooldown, opened_at), probes

    require(
        find_divergence(
            lambda s: cooldown_problem(breaker_cls, s[0][0], s[0][1], s[1]),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=_last_shorter,
        )
    )
    # a second trip restarts the clock: the cooldown counts from the *latest* trip
    breaker = new(breaker_cls, "MyBreaker", **BreakerConfig(cooldown=10.0).as_kwargs())
    breaker.trip(0.0)
    breaker.trip(50.0)
    breaker.try_half_open(55.0)
    if state_of(breaker) != "open":
        fail(
            "a breaker that tripped at t=0s and again at t=50s (cooldown 10s) moved to HALF_OPEN "
            "at t=55s; expected OPEN: the cooldown counts from the latest trip (self.opened_at)"
        )


# --- exercise 6 ---------------------------------------------------------------------------


def _random_actions(rng: random.Random, max_calls: int) -> list[Action]:
    actions: list[Action] = []
    outstanding = 0
    p_fail = rng.choice([0.0, 0.1, 0.3])
    for _ in range(2 * max_calls + 3):
        if outstanding and rng.random() < 0.6:
            actions.append(rng.random() < p_fail)
            outstanding -= 1
        else:
            actions.append("ask")
            outstanding += 1
    return actions


def _valid_actions(actions: Sequence[Action], max_calls: int) -> bool:
    """Records only for trials that were let through (shrinking must keep that true)."""
    permits = outstanding = 0
    for action in actions:
        if action == "ask":
            if permits < max_calls:
                permits += 1
                outstanding += 1
        elif outstanding == 0:
            return False
        else:
            outstanding -= 1
    return True


def grade_half_open(breaker_cls: Any, *, scenarios: int = 150, seed: int = 1406) -> None:
    """Hidden grading for exercise 6: random interleavings of permits and trial outcomes."""
    refuse_reference(breaker_cls, "MyBreaker")
    breaker_cls = _guarded(breaker_cls, "MyBreaker")

    def generate(rng: random.Random) -> tuple[int, list[Action]]:
        max_calls = rng.randint(1, 4)
        return max_calls, _random_actions(rng, max_calls)

    def problem(scenario: tuple[int, list[Action]]) -> str | None:
        max_calls, actions = scenario
        if not _valid_actions(actions, max_calls):  # shrinking made an impossible story
            return None
        return half_open_problem(breaker_cls, max_calls, actions)

    require(
        find_divergence(problem, generate, scenarios=scenarios, seed=seed, smaller=_last_shorter)
    )


# --- exercise 7 ---------------------------------------------------------------------------


def _pristine_breaker() -> Callable[..., Any]:
    cls: Callable[..., Any] = load_reference("breaker").CircuitBreaker
    return cls


def grade_machine(
    breaker_cls: Any,
    *,
    reference: Callable[..., Any] | None = None,
    scenarios: int = 150,
    seed: int = 1407,
) -> None:
    """Hidden grading for exercise 7: seeded random scenarios, step by step, vs the reference.

    Args:
        breaker_cls: The student's ``MyBreaker``.
        reference: Makes reference breakers from the five settings; by default
            the pristine :class:`course_lib.breaker.CircuitBreaker`.
        scenarios: How many random (configuration, scenario) pairs.
        seed: Seeds the configurations and scenarios.
    """
    refuse_reference(breaker_cls, "MyBreaker")
    breaker_cls = _guarded(breaker_cls, "MyBreaker")
    ref = reference or _pristine_breaker()

    def generate(rng: random.Random) -> tuple[BreakerConfig, list[Step]]:
        config = _random_config(rng)
        steps = random_scenario(rng.randrange(2**32), 40, max_gap=2 * config.cooldown)
        return config, [Step(round(s.time * 4) / 4, s.ok) for s in steps]

    require(
        find_divergence(
            lambda s: machine_problem(breaker_cls, ref, *s),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=_last_shorter,
        )
    )
