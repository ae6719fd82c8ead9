"""The seed's section 1, simulated: a latency spike in payments reaches the gateway.

Numbers are read from the run's trace (``RequestFinished``, ``StateChanged``
events) and its sampled metrics, never from the scenario's internals.
"""

from __future__ import annotations

from functools import cache

import pytest

from course_lib.events import BulkheadFull
from course_lib.sim import FaultEnded, FaultStarted, RequestFinished, Simulation
from course_lib.sim.scenarios import CascadeResult, cascade

SEEDS = [0, 1, 2]


@cache
def run(protected: bool, seed: int) -> CascadeResult:
    return cascade(protected=protected, seed=seed)


@pytest.fixture(params=SEEDS)
def unprotected(request: pytest.FixtureRequest) -> CascadeResult:
    return run(False, request.param)


@pytest.fixture(params=SEEDS)
def protected(request: pytest.FixtureRequest) -> CascadeResult:
    return run(True, request.param)


def test_the_spike_is_in_the_trace(unprotected: CascadeResult) -> None:
    started = unprotected.trace.of_type(FaultStarted)
    ended = unprotected.trace.of_type(FaultEnded)
    assert [(e.time, e.source, e.fault) for e in started] == [(20.0, "payments", "LatencySpike")]
    assert [e.time for e in ended] == [40.0]


def test_unprotected_gateway_workers_are_exhausted_during_the_spike(
    unprotected: CascadeResult,
) -> None:
    gateway = unprotected.metrics("gateway")
    spike = gateway.window(unprotected.spike_start, unprotected.spike_end)
    exhausted = [
        t
        for t, peak in zip(spike["time"], spike["peak_in_flight"], strict=True)
        if peak == gateway.workers
    ]
    assert exhausted, (
        f"every one of the gateway's {gateway.workers} workers should be busy (waiting on "
        f"orders) at some point of the spike; peaks were {spike['peak_in_flight']}"
    )
    at = unprotected.exhausted_at("gateway")
    assert at is not None and unprotected.spike_start < at <= unprotected.spike_start + 5, (
        f"the gateway should run out of workers within 5 s of the spike, ran out at t={at}"
    )
    before = gateway.window(0, unprotected.spike_start)
    assert max(before["peak_in_flight"]) < gateway.workers, "before the spike it had spare workers"
    orders_at = unprotected.exhausted_at("orders")
    assert orders_at is not None and orders_at <= at, "orders runs out first, then the gateway"


def test_unprotected_catalog_fails_although_it_never_calls_payments(
    unprotected: CascadeResult,
) -> None:
    before = unprotected.success_ratio("/catalog", end=unprotected.spike_start)
    during = unprotected.during_spike("/catalog")
    assert before == 1.0, f"before the spike /catalog should always succeed, got {before:.1%}"
    assert during is not None and during < 0.5, (
        f"during the spike /catalog should mostly fail (gateway queue timeouts and "
        f"rejections), got {during:.1%} success"
    )
    outcomes = unprotected.outcomes(
        "/catalog", start=unprotected.spike_start, end=unprotected.spike_end
    )
    assert outcomes.get("timed_out", 0) + outcomes.get("rejected", 0) > outcomes.get("ok", 0)
    assert unprotected.metrics("catalog").outcomes["failed"] == 0, "catalog itself was healthy"


def test_protected_catalog_keeps_99_percent(protected: CascadeResult) -> None:
    for label, ratio in [
        ("over the whole run", protected.success_ratio("/catalog")),
        ("during the spike", protected.during_spike("/catalog")),
    ]:
        assert ratio is not None and ratio >= 0.99, (
            f"with timeouts, a breaker and a bulkhead, /catalog should keep >= 99% success "
            f"{label}; got {ratio:.2%}"
        )


def test_protected_gateway_never_runs_out_of_workers(protected: CascadeResult) -> None:
    gateway = protected.metrics("gateway")
    assert protected.exhausted_at("gateway") is None
    assert gateway.peak_in_flight < gateway.workers, (
        f"the bulkhead caps /checkout at 5 workers; peak was {gateway.peak_in_flight} "
        f"of {gateway.workers}"
    )


