"""Timeouts and deadlines: never wait indefinitely (the module's notes, §2D).

* :class:`Timeouts` - the per-phase limits of one HTTP call, in **seconds**:
  connect (establish the TCP connection; typically 1-2 s), read (the longest
  gap while waiting for response bytes; typically 2-5 s), write and pool
  (waiting for a free connection). Converts to ``httpx.Timeout`` and to
  the ``(connect, read)`` tuple ``requests`` takes (``requests`` has *no*
  default timeout at all).
* :class:`Deadline` - a time budget for a whole request, propagated to nested
  calls (Google SRE, "Addressing Cascading Failures": A has 30 s and spends 7,
  so B gets 23; B spends 4, so C gets 19). ``with deadline:`` makes it the
  current deadline for everything called inside (``contextvars``, so it
  follows asyncio tasks too); :meth:`Deadline.current` reads it.
* :func:`call_with_timeout` / :func:`call_with_timeout_async` - bound a call
  that has no timeout of its own.

``Deadline`` reads time from an injectable clock, so lessons and tests run on
a :class:`~course_lib.clock.ManualClock` without sleeping.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from course_lib._validate import check_number
from course_lib.clock import DEFAULT_CLOCK, Clock
from course_lib.errors import CallTimeoutError, DeadlineExceeded
from course_lib.events import EventListener, TimeoutExpired

if TYPE_CHECKING:  # pragma: no cover
    import httpx

__all__ = [
    "Deadline",
    "Timeouts",
    "call_with_timeout",
    "call_with_timeout_async",
    "current_deadline",
]

R = TypeVar("R")


def _check_limit(name: str, value: float | None) -> float | None:
    """``None`` (no limit for this phase) or a number of seconds > 0."""
    if value is None:
        return None
    return check_number(name, value, minimum=0.0, min_inclusive=False, max_inclusive=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Per-phase timeouts for one HTTP call, in seconds.

    ``None`` means *no limit* for that phase - which is exactly what this
    lesson warns against, so only ``write`` and ``pool`` default to it (a
    :class:`Deadline` caps them too, see :meth:`Deadline.timeouts`).

    Args:
        connect: Seconds to establish the TCP (and TLS) connection; the module's notes: 1-2 s.
        read: Seconds of silence tolerated while waiting for response bytes
            (httpx: the gap between chunks, not the total); the notes: 2-5 s.
        write: Seconds to send a chunk of the request body, or ``None``.
        pool: Seconds to wait for a free connection from the pool, or ``None``.

    Every phase is keyword-only (``Timeouts(connect=1.0, read=5.0)``) and
    read-only (a frozen dataclass).

    Raises:
        ValueError: a value is not ``None`` or a number > 0.

    Example:
        >>> Timeouts(connect=1.0, read=5.0).to_requests()
        (1.0, 5.0)
    """

    connect: float | None = 1.0
    read: float | None = 5.0
    write: float | None = None
    pool: float | None = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "write", "pool"):
            object.__setattr__(self, name, _check_limit(name, getattr(self, name)))

    def to_httpx(self) -> httpx.Timeout:
        """The same limits as an ``httpx.Timeout`` (pass it as ``timeout=``).

        Raises:
            ImportError: httpx is not installed (``pip install 'module14-fault-tolerance[http]'``).
        """
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx is installed in the course env
            raise ImportError(
                "Timeouts.to_httpx() needs httpx: pip install httpx "
                "(or pip install 'module14-fault-tolerance[http]')"
            ) from exc
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)

    def to_requests(self) -> tuple[float | None, float | None]:
        """``(connect, read)``, the ``timeout=`` tuple ``requests`` understands."""
        return (self.connect, self.read)

    def capped(self, limit: float) -> Timeouts:
        """Every phase at most ``limit`` seconds (``None`` phases become ``limit``)."""
        limit = check_number("limit", limit, minimum=0.0, min_inclusive=False, max_inclusive=False)

        def cap(value: float | None) -> float:
            return limit if value is None else min(value, limit)

        return Timeouts(
            connect=cap(self.connect),
            read=cap(self.read),
            write=cap(self.write),
            pool=cap(self.pool),
        )


_CURRENT: ContextVar[Deadline | None] = ContextVar("course_lib_deadline", default=None)


