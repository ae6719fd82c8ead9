"""The retry storm: 1,000 clients, a service that hangs then resets every connection.

Without jitter, every client that failed at the reset retries after the same
delay: the retries arrive as synchronised waves that overflow the queue, get
rejected together and come back together. Jitter spreads them out. All runs
are seeded; numbers come from the clients' recorded attempt times and the
service's metrics.
"""

from __future__ import annotations

import itertools
from functools import cache

import pytest

from course_lib.backoff import DecorrelatedJitter, EqualJitter, FullJitter, NoJitter
from course_lib.budget import RatioBudget
from course_lib.sim import FaultEnded, FaultStarted
from course_lib.sim.scenarios import (
    ContentionResult,
    StormResult,
    compare_backoffs,
    compare_contention,
    contention,
    retry_storm,
)

BASE, CAP = 0.5, 30.0


@cache
def storms(seed: int = 0) -> dict[str, StormResult]:
    return compare_backoffs(BASE, CAP, seed=seed)


@pytest.mark.slow
def test_no_jitter_peak_is_far_above_full_jitter() -> None:
    runs = storms()
    none, full = runs["NoJitter"].peak_arrivals(0.1), runs["FullJitter"].peak_arrivals(0.1)
    assert none >= 5 * full, (
        f"without jitter the retries should arrive together: peak {none} attempts in one "
        f"100 ms window, vs {full} with full jitter (expected at least 5x more)"
    )


def test_no_jitter_retries_come_in_waves_at_the_schedule() -> None:
    storm = storms()["NoJitter"]
    arrivals = storm.arrivals(0.1)
    delays = [NoJitter(base=BASE, cap=CAP).bound(n) for n in range(1, 6)]  # 1, 2, 4, 8, 16 s
    waves = [storm.hang_end + t for t in itertools.accumulate(delays)]
    assert waves == [16.0, 18.0, 22.0, 30.0, 46.0]
    sizes = [arrivals[round(t / 0.1)] for t in waves]
    normal = sorted(arrivals)[len(arrivals) // 2]
    assert all(size > 5 * normal for size in sizes), (
        f"100 ms windows at the retry instants {waves} should hold waves far above the "
        f"usual {normal} attempts; got {sizes}"
    )
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1], (
        f"each wave is the previous one minus what the service absorbed: {sizes}"
    )
    absorbed = storm.sim.services["api"].workers + 100
    assert sizes[0] - sizes[1] <= absorbed + 50, (
        f"a wave loses about the {absorbed} requests the service could hold; sizes {sizes}"
    )


def test_jitter_reduces_peak_load_for_every_jittered_schedule() -> None:
    runs = storms()
    none = runs["NoJitter"].peak_arrivals(0.1)
    for name in ("FullJitter", "EqualJitter", "DecorrelatedJitter"):
        peak = runs[name].peak_arrivals(0.1)
        assert peak * 3 < none, f"{name}: peak {peak} per 100 ms should be far below {none}"


def test_jitter_needs_fewer_retries_and_recovers_sooner() -> None:
    runs = storms()
    none, full = runs["NoJitter"], runs["FullJitter"]
    assert full.retries * 2 < none.retries, (
        f"full jitter should need far fewer retries: {full.retries} vs {none.retries}"
    )
    assert full.service.outcomes["rejected"] < none.service.outcomes["rejected"]
    assert none.caught_success is not None and none.caught_success < 0.9, (
        "without jitter some caught requests run out of attempts"
    )
    assert full.caught_success == 1.0, "with full jitter every caught request gets through"
    assert full.recovered_at is not None and none.recovered_at is not None
    assert full.recovered_at < full.hang_end + 2 < none.recovered_at, (
        f"full jitter clears the backlog in about a second (t={full.recovered_at:.2f}); "
        f"no jitter waits for the last wave (t={none.recovered_at:.2f})"
    )


def test_the_hang_caught_most_clients_and_failed_them_together() -> None:
    storm = storms()["FullJitter"]
    assert len(storm.caught) > 0.8 * storm.clients
    failures = storm.service.reasons["hang"]
    assert failures > 0.8 * storm.clients, "every stalled request fails when the hang ends"
    kinds = {type(e) for e in storm.trace}
    assert kinds == {FaultStarted, FaultEnded}, (
        "the storm records only fault events (per-request recording is off for speed)"
    )


