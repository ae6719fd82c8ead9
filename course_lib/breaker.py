"""The reference circuit breaker: a sans-I/O state machine plus thin adapters.

The breaker is plain logic that is *told* the time and the outcome of each
call. It never sleeps and reads no clock but the one it was given, so the same
object runs on threads, on asyncio, inside a SimPy simulation and in tests
driven by a :class:`~course_lib.clock.ManualClock`.

The three states (one class each, see :class:`ClosedState`,
:class:`OpenState`, :class:`HalfOpenState`)::

    [*] --> Closed : System Normal
    Closed --> Open : Failure Rate >= Threshold
    Open --> HalfOpen : Cooldown Period Expired
    HalfOpen --> Closed : Trial Requests Succeed
    HalfOpen --> Open : Trial Request Fails

The sans-I/O protocol (what :func:`course_lib.replay.drive` uses and what a
student's own breaker implements)::

    allowed = breaker.allow(now)          # may I make the call?
    breaker.record_success(now, duration) # it worked
    breaker.record_failure(now, duration) # it failed
    breaker.state                         # State.CLOSED / OPEN / HALF_OPEN

The adapters :meth:`CircuitBreaker.call`, :meth:`CircuitBreaker.call_async`
and the decorator form (``@breaker``) do those three steps around a real
function, reading the breaker's clock. One lock guards the breaker; it is
never held while the protected function runs.

This is the version a lesson can quote. :class:`course_lib.fast_breaker.FastCircuitBreaker`
has the same API and the same decisions, plus a lock-free path for successes
(it exists for the benchmark, not for the lesson).

Example:
    >>> from course_lib.clock import ManualClock
    >>> clock = ManualClock()
    >>> breaker = CircuitBreaker(name="payments", window_size=10, minimum_calls=10,
    ...                          cooldown=30, half_open_max_calls=2, clock=clock)
    >>> for _ in range(5):
    ...     _ = breaker.allow(); breaker.record_success()
    >>> for _ in range(5):
    ...     _ = breaker.allow(); breaker.record_failure()
    >>> breaker.state                      # 5 failures of 10 = 50% >= 50%
    <State.OPEN: 'open'>
    >>> breaker.allow()                    # fails fast, no call is made
    False
    >>> _ = clock.advance(30)
    >>> breaker.allow(), breaker.state     # cooldown over: first trial call
    (True, <State.HALF_OPEN: 'half_open'>)
"""

from __future__ import annotations

import enum
import functools
import inspect
import threading
import types
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, ParamSpec, TypeVar, cast, overload

from course_lib import breaker_vocabulary as vocabulary
from course_lib._validate import (
    MAX_COUNT_WINDOW,
    check_count_window,
    check_fraction,
    check_int,
    check_minimum_calls,
    check_number,
)
from course_lib.breaker_vocabulary import MERMAID_NAMES, TRANSITIONS, Transition
from course_lib.clock import Clock, MonotonicClock
from course_lib.errors import CircuitOpenError
from course_lib.events import (
    CallFailed,
    CallIgnored,
    CallPermitted,
    CallRejected,
    CallSucceeded,
    Event,
    EventListener,
    StateChanged,
)

__all__ = [
    "MAX_COUNT_WINDOW",
    "MERMAID_NAMES",
    "TRANSITIONS",
    "BreakerSnapshot",
    "BreakerStats",
    "CircuitBreaker",
    "ClosedState",
    "CountWindow",
    "HalfOpenState",
    "OpenState",
    "State",
    "TimeWindow",
    "Transition",
]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MINIMUM_CALLS: Final = 100
"""resilience4j's ``minimumNumberOfCalls`` (capped by the size of a count window)."""

# Outcome codes stored in the windows: bit 0 = the call failed, bit 1 = it was slow.
_FAILED: Final = 1
_SLOW: Final = 2


class State(enum.StrEnum):
    """The three states of a circuit breaker (spelt as :mod:`course_lib.breaker_vocabulary`).

    A ``StrEnum``: ``State.OPEN == "open"``, so notebooks and the replay driver
    can compare with plain strings.
    """

    CLOSED = vocabulary.CLOSED
    OPEN = vocabulary.OPEN
    HALF_OPEN = vocabulary.HALF_OPEN


_CLOSED: Final = State.CLOSED
_OPEN: Final = State.OPEN
_HALF_OPEN: Final = State.HALF_OPEN


