"""What a simulation measured, as plain lists and dicts (ready for plotly, no pandas).

Every request that reaches a service ends with one **outcome**:

* ``"ok"``: answered successfully (completed);
* ``"failed"``: answered with an error (its own, a downstream one, or a
  protection that failed fast: breaker open, bulkhead full);
* ``"rejected"``: turned away without ever getting a worker (queue full,
  service down);
* ``"timed_out"``: gave up waiting (in the queue, or on a downstream call).

:class:`ServiceMetrics` counts them per service and per route, keeps the
latency of successful requests, and is sampled every ``sample_interval``
virtual seconds into time series. :class:`CallMetrics` counts the attempts
and retries on one call edge (or one client population).

Percentiles use the nearest-rank rule: sort the ``n`` values; the ``q``-th
percentile is the value at 1-based rank ``ceil(q / 100 * n)``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["OUTCOMES", "CallMetrics", "Outcome", "ServiceMetrics", "percentile", "windowed_counts"]

Outcome = Literal["ok", "failed", "rejected", "timed_out"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "failed", "rejected", "timed_out")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: ``sorted(values)[ceil(q / 100 * n) - 1]``; None if empty.

    Example:
        >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50)
        3.0
    """
    if not 0 < q <= 100:
        raise ValueError(f"q must be in (0, 100], got {q!r}")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100.0 * len(ordered))) - 1]


def windowed_counts(times: Sequence[float], width: float, end: float) -> list[int]:
    """How many ``times`` fall in each window ``[k*width, (k+1)*width)`` for ``k*width < end``.

    Example:
        >>> windowed_counts([0.01, 0.02, 0.15, 0.31], width=0.1, end=0.4)
        [2, 1, 0, 1]
    """
    if not width > 0:
        raise ValueError(f"width must be > 0 seconds, got {width!r}")
    counts = [0] * max(1, math.ceil(end / width))
    last = len(counts) - 1
    for t in times:
        k = int(t / width)
        if 0 <= k <= last:
            counts[k] += 1
    return counts


