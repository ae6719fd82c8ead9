"""Visible checks for notebook 00, "Cascading failures".

One check per exercise (the student's piece -> its check):

1. ``occupancy(rate_per_s, latency_ms)`` -> :func:`check_occupancy`
2. ``time_to_exhaustion(workers, rate_per_s, old_latency_ms, new_latency_ms)``
   -> :func:`check_exhaustion`
3. ``first_to_run_out(chain, rate_per_s, extra_ms, time_to_exhaustion)`` -> :func:`check_first_out`
4. ``TIMEOUT_MS`` and ``STILL_BROKEN`` (a timeout alone, in the simulation) -> :func:`check_timeout`
5. ``drain_time(workers, rate_per_s, normal_latency_ms, spike_latency_ms, spike_s)``
   -> :func:`check_drain`

Each exercise's *problem* function runs the student's code on one case and
returns what went wrong in plain words, or ``None``; the visible checks run
them on fixed cases (the notebook's own numbers), the hidden graders on many
generated ones. The expected answers come from the reference formulas in
:mod:`course_lib.cascade` (the hidden graders pass a pristine copy as
``reference``) and, for exercise 4, from the simulation
(:func:`course_lib.sim.scenarios.cascade`). Every value compared goes through
:func:`~course_lib.checks.kit.plain`; numbers are compared with a relative
tolerance of 1e-9.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping, Sequence
from typing import Any

from course_lib import cascade as _cascade
from course_lib.checks.kit import call, plain, require

__all__ = [
    "NOTEBOOK_SEED",
    "check_drain",
    "check_exhaustion",
    "check_first_out",
    "check_occupancy",
    "check_timeout",
    "drain_problem",
    "exhaustion_problem",
    "first_out_problem",
    "occupancy_problem",
    "timeout_problem",
]

NOTEBOOK_SEED = 1
"""The seed of the notebook's simulation runs, and of exercise 4's visible check."""

#: The cascade's chain as the notebook draws it: gateway -> orders -> payments.
SIM_CHAIN: tuple[dict[str, Any], ...] = (
    {"name": "gateway", "workers": 20, "latency_ms": 5},
    {"name": "orders", "workers": 10, "latency_ms": 10},
    {"name": "payments", "workers": 10, "latency_ms": 20},
)


def _close(got: float, expected: float) -> bool:
    return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)


def _g(value: float | None) -> str:
    return "None" if value is None else f"{value:.6g}"


def _number(value: Any, what: str, *, none: bool = False) -> float | None:
    got = plain(value, what, "number", none=none)
    return None if got is None else float(got)


# --- exercise 1: Little's law --------------------------------------------------------------


def occupancy_problem(
    occupancy: Any, rate_per_s: float, latency_ms: float, reference: types.ModuleType = _cascade
) -> str | None:
    """What is wrong with ``occupancy(rate_per_s, latency_ms)``, or None."""
    what = f"occupancy({rate_per_s:g}, {latency_ms:g})"
    got = _number(call(what, occupancy, rate_per_s, latency_ms), what)
    assert got is not None
    expected = reference.in_flight(rate_per_s, latency_ms)
    if _close(got, expected):
        return None
    hint = ""
    if expected and _close(got, expected * 1000):
        hint = " The latency is in milliseconds: turn it into seconds before multiplying."
    elif expected and _close(got, expected / 1000):
        hint = " You divided by 1,000 twice (or the rate by 1,000): only the latency is in ms."
    return (
        f"{what} returned {_g(got)} for {rate_per_s:g} requests/s at {latency_ms:g} ms each; "
        f"expected {_g(expected)} requests in flight (rate x latency in seconds).{hint}"
    )


def check_occupancy(occupancy: Any) -> None:
    """Visible check for exercise 1: the notebook's numbers."""
    for case in [(20, 30), (50, 15), (100, 250), (0.5, 4000)]:
        require(occupancy_problem(occupancy, *case))
    print("✓ occupancy = rate x latency, with the latency turned from ms into seconds")


# --- exercise 2: time to exhaustion -------------------------------------------------------


