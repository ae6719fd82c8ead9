"""Visible checks and hidden grading for notebook 01, "Build a circuit breaker".

Each exercise of the notebook has a pair of functions here (student's piece ->
visible check, hidden grading):

1. ``RollingWindow`` -> :func:`check_window`, :func:`grade_window`
2. ``should_trip`` -> :func:`check_should_trip`, :func:`grade_should_trip`
3. ``MyBreaker.record_closed`` (CLOSED -> OPEN) -> :func:`check_closed`, :func:`grade_closed`
4. ``MyBreaker.call`` (fail fast, fallback) -> :func:`check_call`, :func:`grade_call`
5. ``MyBreaker.try_half_open`` (OPEN -> HALF_OPEN) -> :func:`check_cooldown`,
   :func:`grade_cooldown`
6. ``MyBreaker.take_trial_permit`` and ``record_trial`` -> :func:`check_half_open`,
   :func:`grade_half_open`
7. the whole ``MyBreaker`` vs the reference -> :func:`check_machine`, :func:`grade_machine`

A visible check runs a few fixed scenarios in well under a second and prints a
"✓" line. A grading function runs many seeded, generated scenarios; on the
first divergence it shrinks the scenario (drops calls while the divergence
stays) and raises ``AssertionError`` describing the *shortest* one it found.

**One bug costs one exercise.** Exercises 3-6 grade one piece of ``MyBreaker``
each and reach their starting state through the notebook's given helpers
(``trip(now)``, ``start_half_open()``), not through the other pieces. Exercise 3
is graded against *your own* ``RollingWindow`` and ``should_trip`` (a bug there
is exercise 1's or 2's), so only exercise 7, the whole machine against the
pristine reference :class:`course_lib.breaker.CircuitBreaker`, sees every bug.

Student code is only called, never trusted: classes are instantiated with
keyword arguments, objects are used through attributes and method calls, and
everything passed to them is plain data or a callable made here. Classes that
subclass, wrap or borrow the reference are refused
(:func:`course_lib.checks._pristine.refuse_reference`).

Thresholds used in grading are exact binary fractions (25%, 37.5%, 50%, ...),
and times are multiples of 0.25 s, so ``failures / calls >= threshold`` and
``failures >= threshold * calls`` (or ``now - opened_at >= cooldown``) agree
exactly: no float surprises at the boundaries the tests probe.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

from course_lib.checks._pristine import load_reference, refuse_reference
from course_lib.errors import CircuitOpenError
from course_lib.replay import (
    BreakerConfig,
    Step,
    describe,
    drive,
    random_scenario,
    state_name,
    steps_from_string,
)

__all__ = [
    "check_call",
    "check_closed",
    "check_cooldown",
    "check_half_open",
    "check_machine",
    "check_should_trip",
    "check_window",
    "grade_call",
    "grade_closed",
    "grade_cooldown",
    "grade_half_open",
    "grade_machine",
    "grade_should_trip",
    "grade_window",
    "shrink",
]

T = TypeVar("T")

#: Thresholds exactly representable in binary (see the module docstring).
THRESHOLDS = (0.25, 0.375, 0.5, 0.625, 0.75, 1.0)
#: Cooldowns (seconds) used by the generated scenarios.
COOLDOWNS = (1.0, 2.5, 5.0, 10.0, 30.0)


# --- shared helpers ---------------------------------------------------------------------


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


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _upper(state: Any) -> str:
    return state_name(state).upper()


def _value(obj: Any, name: str, owner: str) -> Any:
    """Read ``obj.name`` (calling it if it is a method), or fail with a plain message."""
    try:
        value = getattr(obj, name)
        return value() if callable(value) else value
    except AttributeError:
        raise AssertionError(
            f"{owner} has no attribute {name!r}; the exercise asks for one"
        ) from None
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        raise AssertionError(
            f"reading {name} of {owner} raised {type(error).__name__}: {error}"
        ) from error


def _outcomes(outcomes: Sequence[bool]) -> str:
    """``[True, False]`` -> ``"failure, success"`` (True = failed)."""
    if not outcomes:
        return "nothing"
    return ", ".join("failure" if failed else "success" for failed in outcomes)


def shrink(
    items: Sequence[T], still_fails: Callable[[list[T]], bool], *, budget: int = 400
) -> list[T]:
    """Make a failing sequence shorter while it keeps failing (a small delta-debugging pass).

    Tries removing chunks of ``n/2, n/4, ..., 1`` items, keeping every removal
    after which ``still_fails`` is still true, until no single item can go or
    ``budget`` attempts are spent.

    Args:
        items: A sequence for which ``still_fails`` is true.
        still_fails: The property to keep.
        budget: The most calls to ``still_fails``.

    Returns:
        A subsequence of ``items`` (order kept) that still fails.
    """
    current = list(items)
    chunk = max(1, len(current) // 2)
    while budget > 0:
        removed = False
        start = 0
        while start < len(current) and budget > 0:
            candidate = current[:start] + current[start + chunk :]
            budget -= 1
            if candidate != current and still_fails(candidate):
                current = candidate
                removed = True
            else:
                start += chunk
        if chunk == 1 and not removed:
            break
        chunk = max(1, chunk // 2) if not removed or chunk > 1 else 1
    return current


def _fails(problem: Callable[..., object], *args: Any) -> Callable[[list[Any]], bool]:
    """``seq -> problem(*args, seq) is not None``: the property :func:`shrink` keeps."""

    def still_fails(sequence: list[Any]) -> bool:
        return problem(*args, sequence) is not None

    return still_fails


def _new(cls: Any, what: str, **kwargs: Any) -> Any:
    try:
        obj = cls(**kwargs)
    except NotImplementedError:
        raise
    except TypeError as error:
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise AssertionError(f"{what}({args}) failed: {error}") from error
    refuse_reference(obj, what)
    return obj


# --- exercise 1: the rolling window -----------------------------------------------------


def _window_divergence(window_cls: Any, size: int, outcomes: Sequence[bool]) -> str | None:
    """Feed ``outcomes`` to a fresh window; describe the first difference from a deque, or None."""
    window = _new(window_cls, "RollingWindow", size=size)
    expected: deque[bool] = deque(maxlen=size)
    for count in range(len(outcomes) + 1):
        if count:
            try:
                window.record(outcomes[count - 1])
            except NotImplementedError:
                raise
            except Exception as error:  # noqa: BLE001 - reported to the student
                return (
                    f"recording {_outcomes(outcomes[:count])} in a RollingWindow({size}) raised "
                    f"{type(error).__name__}: {error}"
                )
            expected.append(outcomes[count - 1])
        calls, failures = len(expected), sum(expected)
        rate = failures / calls if calls else 0.0
        history = (
            f"after recording {_outcomes(outcomes[:count])} in a RollingWindow({size})"
            if count
            else f"in a new, empty RollingWindow({size})"
        )
        try:
            got = {
                name: _value(window, name, "your RollingWindow")
                for name in ("calls", "failures", "failure_rate")
            }
        except AssertionError as error:
            return f"{history}, {error}"
        last = "only the last call counts" if size == 1 else f"only the last {size} calls count"
        keep = f" ({last})" if count > size else ""
        if got["calls"] != calls:
            return f"{history}, your calls is {got['calls']!r}; expected {calls}{keep}"
        if got["failures"] != failures:
            return f"{history}, your failures is {got['failures']!r}; expected {failures}{keep}"
        if (
            not isinstance(got["failure_rate"], int | float)
            or abs(got["failure_rate"] - rate) > 1e-9
        ):
            why = (
                "0.0 when there are no calls"
                if not calls
                else f"failures / calls = {failures}/{calls}"
            )
            return (
                f"{history}, your failure_rate is {got['failure_rate']!r}; expected {rate:g} "
                f"({why})"
            )
    return None


def _window_rejects_bad_size(window_cls: Any) -> None:
    for bad in (0, -3):
        try:
            window_cls(size=bad)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        raise AssertionError(
            f"RollingWindow(size={bad}) should raise ValueError (a window needs room for at "
            "least one call)"
        )


def check_window(window_cls: Any) -> None:
    """Visible check for exercise 1: a few fixed sequences through ``RollingWindow``."""
    refuse_reference(window_cls, "RollingWindow")
    cases = [
        (3, []),
        (3, [True]),
        (3, [False, True, True]),
        (3, [True, True, False, False, False]),
        (1, [True, False]),
    ]
    for size, outcomes in cases:
        problem = _window_divergence(window_cls, size, outcomes)
        if problem:
            raise AssertionError(problem[0].upper() + problem[1:])
    _window_rejects_bad_size(window_cls)
    print(
        "✓ RollingWindow counts calls and failures, forgets the oldest beyond its size, and "
        "rate is 0.0 when empty"
    )


def grade_window(window_cls: Any, *, scenarios: int = 150, seed: int = 1401) -> None:
    """Hidden grading for exercise 1: seeded random sequences vs a ``deque(maxlen=size)``."""
    refuse_reference(window_cls, "RollingWindow")
    _window_rejects_bad_size(window_cls)
    rng = random.Random(seed)
    for _ in range(scenarios):
        size = rng.randint(1, 12)
        p_fail = rng.choice([0.2, 0.5, 0.8])
        outcomes = [rng.random() < p_fail for _ in range(rng.randint(0, 3 * size + 2))]
        if _window_divergence(window_cls, size, outcomes) is None:
            continue
        short = shrink(outcomes, _fails(_window_divergence, window_cls, size))
        # a smaller window often shows the same bug in fewer calls
        for smaller in range(1, size):
            if _window_divergence(window_cls, smaller, short) is not None:
                size = smaller
                short = shrink(short, _fails(_window_divergence, window_cls, smaller))
                break
        problem = _window_divergence(window_cls, size, short)
        assert problem is not None
        raise AssertionError(problem[0].upper() + problem[1:])


# --- exercise 2: the trip rule ----------------------------------------------------------


def _expected_trip(failures: int, calls: int, threshold: float, minimum_calls: int) -> bool:
    """resilience4j's rule: ``calls >= minimum_calls and failures / calls >= threshold``."""
    return calls >= minimum_calls and calls > 0 and Fraction(failures, calls) >= Fraction(threshold)


