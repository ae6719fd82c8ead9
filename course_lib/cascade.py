"""Back-of-the-envelope arithmetic of a cascading failure (the module's notes, section 1).

Four small formulas that predict what the simulation
(:func:`course_lib.sim.scenarios.cascade`) shows; notebook 00's visible checks
compare with them, and its hidden graders with a pristine copy:

* :func:`in_flight`: Little's law, busy workers = arrival rate x latency. Rates
  are per **second**, latencies in **milliseconds** (as a dashboard shows them),
  so the formula divides by 1,000.
* :func:`seconds_until_full`: after a latency jump, how long until a pool of
  ``workers`` is full. The model: from the jump on, every request in the pool,
  the ones already there included, waits for the new latency (the dependency
  stalls), so nothing leaves for a while and the pool fills at the arrival rate
  from its old occupancy: ``(workers - in_flight(rate, old)) / rate``. It fills
  at all only if the new occupancy reaches the pool (``in_flight(rate, new) >=
  workers``). The simulation's :class:`~course_lib.sim.faults.LatencySpike`
  slows only the work that starts after the jump, so there the pool fills at
  most ``old`` milliseconds later than this says.
* :func:`first_pool_full`: in a chain of services where each caller *holds its
  worker while it waits* for everything below it, which pool is full first
  when the last service slows down.
* :func:`backlog_clear_seconds`: how long after a spike the backlog built up
  during it takes to clear, while new requests keep arriving.

Everything is pure arithmetic on plain numbers: no clock, no simulation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from course_lib._validate import check_int, check_number

__all__ = [
    "CHAIN_KEYS",
    "backlog_clear_seconds",
    "first_pool_full",
    "hold_times",
    "in_flight",
    "seconds_until_full",
]

CHAIN_KEYS = ("name", "workers", "latency_ms")
"""The keys of one service in a chain: its name, its pool size, its own work in ms."""

ExhaustionFormula = Callable[[int, float, float, float], "float | None"]


def in_flight(rate_per_s: float, latency_ms: float) -> float:
    """Little's law: requests in flight = arrival rate x latency.

    Args:
        rate_per_s: Arrivals per second (>= 0).
        latency_ms: How long each request holds a worker, in milliseconds (>= 0).

    Returns:
        The average number of busy workers, ``rate_per_s * latency_ms / 1000``.
    """
    rate = check_number("rate_per_s", rate_per_s)
    latency = check_number("latency_ms", latency_ms)
    return rate * latency / 1000.0


def seconds_until_full(
    workers: int, rate_per_s: float, old_latency_ms: float, new_latency_ms: float
) -> float | None:
    """Seconds from a latency jump until all ``workers`` are busy (see the module docstring).

    Args:
        workers: The pool size (>= 1).
        rate_per_s: Arrivals per second (> 0), unchanged by the jump.
        old_latency_ms: Latency before the jump, in milliseconds (>= 0).
        new_latency_ms: Latency from the jump on, in milliseconds (>= 0).

    Returns:
        ``0.0`` if the pool is already full at the old latency; ``None`` if the new
        latency never fills it (``in_flight(rate, new) < workers``); otherwise
        ``(workers - in_flight(rate, old)) / rate``.
    """
    check_int("workers", workers, minimum=1)
    rate = check_number("rate_per_s", rate_per_s, min_inclusive=False)
    before = in_flight(rate, old_latency_ms)
    if before >= workers:
        return 0.0
    if in_flight(rate, new_latency_ms) < workers:
        return None
    return (workers - before) / rate


def _check_chain(chain: Sequence[Mapping[str, Any]]) -> None:
    if not chain:
        raise ValueError("chain must list at least one service, front (client side) first")
    for i, service in enumerate(chain):
        missing = [key for key in CHAIN_KEYS if key not in service]
        if missing:
            raise ValueError(f"chain[{i}] has no {', '.join(missing)} (needs {CHAIN_KEYS})")
        check_int(f"chain[{i}]['workers']", service["workers"], minimum=1)
        check_number(f"chain[{i}]['latency_ms']", service["latency_ms"])


def hold_times(chain: Sequence[Mapping[str, Any]], extra_ms: float = 0.0) -> list[float]:
    """How long each service of ``chain`` holds a worker per request, in milliseconds.

    A caller holds its worker for its own work *and* while it waits for every
    service below it, so service ``i`` holds it for the sum of the latencies of
    ``chain[i:]``; ``extra_ms`` is added to the last service's latency (a spike),
    and therefore to every hold time.

    Args:
        chain: Services from the front (client side) to the back, each a mapping
            with ``name``, ``workers`` and ``latency_ms``.
        extra_ms: Milliseconds added to the last service's latency.
    """
    _check_chain(chain)
    extra = check_number("extra_ms", extra_ms)
    holds: list[float] = []
    below = extra
    for service in reversed(chain):
        below += float(service["latency_ms"])
        holds.append(below)
    return holds[::-1]


def first_pool_full(
    chain: Sequence[Mapping[str, Any]],
    rate_per_s: float,
    extra_ms: float,
    exhaustion: ExhaustionFormula = seconds_until_full,
) -> tuple[str, float] | None:
    """Which service of ``chain`` runs out of workers first when the last one slows down.

    Every request goes through the whole chain at ``rate_per_s``. Service ``i``
    holds a worker for :func:`hold_times` ``[i]`` milliseconds before the spike
    and ``extra_ms`` more after it, so its pool is full after
    ``exhaustion(workers, rate, hold, hold + extra_ms)`` seconds.

    Args:
        chain: Services, front first (see :func:`hold_times`).
        rate_per_s: Arrivals per second (> 0).
        extra_ms: Milliseconds the spike adds to the last service's latency.
        exhaustion: The time-to-exhaustion formula to use (default
            :func:`seconds_until_full`).

    Returns:
        ``(name, seconds)`` of the first service to run out (on a tie, the one
        nearest the front), or ``None`` if no pool ever runs out.
    """
    before = hold_times(chain)
    after = hold_times(chain, extra_ms)
    first: tuple[str, float] | None = None
    for service, old, new in zip(chain, before, after, strict=True):
        seconds = exhaustion(int(service["workers"]), rate_per_s, old, new)
        if seconds is not None and (first is None or seconds < first[1]):
            first = (str(service["name"]), seconds)
    return first


def backlog_clear_seconds(
    workers: int,
    rate_per_s: float,
    normal_latency_ms: float,
    spike_latency_ms: float,
    spike_s: float,
) -> float | None:
    """Seconds after a spike ends until the backlog built up during it is gone.

    During the spike the pool completes at most ``workers / spike latency``
    requests per second; what arrives beyond that waits:
    ``backlog = max(0, rate - workers / spike) * spike_s``. After the spike it
    completes ``workers / normal latency`` per second while ``rate`` keep
    arriving, so the backlog shrinks by the difference every second.

    Args:
        workers: The pool size (>= 1).
        rate_per_s: Arrivals per second (> 0), before, during and after the spike.
        normal_latency_ms: Latency outside the spike, in milliseconds (> 0).
        spike_latency_ms: Latency during the spike, in milliseconds (> 0).
        spike_s: How long the spike lasts, in seconds (>= 0).

    Returns:
        ``backlog / (workers / normal - rate)`` (``0.0`` when no backlog built
        up), or ``None`` if the pool cannot keep up even at the normal latency
        (``rate >= workers / normal``): the backlog never drains.
    """
    check_int("workers", workers, minimum=1)
    rate = check_number("rate_per_s", rate_per_s, min_inclusive=False)
    normal = check_number("normal_latency_ms", normal_latency_ms, min_inclusive=False) / 1000.0
    spike = check_number("spike_latency_ms", spike_latency_ms, min_inclusive=False) / 1000.0
    duration = check_number("spike_s", spike_s)
    healthy = workers / normal
    if rate >= healthy:
        return None
    backlog = max(0.0, rate - workers / spike) * duration
    return backlog / (healthy - rate)
