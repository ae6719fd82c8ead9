"""Hidden grading for notebook 03, "Retries, backoff and jitter" (instructor side only).

One grader per exercise. Each refuses code that borrows the reference, then
runs the exercise's problem function from :mod:`course_lib.checks.retry` on
seeded, generated scenarios against a PRISTINE copy of the reference
(:func:`~autograders.graders._pristine.load_reference`) and fails with the
shortest scenario that goes wrong:

1. :func:`grade_port`: random settings (or the defaults) and call scripts vs
   ``course_lib.retry.Retrying``; plus the error chain (``raise ... from``).
2. :func:`grade_async`: the same, driving the coroutine step by step; a wait
   that does not give control back to the event loop is a divergence.
3. :func:`grade_schedules`: random bases, caps and attempts vs ``course_lib.backoff``.
4. :func:`grade_should_retry`: every (method, status) pair of a table.
5. :func:`grade_bucket`, 6. :func:`grade_ratio`: random request/retry sequences
   vs ``course_lib.budget``.

Reading the error chain through the sandbox: a raised exception crosses the
boundary as its class and message only, so :func:`_cause` runs the student's
function under the sandbox's own ``unittest.FunctionTestCase`` (imported beside
the student's code) and reads the chain from the traceback text it formats.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

from autograders.graders._pristine import load_reference, refuse_reference
from autograders.remote import RemoteObject
from course_lib.checks.kit import fail, find_divergence, require
from course_lib.checks.retry import (
    CHAIN_SCENARIO,
    SCHEDULE_CLASSES,
    BudgetScenario,
    PortScenario,
    ScheduleScenario,
    _Operation,
    _retryable,
    async_problem,
    bucket_problem,
    chain_problem,
    port_problem,
    ratio_problem,
    schedules_problem,
    should_retry_problem,
)

__all__ = [
    "grade_async",
    "grade_bucket",
    "grade_port",
    "grade_ratio",
    "grade_schedules",
    "grade_should_retry",
]

#: Values exact in binary, so that every formula gives the same float in any order.
BASES = (0.0625, 0.1, 0.125, 0.25)
CAPS = (0.5, 1.0, 3.0)


def _port_scenario(rng: random.Random) -> PortScenario:
    settings: dict[str, float | int] = {}
    if rng.random() < 0.8:
        settings["max_attempts"] = rng.randint(1, 7)
    if rng.random() < 0.7:
        settings["base_delay"] = rng.choice(BASES)
    if rng.random() < 0.7:
        settings["max_delay"] = rng.choice(CAPS)
    attempts = int(settings.get("max_attempts", 3))
    outcomes = [rng.choice(("fail", "fail", "fail", "ok", "fatal")) for _ in range(attempts + 1)]
    return settings, tuple(outcomes), rng.randint(0, 10_000)


def _smaller_port(scenario: PortScenario) -> Iterator[PortScenario]:
    settings, outcomes, seed = scenario
    for key in settings:  # a default instead of a setting
        yield {k: v for k, v in settings.items() if k != key}, outcomes, seed
    attempts = settings.get("max_attempts")
    if isinstance(attempts, int) and attempts > 1:
        yield {**settings, "max_attempts": attempts - 1}, outcomes, seed
    for i in range(len(outcomes) - 1, -1, -1):
        yield settings, outcomes[:i], seed


# --- exercise 1 ---------------------------------------------------------------------------


def _sandbox_import(fn: RemoteObject, module: str) -> Any:
    """Import ``module`` inside the sandbox, beside the student's code."""
    session = object.__getattribute__(fn, "_session")
    builtins = session.lookup("__builtins__")
    handle = object.__getattribute__(builtins, "_handle")
    importer = session.request({"op": "getattr", "obj": {"$h": handle}, "name": "__import__"})
    return importer(module)


_CAUSE = re.compile(r"^(\w+(?:\.\w+)*): (.*)$")


def _cause(fn: Any) -> tuple[str, str] | None:
    """The ``__cause__`` (class, message) of the error ``fn`` raises on CHAIN_SCENARIO."""
    settings, outcomes, seed = CHAIN_SCENARIO
    if not isinstance(fn, RemoteObject):  # plain nbgrader: the function is right here
        try:
            fn(
                _Operation(outcomes, [], None), sleep=lambda s: None,
                random=random.Random(seed).random, retryable=_retryable, **settings,
            )  # fmt: skip
        except Exception as error:  # noqa: BLE001
            cause = error.__cause__
            return None if cause is None else (type(cause).__name__, str(cause))
        fail("retry_with_backoff returned although every call of the operation failed")
    unittest, functools = _sandbox_import(fn, "unittest"), _sandbox_import(fn, "functools")
    bound = functools.partial(
        fn, _Operation(outcomes, [], None), sleep=lambda s: None,
        random=random.Random(seed).random, retryable=_retryable, **settings,
    )  # fmt: skip
    result = unittest.TestResult()
    unittest.FunctionTestCase(bound).run(result)
    reports = [text for _, text in result.errors] + [text for _, text in result.failures]
    if not reports:
        fail("retry_with_backoff returned although every call of the operation failed")
    text = reports[0] if isinstance(reports[0], str) else ""
    marker = "The above exception was the direct cause of the following exception:"
    if marker not in text:
        return None
    before = text.split(marker)[0].strip().splitlines()
    found = _CAUSE.match(before[-1]) if before else None
    if found is None:
        return None
    return found.group(1).rpartition(".")[2], found.group(2)