def test_protected_breaker_opens_during_the_spike_and_closes_after(
    protected: CascadeResult,
) -> None:
    states = protected.trace.states("orders->payments")
    assert states, "the breaker on orders -> payments should change state"
    first_open = states[0]
    assert first_open[1] == "open"
    assert protected.spike_start < first_open[0] < protected.spike_start + 5, (
        f"the breaker should trip within 5 s of the spike, tripped at t={first_open[0]:.2f}"
    )
    assert states[-1][1] == "closed" and states[-1][0] > protected.spike_end, (
        f"the breaker should close again after the spike; last state {states[-1]}"
    )
    rejected = [e for e in protected.requests("orders", "/checkout") if e.reason == "circuit_open"]
    assert rejected, "while open, orders fails /checkout fast"


@pytest.mark.parametrize("seed", SEEDS)
def test_checkout_fails_fast_when_protected(seed: int) -> None:
    def p50_failure_latency(result: CascadeResult) -> float:
        lat = sorted(
            e.latency
            for e in result.requests(
                "gateway", "/checkout", result.spike_start + 5, result.spike_end
            )
            if e.outcome != "ok"
        )
        return lat[len(lat) // 2]

    fast, slow = p50_failure_latency(run(True, seed)), p50_failure_latency(run(False, seed))
    assert fast < 0.1, f"protected, a failing /checkout answers at once; median {fast:.3f} s"
    assert slow >= 1.0, (
        f"unprotected, a failing /checkout first waits out the gateway's 1 s queue timeout; "
        f"median {slow:.3f} s"
    )


def test_numbers_from_the_trace_match_the_metrics(unprotected: CascadeResult) -> None:
    sim = unprotected.sim
    for name in ("gateway", "orders", "payments", "catalog"):
        metrics = sim.metrics(name)
        for route, counts in metrics.routes.items():
            for outcome, n in counts.items():
                got = sum(
                    1
                    for e in sim.trace.of_type(RequestFinished)
                    if e.source == name and e.route == route and e.outcome == outcome
                )
                assert got == n, f"{name}{route} {outcome}: trace {got}, metrics {n}"


def test_same_seed_same_numbers() -> None:
    a, b = cascade(True, seed=7), cascade(True, seed=7)
    assert a.summary() == b.summary()
    assert a.trace.to_records() == b.trace.to_records()
    c = cascade(True, seed=8)
    assert c.trace.to_records() != a.trace.to_records()


def test_your_own_breaker_plugs_in() -> None:
    class AlwaysOpen:
        def allow(self, now: float) -> bool:
            return False

        def record_success(self, now: float, duration: float = 0.0) -> None:
            raise AssertionError("never called: no call was allowed")

        def record_failure(self, now: float, duration: float = 0.0, error: str = "") -> None:
            raise AssertionError("never called: no call was allowed")

    def make(name: str, sim: Simulation) -> AlwaysOpen:
        return AlwaysOpen()

    result = cascade(True, seed=0, breaker=make, duration=10.0)
    assert result.metrics("payments").arrived == 0
    assert result.success_ratio("/checkout") == 0.0
    assert result.success_ratio("/catalog") == 1.0


def test_the_bulkhead_rejects_checkout_when_full(protected: CascadeResult) -> None:
    full = [e for e in protected.trace.of_type(BulkheadFull) if e.source == "gateway->orders"]
    assert full, "with orders slow, /checkout should sometimes find all 5 slots taken"
    during = [e for e in full if protected.spike_start <= e.time <= protected.spike_end]
    assert len(during) >= 0.8 * len(full), (
        f"the bulkhead should fill (nearly) only while orders is slow: {len(during)} of "
        f"{len(full)} rejections were during the spike"
    )
    assert {e.capacity for e in full} == {5}
    rejected = protected.requests("gateway", "/checkout")
    assert sum(e.reason == "bulkhead_full" for e in rejected) == len(full)
