"""Checks for notebook 03, "Retries, backoff and jitter": one fixed scenario per exercise.

Each exercise has a *problem function* (one scenario in, ``None`` or a sentence
out) that the visible check runs once and the hidden grader
(``autograders.graders.retry``) runs on many seeded scenarios, comparing the
student's code with the course's reference:

* :func:`port_problem` / :func:`async_problem`: the port of the module's
  ``retryWithBackoff``, sync and asyncio. The check passes in the operation,
  ``sleep``, ``random`` and ``retryable``, records every call, every wait and
  the outcome, and compares the record with :class:`course_lib.retry.Retrying`
  run on the same script and the same random numbers.
* :func:`schedules_problem`: the four schedules vs :mod:`course_lib.backoff`.
* :func:`should_retry_problem`: which (method, status) pairs are worth retrying.
* :func:`bucket_problem`, :func:`ratio_problem`: the two retry budgets vs
  :mod:`course_lib.budget`.

The async check drives the student's coroutine itself, one ``send`` at a time,
like an event loop would: the operation's and ``sleep``'s awaitables are
``asyncio.sleep(0, result)`` made *beside the student's code* (imported through
the coroutine's own frame), so each of them gives control back exactly once. A
function that blocks (``time.sleep``) or forgets to ``await`` the sleep never
gives control back while it waits, and the record shows it.
"""

from __future__ import annotations

import importlib
import inspect
import math
import random
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from course_lib.checks.kit import call, fail, plain, require

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "PortScenario",
    "async_problem",
    "bucket_problem",
    "chain_problem",
    "check_async",
    "check_bucket",
    "check_port",
    "check_ratio",
    "check_schedules",
    "check_should_retry",
    "describe_port",
    "ratio_problem",
    "record_port",
    "record_port_async",
    "reference_port",
    "reference_port_async",
    "schedules_problem",
    "should_retry_problem",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""HTTP methods whose repetition has the same effect as one call (RFC 9110 9.2.2, minus TRACE)."""
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses that say "try again later": a timeout, throttling, a transient server error."""

#: ``(settings, outcomes, seed)``: keyword settings given to the function (a missing one
#: means its default), what each call of the operation does ("fail", "ok" or "fatal"; a
#: call past the end fails) and the seed of the random numbers.
PortScenario = tuple[dict[str, float | int], tuple[str, ...], int]

_TOLERANCE = 1e-9
Event = tuple[Any, ...]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_TOLERANCE, abs_tol=1e-12)


# --- the port: recording what a retry function does -------------------------------------


def _outcome(outcomes: Sequence[str], number: int) -> str:
    return outcomes[number - 1] if number <= len(outcomes) else "fail"


class _Operation:
    """The operation a check passes in: call ``k`` does ``outcomes[k-1]``; all is recorded."""

    def __init__(
        self, outcomes: Sequence[str], events: list[Event], ready: Callable[[Any], Any] | None
    ) -> None:
        self.outcomes = outcomes
        self.events = events
        self.ready = ready
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        number = self.calls
        if number > 50:
            fail("the operation was called more than 50 times: does your loop ever stop?")
        outcome = _outcome(self.outcomes, number)
        self.events.append(("call", number, outcome))
        if outcome == "fail":
            raise ConnectionError(f"connection reset (call {number})")
        if outcome == "fatal":
            raise ValueError(f"404 Not Found (call {number})")
        value = f"ok (call {number})"
        return value if self.ready is None else self.ready(value)


def _retryable(error: Any) -> bool:
    """The ``retryable`` a check passes in: everything but the "404" errors."""
    return "404" not in str(error)


def _error_name(error: BaseException) -> str:
    names = [c.__name__ for c in type(error).__mro__]
    return "RetryError" if "RetryError" in names else type(error).__name__


def _finish(events: list[Event], error: BaseException | None, value: Any) -> None:
    if error is None:
        events.append(("return", value))
    else:
        events.append(("raise", _error_name(error), str(error)))