def test_storms_are_seeded() -> None:
    a = retry_storm(clients=200, duration=30.0, backoff=FullJitter(base=BASE, cap=CAP), seed=5)
    b = retry_storm(clients=200, duration=30.0, backoff=FullJitter(base=BASE, cap=CAP), seed=5)
    c = retry_storm(clients=200, duration=30.0, backoff=FullJitter(base=BASE, cap=CAP), seed=6)
    assert a.calls.attempt_times == b.calls.attempt_times
    assert a.summary() == b.summary()
    assert a.calls.attempt_times != c.calls.attempt_times


def test_compare_backoffs_names_the_four_schedules() -> None:
    runs = storms()
    assert list(runs) == ["NoJitter", "FullJitter", "EqualJitter", "DecorrelatedJitter"]
    kinds = [NoJitter, FullJitter, EqualJitter, DecorrelatedJitter]
    for (name, storm), kind in zip(runs.items(), kinds, strict=True):
        assert isinstance(storm.backoff, kind) and storm.name == name
        assert storm.backoff.base == BASE and storm.backoff.cap == CAP  # type: ignore[attr-defined]


def test_bad_storm_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        retry_storm(clients=10, max_attempts=0)
    with pytest.raises(ValueError, match="n must be"):
        retry_storm(clients=0)


# -- Brooker's contention simulation -----------------------------------------------------------
@cache
def contended(clients: int) -> dict[str, ContentionResult]:
    return compare_contention(clients, 0.005, 2.0, seed=0, runs=3)


def test_without_jitter_one_client_wins_per_round() -> None:
    for n in (10, 50):
        result = contended(n)["NoJitter"]
        assert result.calls_per_run == (n * (n + 1) // 2,) * 3, (
            f"{n} clients retrying in lockstep: each round exactly one wins, so the work is "
            f"n + (n-1) + ... + 1 = {n * (n + 1) // 2} writes; got {result.calls_per_run}"
        )


def test_full_jitter_more_than_halves_the_work_at_100_clients() -> None:
    runs = contended(100)
    none, full = runs["NoJitter"], runs["FullJitter"]
    assert full.calls < none.calls / 2, (
        f"Brooker: full jitter cuts the calls by more than half at 100 clients; "
        f"{full.calls:.0f} vs {none.calls:.0f}"
    )
    assert full.completion < none.completion
    assert runs["EqualJitter"].calls > full.calls, "equal jitter does more work than full"
    assert runs["DecorrelatedJitter"].calls < none.calls / 2


def test_contention_work_grows_faster_than_the_clients() -> None:
    small, large = contended(50), contended(100)
    for name in small:
        assert large[name].calls > 2.2 * small[name].calls, (
            f"{name}: doubling the clients should more than double the work (O(N^2)); "
            f"{small[name].calls:.0f} -> {large[name].calls:.0f}"
        )
        assert min(large[name].calls_per_run) >= 100


def test_contention_is_seeded_and_checks_its_arguments() -> None:
    a = contention(20, FullJitter(base=0.005, cap=2.0), seed=3, runs=2)
    b = contention(20, FullJitter(base=0.005, cap=2.0), seed=3, runs=2)
    assert a == b
    with pytest.raises(ValueError, match="clients"):
        contention(0)
    with pytest.raises(ValueError, match="runs"):
        contention(5, runs=0)


def test_a_retry_budget_caps_the_storm() -> None:
    none = storms()["NoJitter"]
    budgeted = retry_storm(
        backoff=NoJitter(base=BASE, cap=CAP), budget=RatioBudget(ratio=0.1, window=10.0)
    )
    assert budgeted.calls.denied_retries > 0
    assert budgeted.retries * 5 < none.retries, (
        f"a 10% retry budget should cut the retries sharply: {budgeted.retries} vs {none.retries}"
    )
    assert budgeted.peak_arrivals(0.1) < none.peak_arrivals(0.1)
    assert budgeted.service.outcomes["rejected"] < none.service.outcomes["rejected"]
