"""The reference circuit breaker, driven by a hand-cranked clock (no test sleeps).

Every test that builds its breaker with :func:`make` runs twice: on the simple
:class:`CircuitBreaker` the lesson quotes and on :class:`FastCircuitBreaker`.
"""

from __future__ import annotations

import inspect
import math
import threading
from typing import Any

import pytest

from course_lib.breaker import (
    MERMAID_NAMES,
    TRANSITIONS,
    BreakerSnapshot,
    CircuitBreaker,
    ClosedState,
    CountWindow,
    HalfOpenState,
    OpenState,
    State,
    TimeWindow,
    Transition,
)
from course_lib.clock import ManualClock, MonotonicClock
from course_lib.errors import CircuitOpenError
from course_lib.events import (
    CallFailed,
    CallIgnored,
    CallPermitted,
    CallRejected,
    CallSucceeded,
    StateChanged,
    Trace,
)
from course_lib.fast_breaker import FastCircuitBreaker
from course_lib.replay import drive, steps_from_string

BREAKER: type[CircuitBreaker] = CircuitBreaker
"""The class :func:`make` builds (set by the ``breaker_class`` fixture)."""


@pytest.fixture(autouse=True, params=[CircuitBreaker, FastCircuitBreaker], ids=["simple", "fast"])
def breaker_class(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> type[CircuitBreaker]:
    monkeypatch.setitem(globals(), "BREAKER", request.param)
    cls: type[CircuitBreaker] = request.param
    return cls


FAST_ONLY = pytest.mark.parametrize(
    "breaker_class", [FastCircuitBreaker], ids=["fast"], indirect=True
)
"""For white-box tests of FastCircuitBreaker's lock-free path."""


def make(clock: ManualClock | None = None, **overrides: Any) -> CircuitBreaker:
    """A small breaker for lessons: window of 10 calls, 10 minimum, 30 s cooldown, 2 trials."""
    config: dict[str, Any] = {
        "name": "payments",
        "window_size": 10,
        "minimum_calls": 10,
        "cooldown": 30.0,
        "half_open_max_calls": 2,
        "clock": clock or ManualClock(),
    }
    config.update(overrides)
    return BREAKER(**config)


def feed(breaker: CircuitBreaker, pattern: str, now: float = 0.0) -> None:
    """Report ``pattern`` ('s' success, 'f' failure) at ``now``; every call must be allowed."""
    for ch in pattern:
        assert breaker.allow(now), f"call {ch!r} at t={now} was refused in state {breaker.state}"
        if ch == "s":
            breaker.record_success(now)
        else:
            breaker.record_failure(now)


def trip(breaker: CircuitBreaker, now: float = 0.0) -> None:
    feed(breaker, "f" * breaker.minimum_calls, now)
    assert breaker.state is State.OPEN


class Boom(Exception):
    pass


class NotMyProblem(Exception):
    pass


# --------------------------------------------------------------------- basics


def test_state_is_a_str_enum_comparable_with_plain_strings() -> None:
    assert State.CLOSED == "closed"
    assert State.OPEN == "open"
    assert State.HALF_OPEN == "half_open"
    assert [s.value for s in State] == ["closed", "open", "half_open"]
    assert f"{State.HALF_OPEN}" == "half_open"


def test_defaults_are_resilience4j_s_with_the_seed_s_cooldown() -> None:
    breaker = CircuitBreaker()
    assert breaker.name == "breaker"
    assert breaker.failure_rate_threshold == 0.5
    assert breaker.window_type == "count"
    assert breaker.window_size == 100
    assert breaker.minimum_calls == 100
    assert breaker.cooldown == 30.0
    assert breaker.half_open_max_calls == 10
    assert breaker.slow_call_duration is None
    assert breaker.slow_call_rate_threshold == 1.0
    assert breaker.listener is None
    assert isinstance(breaker.clock, MonotonicClock)
    assert breaker.state is State.CLOSED
    assert breaker.failure_rate == 0.0
    assert breaker.slow_call_rate == 0.0
    assert breaker.window_calls == 0
    assert breaker.opened_at is None
    assert breaker.cooldown_remaining() == 0.0


def test_default_error_lists_record_exceptions_and_ignore_base_exceptions() -> None:
    breaker = make()
    with pytest.raises(Boom):
        breaker.call(_raiser(Boom("down")))
    with pytest.raises(KeyboardInterrupt):
        breaker.call(_raiser(KeyboardInterrupt()))
    stats = breaker.stats
    assert (stats.failed, stats.ignored) == (1, 1)
    assert breaker.window_calls == 1


def test_a_minimum_a_count_window_can_never_reach_is_a_configuration_error() -> None:
    # resilience4j silently caps it; here it is a ValueError naming minimum_calls
    with pytest.raises(ValueError, match=r"^minimum_calls must be <= window_size \(10\)") as info:
        CircuitBreaker(window_size=10, minimum_calls=100)
    assert "got 100" in str(info.value)
    assert CircuitBreaker(window_size=10, minimum_calls=10).minimum_calls == 10
    assert CircuitBreaker(window_size=100, minimum_calls=20).minimum_calls == 20
    # for a time window the window size is seconds, not calls: no bound
    assert CircuitBreaker(window_type="time", window_size=5, minimum_calls=100).minimum_calls == 100


def test_the_default_minimum_is_the_count_window_s_size_and_100_for_a_time_window() -> None:
    assert CircuitBreaker(window_size=10).minimum_calls == 10
    assert CircuitBreaker(window_type="time", window_size=5).minimum_calls == 100


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"name": ""}, "name"),
        ({"name": 3}, "name"),
        ({"failure_rate_threshold": 0}, "failure_rate_threshold"),
        ({"failure_rate_threshold": 1.5}, "failure_rate_threshold"),
        ({"failure_rate_threshold": math.nan}, "failure_rate_threshold"),
        ({"failure_rate_threshold": "50%"}, "failure_rate_threshold"),
        ({"window_type": "sliding"}, "window_type"),
        ({"window_size": 0}, "window_size"),
        ({"window_size": 2.5}, "window_size"),
        ({"window_size": True}, "window_size"),
        ({"window_size": 10**8}, "window_size"),
        ({"window_type": "time", "window_size": 0}, "window_size"),
        ({"window_type": "time", "window_size": -1.0}, "window_size"),
        ({"minimum_calls": 0}, "minimum_calls"),
        ({"minimum_calls": 1.0}, "minimum_calls"),
        ({"cooldown": -1}, "cooldown"),
        ({"cooldown": math.inf * 0}, "cooldown"),
        ({"half_open_max_calls": 0}, "half_open_max_calls"),
        ({"slow_call_duration": 0}, "slow_call_duration"),
        ({"slow_call_duration": -2.0}, "slow_call_duration"),
        ({"slow_call_rate_threshold": 0}, "slow_call_rate_threshold"),
        ({"slow_call_rate_threshold": 2}, "slow_call_rate_threshold"),
        ({"record_exceptions": "ValueError"}, "record_exceptions"),
        ({"record_exceptions": (ValueError, 3)}, "record_exceptions"),
        ({"ignore_exceptions": int}, "ignore_exceptions"),
        ({"clock": object()}, "clock"),
        ({"listener": 42}, "listener"),
    ],
)
def test_every_bad_value_is_a_value_error_naming_the_parameter(
    kwargs: dict[str, Any], names: str
) -> None:
    with pytest.raises(ValueError, match=names) as info:
        CircuitBreaker(**kwargs)
    assert str(info.value).startswith(names), str(info.value)


