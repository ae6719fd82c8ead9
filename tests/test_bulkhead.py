"""Bulkheads: admission limits, rejection, waiting, isolation - with Events and Barriers.

Threads are coordinated with ``threading.Event``/``Barrier``; nothing here asserts on
elapsed time. ``_wait_until`` only waits for a condition another thread will make true.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib.bulkhead import BulkheadSnapshot, SemaphoreBulkhead, ThreadPoolBulkhead
from course_lib.clock import ManualClock
from course_lib.errors import BulkheadFullError
from course_lib.events import BulkheadAcquired, BulkheadFull, BulkheadReleased, Trace

LONG = 30.0  # generous bound for a wait that another thread ends (never reached when green)


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until another thread makes ``condition`` true."""
    pause = threading.Event()
    for _ in range(5000):
        if condition():
            return
        pause.wait(0.002)
    raise AssertionError(f"timed out waiting until {what}")


# -- SemaphoreBulkhead: the sans-I/O core --------------------------------------------------


def test_semaphore_defaults_follow_resilience4j() -> None:
    bulkhead = SemaphoreBulkhead()
    assert (bulkhead.capacity, bulkhead.max_wait) == (25, 0.0)
    assert (bulkhead.in_use, bulkhead.available) == (0, 25)


def test_try_acquire_until_full_then_reject_with_events() -> None:
    trace = Trace()
    clock = ManualClock(5.0)
    bulkhead = SemaphoreBulkhead(max_concurrent=2, name="payments", listener=trace, clock=clock)
    assert bulkhead.try_acquire() and bulkhead.try_acquire()
    assert (bulkhead.in_use, bulkhead.available) == (2, 0)
    assert bulkhead.try_acquire() is False, "full: rejected at once"
    bulkhead.release()
    assert bulkhead.snapshot() == BulkheadSnapshot("payments", 2, 1, 1, 0)
    assert [e.kind for e in trace] == [
        "BulkheadAcquired",
        "BulkheadAcquired",
        "BulkheadFull",
        "BulkheadReleased",
    ]
    assert [e.in_use for e in trace] == [1, 2, 2, 1]
    assert all(e.capacity == 2 and e.source == "payments" and e.time == 5.0 for e in trace)


def test_release_without_acquire_is_an_error() -> None:
    bulkhead = SemaphoreBulkhead(max_concurrent=1, name="orders")
    with pytest.raises(RuntimeError, match="'orders': release\\(\\) called more times"):
        bulkhead.release()


def test_call_rejects_without_calling_and_names_bulkhead_and_capacity() -> None:
    bulkhead = SemaphoreBulkhead(max_concurrent=1, name="inventory")
    called = []
    assert bulkhead.try_acquire()
    with pytest.raises(BulkheadFullError) as info:
        bulkhead.call(called.append, 1)
    assert called == []
    assert str(info.value) == "Bulkhead 'inventory' is full: all 1 slots are in use"
    assert (info.value.name, info.value.capacity) == ("inventory", 1)
    bulkhead.release()
    assert bulkhead.call(lambda x: x * 2, 21) == 42
    assert bulkhead.in_use == 0


def test_call_releases_the_slot_when_fn_raises() -> None:
    bulkhead = SemaphoreBulkhead(max_concurrent=1)

    def broken() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        bulkhead.call(broken)
    assert bulkhead.in_use == 0


def test_context_manager_and_decorator() -> None:
    bulkhead = SemaphoreBulkhead(max_concurrent=1, name="db")
    with bulkhead:
        assert bulkhead.in_use == 1
        with pytest.raises(BulkheadFullError), bulkhead:
            pass
    assert bulkhead.in_use == 0

    @bulkhead
    def query(x: int) -> int:
        assert bulkhead.in_use == 1
        return x + 1

    assert query(1) == 2
    assert query.__name__ == "query"


# -- SemaphoreBulkhead: threads ------------------------------------------------------------