def exhaustion_problem(
    time_to_exhaustion: Any,
    workers: int,
    rate_per_s: float,
    old_latency_ms: float,
    new_latency_ms: float,
    reference: types.ModuleType = _cascade,
) -> str | None:
    """What is wrong with ``time_to_exhaustion(...)`` on one case, or None."""
    args = (workers, rate_per_s, old_latency_ms, new_latency_ms)
    what = "time_to_exhaustion({}, {:g}, {:g}, {:g})".format(*args)
    got = _number(call(what, time_to_exhaustion, *args), what, none=True)
    expected = reference.seconds_until_full(*args)
    if got is not None and expected is not None and _close(got, expected):
        return None
    if got is None and expected is None:
        return None
    before = reference.in_flight(rate_per_s, old_latency_ms)
    after = reference.in_flight(rate_per_s, new_latency_ms)
    story = (
        f"{workers} workers, {rate_per_s:g} requests/s, latency {old_latency_ms:g} ms -> "
        f"{new_latency_ms:g} ms (occupancy {before:.4g} -> {after:.4g})"
    )
    if expected is None:
        why = (
            f"None: at the new latency only {after:.4g} workers are ever busy, fewer than "
            f"{workers}, so the pool never runs out"
        )
    elif expected == 0.0:
        why = f"0.0: {before:.4g} requests are in flight already, the pool is full before the jump"
    else:
        why = (
            f"{_g(expected)} s: the pool starts with {before:.4g} busy workers and fills at "
            f"{rate_per_s:g} per second until all {workers} are busy"
        )
        if got is not None and _close(got, workers / rate_per_s):
            why += " (you started from an empty pool: the requests already in flight count)"
    return f"{what} returned {_g(got)} for {story}; expected {why}."


def check_exhaustion(time_to_exhaustion: Any) -> None:
    """Visible check for exercise 2: the notebook's numbers, a pool already full, one never full."""
    for case in [
        (10, 20, 30, 2030),  # orders in the simulation: (10 - 0.6) / 20
        (20, 100, 50, 400),  # starts 5 busy: (20 - 5) / 100
        (10, 20, 30, 300),  # 6 busy at most: never
        (8, 100, 100, 900),  # 10 busy before the jump: already full
    ]:
        require(exhaustion_problem(time_to_exhaustion, *case))
    print(
        "✓ time_to_exhaustion starts from the old occupancy, fills at the arrival rate, "
        "and knows when the pool never fills"
    )


# --- exercise 3: which service runs out first ---------------------------------------------


def _describe_chain(chain: Sequence[Mapping[str, Any]]) -> str:
    return " -> ".join(
        f"{s['name']}[{s['workers']} workers, {s['latency_ms']:g} ms]" for s in chain
    )


def _tied_with(
    chain: Sequence[Mapping[str, Any]],
    rate_per_s: float,
    extra_ms: float,
    seconds: float,
    reference: types.ModuleType,
) -> list[str]:
    """The names of the services of ``chain`` (front first) that run out after ``seconds``."""
    before, after = reference.hold_times(chain), reference.hold_times(chain, extra_ms)
    tied = []
    for service, old, new in zip(chain, before, after, strict=True):
        own = reference.seconds_until_full(int(service["workers"]), rate_per_s, old, new)
        if own is not None and _close(own, seconds):
            tied.append(str(service["name"]))
    return tied


def _names_text(names: Sequence[str]) -> str:
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def first_out_problem(
    first_to_run_out: Any,
    chain: Sequence[Mapping[str, Any]],
    rate_per_s: float,
    extra_ms: float,
    reference: types.ModuleType = _cascade,
) -> str | None:
    """What is wrong with ``first_to_run_out(chain, rate, extra_ms, exhaustion)``, or None.

    The student's function is given the reference's ``seconds_until_full`` (from
    ``reference``) as its fourth argument, so a mistake in exercise 2 does not
    cost exercise 3 too.
    """
    names = [str(s["name"]) for s in chain]
    what = f"first_to_run_out(chain, {rate_per_s:g}, {extra_ms:g}, time_to_exhaustion)"
    sent = [dict(s) for s in chain]
    got = plain(
        call(what, first_to_run_out, sent, rate_per_s, extra_ms, reference.seconds_until_full),
        what,
        none=True,
    )
    expected = reference.first_pool_full(chain, rate_per_s, extra_ms, reference.seconds_until_full)
    story = (
        f"for the chain {_describe_chain(chain)} at {rate_per_s:g} requests/s, with "
        f"{extra_ms:g} ms added to {names[-1]}"
    )
    if got is not None and (
        not isinstance(got, tuple | list)
        or len(got) != 2
        or type(got[0]) is not str
        or type(got[1]) not in (int, float)
    ):
        return f"{what} should return (name, seconds) or None, got {got!r}"
    holds = reference.hold_times(chain, extra_ms)
    hint = (
        " Each service holds its worker while it waits for everything below it: hold times "
        + ", ".join(f"{n} {h:g} ms" for n, h in zip(names, holds, strict=True))
        + "."
    )
    if expected is None:
        if got is None:
            return None
        return f"{what} returned {got!r} {story}; expected None: no pool ever fills.{hint}"
    if got is None:
        return (
            f"{what} returned None {story}; expected {expected[0]!r} to run out first, after "
            f"{_g(expected[1])} s.{hint}"
        )
    if got[0] != expected[0]:
        tied = _tied_with(chain, rate_per_s, extra_ms, expected[1], reference)
        if got[0] in tied:
            both = "both" if len(tied) == 2 else "all"
            return (
                f"{what} named {got[0]!r} {story}; {_names_text(tied)} {both} run out after "
                f"{_g(expected[1])} s; on a tie, name the service nearer the front."
            )
        return (
            f"{what} named {got[0]!r} {story}; expected {expected[0]!r}, after "
            f"{_g(expected[1])} s (the pool that is full soonest).{hint}"
        )
    if not _close(float(got[1]), expected[1]):
        return (
            f"{what} returned {got[0]!r} after {_g(float(got[1]))} s {story}; the right "
            f"service, but it runs out after {_g(expected[1])} s.{hint}"
        )
    return None


