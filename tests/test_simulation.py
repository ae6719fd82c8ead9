"""The simulation engine: services, queues, faults, calls and their protection, determinism.

Every test runs on virtual time (nothing sleeps) and is seeded. Small exact
cases use ``Constant`` latencies and ``sim.send`` so every number is known.
"""

from __future__ import annotations

import random

import pytest

from course_lib.backoff import FullJitter, NoJitter
from course_lib.clock import Clock
from course_lib.events import (
    BulkheadFull,
    RetryGaveUp,
    RetryScheduled,
    StateChanged,
    TimeoutExpired,
)
from course_lib.retry import BUDGET, EXHAUSTED, RetryPolicy
from course_lib.sim import (
    Call,
    Constant,
    ErrorBurst,
    Exponential,
    FaultEnded,
    FaultStarted,
    Hang,
    LatencySpike,
    LogNormal,
    Normal,
    Outage,
    Recovery,
    RequestFinished,
    Simulation,
    Uniform,
    percentile,
    windowed_counts,
)


def finished(sim: Simulation, service: str) -> list[RequestFinished]:
    return [e for e in sim.trace.of_type(RequestFinished) if e.source == service]


# -- tiny stand-ins speaking the sans-I/O protocols ----------------------------------------------
class CountingBreaker:
    """Opens for good after ``trip_after`` recorded failures; remembers what it was told."""

    def __init__(self, trip_after: int) -> None:
        self.trip_after = trip_after
        self.failures: list[tuple[float, float, str]] = []
        self.successes: list[tuple[float, float]] = []
        self.asked: list[float] = []

    def allow(self, now: float) -> bool:
        self.asked.append(now)
        return len(self.failures) < self.trip_after

    def record_success(self, now: float, duration: float = 0.0) -> None:
        self.successes.append((now, duration))

    def record_failure(self, now: float, duration: float = 0.0, error: str = "") -> None:
        self.failures.append((now, duration, error))


class CountingBulkhead:
    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.in_use = 0
        self.peak = 0

    def try_acquire(self) -> bool:
        if self.in_use >= self.slots:
            return False
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)
        return True

    def release(self) -> None:
        assert self.in_use > 0, "released more than acquired"
        self.in_use -= 1


# -- clock and distributions ----------------------------------------------------------------------
def test_sim_clock_reads_virtual_time() -> None:
    sim = Simulation()
    sim.service("s", workers=1, latency=Constant(0.0))
    assert isinstance(sim.clock, Clock)
    assert sim.clock.now() == 0.0
    sim.run(until=12.5)
    assert sim.clock.now() == 12.5 == sim.now