def test_range_errors_state_the_allowed_range_and_the_value() -> None:
    with pytest.raises(ValueError) as info:
        CircuitBreaker(failure_rate_threshold=1.5)
    assert str(info.value) == "failure_rate_threshold must be in (0, 1], got 1.5"
    with pytest.raises(ValueError, match=r"an integer >= 1, got 0"):
        CircuitBreaker(half_open_max_calls=0)


def test_a_listener_set_later_is_validated_too() -> None:
    breaker = make()
    with pytest.raises(ValueError, match="listener"):
        breaker.listener = "trace"  # type: ignore[assignment]


def test_single_exception_classes_are_accepted_for_the_lists() -> None:
    breaker = make(record_exceptions=Boom, ignore_exceptions=NotMyProblem)
    with pytest.raises(ValueError):
        breaker.call(_raiser(ValueError("not recorded")))
    assert breaker.stats.ignored == 1


# ------------------------------------------------------------------ CLOSED


def test_no_verdict_before_the_window_holds_minimum_calls() -> None:
    breaker = make()
    feed(breaker, "f" * 9)
    assert breaker.state is State.CLOSED, "9 failures < minimum 10 calls: no verdict yet"
    assert breaker.failure_rate == 1.0
    feed(breaker, "f")
    assert breaker.state is State.OPEN


def test_trips_at_exactly_the_threshold_five_failures_of_ten_at_fifty_percent() -> None:
    breaker = make()
    feed(breaker, "sssss" + "ffff")
    assert breaker.state is State.CLOSED
    feed(breaker, "f")
    assert breaker.state is State.OPEN, "5 failures of 10 = 50% >= 50% must trip (>=, not >)"
    assert breaker.failure_rate == 0.5
    assert breaker.opened_at == 0.0


def test_four_failures_of_ten_do_not_trip() -> None:
    breaker = make()
    feed(breaker, "ssssss" + "ffff")
    assert breaker.state is State.CLOSED
    assert breaker.failure_rate == pytest.approx(0.4)


def test_thresholds_that_are_not_binary_fractions_compare_exactly() -> None:
    # 0.3 * 10 is 3.0000000000000004 in floating point; 3/10 must still trip at 30%
    breaker = make(failure_rate_threshold=0.3)
    feed(breaker, "sssssss" + "fff")
    assert breaker.state is State.OPEN


def test_a_success_can_complete_the_verdict() -> None:
    breaker = make()
    feed(breaker, "f" * 6 + "sss")
    assert breaker.state is State.CLOSED
    feed(breaker, "s")
    assert breaker.state is State.OPEN, "the 10th call (a success) completes 6/10 = 60% >= 50%"