def check_first_out(first_to_run_out: Any) -> None:
    """Visible check for exercise 3: the simulation's chain, three variations and a tie."""
    big_payments = [dict(SIM_CHAIN[0]), dict(SIM_CHAIN[1]), {**SIM_CHAIN[2], "workers": 50}]
    slow_gateway = [{**SIM_CHAIN[0], "workers": 8, "latency_ms": 50}, *SIM_CHAIN[1:]]
    # gateway (2.4 busy of 2) and payments (1.2 busy of 1) are full before the jump: a tie at 0 s
    two_full = [
        {**SIM_CHAIN[0], "workers": 2, "latency_ms": 50},
        dict(SIM_CHAIN[1]),
        {**SIM_CHAIN[2], "workers": 1, "latency_ms": 60},
    ]
    for chain, rate, extra in [
        (SIM_CHAIN, 20, 2000),
        (big_payments, 20, 2000),
        (slow_gateway, 20, 2000),
        (two_full, 20, 2000),
        (SIM_CHAIN, 20, 100),
    ]:
        require(first_out_problem(first_to_run_out, chain, rate, extra))
    print(
        "✓ first_to_run_out counts the time a caller waits downstream, and finds the pool "
        "that fills first (the front one on a tie, or none)"
    )


# --- exercise 4: a timeout, and only a timeout --------------------------------------------


def _parts_text(parts: Sequence[str]) -> str:
    return "[" + ", ".join(repr(p) for p in parts) + "]" if parts else "[] (nothing)"


def timeout_problem(timeout_ms: Any, still_broken: Any, seed: int = NOTEBOOK_SEED) -> str | None:
    """What is wrong with ``TIMEOUT_MS`` / ``STILL_BROKEN`` in the cascade run with ``seed``.

    Raises:
        NotImplementedError: either is still ``None`` (the answer cell's placeholder).
    """
    from course_lib.sim.scenarios import CASCADE_PARTS, cached_cascade

    if timeout_ms is None or still_broken is None:
        raise NotImplementedError(
            "Not written yet: set TIMEOUT_MS and STILL_BROKEN in Exercise 4's answer cell"
        )
    timeout = _number(timeout_ms, "TIMEOUT_MS")
    assert timeout is not None
    if timeout <= 0:
        return f"TIMEOUT_MS should be a number of milliseconds above 0, got {timeout:g}"
    listed = plain(still_broken, "STILL_BROKEN")
    if not isinstance(listed, list | tuple):
        return f"STILL_BROKEN should be a list of names from {list(CASCADE_PARTS)}, got {listed!r}"
    unknown = [p for p in listed if p not in CASCADE_PARTS]
    if unknown:
        return f"STILL_BROKEN names {unknown[0]!r}; use names from {list(CASCADE_PARTS)}"
    run = cached_cascade(False, seed, timeout=timeout / 1000.0)
    where = f"with TIMEOUT_MS = {timeout:g} on orders -> payments (simulation seed {seed})"
    before = run.success_ratio("/checkout", end=run.spike_start)
    if before is not None and before < 0.95:
        return (
            f"{where}, only {before:.1%} of /checkout succeeded BEFORE the spike (needs "
            f"≥ 95%): the timeout is shorter than payments' normal answers (about 20 ms on "
            f"average, sometimes several times that) and cuts healthy calls. Make it longer."
        )
    catalog = run.during_spike("/catalog")
    gateway_full, orders_full = run.full_share("gateway"), run.full_share("orders")
    failed = []
    if orders_full >= 0.5:
        failed.append(f"orders' pool was full {orders_full:.1%} of the spike (needs < 50%)")
    if gateway_full >= 0.5:
        failed.append(f"the gateway's pool was full {gateway_full:.1%} of the spike (needs < 50%)")
    if catalog is None or catalog < 0.95:
        kept = 0.0 if catalog is None else catalog
        failed.append(f"/catalog kept {kept:.1%} of its requests during the spike (needs ≥ 95%)")
    if failed:
        if timeout >= 2000:
            why = (
                "it is about as long as or longer than a slow payments call (about 2,020 ms), "
                "so almost no call times out"
            )
        else:
            busy = 20 * (timeout + 10) / 1000
            why = (
                f"orders still holds a worker up to {timeout + 10:g} ms per request (its 10 ms "
                f"of work plus the timeout): at 20 requests/s that is {busy:.3g} busy workers "
                f"of its 10 (Little's law), no room to spare"
            )
        failures = "; ".join(failed)
        return f"{where}, the timeout does not stop the cascade: {failures}. Why: {why}."
    expected = run.broken_parts()
    if sorted(set(listed)) == sorted(expected):
        return None
    wrong = sum(1 for p in CASCADE_PARTS if p in listed and p not in expected)
    missing = sum(1 for p in expected if p not in listed)
    count = wrong + missing
    return (
        f"{where}, the timeout works, but STILL_BROKEN is not right: {count} "
        f"{'name is' if count == 1 else 'names are'} wrong or missing ({wrong} listed that "
        f"kept working, {missing} still broken but not listed). A service is broken if its "
        f"pool is full at least half of the spike; a route if fewer than half of its requests "
        f"succeed during the spike. Reason about what a timeout does and does not do, and look "
        f"at the pools in the cell after this test."
    )