class Deadline:
    """A time budget that shrinks as time passes, shared by a request's nested calls.

    ``remaining() = max(0, start + budget - now)``. A nested call gets
    ``child(max)`` = a deadline of ``min(remaining(), max)`` seconds, so a
    callee never gets more time than its caller has left.

    Example (Google SRE's chain, on a manual clock):
        >>> from course_lib.clock import ManualClock
        >>> clock = ManualClock()
        >>> a = Deadline(budget=30.0, clock=clock)
        >>> _ = clock.advance(7)             # A spends 7 s
        >>> b = a.child()
        >>> b.remaining()
        23.0
        >>> _ = clock.advance(4)             # B spends 4 s
        >>> b.child().remaining()
        19.0

    ``with deadline:`` makes it the current deadline (see :meth:`current`);
    entering the same ``Deadline`` from several threads at once is not
    supported - give each its own :meth:`child`.

    Args:
        budget: Seconds from now (> 0; 0 makes an already-expired deadline).
        clock: Where the time comes from; default monotonic.
    """

    __slots__ = ("_budget", "_clock", "_expires_at", "_started_at", "_tokens")

    def __init__(self, *, budget: float, clock: Clock | None = None) -> None:
        self._budget = check_number("budget", budget, max_inclusive=False)
        self._clock: Clock = clock if clock is not None else DEFAULT_CLOCK
        self._started_at = self._clock.now()
        self._expires_at = self._started_at + self._budget
        self._tokens: list[contextvars.Token[Deadline | None]] = []

    @property
    def budget(self) -> float:
        """The seconds this deadline was given."""
        return self._budget

    @property
    def started_at(self) -> float:
        """When it was created, on its clock."""
        return self._started_at

    @property
    def expires_at(self) -> float:
        """``started_at + budget``: when no time is left."""
        return self._expires_at

    @property
    def clock(self) -> Clock:
        """The clock this deadline reads."""
        return self._clock

    def remaining(self) -> float:
        """Seconds left: ``max(0, expires_at - now)``."""
        return max(0.0, self.expires_at - self._clock.now())

    def elapsed(self) -> float:
        """Seconds spent since the deadline was created."""
        return self._clock.now() - self.started_at

    @property
    def expired(self) -> bool:
        """``True`` once no time is left."""
        return self._clock.now() >= self.expires_at

    def check(self, what: str = "this call") -> float:
        """Return the seconds left, or raise if none are.

        Raises:
            DeadlineExceeded: the deadline has passed (message says by how much).
        """
        now = self._clock.now()
        left = self.expires_at - now
        if left <= 0:
            raise DeadlineExceeded(
                f"deadline of {self.budget:g} s exceeded {-left:g} s ago; no time left for {what}"
            )
        return left

    def child(self, max: float | None = None) -> Deadline:
        """A deadline for a nested call: ``min(remaining(), max)`` seconds, same clock."""
        budget = self.remaining()
        if max is not None:
            budget = min(budget, check_number("max", max, max_inclusive=False))
        return Deadline(budget=budget, clock=self._clock)

    def timeouts(
        self,
        connect: float | None = 1.0,
        read: float | None = 5.0,
        write: float | None = None,
        pool: float | None = None,
    ) -> Timeouts:
        """:class:`Timeouts` for one call, every phase capped by the time left.

        Raises:
            DeadlineExceeded: no time is left, so there is no point calling.
        """
        left = self.check("an HTTP call")
        return Timeouts(connect=connect, read=read, write=write, pool=pool).capped(left)

    # -- propagation -----------------------------------------------------------------------

    @staticmethod
    def current() -> Deadline | None:
        """The innermost deadline entered with ``with`` in this context, or ``None``."""
        return _CURRENT.get()

    def __enter__(self) -> Deadline:
        self._tokens.append(_CURRENT.set(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _CURRENT.reset(self._tokens.pop())

    def __repr__(self) -> str:
        return f"Deadline(budget={self.budget:g}, remaining={self.remaining():g})"


def current_deadline() -> Deadline | None:
    """The current :class:`Deadline` (``with deadline:``), or ``None``."""
    return _CURRENT.get()


def _effective_timeout(timeout: float, what: str) -> tuple[float, Deadline | None]:
    """``min(timeout, current deadline's remaining)``; the deadline if it is the tighter one."""
    deadline = _CURRENT.get()
    if deadline is None:
        return timeout, None
    left = deadline.check(what)
    if left < timeout:
        return left, deadline
    return timeout, None


def _timed_out(
    what: str,
    limit: float,
    deadline: Deadline | None,
    listener: EventListener | None,
    clock: Clock | None,
    *,
    abandoned: bool,
) -> Exception:
    if listener is not None:
        now = (clock if clock is not None else DEFAULT_CLOCK).now()
        listener(TimeoutExpired(now, what, limit, what))
    fate = (
        "; its worker thread was abandoned (Python cannot kill a thread)"
        if abandoned
        else "; it was cancelled"
    )
    if deadline is not None:
        return DeadlineExceeded(
            f"{what} ran into its deadline ({deadline.budget:g} s budget, "
            f"{limit:g} s were left){fate}"
        )
    return CallTimeoutError(f"{what} did not finish within {limit:g} s{fate}")


def call_with_timeout(
    fn: Callable[..., R],
    timeout: float,
    /,
    *args: Any,
    listener: EventListener | None = None,
    name: str | None = None,
    clock: Clock | None = None,
    **kwargs: Any,
) -> R:
    """Run ``fn(*args, **kwargs)`` on a worker thread and wait at most ``timeout`` seconds.

    If a :class:`Deadline` is current the wait is ``min(timeout, remaining)``.
    The worker sees the caller's context (its current deadline included).

    Python cannot kill a thread: on timeout the worker is *abandoned* (a daemon
    thread that finishes, or not, on its own; its result is dropped). Prefer a
    real timeout in the call itself (an HTTP client's :class:`Timeouts`); use
    this for calls that have none.

    Args:
        fn: The blocking function.
        timeout: Seconds (> 0).
        *args: Passed to ``fn``.
        listener: Receives a :class:`~course_lib.events.TimeoutExpired` event on timeout.
        name: What to call the operation in messages and events; default ``fn``'s name.
        clock: Timestamps for the event (waiting itself is real time).
        **kwargs: Passed to ``fn`` (``listener``, ``name`` and ``clock`` are taken
            by this function: use ``functools.partial`` if ``fn`` needs them).

    Returns:
        ``fn``'s result; its exception is re-raised unchanged.

    Raises:
        CallTimeoutError: ``fn`` did not finish in ``timeout`` seconds.
        DeadlineExceeded: the current deadline ran out first (or had already).
        ValueError: ``timeout`` is not a number > 0.
    """
    limit = check_number("timeout", timeout, minimum=0.0, min_inclusive=False)
    what = name or getattr(fn, "__qualname__", None) or repr(fn)
    limit, deadline = _effective_timeout(limit, what)
    outcome: list[Any] = []  # [True, result] or [False, error]
    done = threading.Event()
    context = contextvars.copy_context()

    def work() -> None:
        try:
            outcome.extend((True, context.run(fn, *args, **kwargs)))
        except BaseException as exc:
            outcome.extend((False, exc))
        finally:
            done.set()

    worker = threading.Thread(target=work, name=f"call_with_timeout:{what}", daemon=True)
    worker.start()
    if not done.wait(None if math.isinf(limit) else limit):
        raise _timed_out(what, limit, deadline, listener, clock, abandoned=True)
    ok, value = outcome
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


async def call_with_timeout_async(
    fn: Callable[..., Awaitable[R]],
    timeout: float,
    /,
    *args: Any,
    listener: EventListener | None = None,
    name: str | None = None,
    clock: Clock | None = None,
    **kwargs: Any,
) -> R:
    """Await ``fn(*args, **kwargs)`` for at most ``timeout`` seconds.

    Unlike a thread, a coroutine *can* be stopped: on timeout it is cancelled.
    If a :class:`Deadline` is current the limit is ``min(timeout, remaining)``.

    Raises:
        CallTimeoutError: the call did not finish in time (it was cancelled).
        DeadlineExceeded: the current deadline ran out first (or had already).
        ValueError: ``timeout`` is not a number > 0.
    """
    limit = check_number("timeout", timeout, minimum=0.0, min_inclusive=False)
    what = name or getattr(fn, "__qualname__", None) or repr(fn)
    limit, deadline = _effective_timeout(limit, what)
    scope = asyncio.timeout(None if math.isinf(limit) else limit)
    try:
        async with scope:
            return await fn(*args, **kwargs)
    except TimeoutError:
        if not scope.expired():  # fn raised a TimeoutError of its own: not ours to rename
            raise
        raise _timed_out(what, limit, deadline, listener, clock, abandoned=False) from None