def record_port(fn: Callable[..., Any], scenario: PortScenario) -> list[Event]:
    """Run a sync retry function on a scenario; return what it did, step by step.

    Steps: ``("call", k, outcome)``, ``("sleep", seconds)``, then ``("return",
    value)`` or ``("raise", error class, message)``.
    """
    settings, outcomes, seed = scenario
    events: list[Event] = []
    operation = _Operation(outcomes, events, None)

    def sleep(seconds: Any) -> None:
        events.append(("sleep", plain(seconds, "the seconds passed to sleep", "number")))
        if len(events) > 200:
            fail("your function slept more than 100 times: does your loop ever stop?")

    try:
        value = fn(
            operation, sleep=sleep, random=random.Random(seed).random, retryable=_retryable,
            **settings,
        )  # fmt: skip
    except (NotImplementedError, AssertionError):
        raise
    except Exception as error:  # noqa: BLE001 - what it raised is part of the record
        _finish(events, error, None)
    else:
        _finish(events, None, plain(value, "what your function returned", "text"))
    return events


def reference_port(retrying_cls: Any, scenario: PortScenario) -> list[Event]:
    """What the reference (:class:`course_lib.retry.Retrying`) does on the scenario."""
    settings, outcomes, seed = scenario
    events: list[Event] = []
    retrying = retrying_cls(
        attempts=settings.get("max_attempts", 3),
        base=settings.get("base_delay", 0.1),
        cap=settings.get("max_delay", 3.0),
        retry_on=_retryable,
        sleep=lambda seconds: events.append(("sleep", seconds)),
        rng=random.Random(seed),
    )
    try:
        value = retrying.call(_Operation(outcomes, events, None))
    except Exception as error:  # noqa: BLE001
        _finish(events, error, None)
    else:
        _finish(events, None, value)
    return events


def _step(event: Event) -> str:
    kind = event[0]
    if kind == "call":
        how = {
            "fail": "fails (ConnectionError)",
            "ok": "succeeds",
            "fatal": "fails (ValueError 404)",
        }
        return f"call {event[1]} {how[event[2]]}"
    if kind == "sleep":
        return f"sleep({event[1]:.6g})"
    if kind == "yield":
        return "gives control to the event loop"
    if kind == "return":
        return f"returns {event[1]!r}"
    return f"raises {event[1]}({event[2]!r})"


def _same(a: Event, b: Event) -> bool:
    if a[0] != b[0] or len(a) != len(b):
        return False
    if a[0] == "sleep":
        return _close(a[1], b[1])
    return a == b


def describe_port(scenario: PortScenario, is_async: bool = False) -> str:
    """The scenario in words: the settings given and what the operation's calls do."""
    settings, outcomes, seed = scenario
    given = ", ".join(f"{k}={v!r}" for k, v in settings.items()) or "the defaults"
    shown = [{"fail": "fails", "ok": "succeeds", "fatal": "fails with a 404"}[o] for o in outcomes]
    return (
        f"with {given}, an operation whose calls go: {', '.join(shown) or 'fails'} "
        f"(every later call fails) and random=random.Random({seed}).random"
    )


def _diverge(
    expected: list[Event], got: list[Event], scenario: PortScenario, name: str, is_async: bool
) -> str | None:
    for i in range(max(len(expected), len(got))):
        want = expected[i] if i < len(expected) else None
        have = got[i] if i < len(got) else None
        if want is not None and have is not None and _same(want, have):
            continue
        done = "; ".join(_step(e) for e in got[:i]) or "(nothing yet)"
        want_s = _step(want) if want is not None else "stop"
        have_s = _step(have) if have is not None else "stop"
        hint = _hint(want, have, got[:i], is_async)
        return (
            f"{name} {describe_port(scenario, is_async)}: after [{done}] it should "
            f"{want_s}, but it did: {have_s}.{hint}"
        )
    return None


