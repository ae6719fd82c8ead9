"""A circuit breaker with a lock-free path for successes, for hot code and the benchmark.

:class:`FastCircuitBreaker` has the API and the decisions of
:class:`~course_lib.breaker.CircuitBreaker` (it *is* one: a subclass that
changes no rule), plus one shortcut. The lesson quotes the simple class; this
one exists because a guarded call should cost little next to the libraries a
user would otherwise pick (see ``benchmarks/bench_breaker.py``).

The shortcut: while the breaker is CLOSED with a count window holding no
failure, no slow-call detection and nobody listening, a success cannot trip
anything, needs no clock reading and produces no event. So :meth:`call` (and
the decorator) lets a call through in CLOSED without the lock (it notes the
generation; a state change makes the outcome late, as in the simple class),
and counts a success by taking a ticket from an atomic counter
(``itertools.count``, atomic under the GIL) instead of taking the lock. The
next time anyone takes the lock, the pending tickets join the window, in O(1)
while it still holds no failure. Every other path is the simple class's.

Equivalence with the simple class is a property test
(``tests/test_breaker_properties.py``): both get the same random sequences of
calls, permits, outcomes and clock moves and must agree on every decision and
state; the thread tests run both classes too. Without a GIL (free-threaded
Python) the shortcut is off and this class behaves like the simple one.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final, ParamSpec, TypeVar, overload

from course_lib.breaker import (
    _BEHAVIOURS,
    _CLOSED,
    _FAILED,
    BreakerSnapshot,
    BreakerStats,
    CircuitBreaker,
    CountWindow,
    State,
)
from course_lib.events import EventListener

__all__ = ["FastCircuitBreaker"]

P = ParamSpec("P")
R = TypeVar("R")

_is_gil_enabled: Callable[[], bool] = getattr(sys, "_is_gil_enabled", lambda: True)
_GIL_ENABLED: Final = _is_gil_enabled()


class _FastCountWindow(CountWindow):
    """A count window that can take many successes at once."""

    __slots__ = ()

    def add_successes(self, count: int) -> None:
        """Add ``count`` successes in O(1); valid only while no call in the window failed/was slow.

        Then every slot holds 0, so only the position and the number of calls move.
        """
        assert not self.failures and not self.slow_calls
        self._position = (self._position + count) % self.size
        self.calls = min(self.size, self.calls + count)


class FastCircuitBreaker(CircuitBreaker):
    """:class:`~course_lib.breaker.CircuitBreaker` plus a lock-free path for successes.

    Takes the same keyword-only settings and keeps the same rules; see the
    module docstring for the one shortcut and when it applies.
    """

    __slots__ = ("_clean_generation", "_fast_config", "_hot", "_ok_ticks", "_seen", "_tick")

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        if isinstance(self._window, CountWindow):
            self._window = _FastCountWindow(self._window.size)
        # Successes counted without the lock (see call()): applied by _drain().
        self._ok_ticks = itertools.count()  # never replaced: decorators keep _tick
        self._tick = self._ok_ticks.__next__
        self._seen = 0
        self._fast_config = self._hot = False
        self._clean_generation = -1
        self._refresh_hot()

    # ------------------------------------------------------------ the tickets

    def _refresh_hot(self) -> None:
        """Recompute the flags the lock-free path reads (lock held, or in ``__init__``).

        * ``_fast_config``: a success needs no clock and no event (count
          window, no slow-call detection, nobody listening, and a GIL, which
          makes the ticket counter atomic);
        * ``_hot``: ``_fast_config`` and CLOSED;
        * ``_clean_generation``: the generation while ``_hot`` and the window
          holds no failure (a success then cannot trip anything), else -1.
        """
        self._fast_config = (
            self._window_type == "count"
            and self._slow_call_duration is None
            and self._listener is None
            and _GIL_ENABLED
        )
        self._hot = self._fast_config and self._state is _CLOSED
        self._clean_generation = self._generation if self._hot and not self._window.failures else -1

    def _drain(self, verdicts: bool = True) -> None:
        """Apply the successes counted without the lock (lock held).

        A success takes a ticket from ``self._ok_ticks``; this takes one too,
        so the tickets in ``[seen, mine)`` are pending successes. While the
        window still holds no failure they are added in O(1); otherwise one at
        a time, each able to complete a verdict (``verdicts=False``, used by
        :meth:`_transition`, which is already changing the state, only adds
        them). Successes that raced a trip are late.
        """
        ticket = next(self._ok_ticks)
        pending = ticket - self._seen
        self._seen = ticket + 1
        if not pending:
            return
        self._succeeded += pending
        window = self._window
        if self._state is not _CLOSED:
            self._late += pending
        elif not window.failures and isinstance(window, _FastCountWindow):
            window.add_successes(pending)
        else:
            closed = _BEHAVIOURS[_CLOSED]
            for done in range(pending):
                if self._state is not _CLOSED:
                    self._late += pending - done
                    break
                if verdicts:
                    closed.on_outcome(self, None, 0, "")
                else:
                    window.record(0)
            self._refresh_hot()

    # --------------------------------- the simple class's steps, tickets first

    def _transition(self, new: State, now: float, reason: str) -> None:
        self._drain(verdicts=False)
        # Off the hot path *before* the generation moves: a caller that reads the
        # new generation then sees _hot False; one that read the old generation
        # reports a late outcome.
        self._hot = False
        self._clean_generation = -1
        super()._transition(new, now, reason)
        self._refresh_hot()

    def _record(
        self, generation: int, now: float | None, code: int, duration: float, error: str
    ) -> None:
        with self._lock:
            self._drain()
            super()._record(generation, now, code, duration, error)
            self._refresh_hot()

    def _record_ignored(self, generation: int, now: float | None, error: str) -> None:
        with self._lock:
            self._drain()
            super()._record_ignored(generation, now, error)

    def _window_counts(self, now: float | None = None) -> tuple[int, int, int]:
        self._drain()
        return super()._window_counts(now)

    @property
    def listener(self) -> EventListener | None:
        """The callable receiving every event, or ``None`` (events turn the shortcut off)."""
        return self._listener

    @listener.setter
    def listener(self, listener: EventListener | None) -> None:
        checked = self._checked_listener(listener)
        with self._lock:
            self._drain()
            self._listener = checked
            self._refresh_hot()

    @property
    def stats(self) -> BreakerStats:
        """Counters of every call's fate since construction or :meth:`reset`."""
        with self._lock:
            self._drain()
            return super().stats

    def snapshot(self, now: float | None = None) -> BreakerSnapshot:
        """Everything the widget draws, at ``now`` (see the simple class)."""
        with self._lock:
            self._drain()
            return super().snapshot(now)

    def reset(self, now: float | None = None) -> None:
        """Back to CLOSED with an empty window and zeroed stats (an operator action)."""
        with self._lock:
            self._drain()
            super().reset(now)
            self._refresh_hot()

    # ------------------------------------------------------- the fast adapters

    def call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run ``fn(*args, **kwargs)`` through the breaker (see the simple class).

        On the hot path (CLOSED, count window, no slow-call detection, no
        listener) no clock is read and no lock is taken before the call; a
        success in a window without failures takes a ticket instead of the lock.
        """
        generation = self._generation  # read before _hot: see _transition
        if not self._hot:
            return super().call(fn, *args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._hot_error(generation, exc)
            raise
        if generation == self._clean_generation:
            self._tick()
        else:
            self._record(generation, None, 0, 0.0, "")  # a success (no slow calls here)
        return result

    def _hot_error(self, generation: int, exc: BaseException) -> None:
        if self._counts(exc):
            self._record(generation, None, _FAILED, 0.0, repr(exc))
        else:
            self._record_ignored(generation, None, repr(exc))

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Use the breaker as a decorator: ``@breaker`` on a sync or async function."""
        if inspect.iscoroutinefunction(fn):
            return super().__call__(fn)
        call = CircuitBreaker.call.__get__(self)
        hot_error = self._hot_error
        record = self._record
        tick = self._tick

        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> Any:
            # call()'s hot path, inlined to save a layer of call(fn, *args, **kwargs)
            generation = self._generation
            if not self._hot:
                return call(fn, *args, **kwargs)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                hot_error(generation, exc)
                raise
            if generation == self._clean_generation:
                tick()
            else:
                record(generation, None, False, 0.0, "")
            return result

        return guarded
