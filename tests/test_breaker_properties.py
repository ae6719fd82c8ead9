"""Property tests: the reference breaker against a tiny independent model.

Hypothesis draws a configuration and a sequence of operations (ask for a
permit, finish one of the calls in flight with a success, a failure or an
ignored error, let time pass). After every operation the breaker must agree
with :class:`Model`, a deliberately naive re-statement of the rules (a plain
list as the window, recomputed from scratch), and a few invariants must hold.
``derandomize=True`` makes every run draw the same examples.

The last test holds :class:`~course_lib.fast_breaker.FastCircuitBreaker` to the
simple :class:`~course_lib.breaker.CircuitBreaker`: the same random sequences
of calls, permits, outcomes and clock moves, and the same answer to every
question after each step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_lib.breaker import TRANSITIONS, CircuitBreaker, State
from course_lib.clock import ManualClock
from course_lib.errors import CircuitOpenError
from course_lib.events import StateChanged, Trace
from course_lib.fast_breaker import FastCircuitBreaker

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass
class Config:
    window_type: str
    window_size: float
    minimum_calls: int
    failure_rate_threshold: float
    cooldown: float
    half_open_max_calls: int
    slow_call_duration: float | None
    slow_call_rate_threshold: float

    def kwargs(self) -> dict[str, Any]:
        return dict(self.__dict__)


@st.composite
def configs(draw: st.DrawFn) -> Config:
    window_type = draw(st.sampled_from(["count", "time"]))
    size: float = (
        draw(st.integers(1, 8))
        if window_type == "count"
        else draw(st.sampled_from([1.0, 3.0, 10.0]))
    )
    return Config(
        window_type=window_type,
        window_size=size,
        # a count window can never hold more than window_size calls (a larger minimum is refused)
        minimum_calls=draw(st.integers(1, int(size) if window_type == "count" else 10)),
        failure_rate_threshold=draw(st.sampled_from([0.2, 0.3, 0.5, 2 / 3, 1.0])),
        cooldown=draw(st.sampled_from([0.0, 1.0, 5.0])),
        half_open_max_calls=draw(st.integers(1, 3)),
        slow_call_duration=draw(st.sampled_from([None, None, 1.0])),
        slow_call_rate_threshold=draw(st.sampled_from([0.5, 1.0])),
    )


# an operation: ("allow", dt) or ("finish", which, outcome, duration)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("allow"), st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 6.0])),
        st.tuples(
            st.just("finish"),
            st.integers(0, 3),
            st.sampled_from(["success", "success", "failure", "ignored"]),
            st.sampled_from([0.0, 0.5, 2.0]),
        ),
    ),
    max_size=60,
)


@dataclass
class Model:
    """The rules, restated as plainly as possible (no ring buffer, no running counts)."""

    cfg: Config
    state: str = "closed"
    window: list[tuple[float, bool, bool]] = field(default_factory=list)  # (time, failed, slow)
    opened_at: float | None = None
    permits_used: int = 0
    trials_passed: int = 0
    trials_slow: int = 0

    @property
    def minimum(self) -> int:
        return self.cfg.minimum_calls

    def visible(self, now: float) -> list[tuple[float, bool, bool]]:
        """The window at ``now``: a CLOSED time window ages; OPEN/HALF_OPEN freeze it."""
        if self.cfg.window_type == "time" and self.state == "closed":
            return [c for c in self.window if c[0] > now - self.cfg.window_size]
        return self.window

    def failure_rate(self, now: float) -> float:
        window = self.visible(now)
        return sum(f for _, f, _ in window) / len(window) if window else 0.0

    def slow_rate(self, now: float) -> float:
        window = self.visible(now)
        return sum(s for _, _, s in window) / len(window) if window else 0.0

    def allow(self, now: float) -> bool:
        if self.state == "open":
            assert self.opened_at is not None
            if now < self.opened_at + self.cfg.cooldown:
                return False
            self.state = "half_open"
            self.permits_used = self.trials_passed = self.trials_slow = 0
        if self.state == "half_open":
            if self.permits_used == self.cfg.half_open_max_calls:
                return False
            self.permits_used += 1
        return True

    def outcome(self, now: float, failed: bool, duration: float) -> None:
        limit = self.cfg.slow_call_duration
        slow = limit is not None and duration > limit
        if self.state == "closed":
            self.window.append((now, failed, slow))
            if self.cfg.window_type == "count":
                self.window = self.window[-int(self.cfg.window_size) :]
            else:
                self.window = [c for c in self.window if c[0] > now - self.cfg.window_size]
            if len(self.window) >= self.minimum and (
                self.failure_rate(now) >= self.cfg.failure_rate_threshold
                or self.slow_rate(now) >= self.cfg.slow_call_rate_threshold
            ):
                self.state, self.opened_at = "open", now
        elif self.state == "half_open":
            if failed:
                self.state, self.opened_at = "open", now
                return
            self.trials_passed += 1
            self.trials_slow += slow
            n = self.cfg.half_open_max_calls
            if self.trials_passed == n:
                if self.trials_slow and self.trials_slow / n >= self.cfg.slow_call_rate_threshold:
                    self.state, self.opened_at = "open", now
                else:
                    self.state, self.opened_at, self.window = "closed", None, []

    def ignored(self) -> None:
        if self.state == "half_open" and self.permits_used:
            self.permits_used -= 1


def check_invariants(breaker: CircuitBreaker, trace: Trace, cfg: Config, now: float) -> None:
    assert breaker.state in (State.CLOSED, State.OPEN, State.HALF_OPEN)
    snap = breaker.snapshot(now)
    if breaker.state is State.HALF_OPEN:
        assert 0 <= snap.half_open_permits_used <= cfg.half_open_max_calls
    assert 0.0 <= breaker.failure_rate <= 1.0
    assert snap.calls == len(snap.outcomes) == len(snap.slow)
    # one truth: the clock reads ``now``, so every read-out is the snapshot's window
    assert (snap.calls, snap.failures) == (breaker.window_calls, breaker.window_failures)
    assert (snap.failure_rate, snap.slow_call_rate) == (
        breaker.failure_rate,
        breaker.slow_call_rate,
    )


def check_trace(trace: Trace, cfg: Config) -> None:
    allowed = {(t.source, t.target) for t in TRANSITIONS}
    state, opened_at = "closed", None
    for change in trace.of_type(StateChanged):
        assert change.old == state
        assert (change.old, change.new) in allowed, change
        if change.new == "open":
            opened_at = change.time
        if change.old == "open":
            assert opened_at is not None
            assert change.time - opened_at >= cfg.cooldown, "OPEN lasted less than the cooldown"
        state = change.new


@SETTINGS
@given(cfg=configs(), operations=ops)
def test_sans_io_breaker_agrees_with_the_model(cfg: Config, operations: list[Any]) -> None:
    clock = ManualClock()
    trace = Trace()
    breaker = CircuitBreaker(**cfg.kwargs(), clock=clock, listener=trace)
    model = Model(cfg)
    in_flight = 0
    now = 0.0
    for op in operations:
        if op[0] == "allow":
            now += op[1]
            clock.set(now)
            allowed = breaker.allow(now)
            assert allowed == model.allow(now), f"allow({now}) in {model.state}"
            in_flight += allowed
        elif in_flight:
            _, _, outcome, duration = op
            in_flight -= 1
            was_closed = breaker.state is State.CLOSED
            if outcome == "success":
                breaker.record_success(now, duration)
                model.outcome(now, False, duration)
            elif outcome == "failure":
                breaker.record_failure(now, duration, "Boom()")
                model.outcome(now, True, duration)
            else:
                breaker.record_ignored(now)
                model.ignored()
            if was_closed and breaker.state is State.OPEN:
                # a trip: the window held enough calls and a rate reached its threshold
                snap = breaker.snapshot(now)
                assert snap.calls >= model.minimum
                assert (
                    snap.failure_rate >= cfg.failure_rate_threshold
                    or snap.slow_call_rate >= cfg.slow_call_rate_threshold
                )
        assert breaker.state == model.state, f"after {op}: {breaker.state} != model {model.state}"
        assert breaker.failure_rate == model.failure_rate(now)
        assert breaker.slow_call_rate == model.slow_rate(now)
        assert breaker.window_calls == len(model.visible(now))
        assert breaker.opened_at == model.opened_at
        if model.state == "half_open":
            assert breaker.snapshot(now).half_open_permits_used == model.permits_used
        check_invariants(breaker, trace, cfg, now)
    check_trace(trace, cfg)


class Boom(Exception):
    pass


class NotCounted(Exception):
    pass


@SETTINGS
@given(
    cfg=configs(),
    calls=st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.5, 1.0, 3.0]),  # time before the call
            st.sampled_from(["ok", "ok", "boom", "not counted"]),
            st.sampled_from([0.0, 2.0]),  # how long the call takes
        ),
        max_size=60,
    ),
)
def test_call_adapter_agrees_with_the_model_and_never_calls_when_refused(
    cfg: Config, calls: list[tuple[float, str, float]]
) -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(**cfg.kwargs(), clock=clock, ignore_exceptions=(NotCounted,))
    model = Model(cfg)
    reached = 0
    for gap, outcome, duration in calls:
        clock.advance(gap)
        start = clock.now()
        expected_allowed = model.allow(start)

        def fn(outcome: str = outcome, duration: float = duration) -> str:
            nonlocal reached
            reached += 1
            clock.advance(duration)
            if outcome == "boom":
                raise Boom
            if outcome == "not counted":
                raise NotCounted
            return "ok"

        before = reached
        try:
            assert breaker.call(fn) == "ok"
        except CircuitOpenError:
            assert not expected_allowed, "the breaker refused a call the model allows"
            assert reached == before, "a refused call reached the protected function"
            continue
        except Boom:
            model.outcome(clock.now(), True, duration)
        except NotCounted:
            model.ignored()
        else:
            model.outcome(clock.now(), False, duration)
        assert expected_allowed, "the breaker let through a call the model refuses"
        assert reached == before + 1
        assert breaker.state == model.state
        assert breaker.window_calls == len(model.visible(clock.now()))
    stats = breaker.stats
    assert stats.succeeded + stats.failed + stats.ignored == reached
    assert stats.rejected + reached == len(calls)
    assert stats.late == 0, "one caller at a time: no outcome can be late"


# ------------------------------------------- the fast breaker is the simple one

# an operation: ("wait", dt), ("call", outcome, duration), ("decorated", outcome, duration),
# ("allow",) or ("finish", which, outcome, duration)
_outcomes = st.sampled_from(["ok", "boom", "ok", "not counted", "ok", "boom"])
_durations = st.sampled_from([0.0, 0.0, 2.0])
_calls = st.tuples(st.sampled_from(["call", "decorated"]), _outcomes, _durations)
twin_ops = st.lists(
    st.one_of(  # mostly calls through the adapters: that is where the lock-free path is
        _calls,
        _calls,
        _calls,
        st.tuples(st.just("wait"), st.sampled_from([0.5, 1.0, 3.0, 6.0])),
        st.tuples(st.just("allow")),
        st.tuples(st.just("finish"), st.integers(0, 3), _outcomes, _durations),
    ),
    max_size=80,
)


@st.composite
def twin_configs(draw: st.DrawFn) -> Config:
    """Mostly what the lock-free path covers (count window, no slow calls), sometimes not."""
    cfg = draw(configs())
    if draw(st.integers(0, 3)):
        size = draw(st.integers(1, 8))
        cfg.window_type, cfg.window_size, cfg.slow_call_duration = "count", size, None
        cfg.minimum_calls = min(cfg.minimum_calls, size)
    return cfg


def _outcome_of(
    breaker: CircuitBreaker, clock: ManualClock, outcome: str, duration: float, decorated: bool
) -> str:
    """Run one call through ``breaker``; say what happened to the caller."""

    def fn() -> str:
        clock.advance(duration)
        if outcome == "boom":
            raise Boom
        if outcome == "not counted":
            raise NotCounted
        return "ok"

    try:
        return breaker(fn)() if decorated else breaker.call(fn)
    except CircuitOpenError as error:
        return f"refused, retry after {error.retry_after}"
    except (Boom, NotCounted) as error:
        return type(error).__name__


@settings(SETTINGS, max_examples=200)  # bounded: about two seconds
@given(cfg=twin_configs(), operations=twin_ops, listening=st.sampled_from([False] * 3 + [True]))
def test_the_fast_breaker_makes_every_decision_the_simple_one_makes(
    cfg: Config, operations: list[Any], listening: bool
) -> None:
    twins = []
    for cls in (CircuitBreaker, FastCircuitBreaker):
        clock = ManualClock()
        trace = Trace() if listening else None  # a listener turns the lock-free path off
        breaker = cls(**cfg.kwargs(), clock=clock, listener=trace, ignore_exceptions=NotCounted)
        twins.append((breaker, clock, trace))
    in_flight = 0
    for op in operations:
        answers = []
        for breaker, clock, _ in twins:
            if op[0] == "wait":
                clock.advance(op[1])
                answers.append(None)
            elif op[0] in ("call", "decorated"):
                answers.append(_outcome_of(breaker, clock, op[1], op[2], op[0] == "decorated"))
            elif op[0] == "allow":
                answers.append(breaker.allow())
            elif not in_flight:
                answers.append(None)
            else:
                _, _, outcome, duration = op
                clock.advance(duration)
                if outcome == "ok":
                    breaker.record_success(duration=duration)
                elif outcome == "boom":
                    breaker.record_failure(duration=duration, error="Boom()")
                else:
                    breaker.record_ignored()
                answers.append(None)
        if op[0] == "allow":
            in_flight += answers[0] is True
        elif op[0] == "finish" and in_flight:
            in_flight -= 1
        simple, fast = (breaker for breaker, _, _ in twins)
        assert answers[0] == answers[1], f"after {op}: {answers}"
        assert fast.state == simple.state, f"after {op}"
        assert fast.snapshot() == simple.snapshot(), f"after {op}"
        assert fast.stats == simple.stats, f"after {op}"
        assert (fast.failure_rate, fast.slow_call_rate, fast.window_calls) == (
            simple.failure_rate,
            simple.slow_call_rate,
            simple.window_calls,
        )
        assert fast.opened_at == simple.opened_at
    if twins[0][2] is not None:
        assert list(twins[0][2]) == list(twins[1][2]), "the same events, in the same order"
