"""The simulation's own events, added to the shared :class:`~course_lib.events.Trace`.

The patterns running inside a simulation (breakers, bulkheads) emit their usual
events from :mod:`course_lib.events`; the simulation adds these: a fault began
or ended, and (when request recording is on) a request finished at a service.
Times are virtual seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from course_lib.events import Event

__all__ = ["FaultEnded", "FaultStarted", "RequestFinished"]


@dataclass(frozen=True, slots=True)
class FaultStarted(Event):
    """Fault ``fault`` (e.g. ``"LatencySpike"``) began at service ``source``."""

    fault: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FaultEnded(Event):
    """Fault ``fault`` ended at service ``source``; ``reason``: ``"elapsed"`` or ``"recovered"``."""

    fault: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RequestFinished(Event):
    """A request to ``route`` at service ``source`` finished.

    ``outcome`` is ``"ok"``, ``"failed"``, ``"rejected"`` (turned away without a
    worker) or ``"timed_out"``; ``latency`` is arrival to answer, in seconds;
    ``reason`` (empty when ok) says why it did not succeed:

    * at this service: ``"outage"``, ``"queue_full"``, ``"queue_timeout"``,
      ``"hang"`` (reset when a hang ended), ``"error"``;
    * on one of its downstream calls: ``"timeout"`` (it stopped waiting),
      ``"circuit_open"``, ``"bulkhead_full"`` (failed fast), or the callee's
      own reason prefixed with its name, e.g. ``"orders:payments:error"``.
    """

    route: str = ""
    outcome: str = ""
    latency: float = 0.0
    reason: str = ""