def _trip_problem(
    should_trip: Any, failures: int, calls: int, threshold: float, minimum_calls: int
) -> str | None:
    expected = _expected_trip(failures, calls, threshold, minimum_calls)
    try:
        got = should_trip(failures, calls, threshold, minimum_calls)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        return (
            f"should_trip({failures}, {calls}, {threshold:g}, {minimum_calls}) raised "
            f"{type(error).__name__}: {error}"
        )
    if not isinstance(got, bool):
        return (
            f"should_trip({failures}, {calls}, {threshold:g}, {minimum_calls}) returned {got!r}; "
            "it must return True or False"
        )
    if got == expected:
        return None
    call = (
        f"should_trip(failures={failures}, calls={calls}, threshold={threshold:g}, "
        f"minimum_calls={minimum_calls})"
    )
    if calls < minimum_calls:
        why = f"only {calls} of the minimum {minimum_calls} calls have been seen: no verdict yet"
    else:
        rate = f"{failures} of {calls} is a {_pct(failures / calls)} failure rate"
        if expected:
            why = (
                f"{rate}, which reaches the {_pct(threshold)} threshold (the rule is rate >= "
                "threshold)"
            )
        else:
            why = f"{rate}, below the {_pct(threshold)} threshold"
    return f"{call} returned {got}; expected {expected}: {why}"