def _hint(want: Event | None, have: Event | None, before: list[Event], is_async: bool) -> str:
    if want and have and want[0] == "raise" and have[0] == "sleep":
        return " Do not sleep after the last attempt: no retry follows it."
    if want and have and want[0] == "sleep" and have[0] == "sleep":
        return (
            " The wait after failure n is random() * min(max_delay, base_delay * 2**n): the "
            "cap applies to the exponential, then the jitter scales it (and n counts the "
            "failures so far, 1 after the first)."
        )
    if want and have and want[0] == "raise" and have[0] == "raise" and want[1] == have[1]:
        return " The message is 'Operation failed after N attempts: <the last error>'."
    if want and have and want[0] == "raise" and have[0] == "call":
        if want[1] == "ValueError":
            return " retryable(error) said this error is not worth retrying: re-raise it at once."
        return " max_attempts counts every call, the first one included."
    if want and have and want[0] == "yield" and is_async:
        return (
            " While it waits, an async function must give control back to the event loop: "
            "await sleep(delay), never time.sleep(delay)."
        )
    if want and want[0] == "sleep" and have and have[0] != "sleep" and is_async:
        return (
            " It never called the sleep it was given: use await sleep(delay) (time.sleep "
            "would block the event loop)."
        )
    return ""


def port_problem(fn: Any, scenario: PortScenario, retrying_cls: Any) -> str | None:
    """``None`` if the sync port does what the reference does on ``scenario``, else why not."""
    expected = reference_port(retrying_cls, scenario)
    got = record_port(fn, scenario)
    return _diverge(expected, got, scenario, "retry_with_backoff", False)


def chain_problem(cause: tuple[str, str] | None) -> str | None:
    """Judge the error chain: ``cause`` is the RetryError's ``__cause__`` as (class, message).

    The scenario: ``max_attempts=2`` and an operation that always fails; the
    last error is ``ConnectionError("connection reset (call 2)")``.
    """
    want = ("ConnectionError", "connection reset (call 2)")
    if cause == want:
        return None
    what = "no cause" if cause is None else f"{cause[0]}({cause[1]!r})"
    return (
        "retry_with_backoff with max_attempts=2 and an operation that always fails raised a "
        f"RetryError whose __cause__ is {what}; it should be the last error, "
        f"{want[0]}({want[1]!r}): raise RetryError(...) from error, inside the except block, "
        "so the traceback keeps the real reason"
    )


CHAIN_SCENARIO: PortScenario = ({"max_attempts": 2}, ("fail", "fail"), 0)


def _plain_cause(fn: Any) -> tuple[str, str] | None:
    """The ``__cause__`` of what ``fn`` raises on :data:`CHAIN_SCENARIO` (a real function)."""
    settings, outcomes, seed = CHAIN_SCENARIO
    operation = _Operation(outcomes, [], None)
    try:
        fn(
            operation, sleep=lambda s: None, random=random.Random(seed).random,
            retryable=_retryable, **settings,
        )  # fmt: skip
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001
        cause = error.__cause__
        return None if cause is None else (type(cause).__name__, str(cause))
    fail("retry_with_backoff returned although every call of the operation failed")


# --- the async port ---------------------------------------------------------------------


def _beside(coroutine: Any, module: str) -> Any:
    """Import ``module`` where the coroutine runs (its frame's builtins), not here."""
    frame = coroutine.cr_frame
    if frame is None:
        fail("retry_with_backoff_async(...) returned a coroutine that already finished")
    return frame.f_builtins["__import__"](module)


def _drive(coroutine: Any, events: list[Event], limit: int = 400) -> None:
    """Run a coroutine to its end, one step at a time, as an event loop would."""
    for _ in range(limit):
        try:
            coroutine.send(None)
        except StopIteration as stop:
            value = stop.args[0] if stop.args else None
            events.append(("return", "" if value is None else str(value)))
            return
        except (NotImplementedError, AssertionError):
            raise
        except Exception as error:  # noqa: BLE001 - part of the record
            _finish(events, error, None)
            return
        events.append(("yield",))
    coroutine.close()
    fail(f"the coroutine gave control back {limit} times without finishing")


