"""Latency distributions: how long a service takes to do its own work.

Each distribution is a tiny object with one method, ``sample(rng) -> float``
(seconds, never negative), drawing from the simulation's seeded
``random.Random`` so a run is reproducible. ``mean`` is the expected value,
handy for back-of-the-envelope capacity checks (Little's law: busy workers =
arrival rate x mean latency).
"""

from __future__ import annotations

import math
import random
from typing import Protocol, runtime_checkable

from course_lib._validate import check_number

__all__ = ["Constant", "Distribution", "Exponential", "LogNormal", "Normal", "Uniform"]


@runtime_checkable
class Distribution(Protocol):
    """Anything that draws a non-negative duration in seconds from a ``random.Random``."""

    def sample(self, rng: random.Random) -> float:
        """One draw, in seconds (>= 0)."""
        ...


class Constant:
    """Always the same duration: ``value`` seconds.

    Args:
        value: Seconds (>= 0).
    """

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = check_number("value", value)

    @property
    def mean(self) -> float:
        """``value``."""
        return self.value

    def sample(self, rng: random.Random) -> float:
        """Return ``value``; ``rng`` is not used (so it does not advance)."""
        return self.value

    def __repr__(self) -> str:
        return f"Constant({self.value!r})"


class Uniform:
    """Uniform between ``low`` and ``high`` seconds: ``low + U(0,1) * (high - low)``.

    Args:
        low: Seconds (>= 0).
        high: Seconds (>= low).
    """

    __slots__ = ("high", "low")

    def __init__(self, low: float, high: float) -> None:
        self.low = check_number("low", low)
        self.high = check_number("high", high, minimum=self.low)

    @property
    def mean(self) -> float:
        """``(low + high) / 2``."""
        return (self.low + self.high) / 2.0

    def sample(self, rng: random.Random) -> float:
        """``low + rng.random() * (high - low)``."""
        return self.low + rng.random() * (self.high - self.low)

    def __repr__(self) -> str:
        return f"Uniform({self.low!r}, {self.high!r})"


class Exponential:
    """Exponential with the given ``mean``: ``-mean * ln(1 - U)``, memoryless.

    The classic service-time model of queueing theory (M/M/c). Also the gap
    between Poisson arrivals: arrivals at rate ``r`` are ``Exponential(1 / r)`` apart.

    Args:
        mean: Seconds (> 0).
    """

    __slots__ = ("_rate", "mean")

    def __init__(self, mean: float) -> None:
        self.mean = check_number("mean", mean, min_inclusive=False)
        self._rate = 1.0 / self.mean

    def sample(self, rng: random.Random) -> float:
        """``rng.expovariate(1 / mean)``."""
        return rng.expovariate(self._rate)

    def __repr__(self) -> str:
        return f"Exponential(mean={self.mean!r})"


class Normal:
    """Normal(``mean``, ``stddev``) clipped at ``minimum`` (a duration cannot be negative).

    ``max(minimum, gauss(mean, stddev))``. Brooker's backoff simulation uses a
    network delay of about ``Normal(0.010, 0.002)``.

    Args:
        mean: Seconds (>= 0).
        stddev: Seconds (>= 0).
        minimum: Seconds (>= 0); draws below it are raised to it.
    """

    __slots__ = ("mean", "minimum", "stddev")

    def __init__(self, mean: float, stddev: float, minimum: float = 0.0) -> None:
        self.mean = check_number("mean", mean)
        self.stddev = check_number("stddev", stddev)
        self.minimum = check_number("minimum", minimum)

    def sample(self, rng: random.Random) -> float:
        """``max(minimum, rng.gauss(mean, stddev))``."""
        return max(self.minimum, rng.gauss(self.mean, self.stddev))

    def __repr__(self) -> str:
        return f"Normal(mean={self.mean!r}, stddev={self.stddev!r}, minimum={self.minimum!r})"


class LogNormal:
    """Log-normal with the given ``median`` and shape ``sigma``: a long right tail.

    ``exp(gauss(ln(median), sigma))``. Real service latencies look like this:
    most calls near the median, a few very slow ones. The p99 is about
    ``median * exp(2.326 * sigma)`` and the mean ``median * exp(sigma**2 / 2)``.

    Args:
        median: Seconds (> 0).
        sigma: Shape (>= 0); 0 makes it constant, 1 is a heavy tail.
    """

    __slots__ = ("_mu", "median", "sigma")

    def __init__(self, median: float, sigma: float) -> None:
        self.median = check_number("median", median, min_inclusive=False)
        self.sigma = check_number("sigma", sigma)
        self._mu = math.log(self.median)

    @property
    def mean(self) -> float:
        """``median * exp(sigma**2 / 2)``."""
        return self.median * math.exp(self.sigma**2 / 2.0)

    def sample(self, rng: random.Random) -> float:
        """``rng.lognormvariate(ln(median), sigma)``."""
        return rng.lognormvariate(self._mu, self.sigma)

    def __repr__(self) -> str:
        return f"LogNormal(median={self.median!r}, sigma={self.sigma!r})"
