"""Visible checks for notebook 01, "Build a circuit breaker".

One check per exercise (the student's piece -> its check):

1. ``RollingWindow`` -> :func:`check_window`
2. ``should_trip`` -> :func:`check_should_trip`
3. ``MyBreaker.record_closed`` (CLOSED -> OPEN) -> :func:`check_closed`
4. ``MyBreaker.call`` (fail fast, fallback) -> :func:`check_call`
5. ``MyBreaker.try_half_open`` (OPEN -> HALF_OPEN) -> :func:`check_cooldown`
6. ``MyBreaker.take_trial_permit`` and ``record_trial`` -> :func:`check_half_open`
7. the whole ``MyBreaker`` against the reference -> :func:`check_machine`

A check runs a few fixed scenarios, one for every rule and warning the
exercise's text states, and prints a ``✓`` line; on the first mistake it raises
:class:`~course_lib.checks.kit.CheckFailed` with a plain-words message.

Each exercise's *problem* function (``window_problem``, ``trip_problem``, ...)
runs the student's code on one scenario and returns what went wrong, or
``None``. The visible checks here run them on fixed scenarios; the hidden
graders (instructor side, not shipped to students) run the same problem
functions on many generated scenarios (:func:`course_lib.checks.kit.find_divergence`).

**One bug costs one exercise.** Exercises 3-6 each test one piece of
``MyBreaker`` and reach their starting state through the skeleton's given
helpers (``trip(now)``, ``start_half_open()``), not through the other pieces.
Exercise 3 is tested against the student's *own* ``RollingWindow`` and
``should_trip``, so only exercise 7 sees every bug.

Student code is only called, never trusted: classes are instantiated with
keyword arguments, everything passed to them is plain data or a callable made
here, and every value compared goes through :func:`~course_lib.checks.kit.plain`.
Thresholds are exact binary fractions (25%, 37.5%, 50%, ...) and times are
multiples of 0.25 s, so ``failures / calls >= threshold`` and
``now >= opened_at + cooldown`` have no float surprises at the boundaries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from course_lib.breaker_vocabulary import TRIP_RULE, disagreement, display_name, state_name
from course_lib.checks.kit import CheckFailed, call, plain, require
from course_lib.errors import CircuitOpenError
from course_lib.replay import BreakerConfig, Step, describe, drive, steps_from_string

__all__ = [
    "Action",
    "call_problem",
    "check_call",
    "check_closed",
    "check_cooldown",
    "check_half_open",
    "check_machine",
    "check_should_trip",
    "check_window",
    "closed_problem",
    "cooldown_problem",
    "half_open_problem",
    "machine_problem",
    "new",
    "state_of",
    "trip_problem",
    "window_problem",
    "window_size_problem",
]


# --- shared helpers ---------------------------------------------------------------------


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _outcomes(outcomes: Sequence[bool]) -> str:
    """``[True, False]`` -> ``"failure, success"`` (True = failed)."""
    if not outcomes:
        return "nothing"
    return ", ".join("failure" if failed else "success" for failed in outcomes)


def new(cls: Any, what: str, *args: Any, **kwargs: Any) -> Any:
    """Make an instance of a student's class, or fail naming the call."""
    shown = ", ".join([*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return call(f"{what}({shown})", cls, *args, **kwargs)


def _read(obj: Any, name: str, owner: str, kind: str) -> Any:
    """``obj.name`` (called if it is a method) as a plain value of ``kind``, or fail."""
    try:
        value = getattr(obj, name)
    except AttributeError:
        raise CheckFailed(f"{owner} has no attribute {name!r}; the exercise asks for one") from None
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        raise CheckFailed(f"reading {name} of {owner} raised {type(error).__name__}") from None
    if callable(value):
        value = call(f"{owner}.{name}()", value)
    return plain(value, f"{owner}.{name}", kind)


def state_of(breaker: Any) -> str:
    """The breaker's ``state`` attribute, normalised (``"closed"``, ``"open"``, ``"half_open"``)."""
    return state_name(_read(breaker, "state", "MyBreaker", "text"))


# --- exercise 1: the rolling window -----------------------------------------------------


def window_problem(window_cls: Any, size: int, outcomes: Sequence[bool]) -> str | None:
    """Feed ``outcomes`` to a new ``window_cls(size)``; the first difference from a deque."""
    window = new(window_cls, "RollingWindow", size)
    expected: deque[bool] = deque(maxlen=size)
    owner = "your RollingWindow"
    for count in range(len(outcomes) + 1):
        if count:
            recorded = _outcomes(outcomes[:count])
            call(
                f"recording {recorded} in a RollingWindow({size})",
                window.record,
                outcomes[count - 1],
            )
            expected.append(outcomes[count - 1])
            history = f"after recording {recorded} in a RollingWindow({size})"
        else:
            history = f"in a new, empty RollingWindow({size})"
        calls, failures = len(expected), sum(expected)
        rate = failures / calls if calls else 0.0
        try:
            got_calls = _read(window, "calls", owner, "whole number")
            got_failures = _read(window, "failures", owner, "whole number")
            got_rate = _read(window, "failure_rate", owner, "number")
        except CheckFailed as error:
            return f"{history}: {error}"
        last = "only the last call counts" if size == 1 else f"only the last {size} calls count"
        keep = f" ({last})" if count > size else ""
        if got_calls != calls:
            return f"{history}, your calls is {got_calls!r}; expected {calls}{keep}"
        if got_failures != failures:
            return f"{history}, your failures is {got_failures!r}; expected {failures}{keep}"
        if abs(got_rate - rate) > 1e-9:
            why = (
                "0.0 when there are no calls"
                if not calls
                else f"failures / calls = {failures}/{calls}"
            )
            return f"{history}, your failure_rate is {got_rate!r}; expected {rate:g} ({why})"
    return None


def window_size_problem(window_cls: Any, bad: int) -> str | None:
    """``RollingWindow(bad)`` for a size below 1 must raise ValueError naming ``size``."""
    try:
        window_cls(bad)
    except ValueError as error:
        if "size" in str(error):
            return None
        return (
            f"RollingWindow({bad}) raised ValueError({str(error)!r}); its message should name "
            "the parameter, size, so the caller knows which setting is wrong"
        )
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        return f"RollingWindow({bad}) raised {type(error).__name__}; expected ValueError"
    return (
        f"RollingWindow({bad}) should raise ValueError (a window needs room for at least one call)"
    )


def check_window(window_cls: Any) -> None:
    """Visible check for exercise 1: the exercise's example, eviction, the empty window, size 0."""
    cases: list[tuple[int, list[bool]]] = [
        (3, []),
        (3, [True]),
        (3, [True, True, False, False]),  # the exercise's example: 1 failure in 3 calls
        (3, [True, True, False, False, False]),
        (1, [True, False]),
    ]
    for size, outcomes in cases:
        require(window_problem(window_cls, size, outcomes))
    for bad in (0, -3):
        require(window_size_problem(window_cls, bad))
    print(
        "✓ RollingWindow counts calls and failures, forgets the oldest beyond its size, its rate "
        "is 0.0 when empty, and a size below 1 is a ValueError naming size"
    )


# --- exercise 2: the trip rule ----------------------------------------------------------


def expected_trip(failures: int, calls: int, threshold: float, minimum_calls: int) -> bool:
    """The course's rule (:data:`~course_lib.breaker_vocabulary.TRIP_RULE`), in exact fractions."""
    return calls >= minimum_calls and calls > 0 and Fraction(failures, calls) >= Fraction(threshold)


def trip_problem(
    should_trip: Any, failures: int, calls: int, threshold: float, minimum_calls: int
) -> str | None:
    """Ask ``should_trip`` about one case; what is wrong with its answer, or None."""
    shown = f"should_trip({failures}, {calls}, {threshold:g}, {minimum_calls})"
    got = plain(
        call(shown, should_trip, failures, calls, threshold, minimum_calls),
        f"{shown}'s answer",
        "True or False",
    )
    expected = expected_trip(failures, calls, threshold, minimum_calls)
    if got == expected:
        return None
    if calls < minimum_calls:
        why = f"only {calls} of the minimum {minimum_calls} calls have been seen: no verdict yet"
    else:
        rate = f"{failures} of {calls} is a {_pct(failures / calls)} failure rate"
        if expected:
            why = f"{rate}, which reaches the {_pct(threshold)} threshold (the rule: {TRIP_RULE})"
        else:
            why = f"{rate}, below the {_pct(threshold)} threshold"
    named = (
        f"should_trip(failures={failures}, calls={calls}, threshold={threshold:g}, "
        f"minimum_calls={minimum_calls})"
    )
    return f"{named} returned {got}; expected {expected}: {why}"


def check_should_trip(should_trip: Any) -> None:
    """Visible check for exercise 2: the exercise's table, and the 100% threshold."""
    for case in [
        (6, 10, 0.5, 10),
        (4, 10, 0.5, 10),
        (5, 10, 0.5, 10),  # the boundary: 50% reaches 50%
        (3, 3, 0.5, 10),  # before the minimum: no verdict
        (0, 0, 0.5, 1),
        (10, 10, 1.0, 10),  # a 100% threshold can trip
    ]:
        require(trip_problem(should_trip, *case))
    print(
        "✓ should_trip waits for the minimum calls, then trips when the failure rate reaches "
        "the threshold"
    )


# --- exercise 3: CLOSED -> OPEN ---------------------------------------------------------


def _settings(config: BreakerConfig) -> str:
    return (
        f"window_size={config.window_size}, "
        f"failure_rate_threshold={config.failure_rate_threshold:g}, "
        f"minimum_calls={config.minimum_calls}"
    )


def closed_problem(
    breaker_cls: Any,
    window_cls: Any,
    should_trip: Any,
    config: BreakerConfig,
    outcomes: Sequence[bool],
) -> str | None:
    """Record ``outcomes`` in a CLOSED breaker; compare with the student's own window + rule."""
    breaker = new(breaker_cls, "MyBreaker", **config.as_kwargs())
    window = new(window_cls, "RollingWindow", config.window_size)
    setting = f"MyBreaker({_settings(config)})"
    for index, failed in enumerate(outcomes):
        now = float(index)
        if not call(f"a new {setting}'s allow({now:g})", breaker.allow, now):
            return (
                f"a new {setting} in state CLOSED rejected call {index + 1} (after "
                f"{_outcomes(outcomes[:index])}); a CLOSED breaker lets every call through"
            )
        method = breaker.record_failure if failed else breaker.record_success
        call(f"{setting}.record_{'failure' if failed else 'success'}({now:g})", method, now)
        window.record(failed)
        failures = _read(window, "failures", "RollingWindow", "whole number")
        calls = _read(window, "calls", "RollingWindow", "whole number")
        verdict = plain(
            should_trip(failures, calls, config.failure_rate_threshold, config.minimum_calls),
            "should_trip's answer",
            "True or False",
        )
        expected = "open" if verdict else "closed"
        got = state_of(breaker)
        history = f"after {_outcomes(outcomes[: index + 1])} in a {setting}"
        if got != expected:
            says = "says trip" if verdict else "says stay closed"
            return (
                f"{history}, your breaker is {display_name(got)}; expected "
                f"{display_name(expected)} (your window has {failures} failures in {calls} "
                f"calls, and your should_trip({failures}, {calls}, "
                f"{config.failure_rate_threshold:g}, {config.minimum_calls}) {says}; "
                "ask it after every recorded call, successes included)"
            )
        if expected == "open":
            opened_at = plain(
                getattr(breaker, "opened_at", None), "MyBreaker.opened_at", "number", none=True
            )
            if opened_at != now:
                return (
                    f"{history}, your breaker is OPEN but opened_at is {opened_at!r}; expected "
                    f"{now:g} (trip with self.trip(now), so the cooldown starts now)"
                )
            return None
    return None


def check_closed(breaker_cls: Any, window_cls: Any, should_trip: Any) -> None:
    """Visible check for exercise 3: a trip on a failure, a trip on a success, a small window."""
    runs = [
        (BreakerConfig(), [False] * 4 + [True] * 6),
        # the exercise's warning: the minimum is reached on a success, at 50%: trip then
        (BreakerConfig(), [True] * 5 + [False] * 5),
        (BreakerConfig(window_size=4, minimum_calls=4), [True, True, False, False]),
        (
            BreakerConfig(window_size=3, minimum_calls=2, failure_rate_threshold=1.0),
            [True, False, True, True, True],
        ),
    ]
    for config, outcomes in runs:
        require(closed_problem(breaker_cls, window_cls, should_trip, config, outcomes))
    print(
        "✓ MyBreaker records every call in its window while CLOSED and trips to OPEN when "
        "should_trip says so, on a success too"
    )


# --- exercise 4: failing fast with a fallback -------------------------------------------


class Downstream:
    """A protected function made by the checks: counts its calls, returns or raises."""

    MESSAGE = "downstream failed (raised by the test function of the check)"

    def __init__(self, result: Any = None, error: type[Exception] | None = None) -> None:
        self.calls = 0
        self.result = result
        self.error = error

    def __call__(self) -> Any:
        self.calls += 1
        if self.error is not None:
            raise self.error(self.MESSAGE)
        return self.result


class Fallback:
    """A callable fallback made by the checks: counts its calls, returns ``value``."""

    def __init__(self, value: Any) -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> Any:
        self.calls += 1
        return self.value


def _window_of(breaker: Any) -> Any:
    try:
        return breaker.window
    except AttributeError:
        raise CheckFailed(
            "MyBreaker has no attribute 'window'; the skeleton's __init__ makes one"
        ) from None


def _window_counts(breaker: Any) -> tuple[Any, Any]:
    window = _window_of(breaker)
    return (
        _read(window, "failures", "the breaker's window", "whole number"),
        _read(window, "calls", "the breaker's window", "whole number"),
    )


def _call_allowed_problem(
    breaker_cls: Any, result: Any, fallback_value: Any, error: type[Exception]
) -> str | None:
    config = BreakerConfig(window_size=50, minimum_calls=50)  # no trip can happen here
    breaker = new(breaker_cls, "MyBreaker", **config.as_kwargs())
    fn = Downstream(result)
    got = call("a CLOSED breaker's call(fn, now)", breaker.call, fn, 1.0)
    if fn.calls != 1:
        return f"a CLOSED breaker's call(fn, now) called fn {fn.calls} times; expected exactly once"
    if type(got) is not type(result) or got != result:
        return f"a CLOSED breaker's call(fn, now) returned {got!r}; expected fn's result {result!r}"
    if _window_counts(breaker) != (0, 1):
        failures, calls = _window_counts(breaker)
        return (
            f"after one successful call(fn, now) the breaker's window holds {failures} failures "
            f"in {calls} calls; expected 0 in 1 (record the success)"
        )
    failing = Downstream(error=error)
    try:
        breaker.call(failing, 2.0, fallback=fallback_value)
    except NotImplementedError:
        raise
    except error as raised:
        if Downstream.MESSAGE not in str(raised):
            return (
                f"when fn raises {error.__name__}, call(fn, now) raised a new {error.__name__} "
                f"({str(raised)!r}); expected fn's own exception to propagate unchanged"
            )
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
    if _window_counts(breaker) != (1, 2):
        failures, calls = _window_counts(breaker)
        return (
            f"after one success and one failing call(fn, now), the window holds {failures} "
            f"failures in {calls} calls; expected 1 in 2 (record the failure, then re-raise)"
        )
    return None


def _call_rejected_problem(breaker_cls: Any, result: Any, fallback_value: Any) -> str | None:
    config = BreakerConfig(window_size=50, minimum_calls=50)
    for fallback, label in (
        (fallback_value, f"fallback={fallback_value!r}"),
        (Fallback(fallback_value), "a callable fallback"),
    ):
        breaker = new(breaker_cls, "MyBreaker", **config.as_kwargs())
        breaker.trip(10.0)
        fn = Downstream(result)
        try:
            got = breaker.call(fn, 11.0, fallback=fallback)
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - reported to the student
            return (
                f"an OPEN breaker's call(fn, now, {label}) raised {type(error).__name__}; "
                f"expected it to return {fallback_value!r} (only fallback=None means no fallback)"
            )
        if fn.calls:
            return (
                "an OPEN breaker's call(fn, now) called fn; an OPEN breaker must fail fast "
                "without calling it"
            )
        if type(got) is not type(fallback_value) or got != fallback_value:
            return (
                f"an OPEN breaker's call(fn, now, {label}) returned {got!r}; expected "
                f"{fallback_value!r}"
            )
        if isinstance(fallback, Fallback) and fallback.calls != 1:
            return (
                f"an OPEN breaker's call(fn, now, {label}) called the fallback "
                f"{_plural(fallback.calls, 'time')}; expected once"
            )
    breaker = new(breaker_cls, "MyBreaker", **config.as_kwargs())
    breaker.trip(10.0)
    fn = Downstream(result)
    try:
        got = breaker.call(fn, 11.0)
    except CircuitOpenError as error:
        if "open" not in str(error).lower():
            return (
                f"an OPEN breaker's call(fn, now) raised CircuitOpenError({str(error)!r}); its "
                "message should say that the circuit is open"
            )
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


def call_problem(
    breaker_cls: Any, result: Any, fallback_value: Any, error: type[Exception]
) -> str | None:
    """``call`` when allowed (fn returns, fn raises ``error``) and when rejected (fallbacks)."""
    return _call_allowed_problem(breaker_cls, result, fallback_value, error) or _call_rejected_problem(
        breaker_cls, result, fallback_value
    )


def check_call(breaker_cls: Any) -> None:
    """Visible check for exercise 4: allowed, fn raises, rejected with a value, 0, or nothing."""
    for case in [
        ("order #42", "cached checkout", ConnectionError),
        (7, 0, TimeoutError),  # a falsy fallback is still a fallback
    ]:
        require(call_problem(breaker_cls, *case))
    print(
        "✓ call() runs fn when allowed and records it; when OPEN it returns the fallback (0 "
        "too) or raises CircuitOpenError"
    )


# --- exercise 5: OPEN -> HALF_OPEN after the cooldown -----------------------------------


def cooldown_problem(
    breaker_cls: Any, cooldown: float, opened_at: float, probes: Sequence[float]
) -> str | None:
    """Trip at ``opened_at``, then call ``try_half_open`` at each offset in ``probes``.

    ``try_half_open(now)`` is what the skeleton's ``allow(now)`` calls while OPEN;
    calling it directly keeps exercise 6 (the permit ``allow`` would take next)
    out of exercise 5.
    """
    config = BreakerConfig(cooldown=cooldown, half_open_max_calls=3)
    breaker = new(breaker_cls, "MyBreaker", **config.as_kwargs())
    breaker.trip(opened_at)
    for number, offset in enumerate(probes, start=1):
        now = opened_at + offset
        call(f"try_half_open({now:g})", breaker.try_half_open, now)
        got = state_of(breaker)
        expected = "half_open" if offset >= cooldown else "open"
        if got != expected:
            asked = ", ".join(f"t={opened_at + p:g}s" for p in probes[:number])
            rule = (
                f"{offset:g}s after the trip the cooldown of {cooldown:g}s is over (now >= "
                "opened_at + cooldown)"
                if expected == "half_open"
                else f"only {offset:g}s of the {cooldown:g}s cooldown have passed"
            )
            return (
                f"a breaker that tripped at t={opened_at:g}s with cooldown={cooldown:g} was asked "
                f"try_half_open(now) at {asked}: it is now {display_name(got)}; expected "
                f"{display_name(expected)} because {rule}"
            )
        if expected == "half_open":
            return None
    return None


def check_cooldown(breaker_cls: Any) -> None:
    """Visible check for exercise 5: the exercise's 30 s cooldown, just before, at and after it."""
    for cooldown, opened_at, probes in [
        (30.0, 100.0, [0.0, 10.0, 29.75, 30.0]),
        (5.0, 0.0, [4.0, 6.0]),
    ]:
        require(cooldown_problem(breaker_cls, cooldown, opened_at, probes))
    print("✓ an OPEN breaker rejects calls until the cooldown is over, then moves to HALF_OPEN")


# --- exercise 6: HALF_OPEN trials -------------------------------------------------------

#: A half-open action: "ask" = allow(now); True/False = a permitted trial failed (True) / succeeded.
Action = str | bool


def half_open_problem(breaker_cls: Any, max_calls: int, actions: Sequence[Action]) -> str | None:
    """Start in HALF_OPEN (``start_half_open()``), replay ``actions``, compare with the rule.

    Two failures are in the window before the trip, so a breaker that closes
    without ``reset()`` (which empties the window) is caught.
    """
    config = BreakerConfig(cooldown=30.0, half_open_max_calls=max_calls)
    breaker = new(breaker_cls, "MyBreaker", **config.as_kwargs())
    for _ in range(2):
        call("recording a failure in MyBreaker.window", _window_of(breaker).record, True)
    breaker.trip(0.0)
    breaker.start_half_open()
    permits, successes = 0, 0
    done: list[str] = []
    setting = f"in HALF_OPEN with half_open_max_calls={max_calls}"
    for index, action in enumerate(actions):
        now = 30.0 + index
        before = f"{setting}, after {', '.join(done) if done else 'no trial yet'}"
        if action == "ask":
            got_allow = bool(call(f"allow({now:g})", breaker.allow, now))
            expected_allow = permits < max_calls
            if got_allow != expected_allow:
                why = (
                    f"only {_plural(max_calls, 'trial call')} may go through"
                    if not expected_allow
                    else f"only {permits} of the {max_calls} trial permits were handed out"
                )
                return f"{before}: allow() returned {got_allow}; expected {expected_allow} ({why})"
            permits += expected_allow
            done.append(f"allow() -> {expected_allow}")
            state_expected = "half_open"
        else:
            failed = bool(action)
            method = breaker.record_failure if failed else breaker.record_success
            call(f"record_{'failure' if failed else 'success'}({now:g})", method, now)
            done.append(f"a trial {'failure' if failed else 'success'} at t={now:g}s")
            if failed:
                state_expected = "open"
            else:
                successes += 1
                state_expected = "closed" if successes >= max_calls else "half_open"
        got = state_of(breaker)
        after = f"{setting}, after {', '.join(done)}"
        if got != state_expected:
            why = {
                "open": "any failed trial sends the breaker back to OPEN",
                "closed": f"all {max_calls} trials succeeded",
                "half_open": f"only {successes} of the {max_calls} trials have succeeded so far",
            }[state_expected]
            return (
                f"{after}: your breaker is {display_name(got)}; expected "
                f"{display_name(state_expected)} ({why})"
            )
        if state_expected == "open":
            opened_at = plain(
                getattr(breaker, "opened_at", None), "MyBreaker.opened_at", "number", none=True
            )
            if opened_at != now:
                return (
                    f"{after}: the breaker is OPEN again but opened_at is {opened_at!r}; "
                    f"expected {now:g} (a failed trial restarts the cooldown: use self.trip(now))"
                )
            return None
        if state_expected == "closed":
            failures, calls = _window_counts(breaker)
            if calls:
                return (
                    f"{after}: the breaker is CLOSED but its window still holds {failures} "
                    f"failures in {calls} calls from before the trip; expected an empty window "
                    "(close with self.reset())"
                )
            return None
    return None


def check_half_open(breaker_cls: Any) -> None:
    """Visible check for exercise 6: permits, all trials succeed, one trial fails."""
    runs: list[tuple[int, list[Action]]] = [
        (3, ["ask", "ask", "ask", "ask"]),
        (3, ["ask", False, "ask", False, "ask", False]),
        (3, ["ask", False, "ask", True]),
    ]
    for max_calls, actions in runs:
        require(half_open_problem(breaker_cls, max_calls, actions))
    print(
        "✓ HALF_OPEN lets exactly half_open_max_calls trials through; all succeed -> CLOSED "
        "with an empty window, one fails -> OPEN"
    )


# --- exercise 7: the whole machine against the reference ---------------------------------


class Decisions:
    """The part of a breaker exercise 7 compares: ``allow``, ``record_*`` and ``state``.

    :func:`course_lib.replay.drive` also reads ``failure_rate`` when a breaker has
    one; hiding it keeps a bug in the window's ``failure_rate`` (exercise 1, not
    used by the breaker's decisions) out of this exercise. The state is read as
    plain text.
    """

    __slots__ = ("_breaker", "_plain")

    def __init__(self, breaker: Any, *, plain_state: bool = True) -> None:
        self._breaker = breaker
        self._plain = plain_state

    def allow(self, now: float) -> bool:
        return bool(self._breaker.allow(now))

    def record_success(self, now: float) -> None:
        self._breaker.record_success(now)

    def record_failure(self, now: float) -> None:
        self._breaker.record_failure(now)

    @property
    def state(self) -> Any:
        if self._plain:
            return state_of(self._breaker)
        return self._breaker.state


@dataclass(frozen=True, slots=True)
class _Divergence:
    index: int
    message: str


def _first_divergence(
    breaker_cls: Any, reference: Callable[..., Any], config: BreakerConfig, steps: Sequence[Step]
) -> _Divergence | None:
    expected = drive(Decisions(reference(**config.as_kwargs()), plain_state=False), steps)
    student = Decisions(new(breaker_cls, "MyBreaker", **config.as_kwargs()))
    for index, step in enumerate(steps):
        try:
            (got,) = drive(student, [step])
        except (NotImplementedError, CheckFailed):
            raise
        except Exception as error:  # noqa: BLE001 - reported to the student
            return _Divergence(index, f"your breaker raised {type(error).__name__}: {error}")
        want = expected[index]
        if got.allowed != want.allowed:
            verb = {True: "let it through", False: "rejected it"}
            return _Divergence(
                index,
                f"your breaker {verb[got.allowed]} and is {display_name(got.state_after)}; "
                f"the reference {verb[want.allowed]} and is {display_name(want.state_after)}",
            )
        if got.state_after != want.state_after:
            return _Divergence(
                index,
                disagreement(
                    f"both {'let it through' if got.allowed else 'rejected it'}",
                    yours=got.state_after,
                    reference=want.state_after,
                ),
            )
    return None


def machine_problem(
    breaker_cls: Any, reference: Callable[..., Any], config: BreakerConfig, steps: Sequence[Step]
) -> str | None:
    """Drive a student breaker and a reference through ``steps``; the first disagreement or None."""
    found = _first_divergence(breaker_cls, reference, config, steps)
    if found is None:
        return None
    earlier = list(steps[: found.index])
    if not earlier:
        history = "no earlier calls"
    elif len(earlier) <= 8:  # short enough to list every call with its time
        history = ", ".join(str(step) for step in earlier)
    else:
        history = describe(earlier)
    step = steps[found.index]
    return (
        f"With {config}: after {history}, the call at t={step.time:g}s "
        f"(it would be a {'success' if step.ok else 'failure'}): {found.message}"
    )


def check_machine(breaker_cls: Any) -> None:
    """Visible check for exercise 7: one story with the notes' 50% and 30 s, vs the reference."""
    from course_lib.breaker import CircuitBreaker

    # trip at t=9 (6 of 10 failed), rejected at t=15, trial at t=40 fails, trials at t=75..77 pass
    story = steps_from_string("ssssffffff |5s |24sf |33sss")
    require(machine_problem(breaker_cls, CircuitBreaker, BreakerConfig(), story))
    print(
        "✓ your breaker makes the same decisions as the reference on the trip-cooldown-trial story"
    )