# --------------------------------------------------------------------------
# Snapshots and counters (read by the widget, the checks and the tests)
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """Everything the animated widget draws, frozen at time ``time``.

    Attributes:
        time: when the snapshot was taken (seconds on the breaker's clock).
        state: the state a call arriving at ``time`` would find: an OPEN
            breaker whose cooldown is over shows as HALF_OPEN (see
            :meth:`CircuitBreaker.state_at`).
        outcomes: the rolling window's calls, oldest first, ``True`` = failure.
        slow: the same calls, ``True`` = slow call.
        calls: how many calls the window holds (``len(outcomes)``).
        failures: how many of them failed.
        slow_calls: how many of them were slow.
        failure_rate: ``failures / calls`` (0.0 when the window is empty).
        slow_call_rate: ``slow_calls / calls`` (0.0 when the window is empty).
        minimum_calls: the minimum number of calls before a verdict.
        opened_at: when the breaker last tripped (``None`` while CLOSED).
        cooldown_remaining: seconds until a trial call is allowed (0 unless OPEN).
        half_open_permits_used: trial permits handed out in this HALF_OPEN spell.
        half_open_permits_left: trial permits still available.
    """

    time: float
    state: State
    outcomes: tuple[bool, ...]
    slow: tuple[bool, ...]
    calls: int
    failures: int
    slow_calls: int
    failure_rate: float
    slow_call_rate: float
    minimum_calls: int
    opened_at: float | None
    cooldown_remaining: float
    half_open_permits_used: int
    half_open_permits_left: int


@dataclass(frozen=True, slots=True)
class BreakerStats:
    """Counters since construction (or the last :meth:`CircuitBreaker.reset`).

    Every call offered to the breaker ends in exactly one of ``rejected``,
    ``succeeded``, ``failed`` or ``ignored`` (or is still running).
    ``late`` counts the succeeded/failed calls whose outcome arrived after the
    breaker had changed state since letting them through: they are counted
    here but not in the window (they say nothing about the new state).
    """

    rejected: int
    succeeded: int
    failed: int
    ignored: int
    late: int


# --------------------------------------------------------------------------
# Rolling windows
# --------------------------------------------------------------------------


class CountWindow:
    """The last ``size`` calls, in a ring buffer with running counts.

    Recording a call is O(1): the slot of the oldest call is overwritten and
    the running counts are corrected::

        failures += new_failed - old_failed
        failure_rate = failures / calls        (0.0 when calls == 0)
    """

    __slots__ = ("_buffer", "_position", "calls", "failures", "size", "slow_calls")

    def __init__(self, size: int) -> None:
        self.size = size
        self._buffer = [0] * size
        self._position = 0
        self.calls = 0
        self.failures = 0
        self.slow_calls = 0

    def record(self, code: int, now: float | None = None) -> None:
        """Add one call (``code``: bit 0 = failed, bit 1 = slow); ``now`` is unused."""
        position = self._position
        old = self._buffer[position]
        if old != code:
            self._buffer[position] = code
            self.failures += (code & _FAILED) - (old & _FAILED)
            self.slow_calls += (code >> 1) - (old >> 1)
        position += 1
        self._position = 0 if position == self.size else position
        if self.calls < self.size:
            self.calls += 1

    def counts(self, now: float | None = None) -> tuple[int, int, int]:
        """``(calls, failures, slow_calls)``; nothing ages out of a count window."""
        return self.calls, self.failures, self.slow_calls

    def expire(self, now: float) -> None:
        """Nothing expires from a count window."""

    def clear(self) -> None:
        """Forget every call."""
        self._buffer = [0] * self.size
        self._position = self.calls = self.failures = self.slow_calls = 0

    def codes(self, now: float | None = None) -> list[int]:
        """The outcome codes, oldest first."""
        if self.calls < self.size:
            return self._buffer[: self.calls]
        return self._buffer[self._position :] + self._buffer[: self._position]


class TimeWindow:
    """The calls of the last ``size`` seconds, with running counts.

    A call recorded at time ``t`` is in the window at time ``now`` while
    ``t > now - size``. Each call is kept as ``(t, code)`` in a deque and
    removed from the left once it has aged out, so recording is amortised O(1).
    Times are expected in non-decreasing order (they come from one clock:
    a call recorded without its time is stamped with ``clock.now()``).
    The running counts are those of the last :meth:`record` / :meth:`expire`;
    :meth:`counts` and :meth:`codes` tell what the window holds at any ``now``
    without changing it.
    """

    __slots__ = ("_clock", "_entries", "calls", "failures", "size", "slow_calls")

    def __init__(self, size: float, clock: Clock | None = None) -> None:
        self.size = size
        self._clock = clock
        self._entries: deque[tuple[float, int]] = deque()
        self.calls = 0
        self.failures = 0
        self.slow_calls = 0

    def record(self, code: int, now: float | None = None) -> None:
        """Expire calls older than ``now - size`` and add one call at ``now``."""
        if now is None:
            if self._clock is None:
                raise ValueError("a time window needs the time of each call (or a clock)")
            now = self._clock.now()
        self.expire(now)
        self._entries.append((now, code))
        self.calls += 1
        self.failures += code & _FAILED
        self.slow_calls += code >> 1

    def counts(self, now: float | None = None) -> tuple[int, int, int]:
        """``(calls, failures, slow_calls)`` of the calls still in the window at ``now``."""
        calls, failures, slow_calls = self.calls, self.failures, self.slow_calls
        if now is not None:
            cutoff = now - self.size
            for t, code in self._entries:  # oldest first: stop at the first one still in
                if t > cutoff:
                    break
                calls -= 1
                failures -= code & _FAILED
                slow_calls -= code >> 1
        return calls, failures, slow_calls

    def expire(self, now: float) -> None:
        """Drop the calls made at or before ``now - size``."""
        cutoff = now - self.size
        entries = self._entries
        while entries and entries[0][0] <= cutoff:
            _, code = entries.popleft()
            self.calls -= 1
            self.failures -= code & _FAILED
            self.slow_calls -= code >> 1

    def clear(self) -> None:
        """Forget every call."""
        self._entries.clear()
        self.calls = self.failures = self.slow_calls = 0

    def codes(self, now: float | None = None) -> list[int]:
        """The outcome codes, oldest first (only those still in the window at ``now``)."""
        cutoff = -float("inf") if now is None else now - self.size
        return [code for t, code in self._entries if t > cutoff]