def check_should_trip(should_trip: Any) -> None:
    """Visible check for exercise 2: the seed's 50% / minimum-10 examples, and the boundary."""
    refuse_reference(should_trip, "should_trip")
    for case in [
        (6, 10, 0.5, 10),
        (4, 10, 0.5, 10),
        (5, 10, 0.5, 10),
        (3, 3, 0.5, 10),
        (0, 0, 0.5, 1),
        (10, 10, 1.0, 10),
    ]:
        problem = _trip_problem(should_trip, *case)
        if problem:
            raise AssertionError(problem)
    print(
        "✓ should_trip waits for the minimum calls, then trips when the failure rate reaches "
        "the threshold"
    )


def grade_should_trip(should_trip: Any) -> None:
    """Hidden grading for exercise 2: every case up to 12 calls, simplest cases first."""
    refuse_reference(should_trip, "should_trip")
    for calls in range(0, 13):
        for failures in range(0, calls + 1):
            for minimum_calls in range(1, 13):
                for threshold in THRESHOLDS:
                    problem = _trip_problem(should_trip, failures, calls, threshold, minimum_calls)
                    if problem:
                        raise AssertionError(problem)


# --- exercise 3: CLOSED -> OPEN ---------------------------------------------------------


def _closed_divergence(
    breaker_cls: Any,
    window_cls: Any,
    should_trip: Any,
    config: BreakerConfig,
    outcomes: Sequence[bool],
) -> str | None:
    """Record ``outcomes`` in a CLOSED breaker; compare with the student's own window + rule."""
    breaker = _new(breaker_cls, "MyBreaker", **config.as_kwargs())
    window = _new(window_cls, "RollingWindow", size=config.window_size)
    for index, failed in enumerate(outcomes):
        now = float(index)
        if not breaker.allow(now):
            return (
                f"a new MyBreaker({_short(config)}) in state CLOSED rejected call {index + 1} "
                f"(after {_outcomes(outcomes[:index])}); a CLOSED breaker lets every call through"
            )
        if failed:
            breaker.record_failure(now)
        else:
            breaker.record_success(now)
        window.record(failed)
        failures = _value(window, "failures", "RollingWindow")
        calls = _value(window, "calls", "RollingWindow")
        expected = (
            "open"
            if should_trip(failures, calls, config.failure_rate_threshold, config.minimum_calls)
            else "closed"
        )
        got = state_name(getattr(breaker, "state", None))
        history = f"after {_outcomes(outcomes[: index + 1])} in a MyBreaker({_short(config)})"
        if got != expected:
            verdict = "says trip" if expected == "open" else "says stay closed"
            return (
                f"{history}, your breaker is {got.upper()}; expected {expected.upper()} "
                f"(your window has {failures} failures in {calls} calls, and your should_trip("
                f"{failures}, {calls}, {config.failure_rate_threshold:g}, "
                f"{config.minimum_calls}) {verdict}; "
                "check the verdict after every recorded call)"
            )
        if expected == "open":
            opened_at = getattr(breaker, "opened_at", None)
            if opened_at != now:
                return (
                    f"{history}, your breaker is OPEN but opened_at is {opened_at!r}; "
                    f"expected {now:g} "
                    "(trip with self.trip(now), so the cooldown starts now)"
                )
            return None
    return None