def record_port_async(fn: Any, scenario: PortScenario) -> list[Event]:
    """Run an async retry function on a scenario, driving its coroutine step by step.

    Like :func:`record_port`, plus a ``("yield",)`` step each time the
    coroutine gives control back to the (simulated) event loop.
    """
    settings, outcomes, seed = scenario
    events: list[Event] = []
    ready: list[Callable[..., Any]] = []

    def awaitable(*value: Any) -> Any:
        if not ready:  # called while retry_with_backoff_async(...) itself ran: not a coroutine
            fail(
                "retry_with_backoff_async(...) called the operation before returning: define "
                "it with async def, so that calling it gives a coroutine to await"
            )
        return ready[0](0, *value)

    operation = _Operation(outcomes, events, awaitable)

    def sleep(seconds: Any) -> Any:
        events.append(("sleep", plain(seconds, "the seconds passed to sleep", "number")))
        if len(events) > 400:
            fail("your function slept more than 100 times: does your loop ever stop?")
        return awaitable()

    coroutine = call(
        "retry_with_backoff_async(...)",
        fn,
        operation,
        sleep=sleep,
        random=random.Random(seed).random,
        retryable=_retryable,
        **settings,
    )
    if isinstance(coroutine, str | int | float | bool) or coroutine is None:
        fail(
            f"retry_with_backoff_async(...) returned {coroutine!r} at once: define it with "
            "async def, so that calling it gives a coroutine to await"
        )
    try:
        ready.append(_beside(coroutine, "asyncio").sleep)
    except AttributeError:
        fail("retry_with_backoff_async(...) should return a coroutine: define it with async def")
    _drive(coroutine, events)
    return events


def reference_port_async(retrying_cls: Any, scenario: PortScenario) -> list[Event]:
    """What the reference does on the scenario, driven like :func:`record_port_async`."""
    import asyncio

    settings, outcomes, seed = scenario
    events: list[Event] = []

    def sleep(seconds: float) -> Any:
        events.append(("sleep", seconds))
        return asyncio.sleep(0)

    retrying = retrying_cls(
        attempts=settings.get("max_attempts", 3),
        base=settings.get("base_delay", 0.1),
        cap=settings.get("max_delay", 3.0),
        retry_on=_retryable,
        sleep=sleep,
        rng=random.Random(seed),
    )
    operation = _Operation(outcomes, events, lambda value: asyncio.sleep(0, value))
    _drive(retrying.call_async(operation), events)
    return events


def async_problem(fn: Any, scenario: PortScenario, retrying_cls: Any) -> str | None:
    """``None`` if the async port does what the reference does on ``scenario``, else why not."""
    expected = reference_port_async(retrying_cls, scenario)
    got = record_port_async(fn, scenario)
    return _diverge(expected, got, scenario, "retry_with_backoff_async", True)


# --- the four schedules -----------------------------------------------------------------

SCHEDULE_CLASSES: Mapping[str, str] = {
    "no_jitter": "NoJitter",
    "full_jitter": "FullJitter",
    "equal_jitter": "EqualJitter",
    "decorrelated_jitter": "DecorrelatedJitter",
}
"""The student's function -> the reference class in :mod:`course_lib.backoff`."""

#: ``(function name, base, cap, attempts, seed)``; for decorrelated jitter the
#: attempts only say how many delays to draw.
ScheduleScenario = tuple[str, float, float, tuple[int, ...], int]


