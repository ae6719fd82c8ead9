"""Timeouts, deadlines (on a manual clock) and bounded calls.

The bounded-call tests use a tiny real timeout (10 ms) on a call that blocks on an
Event; they assert what happened, never how long it took.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import httpx
import pytest

from course_lib.clock import ManualClock
from course_lib.errors import CallTimeoutError, DeadlineExceeded
from course_lib.events import TimeoutExpired, Trace
from course_lib.timeouts import (
    Deadline,
    Timeouts,
    call_with_timeout,
    call_with_timeout_async,
    current_deadline,
)

LONG = 30.0
TINY = 0.01

# -- Timeouts ------------------------------------------------------------------------------


def test_timeouts_defaults_are_the_seeds_typical_values() -> None:
    t = Timeouts()
    assert (t.connect, t.read, t.write, t.pool) == (1.0, 5.0, None, None)
    assert t.to_requests() == (1.0, 5.0)


def test_to_httpx_carries_every_phase() -> None:
    timeout = Timeouts(connect=1.5, read=2.5, write=3.5, pool=4.5).to_httpx()
    assert isinstance(timeout, httpx.Timeout)
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (1.5, 2.5, 3.5, 4.5)
    unlimited = Timeouts().to_httpx()
    assert (unlimited.write, unlimited.pool) == (None, None)


def test_capped_limits_every_phase() -> None:
    assert Timeouts(connect=1.0, read=5.0).capped(2.0) == Timeouts(
        connect=1.0, read=2.0, write=2.0, pool=2.0
    )


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"connect": 0}, "connect"),
        ({"read": -1}, "read"),
        ({"write": float("nan")}, "write"),
        ({"pool": "5"}, "pool"),
        ({"read": float("inf")}, "read"),
    ],
)
def test_timeouts_bad_values_name_the_phase(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(ValueError, match=rf"^{param} must be"):
        Timeouts(**kwargs)  # type: ignore[arg-type]


def test_timeouts_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Timeouts().read = 9.0  # type: ignore[misc]


# -- Deadline ------------------------------------------------------------------------------


def test_deadline_propagation_chain_from_google_sre() -> None:
    clock = ManualClock()
    a = Deadline(budget=30.0, clock=clock)
    clock.advance(7)
    b = a.child()
    assert b.remaining() == 23.0, "A has 30 s, spends 7 -> B gets 23"
    clock.advance(4)
    c = b.child()
    assert c.remaining() == 19.0, "B spends 4 -> C gets 19"
    assert a.remaining() == 19.0 and a.elapsed() == 11.0


def test_child_takes_the_smaller_of_remaining_and_max() -> None:
    clock = ManualClock()
    parent = Deadline(budget=10.0, clock=clock)
    assert parent.child(max=3.0).remaining() == 3.0
    assert parent.child(max=60.0).remaining() == 10.0
    with pytest.raises(ValueError, match="^max must be"):
        parent.child(max=-1)


def test_expiry_and_check() -> None:
    clock = ManualClock()
    deadline = Deadline(budget=2.0, clock=clock)
    assert deadline.check() == 2.0 and not deadline.expired
    clock.advance(2.5)
    assert deadline.expired and deadline.remaining() == 0.0
    with pytest.raises(DeadlineExceeded, match=r"deadline of 2 s exceeded 0\.5 s ago.*payments"):
        deadline.check("payments")
    assert deadline.child().expired, "a child of an expired deadline has no time either"


def test_deadline_timeouts_are_capped_by_the_time_left() -> None:
    clock = ManualClock()
    deadline = Deadline(budget=3.0, clock=clock)
    assert deadline.timeouts() == Timeouts(connect=1.0, read=3.0, write=3.0, pool=3.0)
    clock.advance(2.5)
    assert deadline.timeouts(connect=1.0, read=5.0) == Timeouts(
        connect=0.5, read=0.5, write=0.5, pool=0.5
    )
    clock.advance(1.0)
    with pytest.raises(DeadlineExceeded):
        deadline.timeouts()


def test_deadline_bad_budget() -> None:
    with pytest.raises(ValueError, match=r"^budget must be"):
        Deadline(budget=-1.0)


def test_with_makes_a_deadline_current_and_nests() -> None:
    clock = ManualClock()
    outer = Deadline(budget=30.0, clock=clock)
    assert Deadline.current() is None
    with outer:
        assert Deadline.current() is outer and current_deadline() is outer
        inner = outer.child(max=5.0)
        with inner:
            assert Deadline.current() is inner
            with inner:  # re-entering the same object is fine
                assert Deadline.current() is inner
            assert Deadline.current() is inner
        assert Deadline.current() is outer
    assert Deadline.current() is None


def test_current_deadline_follows_asyncio_tasks_and_stays_isolated() -> None:
    clock = ManualClock()

    async def callee() -> float | None:
        deadline = Deadline.current()
        return None if deadline is None else deadline.remaining()

    async def main() -> tuple[float | None, float | None]:
        with Deadline(budget=8.0, clock=clock):
            inside = await asyncio.create_task(callee())
        outside = await asyncio.create_task(callee())
        return inside, outside

    assert asyncio.run(main()) == (8.0, None)


# -- call_with_timeout -----------------------------------------------------------------------


def test_call_with_timeout_returns_the_result_and_reraises_errors() -> None:
    assert call_with_timeout(pow, LONG, 2, 5) == 32
    assert call_with_timeout(dict, LONG, a=1) == {"a": 1}
    error = KeyError("original")

    def broken() -> None:
        raise error

    with pytest.raises(KeyError) as info:
        call_with_timeout(broken, LONG)
    assert info.value is error


def test_hung_call_is_abandoned_with_call_timeout_error_and_event() -> None:
    trace = Trace()
    clock = ManualClock(42.0)
    release = threading.Event()
    finished = threading.Event()

    def hang() -> None:
        release.wait(LONG)
        finished.set()

    with pytest.raises(CallTimeoutError) as info:
        call_with_timeout(hang, TINY, listener=trace, name="legacy-soap", clock=clock)
    message = str(info.value)
    assert "legacy-soap did not finish within 0.01 s" in message
    assert "abandoned" in message and "cannot kill a thread" in message
    assert isinstance(info.value, TimeoutError)
    [event] = trace.of_type(TimeoutExpired)
    assert (event.time, event.source, event.timeout) == (42.0, "legacy-soap", TINY)
    release.set()  # let the abandoned worker end
    assert finished.wait(LONG)


def test_current_deadline_caps_the_wait_and_reaches_the_worker() -> None:
    clock = ManualClock()
    seen: list[Deadline | None] = []
    release = threading.Event()

    def work() -> None:
        seen.append(Deadline.current())
        release.wait(LONG)

    deadline = Deadline(budget=TINY, clock=clock)
    with deadline, pytest.raises(DeadlineExceeded, match="ran into its deadline"):
        call_with_timeout(work, LONG)
    release.set()
    assert seen == [deadline], "the worker thread runs in the caller's context"


def test_expired_deadline_refuses_before_calling() -> None:
    clock = ManualClock()
    called = []
    with Deadline(budget=1.0, clock=clock):
        clock.advance(1.0)
        with pytest.raises(DeadlineExceeded):
            call_with_timeout(called.append, LONG, 1)
    assert called == []


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), "1"])
def test_call_with_timeout_bad_timeout(timeout: object) -> None:
    with pytest.raises(ValueError, match=r"^timeout must be"):
        call_with_timeout(print, timeout)  # type: ignore[arg-type]


# -- async -----------------------------------------------------------------------------------


def test_async_timeout_cancels_the_coroutine() -> None:
    trace = Trace()
    cancelled = []

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> None:
        with pytest.raises(CallTimeoutError, match="was cancelled"):
            await call_with_timeout_async(hang, TINY, listener=trace, clock=ManualClock())
        assert await call_with_timeout_async(asyncio.sleep, LONG, 0, "done") == "done"

    asyncio.run(main())
    assert cancelled == [True]
    assert trace.count(TimeoutExpired) == 1


def test_async_own_timeout_error_is_not_renamed() -> None:
    async def own() -> None:
        raise TimeoutError("the callee's own timeout")

    async def main() -> None:
        with pytest.raises(TimeoutError, match="callee's own") as info:
            await call_with_timeout_async(own, LONG)
        assert not isinstance(info.value, CallTimeoutError)

    asyncio.run(main())


def test_async_deadline_caps_the_wait() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        with Deadline(budget=TINY, clock=ManualClock()), pytest.raises(DeadlineExceeded):
            await call_with_timeout_async(hang, LONG)

    asyncio.run(main())


def test_settings_are_keyword_only_and_read_only() -> None:
    with pytest.raises(TypeError):
        Timeouts(1.0, 5.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Deadline(30.0)  # type: ignore[misc]
    deadline = Deadline(budget=30.0, clock=ManualClock(5.0))
    assert (deadline.budget, deadline.started_at, deadline.expires_at) == (30.0, 5.0, 35.0)
    for setting in ("budget", "started_at", "expires_at", "clock"):
        with pytest.raises(AttributeError):
            setattr(deadline, setting, 1.0)
