"""The breaker under 8 threads: no lost counts, never more trial calls than permits.

Every outcome is chosen by a seeded ``random.Random`` per thread, and the clock
is a ManualClock, so the *set* of outcomes is reproducible; only the
interleaving varies, and the assertions hold for every interleaving. A short
switch interval makes the interpreter swap threads often, so the races the
breaker must survive actually happen.
"""

from __future__ import annotations

import contextlib
import random
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from course_lib.breaker import TRANSITIONS, CircuitBreaker, State
from course_lib.clock import ManualClock
from course_lib.errors import CircuitOpenError
from course_lib.events import CallPermitted, StateChanged, Trace
from course_lib.fast_breaker import FastCircuitBreaker

pytestmark = pytest.mark.slow  # 8 threads with a tiny switch interval: seconds per test

THREADS = 8

BREAKERS = pytest.mark.parametrize(
    "breaker_class", [CircuitBreaker, FastCircuitBreaker], ids=["simple", "fast"]
)
"""Every test runs on the simple breaker and on the one with the lock-free path."""


class Boom(Exception):
    pass


class Ignored(Exception):
    pass


@pytest.fixture(autouse=True)
def frequent_thread_switches() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def run_threads(work: Callable[[int], None]) -> None:
    """Run ``work(index)`` on THREADS threads started together; re-raise the first error."""
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def body(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


class Tally:
    """Per-thread counts of what the callers saw, summed at the end."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts = {"calls": 0, "succeeded": 0, "failed": 0, "rejected": 0, "ignored": 0}

    def add(self, **counts: int) -> None:
        with self.lock:
            for key, value in counts.items():
                self.counts[key] += value


@BREAKERS
def test_no_lost_counts_in_a_window_that_holds_every_call(
    breaker_class: type[CircuitBreaker],
) -> None:
    calls_per_thread = 100_000
    total = THREADS * calls_per_thread
    breaker = breaker_class(window_size=total, minimum_calls=100, clock=ManualClock())
    tally = Tally()

    def ok() -> None:
        return None

    def fail() -> None:
        raise Boom

    def work(index: int) -> None:
        rng = random.Random(index)
        failed = 0
        call = breaker.call
        for i in range(calls_per_thread):
            # the first half only succeeds (the lock-free path), then 2% fail
            if i >= calls_per_thread // 2 and rng.random() < 0.02:
                try:
                    call(fail)
                except Boom:
                    failed += 1
            else:
                call(ok)
        tally.add(calls=calls_per_thread, failed=failed, succeeded=calls_per_thread - failed)

    run_threads(work)
    stats = breaker.stats
    assert tally.counts["calls"] == total
    assert (stats.succeeded, stats.failed) == (tally.counts["succeeded"], tally.counts["failed"])
    assert stats.succeeded + stats.failed + stats.rejected + stats.ignored == total
    assert (stats.rejected, stats.ignored, stats.late) == (0, 0, 0)
    assert breaker.window_calls == total, "every call must be in the window: none lost"
    assert breaker.window_failures == tally.counts["failed"]
    assert breaker.state is State.CLOSED


@BREAKERS
def test_no_lost_counts_in_a_small_rolling_window(breaker_class: type[CircuitBreaker]) -> None:
    calls_per_thread = 100_000
    window = 100
    breaker = breaker_class(window_size=window, minimum_calls=window, clock=ManualClock())
    tally = Tally()

    def fail() -> None:
        raise Boom

    def work(index: int) -> None:
        rng = random.Random(100 + index)
        failed = 0
        call = breaker.call
        for _ in range(calls_per_thread):
            # rare failures: the window keeps going from failure-free to not and back
            if rng.random() < 0.005:
                try:
                    call(fail)
                except Boom:
                    failed += 1
            else:
                call(int)
        tally.add(calls=calls_per_thread, failed=failed, succeeded=calls_per_thread - failed)

    run_threads(work)
    stats = breaker.stats
    assert (stats.succeeded, stats.failed) == (tally.counts["succeeded"], tally.counts["failed"])
    assert breaker.state is State.CLOSED
    snap = breaker.snapshot()
    assert snap.calls == window == len(snap.outcomes)
    assert snap.failures == sum(snap.outcomes) == breaker.window_failures


@BREAKERS
def test_no_lost_counts_while_the_breaker_keeps_tripping_and_recovering(
    breaker_class: type[CircuitBreaker],
) -> None:
    calls_per_thread = 20_000
    total = THREADS * calls_per_thread
    breaker = breaker_class(
        window_size=20,
        minimum_calls=10,
        cooldown=0.0,  # with a clock that never moves: HALF_OPEN on the next call
        half_open_max_calls=3,
        clock=ManualClock(),
        ignore_exceptions=(Ignored,),
    )
    tally = Tally()

    def work(index: int) -> None:
        rng = random.Random(200 + index)
        seen = {"succeeded": 0, "failed": 0, "rejected": 0, "ignored": 0}
        for _ in range(calls_per_thread):
            roll = rng.random()
            error: BaseException | None = (
                Boom() if roll < 0.4 else Ignored() if roll < 0.45 else None
            )

            def fn(error: BaseException | None = error) -> None:
                if error is not None:
                    raise error

            try:
                breaker.call(fn)
                seen["succeeded"] += 1
            except CircuitOpenError:
                seen["rejected"] += 1
            except Boom:
                seen["failed"] += 1
            except Ignored:
                seen["ignored"] += 1
        tally.add(calls=calls_per_thread, **seen)

    run_threads(work)
    stats = breaker.stats
    got = (stats.succeeded, stats.failed, stats.rejected, stats.ignored)
    want = tuple(tally.counts[k] for k in ("succeeded", "failed", "rejected", "ignored"))
    assert got == want
    assert sum(got) == total
    assert stats.rejected > 0, "the breaker never tripped: the scenario tests nothing"
    assert stats.late <= stats.succeeded + stats.failed
    snap = breaker.snapshot()
    assert snap.failures == sum(snap.outcomes) and snap.calls == len(snap.outcomes) <= 20


@BREAKERS
def test_trial_calls_in_flight_never_exceed_the_permits(
    breaker_class: type[CircuitBreaker],
) -> None:
    permits = 3
    breaker = breaker_class(
        window_size=1,
        minimum_calls=1,
        cooldown=0.0,
        half_open_max_calls=permits,
        clock=ManualClock(),
        ignore_exceptions=(Ignored,),
    )
    assert breaker.allow(0.0)
    breaker.record_failure(0.0)
    assert breaker.state is State.OPEN
    in_flight = 0
    most = 0
    counter = threading.Lock()
    tally = Tally()

    def trial() -> None:
        # every trial ends in an ignored error: the permit comes back and
        # the breaker stays HALF_OPEN for the whole test
        nonlocal in_flight, most
        with counter:
            in_flight += 1
            most = max(most, in_flight)
        for _ in range(20):  # a little work, so other threads run meanwhile
            pass
        with counter:
            in_flight -= 1
        raise Ignored

    def work(index: int) -> None:
        rejected = ignored = 0
        for _ in range(20_000):
            try:
                breaker.call(trial)
            except CircuitOpenError:
                rejected += 1
            except Ignored:
                ignored += 1
        tally.add(calls=rejected + ignored, rejected=rejected, ignored=ignored)

    run_threads(work)
    assert most <= permits, f"{most} trial calls ran at once with {permits} permits"
    assert breaker.state is State.HALF_OPEN
    stats = breaker.stats
    assert (stats.rejected, stats.ignored) == (tally.counts["rejected"], tally.counts["ignored"])
    assert breaker.snapshot(0.0).half_open_permits_used == 0, "every permit was given back"


@BREAKERS
def test_a_caller_beyond_the_permits_is_refused_while_the_trials_run(
    breaker_class: type[CircuitBreaker],
) -> None:
    permits = 3
    clock = ManualClock()
    breaker = breaker_class(
        window_size=1, minimum_calls=1, cooldown=5.0, half_open_max_calls=permits, clock=clock
    )
    assert breaker.allow()
    breaker.record_failure()
    clock.advance(5.0)
    entered = threading.Semaphore(0)
    release = threading.Event()
    reached: list[int] = []

    def trial(n: int) -> int:
        reached.append(n)
        entered.release()
        release.wait()
        return n

    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda n=n: results.append(breaker.call(trial, n)))
        for n in range(permits)
    ]
    for t in threads:
        t.start()
    for _ in range(permits):
        entered.acquire()
    assert breaker.state is State.HALF_OPEN
    for _ in range(10):
        with pytest.raises(CircuitOpenError, match="trial permits are in use"):
            breaker.call(trial, 99)
    release.set()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(permits))
    assert 99 not in reached
    assert breaker.state is State.CLOSED


@BREAKERS
def test_the_event_trace_stays_consistent_under_threads(
    breaker_class: type[CircuitBreaker],
) -> None:
    trace = Trace()
    breaker = breaker_class(
        window_size=10,
        minimum_calls=5,
        cooldown=0.0,
        half_open_max_calls=2,
        clock=ManualClock(),
        listener=trace,
    )

    def work(index: int) -> None:
        rng = random.Random(300 + index)
        for _ in range(5_000):
            fail = rng.random() < 0.4

            def fn(fail: bool = fail) -> None:
                if fail:
                    raise Boom

            with contextlib.suppress(Boom, CircuitOpenError):
                breaker.call(fn)

    run_threads(work)
    allowed = {(t.source, t.target) for t in TRANSITIONS}
    state = "closed"
    permits_this_spell = 0
    for event in trace:
        if isinstance(event, StateChanged):
            assert event.old == state, f"{event} does not follow from {state}"
            assert (event.old, event.new) in allowed
            state = event.new
            permits_this_spell = 0
        elif isinstance(event, CallPermitted):
            assert event.state == state
            if state == "half_open":
                permits_this_spell += 1
                assert permits_this_spell <= 2, "more trial calls than permits"
    assert trace.count(StateChanged) > 0