def schedules_problem(
    functions: Mapping[str, Any], scenario: ScheduleScenario, backoff: ModuleType
) -> str | None:
    """``None`` if the schedule named in ``scenario`` matches :mod:`course_lib.backoff`."""
    name, base, cap, attempts, seed = scenario
    reference = getattr(backoff, SCHEDULE_CLASSES[name])(base=base, cap=cap)
    mine, theirs = random.Random(seed), random.Random(seed)
    fn = functions[name]
    previous = base
    for i, attempt in enumerate(attempts, start=1):
        if name == "decorrelated_jitter":
            shown = f"decorrelated_jitter({previous!r}, base={base!r}, cap={cap!r}, random=...)"
            want = reference.delay(i, theirs, previous)
            got = call(shown, fn, previous, base=base, cap=cap, random=mine.random)
        else:
            shown = f"{name}({attempt}, base={base!r}, cap={cap!r}, random=...)"
            want = reference.delay(attempt, theirs)
            got = call(shown, fn, attempt, base=base, cap=cap, random=mine.random)
        got = plain(got, shown, "number")
        if not _close(got, want):
            return f"{shown} with random=random.Random({seed}).random returned {got!r} " + (
                f"(call {i} in a row), expected {want!r}: {_FORMULAS[name]}"
            )
        previous = want
    return None


_FORMULAS = {
    "no_jitter": "min(cap, base * 2**attempt)",
    "full_jitter": "random() * min(cap, base * 2**attempt), one random() per delay",
    "equal_jitter": "t/2 + random() * t/2 with t = min(cap, base * 2**attempt)",
    "decorrelated_jitter": (
        "min(cap, base + random() * (3*previous - base)), i.e. uniform(base, 3*previous), "
        "growing from the previous delay"
    ),
}


# --- which errors to retry --------------------------------------------------------------


def should_retry_problem(fn: Any, method: str, status: int | None) -> str | None:
    """``None`` if ``should_retry(method, status)`` answers as the course's rule does."""
    want = method in IDEMPOTENT_METHODS and (status is None or status in RETRYABLE_STATUSES)
    shown = f"should_retry({method!r}, {status!r})"
    got = plain(call(shown, fn, method, status), shown, "True or False")
    if got == want:
        return None
    if not want and method not in IDEMPOTENT_METHODS:
        why = f"{method} is not idempotent: a retry could do it twice (charge the card twice)"
    elif not want:
        why = f"{status} says the request itself is wrong (or done): the same request fails again"
    else:
        why = (
            "no answer (connection failure or timeout)" if status is None else f"{status}"
        ) + f" is transient and {method} is idempotent, so retrying is safe and useful"
    return f"{shown} returned {got}, expected {want}: {why}"


# --- retry budgets ------------------------------------------------------------------------

#: ``(settings, actions)``: keyword settings, then "request" or "retry" steps.
BudgetScenario = tuple[dict[str, float], tuple[str, ...]]


def _budget_problem(
    student: Any, reference: Any, scenario: BudgetScenario, name: str, tokens: bool
) -> str | None:
    settings, actions = scenario
    given = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    done: list[str] = []
    for action in actions:
        if action == "request":
            call(f"{name}.record_request()", student.record_request)
            reference.record_request(0.0)
            done.append("record_request()")
            continue
        got = plain(
            call(f"{name}.try_spend()", student.try_spend), f"{name}.try_spend()", "True or False"
        )
        want = reference.try_spend(0.0)
        done.append(f"try_spend() -> {want}")
        if got != want:
            steps = ", ".join(done)
            return f"{name}({given}) after {steps}: try_spend() returned {got}, expected {want}"
        if tokens:
            have = plain(student.tokens, f"{name}.tokens", "number")
            if not _close(have, reference.tokens):
                return (
                    f"{name}({given}) after {', '.join(done)}: tokens is {have!r}, "
                    f"expected {reference.tokens!r}"
                )
    return None


def bucket_problem(cls: Any, scenario: BudgetScenario, budget: ModuleType) -> str | None:
    """``None`` if the student's token bucket answers as :class:`TokenBucketBudget` does."""
    settings, _ = scenario
    given = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    student = call(f"TokenBucket({given})", cls, **settings)
    reference = budget.TokenBucketBudget(refill_per_second=0.0, **settings)
    return _budget_problem(student, reference, scenario, "TokenBucket", True)