# --------------------------------------------------------------------------
# One class per state
# --------------------------------------------------------------------------


def _pct(fraction: float) -> str:
    """``0.5 -> "50%"``, ``1/3 -> "33.3%"``."""
    text = f"{fraction * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _secs(seconds: float) -> str:
    return f"{seconds:g}s"


class _StateBehaviour:
    """What a state does when asked for a permit or told an outcome.

    The state objects hold no data (the breaker does); the breaker's lock is
    held whenever one of these methods runs. ``now`` is the time the breaker
    was told, or ``None``: then a state that needs the time reads the clock
    (``cb._time(now)``), so a CLOSED breaker with a count window reads no clock.
    """

    __slots__ = ()
    state: ClassVar[State]

    def allow(self, cb: CircuitBreaker, now: float | None) -> bool:
        raise NotImplementedError

    def on_outcome(self, cb: CircuitBreaker, now: float | None, code: int, error: str) -> None:
        raise NotImplementedError

    def on_ignored(self, cb: CircuitBreaker) -> None:
        """An ignored error counts as neither success nor failure."""

    def rejection(self, cb: CircuitBreaker, now: float) -> tuple[str, float | None]:
        """Why a call is refused now, and the seconds until a retry may work."""
        raise NotImplementedError


class ClosedState(_StateBehaviour):
    """CLOSED: normal operation; every call goes through to the service.

    The breaker watches the outcomes in its rolling window (the last
    ``window_size`` calls, or the calls of the last ``window_size`` seconds).
    It gives no verdict until the window holds at least ``minimum_calls``
    calls. Then, as soon as::

        failures / calls >= failure_rate_threshold      (or)
        slow_calls / calls >= slow_call_rate_threshold

    the breaker *trips*: it moves to OPEN and starts the cooldown.
    ``>=`` is resilience4j's rule: with a 50% threshold, 5 failures in 10 trip.
    """

    __slots__ = ()
    state = State.CLOSED

    def allow(self, cb: CircuitBreaker, now: float | None) -> bool:
        return True

    def on_outcome(self, cb: CircuitBreaker, now: float | None, code: int, error: str) -> None:
        """Add the call to the window; trip if enough calls and a rate reached its threshold."""
        window = cb._window
        window.record(code, now)
        calls = window.calls
        if calls < cb._minimum_calls:
            return
        failures, slow_calls = window.failures, window.slow_calls
        if failures and failures / calls >= cb._failure_rate_threshold:
            what = f"failure rate {_pct(failures / calls)} >= threshold "
            what += _pct(cb._failure_rate_threshold)
        elif slow_calls and slow_calls / calls >= cb._slow_call_rate_threshold:
            what = f"slow-call rate {_pct(slow_calls / calls)} >= threshold "
            what += _pct(cb._slow_call_rate_threshold)
        else:
            return
        if cb._window_type == "count":
            over = f"over the last {calls} calls"
        else:
            over = f"over the last {_secs(cb._window_size)} ({calls} calls)"
        cb._transition(_OPEN, cb._time(now), f"{what} {over}")

    def rejection(self, cb: CircuitBreaker, now: float) -> tuple[str, float | None]:
        raise AssertionError("a CLOSED breaker rejects nothing")  # pragma: no cover


class OpenState(_StateBehaviour):
    """OPEN: the breaker has tripped; calls fail fast without being made.

    Each refused call gets the fallback (if one is set) or a
    :class:`~course_lib.errors.CircuitOpenError`, and the struggling service
    gets a rest. After ``cooldown`` seconds the breaker is ready to test the
    water: the *first* call asked for at ``now >= opened_at + cooldown`` moves
    it to HALF_OPEN and becomes the first trial call. The move is lazy (nothing
    happens at the instant the cooldown ends; a breaker nobody calls stays
    OPEN); :meth:`CircuitBreaker.state_at` tells what a call *would* find.

    The window is frozen while OPEN (it shows what tripped the breaker), and
    outcomes reported while OPEN belong to calls let through before the trip:
    they are counted in the stats but change nothing.
    """

    __slots__ = ()
    state = State.OPEN

    def allow(self, cb: CircuitBreaker, now: float | None) -> bool:
        now = cb._time(now)
        opened_at = cb._opened_at
        assert opened_at is not None
        if now < opened_at + cb._cooldown:
            return False
        cb._transition(
            _HALF_OPEN,
            now,
            f"cooldown of {_secs(cb._cooldown)} expired; "
            f"allowing {cb._half_open_max_calls} trial calls",
        )
        return cb._behaviour.allow(cb, now)

    def on_outcome(self, cb: CircuitBreaker, now: float | None, code: int, error: str) -> None:
        return None

    def rejection(self, cb: CircuitBreaker, now: float) -> tuple[str, float | None]:
        remaining = cb.cooldown_remaining(now)
        return f"open; {_secs(remaining)} of cooldown left", remaining