def test_the_count_window_rolls_old_calls_out() -> None:
    breaker = make(window_size=4, minimum_calls=4)
    feed(breaker, "fsss")
    assert (breaker.window_calls, breaker.window_failures) == (4, 1)
    feed(breaker, "s")  # the failure rolls out
    assert (breaker.window_calls, breaker.window_failures) == (4, 0)
    feed(breaker, "ff")
    assert breaker.state is State.OPEN
    assert breaker.snapshot().outcomes == (False, False, True, True)


def test_time_window_counts_only_the_calls_of_the_last_window_size_seconds() -> None:
    clock = ManualClock()
    breaker = make(clock, window_type="time", window_size=10.0, minimum_calls=4)
    feed(breaker, "fff", now=0.0)
    assert breaker.state is State.CLOSED
    # at t=10 the calls made at t=0 are 10 s old: out of the window (t > now - 10 only)
    feed(breaker, "s", now=10.0)
    assert (breaker.window_calls, breaker.window_failures) == (1, 0)
    feed(breaker, "sf", now=15.0)
    assert breaker.state is State.CLOSED
    assert breaker.window_calls == 3
    assert breaker.failure_rate == pytest.approx(1 / 3)
    feed(breaker, "f", now=19.9)
    assert breaker.state is State.OPEN, "2 failures of 4 calls in the last 10 s"


def test_time_window_snapshot_ages_calls_out_without_changing_the_breaker() -> None:
    clock = ManualClock()
    breaker = make(clock, window_type="time", window_size=10.0, minimum_calls=5)
    feed(breaker, "ff", now=0.0)
    feed(breaker, "s", now=6.0)
    assert breaker.snapshot(now=7.0).outcomes == (True, True, False)
    later = breaker.snapshot(now=12.0)
    assert later.outcomes == (False,)
    assert (later.calls, later.failures, later.failure_rate) == (1, 0, 0.0)
    assert breaker.window_calls == 3, "a snapshot must not change the breaker"


def test_time_window_trip_reason_names_seconds_and_calls() -> None:
    trace = Trace()
    breaker = make(window_type="time", window_size=60.0, minimum_calls=2, listener=trace)
    feed(breaker, "ff", now=1.0)
    (change,) = trace.of_type(StateChanged)
    assert change.reason == "failure rate 100% >= threshold 50% over the last 60s (2 calls)"


# -------------------------------------------------------------------- OPEN


def test_open_rejects_until_the_cooldown_has_elapsed() -> None:
    breaker = make()
    trip(breaker, now=100.0)
    for now in (100.0, 110.0, 129.999):
        assert not breaker.allow(now), (
            f"OPEN since t=100 with a 30 s cooldown; t={now} must fail fast"
        )
        assert breaker.state is State.OPEN
    assert breaker.stats.rejected == 3


def test_cooldown_expiry_is_lazy_and_state_at_tells_what_a_call_would_find() -> None:
    clock = ManualClock(100.0)
    breaker = make(clock)
    trip(breaker, now=100.0)
    clock.set(130.0)
    assert breaker.state is State.OPEN, "nothing happens until somebody asks"
    assert breaker.state_at(130.0) is State.HALF_OPEN
    assert breaker.state_at() is State.HALF_OPEN  # reads the clock
    assert breaker.state_at(129.0) is State.OPEN
    assert breaker.cooldown_remaining(120.0) == 10.0
    assert breaker.cooldown_remaining() == 0.0
    assert breaker.state is State.OPEN, "state_at and cooldown_remaining have no side effects"
    assert breaker.allow(130.0), "the first call at opened_at + cooldown is the first trial"
    assert breaker.state is State.HALF_OPEN
    assert breaker.cooldown_remaining(130.0) == 0.0


def test_outcomes_reported_while_open_change_nothing() -> None:
    breaker = make()
    trip(breaker)
    before = breaker.snapshot(now=1.0)
    breaker.record_success(1.0)
    breaker.record_failure(1.0)
    after = breaker.snapshot(now=1.0)
    assert breaker.state is State.OPEN
    assert before.outcomes == after.outcomes
    assert breaker.opened_at == 0.0, "a late failure must not restart the cooldown"


def test_zero_cooldown_goes_half_open_on_the_next_call() -> None:
    breaker = make(cooldown=0)
    trip(breaker, now=5.0)
    assert breaker.allow(5.0)
    assert breaker.state is State.HALF_OPEN


# --------------------------------------------------------------- HALF_OPEN


def half_open(breaker: CircuitBreaker, now: float = 30.0) -> None:
    trip(breaker, now=0.0)
    assert breaker.allow(now)
    assert breaker.state is State.HALF_OPEN


def test_half_open_grants_exactly_half_open_max_calls_permits() -> None:
    breaker = make(half_open_max_calls=3)
    half_open(breaker)
    assert breaker.allow(30.0)
    assert breaker.allow(30.0)
    for _ in range(5):
        assert not breaker.allow(31.0), "a 4th caller while 3 trials run must be refused"
    snap = breaker.snapshot(31.0)
    assert (snap.half_open_permits_used, snap.half_open_permits_left) == (3, 0)
    assert breaker.state is State.HALF_OPEN


