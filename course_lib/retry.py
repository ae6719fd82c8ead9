"""Retries with exponential backoff and jitter (the module's notes, section 2C).

Three layers, from plain logic to a decorator:

* :class:`RetryPolicy` - the sans-I/O core. Told which attempt failed with
  which error (and, for a budget, the time), it answers "retry after ``d``
  seconds" or "give up, because ...". It never sleeps and reads no clock (a
  budget told no ``now`` reads its own), so a simulation drives it on virtual
  time.
* :class:`Retrying` - runs a function under a policy on real threads or on
  asyncio, sleeping with an injectable ``sleep`` and reporting
  :class:`~course_lib.events.RetryScheduled` / :class:`~course_lib.events.RetryGaveUp`
  events to an optional ``listener``.
* :func:`retry` - the decorator factory, with the module's defaults: 3 attempts,
  full jitter with base 0.1 s and cap 3.0 s (the module's 100 ms and 3000 ms;
  every time here is in **seconds**).

After failure number ``n`` the default wait is
``uniform(0, min(cap, base * 2**n))`` - so the first retry already waits up to
``base * 2`` = 0.2 s, not ``base``. After the last attempt the decorator raises
``RetryError("Operation failed after N attempts: <last error>")`` with the last
error chained as ``__cause__``; an error that is not retryable propagates
unchanged at once.

Example:
    >>> import random
    >>> sleeps = []
    >>> @retry(attempts=3, sleep=sleeps.append, rng=random.Random(7))
    ... def flaky():
    ...     raise ConnectionError("boom")
    >>> try:
    ...     flaky()
    ... except RetryError as e:
    ...     print(e, "|", type(e.__cause__).__name__, "|", len(sleeps))
    Operation failed after 3 attempts: boom | ConnectionError | 2
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast, overload

from course_lib._validate import check_int
from course_lib.backoff import Backoff, FullJitter
from course_lib.budget import RetryBudget
from course_lib.clock import DEFAULT_CLOCK, Clock
from course_lib.errors import RetryError
from course_lib.events import EventListener, RetryGaveUp, RetryScheduled
from course_lib.timeouts import current_deadline

__all__ = [
    "BUDGET",
    "DEADLINE",
    "EXHAUSTED",
    "NOT_RETRYABLE",
    "RetryDecision",
    "RetryOn",
    "RetryPolicy",
    "Retrying",
    "failure_message",
    "retry",
]

P = ParamSpec("P")
R = TypeVar("R")

RetryOn = type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
"""Which errors are worth retrying: exception type(s), or a predicate ``error -> bool``."""

EXHAUSTED = "exhausted"
"""Give-up reason: every attempt was used."""
NOT_RETRYABLE = "not retryable"
"""Give-up reason: ``retry_on`` says this error is not worth retrying."""
BUDGET = "budget"
"""Give-up reason: the retry budget refused another retry."""
DEADLINE = "deadline"
"""Give-up reason: the wait before the next attempt would use up the time left."""


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after a failed attempt.

    Attributes:
        retry: ``True`` to try again after ``delay`` seconds.
        delay: Seconds to wait before the next attempt (0 when giving up).
        reason: Why we give up (:data:`EXHAUSTED`, :data:`NOT_RETRYABLE`,
            :data:`DEADLINE`, :data:`BUDGET`); empty when retrying.
    """

    retry: bool
    delay: float = 0.0
    reason: str = ""


def _plural(n: int) -> str:
    return "attempt" if n == 1 else "attempts"


def failure_message(attempts: int, error: BaseException, reason: str = EXHAUSTED) -> str:
    """The ``RetryError`` message: ``"Operation failed after N attempts: <error>"``.

    When a budget refused the retry, the message says so.
    """
    message = f"Operation failed after {attempts} {_plural(attempts)}: {error}"
    if reason == BUDGET:
        message += " (not retried: the retry budget said no)"
    elif reason == DEADLINE:
        message += " (not retried: the next wait would pass the deadline)"
    return message