class HalfOpenState(_StateBehaviour):
    """HALF_OPEN: testing whether the service has recovered.

    Exactly ``half_open_max_calls`` trial calls get a permit; anyone else is
    refused (failed fast) while the trials run. The verdict:

    * any trial call fails -> OPEN again, the cooldown restarting from that
      failure's time;
    * all trial calls succeed -> CLOSED, with an empty window (a fresh start);
      unless slow-call detection is on and
      ``slow trials / half_open_max_calls >= slow_call_rate_threshold``,
      which sends it back to OPEN.

    A trial that ends in an ignored error gives its permit back. The window
    stays frozen (trials are counted apart from it).
    """

    __slots__ = ()
    state = State.HALF_OPEN

    def allow(self, cb: CircuitBreaker, now: float | None) -> bool:
        if cb._permits_used < cb._half_open_max_calls:
            cb._permits_used += 1
            return True
        return False

    def on_outcome(self, cb: CircuitBreaker, now: float | None, code: int, error: str) -> None:
        if code & _FAILED:
            cb._transition(_OPEN, cb._time(now), f"trial call failed: {error or 'failure'}")
            return
        cb._trials_passed += 1
        if code & _SLOW:
            cb._trials_slow += 1
        trials = cb._half_open_max_calls
        if cb._trials_passed < trials:
            return
        slow_rate = cb._trials_slow / trials
        if cb._trials_slow and slow_rate >= cb._slow_call_rate_threshold:
            cb._transition(
                _OPEN,
                cb._time(now),
                f"slow-call rate {_pct(slow_rate)} >= threshold "
                f"{_pct(cb._slow_call_rate_threshold)} over {trials} trial calls",
            )
        else:
            cb._transition(_CLOSED, cb._time(now), f"all {trials} trial calls succeeded")

    def on_ignored(self, cb: CircuitBreaker) -> None:
        if cb._permits_used > 0:
            cb._permits_used -= 1

    def rejection(self, cb: CircuitBreaker, now: float) -> tuple[str, float | None]:
        return f"half_open; all {cb._half_open_max_calls} trial permits are in use", None


_BEHAVIOURS: Final[dict[State, _StateBehaviour]] = {
    State.CLOSED: ClosedState(),
    State.OPEN: OpenState(),
    State.HALF_OPEN: HalfOpenState(),
}


# --------------------------------------------------------------------------
# The breaker
# --------------------------------------------------------------------------


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Final = _Unset()


class _Guarded(functools.partial[Any]):
    """What ``@breaker`` makes of a function ``fn``: ``breaker.call(fn, *args, **kwargs)``.

    The same as ``def guarded(*args, **kwargs): return breaker.call(fn, *args, **kwargs)``,
    as a :func:`functools.partial`, which calls ``breaker.call`` without a Python frame of
    its own in between. A partial is no method, so ``__get__`` binds it like a function
    when it decorates a method (``instance.method(x)`` -> ``breaker.call(fn, instance, x)``).
    """

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return self if instance is None else types.MethodType(self, instance)


def _exception_types(name: str, value: Any) -> tuple[type[BaseException], ...]:
    """An exception class or a tuple/list of them -> a tuple, else ``ValueError``."""
    items = (value,) if isinstance(value, type) else value
    if isinstance(items, tuple | list) and all(
        isinstance(t, type) and issubclass(t, BaseException) for t in items
    ):
        return tuple(items)
    raise ValueError(
        f"{name} must be an exception class or a tuple of exception classes, got {value!r}"
    )


