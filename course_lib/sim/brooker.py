"""Brooker's experiment: clients contending for one row under optimistic concurrency.

Marc Brooker, "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015),
measured the backoff schedules on a small model: ``N`` clients each want to
update one row **once**. A client *reads* the row's version, then sends a
*conditional write* ("set it, if the version is still v"). Only the first write
for a version wins; every other write is refused. A refused client backs off
(``schedule.delay(attempt, rng, previous)``), reads again and retries, until its
write wins. Every message crosses a network whose delay is
``|Normal(10 ms, 2 ms)|``; the schedules use base 5 ms and cap 2 s.

Two numbers per run: the **calls** (write attempts the row received: the work)
and the **completion time** (when the last message was handled: how long until
every client was done). The blog's findings, which :func:`brooker_table`
reproduces at 100 clients (averaged over seeded runs): no jitter is the clear
loser on both; full jitter needs fewer than half its calls; equal jitter does a
little more work than full and takes longer; decorrelated jitter does more work
than full but finishes a little sooner.

This differs from :func:`course_lib.sim.scenarios.contention`, where a refused
write's reply carries the new version (no separate read): there the stale reads
between a read and its write do not exist, and decorrelated jitter comes out
slower than full. Here the model is the blog's.

A plain event queue (``heapq``), not SimPy: 100 clients make about 2,000 calls
per run and a table needs hundreds of runs. Every run is seeded.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from course_lib.backoff import DecorrelatedJitter, EqualJitter, FullJitter, NoJitter

__all__ = [
    "BROOKER_BASE",
    "BROOKER_CAP",
    "BrookerResult",
    "FunctionSchedule",
    "Schedule",
    "brooker_run",
    "brooker_schedules",
    "brooker_table",
]

BROOKER_BASE = 0.005
"""Seconds: the schedules' base in the blog's simulation (5 ms)."""
BROOKER_CAP = 2.0
"""Seconds: the schedules' cap in the blog's simulation (2 s)."""

_READ, _WRITE, _REFUSED = 0, 1, 2


class Schedule(Protocol):
    """What a client needs from a backoff schedule (every :mod:`course_lib.backoff` class)."""

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """Seconds to wait after refused write number ``attempt`` (>= 1)."""
        ...


def brooker_schedules(base: float = BROOKER_BASE, cap: float = BROOKER_CAP) -> dict[str, Schedule]:
    """The four schedules of the blog, by the names the notebook prints."""
    return {
        "none": NoJitter(base=base, cap=cap),
        "full": FullJitter(base=base, cap=cap),
        "equal": EqualJitter(base=base, cap=cap),
        "decorrelated": DecorrelatedJitter(base=base, cap=cap),
    }


def _check_clients(clients: object) -> int:
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
        raise ValueError(f"clients must be an integer >= 1, got {clients!r}")
    return clients


def brooker_run(clients: int, schedule: Schedule, seed: int) -> tuple[int, float]:
    """One seeded run: ``(calls, completion)`` for ``clients`` clients using ``schedule``.

    Args:
        clients: Contending clients (>= 1); each must win one write.
        schedule: Anything with ``delay(attempt, rng, previous)`` (seconds).
        seed: Seeds the network delays and the schedule's jitter.

    Returns:
        The write attempts the row received, and the virtual time (seconds) at
        which the last message was handled.

    Raises:
        ValueError: ``clients`` is not an integer >= 1, or the schedule returned
            something that is not a number >= 0.
    """
    _check_clients(clients)
    rng = random.Random(seed)
    normal = rng.normalvariate

    def net() -> float:
        return abs(normal(0.010, 0.002))

    version = 0
    calls = 0
    known = [0] * clients
    attempts = [0] * clients
    previous: list[float | None] = [None] * clients
    # (time, tie-breaker, kind, client): the tie-breaker keeps equal times in sending order
    queue: list[tuple[float, int, int, int]] = []
    sent = 0
    for client in range(clients):
        sent += 1
        queue.append((net(), sent, _READ, client))
    heapq.heapify(queue)
    now = 0.0
    while queue:
        now, _, kind, client = heapq.heappop(queue)
        if kind == _READ:  # the row answers the read; the client sends its write
            known[client] = version
            sent += 1
            heapq.heappush(queue, (now + net() + net(), sent, _WRITE, client))
        elif kind == _WRITE:
            calls += 1
            if known[client] == version:
                version += 1  # the win's reply is the client's last message; it is done
            else:
                sent += 1
                heapq.heappush(queue, (now + net(), sent, _REFUSED, client))
        else:  # the refusal arrived: back off, then read again
            attempts[client] += 1
            wait = schedule.delay(attempts[client], rng, previous[client])
            if isinstance(wait, bool) or not isinstance(wait, int | float) or not wait >= 0:
                raise ValueError(
                    f"the schedule's delay({attempts[client]}, rng, {previous[client]!r}) "
                    f"returned {wait!r}; expected a number of seconds >= 0"
                )
            previous[client] = float(wait)
            sent += 1
            heapq.heappush(queue, (now + net() + float(wait), sent, _READ, client))
    return calls, now


@dataclass(frozen=True)
class BrookerResult:
    """One cell of the table: a schedule at one number of clients, averaged over runs.

    Attributes:
        schedule: The schedule's name (e.g. ``"full"``).
        clients: Contending clients.
        runs: Seeded runs averaged (seeds ``seed .. seed + runs - 1``).
        calls: Mean write attempts per run (the work; ``clients`` is the least possible).
        completion: Mean seconds until the last client was done.
    """

    schedule: str
    clients: int
    runs: int
    calls: float
    completion: float

    def row(self) -> dict[str, Any]:
        """The result as a plain dict (for tables and widgets)."""
        return {
            "schedule": self.schedule,
            "clients": self.clients,
            "runs": self.runs,
            "calls": self.calls,
            "completion": self.completion,
        }


def brooker_table(
    schedules: Mapping[str, Schedule] | None = None,
    clients: Sequence[int] = (100,),
    *,
    runs: int = 20,
    seed: int = 0,
    on_error: Callable[[str, BaseException], None] | None = None,
) -> list[BrookerResult]:
    """Run the experiment for every schedule and every number of clients.

    Every schedule gets the same seeds, so the differences come from the
    schedules, not from luck.

    Args:
        schedules: Name -> schedule; default :func:`brooker_schedules` (the blog's four).
        clients: The numbers of clients to try, e.g. ``range(10, 101, 10)``.
        runs: Seeded runs to average per cell (>= 1).
        seed: Seed of the first run.
        on_error: Called with ``(name, error)`` when a schedule raises (e.g. a
            ``NotImplementedError`` from an exercise not written yet); that
            schedule is then left out. Default: the error propagates.

    Returns:
        One :class:`BrookerResult` per (clients, schedule), clients first.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be an integer >= 1, got {runs!r}")
    chosen = dict(schedules) if schedules is not None else brooker_schedules()
    counts = [_check_clients(n) for n in clients]
    results: list[BrookerResult] = []
    failed: set[str] = set()
    for n in counts:
        for name, schedule in chosen.items():
            if name in failed:
                continue
            try:
                done = [brooker_run(n, schedule, seed + i) for i in range(runs)]
            except Exception as error:
                if on_error is None:
                    raise
                failed.add(name)
                on_error(name, error)
                continue
            calls = sum(c for c, _ in done) / runs
            completion = sum(t for _, t in done) / runs
            results.append(BrookerResult(name, n, runs, calls, completion))
    return results


class FunctionSchedule:
    """A schedule written as a function, as the notebook's exercise 3 asks.

    ``fn(attempt, *, base, cap, random)`` for the schedules built on the
    attempt number, ``fn(previous, *, base, cap, random)`` for decorrelated
    jitter (``decorrelated=True``; ``previous`` starts at ``base``). ``random``
    is the run's ``rng.random``, so a run stays seeded.

    Args:
        fn: The schedule function.
        base: Seconds; passed to ``fn``.
        cap: Seconds; passed to ``fn``.
        decorrelated: ``fn`` takes the previous delay instead of the attempt.
    """

    __slots__ = ("base", "cap", "decorrelated", "fn")

    def __init__(
        self,
        fn: Callable[..., float],
        *,
        base: float = BROOKER_BASE,
        cap: float = BROOKER_CAP,
        decorrelated: bool = False,
    ) -> None:
        if not callable(fn):
            raise ValueError(f"fn must be a schedule function, got {fn!r}")
        self.fn = fn
        self.base = base
        self.cap = cap
        self.decorrelated = decorrelated

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """Ask ``fn`` for the delay after refused write number ``attempt``."""
        if self.decorrelated:
            before = self.base if previous is None else previous
            return self.fn(before, base=self.base, cap=self.cap, random=rng.random)
        return self.fn(attempt, base=self.base, cap=self.cap, random=rng.random)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", repr(self.fn))
        return f"FunctionSchedule({name}, base={self.base!r}, cap={self.cap!r})"
