"""Retry budgets and client-side throttling: limits on how much extra load retries add.

Retries multiply load: three layers that each try four times turn one request
into 64 on the database (Google SRE, "Addressing Cascading Failures"); five
layers of three tries into 243 (Amazon Builders' Library). A *retry budget*
caps the extra load a client may add:

* :class:`TokenBucketBudget` - Amazon's local token-bucket retry throttling:
  every request deposits a fraction of a token (and/or time refills the
  bucket), every retry spends a whole one. Sustained retries can be at most
  ``refill_per_request`` of requests, plus a burst of ``capacity``.
* :class:`RatioBudget` - Google SRE's per-client retry budget: retry only
  while retries in the last ``window`` seconds are fewer than ``ratio`` (10%)
  of the requests in that window.
* :class:`AdaptiveThrottle` - SRE "Handling Overload": reject a request
  *locally* with probability ``max(0, (requests - K*accepts) / (requests + 1))``.

Budgets speak one small protocol (:class:`RetryBudget`) with an optional
``now`` (seconds); when ``now`` is omitted the budget reads its own clock.
``record_request`` is called once per *logical* request (its first attempt),
``try_spend`` once per retry. The retry decorator calls them for you; a
simulation calls them with virtual time.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from typing import Protocol, runtime_checkable

from course_lib._validate import check_fraction, check_number
from course_lib.clock import DEFAULT_CLOCK, Clock

__all__ = ["AdaptiveThrottle", "RatioBudget", "RetryBudget", "TokenBucketBudget"]

# Ten deposits of 0.1 sum to 0.9999999999999999 in floating point; they must still buy a
# whole token, so token comparisons forgive this much rounding.
_EPSILON = 1e-9


@runtime_checkable
class RetryBudget(Protocol):
    """What :func:`course_lib.retry.retry` needs from a budget."""

    def record_request(self, now: float | None = None) -> None:
        """A new logical request started (count its first attempt only)."""
        ...

    def can_retry(self, now: float | None = None) -> bool:
        """Would a retry be allowed now? Spends nothing."""
        ...

    def try_spend(self, now: float | None = None) -> bool:
        """Take permission for one retry; ``False`` means do not retry."""
        ...


class TokenBucketBudget:
    """Local token-bucket retry throttling (Amazon Builders' Library).

    The bucket holds at most ``capacity`` tokens and starts full. Each request
    adds ``refill_per_request`` tokens and each second adds
    ``refill_per_second`` (both capped at ``capacity``); each retry costs
    ``retry_cost`` tokens and is refused when the bucket holds fewer::

        tokens(now) = min(capacity, tokens + refill_per_request * requests
                                           + refill_per_second * elapsed)
        retry allowed  <=>  tokens >= retry_cost

    With the defaults (capacity 10, 0.1 per request, cost 1) a healthy client
    may burst 10 retries, and in a long outage retries settle at 10% of
    requests.

    Args:
        capacity: Tokens the bucket can hold (> 0).
        refill_per_request: Tokens each request deposits (>= 0).
        refill_per_second: Tokens added per second of clock time (>= 0).
        retry_cost: Tokens one retry spends (> 0, at most ``capacity``).
        clock: Where the time comes from when ``now`` is not passed.

    Raises:
        ValueError: a parameter is out of range, or both refills are zero
            (the bucket could never refill).
    """

    __slots__ = (
        "_clock",
        "_last",
        "_lock",
        "_tokens",
        "_capacity",
        "_refill_per_request",
        "_refill_per_second",
        "_retry_cost",
    )

    def __init__(
        self,
        *,
        capacity: float = 10.0,
        refill_per_request: float = 0.1,
        refill_per_second: float = 0.0,
        retry_cost: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self._capacity = check_number(
            "capacity", capacity, minimum=0.0, min_inclusive=False, max_inclusive=False
        )
        self._refill_per_request = check_number(
            "refill_per_request", refill_per_request, max_inclusive=False
        )
        self._refill_per_second = check_number(
            "refill_per_second", refill_per_second, max_inclusive=False
        )
        self._retry_cost = check_number(
            "retry_cost", retry_cost, minimum=0.0, min_inclusive=False, maximum=self.capacity
        )
        if self.refill_per_request == 0.0 and self.refill_per_second == 0.0:
            raise ValueError(
                "refill_per_request and refill_per_second are both 0: the bucket would never "
                "refill; set at least one of them > 0"
            )
        self._clock: Clock = clock if clock is not None else DEFAULT_CLOCK
        self._tokens = self.capacity
        self._last: float | None = None
        self._lock = threading.Lock()

    @property
    def capacity(self) -> float:
        """Tokens the bucket can hold."""
        return self._capacity

    @property
    def refill_per_request(self) -> float:
        """Tokens each request deposits."""
        return self._refill_per_request

    @property
    def refill_per_second(self) -> float:
        """Tokens added per second of clock time."""
        return self._refill_per_second

    @property
    def retry_cost(self) -> float:
        """Tokens one retry spends."""
        return self._retry_cost

    def _refill(self, now: float | None) -> None:
        t = self._clock.now() if now is None else now
        if self._last is not None and t > self._last and self.refill_per_second:
            refill = self.refill_per_second * (t - self._last)
            self._tokens = min(self.capacity, self._tokens + refill)
        if self._last is None or t > self._last:
            self._last = t

    @property
    def tokens(self) -> float:
        """Tokens in the bucket at the last update."""
        return self._tokens

    def record_request(self, now: float | None = None) -> None:
        """Deposit ``refill_per_request`` tokens (capped at ``capacity``)."""
        with self._lock:
            self._refill(now)
            self._tokens = min(self.capacity, self._tokens + self.refill_per_request)

    def can_retry(self, now: float | None = None) -> bool:
        """``tokens >= retry_cost``; spends nothing."""
        with self._lock:
            self._refill(now)
            return self._tokens + _EPSILON >= self.retry_cost

    def try_spend(self, now: float | None = None) -> bool:
        """Spend ``retry_cost`` tokens if the bucket holds that many."""
        with self._lock:
            self._refill(now)
            if self._tokens + _EPSILON >= self.retry_cost:
                self._tokens = max(0.0, self._tokens - self.retry_cost)
                return True
            return False

    def __repr__(self) -> str:
        return (
            f"TokenBucketBudget(capacity={self.capacity:g}, refill_per_request="
            f"{self.refill_per_request:g}, refill_per_second={self.refill_per_second:g}, "
            f"retry_cost={self.retry_cost:g}, tokens={self._tokens:g})"
        )


class _SlidingCounts:
    """Timestamps of events in the last ``window`` seconds (oldest first)."""

    __slots__ = ("_times", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def add(self, now: float) -> None:
        self._times.append(now)

    def count(self, now: float) -> int:
        """Events in ``(now - window, now]``, forgetting older ones."""
        horizon = now - self.window
        times = self._times
        while times and times[0] <= horizon:
            times.popleft()
        return len(times)


class RatioBudget:
    """Google SRE per-client retry budget: retries stay under ``ratio`` of requests.

    Over the last ``window`` seconds::

        retry allowed  <=>  retries < ratio * requests + min_retries_per_second * window

    ``requests`` counts logical requests (first attempts); ``retries`` counts
    the retries this budget allowed. The optional floor
    ``min_retries_per_second`` (as in Finagle's ``RetryBudget``) lets a client
    with very little traffic still retry now and then.

    Args:
        ratio: Largest share of retries, in (0, 1]; SRE uses 0.1 (10%).
        window: Seconds of history considered (> 0); SRE uses 2 minutes.
        min_retries_per_second: Retries always allowed per second (>= 0).
        clock: Where the time comes from when ``now`` is not passed.
    """

    __slots__ = (
        "_clock",
        "_lock",
        "_requests",
        "_retries",
        "_min_retries_per_second",
        "_ratio",
        "_window",
    )

    def __init__(
        self,
        *,
        ratio: float = 0.1,
        window: float = 120.0,
        min_retries_per_second: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        self._ratio = check_fraction("ratio", ratio)
        self._window = check_number(
            "window", window, minimum=0.0, min_inclusive=False, max_inclusive=False
        )
        self._min_retries_per_second = check_number(
            "min_retries_per_second", min_retries_per_second, max_inclusive=False
        )
        self._clock: Clock = clock if clock is not None else DEFAULT_CLOCK
        self._requests = _SlidingCounts(self.window)
        self._retries = _SlidingCounts(self.window)
        self._lock = threading.Lock()

    @property
    def ratio(self) -> float:
        """Largest share of retries."""
        return self._ratio

    @property
    def window(self) -> float:
        """Seconds of history considered."""
        return self._window

    @property
    def min_retries_per_second(self) -> float:
        """Retries always allowed per second."""
        return self._min_retries_per_second

    def _now(self, now: float | None) -> float:
        return self._clock.now() if now is None else now

    def counts(self, now: float | None = None) -> tuple[int, int]:
        """``(requests, retries)`` in the current window."""
        with self._lock:
            t = self._now(now)
            return self._requests.count(t), self._retries.count(t)

    def record_request(self, now: float | None = None) -> None:
        """Count one logical request."""
        with self._lock:
            self._requests.add(self._now(now))

    def _allowed(self, t: float) -> bool:
        limit = self.ratio * self._requests.count(t) + self.min_retries_per_second * self.window
        return self._retries.count(t) < limit

    def can_retry(self, now: float | None = None) -> bool:
        """``retries < ratio * requests (+ floor)`` over the window; spends nothing."""
        with self._lock:
            return self._allowed(self._now(now))

    def try_spend(self, now: float | None = None) -> bool:
        """Count one retry if the budget allows it."""
        with self._lock:
            t = self._now(now)
            if self._allowed(t):
                self._retries.add(t)
                return True
            return False

    def __repr__(self) -> str:
        return (
            f"RatioBudget(ratio={self.ratio:g}, window={self.window:g}, "
            f"min_retries_per_second={self.min_retries_per_second:g})"
        )


class AdaptiveThrottle:
    """Client-side adaptive throttling (Google SRE, "Handling Overload").

    The client remembers, over the last ``window`` seconds, how many requests
    it attempted and how many the backend accepted, and rejects a new request
    locally - without sending it - with probability::

        p_reject = max(0, (requests - k * accepts) / (requests + 1))

    While the backend accepts everything ``p_reject`` is 0; once it rejects
    more than ``1 - 1/k`` of requests the client starts shedding load itself.
    ``k = 2`` is typical (lower is more aggressive).

    Call :meth:`allow` before each request; if it says yes, send it and call
    :meth:`record_accept` when the backend accepted it. :meth:`allow` counts
    the request either way (locally rejected requests count too, as in SRE).

    Args:
        k: The multiplier ``K`` (>= 1).
        window: Seconds of history (> 0); SRE uses 2 minutes.
        clock: Where the time comes from when ``now`` is not passed.
        rng: Randomness for the rejection draw (seed it for reproducible runs).
    """

    __slots__ = ("_accepts", "_clock", "_k", "_lock", "_requests", "_rng", "_window")

    def __init__(
        self,
        *,
        k: float = 2.0,
        window: float = 120.0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._k = check_number("k", k, minimum=1.0, max_inclusive=False)
        self._window = check_number(
            "window", window, minimum=0.0, min_inclusive=False, max_inclusive=False
        )
        self._clock: Clock = clock if clock is not None else DEFAULT_CLOCK
        self._rng = rng if rng is not None else random.Random()
        self._requests = _SlidingCounts(self.window)
        self._accepts = _SlidingCounts(self.window)
        self._lock = threading.Lock()

    @property
    def k(self) -> float:
        """The multiplier ``K``."""
        return self._k

    @property
    def window(self) -> float:
        """Seconds of history."""
        return self._window

    def _now(self, now: float | None) -> float:
        return self._clock.now() if now is None else now

    def rejection_probability(self, now: float | None = None) -> float:
        """``max(0, (requests - k * accepts) / (requests + 1))`` over the window."""
        with self._lock:
            t = self._now(now)
            return self._probability(t)

    def _probability(self, t: float) -> float:
        requests = self._requests.count(t)
        accepts = self._accepts.count(t)
        return max(0.0, (requests - self.k * accepts) / (requests + 1))

    def allow(self, now: float | None = None) -> bool:
        """Count a request and decide whether to send it (``False``: reject locally)."""
        with self._lock:
            t = self._now(now)
            p = self._probability(t)
            self._requests.add(t)
            return not (p > 0.0 and self._rng.random() < p)

    def record_accept(self, now: float | None = None) -> None:
        """The backend accepted a request (it did not reject it for overload)."""
        with self._lock:
            self._accepts.add(self._now(now))

    def __repr__(self) -> str:
        return f"AdaptiveThrottle(k={self.k:g}, window={self.window:g})"