def test_blocking_acquire_waits_for_a_release() -> None:
    bulkhead = SemaphoreBulkhead(max_concurrent=1, max_wait=LONG, name="slow")
    bulkhead.acquire()
    got: list[str] = []

    def waiter() -> None:
        with bulkhead:
            got.append("in")

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    _wait_until(lambda: bulkhead.waiting == 1, "the second caller waits for a slot")
    assert got == []
    bulkhead.release()
    thread.join(LONG)
    assert got == ["in"] and bulkhead.in_use == 0 and bulkhead.waiting == 0


def test_blocking_acquire_gives_up_after_max_wait() -> None:
    trace = Trace()
    bulkhead = SemaphoreBulkhead(max_concurrent=1, max_wait=0.01, name="cache", listener=trace)
    bulkhead.acquire()
    with pytest.raises(BulkheadFullError, match=r"'cache' is full.*after waiting 0\.01 s"):
        bulkhead.acquire()
    assert trace.count(BulkheadFull) == 1
    with pytest.raises(BulkheadFullError):
        bulkhead.acquire(timeout=0)
    with pytest.raises(ValueError, match="^timeout must be"):
        bulkhead.acquire(timeout=-1)


@pytest.mark.parametrize("blocking", [False, True])
def test_no_over_admission_under_eight_threads(blocking: bool) -> None:
    trace = Trace()
    lock = threading.Lock()
    bulkhead = SemaphoreBulkhead(
        max_concurrent=3, max_wait=LONG if blocking else 0.0, listener=trace
    )
    start = threading.Barrier(8)
    inside = 0
    peak = 0
    admitted = 0
    rejected = 0

    def worker() -> None:
        nonlocal inside, peak, admitted, rejected
        start.wait()
        for _ in range(200):
            if blocking:
                bulkhead.acquire()
            elif not bulkhead.try_acquire():
                with lock:
                    rejected += 1
                continue
            with lock:
                inside += 1
                admitted += 1
                peak = max(peak, inside)
            with lock:
                inside -= 1
            bulkhead.release()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LONG)
    assert peak <= 3, f"{peak} calls were inside a bulkhead of 3"
    assert admitted + rejected == 8 * 200
    assert bulkhead.in_use == 0 and bulkhead.waiting == 0
    assert trace.count(BulkheadAcquired) == trace.count(BulkheadReleased) == admitted
    assert trace.count(BulkheadFull) == rejected
    assert all(e.in_use <= 3 for e in trace)


# -- SemaphoreBulkhead: asyncio ------------------------------------------------------------


def test_async_call_waits_on_the_loop_for_a_slot() -> None:
    bulkhead = SemaphoreBulkhead(max_concurrent=1, max_wait=LONG, name="async")
    order: list[str] = []

    async def main() -> None:
        gate = asyncio.Event()

        async def holder() -> None:
            order.append("holder in")
            await gate.wait()
            order.append("holder out")

        async def second() -> str:
            order.append("second in")
            return "done"

        first = asyncio.create_task(bulkhead.call_async(holder))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(bulkhead.call_async(second))
        for _ in range(3):
            await asyncio.sleep(0)
        assert bulkhead.waiting == 1 and order == ["holder in"]
        gate.set()
        assert await waiting == "done"
        await first

    asyncio.run(main())
    assert order == ["holder in", "holder out", "second in"]
    assert bulkhead.in_use == 0 and bulkhead.waiting == 0


def test_async_waiter_is_woken_by_a_release_from_another_thread() -> None:
    bulkhead = SemaphoreBulkhead(max_concurrent=1, max_wait=LONG)
    assert bulkhead.try_acquire()  # held by the worker thread below
    go = threading.Event()

    def worker() -> None:
        go.wait(LONG)
        bulkhead.release()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()

    async def main() -> str:
        async def work() -> str:
            return "got the slot"

        task = asyncio.create_task(bulkhead.call_async(work))
        for _ in range(3):
            await asyncio.sleep(0)
        assert bulkhead.waiting == 1
        go.set()
        return await task

    assert asyncio.run(main()) == "got the slot"
    thread.join(LONG)
    assert bulkhead.in_use == 0


