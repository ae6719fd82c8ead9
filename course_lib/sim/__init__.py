"""A SimPy simulation of services that fail, for watching the patterns work.

Everything a notebook needs is importable from here::

    from course_lib.sim import Simulation, Call, Constant, Exponential, LatencySpike

* :mod:`~course_lib.sim.engine`: :class:`Simulation`, :class:`Service`,
  :class:`Call` (a downstream call and its protection), :class:`SimClock`.
* :mod:`~course_lib.sim.distributions`: latency distributions.
* :mod:`~course_lib.sim.faults`: named faults scheduled in virtual time.
* :mod:`~course_lib.sim.metrics`: counters, time series and percentiles.
* :mod:`~course_lib.sim.events`: the simulation's own trace events.
* :mod:`~course_lib.sim.scenarios`: the lessons' ready-made runs (the cascade,
  the retry storm).
"""

from __future__ import annotations

from course_lib.sim.distributions import (
    Constant,
    Distribution,
    Exponential,
    LogNormal,
    Normal,
    Uniform,
)
from course_lib.sim.engine import (
    BulkheadLike,
    Call,
    CircuitBreakerLike,
    Service,
    SimClock,
    Simulation,
)
from course_lib.sim.events import FaultEnded, FaultStarted, RequestFinished
from course_lib.sim.faults import ErrorBurst, Fault, Hang, LatencySpike, Outage, Recovery
from course_lib.sim.metrics import (
    OUTCOMES,
    CallMetrics,
    Outcome,
    ServiceMetrics,
    percentile,
    windowed_counts,
)

__all__ = [
    "OUTCOMES",
    "BulkheadLike",
    "Call",
    "CallMetrics",
    "CircuitBreakerLike",
    "Constant",
    "Distribution",
    "ErrorBurst",
    "Exponential",
    "Fault",
    "FaultEnded",
    "FaultStarted",
    "Hang",
    "LatencySpike",
    "LogNormal",
    "Normal",
    "Outage",
    "Outcome",
    "Recovery",
    "RequestFinished",
    "Service",
    "ServiceMetrics",
    "SimClock",
    "Simulation",
    "Uniform",
    "percentile",
    "windowed_counts",
]
