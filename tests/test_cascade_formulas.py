"""The cascade's arithmetic (``course_lib.cascade``) and the simulation it predicts.

The formulas are checked on exact cases, then against seeded simulation runs
(``course_lib.sim.scenarios.cascade`` and ``backlog``): the simulation must land
where the formula says, within the limits the formula's docstring states. Nothing
sleeps; every run is seeded.
"""

from __future__ import annotations

import pytest

from course_lib.cascade import backlog_clear_seconds as drain_time
from course_lib.cascade import first_pool_full as first_to_run_out
from course_lib.cascade import hold_times
from course_lib.cascade import in_flight as occupancy
from course_lib.cascade import seconds_until_full as time_to_exhaustion
from course_lib.sim.scenarios import CASCADE_PARTS, backlog, cascade

SIM_CHAIN = [
    {"name": "gateway", "workers": 20, "latency_ms": 5},
    {"name": "orders", "workers": 10, "latency_ms": 10},
    {"name": "payments", "workers": 10, "latency_ms": 20},
]


# --- exact cases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "latency_ms", "busy"),
    [(20, 30, 0.6), (50, 15, 0.75), (100, 250, 25.0), (0.5, 4000, 2.0), (10, 0, 0.0)],
)
def test_occupancy_is_rate_times_latency_in_seconds(
    rate: float, latency_ms: float, busy: float
) -> None:
    assert occupancy(rate, latency_ms) == pytest.approx(busy, rel=1e-12)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ((10, 20, 30, 2030), (10 - 0.6) / 20),  # orders in the simulation
        ((20, 100, 50, 400), 0.15),
        ((10, 20, 30, 300), None),  # at most 6 busy: never full
        ((8, 100, 100, 900), 0.0),  # 10 busy before the jump: full already
        ((10, 20, 30, 500), (10 - 0.6) / 20),  # the new occupancy exactly reaches the pool
    ],
)
def test_time_to_exhaustion(case: tuple[int, float, float, float], expected: float | None) -> None:
    got = time_to_exhaustion(*case)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-12)


def test_hold_times_add_everything_below() -> None:
    assert hold_times(SIM_CHAIN) == [35.0, 30.0, 20.0]
    assert hold_times(SIM_CHAIN, 2000) == [2035.0, 2030.0, 2020.0]


def test_first_to_run_out_is_often_not_the_slow_service() -> None:
    name, seconds = first_to_run_out(SIM_CHAIN, 20, 2000) or ("", 0.0)
    assert name == "orders" and seconds == pytest.approx(0.47)
    big_payments = [*SIM_CHAIN[:2], {**SIM_CHAIN[2], "workers": 50}]
    assert (first_to_run_out(big_payments, 20, 2000) or ("",))[0] == "orders"
    slow_gateway = [{**SIM_CHAIN[0], "workers": 8, "latency_ms": 50}, *SIM_CHAIN[1:]]
    name, seconds = first_to_run_out(slow_gateway, 20, 2000) or ("", 0.0)
    assert name == "gateway" and seconds == pytest.approx((8 - 20 * 0.080) / 20)
    assert first_to_run_out(SIM_CHAIN, 20, 100) is None