class ServiceMetrics:
    """Counters and time series of one service.

    Attributes:
        name: The service's name.
        workers: Its worker-pool size.
        arrived: Requests that reached it.
        outcomes: Outcome -> count, over the whole run.
        routes: Route -> (outcome -> count).
        reasons: Why requests did not succeed (``"queue_full"``, ``"error"``, ...) -> count.
        latencies: Arrival-to-answer seconds of every successful request.
        peak_in_flight: The most workers ever busy at once.
        series: Time series, one value per ``sample_interval`` (see :meth:`sample`):
            ``time`` (end of the interval), ``in_flight`` (busy workers at that
            instant), ``peak_in_flight`` (most busy during the interval),
            ``queued`` (waiting at that instant), ``arrived``/``ok``/``failed``/
            ``rejected``/``timed_out`` (counts during the interval) and
            ``p50``/``p95``/``p99`` (latency of the interval's successes, None if none).
    """

    __slots__ = (
        "_interval",
        "_interval_latencies",
        "_interval_peak",
        "arrived",
        "latencies",
        "name",
        "outcomes",
        "peak_in_flight",
        "reasons",
        "routes",
        "series",
        "workers",
    )

    SERIES_KEYS = (
        "time",
        "in_flight",
        "peak_in_flight",
        "queued",
        "arrived",
        "ok",
        "failed",
        "rejected",
        "timed_out",
        "p50",
        "p95",
        "p99",
    )

    def __init__(self, name: str, workers: int) -> None:
        self.name = name
        self.workers = workers
        self.arrived = 0
        self.outcomes: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self.routes: dict[str, dict[str, int]] = {}
        self.reasons: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.peak_in_flight = 0
        self.series: dict[str, list[Any]] = {key: [] for key in self.SERIES_KEYS}
        self._interval: dict[str, int] = dict.fromkeys(("arrived", *OUTCOMES), 0)
        self._interval_latencies: list[float] = []
        self._interval_peak = 0

    # -- recording (called by the engine) -------------------------------------------------
    def arrive(self) -> None:
        """Count one arriving request."""
        self.arrived += 1
        self._interval["arrived"] += 1

    def busy(self, in_flight: int) -> None:
        """Note that ``in_flight`` workers are busy now (tracks the peaks)."""
        if in_flight > self._interval_peak:
            self._interval_peak = in_flight
            if in_flight > self.peak_in_flight:
                self.peak_in_flight = in_flight

    def finish(self, route: str, outcome: Outcome, latency: float, reason: str) -> None:
        """Count one finished request."""
        self.outcomes[outcome] += 1
        self._interval[outcome] += 1
        per_route = self.routes.get(route)
        if per_route is None:
            per_route = self.routes[route] = dict.fromkeys(OUTCOMES, 0)
        per_route[outcome] += 1
        if outcome == "ok":
            self.latencies.append(latency)
            self._interval_latencies.append(latency)
        else:
            self.reasons[reason] += 1

    def sample(self, now: float, in_flight: int, queued: int) -> None:
        """Close the current interval at ``now`` and start the next one."""
        s = self.series
        s["time"].append(now)
        s["in_flight"].append(in_flight)
        s["peak_in_flight"].append(max(self._interval_peak, in_flight))
        s["queued"].append(queued)
        for key, value in self._interval.items():
            s[key].append(value)
            self._interval[key] = 0
        lat = self._interval_latencies
        for q in (50, 95, 99):
            s[f"p{q}"].append(percentile(lat, q))
        self._interval_latencies = []
        self._interval_peak = in_flight

    # -- reading ----------------------------------------------------------------------------
    @property
    def finished(self) -> int:
        """Requests that have an outcome (arrived minus those still in progress)."""
        return sum(self.outcomes.values())

    def success_ratio(self, route: str | None = None) -> float | None:
        """``ok / finished`` for the whole service or one route; None before any finished."""
        counts = self.outcomes if route is None else self.routes.get(route)
        if not counts:
            return None
        total = sum(counts.values())
        return counts["ok"] / total if total else None

    def latency_percentile(self, q: float) -> float | None:
        """Nearest-rank ``q``-th percentile of successful latencies over the whole run."""
        return percentile(self.latencies, q)

    def window(self, start: float, end: float) -> dict[str, list[Any]]:
        """The slice of :attr:`series` whose intervals end in ``(start, end]``."""
        idx = [i for i, t in enumerate(self.series["time"]) if start < t <= end]
        return {key: [values[i] for i in idx] for key, values in self.series.items()}

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain dicts and lists."""
        return {
            "name": self.name,
            "workers": self.workers,
            "arrived": self.arrived,
            "outcomes": dict(self.outcomes),
            "routes": {route: dict(c) for route, c in self.routes.items()},
            "reasons": dict(self.reasons),
            "peak_in_flight": self.peak_in_flight,
            "p50": self.latency_percentile(50),
            "p95": self.latency_percentile(95),
            "p99": self.latency_percentile(99),
            "series": {key: list(values) for key, values in self.series.items()},
        }

    def __repr__(self) -> str:
        return (
            f"ServiceMetrics({self.name!r}, arrived={self.arrived}, "
            + ", ".join(f"{k}={v}" for k, v in self.outcomes.items())
            + ")"
        )


class CallMetrics:
    """Attempts on one call edge (``caller -> callee route``) or by one client population.

    Attributes:
        label: e.g. ``"gateway -> orders/checkout"`` or ``"clients -> api/"``.
        calls: Logical calls (each may make several attempts).
        attempts: Attempts actually sent (the work the callee sees), rejections by a
            local breaker or bulkhead excluded.
        retries: Attempts after the first (``attempts - calls`` when all were sent).
        denied_retries: Retries a retry budget refused (the call gave up instead).
        outcomes: Final outcome of each logical call -> count.
        reasons: Why attempts did not succeed -> count.
        attempt_times: Send time of every attempt, if the edge keeps them (for
            arrival histograms: see :func:`windowed_counts`), else empty.
        starts: Start time of every logical call, finished or not, if kept.
        jobs: ``(start, end, ok)`` of every finished logical call, if kept.
    """

    __slots__ = (
        "attempt_times",
        "attempts",
        "calls",
        "denied_retries",
        "jobs",
        "keep_times",
        "label",
        "outcomes",
        "reasons",
        "retries",
        "starts",
    )

    def __init__(self, label: str, *, keep_times: bool = False) -> None:
        self.label = label
        self.keep_times = keep_times
        self.calls = 0
        self.attempts = 0
        self.retries = 0
        self.denied_retries = 0
        self.outcomes: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self.reasons: Counter[str] = Counter()
        self.attempt_times: list[float] = []
        self.starts: list[float] = []
        self.jobs: list[tuple[float, float, bool]] = []

    @property
    def in_progress(self) -> int:
        """Logical calls started but not finished (still waiting or retrying)."""
        return self.calls - sum(self.outcomes.values())

    def success_ratio(self) -> float | None:
        """Share of finished logical calls that succeeded; None before any finished."""
        total = sum(self.outcomes.values())
        return self.outcomes["ok"] / total if total else None

    def to_dict(self) -> dict[str, Any]:
        """Counters as a plain dict (times and jobs left out: they can be long)."""
        return {
            "label": self.label,
            "calls": self.calls,
            "attempts": self.attempts,
            "retries": self.retries,
            "denied_retries": self.denied_retries,
            "in_progress": self.in_progress,
            "outcomes": dict(self.outcomes),
            "reasons": dict(self.reasons),
        }

    def __repr__(self) -> str:
        return f"CallMetrics({self.label!r}, calls={self.calls}, attempts={self.attempts})"