def ratio_problem(cls: Any, scenario: BudgetScenario, budget: ModuleType) -> str | None:
    """``None`` if the student's ratio budget answers as :class:`RatioBudget` does (no window)."""
    settings, _ = scenario
    given = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    student = call(f"RatioBudget({given})", cls, **settings)
    reference = budget.RatioBudget(window=1e12, **settings)
    return _budget_problem(student, reference, scenario, "RatioBudget", False)


# --- the visible checks -------------------------------------------------------------------


def _ok(message: str) -> None:
    print(f"✓ {message}")


def check_port(retry_with_backoff: Any) -> None:
    """Exercise 1: the module's example (two failures, then success), then the give-up."""
    retry = importlib.import_module("course_lib.retry")
    scenarios: list[PortScenario] = [
        ({}, ("fail", "fail", "ok"), 1),
        ({"max_attempts": 3}, ("fail", "fail", "fail"), 2),
        ({}, ("fatal",), 3),
    ]
    for scenario in scenarios:
        require(port_problem(retry_with_backoff, scenario, retry.Retrying))
    if inspect.isfunction(retry_with_backoff):  # a real function: its chain can be read here
        require(chain_problem(_plain_cause(retry_with_backoff)))
    _ok(
        "retry_with_backoff retries with capped, fully jittered waits, gives up after "
        "max_attempts with the module's message, and re-raises what is not retryable"
    )


def check_async(retry_with_backoff_async: Any) -> None:
    """Exercise 2: two failures then success, awaiting each wait."""
    retry = importlib.import_module("course_lib.retry")
    require(
        async_problem(retry_with_backoff_async, ({}, ("fail", "fail", "ok"), 1), retry.Retrying)
    )
    _ok("retry_with_backoff_async awaits its waits, so the event loop runs while it backs off")


def check_schedules(
    no_jitter: Any, full_jitter: Any, equal_jitter: Any, decorrelated_jitter: Any
) -> None:
    """Exercise 3: three delays of each schedule with base 0.1 s and cap 1 s."""
    backoff = importlib.import_module("course_lib.backoff")

    functions = {
        "no_jitter": no_jitter,
        "full_jitter": full_jitter,
        "equal_jitter": equal_jitter,
        "decorrelated_jitter": decorrelated_jitter,
    }
    for name in functions:
        require(schedules_problem(functions, (name, 0.1, 1.0, (1, 2, 3, 4), 7), backoff))
    _ok("the four schedules match course_lib.backoff")


def check_should_retry(should_retry: Any) -> None:
    """Exercise 4: a few typical answers."""
    for method, status in (("GET", 503), ("GET", None), ("GET", 404), ("POST", 503)):
        require(should_retry_problem(should_retry, method, status))
    _ok("should_retry retries transient failures of idempotent requests only")


def check_bucket(TokenBucket: Any) -> None:  # noqa: N803 - the student's class
    """Exercise 5: a bucket of 2 tokens, drained, then refilled by requests."""
    budget = importlib.import_module("course_lib.budget")

    actions = ("retry", "retry", "retry") + ("request",) * 4 + ("retry", "retry")
    scenario = ({"capacity": 2.0, "refill_per_request": 0.25, "retry_cost": 1.0}, actions)
    require(bucket_problem(TokenBucket, scenario, budget))
    _ok("TokenBucket spends a token per retry and refills with every request")


def check_ratio(RatioBudget: Any) -> None:  # noqa: N803 - the student's class
    """Exercise 6: 10 requests allow one retry at a 10% ratio."""
    budget = importlib.import_module("course_lib.budget")

    actions = ("retry",) + ("request",) * 10 + ("retry", "retry") + ("request",) * 10 + ("retry",)
    require(ratio_problem(RatioBudget, ({"ratio": 0.1}, actions), budget))
    _ok("RatioBudget keeps retries under 10% of requests")