def test_first_to_run_out_uses_the_formula_it_is_given() -> None:
    calls: list[tuple[int, float, float, float]] = []

    def spy(workers: int, rate: float, old: float, new: float) -> float | None:
        calls.append((workers, rate, old, new))
        return float(workers)

    assert first_to_run_out(SIM_CHAIN, 20, 2000, spy) == ("orders", 10.0)  # tie: the front one
    assert calls == [(20, 20, 35.0, 2035.0), (10, 20, 30.0, 2030.0), (10, 20, 20.0, 2020.0)]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ((10, 20, 100, 1000, 20), 200 / 80),
        ((10, 60, 150, 1000, 30), 1500 / (10 / 0.15 - 60)),
        ((10, 20, 100, 400, 20), 0.0),  # 25/s during the spike: it keeps up
        ((10, 120, 100, 1000, 5), None),  # 100/s even when healthy: never
        ((10, 100, 100, 1000, 5), None),  # exactly at capacity: never drains either
        ((10, 20, 100, 1000, 0), 0.0),
    ],
)
def test_drain_time(case: tuple[int, float, float, float, float], expected: float | None) -> None:
    got = drain_time(*case)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: occupancy(-1, 10), "rate_per_s"),
        (lambda: occupancy(1, -10), "latency_ms"),
        (lambda: time_to_exhaustion(0, 1, 1, 2), "workers"),
        (lambda: time_to_exhaustion(2.5, 1, 1, 2), "workers"),  # type: ignore[arg-type]
        (lambda: time_to_exhaustion(2, 0, 1, 2), "rate_per_s"),
        (lambda: drain_time(2, 1, 0, 2, 1), "normal_latency_ms"),
        (lambda: drain_time(2, 1, 1, 2, -1), "spike_s"),
        (lambda: hold_times([]), "chain"),
        (lambda: hold_times([{"name": "a", "workers": 1}]), "latency_ms"),
        (lambda: hold_times([{"name": "a", "workers": 0, "latency_ms": 1}]), "workers"),
    ],
)
def test_bad_input_names_the_problem(call: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()  # type: ignore[operator]


# --- the simulation agrees ---------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_little_law_matches_the_simulation_before_the_spike(seed: int) -> None:
    run = cascade(False, seed)
    orders = run.metrics("orders").window(2.0, run.spike_start)["in_flight"]
    mean = sum(orders) / len(orders)
    # payments' latency is exponential: orders holds 10 ms + about 20 ms = 0.6 workers
    assert mean == pytest.approx(occupancy(20, 30), abs=0.35)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_orders_runs_out_when_the_formula_says(seed: int) -> None:
    run = cascade(False, seed)
    predicted = run.spike_start + (time_to_exhaustion(10, 20, 30, 2030) or 0.0)
    seen = run.exhausted_at("orders")
    interval = run.sim.sample_interval
    # the simulation slows only work started after the jump (up to the old 30 ms later),
    # arrivals are random, and it reports the end of the sample interval
    assert seen is not None and predicted - interval <= seen <= predicted + 0.03 + 2 * interval


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_backlog_drains_when_the_formula_says(seed: int) -> None:
    pool = backlog(seed)
    predicted = drain_time(10, 20, 100, 1000, 20)
    assert predicted is not None
    assert pool.backlog_at_end == pytest.approx((20 - 10) * 20, rel=0.35)
    # the requests already working at the end still take their slow second
    assert pool.drained_after is not None
    assert predicted - 0.5 <= pool.drained_after <= predicted + 1.0 + 0.5


# --- the cascade's new knobs -------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_timeout_only_stops_the_spread_but_not_the_failure(seed: int) -> None:
    run = cascade(False, seed, timeout=0.2)
    assert run.broken_parts() == ["payments", "/checkout"]
    assert run.during_spike("/catalog") == 1.0
    unprotected = cascade(False, seed)
    assert unprotected.broken_parts() == list(CASCADE_PARTS)


@pytest.mark.parametrize("timeout", [1.0, 3.0])
def test_a_timeout_without_headroom_or_longer_than_the_spike_saves_nothing_upstream(
    timeout: float,
) -> None:
    run = cascade(False, 1, timeout=timeout)
    assert {"gateway", "orders", "payments"} <= set(run.broken_parts())


def test_an_outage_fails_fast_and_does_not_cascade() -> None:
    run = cascade(False, 1, fault="outage")
    assert run.broken_parts() == ["/checkout"]
    assert run.fault == "outage"
    assert run.exhausted_at("gateway") is None


def test_a_recovery_ends_the_fault_early() -> None:
    run = cascade(False, 1, recovery_at=30.0)
    assert (run.spike_start, run.spike_end) == (20.0, 30.0)
    late = run.success_ratio("/catalog", start=35.0, end=60.0)
    assert late == 1.0, f"/catalog should be healthy well after the recovery, got {late}"


def test_cascade_refuses_bad_knobs() -> None:
    with pytest.raises(ValueError, match="fault"):
        cascade(False, 1, fault="meteor")
    with pytest.raises(ValueError, match="timeout"):
        cascade(True, 1, timeout=0.2)
    with pytest.raises(ValueError, match="timeout"):
        cascade(False, 1, timeout=0.0)


def test_same_seed_same_broken_parts() -> None:
    a, b = cascade(False, 5, timeout=0.3), cascade(False, 5, timeout=0.3)
    assert a.summary() == b.summary() and a.broken_parts() == b.broken_parts()
    assert a.trace.to_records() == b.trace.to_records()
