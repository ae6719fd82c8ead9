"""Retries: the seed's defaults, events, budgets, async, and the sans-I/O policy.

No test sleeps: every retry gets an injected ``sleep`` that records the delay.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Callable

import pytest

from course_lib.backoff import DecorrelatedJitter, FullJitter, NoJitter
from course_lib.budget import RatioBudget, TokenBucketBudget
from course_lib.clock import ManualClock
from course_lib.errors import RetryError
from course_lib.events import RetryGaveUp, RetryScheduled, Trace
from course_lib.retry import (
    BUDGET,
    DEADLINE,
    EXHAUSTED,
    NOT_RETRYABLE,
    RetryDecision,
    Retrying,
    RetryPolicy,
    retry,
)
from course_lib.timeouts import Deadline


class Flaky:
    """Fails ``failures`` times with ``error_type``, then returns ``"ok"``."""

    def __init__(self, failures: int, error_type: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error_type = error_type
        self.calls = 0
        self.errors: list[Exception] = []

    def __call__(self, *args: object, **kwargs: object) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            error = self.error_type(f"boom {self.calls}")
            self.errors.append(error)
            raise error
        return "ok"


def test_seed_defaults_three_attempts_two_sleeps_within_full_jitter_window() -> None:
    sleeps: list[float] = []
    op = Flaky(failures=99)
    wrapped = retry(sleep=sleeps.append, rng=random.Random(11))(op)
    with pytest.raises(RetryError) as info:
        wrapped()
    assert op.calls == 3, "seed default: maxAttempts = 3"
    assert len(sleeps) == 2, "3 attempts -> 2 waits between them"
    for n, delay in enumerate(sleeps, start=1):
        assert 0.0 <= delay <= min(3.0, 0.1 * 2**n), f"sleep {n} outside full-jitter window"
    assert str(info.value) == "Operation failed after 3 attempts: boom 3"
    assert info.value.__cause__ is op.errors[-1], "the last error is chained (raise ... from)"
    assert info.value.last_error is op.errors[-1]
    assert info.value.attempts == 3


def test_sleeps_are_the_seeded_full_jitter_draws() -> None:
    sleeps: list[float] = []
    with pytest.raises(RetryError):
        retry(attempts=5, sleep=sleeps.append, rng=random.Random(5))(Flaky(99))()
    rng = random.Random(5)
    expected = [rng.random() * min(3.0, 0.1 * 2**n) for n in range(1, 5)]
    assert sleeps == expected, "delay after failure n = random() * min(cap, base * 2**n)"


def test_success_after_transient_failures_returns_the_value() -> None:
    sleeps: list[float] = []
    op = Flaky(failures=2)
    assert retry(sleep=sleeps.append, rng=random.Random(0))(op)("arg", k=1) == "ok"
    assert op.calls == 3
    assert len(sleeps) == 2


def test_first_try_success_does_not_sleep_or_emit() -> None:
    sleeps: list[float] = []
    trace = Trace()
    assert retry(sleep=sleeps.append, listener=trace)(Flaky(0))() == "ok"
    assert sleeps == []
    assert len(trace) == 0


def test_non_retryable_error_propagates_unchanged_at_once() -> None:
    sleeps: list[float] = []
    trace = Trace()
    op = Flaky(failures=5, error_type=ValueError)
    wrapped = retry(retry_on=ConnectionError, sleep=sleeps.append, listener=trace)(op)
    with pytest.raises(ValueError) as info:
        wrapped()
    assert info.value is op.errors[0]
    assert op.calls == 1 and sleeps == []
    [gave_up] = trace.of_type(RetryGaveUp)
    assert (gave_up.attempts, gave_up.reason) == (1, NOT_RETRYABLE)


def test_non_retryable_error_on_a_later_attempt_also_propagates() -> None:
    calls = []

    def op() -> None:
        calls.append(1)
        raise (ConnectionError("transient") if len(calls) == 1 else KeyError("bug"))

    with pytest.raises(KeyError):
        retry(retry_on=ConnectionError, sleep=lambda s: None)(op)()
    assert len(calls) == 2


def test_predicate_decides_what_is_retryable() -> None:
    def is_transient(error: BaseException) -> bool:
        return "transient" in str(error)

    calls = []

    def op() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("transient glitch")
        raise RuntimeError("permanent")

    with pytest.raises(RuntimeError, match="permanent"):
        retry(attempts=5, retry_on=is_transient, sleep=lambda s: None)(op)()
    assert len(calls) == 3


def test_events_record_each_scheduled_retry_and_the_give_up() -> None:
    clock = ManualClock(100.0)
    trace = Trace()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    with pytest.raises(RetryError):
        retry(sleep=sleep, rng=random.Random(3), listener=trace, name="payments", clock=clock)(
            Flaky(99)
        )()
    scheduled = trace.of_type(RetryScheduled)
    assert [e.attempt for e in scheduled] == [1, 2]
    assert [e.delay for e in scheduled] == sleeps
    assert all(e.source == "payments" for e in trace)
    assert scheduled[0].time == 100.0
    assert scheduled[1].time == pytest.approx(100.0 + sleeps[0])
    assert "boom 1" in scheduled[0].error
    [gave_up] = trace.of_type(RetryGaveUp)
    assert (gave_up.attempts, gave_up.reason) == (3, EXHAUSTED)
    assert gave_up.time == pytest.approx(100.0 + sum(sleeps))


def test_default_event_source_is_the_function_name() -> None:
    trace = Trace()

    @retry(attempts=2, sleep=lambda s: None, listener=trace)
    def fetch_orders() -> None:
        raise ConnectionError("down")

    with pytest.raises(RetryError):
        fetch_orders()
    assert {e.source for e in trace} == {fetch_orders.__qualname__}
    assert fetch_orders.__name__ == "fetch_orders", "functools.wraps keeps the name"


def test_backoff_can_be_swapped_and_previous_delay_is_threaded_through() -> None:
    sleeps: list[float] = []
    with pytest.raises(RetryError):
        retry(attempts=4, backoff=NoJitter(base=0.1, cap=3.0), sleep=sleeps.append)(Flaky(99))()
    assert sleeps == pytest.approx([0.2, 0.4, 0.8])

    seen: list[tuple[int, float | None]] = []

    class Recording:
        def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
            seen.append((attempt, previous))
            return attempt * 1.5

        def bound(self, attempt: int) -> float:
            return attempt * 1.5

    with pytest.raises(RetryError):
        retry(attempts=4, backoff=Recording(), sleep=lambda s: None)(Flaky(99))()
    assert seen == [(1, None), (2, 1.5), (3, 3.0)]


def test_decorrelated_jitter_sleeps_grow_from_previous() -> None:
    sleeps: list[float] = []
    with pytest.raises(RetryError):
        retry(
            attempts=6,
            backoff=DecorrelatedJitter(base=0.1, cap=3.0),
            sleep=sleeps.append,
            rng=random.Random(9),
        )(Flaky(99))()
    previous = 0.1
    for delay in sleeps:
        assert 0.1 <= delay <= min(3.0, 3 * previous) + 1e-12
        previous = delay


def test_one_attempt_means_no_retry() -> None:
    sleeps: list[float] = []
    with pytest.raises(RetryError, match=r"^Operation failed after 1 attempt: boom 1$"):
        retry(attempts=1, sleep=sleeps.append)(Flaky(99))()
    assert sleeps == []


def test_bare_decorator_uses_the_seed_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)  # the default sleep, without sleeping
    op = Flaky(99)

    @retry
    def call() -> str:
        return op()

    with pytest.raises(RetryError, match="after 3 attempts"):
        call()
    assert op.calls == 3 and len(slept) == 2


def test_retrying_call_for_non_decorator_use() -> None:
    sleeps: list[float] = []
    retrying = Retrying(attempts=4, sleep=sleeps.append, rng=random.Random(1))
    op = Flaky(3)
    assert retrying.call(op, 1, two=2) == "ok"
    assert op.calls == 4 and len(sleeps) == 3


# -- async -------------------------------------------------------------------------------


def test_async_function_is_retried_with_an_async_sleep() -> None:
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    calls = []

    @retry(sleep=fake_sleep, rng=random.Random(2))
    async def fetch() -> str:
        calls.append(1)
        await asyncio.sleep(0)
        if len(calls) < 3:
            raise ConnectionError(f"boom {len(calls)}")
        return "ok"

    assert inspect.iscoroutinefunction(fetch), "the wrapper of an async def is async too"
    assert asyncio.run(fetch()) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2


def test_async_gives_up_with_retry_error_and_sync_sleep_is_accepted() -> None:
    sleeps: list[float] = []

    @retry(sleep=sleeps.append, rng=random.Random(2))
    async def fetch() -> str:
        raise TimeoutError("slow")

    with pytest.raises(RetryError) as info:
        asyncio.run(fetch())
    assert str(info.value) == "Operation failed after 3 attempts: slow"
    assert isinstance(info.value.__cause__, TimeoutError)
    assert len(sleeps) == 2


def test_async_default_sleep_is_asyncio_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr("asyncio.sleep", fake)

    async def fetch() -> None:
        raise ConnectionError("x")

    with pytest.raises(RetryError):
        asyncio.run(Retrying(rng=random.Random(0)).call_async(fetch))
    assert len(slept) == 2


def test_async_non_retryable_and_cancellation_propagate() -> None:
    async def bug() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        asyncio.run(retry(retry_on=ConnectionError, sleep=lambda s: None)(bug)())

    calls = []

    async def cancelled() -> None:
        calls.append(1)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(retry(sleep=lambda s: None)(cancelled)())
    assert calls == [1], "CancelledError is a BaseException, not retried by default"


# -- budgets -----------------------------------------------------------------------------


def test_budget_denial_gives_up_at_once_and_says_so() -> None:
    clock = ManualClock()
    budget = RatioBudget(ratio=0.1, window=120.0, clock=clock)
    trace = Trace()
    sleeps: list[float] = []
    wrapped = retry(
        attempts=3,
        sleep=sleeps.append,
        budget=budget,
        listener=trace,
        rng=random.Random(0),
        clock=clock,
    )(Flaky(99))
    # first request: 0 retries < 10% of 1 request -> one retry allowed, then 1 < 0.1 is false
    with pytest.raises(RetryError) as info:
        wrapped()
    assert len(sleeps) == 1
    assert "budget" in str(info.value)
    assert str(info.value).startswith("Operation failed after 2 attempts: boom 2")
    [gave_up] = trace.of_type(RetryGaveUp)
    assert (gave_up.attempts, gave_up.reason) == (2, BUDGET)


def test_token_bucket_budget_limits_retries_across_calls() -> None:
    clock = ManualClock()
    budget = TokenBucketBudget(capacity=2.0, refill_per_request=0.5, clock=clock)
    sleeps: list[float] = []
    wrapped = retry(
        attempts=3, sleep=sleeps.append, budget=budget, clock=clock, rng=random.Random(0)
    )(Flaky(99))
    with pytest.raises(RetryError, match="after 3 attempts"):
        wrapped()  # tokens 2 (+0.5 capped) -> two retries spend 2
    assert len(sleeps) == 2
    with pytest.raises(RetryError, match="budget said no"):
        wrapped()  # 0 + 0.5 < 1: no retry at all
    assert len(sleeps) == 2
    with pytest.raises(RetryError):
        wrapped()  # 1.0 -> one retry
    assert len(sleeps) == 3


# -- deadlines ---------------------------------------------------------------------------


def test_retry_does_not_wait_past_the_current_deadline() -> None:
    clock = ManualClock()
    trace = Trace()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    op = Flaky(99)
    wrapped = retry(
        attempts=5, backoff=NoJitter(base=0.1, cap=3.0), sleep=sleep, listener=trace, clock=clock
    )(op)
    with Deadline(budget=1.0, clock=clock), pytest.raises(RetryError) as info:
        wrapped()
    # waits 0.2 (0.8 left) and 0.4 (0.4 left); the next wait of 0.8 would pass the deadline
    assert sleeps == pytest.approx([0.2, 0.4])
    assert op.calls == 3
    assert "the next wait would pass the deadline" in str(info.value)
    assert trace.of_type(RetryGaveUp)[0].reason == DEADLINE


def test_without_a_deadline_the_same_retry_uses_every_attempt() -> None:
    sleeps: list[float] = []
    with pytest.raises(RetryError, match="after 5 attempts"):
        retry(attempts=5, backoff=NoJitter(base=0.1, cap=3.0), sleep=sleeps.append)(Flaky(99))()
    assert len(sleeps) == 4


# -- the sans-I/O policy ------------------------------------------------------------------


def test_policy_decisions_in_order() -> None:
    policy = RetryPolicy(attempts=3, backoff=NoJitter(base=0.1, cap=3.0), retry_on=ConnectionError)
    error = ConnectionError("x")
    assert policy.decide(1, error) == RetryDecision(True, 0.2)
    assert policy.next_delay(2, error) == pytest.approx(0.4)
    assert policy.decide(3, error) == RetryDecision(False, reason=EXHAUSTED)
    assert policy.next_delay(3, error) is None
    assert policy.decide(1, ValueError("bug")) == RetryDecision(False, reason=NOT_RETRYABLE)
    assert policy.decide(1, error, time_left=0.2) == RetryDecision(False, reason=DEADLINE)
    assert policy.next_delay(1, error, time_left=0.25) == pytest.approx(0.2)


def test_policy_on_virtual_time_with_a_budget() -> None:
    budget = RatioBudget(ratio=0.5, window=10.0)
    policy = RetryPolicy(attempts=5, rng=random.Random(4), budget=budget)
    error = ConnectionError("x")
    policy.start(now=0.0)
    policy.start(now=0.0)
    first = policy.next_delay(1, error, now=0.0)
    assert first is not None and 0.0 <= first <= 0.2
    assert policy.next_delay(2, error, previous=first, now=0.5) is None, "1 retry < 0.5*2 only once"
    assert policy.decide(2, error, now=0.5).reason == BUDGET
    # after the window the old retry is forgotten, but so are the requests
    policy.start(now=20.0)
    assert policy.next_delay(1, error, now=20.0) is not None


def test_policy_is_reproducible_with_a_seed() -> None:
    def delays(seed: int) -> list[float | None]:
        policy = RetryPolicy(attempts=6, rng=random.Random(seed))
        return [policy.next_delay(n, OSError()) for n in range(1, 6)]

    assert delays(7) == delays(7)
    assert delays(7) != delays(8)


# -- configuration errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: retry(attempts=0), r"^attempts must be an integer >= 1, got 0"),
        (lambda: retry(attempts=2.5), r"^attempts must be an integer >= 1"),
        (lambda: retry(base=0), r"^base must be"),
        (lambda: retry(base=1.0, cap=0.5), r"^cap must be in \[1, inf\)"),
        (lambda: retry(retry_on=()), r"^retry_on must be an exception type"),
        (lambda: retry(retry_on=(ValueError, int)), r"^retry_on must be"),
        (lambda: retry(retry_on="ConnectionError"), r"^retry_on must be"),
        (lambda: retry(backoff=0.5), r"^backoff must have a delay"),
        (lambda: retry(rng=42), r"^rng must be a random.Random"),
        (lambda: retry(budget=object()), r"^budget must have record_request"),
        (lambda: retry(sleep=1.0), r"^sleep must be a callable"),
        (lambda: retry(listener="trace"), r"^listener must be a callable"),
    ],
)
def test_bad_config_is_a_clear_value_error(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_full_jitter_is_the_default_backoff() -> None:
    policy = Retrying().policy
    assert policy.backoff == FullJitter(base=0.1, cap=3.0)
    assert policy.attempts == 3


def test_settings_are_keyword_only_and_read_only() -> None:
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Retrying(3)  # type: ignore[misc]
    with pytest.raises(ValueError, match="decorates a function, got 3"):
        retry(3)  # type: ignore[call-overload]  # attempts is keyword-only
    policy = RetryPolicy(attempts=4)
    for setting in ("attempts", "backoff", "budget", "rng"):
        with pytest.raises(AttributeError):
            setattr(policy, setting, None)
    retrying = Retrying(attempts=2, name="fetch")
    assert (retrying.policy.attempts, retrying.name) == (2, "fetch")
    for setting in ("policy", "sleep", "listener", "name", "clock"):
        with pytest.raises(AttributeError):
            setattr(retrying, setting, None)
    with pytest.raises(ValueError, match="^clock"):
        Retrying(clock=object())  # type: ignore[arg-type]