def _short(config: BreakerConfig) -> str:
    return (
        f"window_size={config.window_size}, "
        f"failure_rate_threshold={config.failure_rate_threshold:g}, "
        f"minimum_calls={config.minimum_calls}"
    )


def check_closed(breaker_cls: Any, window_cls: Any, should_trip: Any) -> None:
    """Visible check for exercise 3: three fixed runs of calls through a CLOSED breaker."""
    refuse_reference(breaker_cls, "MyBreaker")
    runs = [
        (BreakerConfig(), [False] * 4 + [True] * 6),
        (BreakerConfig(window_size=4, minimum_calls=4), [True, True, False, False]),
        (
            BreakerConfig(window_size=3, minimum_calls=2, failure_rate_threshold=1.0),
            [True, False, True, True, True],
        ),
    ]
    for config, outcomes in runs:
        problem = _closed_divergence(breaker_cls, window_cls, should_trip, config, outcomes)
        if problem:
            raise AssertionError(problem[0].upper() + problem[1:])
    print(
        "✓ MyBreaker records every call in its window while CLOSED and trips to OPEN when "
        "should_trip says so"
    )


def grade_closed(
    breaker_cls: Any, window_cls: Any, should_trip: Any, *, scenarios: int = 120, seed: int = 1403
) -> None:
    """Hidden grading for exercise 3: random runs from CLOSED to the trip, vs your own pieces."""
    refuse_reference(breaker_cls, "MyBreaker")
    rng = random.Random(seed)
    for _ in range(scenarios):
        config = _random_config(rng)
        p_fail = rng.choice([0.2, 0.5, 0.8])
        outcomes = [rng.random() < p_fail for _ in range(3 * config.window_size + 2)]
        if _closed_divergence(breaker_cls, window_cls, should_trip, config, outcomes) is None:
            continue
        short = shrink(
            outcomes, _fails(_closed_divergence, breaker_cls, window_cls, should_trip, config)
        )
        problem = _closed_divergence(breaker_cls, window_cls, should_trip, config, short)
        assert problem is not None
        raise AssertionError(problem[0].upper() + problem[1:])


# --- exercise 4: failing fast with a fallback -------------------------------------------


class _Downstream:
    """A protected function made by the grader: counts its calls, returns or raises."""

    def __init__(self, result: Any = None, error: type[Exception] | None = None) -> None:
        self.calls = 0
        self.result = result
        self.error = error

    def __call__(self) -> Any:
        self.calls += 1
        if self.error is not None:
            raise self.error("downstream failed (raised by the grader's test function)")
        return self.result


class _Fallback:
    def __init__(self, value: Any) -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> Any:
        self.calls += 1
        return self.value