def grade_port(retry_with_backoff: Any, *, scenarios: int = 60, seed: int = 1301) -> None:
    """Hidden grading for exercise 1: random settings and call scripts, then the error chain."""
    refuse_reference(retry_with_backoff, "retry_with_backoff")
    retrying = load_reference("retry").Retrying
    require(
        find_divergence(
            lambda s: port_problem(retry_with_backoff, s, retrying),
            _port_scenario,
            scenarios=scenarios,
            seed=seed,
            smaller=_smaller_port,
        )
    )
    require(chain_problem(_cause(retry_with_backoff)))


# --- exercise 2 ---------------------------------------------------------------------------


def grade_async(retry_with_backoff_async: Any, *, scenarios: int = 30, seed: int = 1302) -> None:
    """Hidden grading for exercise 2: random scenarios, driving the coroutine step by step."""
    refuse_reference(retry_with_backoff_async, "retry_with_backoff_async")
    retrying = load_reference("retry").Retrying
    require(
        find_divergence(
            lambda s: async_problem(retry_with_backoff_async, s, retrying),
            _port_scenario,
            scenarios=scenarios,
            seed=seed,
            smaller=_smaller_port,
        )
    )


# --- exercise 3 ---------------------------------------------------------------------------


def grade_schedules(
    no_jitter: Any,
    full_jitter: Any,
    equal_jitter: Any,
    decorrelated_jitter: Any,
    *,
    scenarios: int = 40,
    seed: int = 1303,
) -> None:
    """Hidden grading for exercise 3: every schedule on random bases, caps and attempts."""
    functions = {
        "no_jitter": no_jitter,
        "full_jitter": full_jitter,
        "equal_jitter": equal_jitter,
        "decorrelated_jitter": decorrelated_jitter,
    }
    for name, fn in functions.items():
        refuse_reference(fn, name)
    backoff = load_reference("backoff")

    def generate(rng: random.Random) -> ScheduleScenario:
        name = rng.choice(list(SCHEDULE_CLASSES))
        attempts = tuple(rng.randint(1, 12) for _ in range(rng.randint(1, 8)))
        return name, rng.choice(BASES), rng.choice(CAPS), attempts, rng.randint(0, 10_000)

    def smaller(scenario: ScheduleScenario) -> Iterator[ScheduleScenario]:
        name, base, cap, attempts, seed = scenario
        for i in range(1, len(attempts)):
            yield name, base, cap, attempts[:i], seed

    for name in SCHEDULE_CLASSES:  # each schedule at least once, whatever the draws
        require(schedules_problem(functions, (name, 0.1, 3.0, (1, 2, 3, 5, 8, 13), 5), backoff))
    require(
        find_divergence(
            lambda s: schedules_problem(functions, s, backoff),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=smaller,
        )
    )


# --- exercise 4 ---------------------------------------------------------------------------

METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH")
STATUSES = (None, 200, 201, 204, 301, 304, 400, 401, 403, 404, 408, 409, 422, 429)
STATUSES_5XX = (500, 501, 502, 503, 504, 505)


def grade_should_retry(should_retry: Any) -> None:
    """Hidden grading for exercise 4: every method with every status of the table."""
    refuse_reference(should_retry, "should_retry")
    for status in (*STATUSES, *STATUSES_5XX):
        for method in METHODS:
            require(should_retry_problem(should_retry, method, status))


# --- exercises 5 and 6 --------------------------------------------------------------------


def _actions(rng: random.Random, longest: int) -> tuple[str, ...]:
    share = rng.choice((0.2, 0.5, 0.8))
    return tuple("retry" if rng.random() < share else "request" for _ in range(longest))


def _smaller_budget(scenario: BudgetScenario) -> Iterator[BudgetScenario]:
    settings, actions = scenario
    for i in range(len(actions) - 1, 0, -1):
        yield settings, actions[:i]


def grade_bucket(TokenBucket: Any, *, scenarios: int = 40, seed: int = 1305) -> None:  # noqa: N803
    """Hidden grading for exercise 5: random request/retry sequences vs TokenBucketBudget."""
    refuse_reference(TokenBucket, "TokenBucket")
    budget = load_reference("budget")

    def generate(rng: random.Random) -> BudgetScenario:
        capacity = rng.choice((1.0, 2.0, 3.0, 5.0, 10.0))
        settings = {
            "capacity": capacity,
            "refill_per_request": rng.choice((0.125, 0.25, 0.5, 1.0)),
            "retry_cost": rng.choice([c for c in (0.5, 1.0, 2.0) if c <= capacity]),
        }
        return settings, _actions(rng, rng.randint(1, 40))

    require(
        find_divergence(
            lambda s: bucket_problem(TokenBucket, s, budget),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=_smaller_budget,
        )
    )


def grade_ratio(RatioBudget: Any, *, scenarios: int = 40, seed: int = 1306) -> None:  # noqa: N803
    """Hidden grading for exercise 6: random request/retry sequences vs RatioBudget."""
    refuse_reference(RatioBudget, "RatioBudget")
    budget = load_reference("budget")

    def generate(rng: random.Random) -> BudgetScenario:
        settings = {"ratio": rng.choice((0.1, 0.125, 0.25, 0.5, 1.0))}
        return settings, _actions(rng, rng.randint(1, 60))

    require(
        find_divergence(
            lambda s: ratio_problem(RatioBudget, s, budget),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=_smaller_budget,
        )
    )