def test_all_trials_succeed_closes_with_an_empty_window() -> None:
    breaker = make(half_open_max_calls=3)
    half_open(breaker)
    breaker.record_success(30.0)
    assert breaker.allow(31.0) and breaker.allow(31.0)
    breaker.record_success(31.0)
    assert breaker.state is State.HALF_OPEN, "2 of 3 trials done"
    breaker.record_success(32.0)
    assert breaker.state is State.CLOSED
    assert breaker.window_calls == 0
    assert breaker.failure_rate == 0.0
    assert breaker.opened_at is None


def test_any_trial_failure_reopens_and_restarts_the_cooldown_from_that_failure() -> None:
    breaker = make(half_open_max_calls=3)
    half_open(breaker, now=30.0)
    assert breaker.allow(31.0)
    breaker.record_success(31.0)
    breaker.record_failure(42.0)
    assert breaker.state is State.OPEN
    assert breaker.opened_at == 42.0
    assert not breaker.allow(71.9)
    assert breaker.allow(72.0)
    assert breaker.state is State.HALF_OPEN
    assert breaker.snapshot(72.0).half_open_permits_used == 1, "a fresh set of permits"


def test_an_ignored_trial_gives_its_permit_back() -> None:
    breaker = make(half_open_max_calls=1)
    half_open(breaker)
    assert not breaker.allow(30.0)
    breaker.record_ignored(30.0, error="NotMyProblem()")
    assert breaker.state is State.HALF_OPEN
    assert breaker.allow(30.0), "the permit came back"
    breaker.record_success(30.0)
    assert breaker.state is State.CLOSED


def test_an_ignored_exception_through_call_gives_its_permit_back() -> None:
    clock = ManualClock()
    breaker = make(clock, half_open_max_calls=1, ignore_exceptions=(NotMyProblem,))
    half_open(breaker)
    breaker.record_ignored(30.0)  # the trial taken by half_open() ends ignored
    clock.set(30.0)
    with pytest.raises(NotMyProblem):
        breaker.call(_raiser(NotMyProblem("404")))
    assert breaker.state is State.HALF_OPEN
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state is State.CLOSED


# ------------------------------------------------------------ record/ignore


def test_ignored_exceptions_count_as_neither_success_nor_failure() -> None:
    breaker = make(
        window_size=2,
        minimum_calls=2,
        record_exceptions=(OSError,),
        ignore_exceptions=(TimeoutError,),
    )
    for error in (ValueError("not recorded"), TimeoutError("ignored subclass of OSError")):
        with pytest.raises(type(error)):
            breaker.call(_raiser(error))
    assert breaker.window_calls == 0
    assert breaker.stats.ignored == 2
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_raiser(ConnectionError("refused")))
    assert breaker.state is State.OPEN


def test_call_reraises_the_error_of_the_protected_call_even_with_a_fallback() -> None:
    breaker = make(fallback="cached")
    with pytest.raises(Boom):
        breaker.call(_raiser(Boom("down")))


# -------------------------------------------------------------- fallbacks


def test_a_refused_call_never_reaches_fn_and_raises_circuit_open_error() -> None:
    clock = ManualClock(0.0)
    breaker = make(clock)
    trip(breaker, now=0.0)
    clock.set(12.5)
    reached: list[int] = []
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(reached.append, 1)
    assert reached == []
    error = info.value
    assert (error.name, error.state, error.retry_after) == ("payments", "open", 17.5)
    message = str(error)
    assert "'payments'" in message and "open" in message and "17.5s" in message, message


def test_half_open_refusal_says_the_trial_permits_are_in_use() -> None:
    clock = ManualClock()
    breaker = make(clock, half_open_max_calls=1)
    half_open(breaker)
    clock.set(30.0)
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(lambda: 1)
    assert info.value.state == "half_open"
    assert info.value.retry_after is None
    assert "all 1 trial permits are in use" in str(info.value)


def test_a_fallback_value_is_returned_for_refused_calls() -> None:
    breaker = make(fallback={"status": "queued"})
    trip(breaker)
    assert breaker.call(_raiser(AssertionError("must not run"))) == {"status": "queued"}


def test_a_fallback_function_receives_the_circuit_open_error() -> None:
    seen: list[CircuitOpenError] = []

    def cached(error: CircuitOpenError) -> str:
        seen.append(error)
        return "cached checkout"

    breaker = make(fallback=cached)
    trip(breaker)
    assert breaker.call(lambda: "live") == "cached checkout"
    (error,) = seen
    assert isinstance(error, CircuitOpenError) and error.state == "open"


def test_a_fallback_of_none_is_a_value_not_unset() -> None:
    breaker = make(fallback=None)
    trip(breaker)
    assert breaker.call(lambda: 1) is None


# ---------------------------------------------------------------- adapters


def _raiser(error: BaseException) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise error

    return fn


def test_call_passes_arguments_and_returns_the_result() -> None:
    breaker = make()
    assert breaker.call(lambda a, b=0: a + b, 2, b=3) == 5
    assert breaker.stats.succeeded == 1
    assert breaker.window_calls == 1