def _call_problems(
    breaker_cls: Any, result: Any, fallback_value: Any, error: type[Exception]
) -> str | None:
    config = BreakerConfig(window_size=50, minimum_calls=50)  # no trip can happen in this test
    # allowed: the result comes back and the outcome is recorded
    breaker = _new(breaker_cls, "MyBreaker", **config.as_kwargs())
    fn = _Downstream(result)
    got = breaker.call(fn, 1.0)
    if fn.calls != 1:
        return f"a CLOSED breaker's call(fn, now) called fn {fn.calls} times; expected exactly once"
    if got != result:
        return f"a CLOSED breaker's call(fn, now) returned {got!r}; expected fn's result {result!r}"
    calls = _value(breaker.window, "calls", "the breaker's window")
    if calls != 1:
        return (
            f"after one successful call(fn, now) the breaker's window holds {calls!r} calls; "
            "expected 1 (record it)"
        )
    failing = _Downstream(error=error)
    try:
        breaker.call(failing, 2.0, fallback=fallback_value)
    except error:
        pass
    except NotImplementedError:
        raise
    except Exception as other:  # noqa: BLE001 - reported to the student
        return (
            f"when fn raises {error.__name__}, call(fn, now) raised {type(other).__name__}; "
            f"expected fn's own {error.__name__} to propagate (the fallback is for rejected "
            "calls only)"
        )
    else:
        return (
            f"when fn raises {error.__name__}, call(fn, now) returned instead of letting the "
            "error propagate"
        )
    failures = _value(breaker.window, "failures", "the breaker's window")
    calls = _value(breaker.window, "calls", "the breaker's window")
    if (calls, failures) != (2, 1):
        return (
            f"after one success and one failing call(fn, now), the window holds {failures!r} "
            "failures in "
            f"{calls!r} calls; expected 1 in 2 (record the failure, then re-raise)"
        )
    # rejected: fn is never called
    for fallback, expected, label in (
        (fallback_value, fallback_value, f"fallback={fallback_value!r}"),
        (_Fallback(fallback_value), fallback_value, "a callable fallback"),
    ):
        breaker = _new(breaker_cls, "MyBreaker", **config.as_kwargs())
        breaker.trip(10.0)
        fn = _Downstream(result)
        try:
            got = breaker.call(fn, 11.0, fallback=fallback)
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - reported to the student
            return (
                f"an OPEN breaker's call(fn, now, {label}) raised {type(error).__name__}; "
                f"expected it to return {expected!r} (only fallback=None means no fallback)"
            )
        if fn.calls:
            return (
                "an OPEN breaker's call(fn, now) called fn; an OPEN breaker must fail fast "
                "without calling it"
            )
        if got != expected:
            return (
                f"an OPEN breaker's call(fn, now, {label}) returned {got!r}; expected {expected!r}"
            )
        if isinstance(fallback, _Fallback) and fallback.calls != 1:
            return (
                f"an OPEN breaker's call(fn, now, {label}) called the fallback {fallback.calls} "
                "times; expected once"
            )
    breaker = _new(breaker_cls, "MyBreaker", **config.as_kwargs())
    breaker.trip(10.0)
    fn = _Downstream(result)
    try:
        got = breaker.call(fn, 11.0)
    except CircuitOpenError:
        pass
    except NotImplementedError:
        raise
    except Exception as other:  # noqa: BLE001 - reported to the student
        return (
            f"an OPEN breaker's call(fn, now) with no fallback raised {type(other).__name__}; "
            "expected CircuitOpenError"
        )
    else:
        return (
            f"an OPEN breaker's call(fn, now) with no fallback returned {got!r}; expected it to "
            "raise CircuitOpenError"
        )
    if fn.calls:
        return (
            "an OPEN breaker's call(fn, now) called fn; an OPEN breaker must fail fast without "
            "calling it"
        )
    return None


def check_call(breaker_cls: Any) -> None:
    """Visible check for exercise 4: call() when allowed, when fn raises, and when rejected."""
    refuse_reference(breaker_cls, "MyBreaker")
    problem = _call_problems(breaker_cls, "order #42", "cached checkout", ConnectionError)
    if problem:
        raise AssertionError(problem[0].upper() + problem[1:])
    print(
        "✓ call() runs fn when allowed and records it; when OPEN it returns the fallback or "
        "raises CircuitOpenError"
    )