class RetryPolicy:
    """The sans-I/O retry logic: after failure ``attempt``, retry after how long?

    Drive it yourself (this is what a simulation does)::

        policy.start(now)                        # once per logical request
        ...attempt 1 fails with error e at time now...
        delay = policy.next_delay(1, e, now=now)  # None: give up
        ...attempt 2 starts at now + delay; if it fails:
        delay = policy.next_delay(2, e2, previous=delay, now=now2)

    Pass ``time_left`` (seconds of the request's deadline) to give up rather
    than wait past it.

    Args:
        attempts: Total tries including the first (>= 1); the module's 3.
        base: Seconds; backoff scale for the default :class:`FullJitter` (the module's 100 ms).
        cap: Seconds; longest default backoff (the module's 3000 ms).
        backoff: Any :class:`~course_lib.backoff.Backoff`; overrides ``base``/``cap``.
        retry_on: Exception type(s) worth retrying, or a predicate ``error -> bool``.
        rng: Randomness for the jitter; pass a seeded ``random.Random`` to reproduce a run.
        budget: Optional :class:`~course_lib.budget.RetryBudget` consulted before each retry.

    Raises:
        ValueError: a parameter is out of range or of the wrong kind.
    """

    __slots__ = ("_attempts", "_backoff", "_budget", "_predicate", "_rng", "_types")

    def __init__(
        self,
        *,
        attempts: int = 3,
        base: float = 0.1,
        cap: float = 3.0,
        backoff: Backoff | None = None,
        retry_on: RetryOn = (Exception,),
        rng: random.Random | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        self._attempts = check_int("attempts", attempts, minimum=1)
        if backoff is None:
            backoff = FullJitter(base=base, cap=cap)
        elif not callable(getattr(backoff, "delay", None)):
            raise ValueError(
                f"backoff must have a delay(attempt, rng, previous) method "
                f"(e.g. FullJitter(base=0.1, cap=3.0)), got {backoff!r}"
            )
        self._backoff: Backoff = backoff
        self._types, self._predicate = _parse_retry_on(retry_on)
        if rng is not None and not isinstance(rng, random.Random):
            raise ValueError(f"rng must be a random.Random (e.g. random.Random(42)), got {rng!r}")
        self._rng = rng if rng is not None else random.Random()
        if budget is not None and not (
            callable(getattr(budget, "try_spend", None))
            and callable(getattr(budget, "record_request", None))
        ):
            raise ValueError(
                f"budget must have record_request(now) and try_spend(now) methods "
                f"(e.g. RatioBudget()), got {budget!r}"
            )
        self._budget = budget

    @property
    def attempts(self) -> int:
        """Total tries including the first."""
        return self._attempts

    @property
    def backoff(self) -> Backoff:
        """The schedule of waits between attempts."""
        return self._backoff

    @property
    def rng(self) -> random.Random:
        """The randomness the jitter draws from."""
        return self._rng

    @property
    def budget(self) -> RetryBudget | None:
        """The retry budget consulted before each retry, if any."""
        return self._budget

    def is_retryable(self, error: BaseException) -> bool:
        """Does ``retry_on`` say ``error`` is worth another try?"""
        if self._predicate is not None:
            return bool(self._predicate(error))
        return isinstance(error, self._types)

    def start(self, now: float | None = None) -> None:
        """A new logical request begins: count it in the budget, if any."""
        if self._budget is not None:
            self._budget.record_request(now)

    def decide(
        self,
        attempt: int,
        error: BaseException,
        *,
        previous: float | None = None,
        now: float | None = None,
        time_left: float | None = None,
    ) -> RetryDecision:
        """Decide what follows failure number ``attempt`` (>= 1) with ``error``.

        Checks, in order: is the error retryable; is an attempt left
        (``attempt < attempts``); then draws the delay from the backoff,
        ``backoff.delay(attempt, rng, previous)``; gives up if
        ``delay >= time_left``; finally asks the budget (which spends from it).

        Args:
            attempt: Failures so far, counting this one.
            error: The error the attempt raised.
            previous: The delay used before this attempt (for decorrelated jitter).
            now: Seconds, passed to the budget (``None``: the budget's own clock).
            time_left: Seconds left on the request's deadline, if it has one.
        """
        if not self.is_retryable(error):
            return RetryDecision(False, reason=NOT_RETRYABLE)
        if attempt >= self._attempts:
            return RetryDecision(False, reason=EXHAUSTED)
        delay = self._backoff.delay(attempt, self._rng, previous)
        if time_left is not None and delay >= time_left:
            return RetryDecision(False, reason=DEADLINE)
        if self._budget is not None and not self._budget.try_spend(now):
            return RetryDecision(False, reason=BUDGET)
        return RetryDecision(True, delay)

    def next_delay(
        self,
        attempt: int,
        error: BaseException,
        *,
        previous: float | None = None,
        now: float | None = None,
        time_left: float | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up (see :meth:`decide`)."""
        decision = self.decide(attempt, error, previous=previous, now=now, time_left=time_left)
        return decision.delay if decision.retry else None

    def __repr__(self) -> str:
        retry_on = self._predicate if self._predicate is not None else self._types
        return (
            f"RetryPolicy(attempts={self.attempts}, backoff={self.backoff!r}, "
            f"retry_on={retry_on!r}, budget={self.budget!r})"
        )


def _parse_retry_on(
    retry_on: RetryOn,
) -> tuple[tuple[type[BaseException], ...], Callable[[BaseException], bool] | None]:
    if isinstance(retry_on, type):
        if issubclass(retry_on, BaseException):
            return (retry_on,), None
    elif isinstance(retry_on, tuple):
        if retry_on and all(isinstance(t, type) and issubclass(t, BaseException) for t in retry_on):
            return retry_on, None
    elif callable(retry_on):
        return (), retry_on
    raise ValueError(
        "retry_on must be an exception type, a non-empty tuple of exception types, or a "
        f"predicate error -> bool, got {retry_on!r}"
    )


class Retrying:
    """Run functions under a :class:`RetryPolicy`, sleeping between attempts.

    Use it as a decorator (``@Retrying(...)`` or, shorter, ``@retry(...)``) on
    sync or ``async def`` functions, or call :meth:`call` / :meth:`call_async`.
    The success path costs one ``try`` and a budget check: nothing is
    allocated until an attempt fails.

    Args:
        attempts, base, cap, backoff, retry_on, rng, budget: see :class:`RetryPolicy`.
        sleep: ``sleep(seconds)`` between attempts; default ``time.sleep``, or
            ``asyncio.sleep`` for coroutine functions. For async functions it may
            return an awaitable. Inject ``list.append`` in tests to record sleeps.
        listener: Receives :class:`RetryScheduled` and :class:`RetryGaveUp` events.
        name: The events' ``source``; default the function's qualified name.
        clock: Timestamps for the events; default monotonic. (A budget reads its own clock.)

    If a :class:`~course_lib.timeouts.Deadline` is current (``with deadline:``),
    a wait that would reach past it is not started: the call gives up with
    ``RetryError`` (reason :data:`DEADLINE`).
    """

    __slots__ = ("_clock", "_listener", "_name", "_policy", "_sleep")

    def __init__(
        self,
        *,
        attempts: int = 3,
        base: float = 0.1,
        cap: float = 3.0,
        backoff: Backoff | None = None,
        retry_on: RetryOn = (Exception,),
        sleep: Callable[[float], Any] | None = None,
        rng: random.Random | None = None,
        budget: RetryBudget | None = None,
        listener: EventListener | None = None,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._policy = RetryPolicy(
            attempts=attempts,
            base=base,
            cap=cap,
            backoff=backoff,
            retry_on=retry_on,
            rng=rng,
            budget=budget,
        )
        if sleep is not None and not callable(sleep):
            raise ValueError(f"sleep must be a callable sleep(seconds), got {sleep!r}")
        if listener is not None and not callable(listener):
            raise ValueError(f"listener must be a callable listener(event), got {listener!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string or None, got {name!r}")
        if clock is not None and not callable(getattr(clock, "now", None)):
            raise ValueError(f"clock must have a now() method returning seconds, got {clock!r}")
        self._sleep = sleep
        self._listener = listener
        self._name = name
        self._clock: Clock = clock if clock is not None else DEFAULT_CLOCK

    @property
    def policy(self) -> RetryPolicy:
        """The :class:`RetryPolicy` that decides every retry."""
        return self._policy

    @property
    def sleep(self) -> Callable[[float], Any] | None:
        """How to wait between attempts (``None``: ``time.sleep`` / ``asyncio.sleep``)."""
        return self._sleep

    @property
    def listener(self) -> EventListener | None:
        """Receives ``RetryScheduled`` / ``RetryGaveUp`` events, or ``None``."""
        return self._listener

    @property
    def name(self) -> str | None:
        """The events' ``source``; ``None``: the function's qualified name."""
        return self._name

    @property
    def clock(self) -> Clock:
        """Timestamps for the events (a budget reads its own clock)."""
        return self._clock

    # -- shared bookkeeping (only on the failure path) ------------------------------------

    def _label(self, fn: Callable[..., Any]) -> str:
        return self.name or getattr(fn, "__qualname__", None) or repr(fn)

    def _next(
        self, label: str, attempt: int, error: BaseException, previous: float | None
    ) -> float:
        """Decide after a retryable failure: return the delay, or raise ``RetryError``."""
        deadline = current_deadline()
        time_left = None if deadline is None else deadline.remaining()
        decision = self.policy.decide(attempt, error, previous=previous, time_left=time_left)
        now = self.clock.now()
        listener = self.listener
        if not decision.retry:
            if listener is not None:
                listener(RetryGaveUp(now, label, attempt, repr(error), decision.reason))
            raise RetryError(
                failure_message(attempt, error, decision.reason),
                attempts=attempt,
                last_error=error,
            ) from error
        if listener is not None:
            listener(RetryScheduled(now, label, attempt, decision.delay, repr(error)))
        return decision.delay

    def _not_retryable(self, label: str, attempt: int, error: BaseException) -> None:
        # Cancellation, KeyboardInterrupt and SystemExit are not failures: no event for them.
        if self.listener is not None and isinstance(error, Exception):
            self.listener(RetryGaveUp(self.clock.now(), label, attempt, repr(error), NOT_RETRYABLE))

    # -- sync ------------------------------------------------------------------------------

    def _retry_sync(
        self,
        fn: Callable[..., R],
        label: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        error: BaseException,
    ) -> R:
        sleep: Callable[[float], Any] = self.sleep if self.sleep is not None else time.sleep
        is_retryable = self.policy.is_retryable
        attempt = 1
        previous: float | None = None
        while True:
            previous = self._next(label, attempt, error, previous)
            sleep(previous)
            attempt += 1
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                if not is_retryable(exc):
                    self._not_retryable(label, attempt, exc)
                    raise
                error = exc

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        label = self._label(fn)
        budget = self.policy.budget
        is_retryable = self.policy.is_retryable
        retry_rest = self._retry_sync

        @functools.wraps(fn)
        def retrying(*args: P.args, **kwargs: P.kwargs) -> R:
            if budget is not None:
                budget.record_request()
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                if not is_retryable(exc):
                    self._not_retryable(label, 1, exc)
                    raise
                error = exc
            return retry_rest(fn, label, args, kwargs, error)

        return retrying

    def call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Call ``fn(*args, **kwargs)`` with retries; returns its result.

        Raises:
            RetryError: every attempt failed (or the budget refused a retry).
            BaseException: the first error ``retry_on`` does not cover, unchanged.
        """
        return self._wrap_sync(fn)(*args, **kwargs)

    # -- async -----------------------------------------------------------------------------

    async def _retry_async(
        self,
        fn: Callable[..., Awaitable[R]],
        label: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        error: BaseException,
    ) -> R:
        sleep: Callable[[float], Any] = self.sleep if self.sleep is not None else asyncio.sleep
        is_retryable = self.policy.is_retryable
        attempt = 1
        previous: float | None = None
        while True:
            previous = self._next(label, attempt, error, previous)
            slept = sleep(previous)
            if inspect.isawaitable(slept):
                await slept
            attempt += 1
            try:
                return await fn(*args, **kwargs)
            except BaseException as exc:
                if not is_retryable(exc):
                    self._not_retryable(label, attempt, exc)
                    raise
                error = exc

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        label = self._label(fn)
        budget = self.policy.budget
        is_retryable = self.policy.is_retryable
        retry_rest = self._retry_async

        @functools.wraps(fn)
        async def retrying(*args: P.args, **kwargs: P.kwargs) -> R:
            if budget is not None:
                budget.record_request()
            try:
                return await fn(*args, **kwargs)
            except BaseException as exc:
                if not is_retryable(exc):
                    self._not_retryable(label, 1, exc)
                    raise
                error = exc
            return await retry_rest(fn, label, args, kwargs, error)

        return retrying

    async def call_async(self, fn: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R:
        """Await ``fn(*args, **kwargs)`` with retries, sleeping with ``asyncio.sleep``.

        Raises:
            RetryError: every attempt failed (or the budget refused a retry).
            BaseException: the first error ``retry_on`` does not cover, unchanged.
        """
        return await self._wrap_async(fn)(*args, **kwargs)

    # -- decorator -------------------------------------------------------------------------

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn`` (sync or ``async def``) so each call is retried."""
        if not callable(fn):
            raise ValueError(f"retry decorates a function, got {fn!r}")
        if inspect.iscoroutinefunction(fn):
            return cast(Callable[P, R], self._wrap_async(fn))
        return self._wrap_sync(fn)

    def __repr__(self) -> str:
        return f"Retrying({self.policy!r}, name={self.name!r})"


@overload
def retry(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def retry(
    *,
    attempts: int = 3,
    base: float = 0.1,
    cap: float = 3.0,
    backoff: Backoff | None = None,
    retry_on: RetryOn = (Exception,),
    sleep: Callable[[float], Any] | None = None,
    rng: random.Random | None = None,
    budget: RetryBudget | None = None,
    listener: EventListener | None = None,
    name: str | None = None,
    clock: Clock | None = None,
) -> Retrying: ...
def retry(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    attempts: int = 3,
    base: float = 0.1,
    cap: float = 3.0,
    backoff: Backoff | None = None,
    retry_on: RetryOn = (Exception,),
    sleep: Callable[[float], Any] | None = None,
    rng: random.Random | None = None,
    budget: RetryBudget | None = None,
    listener: EventListener | None = None,
    name: str | None = None,
    clock: Clock | None = None,
) -> Any:
    """Decorator factory: retry a sync or async function with backoff and jitter.

    Defaults are the module's: 3 attempts, full jitter, base 0.1 s, cap 3.0 s.
    ``@retry`` without parentheses uses them too. Settings are keyword-only.

    Args:
        fn: Only for ``@retry`` without parentheses: the function to decorate.
        attempts: Total tries including the first (>= 1).
        base: Seconds; the exponential's scale (> 0).
        cap: Seconds; the longest wait (>= base).
        backoff: A strategy from :mod:`course_lib.backoff`; default
            ``FullJitter(base=base, cap=cap)``.
        retry_on: Exception type(s) worth retrying, or a predicate ``error -> bool``.
        sleep: How to wait; default ``time.sleep`` / ``asyncio.sleep``.
        rng: ``random.Random`` for the jitter (seed it to reproduce a run).
        budget: A retry budget; when it says no, give up at once.
        listener: Receives ``RetryScheduled`` / ``RetryGaveUp`` events.
        name: Source name for events; default the function's qualified name.
        clock: Timestamps for the events (a budget reads its own clock: give it
            the same one).

    Returns:
        A :class:`Retrying`, which decorates functions.

    Example:
        >>> @retry(attempts=5, retry_on=ConnectionError)
        ... def fetch() -> str:
        ...     return "ok"
        >>> fetch()
        'ok'
    """
    if fn is not None:
        return Retrying()(fn)
    return Retrying(
        attempts=attempts,
        base=base,
        cap=cap,
        backoff=backoff,
        retry_on=retry_on,
        sleep=sleep,
        rng=rng,
        budget=budget,
        listener=listener,
        name=name,
        clock=clock,
    )