def test_distributions_draw_from_the_given_rng() -> None:
    rng = random.Random(1)
    assert Constant(0.3).sample(rng) == 0.3
    draws = [Exponential(0.5).sample(rng) for _ in range(20_000)]
    assert abs(sum(draws) / len(draws) - 0.5) < 0.02, "Exponential(0.5) should average 0.5 s"
    assert all(0.1 <= Uniform(0.1, 0.2).sample(rng) <= 0.2 for _ in range(100))
    assert all(Normal(0.0, 1.0).sample(rng) >= 0.0 for _ in range(1000)), "Normal is clipped at 0"
    lognormal = sorted(LogNormal(0.1, 0.5).sample(rng) for _ in range(10_001))
    assert abs(lognormal[5000] - 0.1) < 0.01, "LogNormal(median=0.1) should have median 0.1"
    a = [Exponential(1.0).sample(random.Random(7)) for _ in range(3)]
    b = [Exponential(1.0).sample(random.Random(7)) for _ in range(3)]
    assert a == b


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: Constant(-1), "value"),
        (lambda: Exponential(0), "mean"),
        (lambda: Uniform(2, 1), "high"),
        (lambda: Normal(0.1, -1), "stddev"),
        (lambda: LogNormal(0, 1), "median"),
    ],
)
def test_bad_distribution_parameters_name_the_parameter(build: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        build()  # type: ignore[operator]


# -- one service ----------------------------------------------------------------------------------
def test_requests_queue_for_workers_and_latency_includes_the_wait() -> None:
    sim = Simulation(sample_interval=0.5)
    sim.service("s", workers=2, latency=Constant(1.0))
    for _ in range(3):
        sim.send("s", at=0.0)
    sim.run(until=3.0)
    latencies = sorted(e.latency for e in finished(sim, "s"))
    assert latencies == [1.0, 1.0, 2.0], "2 workers, 1 s each: the third request waits 1 s"
    m = sim.metrics("s")
    assert m.outcomes["ok"] == 3
    assert m.series["time"][:2] == [0.5, 1.0]
    assert m.series["in_flight"][0] == 2 and m.series["queued"][0] == 1
    assert m.peak_in_flight == 2


def test_bounded_queue_rejects_at_once() -> None:
    sim = Simulation()
    sim.service("s", workers=1, latency=Constant(1.0), queue_limit=1)
    for _ in range(3):
        sim.send("s", at=0.0)
    sim.run(until=5.0)
    rejected = [e for e in finished(sim, "s") if e.outcome == "rejected"]
    assert len(rejected) == 1, "1 worker + 1 queue slot: the third request is rejected"
    assert rejected[0].reason == "queue_full" and rejected[0].time == 0.0


def test_queue_timeout_gives_up_and_frees_the_place() -> None:
    sim = Simulation()
    sim.service("s", workers=1, latency=Constant(1.0), queue_timeout=0.5)
    sim.send("s", at=0.0)
    sim.send("s", at=0.0)
    sim.send("s", at=2.0)
    sim.run(until=5.0)
    outcomes = [(e.time, e.outcome, e.reason) for e in finished(sim, "s")]
    assert outcomes == [(0.5, "timed_out", "queue_timeout"), (1.0, "ok", ""), (3.0, "ok", "")]
    assert sim.services["s"].in_flight == 0, "the worker must be released"


def test_error_rate_fails_requests_after_their_work() -> None:
    sim = Simulation()
    sim.service("bad", workers=5, latency=Constant(0.1), error_rate=1.0)
    sim.service("good", workers=5, latency=Constant(0.1), error_rate=0.0)
    for t in range(5):
        sim.send("bad", at=float(t))
        sim.send("good", at=float(t))
    sim.run(until=10)
    assert {(e.outcome, e.reason, round(e.latency, 9)) for e in finished(sim, "bad")} == {
        ("failed", "error", 0.1)
    }
    assert sim.metrics("good").outcomes["ok"] == 5


# -- faults ---------------------------------------------------------------------------------------
def test_latency_spike_slows_only_its_window() -> None:
    sim = Simulation()
    sim.service("s", workers=10, latency=Constant(0.1))
    sim.inject(LatencySpike("s", start=5, duration=5, extra_latency=1.0, factor=2.0))
    for t in (1.0, 6.0, 12.0):
        sim.send("s", at=t)
    sim.run(until=20)
    assert [round(e.latency, 9) for e in finished(sim, "s")] == [0.1, 1.2, 0.1]
    started = sim.trace.of_type(FaultStarted)
    ended = sim.trace.of_type(FaultEnded)
    assert [(e.time, e.source, e.fault) for e in started] == [(5, "s", "LatencySpike")]
    assert [(e.time, e.reason) for e in ended] == [(10, "elapsed")]


def test_error_burst_fails_requests_during_the_burst() -> None:
    sim = Simulation()
    sim.service("s", workers=10, latency=Constant(0.1))
    sim.inject(ErrorBurst("s", start=2, duration=2, error_rate=1.0))
    for t in (1.0, 2.5, 3.5, 5.0):
        sim.send("s", at=t)
    sim.run(until=10)
    assert [e.outcome for e in finished(sim, "s")] == ["ok", "failed", "failed", "ok"]


def test_outage_rejects_immediately() -> None:
    sim = Simulation()
    sim.service("s", workers=1, latency=Constant(0.1))
    sim.inject(Outage("s", start=1, duration=1))
    sim.send("s", at=1.5)
    sim.send("s", at=2.5)
    sim.run(until=5)
    got = [(e.time, e.outcome, e.reason) for e in finished(sim, "s")]
    assert got[0] == (1.5, "rejected", "outage"), "an outage refuses at once: nothing waits"
    assert got[1][1] == "ok"


def test_hang_holds_requests_then_fails_them_all_at_once() -> None:
    sim = Simulation(sample_interval=1.0)
    sim.service("s", workers=2, latency=Constant(0.1))
    sim.inject(Hang("s", start=1, duration=4, on_end="fail"))
    for t in (1.5, 2.0, 2.5, 3.0):
        sim.send("s", at=t)
    sim.send("s", at=6.0)
    sim.run(until=8)
    got = [(e.time, e.outcome, e.reason) for e in finished(sim, "s")]
    assert got[:4] == [(5, "failed", "hang")] * 4, "every stalled request fails when it ends"
    assert got[4][1] == "ok"
    m = sim.metrics("s")
    assert m.series["queued"][3] == 4, "at t=4 four requests are stalled"


def test_hang_resume_lets_stalled_requests_carry_on() -> None:
    sim = Simulation()
    sim.service("s", workers=1, latency=Constant(0.5))
    sim.inject(Hang("s", start=0, duration=2, on_end="resume"))
    sim.send("s", at=1.0)
    sim.send("s", at=1.0)
    sim.run(until=5)
    assert [(e.time, e.outcome) for e in finished(sim, "s")] == [(2.5, "ok"), (3.0, "ok")]


def test_recovery_ends_an_open_ended_fault() -> None:
    sim = Simulation()
    sim.service("s", workers=1, latency=Constant(0.1))
    sim.inject(Outage("s", start=1), Recovery("s", at=3))
    for t in (2.0, 4.0):
        sim.send("s", at=t)
    sim.run(until=6)
    assert [e.outcome for e in finished(sim, "s")] == ["rejected", "ok"]
    assert [(e.time, e.fault, e.reason) for e in sim.trace.of_type(FaultEnded)] == [
        (3, "Outage", "recovered")
    ]


def test_fault_validation() -> None:
    sim = Simulation()
    sim.service("s", workers=1, latency=Constant(0.1))
    with pytest.raises(ValueError, match="unknown service 'nope'"):
        sim.inject(Outage("nope", start=1, duration=1))
    with pytest.raises(ValueError, match="duration"):
        Outage("s", start=1, duration=0)
    with pytest.raises(ValueError, match="error_rate"):
        ErrorBurst("s", 0, 1, error_rate=1.5)
    with pytest.raises(ValueError, match="extra_latency > 0 or factor > 1"):
        LatencySpike("s", 0, 1)
    with pytest.raises(ValueError, match="on_end"):
        Hang("s", 0, 1, on_end="explode")  # type: ignore[arg-type]
    sim.run(until=5)
    with pytest.raises(ValueError, match="in the past"):
        sim.inject(Outage("s", start=1, duration=1))


# -- calls between services -----------------------------------------------------------------------
def chain(**call: object) -> Simulation:
    """front (1 worker) -> back (latency 2 s)."""
    sim = Simulation()
    sim.service("back", workers=5, latency=Constant(2.0))
    sim.service(
        "front", workers=1, latency=Constant(0.0), routes={"/": [Call("back", "/", **call)]}
    )  # type: ignore[arg-type]
    return sim


def test_caller_holds_its_worker_while_waiting_downstream() -> None:
    sim = chain()
    sim.send("front", at=0.0)
    sim.send("front", at=0.0)
    sim.run(until=10)
    got = [(e.time, e.outcome) for e in finished(sim, "front")]
    assert got == [(2.0, "ok"), (4.0, "ok")], "front's only worker waits 2 s on back each time"


def test_timeout_abandons_the_call_but_the_callee_keeps_working() -> None:
    sim = chain(timeout=0.5)
    sim.send("front", at=0.0)
    sim.run(until=10)
    front = finished(sim, "front")
    assert [(e.time, e.outcome, e.reason) for e in front] == [(0.5, "timed_out", "timeout")]
    back = finished(sim, "back")
    assert [(e.time, e.outcome) for e in back] == [(2.0, "ok")], "back never knew front left"
    expired = sim.trace.of_type(TimeoutExpired)
    got = [(e.time, e.source, e.timeout, e.what) for e in expired]
    assert got == [(0.5, "front", 0.5, "back/")]


def test_downstream_failures_carry_their_origin() -> None:
    sim = Simulation()
    sim.service("c", workers=1, latency=Constant(0.0), error_rate=1.0)
    sim.service("b", workers=1, latency=Constant(0.0), routes={"/": [Call("c")]})
    sim.service("a", workers=1, latency=Constant(0.0), routes={"/": [Call("b")]})
    sim.send("a")
    sim.run(until=1)
    assert [(e.source, e.reason) for e in sim.trace.of_type(RequestFinished)] == [
        ("c", "error"),
        ("b", "c:error"),
        ("a", "b:c:error"),
    ]


def test_retries_wait_the_backoff_schedule() -> None:
    sim = Simulation()
    sim.service("back", workers=5, latency=Constant(0.0), error_rate=1.0)
    sim.service(
        "front",
        workers=1,
        latency=Constant(0.0),
        routes={"/": [Call("back", retries=2, backoff=NoJitter(base=0.1, cap=10.0))]},
    )
    sim.send("front")
    sim.run(until=5)
    assert [round(e.time, 9) for e in finished(sim, "back")] == [0.0, 0.2, 0.6], (
        "NoJitter(0.1): retry 1 after 0.1*2**1 = 0.2 s, retry 2 after 0.1*2**2 = 0.4 s"
    )
    scheduled = sim.trace.of_type(RetryScheduled)
    assert [(e.attempt, round(e.delay, 9)) for e in scheduled] == [(1, 0.2), (2, 0.4)]
    assert [e.attempts for e in sim.trace.of_type(RetryGaveUp)] == [3]
    edge = sim.edges["front -> back/"]
    assert (edge.calls, edge.attempts, edge.retries, edge.outcomes["failed"]) == (1, 3, 2, 1)


def test_breaker_is_asked_and_told_on_virtual_time() -> None:
    breaker = CountingBreaker(trip_after=2)
    sim = Simulation()
    sim.service("back", workers=5, latency=Constant(0.25), error_rate=1.0)
    sim.service(
        "front", workers=5, latency=Constant(0.0), routes={"/": [Call("back", breaker=breaker)]}
    )
    for t in (1.0, 2.0, 3.0, 4.0):
        sim.send("front", at=t)
    sim.run(until=10)
    assert breaker.asked == [1.0, 2.0, 3.0, 4.0]
    assert breaker.failures == [(1.25, 0.25, "back:error"), (2.25, 0.25, "back:error")]
    assert [e.reason for e in finished(sim, "front")] == ["back:error"] * 2 + ["circuit_open"] * 2
    assert sim.metrics("back").arrived == 2, "an open breaker never sends the call"


def test_reference_breaker_runs_on_the_sim_clock() -> None:
    from course_lib.breaker import CircuitBreaker

    sim = Simulation()
    breaker = CircuitBreaker(
        name="front->back",
        window_size=4,
        minimum_calls=4,
        cooldown=5.0,
        half_open_max_calls=1,
        clock=sim.clock,
        listener=sim.trace,
    )
    sim.service("back", workers=5, latency=Constant(0.1))
    sim.service(
        "front", workers=5, latency=Constant(0.0), routes={"/": [Call("back", breaker=breaker)]}
    )
    sim.inject(ErrorBurst("back", start=0, duration=5, error_rate=1.0))
    for t in range(12):
        sim.send("front", at=float(t))
    sim.run(until=20)
    states = [(round(t, 9), s) for t, s in sim.trace.states("front->back")]
    assert states == [(3.1, "open"), (9.0, "half_open"), (9.1, "closed")], (
        "4 failures in a window of 4 trip it at t=3.1; after the 5 s cooldown the next call "
        "(t=9) is the trial, and its success at t=9.1 closes it"
    )
    reasons = [e.reason for e in finished(sim, "front")]
    assert reasons[4:9] == ["circuit_open"] * 5, "while OPEN, calls at t=4..8 fail fast"
    assert sim.metrics("back").arrived == 7
    assert len(sim.trace.of_type(StateChanged)) == 3


def test_bulkhead_limits_concurrent_calls() -> None:
    bulkhead = CountingBulkhead(slots=2)
    sim = Simulation()
    sim.service("back", workers=10, latency=Constant(1.0))
    sim.service(
        "front", workers=10, latency=Constant(0.0), routes={"/": [Call("back", bulkhead=bulkhead)]}
    )
    for _ in range(5):
        sim.send("front", at=0.0)
    sim.run(until=5)
    reasons = sorted(e.reason for e in finished(sim, "front"))
    assert reasons == ["", "", "bulkhead_full", "bulkhead_full", "bulkhead_full"]
    assert bulkhead.peak == 2 and bulkhead.in_use == 0, "every slot must be given back"


def test_reference_bulkhead_emits_into_the_trace() -> None:
    from course_lib.bulkhead import SemaphoreBulkhead

    sim = Simulation()
    bulkhead = SemaphoreBulkhead(
        max_concurrent=1, name="front->back", clock=sim.clock, listener=sim.trace
    )
    sim.service("back", workers=10, latency=Constant(1.0))
    sim.service(
        "front",
        workers=10,
        latency=Constant(0.0),
        routes={"/": [Call("back", bulkhead=bulkhead, timeout=0.5)]},
    )
    sim.send("front", at=0.0)
    sim.send("front", at=0.2)
    sim.run(until=5)
    assert [e.time for e in sim.trace.of_type(BulkheadFull)] == [0.2]
    assert bulkhead.in_use == 0, "a timed-out call gives its slot back too"


# -- clients --------------------------------------------------------------------------------------
def test_closed_loop_clients_wait_for_their_answer() -> None:
    sim = Simulation()
    sim.service("s", workers=10, latency=Constant(0.5))
    stats = sim.clients(3, Call("s"), think=Constant(1.0))
    sim.run(until=6.0)
    # think 1 s, call 0.5 s: calls start at 1, 2.5, 4, 5.5 and finish at 1.5, 3, 4.5, 6
    assert stats.calls == 12
    assert stats.outcomes["ok"] == 9
    assert stats.in_progress == 3
    assert sorted(set(stats.attempt_times)) == [1.0, 2.5, 4.0, 5.5]


def test_poisson_arrivals_are_open_loop_and_seeded() -> None:
    counts = []
    for seed in (3, 3, 4):
        sim = Simulation(seed)
        sim.service("s", workers=1, latency=Constant(0.0))
        sim.poisson("s", "/", rate=10.0, stop=100.0)
        sim.run(until=200)
        counts.append(sim.metrics("s").arrived)
    assert counts[0] == counts[1], "same seed, same arrivals"
    assert counts[0] != counts[2]
    assert 900 < counts[0] < 1100, "10/s for 100 s is about 1000 arrivals"


# -- determinism and validation -------------------------------------------------------------------
def small_world(seed: int) -> Simulation:
    sim = Simulation(seed, sample_interval=0.5)
    sim.service("c", workers=3, latency=Exponential(0.05), error_rate=0.05)
    sim.service(
        "b",
        workers=4,
        latency=LogNormal(0.02, 0.5),
        routes={"/": [Call("c", timeout=0.2, retries=1, backoff=NoJitter(base=0.05, cap=1.0))]},
    )
    sim.poisson("b", "/", rate=40)
    sim.inject(LatencySpike("c", 3, 2, factor=5.0))
    sim.run(until=8)
    return sim


def test_same_seed_same_trace_and_numbers() -> None:
    a, b, c = small_world(11), small_world(11), small_world(12)
    assert a.trace.to_records() == b.trace.to_records()
    assert a.summary() == b.summary()
    assert a.trace.to_records() != c.trace.to_records()


def test_trace_agrees_with_metrics() -> None:
    sim = small_world(5)
    for name in ("b", "c"):
        m = sim.metrics(name)
        events = finished(sim, name)
        assert len(events) == m.finished
        assert sum(e.outcome == "ok" for e in events) == m.outcomes["ok"]
        assert sum(m.series["ok"]) == m.outcomes["ok"], "interval counts add up to the total"
        assert len(m.series["time"]) == 16


def test_validation_errors_name_the_problem() -> None:
    sim = Simulation()
    with pytest.raises(ValueError, match="workers"):
        sim.service("s", workers=0, latency=Constant(0.1))
    with pytest.raises(ValueError, match="latency"):
        sim.service("s", workers=1, latency=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="error_rate"):
        sim.service("s", workers=1, latency=Constant(0.1), error_rate=2)
    with pytest.raises(ValueError, match="timeout"):
        Call("s", timeout=0)
    with pytest.raises(ValueError, match="retries"):
        Call("s", retries=-1)
    sim.service("s", workers=1, latency=Constant(0.1), routes={"/": [Call("t", "/x")]})
    with pytest.raises(ValueError, match="already exists"):
        sim.service("s", workers=1, latency=Constant(0.1))
    sim.service("t", workers=1, latency=Constant(0.1))
    with pytest.raises(ValueError, match="service 't' has no route '/x'"):
        sim.run(until=1)
    with pytest.raises(ValueError, match="rate"):
        sim.poisson("t", "/", rate=0)
    with pytest.raises(ValueError, match="unknown service"):
        sim.send("nope")


def test_percentile_and_windows() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="q"):
        percentile(values, 0)
    assert windowed_counts([0.0, 0.05, 0.1, 0.35], 0.1, 0.4) == [2, 1, 0, 1]