def grade_call(breaker_cls: Any) -> None:
    """Hidden grading for exercise 4: more results, falsy fallbacks (0, "", []) and other errors."""
    refuse_reference(breaker_cls, "MyBreaker")
    cases = [
        (42, 0, TimeoutError),
        ("ok", "", ValueError),
        ([1, 2], [], RuntimeError),
        (None, False, OSError),
        ({"id": 7}, {"queued": True}, KeyError),
    ]
    for result, fallback, error in cases:
        problem = _call_problems(breaker_cls, result, fallback, error)
        if problem:
            raise AssertionError(problem[0].upper() + problem[1:])


# --- exercise 5: OPEN -> HALF_OPEN after the cooldown -----------------------------------


def _cooldown_problem(
    breaker_cls: Any, cooldown: float, opened_at: float, probes: Sequence[float]
) -> str | None:
    """Trip at ``opened_at``, then call ``try_half_open`` at each offset in ``probes``.

    ``try_half_open(now)`` is what the skeleton's ``allow(now)`` calls while OPEN;
    calling it directly keeps exercise 6 (the permit that ``allow`` would take
    next) out of exercise 5's grade.
    """
    config = BreakerConfig(cooldown=cooldown, half_open_max_calls=3)
    breaker = _new(breaker_cls, "MyBreaker", **config.as_kwargs())
    breaker.trip(opened_at)
    for offset in probes:
        now = opened_at + offset
        breaker.try_half_open(now)
        got = state_name(getattr(breaker, "state", None))
        expected = "half_open" if offset >= cooldown else "open"
        if got != expected:
            asked = ", ".join(
                f"t={opened_at + p:g}s" for p in probes[: list(probes).index(offset) + 1]
            )
            rule = (
                f"{offset:g}s after the trip the cooldown of {cooldown:g}s is over (now >= "
                "opened_at + cooldown)"
                if expected == "half_open"
                else f"only {offset:g}s of the {cooldown:g}s cooldown have passed"
            )
            return (
                f"a breaker that tripped at t={opened_at:g}s with cooldown={cooldown:g} was asked "
                f"try_half_open(now) at "
                f"{asked}: it is now {got.upper()}; expected {expected.upper()} because {rule}"
            )
        if expected == "half_open":
            return None
    return None


def check_cooldown(breaker_cls: Any) -> None:
    """Visible check for exercise 5: the seed's 30 s cooldown, just before, at and after it."""
    refuse_reference(breaker_cls, "MyBreaker")
    for cooldown, opened_at, probes in [
        (30.0, 100.0, [0.0, 10.0, 29.0, 30.0]),
        (5.0, 0.0, [4.0, 6.0]),
    ]:
        problem = _cooldown_problem(breaker_cls, cooldown, opened_at, probes)
        if problem:
            raise AssertionError(problem[0].upper() + problem[1:])
    print("✓ an OPEN breaker rejects calls until the cooldown is over, then moves to HALF_OPEN")


def grade_cooldown(breaker_cls: Any, *, scenarios: int = 120, seed: int = 1405) -> None:
    """Hidden grading for exercise 5: random cooldowns and trip times, probing the boundary."""
    refuse_reference(breaker_cls, "MyBreaker")
    rng = random.Random(seed)
    for _ in range(scenarios):
        cooldown = rng.choice(COOLDOWNS + (0.25, 60.0))
        opened_at = rng.randint(0, 4000) / 4
        probes = sorted(
            {rng.randint(0, int(cooldown * 4) - 1) / 4 for _ in range(rng.randint(0, 4))}
        )
        probes.append(rng.choice([cooldown, cooldown, cooldown + rng.randint(1, 40) / 4]))
        if _cooldown_problem(breaker_cls, cooldown, opened_at, probes) is None:
            continue
        short = shrink(probes, _fails(_cooldown_problem, breaker_cls, cooldown, opened_at))
        problem = _cooldown_problem(breaker_cls, cooldown, opened_at, short)
        assert problem is not None
        raise AssertionError(problem[0].upper() + problem[1:])
    # a second trip restarts the clock: the cooldown counts from the *latest* trip
    breaker = _new(breaker_cls, "MyBreaker", **BreakerConfig(cooldown=10.0).as_kwargs())
    breaker.trip(0.0)
    breaker.trip(50.0)
    breaker.try_half_open(55.0)
    if state_name(getattr(breaker, "state", None)) != "open":
        raise AssertionError(
            "A breaker that tripped at t=0s and again at t=50s (cooldown 10s) moved to "
            "HALF_OPEN at t=55s; "
            "expected OPEN: the cooldown counts from the latest trip (self.opened_at)"
        )


# --- exercise 6: HALF_OPEN trials -------------------------------------------------------