def test_call_never_holds_the_lock_while_fn_runs() -> None:
    breaker = make()
    inside: list[bool] = []

    def probe() -> None:
        # the lock is re-entrant, so try it from another thread
        def try_lock() -> None:
            got = breaker._lock.acquire(blocking=False)
            if got:
                breaker._lock.release()
            inside.append(got)

        other = threading.Thread(target=try_lock)
        other.start()
        other.join()

    breaker.call(probe)
    breaker.listener = Trace()  # the slow path too
    breaker.call(probe)
    assert inside == [True, True]


def test_the_decorator_wraps_a_function_and_keeps_its_name() -> None:
    breaker = make(fallback="fallback")

    @breaker
    def fetch(order: int) -> str:
        """Fetch an order."""
        return f"order {order}"

    assert fetch(7) == "order 7"
    assert fetch.__name__ == "fetch" and fetch.__doc__ == "Fetch an order."
    feed(breaker, "f" * 9)  # with the success: 9 failures of 10 calls
    assert breaker.state is State.OPEN
    assert fetch(8) == "fallback"


def test_the_decorator_guards_a_method_and_passes_its_instance() -> None:
    breaker = make(fallback="fallback")

    class Orders:
        def __init__(self, prefix: str) -> None:
            self.prefix = prefix

        @breaker
        def fetch(self, order: int, *, urgent: bool = False) -> str:
            """Fetch an order."""
            return f"{self.prefix} {order}{'!' if urgent else ''}"

    orders = Orders("order")
    assert orders.fetch(7) == "order 7" and orders.fetch(8, urgent=True) == "order 8!"
    assert Orders.fetch(orders, 9) == "order 9"  # through the class, as a plain function
    assert Orders.fetch.__name__ == "fetch" and Orders.fetch.__doc__ == "Fetch an order."
    assert (
        str(inspect.signature(orders.fetch)) == "(order: 'int', *, urgent: 'bool' = False) -> 'str'"
    )
    assert breaker.stats.succeeded == 3
    feed(breaker, "f" * 7)  # with the 3 successes: 7 failures of 10 calls
    assert orders.fetch(10) == "fallback"


def test_call_measures_duration_with_the_clock_and_emits_events() -> None:
    clock = ManualClock()
    trace = Trace()
    breaker = make(clock, listener=trace)

    def slow_ok() -> str:
        clock.advance(2.5)
        return "ok"

    assert breaker.call(slow_ok) == "ok"
    permitted, succeeded = trace.events
    assert permitted == CallPermitted(0.0, "payments", "closed")
    assert succeeded == CallSucceeded(2.5, "payments", 2.5, False)
    with pytest.raises(Boom):
        breaker.call(_raiser(Boom("down")))
    failed = trace.events[-1]
    assert isinstance(failed, CallFailed) and failed.error == "Boom('down')"


def test_events_tell_the_whole_story_in_order() -> None:
    trace = Trace()
    breaker = make(half_open_max_calls=1, listener=trace, ignore_exceptions=(NotMyProblem,))
    feed(breaker, "sssss" + "fffff", now=1.0)
    assert not breaker.allow(2.0)
    assert breaker.allow(31.0)
    breaker.record_ignored(31.0, "NotMyProblem()")
    assert breaker.allow(32.0)
    breaker.record_failure(32.0, error="Boom()")
    assert breaker.allow(62.0)
    breaker.record_success(62.0)
    kinds = [e.kind for e in trace]
    assert (
        kinds[:20] == ["CallPermitted", "CallSucceeded"] * 5 + ["CallPermitted", "CallFailed"] * 5
    )
    assert kinds[20:] == [
        "StateChanged",
        "CallRejected",
        "StateChanged",
        "CallPermitted",
        "CallIgnored",
        "CallPermitted",
        "CallFailed",
        "StateChanged",
        "StateChanged",
        "CallPermitted",
        "CallSucceeded",
        "StateChanged",
    ]
    reasons = [(e.time, e.old, e.new, e.reason) for e in trace.of_type(StateChanged)]
    assert reasons == [
        (1.0, "closed", "open", "failure rate 50% >= threshold 50% over the last 10 calls"),
        (31.0, "open", "half_open", "cooldown of 30s expired; allowing 1 trial calls"),
        (32.0, "half_open", "open", "trial call failed: Boom()"),
        (62.0, "open", "half_open", "cooldown of 30s expired; allowing 1 trial calls"),
        (62.0, "half_open", "closed", "all 1 trial calls succeeded"),
    ]
    (rejected,) = trace.of_type(CallRejected)
    assert rejected.reason == "open; 29s of cooldown left"
    assert trace.of_type(CallIgnored)[0].error == "NotMyProblem()"


def test_a_failure_rate_with_a_fraction_is_reported_to_one_decimal() -> None:
    trace = Trace()
    breaker = make(window_size=3, minimum_calls=3, failure_rate_threshold=0.6, listener=trace)
    feed(breaker, "sff")
    (change,) = trace.of_type(StateChanged)
    assert change.reason == "failure rate 66.7% >= threshold 60% over the last 3 calls"


# ---------------------------------------------------------------- slow calls