def test_async_rejects_at_once_or_after_max_wait() -> None:
    async def main() -> None:
        now = SemaphoreBulkhead(max_concurrent=1, name="fast")
        later = SemaphoreBulkhead(max_concurrent=1, max_wait=0.01, name="patient")
        assert now.try_acquire() and later.try_acquire()
        with pytest.raises(BulkheadFullError, match="'fast' is full"):
            await now.call_async(asyncio.sleep, 0)
        with pytest.raises(BulkheadFullError, match="after waiting"):
            await later.call_async(asyncio.sleep, 0)
        assert later.waiting == 0

    asyncio.run(main())


def test_async_wait_is_measured_on_the_injected_clock() -> None:
    # A clock on which a minute passes between two readings: the waiter gives up at
    # once, although max_wait is an hour of real time (no test sleeps).
    class MinutePerReading:
        def __init__(self) -> None:
            self.t = 0.0

        def now(self) -> float:
            self.t += 60.0
            return self.t

    async def main() -> None:
        bulkhead = SemaphoreBulkhead(max_concurrent=1, max_wait=30.0, clock=MinutePerReading())
        assert bulkhead.try_acquire()
        with pytest.raises(BulkheadFullError, match="after waiting 30 s"):
            await asyncio.wait_for(bulkhead.acquire_async(), LONG)
        assert bulkhead.waiting == 0

    asyncio.run(main())


def test_settings_are_keyword_only_and_read_only() -> None:
    with pytest.raises(TypeError):
        SemaphoreBulkhead(2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        ThreadPoolBulkhead(2, 10)  # type: ignore[misc]
    bulkhead = SemaphoreBulkhead(max_concurrent=2, max_wait=0.5, name="db")
    assert (bulkhead.max_concurrent, bulkhead.max_wait, bulkhead.name) == (2, 0.5, "db")
    for setting in ("max_concurrent", "max_wait", "name", "clock", "capacity"):
        with pytest.raises(AttributeError):
            setattr(bulkhead, setting, 1)
    with ThreadPoolBulkhead(max_workers=2, queue_capacity=3, name="pool") as pool:
        assert (pool.max_workers, pool.queue_capacity, pool.name) == (2, 3, "pool")
        for setting in ("max_workers", "queue_capacity", "name", "clock"):
            with pytest.raises(AttributeError):
                setattr(pool, setting, 1)
    with pytest.raises(ValueError, match="^listener"):
        bulkhead.listener = "trace"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="^name"):
        SemaphoreBulkhead(name="")
    with pytest.raises(ValueError, match="^clock"):
        ThreadPoolBulkhead(clock=object())  # type: ignore[arg-type]


def test_async_decorator_and_context_manager() -> None:
    bulkhead = SemaphoreBulkhead(max_concurrent=2)

    @bulkhead
    async def fetch(x: int) -> int:
        return x * 3

    async def main() -> int:
        async with bulkhead:
            assert bulkhead.in_use == 1
            return await fetch(2)

    assert asyncio.run(main()) == 6
    assert bulkhead.in_use == 0


@given(st.integers(min_value=1, max_value=5), st.lists(st.booleans(), max_size=60))
def test_occupancy_invariants_for_any_sequence(capacity: int, ops: list[bool]) -> None:
    """``True`` = try_acquire, ``False`` = release (when something is held)."""
    trace = Trace()
    bulkhead = SemaphoreBulkhead(max_concurrent=capacity, listener=trace)
    held = 0
    for acquire in ops:
        if acquire:
            took = bulkhead.try_acquire()
            assert took == (held < capacity)
            held += took
        elif held:
            bulkhead.release()
            held -= 1
        assert bulkhead.in_use == held
        assert bulkhead.in_use + bulkhead.available == capacity
    assert trace.count(BulkheadAcquired) - trace.count(BulkheadReleased) == held
    assert all(0 <= e.in_use <= capacity for e in trace)  # type: ignore[attr-defined]


def test_semaphore_bad_config() -> None:
    with pytest.raises(ValueError, match=r"^max_concurrent must be an integer >= 1, got 0"):
        SemaphoreBulkhead(max_concurrent=0)
    with pytest.raises(ValueError, match=r"^max_wait must be"):
        SemaphoreBulkhead(max_concurrent=1, max_wait=-0.5)


# -- ThreadPoolBulkhead --------------------------------------------------------------------


