"""Named faults, scheduled in virtual time: a handful of knobs, not a config language.

Like MIT 6.5840's ``labrpc`` or Maelstrom's nemesis, a fault is one small
object saying *what* goes wrong, *where* and *when*::

    LatencySpike("payments", start=20, duration=20, extra_latency=2.0)  # +2 s per request
    ErrorBurst("payments", start=20, duration=5, error_rate=0.5)  # half the requests fail
    Outage("payments", start=20, duration=5)    # refuses connections: fails fast
    Hang("payments", start=20, duration=5)      # accepts, then answers nothing until the end
    Recovery("payments", at=30)                 # ends every fault still active there

Give them to :meth:`course_lib.sim.Simulation.inject`. A fault with
``duration=None`` lasts until a :class:`Recovery` (or the end of the run).
Each start and end is recorded as a :class:`~course_lib.sim.events.FaultStarted` /
:class:`~course_lib.sim.events.FaultEnded` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from course_lib._validate import check_fraction, check_number

__all__ = ["ErrorBurst", "Fault", "Hang", "LatencySpike", "Outage", "Recovery"]


def _check_service(service: object) -> None:
    if not isinstance(service, str) or not service:
        raise ValueError(f"service must be a non-empty service name, got {service!r}")


@dataclass(frozen=True, slots=True)
class Fault:
    """Base class: something wrong at ``service`` from ``start`` for ``duration`` seconds.

    Args:
        service: Name of the service the fault hits.
        start: Virtual time (seconds, >= 0) the fault begins.
        duration: Seconds (> 0) it lasts, or None to last until a :class:`Recovery`.
    """

    service: str
    start: float
    duration: float | None = None

    def __post_init__(self) -> None:
        _check_service(self.service)
        check_number("start", self.start)
        if self.duration is not None:
            check_number("duration", self.duration, min_inclusive=False)

    @property
    def end(self) -> float | None:
        """``start + duration``, or None for an open-ended fault."""
        return None if self.duration is None else self.start + self.duration

    @property
    def name(self) -> str:
        """The fault's type name, e.g. ``"LatencySpike"``."""
        return type(self).__name__

    def describe(self) -> str:
        """Plain words for the trace and for plots."""
        until = "until recovered" if self.duration is None else f"for {self.duration:g}s"
        return f"{self.name} at {self.service} from t={self.start:g}s {until}"

    def adjust_latency(self, seconds: float) -> float:
        """The latency a request sees while this fault is active (unchanged by default)."""
        return seconds

    def adjust_error_rate(self, rate: float) -> float:
        """The error rate while this fault is active (unchanged by default)."""
        return rate


@dataclass(frozen=True, slots=True)
class LatencySpike(Fault):
    """Every request's own work takes longer: ``latency * factor + extra_latency``.

    Args:
        extra_latency: Seconds added to every request (>= 0).
        factor: Multiplier of the normal latency (>= 1).
    """

    extra_latency: float = 0.0
    factor: float = 1.0

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        check_number("extra_latency", self.extra_latency)
        check_number("factor", self.factor, minimum=1.0)
        if self.extra_latency == 0.0 and self.factor == 1.0:
            raise ValueError(
                "LatencySpike needs extra_latency > 0 or factor > 1, else it changes nothing"
            )

    def describe(self) -> str:
        """Plain words, including the size of the spike."""
        return f"{Fault.describe(self)}: latency x{self.factor:g} + {self.extra_latency:g}s"

    def adjust_latency(self, seconds: float) -> float:
        """``seconds * factor + extra_latency``."""
        return seconds * self.factor + self.extra_latency


@dataclass(frozen=True, slots=True)
class ErrorBurst(Fault):
    """The service fails a fraction ``error_rate`` of requests (after doing its work).

    The rate in force is ``max(normal error rate, error_rate)``.

    Args:
        error_rate: Probability in (0, 1] that a request fails.
    """

    error_rate: float = 1.0

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        check_fraction("error_rate", self.error_rate)

    def describe(self) -> str:
        """Plain words, including the error rate."""
        return f"{Fault.describe(self)}: {self.error_rate:.0%} of requests fail"

    def adjust_error_rate(self, rate: float) -> float:
        """``max(rate, error_rate)``."""
        return max(rate, self.error_rate)


@dataclass(frozen=True, slots=True)
class Outage(Fault):
    """The service is down and refuses connections: every request is rejected at once.

    Fast failure (``outcome="rejected"``, ``reason="outage"``): nothing waits.
    """

    def describe(self) -> str:
        """Plain words."""
        return f"{Fault.describe(self)}: refuses every request"


@dataclass(frozen=True, slots=True)
class Hang(Fault):
    """The service accepts requests but answers nothing until the hang ends.

    Requests that arrive (or reach a worker) during the hang stall until it
    ends; callers wait for them, holding their own workers: this is the slow
    failure that cascades. Requests already doing their work finish normally.

    Args:
        on_end: ``"fail"``: the process is restarted and every stalled request
            fails at the same instant (connection reset); ``"resume"``: the
            stall was a pause (e.g. garbage collection) and they carry on.
    """

    on_end: Literal["fail", "resume"] = "fail"

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        if self.on_end not in ("fail", "resume"):
            raise ValueError(f"on_end must be 'fail' or 'resume', got {self.on_end!r}")

    def describe(self) -> str:
        """Plain words, including what happens at the end."""
        then = "then every stalled request fails" if self.on_end == "fail" else "then resumes"
        return f"{Fault.describe(self)}: answers nothing, {then}"


@dataclass(frozen=True, slots=True)
class Recovery:
    """At time ``at``, end every fault still active at ``service`` (an operator's fix).

    Args:
        service: Name of the service to restore.
        at: Virtual time (seconds, >= 0).
    """

    service: str
    at: float

    def __post_init__(self) -> None:
        _check_service(self.service)
        check_number("at", self.at)

    def describe(self) -> str:
        """Plain words."""
        return f"Recovery of {self.service} at t={self.at:g}s"
