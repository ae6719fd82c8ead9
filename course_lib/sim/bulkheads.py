"""The module's section 2B in the simulation: one pool shared by two dependencies, or one each.

Topology (workers in brackets)::

    clients --/a--> app[40] --> A[100]   (healthy)
    clients --/b--> app[40] --> B[100]   (hangs: +5 s per request from t=4 s to t=14 s)

Every call from ``app`` goes through a semaphore bulkhead first. In the
``"shared"`` layout both dependencies share ONE bulkhead (the sum of the
limits): B's slow calls take every slot and A's calls are rejected although A is
healthy. In the ``"isolated"`` layout each dependency has its own: B fills its
own slots and A keeps serving. ``"none"`` has no bulkhead at all: B's calls take
the app's workers and A's requests time out in the app's queue.

Each dependency's bulkhead is wrapped in a :class:`Tally` that counts what it
let in, what it rejected and what is in flight, per dependency, so the shared
pool can be drawn with A's and B's slots in two colours.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from course_lib.sim.distributions import Exponential
from course_lib.sim.engine import BulkheadLike, Call, Simulation
from course_lib.sim.faults import LatencySpike

__all__ = ["LAYOUTS", "IsolationResult", "Tally", "isolation"]

LAYOUTS = ("shared", "isolated", "none")
"""The layouts :func:`isolation` runs."""

APP, DEPENDENCIES = "app", ("A", "B")

BulkheadsFactory = Callable[[dict[str, int]], Mapping[str, BulkheadLike]]
"""``make_bulkheads(limits) -> {dependency: bulkhead}`` (the notebook's exercise 6)."""


class Tally:
    """A bulkhead seen by one dependency: counts admitted, rejected and in-flight calls.

    Args:
        bulkhead: The bulkhead the calls go through (``None``: no bulkhead, all admitted).
    """

    def __init__(self, bulkhead: BulkheadLike | None) -> None:
        self.bulkhead = bulkhead
        self.in_flight = 0
        self.admitted = 0
        self.rejected = 0

    def try_acquire(self) -> bool:
        """Ask the bulkhead; count the answer."""
        if self.bulkhead is not None and not self.bulkhead.try_acquire():
            self.rejected += 1
            return False
        self.in_flight += 1
        self.admitted += 1
        return True

    def release(self) -> None:
        """Give the slot back."""
        self.in_flight -= 1
        if self.bulkhead is not None:
            self.bulkhead.release()


@dataclass(frozen=True)
class IsolationResult:
    """One run of :func:`isolation`.

    Attributes:
        layout: ``"shared"``, ``"isolated"`` or ``"none"``.
        limits: Slots per dependency (``"shared"``: one pool of their sum).
        hang: ``(start, end)`` of B's hang, virtual seconds.
        frames: One plain dict per ``sample_interval``: ``t``, and per dependency
            ``in_flight``, ``admitted`` and ``rejected`` (cumulative counts).
    """

    layout: str
    limits: dict[str, int]
    hang: tuple[float, float]
    frames: list[dict[str, Any]] = field(repr=False)

    def _between(self, dependency: str, key: str, start: float, end: float) -> int:
        first = max((f for f in self.frames if f["t"] <= start + 1e-9), key=lambda f: f["t"])
        last = max((f for f in self.frames if f["t"] <= end + 1e-9), key=lambda f: f["t"])
        return int(last[dependency][key] - first[dependency][key])

    def summary(self) -> dict[str, float]:
        """A's calls per second served and rejected, before and during B's hang."""
        start, end = self.hang
        return {
            "a_served_per_s_before": self._between("A", "admitted", 0.0, start) / start,
            "a_rejected_per_s_before": self._between("A", "rejected", 0.0, start) / start,
            "a_served_per_s_during": self._between("A", "admitted", start, end) / (end - start),
            "a_rejected_per_s_during": self._between("A", "rejected", start, end) / (end - start),
            "b_peak_in_flight": float(max(f["B"]["in_flight"] for f in self.frames)),
        }


def _bulkheads(
    layout: str, limits: dict[str, int], make_bulkheads: BulkheadsFactory | None, sim: Simulation
) -> dict[str, BulkheadLike | None]:
    if layout == "none":
        return dict.fromkeys(DEPENDENCIES)
    from course_lib.bulkhead import SemaphoreBulkhead

    if layout == "shared":
        one = SemaphoreBulkhead(max_concurrent=sum(limits.values()), name="shared", clock=sim.clock)
        return dict.fromkeys(DEPENDENCIES, one)
    if make_bulkheads is not None:
        made = make_bulkheads(dict(limits))
        return {name: made[name] for name in DEPENDENCIES}
    return {
        name: SemaphoreBulkhead(max_concurrent=limits[name], name=name, clock=sim.clock)
        for name in DEPENDENCIES
    }


def isolation(
    layout: str = "isolated",
    seed: int = 0,
    *,
    limits: Mapping[str, int] | None = None,
    make_bulkheads: BulkheadsFactory | None = None,
    duration: float = 20.0,
    hang_start: float = 4.0,
    hang_duration: float = 10.0,
    hang_latency: float = 5.0,
    rate_a: float = 60.0,
    rate_b: float = 20.0,
    latency: float = 0.05,
    app_workers: int = 40,
    sample_interval: float = 0.25,
) -> IsolationResult:
    """Run the shared-pool / isolated-pools picture of the module's section 2B.

    Args:
        layout: One of :data:`LAYOUTS`.
        seed: Seeds the simulation (same seed, same run).
        limits: Slots per dependency ``{"A": n, "B": m}``; default 10 each, as in
            the module's notes. ``"shared"`` uses one bulkhead of ``n + m``.
        make_bulkheads: ``limits -> {dependency: bulkhead}`` for the
            ``"isolated"`` layout (yours); default the reference, one
            ``SemaphoreBulkhead`` per dependency.
        duration: Virtual seconds to run.
        hang_start: When B starts hanging.
        hang_duration: How long it hangs.
        hang_latency: Seconds added to each B request while it hangs.
        rate_a: ``/a`` requests per second (Poisson).
        rate_b: ``/b`` requests per second (Poisson).
        latency: Mean seconds A and B take normally (exponential).
        app_workers: The calling app's workers.
        sample_interval: Seconds between frames.

    Returns:
        The frames and a summary.

    Raises:
        ValueError: an unknown layout, or limits without exactly A and B.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    limits = dict({"A": 10, "B": 10} if limits is None else limits)
    if sorted(limits) != list(DEPENDENCIES) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in limits.values()
    ):
        raise ValueError(f"limits must give A and B a whole number of slots >= 1, got {limits!r}")
    sim = Simulation(seed, sample_interval=sample_interval, record_requests=False)
    tallies = {
        name: Tally(b) for name, b in _bulkheads(layout, limits, make_bulkheads, sim).items()
    }
    for name in DEPENDENCIES:
        sim.service(name, workers=100, latency=Exponential(latency), routes={"/": []})
    sim.service(
        APP,
        workers=app_workers,
        latency=Exponential(0.002),
        queue_limit=200,
        queue_timeout=1.0,
        routes={f"/{n.lower()}": [Call(n, "/", bulkhead=tallies[n])] for n in DEPENDENCIES},
    )
    sim.poisson(APP, "/a", rate_a)
    sim.poisson(APP, "/b", rate_b)
    sim.inject(LatencySpike("B", hang_start, hang_duration, extra_latency=hang_latency))
    frames: list[dict[str, Any]] = []

    def frame() -> None:
        entry: dict[str, Any] = {"t": round(sim.now, 6)}
        for name, tally in tallies.items():
            entry[name] = {
                "in_flight": tally.in_flight,
                "admitted": tally.admitted,
                "rejected": tally.rejected,
            }
        frames.append(entry)

    def sampler() -> Generator[Any, Any, None]:
        while True:
            frame()
            yield sim.env.timeout(sample_interval)

    sim.env.process(sampler())
    sim.run(until=duration)
    frame()
    return IsolationResult(layout, limits, (hang_start, hang_start + hang_duration), frames)