def test_slow_call_rate_trips_the_breaker() -> None:
    clock = ManualClock()
    trace = Trace()
    breaker = make(
        clock,
        window_size=4,
        minimum_calls=4,
        slow_call_duration=2.0,
        slow_call_rate_threshold=0.5,
        listener=trace,
    )

    def takes(seconds: float) -> Any:
        def fn() -> str:
            clock.advance(seconds)
            return "ok"

        return fn

    breaker.call(takes(2.0))  # exactly the limit: not slow (slow means longer than)
    breaker.call(takes(0.1))
    breaker.call(takes(2.5))
    assert breaker.state is State.CLOSED
    assert breaker.slow_call_rate == pytest.approx(1 / 3)
    breaker.call(takes(3.0))
    assert breaker.state is State.OPEN
    assert breaker.failure_rate == 0.0
    assert breaker.snapshot().slow == (False, False, True, True)
    (change,) = trace.of_type(StateChanged)
    assert change.reason == "slow-call rate 50% >= threshold 50% over the last 4 calls"
    assert [e.slow for e in trace.of_type(CallSucceeded)] == [False, False, True, True]


def test_slow_failures_count_in_both_rates() -> None:
    breaker = make(window_size=2, minimum_calls=2, slow_call_duration=1.0)
    assert breaker.allow(0.0)
    breaker.record_failure(0.0, duration=5.0)
    assert breaker.allow(0.0)
    breaker.record_success(0.0, duration=0.5)
    assert breaker.state is State.OPEN  # 50% failures
    assert breaker.slow_call_rate == 0.5


def test_slow_trials_can_send_a_half_open_breaker_back_to_open() -> None:
    trace = Trace()
    breaker = make(
        half_open_max_calls=2,
        slow_call_duration=1.0,
        slow_call_rate_threshold=0.5,
        listener=trace,
    )
    half_open(breaker)
    assert breaker.allow(30.0)
    breaker.record_success(31.0, duration=0.2)
    assert breaker.state is State.HALF_OPEN
    breaker.record_success(33.0, duration=3.0)
    assert breaker.state is State.OPEN
    assert breaker.opened_at == 33.0
    assert trace.of_type(StateChanged)[-1].reason == (
        "slow-call rate 50% >= threshold 50% over 2 trial calls"
    )


def test_durations_are_not_measured_into_slow_calls_without_slow_call_detection() -> None:
    breaker = make(window_size=1, minimum_calls=1)
    assert breaker.allow(0.0)
    breaker.record_success(0.0, duration=1e9)
    assert breaker.slow_call_rate == 0.0
    assert breaker.state is State.CLOSED


# ------------------------------------------------- late outcomes, fast path


def test_an_outcome_that_arrives_after_a_trip_is_late_and_does_not_count() -> None:
    breaker = make(window_size=3, minimum_calls=3)

    def trips_the_breaker_meanwhile() -> str:
        feed(breaker, "fff")  # other callers fail while this call runs
        return "finally ok"

    assert breaker.call(trips_the_breaker_meanwhile) == "finally ok"
    assert breaker.state is State.OPEN
    stats = breaker.stats
    assert (stats.succeeded, stats.failed, stats.late) == (1, 3, 1)
    assert breaker.snapshot().outcomes == (True, True, True)


def test_a_call_let_through_in_closed_is_not_counted_as_a_half_open_trial() -> None:
    clock = ManualClock()
    breaker = make(clock, window_size=3, minimum_calls=3, half_open_max_calls=1)

    def slow_call_outliving_a_whole_trip() -> str:
        feed(breaker, "fff", now=0.0)
        assert breaker.allow(30.0)  # another caller takes the only trial permit
        return "ok"

    breaker.call(slow_call_outliving_a_whole_trip)
    assert breaker.state is State.HALF_OPEN, "the old call's success is no trial"
    assert breaker.stats.late == 1


@FAST_ONLY
def test_fast_path_successes_are_counted_exactly() -> None:
    breaker = make(window_size=5, minimum_calls=5)
    for _ in range(3):
        breaker.call(lambda: None)
    assert breaker.window_calls == 3
    with pytest.raises(Boom):
        breaker.call(_raiser(Boom()))
    for _ in range(4):
        breaker.call(lambda: None)
    snap = breaker.snapshot()
    assert snap.outcomes == (True, False, False, False, False)
    assert breaker.stats.succeeded == 7
    for _ in range(20):
        breaker.call(lambda: None)
    assert breaker.window_calls == 5 and breaker.window_failures == 0
    assert breaker.stats.succeeded == 27


@FAST_ONLY
def test_lock_free_successes_are_applied_before_a_verdict() -> None:
    breaker = make(window_size=10, minimum_calls=10)
    for _ in range(6):
        breaker.call(lambda: None)
    for _ in range(4):
        with pytest.raises(Boom):
            breaker.call(_raiser(Boom()))
    assert breaker.state is State.CLOSED, "6 successes + 4 failures = 40% < 50%"
    with pytest.raises(Boom):
        breaker.call(_raiser(Boom()))
    assert breaker.state is State.OPEN, "the oldest success rolled out: 5 failures of 10 = 50%"
    assert breaker.snapshot().outcomes == (False,) * 5 + (True,) * 5