def check_timeout(timeout_ms: Any, still_broken: Any) -> None:
    """Visible check for exercise 4: the notebook's run (seed :data:`NOTEBOOK_SEED`)."""
    require(timeout_problem(timeout_ms, still_broken, NOTEBOOK_SEED))
    print(
        "✓ the timeout frees orders' workers, so the gateway and /catalog survive the spike; "
        "STILL_BROKEN names what it cannot save"
    )


# --- exercise 5: draining the backlog -----------------------------------------------------


def drain_problem(
    drain_time: Any,
    workers: int,
    rate_per_s: float,
    normal_latency_ms: float,
    spike_latency_ms: float,
    spike_s: float,
    reference: types.ModuleType = _cascade,
) -> str | None:
    """What is wrong with ``drain_time(...)`` on one case, or None."""
    args = (workers, rate_per_s, normal_latency_ms, spike_latency_ms, spike_s)
    what = "drain_time({}, {:g}, {:g}, {:g}, {:g})".format(*args)
    got = _number(call(what, drain_time, *args), what, none=True)
    expected = reference.backlog_clear_seconds(*args)
    if got is None and expected is None:
        return None
    if got is not None and expected is not None and _close(got, expected):
        return None
    healthy = workers * 1000 / normal_latency_ms
    slow = workers * 1000 / spike_latency_ms
    story = (
        f"{workers} workers, {rate_per_s:g} requests/s, {normal_latency_ms:g} ms normally and "
        f"{spike_latency_ms:g} ms during a {spike_s:g} s spike (the pool completes "
        f"{healthy:.4g}/s normally, {slow:.4g}/s during the spike)"
    )
    if expected is None:
        why = "None: even at the normal latency the pool cannot keep up, the backlog never drains"
    else:
        backlog = max(0.0, rate_per_s - slow) * spike_s
        why = (
            f"{_g(expected)} s: {backlog:.4g} requests wait when the spike ends, and the pool "
            f"clears {healthy - rate_per_s:.4g} of them per second while new ones keep arriving"
        )
    return f"{what} returned {_g(got)} for {story}; expected {why}."


def check_drain(drain_time: Any) -> None:
    """Visible check for exercise 5: the notebook's numbers, no backlog, never drains."""
    for case in [
        (10, 20, 100, 1000, 20),  # backlog 200, clears 80/s: 2.5 s
        (10, 60, 150, 1000, 30),  # near capacity: 1500 / (66.7 - 60) = 225 s
        (10, 20, 100, 400, 20),  # 25/s during the spike > 20/s: no backlog
        (10, 120, 100, 1000, 5),  # 100/s < 120/s even when healthy: never
    ]:
        require(drain_problem(drain_time, *case))
    print("✓ drain_time counts the backlog the spike left and clears it at the spare capacity")
