"""The breaker on asyncio: call_async and the decorator on coroutine functions.

Time comes from a ManualClock that the coroutines advance themselves, so
nothing here sleeps on a real timer (``asyncio.sleep(0)`` only yields).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from course_lib.breaker import CircuitBreaker, State
from course_lib.clock import ManualClock
from course_lib.errors import CircuitOpenError
from course_lib.events import CallSucceeded, Trace


class Boom(Exception):
    pass


def make(clock: ManualClock, **overrides: Any) -> CircuitBreaker:
    config: dict[str, Any] = {
        "name": "inventory",
        "window_size": 4,
        "minimum_calls": 4,
        "cooldown": 10.0,
        "half_open_max_calls": 2,
        "clock": clock,
    }
    config.update(overrides)
    return CircuitBreaker(**config)


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


async def ok(value: Any = "ok") -> Any:
    await asyncio.sleep(0)
    return value


async def boom() -> None:
    await asyncio.sleep(0)
    raise Boom("inventory down")


async def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.minimum_calls):
        with pytest.raises(Boom):
            await breaker.call_async(boom)
    assert breaker.state is State.OPEN


def test_call_async_returns_results_and_records_failures() -> None:
    clock = ManualClock()
    breaker = make(clock)

    async def scenario() -> None:
        assert await breaker.call_async(ok, 41) == 41
        with pytest.raises(Boom):
            await breaker.call_async(boom)
        assert breaker.stats.succeeded == 1 and breaker.stats.failed == 1
        assert breaker.failure_rate == 0.5

    run(scenario())


def test_call_async_fails_fast_when_open_without_awaiting_fn() -> None:
    clock = ManualClock()
    breaker = make(clock)
    started: list[str] = []

    async def tracked() -> str:
        started.append("called")
        return "live"

    async def scenario() -> None:
        await trip(breaker)
        with pytest.raises(CircuitOpenError) as info:
            await breaker.call_async(tracked)
        assert info.value.retry_after == 10.0
        assert started == []

    run(scenario())


def test_call_async_fallback_value_function_and_coroutine_function() -> None:
    clock = ManualClock()

    async def cached(error: CircuitOpenError) -> str:
        return f"cached ({error.state})"

    async def scenario() -> None:
        for fallback, expected in (
            ("stale", "stale"),
            (lambda error: "from function", "from function"),
            (cached, "cached (open)"),
        ):
            breaker = make(clock, fallback=fallback)
            await trip(breaker)
            assert await breaker.call_async(ok) == expected

    run(scenario())


def test_decorator_on_a_coroutine_function() -> None:
    clock = ManualClock()
    breaker = make(clock, fallback="fallback")

    @breaker
    async def reserve(item: str) -> str:
        """Reserve an item."""
        await asyncio.sleep(0)
        clock.advance(0.25)
        return f"reserved {item}"

    @breaker
    async def failing() -> str:
        raise Boom("no stock")

    async def scenario() -> None:
        assert await reserve("book") == "reserved book"
        for _ in range(3):
            with pytest.raises(Boom):
                await failing()
        assert breaker.state is State.OPEN, "3 failures of 4 calls"
        assert await reserve("pen") == "fallback"

    assert inspect.iscoroutinefunction(reserve)
    assert reserve.__name__ == "reserve" and reserve.__doc__ == "Reserve an item."
    run(scenario())


def test_duration_of_an_async_call_is_measured_on_the_clock() -> None:
    clock = ManualClock()
    trace = Trace()
    breaker = make(clock, listener=trace, slow_call_duration=1.0)

    async def slow() -> str:
        await asyncio.sleep(0)
        clock.advance(1.5)
        return "late"

    run(breaker.call_async(slow))
    (done,) = trace.of_type(CallSucceeded)
    assert (done.duration, done.slow) == (1.5, True)


def test_concurrent_trials_never_exceed_the_half_open_permits() -> None:
    clock = ManualClock()
    breaker = make(clock, half_open_max_calls=2)
    running = 0
    most = 0

    async def scenario() -> None:
        nonlocal running, most
        await trip(breaker)
        clock.advance(10.0)
        release = asyncio.Event()

        async def trial() -> str:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await release.wait()
            running -= 1
            return "ok"

        tasks = [asyncio.ensure_future(breaker.call_async(trial)) for _ in range(6)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert most == 2, "two trial calls in flight, the other four refused"
        release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        refused = [r for r in results if isinstance(r, CircuitOpenError)]
        assert len(refused) == 4
        assert [r for r in results if r == "ok"] == ["ok", "ok"]
        assert breaker.state is State.CLOSED

    run(scenario())


def test_a_cancelled_trial_gives_its_permit_back() -> None:
    clock = ManualClock()
    breaker = make(clock, half_open_max_calls=1)

    async def scenario() -> None:
        await trip(breaker)
        clock.advance(10.0)
        never = asyncio.Event()

        async def hangs() -> None:
            await never.wait()

        task = asyncio.ensure_future(breaker.call_async(hangs))
        await asyncio.sleep(0)
        assert breaker.state is State.HALF_OPEN
        with pytest.raises(CircuitOpenError):
            await breaker.call_async(ok)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert breaker.stats.ignored == 1
        assert await breaker.call_async(ok) == "ok", "the cancelled trial's permit came back"
        assert breaker.state is State.CLOSED

    run(scenario())


def test_sync_and_async_adapters_share_one_state() -> None:
    clock = ManualClock()
    breaker = make(clock)
    fn: Callable[[], None] = lambda: None  # noqa: E731

    async def scenario() -> None:
        breaker.call(fn)
        await breaker.call_async(ok)
        assert breaker.window_calls == 2

    run(scenario())