def test_attaching_a_listener_later_turns_events_on() -> None:
    breaker = make()
    breaker.call(lambda: None)
    trace = Trace()
    breaker.listener = trace
    breaker.call(lambda: None)
    assert [e.kind for e in trace] == ["CallPermitted", "CallSucceeded"]
    assert breaker.window_calls == 2
    breaker.listener = None
    breaker.call(lambda: None)
    assert len(trace) == 2 and breaker.window_calls == 3


# ---------------------------------------------------- snapshot, reset, repr


def test_snapshot_holds_what_the_widget_draws() -> None:
    clock = ManualClock()
    breaker = make(clock)
    feed(breaker, "ssffs")
    snap = breaker.snapshot()
    assert isinstance(snap, BreakerSnapshot)
    assert snap.state is State.CLOSED
    assert snap.outcomes == (False, False, True, True, False)
    assert (snap.calls, snap.failures, snap.failure_rate) == (5, 2, 0.4)
    assert (snap.minimum_calls, snap.opened_at, snap.cooldown_remaining) == (10, None, 0.0)
    assert (snap.half_open_permits_used, snap.half_open_permits_left) == (0, 0)
    feed(breaker, "fffff")
    clock.set(20.0)
    snap = breaker.snapshot()
    assert (snap.state, snap.opened_at, snap.cooldown_remaining) == (State.OPEN, 0.0, 10.0)
    assert snap.outcomes == (False, False, True, True, False, True, True, True, True, True)
    snap = breaker.snapshot(now=31.0)
    assert snap.state is State.HALF_OPEN, "shows what a call would find"
    assert (snap.half_open_permits_used, snap.half_open_permits_left) == (0, 2)
    assert breaker.state is State.OPEN
    with pytest.raises(AttributeError):
        snap.calls = 3  # type: ignore[misc]


def test_reset_closes_and_forgets_everything() -> None:
    trace = Trace()
    breaker = make(listener=trace)
    trip(breaker, now=3.0)
    breaker.reset(now=4.0)
    assert breaker.state is State.CLOSED
    assert (breaker.window_calls, breaker.opened_at) == (0, None)
    assert breaker.stats.failed == 0
    assert trace.of_type(StateChanged)[-1].reason == "reset"
    feed(breaker, "ss")
    breaker.reset()
    assert breaker.window_calls == 0


def test_repr_names_the_breaker_and_its_state() -> None:
    breaker = make()
    feed(breaker, "sf")
    assert repr(breaker) == (
        f"{type(breaker).__name__}(name='payments', state=closed, failure_rate=0.50, "
        "window_calls=2)"
    )


def test_an_idle_time_window_tells_one_truth_everywhere() -> None:
    # A 10 s window left idle for 60 s: both calls have aged out of every read-out.
    clock = ManualClock()
    breaker = make(clock, window_type="time", window_size=10.0, minimum_calls=5)
    feed(breaker, "sf", now=0.0)
    assert (breaker.failure_rate, breaker.window_calls, breaker.window_failures) == (0.5, 2, 1)
    clock.advance(60)
    snap = breaker.snapshot()
    assert (snap.calls, snap.failure_rate) == (0, 0.0)
    assert (breaker.failure_rate, breaker.window_calls, breaker.window_failures) == (0.0, 0, 0)
    assert breaker.slow_call_rate == 0.0
    assert "failure_rate=0.00, window_calls=0" in repr(breaker)
    # half-way: the same answer from every read-out
    feed(breaker, "ff", now=60.0)
    clock.set(65.0)
    feed(breaker, "s", now=65.0)
    clock.set(70.0)
    snap = breaker.snapshot()
    assert (snap.calls, snap.failure_rate) == (1, 0.0)
    assert (breaker.window_calls, breaker.failure_rate) == (snap.calls, snap.failure_rate)


def test_settings_are_keyword_only_and_read_only() -> None:
    with pytest.raises(TypeError):
        BREAKER("payments")  # type: ignore[misc]
    breaker = make()
    for setting in ("name", "window_size", "minimum_calls", "cooldown", "failure_rate_threshold"):
        with pytest.raises(AttributeError):
            setattr(breaker, setting, 1)


# ------------------------------------------------------ windows on their own


def test_count_window_running_counts_match_its_contents() -> None:
    window = CountWindow(3)
    for code in (1, 0, 3, 2, 1, 0, 0):
        window.record(code)
        codes = window.codes()
        assert window.calls == len(codes)
        assert window.failures == sum(c & 1 for c in codes)
        assert window.slow_calls == sum(c >> 1 for c in codes)
    assert window.codes() == [1, 0, 0]
    window.clear()
    assert (window.calls, window.failures, window.codes()) == (0, 0, [])


def test_time_window_expires_calls_at_exactly_window_size_seconds() -> None:
    window = TimeWindow(5.0)
    window.record(1, 0.0)
    window.record(0, 4.0)
    window.expire(4.999)
    assert window.calls == 2
    window.expire(5.0)
    assert (window.calls, window.failures) == (1, 0)


# ----------------------------------------------------- diagram and replay