def test_run_continues_and_results_are_plain_data() -> None:
    sim = Simulation(sample_interval=1.0)
    svc = sim.service("s", workers=1, latency=Constant(0.5)).route("/slow")
    assert svc is sim.services["s"] and set(svc.routes) == {"/", "/slow"}
    sim.send("s", "/slow", at=0.0)
    sim.run(until=2)
    sim.send("s", at=2.0)
    sim.run(until=4)
    times, ok = sim.series("s", "ok")
    assert times == [1.0, 2.0, 3.0, 4.0] and ok == [1, 0, 1, 0]
    with pytest.raises(ValueError, match="unknown series"):
        sim.series("s", "nope")
    with pytest.raises(ValueError, match="until"):
        sim.run(until=3)
    summary = sim.summary()
    assert summary["services"]["s"]["routes"] == {
        "/slow": {"ok": 1, "failed": 0, "rejected": 0, "timed_out": 0},
        "/": {"ok": 1, "failed": 0, "rejected": 0, "timed_out": 0},
    }
    assert summary["services"]["s"]["p50"] == 0.5
    assert sim.metrics("s").success_ratio("/slow") == 1.0
    assert sim.metrics("s").success_ratio("/missing") is None


def test_recovery_releases_a_hang() -> None:
    sim = Simulation()
    sim.service("s", workers=1, latency=Constant(0.1))
    sim.inject(Hang("s", start=1, on_end="resume"), Recovery("s", at=4))
    sim.send("s", at=2.0)
    sim.run(until=10)
    assert [(round(e.time, 9), e.outcome) for e in finished(sim, "s")] == [(4.1, "ok")]