#: A half-open action: "ask" = allow(now); True/False = a permitted trial failed (True) / succeeded.
_Action = str | bool


def _half_open_problem(breaker_cls: Any, max_calls: int, actions: Sequence[_Action]) -> str | None:
    """Start in HALF_OPEN (``start_half_open()``), replay ``actions``, compare with the rule."""
    config = BreakerConfig(cooldown=30.0, half_open_max_calls=max_calls)
    breaker = _new(breaker_cls, "MyBreaker", **config.as_kwargs())
    breaker.trip(0.0)
    breaker.start_half_open()
    permits, successes = 0, 0
    done: list[str] = []
    setting = f"in HALF_OPEN with half_open_max_calls={max_calls}"
    for index, action in enumerate(actions):
        now = 30.0 + index
        before = f"{setting}, after {', '.join(done) if done else 'no trial yet'}"
        if action == "ask":
            got_allow = breaker.allow(now)
            expected_allow = permits < max_calls
            if bool(got_allow) != expected_allow:
                why = (
                    f"only {max_calls} trial call{'s' if max_calls != 1 else ''} may go through"
                    if not expected_allow
                    else f"only {permits} of the {max_calls} trial permits were handed out"
                )
                return (
                    f"{before}: allow() returned {got_allow!r}; expected {expected_allow} ({why})"
                )
            permits += expected_allow
            done.append(f"allow() -> {expected_allow}")
            state_expected = "half_open"
        else:
            failed = bool(action)
            (breaker.record_failure if failed else breaker.record_success)(now)
            done.append(f"a trial {'failure' if failed else 'success'} at t={now:g}s")
            if failed:
                state_expected = "open"
            else:
                successes += 1
                state_expected = "closed" if successes >= max_calls else "half_open"
        got = state_name(getattr(breaker, "state", None))
        after = f"{setting}, after {', '.join(done)}"
        if got != state_expected:
            why = {
                "open": "any failed trial sends the breaker back to OPEN",
                "closed": f"all {max_calls} trials succeeded",
                "half_open": f"only {successes} of the {max_calls} trials have succeeded so far",
            }[state_expected]
            return (
                f"{after}: your breaker is {got.upper()}; expected {state_expected.upper()} ({why})"
            )
        if state_expected == "open":
            opened_at = getattr(breaker, "opened_at", None)
            if opened_at != now:
                return (
                    f"{after}: the breaker is OPEN again but opened_at is {opened_at!r}; "
                    f"expected {now:g} "
                    "(a failed trial restarts the cooldown: use self.trip(now))"
                )
        if state_expected != "half_open":
            return None
    return None


def _random_actions(rng: random.Random, max_calls: int) -> list[_Action]:
    actions: list[_Action] = []
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


def _valid_actions(actions: Sequence[_Action], max_calls: int) -> bool:
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


def _valid_half_open_problem(
    breaker_cls: Any, max_calls: int, actions: Sequence[_Action]
) -> str | None:
    """Like :func:`_half_open_problem`, but None for action lists shrinking made invalid."""
    if not _valid_actions(actions, max_calls):
        return None
    return _half_open_problem(breaker_cls, max_calls, actions)


def check_half_open(breaker_cls: Any) -> None:
    """Visible check for exercise 6: permits, all trials succeed, one trial fails."""
    refuse_reference(breaker_cls, "MyBreaker")
    runs: list[tuple[int, list[_Action]]] = [
        (3, ["ask", "ask", "ask", "ask"]),
        (3, ["ask", False, "ask", False, "ask", False]),
        (3, ["ask", False, "ask", True]),
    ]
    for max_calls, actions in runs:
        problem = _half_open_problem(breaker_cls, max_calls, actions)
        if problem:
            raise AssertionError(problem[0].upper() + problem[1:])
    print(
        "✓ HALF_OPEN lets exactly half_open_max_calls trials through; all succeed -> CLOSED, "
        "one fails -> OPEN"
    )


def grade_half_open(breaker_cls: Any, *, scenarios: int = 150, seed: int = 1406) -> None:
    """Hidden grading for exercise 6: random interleavings of permits and trial outcomes."""
    refuse_reference(breaker_cls, "MyBreaker")
    rng = random.Random(seed)
    for _ in range(scenarios):
        max_calls = rng.randint(1, 4)
        actions = _random_actions(rng, max_calls)
        if _half_open_problem(breaker_cls, max_calls, actions) is None:
            continue
        short = shrink(actions, _fails(_valid_half_open_problem, breaker_cls, max_calls))
        problem = _half_open_problem(breaker_cls, max_calls, short)
        assert problem is not None
        raise AssertionError(problem[0].upper() + problem[1:])


