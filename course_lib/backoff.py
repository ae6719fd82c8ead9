"""Backoff schedules: how long to wait before retry number ``n``.

Each strategy is a tiny object with one method,
``delay(attempt, rng, previous=None) -> float``, following Marc Brooker,
"Exponential Backoff And Jitter" (AWS Architecture Blog, 2015). ``attempt`` is
the number of failures so far (``n >= 1``): after the first failure
``attempt == 1``. Randomness comes from the ``random.Random`` you pass in, so a
seeded generator gives the same schedule every run.

All times are in **seconds** (the module's TypeScript uses milliseconds: its
``base`` of 100 ms is ``0.1`` here and its ``cap`` of 3000 ms is ``3.0``).

Formulas (``t(n) = min(cap, base * 2**n)`` is the capped exponential):

============================  =====================================================
:class:`NoJitter`             ``t(n)``
:class:`FullJitter`           ``uniform(0, t(n))``
:class:`EqualJitter`          ``t(n)/2 + uniform(0, t(n)/2)``
:class:`DecorrelatedJitter`   ``min(cap, uniform(base, 3 * previous))``, previous starts at base
============================  =====================================================

Every strategy takes keyword-only, read-only settings: ``FullJitter(base=0.1, cap=3.0)``.

Note the module's convention: the exponent is the failure count, so the *first*
retry already waits up to ``base * 2`` (0.2 s with the defaults), not ``base``.
"""

from __future__ import annotations

import math
import random
from typing import Protocol, runtime_checkable

from course_lib._validate import check_int, check_number

__all__ = [
    "Backoff",
    "DecorrelatedJitter",
    "EqualJitter",
    "FullJitter",
    "NoJitter",
    "capped_exponential",
    "sample_delays",
]

# 2.0 ** 1024 overflows a float; any exponent this large is far past every cap.
_MAX_EXPONENT = 1000


@runtime_checkable
class Backoff(Protocol):
    """A backoff strategy: the delay before the retry that follows failure ``attempt``."""

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """Seconds to wait after failure number ``attempt`` (>= 1)."""
        ...

    def bound(self, attempt: int) -> float:
        """The largest delay :meth:`delay` can return for ``attempt``."""
        ...


def capped_exponential(base: float, cap: float, attempt: int) -> float:
    """``min(cap, base * 2**attempt)`` without overflowing for huge ``attempt``.

    Example:
        >>> capped_exponential(0.1, 3.0, 1), capped_exponential(0.1, 3.0, 5)
        (0.2, 3.0)
    """
    if attempt >= _MAX_EXPONENT:
        return cap
    return min(cap, base * 2.0**attempt)


def _check_attempt(attempt: int) -> None:
    # A bare isinstance/compare is cheaper than check_int on the retry path.
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        check_int("attempt", attempt, minimum=1)


class _Exponential:
    """Shared config of the strategies built on ``t(n) = min(cap, base * 2**n)``."""

    __slots__ = ("_base", "_cap")

    def __init__(self, *, base: float = 0.1, cap: float = 3.0) -> None:
        self._base = check_number(
            "base", base, minimum=0.0, min_inclusive=False, maximum=math.inf, max_inclusive=False
        )
        self._cap = check_number(
            "cap", cap, minimum=self._base, maximum=math.inf, max_inclusive=False
        )

    @property
    def base(self) -> float:
        """Seconds; the exponential's scale."""
        return self._base

    @property
    def cap(self) -> float:
        """Seconds; no delay is longer."""
        return self._cap

    def bound(self, attempt: int) -> float:
        """The largest delay after failure ``attempt``: ``min(cap, base * 2**attempt)``."""
        _check_attempt(attempt)
        return capped_exponential(self._base, self._cap, attempt)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base={self._base!r}, cap={self._cap!r})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, _Exponential)
            and (self._base, self._cap) == (other.base, other.cap)
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._base, self._cap))


class NoJitter(_Exponential):
    """Capped exponential backoff with no randomness: ``min(cap, base * 2**n)``.

    Every client that failed together retries together, so the retries arrive
    in synchronised waves. Brooker's simulation shows it is the clear loser on
    both total work and completion time; it is here for comparison.

    Args:
        base: Seconds; the exponential's scale (> 0).
        cap: Seconds; no delay is longer (>= base).
    """

    __slots__ = ()

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """``min(cap, base * 2**attempt)``; ``rng`` and ``previous`` are unused."""
        _check_attempt(attempt)
        return capped_exponential(self._base, self._cap, attempt)


class FullJitter(_Exponential):
    """Full jitter: ``uniform(0, min(cap, base * 2**n))`` (the module's algorithm).

    The whole window is random, which spreads retries out the most; in
    Brooker's simulation it does the least work. With the defaults (0.1 s, 3 s)
    the first retry waits in [0, 0.2) s, the second in [0, 0.4) s, the fifth
    and later in [0, 3) s. tenacity's ``wait_random_exponential`` is the same.

    Args:
        base: Seconds (> 0); the module's ``baseDelayMs = 100`` is ``0.1``.
        cap: Seconds (>= base); the module's ``maxDelayMs = 3000`` is ``3.0``.
    """

    __slots__ = ()

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """``rng.random() * min(cap, base * 2**attempt)``; ``previous`` is unused."""
        _check_attempt(attempt)
        return rng.random() * capped_exponential(self._base, self._cap, attempt)


class EqualJitter(_Exponential):
    """Equal jitter: keep half the window, randomise the other half.

    ``t = min(cap, base * 2**n)``; ``delay = t/2 + uniform(0, t/2)``. It never
    retries very early, but Brooker found it does slightly more work than full
    jitter and takes much longer.

    Args:
        base: Seconds (> 0).
        cap: Seconds (>= base).
    """

    __slots__ = ()

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """``t/2 + rng.random() * t/2`` with ``t = min(cap, base * 2**attempt)``."""
        _check_attempt(attempt)
        half = capped_exponential(self._base, self._cap, attempt) / 2.0
        return half + rng.random() * half


class DecorrelatedJitter(_Exponential):
    """Decorrelated jitter: each delay grows from the previous one, not from ``n``.

    ``delay = min(cap, uniform(base, 3 * previous))`` where ``previous`` is the
    last delay actually used, starting at ``base``. Pass the previous delay in
    (the retry loop does); without it the schedule restarts from ``base``.

    Args:
        base: Seconds (> 0); the shortest delay.
        cap: Seconds (>= base).
    """

    __slots__ = ()

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """``min(cap, base + rng.random() * (3*previous - base))``; previous defaults to base."""
        _check_attempt(attempt)
        prev = self._base if previous is None else max(self._base, float(previous))
        return min(self._cap, self._base + rng.random() * (3.0 * prev - self._base))

    def bound(self, attempt: int) -> float:
        """The worst case when every draw hits the top: ``min(cap, base * 3**attempt)``."""
        _check_attempt(attempt)
        if attempt >= _MAX_EXPONENT:
            return self._cap
        return min(self._cap, self._base * 3.0**attempt)


def sample_delays(backoff: Backoff, retries: int, rng: random.Random) -> list[float]:
    """Draw the delays before retries 1..``retries``, threading ``previous`` through.

    Handy for plots and lessons.

    Example:
        >>> sample_delays(NoJitter(base=0.1, cap=3.0), 3, random.Random(0))
        [0.2, 0.4, 0.8]
    """
    check_int("retries", retries, minimum=0)
    delays: list[float] = []
    previous: float | None = None
    for attempt in range(1, retries + 1):
        previous = backoff.delay(attempt, rng, previous)
        delays.append(previous)
    return delays