def test_retry_budget_is_told_of_calls_and_asked_before_retries() -> None:
    class OneRetry:
        def __init__(self) -> None:
            self.requests: list[float] = []
            self.asked: list[float] = []

        def record_request(self, now: float | None = None) -> None:
            assert now is not None
            self.requests.append(now)

        def can_retry(self, now: float | None = None) -> bool:
            return not self.asked

        def try_spend(self, now: float | None = None) -> bool:
            assert now is not None
            allowed = self.can_retry(now)
            self.asked.append(now)
            return allowed

    budget = OneRetry()
    sim = Simulation()
    sim.service("back", workers=5, latency=Constant(0.0), error_rate=1.0)
    sim.service(
        "front",
        workers=1,
        latency=Constant(0.0),
        routes={
            "/": [Call("back", retries=5, backoff=NoJitter(base=0.1, cap=10.0), budget=budget)]
        },
    )
    sim.send("front", at=1.0)
    sim.run(until=5)
    assert budget.requests == [1.0], "one logical call, recorded once"
    assert [round(t, 9) for t in budget.asked] == [1.0, 1.2], "asked before each retry"
    assert sim.metrics("back").arrived == 2, "the budget allowed one retry of the five"
    gave_up = sim.trace.of_type(RetryGaveUp)
    assert [(e.attempts, e.reason) for e in gave_up] == [(2, BUDGET)]
    assert sim.edges["front -> back/"].denied_retries == 1


def test_retries_are_decided_by_the_library_s_retry_policy() -> None:
    # The simulation has no retry loop of its own: RetryPolicy decides, with the
    # library's give-up reasons, drawing its jitter from the simulation's rng.
    sim = Simulation(seed=3)
    call = Call("back", retries=2, backoff=FullJitter(base=0.1, cap=10.0))
    sim.service("back", workers=5, latency=Constant(0.0), error_rate=1.0)
    sim.service("front", workers=1, latency=Constant(0.0), routes={"/": [call]})
    policy = sim.retry_policy(call)
    assert isinstance(policy, RetryPolicy)
    assert (policy.attempts, policy.backoff, policy.budget) == (3, call.backoff, None)
    assert policy.rng is sim.rng and sim.retry_policy(call) is policy
    sim.send("front", at=1.0)
    sim.run(until=60)
    scheduled = sim.trace.of_type(RetryScheduled)
    assert [e.attempt for e in scheduled] == [1, 2]
    assert all(0.0 <= e.delay <= call.backoff.bound(e.attempt) for e in scheduled)  # type: ignore[union-attr]
    assert [(e.attempts, e.reason) for e in sim.trace.of_type(RetryGaveUp)] == [(3, EXHAUSTED)]