# --- exercise 7: the whole machine against the reference ---------------------------------


def _reference_factory() -> Callable[..., Any]:
    module = load_reference("breaker")
    cls: Callable[..., Any] = module.CircuitBreaker
    return cls


@dataclass(frozen=True, slots=True)
class _Divergence:
    index: int
    message: str


class _Decisions:
    """The part of a breaker exercise 7 grades: ``allow``, ``record_*`` and ``state``.

    :func:`course_lib.replay.drive` also reads ``failure_rate`` when a breaker has
    one; hiding it keeps a bug in the window's ``failure_rate`` (exercise 1, not
    used by the breaker's decisions) out of this exercise's grade.
    """

    __slots__ = ("_breaker",)

    def __init__(self, breaker: Any) -> None:
        self._breaker = breaker

    def allow(self, now: float) -> bool:
        return bool(self._breaker.allow(now))

    def record_success(self, now: float) -> None:
        self._breaker.record_success(now)

    def record_failure(self, now: float) -> None:
        self._breaker.record_failure(now)

    @property
    def state(self) -> Any:
        return getattr(self._breaker, "state", None)


def _machine_divergence(
    breaker_cls: Any, reference: Callable[..., Any], config: BreakerConfig, steps: Sequence[Step]
) -> _Divergence | None:
    expected = drive(_Decisions(reference(**config.as_kwargs())), steps)
    student = _Decisions(_new(breaker_cls, "MyBreaker", **config.as_kwargs()))
    for index, step in enumerate(steps):
        try:
            (got,) = drive(student, [step])
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - reported to the student
            return _Divergence(index, f"your breaker raised {type(error).__name__}: {error}")
        want = expected[index]
        if (got.allowed, got.state_after) != (want.allowed, want.state_after):
            verb = {True: "let it through", False: "rejected it"}
            return _Divergence(
                index,
                f"your breaker {verb[got.allowed]} and is {got.state_after.upper()}; "
                f"the reference {verb[want.allowed]} and is {want.state_after.upper()}",
            )
    return None


def _machine_message(config: BreakerConfig, steps: Sequence[Step], found: _Divergence) -> str:
    earlier = list(steps[: found.index])
    if not earlier:
        history = "no earlier calls"
    elif len(earlier) <= 8:  # short enough to list every call with its time
        history = ", ".join(str(step) for step in earlier)
    else:
        history = describe(earlier)
    return (
        f"With {config}: after {history}, the call at t={steps[found.index].time:g}s "
        f"(it would be a {'success' if steps[found.index].ok else 'failure'}): {found.message}"
    )


def _check_scenarios(
    breaker_cls: Any,
    reference: Callable[..., Any],
    runs: Sequence[tuple[BreakerConfig, list[Step]]],
) -> None:
    for config, steps in runs:
        found = _machine_divergence(breaker_cls, reference, config, steps)
        if found is None:
            continue
        prefix = list(steps[: found.index + 1])
        short = shrink(prefix, _fails(_machine_divergence, breaker_cls, reference, config))
        final = _machine_divergence(breaker_cls, reference, config, short)
        assert final is not None
        raise AssertionError(_machine_message(config, short, final))


def check_machine(breaker_cls: Any, *, reference: Callable[..., Any] | None = None) -> None:
    """Visible check for exercise 7: one story with the seed's 50% and 30 s, vs the reference."""
    refuse_reference(breaker_cls, "MyBreaker")
    ref = reference or _reference_factory()
    # trip at t=9 (6 of 10 failed), rejected at t=15, trial at t=40 fails, trials at t=75..77 pass
    story = steps_from_string("ssssffffff |5s |24sf |33sss")
    _check_scenarios(breaker_cls, ref, [(BreakerConfig(), story)])
    print(
        "✓ your breaker makes the same decisions as the reference on the trip-cooldown-trial story"
    )


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
    ref = reference or _reference_factory()
    rng = random.Random(seed)
    runs = []
    for _ in range(scenarios):
        config = _random_config(rng)
        steps = random_scenario(rng.randrange(2**32), 40, max_gap=2 * config.cooldown)
        runs.append((config, [Step(round(s.time * 4) / 4, s.ok) for s in steps]))
    _check_scenarios(breaker_cls, ref, runs)
