"""Bulkheads: bounded, isolated pools so one slow dependency cannot sink the ship.

The module's notes, section 2B.

Named after the partition walls in a ship's hull: each downstream dependency
gets its own bounded share of the caller's resources.

* :class:`SemaphoreBulkhead` - at most ``max_concurrent`` calls at once; the
  next caller waits up to ``max_wait`` seconds for a slot, then is rejected
  with :class:`~course_lib.errors.BulkheadFullError` (resilience4j
  ``SemaphoreBulkhead``: maxConcurrentCalls 25, maxWaitDuration 0 - reject at
  once). Its core, :meth:`~SemaphoreBulkhead.try_acquire` /
  :meth:`~SemaphoreBulkhead.release`, never blocks; blocking, asyncio and
  decorator use are thin layers on top.
* :class:`ThreadPoolBulkhead` - a dedicated pool of ``max_workers`` threads and
  a queue of ``queue_capacity`` waiting calls per dependency (resilience4j
  ``ThreadPoolBulkhead``: queueCapacity 100). If service B hangs it can fill
  only its own pool; pool A keeps serving.

Both take keyword-only settings, read-only afterwards (like every pattern
here), and report :class:`~course_lib.events.BulkheadAcquired`,
:class:`~course_lib.events.BulkheadReleased` and
:class:`~course_lib.events.BulkheadFull` events to an optional ``listener``,
stamped with the injected clock's time. A blocking wait for a slot uses a
``threading.Condition`` (seconds of wall time); an asyncio wait measures its
``max_wait`` on the injected clock and sleeps on the event loop in between.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from course_lib._validate import check_int, check_number
from course_lib.clock import DEFAULT_CLOCK, Clock
from course_lib.errors import BulkheadFullError
from course_lib.events import (
    BulkheadAcquired,
    BulkheadFull,
    BulkheadReleased,
    EventListener,
)

__all__ = ["BulkheadSnapshot", "SemaphoreBulkhead", "ThreadPoolBulkhead"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class BulkheadSnapshot:
    """Occupancy of a bulkhead at one moment.

    Attributes:
        name: The bulkhead's name.
        capacity: Slots (semaphore) or worker threads (thread pool).
        in_use: Busy slots / running calls.
        available: ``capacity - in_use``.
        queued: Calls waiting (for a slot, or in the pool's queue).
        queue_capacity: Room in the queue (0 for a semaphore bulkhead).
    """

    name: str
    capacity: int
    in_use: int
    available: int
    queued: int = 0
    queue_capacity: int = 0


class SemaphoreBulkhead:
    """Limit concurrent calls to one dependency; reject (or briefly wait) when full.

    ``in_use + available == capacity`` always holds. A call that finds every
    slot taken waits at most ``max_wait`` seconds (0: reject at once) and is
    then rejected with ``BulkheadFullError`` - it never queues forever.

    Use it any of these ways::

        if bulkhead.try_acquire():      # sans-I/O core: never blocks
            try: ...
            finally: bulkhead.release()
        with bulkhead: ...              # acquire(), waiting up to max_wait
        bulkhead.call(fn, *args)        # same, around one call
        await bulkhead.call_async(coro_fn, *args)   # waits without blocking the loop
        @bulkhead                       # decorator, sync or async def

    Args:
        max_concurrent: Slots (>= 1); resilience4j's default 25.
        max_wait: Seconds a caller may wait for a slot (>= 0); default 0.
        name: Shown in errors and events.
        listener: Receives ``BulkheadAcquired/Released/Full`` events.
        clock: Timestamps for events, and the clock an asyncio wait measures
            ``max_wait`` on; default monotonic.

    Raises:
        ValueError: a setting is out of range; the message names it.
    """

    def __init__(
        self,
        *,
        max_concurrent: int = 25,
        max_wait: float = 0.0,
        name: str = "bulkhead",
        listener: EventListener | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._capacity = check_int("max_concurrent", max_concurrent, minimum=1)
        self._max_wait = check_number("max_wait", max_wait, max_inclusive=False)
        self._name = _check_name(name)
        self.listener = listener
        self._clock = _check_clock(clock)
        self._in_use = 0
        self._waiting = 0
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # -- settings (read-only) --------------------------------------------------------------

    @property
    def max_concurrent(self) -> int:
        """Slots: at most this many calls at once."""
        return self._capacity

    @property
    def max_wait(self) -> float:
        """Seconds a caller may wait for a slot (0: rejected at once)."""
        return self._max_wait

    @property
    def name(self) -> str:
        """Shown in errors and events."""
        return self._name

    @property
    def clock(self) -> Clock:
        """Timestamps events; an asyncio wait measures ``max_wait`` on it."""
        return self._clock

    @property
    def listener(self) -> EventListener | None:
        """Receives every event, or ``None`` (an observer, not a setting: you may change it)."""
        return self._listener

    @listener.setter
    def listener(self, listener: EventListener | None) -> None:
        self._listener = _check_listener(listener)

    # -- occupancy -------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Total slots (``max_concurrent``)."""
        return self._capacity

    @property
    def in_use(self) -> int:
        """Slots held right now."""
        return self._in_use

    @property
    def available(self) -> int:
        """Free slots: ``capacity - in_use``."""
        return self._capacity - self._in_use

    @property
    def waiting(self) -> int:
        """Callers currently waiting for a slot."""
        return self._waiting

    def snapshot(self) -> BulkheadSnapshot:
        """Occupancy now, as an immutable record."""
        with self._lock:
            return BulkheadSnapshot(
                self.name,
                self._capacity,
                self._in_use,
                self._capacity - self._in_use,
                self._waiting,
            )

    # -- events ----------------------------------------------------------------------------

    def _emit_acquired(self, in_use: int, waiting: int) -> None:
        if self.listener is not None:
            self.listener(
                BulkheadAcquired(self.clock.now(), self.name, in_use, self._capacity, waiting)
            )

    def _reject(self, waited: float, in_use: int, waiting: int) -> BulkheadFullError:
        """Emit ``BulkheadFull`` and build the error (call without holding the lock)."""
        if self.listener is not None:
            event = BulkheadFull(self.clock.now(), self.name, in_use, self._capacity, waiting)
            self.listener(event)
        after = f" after waiting {waited:g} s" if waited > 0 else ""
        return BulkheadFullError(
            f"Bulkhead '{self.name}' is full: all {self._capacity} slots are in use{after}",
            name=self.name,
            capacity=self._capacity,
        )

    # -- sans-I/O core ---------------------------------------------------------------------

    def _take_locked(self) -> bool:
        if self._in_use < self._capacity:
            self._in_use += 1
            return True
        return False

    def try_acquire(self) -> bool:
        """Take a slot if one is free; never waits. ``False`` means rejected (event emitted)."""
        with self._lock:
            took = self._take_locked()
            in_use, waiting = self._in_use, self._waiting
        if took:
            self._emit_acquired(in_use, waiting)
            return True
        self._reject(0.0, in_use, waiting)
        return False

    def release(self) -> None:
        """Give a slot back and wake waiters.

        Raises:
            RuntimeError: more releases than acquisitions.
        """
        with self._lock:
            if self._in_use == 0:
                raise RuntimeError(
                    f"Bulkhead '{self.name}': release() called more times than acquire()"
                )
            self._in_use -= 1
            in_use, waiting = self._in_use, self._waiting
            self._freed.notify()
            # Wake every async waiter; each re-checks, so a waiter that already timed out
            # cannot swallow the wake-up of another.
            waiters, self._async_waiters = self._async_waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that waiter's loop is already closed
                loop.call_soon_threadsafe(_resolve, future)
        if self.listener is not None:
            self.listener(
                BulkheadReleased(self.clock.now(), self.name, in_use, self._capacity, waiting)
            )

    # -- blocking (threads) ----------------------------------------------------------------

    def acquire(self, timeout: float | None = None) -> None:
        """Take a slot, waiting at most ``timeout`` seconds (default ``max_wait``).

        Raises:
            BulkheadFullError: no slot became free in time.
        """
        wait = (
            self.max_wait
            if timeout is None
            else check_number("timeout", timeout, max_inclusive=False)
        )
        with self._lock:
            in_use, waiting = self._in_use, self._waiting
            if self._take_locked():
                in_use += 1
                took = True
            elif wait <= 0:
                took = False
            else:
                self._waiting += 1
                try:
                    took = self._freed.wait_for(lambda: self._in_use < self._capacity, timeout=wait)
                    if took:
                        self._in_use += 1
                finally:
                    self._waiting -= 1
                in_use, waiting = self._in_use, self._waiting
        if not took:
            raise self._reject(wait, in_use, waiting)
        self._emit_acquired(in_use, waiting)

    def __enter__(self) -> SemaphoreBulkhead:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run ``fn(*args, **kwargs)`` holding a slot.

        Raises:
            BulkheadFullError: no slot within ``max_wait`` (``fn`` is not called).
        """
        self.acquire()
        try:
            return fn(*args, **kwargs)
        finally:
            self.release()

    # -- asyncio ---------------------------------------------------------------------------

    async def acquire_async(self, timeout: float | None = None) -> None:
        """Like :meth:`acquire`, but waits on the event loop instead of blocking a thread.

        The wait is measured on the bulkhead's clock: the caller gives up once
        ``clock.now()`` has moved ``timeout`` (default ``max_wait``) seconds
        past its arrival. In between it sleeps on the event loop until a slot
        is released or the remaining seconds have passed, then looks again.
        """
        wait = (
            self._max_wait
            if timeout is None
            else check_number("timeout", timeout, max_inclusive=False)
        )
        loop = asyncio.get_running_loop()
        clock = self._clock
        give_up_at = clock.now() + wait
        counted = False
        try:
            while True:
                with self._lock:
                    took = self._take_locked()
                    in_use, waiting = self._in_use, self._waiting
                    remaining = give_up_at - clock.now()
                    if not took and remaining > 0:
                        if not counted:
                            self._waiting += 1
                            counted = True
                        future: asyncio.Future[None] = loop.create_future()
                        self._async_waiters.append((loop, future))
                if took:
                    break
                if remaining <= 0:
                    raise self._reject(wait, in_use, waiting)
                try:
                    await asyncio.wait_for(future, remaining)
                except TimeoutError:
                    pass  # one last look at the top of the loop, then reject
                finally:
                    with self._lock:
                        if (loop, future) in self._async_waiters:
                            self._async_waiters.remove((loop, future))
        finally:
            if counted:
                with self._lock:
                    self._waiting -= 1
                    waiting = self._waiting
        self._emit_acquired(in_use, waiting)

    async def __aenter__(self) -> SemaphoreBulkhead:
        await self.acquire_async()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    async def call_async(self, fn: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R:
        """Await ``fn(*args, **kwargs)`` holding a slot; waits for one without blocking the loop.

        Raises:
            BulkheadFullError: no slot within ``max_wait`` (``fn`` is not called).
        """
        await self.acquire_async()
        try:
            return await fn(*args, **kwargs)
        finally:
            self.release()

    # -- decorator -------------------------------------------------------------------------

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn`` (sync or ``async def``) so every call holds a slot."""
        if inspect.iscoroutinefunction(fn):
            async_fn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                return await self.call_async(async_fn, *args, **kwargs)

            return cast(Callable[P, R], guarded_async)

        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            return self.call(fn, *args, **kwargs)

        return guarded

    def __repr__(self) -> str:
        return (
            f"SemaphoreBulkhead(name={self.name!r}, in_use={self._in_use}/{self._capacity}, "
            f"max_wait={self.max_wait:g})"
        )


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    return name


def _check_clock(clock: Any) -> Clock:
    if clock is None:
        return DEFAULT_CLOCK
    if not callable(getattr(clock, "now", None)):
        raise ValueError(f"clock must have a now() method returning seconds, got {clock!r}")
    return cast(Clock, clock)


def _check_listener(listener: Any) -> EventListener | None:
    if listener is not None and not callable(listener):
        raise ValueError(f"listener must be callable (e.g. a Trace) or None, got {listener!r}")
    return cast("EventListener | None", listener)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ThreadPoolBulkhead:
    """A dedicated thread pool, with a bounded queue, for one dependency.

    At most ``max_workers`` calls run at once and at most ``queue_capacity``
    more wait in the queue; a call submitted when both are full is rejected at
    once with ``BulkheadFullError``. A hung dependency can therefore tie up
    only its own ``max_workers`` threads - every other pool keeps serving.

    Args:
        max_workers: Threads in the pool (>= 1); the module's example uses 10.
        queue_capacity: Calls that may wait for a thread (>= 0); resilience4j's default 100.
        name: Shown in errors, events and thread names.
        listener: Receives ``BulkheadAcquired`` (a call started running),
            ``BulkheadReleased`` (it finished) and ``BulkheadFull`` (rejected) events.
        clock: Timestamps for events; default monotonic.

    Raises:
        ValueError: a setting is out of range; the message names it.
    """

    def __init__(
        self,
        *,
        max_workers: int = 10,
        queue_capacity: int = 100,
        name: str = "thread-pool-bulkhead",
        listener: EventListener | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._max_workers = check_int("max_workers", max_workers, minimum=1)
        self._queue_capacity = check_int("queue_capacity", queue_capacity, minimum=0)
        self._name = _check_name(name)
        self.listener = listener
        self._clock = _check_clock(clock)
        self._active = 0
        self._queued = 0
        self._lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._max_workers, thread_name_prefix=name
        )

    @property
    def max_workers(self) -> int:
        """Threads in the pool."""
        return self._max_workers

    @property
    def queue_capacity(self) -> int:
        """Calls that may wait for a thread."""
        return self._queue_capacity

    @property
    def name(self) -> str:
        """Shown in errors, events and thread names."""
        return self._name

    @property
    def clock(self) -> Clock:
        """Timestamps events."""
        return self._clock

    @property
    def listener(self) -> EventListener | None:
        """Receives every event, or ``None`` (an observer, not a setting: you may change it)."""
        return self._listener

    @listener.setter
    def listener(self, listener: EventListener | None) -> None:
        self._listener = _check_listener(listener)

    @property
    def capacity(self) -> int:
        """Worker threads (``max_workers``)."""
        return self._max_workers

    @property
    def active(self) -> int:
        """Calls running on a worker right now."""
        return self._active

    @property
    def queued(self) -> int:
        """Calls admitted but not yet running."""
        return self._queued

    def snapshot(self) -> BulkheadSnapshot:
        """Occupancy now, as an immutable record."""
        with self._lock:
            return BulkheadSnapshot(
                self.name,
                self._max_workers,
                self._active,
                self._max_workers - self._active,
                self._queued,
                self.queue_capacity,
            )

    def _emit(
        self,
        kind: type[BulkheadAcquired | BulkheadReleased | BulkheadFull],
        active: int,
        queued: int,
    ) -> None:
        if self.listener is not None:
            self.listener(kind(self.clock.now(), self.name, active, self._max_workers, queued))

    def submit(
        self, fn: Callable[..., R], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[R]:
        """Queue ``fn(*args, **kwargs)`` on this pool.

        Returns:
            A ``concurrent.futures.Future`` with the call's result.

        Raises:
            BulkheadFullError: all workers are busy and the queue is full.
            RuntimeError: the pool was shut down.
        """
        with self._lock:
            if self._active + self._queued >= self._max_workers + self.queue_capacity:
                active, queued = self._active, self._queued
                full = True
            else:
                self._queued += 1
                full = False
        if full:
            self._emit(BulkheadFull, active, queued)
            raise BulkheadFullError(
                f"Bulkhead '{self.name}' is full: all {self._max_workers} workers are busy and "
                f"its queue of {self.queue_capacity} is full",
                name=self.name,
                capacity=self._max_workers,
            )

        started = threading.Event()

        def run() -> R:
            started.set()
            with self._lock:
                self._queued -= 1
                self._active += 1
                active, queued = self._active, self._queued
            self._emit(BulkheadAcquired, active, queued)
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self._active -= 1
                    active, queued = self._active, self._queued
                self._emit(BulkheadReleased, active, queued)

        try:
            future = self._executor.submit(run)
        except BaseException:
            with self._lock:
                self._queued -= 1
            raise

        def forget_if_cancelled(done: concurrent.futures.Future[R]) -> None:
            if done.cancelled() and not started.is_set():
                with self._lock:
                    self._queued -= 1

        future.add_done_callback(forget_if_cancelled)
        return future

    def call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """``submit(fn, ...)`` and wait for the result (re-raising its error)."""
        return self.submit(fn, *args, **kwargs).result()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; with ``wait`` block until running calls finish."""
        self._executor.shutdown(wait=wait, cancel_futures=cancel_futures)

    def __enter__(self) -> ThreadPoolBulkhead:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(wait=True)

    def __repr__(self) -> str:
        return (
            f"ThreadPoolBulkhead(name={self.name!r}, active={self._active}/{self._max_workers}, "
            f"queued={self._queued}/{self.queue_capacity})"
        )