def test_thread_pool_defaults_and_call() -> None:
    with ThreadPoolBulkhead() as pool:
        assert (pool.capacity, pool.queue_capacity) == (10, 100)
        assert pool.call(pow, 2, 10) == 1024
        assert pool.submit(str.upper, "ok").result(LONG) == "OK"
        with pytest.raises(ZeroDivisionError):
            pool.call(lambda: 1 / 0)
        assert (pool.active, pool.queued) == (0, 0)


def test_thread_pool_rejects_when_workers_busy_and_queue_full() -> None:
    trace = Trace()
    release = threading.Event()
    started = threading.Barrier(3)  # two workers + the test

    def hang() -> str:
        started.wait(LONG)
        release.wait(LONG)
        return "finally"

    pool = ThreadPoolBulkhead(max_workers=2, queue_capacity=1, name="payments", listener=trace)
    try:
        running = [pool.submit(hang) for _ in range(2)]
        started.wait(LONG)
        queued = pool.submit(str, "queued")
        assert (pool.active, pool.queued) == (2, 1)
        with pytest.raises(BulkheadFullError) as info:
            pool.submit(str, "one too many")
        message = str(info.value)
        assert "'payments'" in message and "2 workers" in message and "queue of 1" in message
        assert info.value.capacity == 2
        assert pool.snapshot() == BulkheadSnapshot("payments", 2, 2, 0, 1, 1)
        release.set()
        assert [f.result(LONG) for f in running] == ["finally", "finally"]
        assert queued.result(LONG) == "queued"
    finally:
        release.set()
        pool.shutdown()
    assert (pool.active, pool.queued) == (0, 0)
    assert trace.count(BulkheadFull) == 1
    assert trace.count(BulkheadAcquired) == trace.count(BulkheadReleased) == 3


def test_hung_dependency_saturates_only_its_own_pool() -> None:
    """The seed's picture: pool B is blocked by a hung service B; pool A keeps serving."""
    b_hangs = threading.Event()
    b_started = threading.Barrier(4 + 1)

    def service_b() -> str:
        b_started.wait(LONG)
        b_hangs.wait(LONG)
        return "B finally answered"

    def service_a(i: int) -> str:
        return f"A served {i}"

    pool_a = ThreadPoolBulkhead(max_workers=4, queue_capacity=0, name="pool-A")
    pool_b = ThreadPoolBulkhead(max_workers=4, queue_capacity=0, name="pool-B")
    try:
        stuck = [pool_b.submit(service_b) for _ in range(4)]
        b_started.wait(LONG)
        assert pool_b.active == 4
        with pytest.raises(BulkheadFullError, match="pool-B"):
            pool_b.submit(service_b)
        # B is saturated, yet A serves a hundred calls without a single rejection
        assert [pool_a.call(service_a, i) for i in range(100)] == [
            f"A served {i}" for i in range(100)
        ]
        assert pool_a.active == 0 and pool_b.active == 4
    finally:
        b_hangs.set()
        pool_b.shutdown()
        pool_a.shutdown()
    assert all(f.result(LONG) == "B finally answered" for f in stuck)


def test_cancelled_queued_call_frees_its_place() -> None:
    release = threading.Event()
    started = threading.Event()

    def hang() -> None:
        started.set()
        release.wait(LONG)

    pool = ThreadPoolBulkhead(max_workers=1, queue_capacity=1)
    try:
        pool.submit(hang)
        started.wait(LONG)
        waiting = pool.submit(hang)
        assert pool.queued == 1
        assert waiting.cancel()
        assert pool.queued == 0
        pool.submit(str, "fits again").cancel()
    finally:
        release.set()
        pool.shutdown()


def test_thread_pool_after_shutdown_and_bad_config() -> None:
    pool = ThreadPoolBulkhead(max_workers=1, queue_capacity=0)
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(str, "late")
    assert pool.queued == 0
    with pytest.raises(ValueError, match=r"^max_workers must be an integer >= 1"):
        ThreadPoolBulkhead(max_workers=0)
    with pytest.raises(ValueError, match=r"^queue_capacity must be an integer >= 0"):
        ThreadPoolBulkhead(max_workers=1, queue_capacity=-1)
