"""Clocks: where every pattern in this library reads the time.

The reference patterns read the time only through a clock object they are
given (:class:`MonotonicClock`, the one place that calls ``time.monotonic()``,
when none is), or are told it (``now=``). So the same logic runs on the wall
clock in production, on a hand-cranked clock in tests (no test of the logic
sleeps), and on SimPy's virtual time inside a simulation (see
``course_lib.sim``). Only real *waiting* spends wall-clock seconds: a thread
blocked on a lock or a future (a bulkhead's blocking ``acquire``,
``call_with_timeout``) or an asyncio sleep; each pattern's docstring says so.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "MonotonicClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` that returns seconds as a float.

    Only differences between two readings matter; the origin is arbitrary.
    """

    def now(self) -> float:
        """Return the current time in seconds."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic()``, immune to wall-clock jumps."""

    __slots__ = ()

    def now(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    def __repr__(self) -> str:
        return "MonotonicClock()"


class ManualClock:
    """A clock that only moves when you move it. Use it in tests and lessons.

    Example:
        >>> clock = ManualClock()
        >>> clock.advance(30)
        30.0
        >>> clock.now()
        30.0
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """Return the time the clock was last set to."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError(
                f"seconds must be >= 0 (a clock never runs backwards), got {seconds!r}"
            )
        self._now += seconds
        return self._now

    def set(self, now: float) -> None:
        """Jump to ``now``; it may not be earlier than the current time."""
        if now < self._now:
            raise ValueError(f"now must be >= the current time {self._now}, got {now!r}")
        self._now = float(now)

    def __repr__(self) -> str:
        return f"ManualClock(start={self._now!r})"


DEFAULT_CLOCK = MonotonicClock()