def test_transition_table_matches_the_seed_s_diagram() -> None:
    assert TRANSITIONS[0] == Transition("[*]", "closed", "System Normal")
    arrows = {(t.source, t.target): t.trigger for t in TRANSITIONS[1:]}
    assert arrows == {
        ("closed", "open"): "Failure Rate >= Threshold",
        ("open", "half_open"): "Cooldown Period Expired",
        ("half_open", "closed"): "Trial Requests Succeed",
        ("half_open", "open"): "Trial Request Fails",
    }
    assert {t.target for t in TRANSITIONS} <= {s.value for s in State}
    assert MERMAID_NAMES["half_open"] == "HalfOpen"


def test_to_mermaid_emits_a_state_diagram_from_the_table() -> None:
    text = CircuitBreaker.to_mermaid()
    assert text == make().to_mermaid()
    assert text.splitlines() == [
        "stateDiagram-v2",
        "    [*] --> Closed : System Normal",
        "    Closed --> Open : Failure Rate >= Threshold",
        "    Open --> HalfOpen : Cooldown Period Expired",
        "    HalfOpen --> Closed : Trial Requests Succeed",
        "    HalfOpen --> Open : Trial Request Fails",
    ]


def test_every_transition_the_breaker_makes_is_in_the_table() -> None:
    trace = Trace()
    breaker = make(half_open_max_calls=1, listener=trace)
    drive(breaker, steps_from_string("sssssfffff|30f|30s|1 s"))
    made = {(e.old, e.new) for e in trace.of_type(StateChanged)}
    table = {(t.source, t.target) for t in TRANSITIONS}
    assert made == table - {("[*]", "closed")}


def test_state_classes_explain_themselves_for_the_lesson() -> None:
    for cls, word in ((ClosedState, "CLOSED"), (OpenState, "OPEN"), (HalfOpenState, "HALF_OPEN")):
        assert cls.__doc__ and cls.__doc__.startswith(word), cls


def test_the_replay_driver_runs_the_reference() -> None:
    breaker = make(half_open_max_calls=1)
    frames = drive(breaker, steps_from_string("fffff sssss f |40 s s"))
    outcomes = [f.outcome for f in frames]
    assert outcomes == ["failure"] * 5 + ["success"] * 5 + ["rejected", "success", "success"]
    assert [f.state_after for f in frames][-3:] == ["open", "closed", "closed"]


def test_the_course_diagram_parser_reads_to_mermaid_back_as_the_table() -> None:
    from course_lib.diagram import normalize_name, parse

    diagram = parse(CircuitBreaker.to_mermaid())
    read = {(t.source, t.target, t.label) for t in diagram.transitions}
    expected = {
        (
            t.source if t.source == "[*]" else normalize_name(MERMAID_NAMES[t.source]),
            normalize_name(MERMAID_NAMES[t.target]),
            t.trigger,
        )
        for t in TRANSITIONS
    }
    assert read == expected
    assert diagram.initial == normalize_name("Closed")


@FAST_ONLY
def test_successes_counted_lock_free_during_a_race_join_the_window_in_order() -> None:
    # White-box: _tick() is what call() does for a success it saw in a window
    # without failures; here two such successes race in after three failures.
    trace = Trace()
    breaker = make(window_size=4, minimum_calls=4, listener=trace)
    assert isinstance(breaker, FastCircuitBreaker)
    feed(breaker, "fff")
    breaker._tick()
    breaker._tick()
    assert breaker.allow(1.0)
    breaker.record_failure(1.0)
    # the first pending success completes the window: 3 failures of 4 -> trip;
    # the second arrives after the trip (late); so does the failure's verdict
    assert [(e.old, e.new) for e in trace.of_type(StateChanged)] == [("closed", "open")]
    assert breaker.snapshot(1.0).outcomes == (True, True, True, False)
    stats = breaker.stats
    assert (stats.succeeded, stats.failed, stats.late) == (2, 4, 1)


# ------------------------------------------- one vocabulary, one set of rules


def test_the_breaker_and_the_replay_driver_speak_the_vocabulary() -> None:
    from course_lib import breaker_vocabulary, replay

    assert replay.state_name is breaker_vocabulary.state_name
    assert TRANSITIONS is breaker_vocabulary.TRANSITIONS
    assert MERMAID_NAMES is breaker_vocabulary.MERMAID_NAMES
    assert Transition is breaker_vocabulary.Transition
    assert [s.value for s in State] == list(breaker_vocabulary.STATES)


def test_breaker_config_validates_like_the_reference() -> None:
    from course_lib.replay import BreakerConfig

    with pytest.raises(ValueError, match=r"^minimum_calls must be <= window_size \(4\)"):
        BreakerConfig(window_size=4, minimum_calls=5)
    config = BreakerConfig(window_size=4, minimum_calls=4)
    assert config.effective_minimum_calls == 4
    assert BREAKER(**config.as_kwargs()).minimum_calls == 4
    for bad in ({"window_size": 0}, {"minimum_calls": 0}, {"cooldown": -1.0}):
        with pytest.raises(ValueError) as config_error:
            BreakerConfig(**bad)
        with pytest.raises(ValueError) as breaker_error:
            BREAKER(**{**BreakerConfig().as_kwargs(), **bad})
        assert str(config_error.value) == str(breaker_error.value)
