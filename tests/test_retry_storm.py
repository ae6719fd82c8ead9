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
from course_lib.sim import FaultEnded, FaultStarted
from course_lib.sim.scenarios import StormResult, compare_backoffs, retry_storm

BASE, CAP = 0.5, 30.0


@cache
def storms(seed: int = 0) -> dict[str, StormResult]:
    return compare_backoffs(BASE, CAP, seed=seed)


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
    delays = [NoJitter(BASE, CAP).bound(n) for n in range(1, 6)]  # 1, 2, 4, 8, 16 s
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
    a = retry_storm(clients=200, duration=30.0, backoff=FullJitter(BASE, CAP), seed=5)
    b = retry_storm(clients=200, duration=30.0, backoff=FullJitter(BASE, CAP), seed=5)
    c = retry_storm(clients=200, duration=30.0, backoff=FullJitter(BASE, CAP), seed=6)
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