class CircuitBreaker:
    """A circuit breaker with a rolling failure-rate window (resilience4j's model).

    Every setting is keyword-only and read-only (a property): to change one,
    build a new breaker.

    Args:
        name: shown in events and error messages.
        failure_rate_threshold: trip when ``failures / calls >= this``, in (0, 1].
        window_type: ``"count"`` (the last ``window_size`` calls) or ``"time"``
            (the calls of the last ``window_size`` seconds).
        window_size: calls (an int >= 1) for a count window; seconds (> 0) for
            a time window.
        minimum_calls: no verdict before the window holds this many calls
            (>= 1). Default: the window's size for a count window, 100 for a
            time window. With a count window, ``minimum_calls > window_size``
            raises ``ValueError``: that minimum could never be reached, so the
            breaker could never trip (resilience4j silently caps it at the
            window size instead). A time window has no such bound.
        cooldown: seconds in OPEN before a trial call is allowed (>= 0).
        half_open_max_calls: the number of trial calls in HALF_OPEN (>= 1).
        slow_call_duration: a call lasting longer than this many seconds is
            *slow* (``duration > slow_call_duration``, as resilience4j);
            ``None`` turns slow-call detection off.
        slow_call_rate_threshold: trip when ``slow_calls / calls >= this``, in (0, 1].
        record_exceptions: errors that count as failures.
        ignore_exceptions: errors that count as neither success nor failure
            (they win over ``record_exceptions``). Any error not recorded is
            ignored too.
        fallback: what a refused call returns instead of raising
            :class:`~course_lib.errors.CircuitOpenError`. A callable is called
            with that error and its result returned (``fallback=lambda err:
            cached_checkout()``); any other object is returned as is. To
            return a callable itself, wrap it: ``fallback=lambda err: fn``.
            The fallback only replaces *refusals*: an error raised by the
            protected call itself is always re-raised.
        clock: where the breaker reads the time whenever it is not told it
            (``now=None``, the adapters, and the read-outs :attr:`failure_rate`,
            :attr:`window_calls`, ``repr``); defaults to
            :class:`~course_lib.clock.MonotonicClock`. If you tell the breaker
            the time, give it a clock that agrees (a ManualClock you move).
        listener: called with every event (e.g. a :class:`~course_lib.events.Trace`).
            It runs with the breaker's (re-entrant) lock held: keep it quick.

    Raises:
        ValueError: a parameter is out of range; the message names it.

    The defaults are resilience4j's (threshold 50%, count window of 100 calls,
    minimum 100 calls, 10 trial calls) except the cooldown, which is the
    module's 30 s (resilience4j waits 60 s).

    One truth for a time window: every read-out (:attr:`failure_rate`,
    :attr:`slow_call_rate`, :attr:`window_calls`, :attr:`window_failures`,
    ``repr``) is the window as it stands at the clock's now, exactly what
    :meth:`snapshot` shows for the same time, so calls that have aged out are
    gone from all of them. (While OPEN or HALF_OPEN the window is frozen: it
    shows what tripped the breaker.)

    Thread safety: one re-entrant lock guards every change of state, and it
    is never held while the protected function runs (pybreaker holds its lock
    around the call, serialising every caller). Each change of state bumps a
    *generation* number; :meth:`call` notes the generation when it lets a call
    through, and an outcome that comes back after the breaker has moved on is
    *late*: counted in :attr:`stats`, but neither in the window nor as a trial.
    """

    __slots__ = (
        "__weakref__",
        "_behaviour",
        "_clock",
        "_cooldown",
        "_failed",
        "_failure_rate_threshold",
        "_fallback",
        "_generation",
        "_half_open_max_calls",
        "_ignore_exceptions",
        "_ignored",
        "_late",
        "_listener",
        "_lock",
        "_minimum_calls",
        "_name",
        "_opened_at",
        "_permits_used",
        "_record_exceptions",
        "_rejected",
        "_slow_call_duration",
        "_slow_call_rate_threshold",
        "_state",
        "_succeeded",
        "_trials_passed",
        "_trials_slow",
        "_window",
        "_window_size",
        "_window_type",
    )

    def __init__(
        self,
        *,
        name: str = "breaker",
        failure_rate_threshold: float = 0.5,
        window_type: str = "count",
        window_size: float = 100,
        minimum_calls: int | None = None,
        cooldown: float = 30.0,
        half_open_max_calls: int = 10,
        slow_call_duration: float | None = None,
        slow_call_rate_threshold: float = 1.0,
        record_exceptions: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
        ignore_exceptions: type[BaseException] | tuple[type[BaseException], ...] = (),
        fallback: Any = _UNSET,
        clock: Clock | None = None,
        listener: EventListener | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self._name = name
        self._clock = self._checked_clock(clock)
        self._failure_rate_threshold = check_fraction(
            "failure_rate_threshold", failure_rate_threshold
        )
        if window_type == "count":
            calls = check_count_window(window_size)
            self._window: CountWindow | TimeWindow = CountWindow(calls)
            self._window_size: float = calls
            self._minimum_calls = check_minimum_calls(
                calls if minimum_calls is None else minimum_calls, calls
            )
        elif window_type == "time":
            self._window_size = check_number("window_size", window_size, min_inclusive=False)
            self._window = TimeWindow(self._window_size, self._clock)
            self._minimum_calls = check_int(
                "minimum_calls",
                DEFAULT_MINIMUM_CALLS if minimum_calls is None else minimum_calls,
                minimum=1,
            )
        else:
            raise ValueError(f"window_type must be 'count' or 'time', got {window_type!r}")
        self._window_type = window_type
        self._cooldown = check_number("cooldown", cooldown)
        self._half_open_max_calls = check_int("half_open_max_calls", half_open_max_calls, minimum=1)
        self._slow_call_duration = (
            None
            if slow_call_duration is None
            else check_number("slow_call_duration", slow_call_duration, min_inclusive=False)
        )
        self._slow_call_rate_threshold = check_fraction(
            "slow_call_rate_threshold", slow_call_rate_threshold
        )
        self._record_exceptions = _exception_types("record_exceptions", record_exceptions)
        self._ignore_exceptions = _exception_types("ignore_exceptions", ignore_exceptions)
        self._fallback = fallback
        self._listener = self._checked_listener(listener)
        self._lock = threading.RLock()
        self._state: State = _CLOSED
        self._behaviour: _StateBehaviour = _BEHAVIOURS[_CLOSED]
        self._generation = 0
        self._opened_at: float | None = None
        self._permits_used = self._trials_passed = self._trials_slow = 0
        self._rejected = self._succeeded = self._failed = self._ignored = self._late = 0

    # --------------------------------------------------------------- settings

    @property
    def name(self) -> str:
        """Shown in events and error messages."""
        return self._name

    @property
    def listener(self) -> EventListener | None:
        """The callable receiving every event, or ``None`` (the one setting you may change)."""
        return self._listener

    @listener.setter
    def listener(self, listener: EventListener | None) -> None:
        checked = self._checked_listener(listener)
        with self._lock:
            self._listener = checked

    @staticmethod
    def _checked_clock(clock: Any) -> Clock:
        if clock is None:
            return MonotonicClock()
        if not callable(getattr(clock, "now", None)):
            raise ValueError(f"clock must have a now() method returning seconds, got {clock!r}")
        return cast(Clock, clock)

    @staticmethod
    def _checked_listener(listener: Any) -> EventListener | None:
        if listener is not None and not callable(listener):
            raise ValueError(f"listener must be callable (e.g. a Trace) or None, got {listener!r}")
        return cast("EventListener | None", listener)

    @property
    def clock(self) -> Clock:
        """The clock the breaker reads when not told the time."""
        return self._clock

    @property
    def failure_rate_threshold(self) -> float:
        """Trip when the failure rate is at least this."""
        return self._failure_rate_threshold

    @property
    def window_type(self) -> str:
        """``"count"`` or ``"time"``."""
        return self._window_type

    @property
    def window_size(self) -> float:
        """Calls (count window) or seconds (time window)."""
        return self._window_size

    @property
    def minimum_calls(self) -> int:
        """The minimum number of calls in the window before a verdict."""
        return self._minimum_calls

    @property
    def cooldown(self) -> float:
        """Seconds in OPEN before a trial call is allowed."""
        return self._cooldown

    @property
    def half_open_max_calls(self) -> int:
        """The number of trial calls in HALF_OPEN."""
        return self._half_open_max_calls

    @property
    def slow_call_duration(self) -> float | None:
        """Calls longer than this many seconds are slow; ``None`` = detection off."""
        return self._slow_call_duration

    @property
    def slow_call_rate_threshold(self) -> float:
        """Trip when the slow-call rate is at least this."""
        return self._slow_call_rate_threshold

    # -------------------------------------------------------------- internals

    def _time(self, now: float | None) -> float:
        """``now``, or the clock's time if not told."""
        return self._clock.now() if now is None else now

    def _emit(self, event: Event) -> None:
        listener = self._listener
        if listener is not None:
            listener(event)

    def _transition(self, new: State, now: float, reason: str) -> None:
        """Move to ``new`` (lock held) and start a new generation."""
        old = self._state
        if new is _OPEN:
            self._opened_at = now
        elif new is _HALF_OPEN:
            self._permits_used = self._trials_passed = self._trials_slow = 0
        else:
            self._opened_at = None
            self._window.clear()
        self._behaviour = _BEHAVIOURS[new]
        self._state = new
        self._generation += 1
        self._emit(StateChanged(now, self._name, old.value, new.value, reason))

    def _acquire(self, now: float | None, explain: bool = False) -> int:
        """Take a permit: return the current generation.

        A refused call gets -1, or (``explain``) the :class:`CircuitOpenError` saying why, raised.
        """
        lock = self._lock
        lock.acquire()  # (acquire/release: measurably cheaper than ``with`` per call)
        try:
            if self._behaviour.allow(self, now):
                if self._listener is not None:
                    self._emit(CallPermitted(self._time(now), self._name, self._state.value))
                return self._generation
            self._rejected += 1
            if not explain and self._listener is None:
                return -1
            now = self._time(now)
            reason, retry_after = self._behaviour.rejection(self, now)
            self._emit(CallRejected(now, self._name, reason))
            if explain:
                raise self._refusal(retry_after)
            return -1
        finally:
            lock.release()

    def _refusal(self, retry_after: float | None) -> CircuitOpenError:
        """The error a refused call raises, saying when to try again."""
        if retry_after is not None:
            what = f"is {self._state.value}: failing fast; retry in {_secs(retry_after)}"
        else:
            what = (
                f"is {self._state.value} and all {self._half_open_max_calls} trial permits "
                "are in use: failing fast; retry once the trial calls finish"
            )
        return CircuitOpenError(
            f"circuit breaker {self._name!r} {what} (the call was not made)",
            name=self._name,
            state=self._state.value,
            retry_after=retry_after,
        )

    def _code(self, failed: bool, duration: float) -> int:
        """The window's code for an outcome: bit 0 = the call failed, bit 1 = it was slow."""
        limit = self._slow_call_duration
        slow = limit is not None and duration > limit
        return failed | slow << 1

    def _record(
        self, generation: int, now: float | None, code: int, duration: float, error: str
    ) -> None:
        """Report an outcome (see :meth:`_code`) of a call let through at ``generation``.

        ``generation`` -1 means the current one (the sans-I/O API: the caller is not told).
        """
        lock = self._lock
        lock.acquire()
        try:
            failed = code & _FAILED
            if failed:
                self._failed += 1
            else:
                self._succeeded += 1
            if self._listener is not None:  # build no event nobody reads
                now = self._time(now)
                slow = code & _SLOW == _SLOW
                if failed:
                    self._emit(CallFailed(now, self._name, error, duration, slow))
                else:
                    self._emit(CallSucceeded(now, self._name, duration, slow))
            if generation != self._generation and generation >= 0:
                self._late += 1
                return
            self._behaviour.on_outcome(self, now, code, error)
        finally:
            lock.release()

    def _record_ignored(self, generation: int, now: float | None, error: str) -> None:
        with self._lock:
            self._ignored += 1
            self._emit(CallIgnored(self._time(now), self._name, error))
            if generation < 0 or generation == self._generation:
                self._behaviour.on_ignored(self)

    def _window_counts(self, now: float | None = None) -> tuple[int, int, int]:
        """``(calls, failures, slow_calls)`` of the window at ``now`` (lock held).

        A time window ages while CLOSED; while OPEN/HALF_OPEN it is frozen.
        """
        return self._window.counts(self._time(now) if self._state is _CLOSED else None)

    def _counts(self, error: BaseException) -> bool:
        """Does this error count as a failure (else it is ignored)?"""
        return isinstance(error, self._record_exceptions) and not isinstance(
            error, self._ignore_exceptions
        )

    def _refuse(self, error: CircuitOpenError) -> Any:
        """The result of a refused call: the fallback, or raise ``error``."""
        fallback = self._fallback
        if fallback is _UNSET:
            raise error
        if callable(fallback):
            return fallback(error)
        return fallback

    # --------------------------------------------------------- sans-I/O API

    def allow(self, now: float | None = None) -> bool:
        """May a call be made at ``now``? Takes a trial permit in HALF_OPEN.

        Args:
            now: the time in seconds; ``None`` reads the breaker's clock.

        Returns:
            ``True`` if the caller should make the call (and then report its
            outcome with :meth:`record_success` / :meth:`record_failure`),
            ``False`` if it must fail fast. An OPEN breaker whose cooldown is
            over moves to HALF_OPEN here (the lazy transition).
        """
        return self._acquire(now) >= 0

    def record_success(self, now: float | None = None, duration: float = 0.0) -> None:
        """Report that a permitted call succeeded after ``duration`` seconds."""
        self._record(-1, now, self._code(False, duration), duration, "")

    def record_failure(
        self, now: float | None = None, duration: float = 0.0, error: str = ""
    ) -> None:
        """Report that a permitted call failed (``error`` describes why)."""
        self._record(-1, now, self._code(True, duration), duration, error)

    def record_ignored(self, now: float | None = None, error: str = "") -> None:
        """Report a call that ended in an ignored error (gives a trial permit back)."""
        self._record_ignored(-1, now, error)

    @property
    def state(self) -> State:
        """The current state. An OPEN breaker stays OPEN until the next :meth:`allow`."""
        return self._state

    def state_at(self, now: float | None = None) -> State:
        """The state a call arriving at ``now`` would find (no side effects)."""
        with self._lock:
            if self._state is _OPEN and self.cooldown_remaining(now) <= 0:
                return _HALF_OPEN
            return self._state

    def cooldown_remaining(self, now: float | None = None) -> float:
        """Seconds until an OPEN breaker lets a trial call through (0.0 if not OPEN).

        ``remaining = max(0, opened_at + cooldown - now)``
        """
        with self._lock:
            if self._state is not _OPEN or self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self._cooldown - self._time(now))

    @property
    def opened_at(self) -> float | None:
        """When the breaker last tripped (``None`` while CLOSED)."""
        return self._opened_at

    @property
    def failure_rate(self) -> float:
        """``failures / calls`` in the window at the clock's now (0.0 if empty)."""
        with self._lock:
            calls, failures, _ = self._window_counts()
        return failures / calls if calls else 0.0

    @property
    def slow_call_rate(self) -> float:
        """``slow_calls / calls`` in the window at the clock's now (0.0 if empty)."""
        with self._lock:
            calls, _, slow_calls = self._window_counts()
        return slow_calls / calls if calls else 0.0

    @property
    def window_calls(self) -> int:
        """How many calls the window holds at the clock's now."""
        with self._lock:
            return self._window_counts()[0]

    @property
    def window_failures(self) -> int:
        """How many of the window's calls failed, at the clock's now."""
        with self._lock:
            return self._window_counts()[1]

    @property
    def stats(self) -> BreakerStats:
        """Counters of every call's fate since construction or :meth:`reset`."""
        with self._lock:
            return BreakerStats(
                self._rejected, self._succeeded, self._failed, self._ignored, self._late
            )

    def snapshot(self, now: float | None = None) -> BreakerSnapshot:
        """Everything the widget draws, at ``now`` (default the clock's now; no side effects).

        A time window holds only the calls made after ``now - window_size``
        (while CLOSED; it is frozen while OPEN/HALF_OPEN), like every read-out.
        """
        with self._lock:
            now = self._time(now)
            state = self.state_at(now)
            codes = self._window.codes(now if self._state is _CLOSED else None)
            calls = len(codes)
            failures = sum(code & _FAILED for code in codes)
            slow_calls = sum(code >> 1 for code in codes)
            used = self._permits_used if self._state is _HALF_OPEN else 0
            left = self._half_open_max_calls - used if state is _HALF_OPEN else 0
            return BreakerSnapshot(
                time=now,
                state=state,
                outcomes=tuple(bool(code & _FAILED) for code in codes),
                slow=tuple(bool(code & _SLOW) for code in codes),
                calls=calls,
                failures=failures,
                slow_calls=slow_calls,
                failure_rate=failures / calls if calls else 0.0,
                slow_call_rate=slow_calls / calls if calls else 0.0,
                minimum_calls=self._minimum_calls,
                opened_at=self._opened_at,
                cooldown_remaining=self.cooldown_remaining(now),
                half_open_permits_used=used,
                half_open_permits_left=left,
            )

    def reset(self, now: float | None = None) -> None:
        """Back to CLOSED with an empty window and zeroed stats (an operator action)."""
        with self._lock:
            if self._state is not _CLOSED:
                self._transition(_CLOSED, self._time(now), "reset")
            else:
                self._window.clear()
                self._generation += 1
            self._permits_used = self._trials_passed = self._trials_slow = 0
            self._rejected = self._succeeded = self._failed = self._ignored = self._late = 0

    # --------------------------------------------------------------- adapters

    def call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run ``fn(*args, **kwargs)`` through the breaker.

        allow -> run ``fn`` (no lock held) -> record the outcome and how long
        it took (``duration = clock.now() after - clock.now() before``, read
        only when something uses it: slow-call detection or a listener). A
        refused call never reaches ``fn``: it returns the fallback or raises
        :class:`~course_lib.errors.CircuitOpenError`.

        Raises:
            CircuitOpenError: the call was refused and there is no fallback.
            Exception: whatever ``fn`` raised (recorded or ignored first).
        """
        timed = self._slow_call_duration is not None or self._listener is not None
        start = self._clock.now() if timed else None
        try:
            permit = self._acquire(start, True)  # (True: explain a refusal)
        except CircuitOpenError as refusal:
            return cast(R, self._refuse(refusal))
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._after_error(permit, start, exc)
            raise
        if start is None:
            self._record(permit, None, 0, 0.0, "")  # a success, untimed
        else:
            end = self._clock.now()
            self._record(permit, end, self._code(False, end - start), end - start, "")
        return result

    def _end(self, start: float | None) -> tuple[float | None, float]:
        """``(end, duration)`` of a call that began at ``start`` (``(None, 0.0)`` untimed)."""
        if start is None:
            return None, 0.0
        end = self._clock.now()
        return end, end - start

    def _after_error(self, generation: int, start: float | None, exc: BaseException) -> None:
        """Record the error of a call started at ``start`` as a failure, or ignore it."""
        end, duration = self._end(start)
        if self._counts(exc):
            self._record(generation, end, self._code(True, duration), duration, repr(exc))
        else:
            self._record_ignored(generation, end, repr(exc))

    async def call_async(self, fn: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R:
        """Await ``fn(*args, **kwargs)`` through the breaker (see :meth:`call`).

        A refused call returns the fallback (awaited if it returns an
        awaitable) or raises :class:`~course_lib.errors.CircuitOpenError`.
        A cancelled call (``asyncio.CancelledError``) is not an ``Exception``,
        so by default it is ignored and gives its trial permit back.
        """
        timed = self._slow_call_duration is not None or self._listener is not None
        start = self._clock.now() if timed else None
        try:
            permit = self._acquire(start, True)  # (True: explain a refusal)
        except CircuitOpenError as refusal:
            value = self._refuse(refusal)
            if inspect.isawaitable(value):
                value = await value
            return cast(R, value)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._after_error(permit, start, exc)
            raise
        end, duration = self._end(start)
        self._record(permit, end, self._code(False, duration), duration, "")
        return result

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Use the breaker as a decorator: ``@breaker`` on a sync or async function."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def guarded_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await self.call_async(fn, *args, **kwargs)

            return guarded_async

        return functools.wraps(fn)(_Guarded(self.call, fn))

    # ---------------------------------------------------------------- display

    @classmethod
    def to_mermaid(cls) -> str:
        """The state diagram as Mermaid ``stateDiagram-v2`` text, from :data:`TRANSITIONS`."""
        lines = ["stateDiagram-v2", *(f"    {t.to_mermaid()}" for t in TRANSITIONS)]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        with self._lock:
            calls, failures, _ = self._window_counts()
            state = self._state.value
        rate = failures / calls if calls else 0.0
        return (
            f"{type(self).__name__}(name={self._name!r}, state={state}, "
            f"failure_rate={rate:.2f}, window_calls={calls})"
        )
