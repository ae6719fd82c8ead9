"""Configuration checks shared by every pattern.

Every bad value raises ``ValueError`` naming the parameter, the allowed range
and the value that was given, so a typo in a notebook is a one-line fix.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MAX_COUNT_WINDOW",
    "check_count_window",
    "check_fraction",
    "check_int",
    "check_minimum_calls",
    "check_number",
]

MAX_COUNT_WINDOW = 10_000_000
"""The largest count window a breaker accepts (it keeps one small int per call)."""


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float = 0.0,
    maximum: float = math.inf,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a float if it lies in the range, else raise ``ValueError``."""
    lo = "[" if min_inclusive else "("
    hi = "]" if max_inclusive else ")"
    allowed = f"{lo}{minimum:g}, {maximum:g}{hi}"
    if not _is_real(value) or math.isnan(value):
        raise ValueError(f"{name} must be a number in {allowed}, got {value!r}")
    too_low = value < minimum if min_inclusive else value <= minimum
    too_high = value > maximum if max_inclusive else value >= maximum
    if too_low or too_high:
        raise ValueError(f"{name} must be in {allowed}, got {value!r}")
    return float(value)


def check_int(name: str, value: Any, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int in ``[minimum, maximum]``, else raise ``ValueError``."""
    allowed = (
        f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    )
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def check_fraction(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """A rate such as a failure-rate threshold: a number in (0, 1] (or [0, 1])."""
    return check_number(name, value, minimum=0.0, maximum=1.0, min_inclusive=allow_zero)


def check_count_window(window_size: Any) -> int:
    """The size of a breaker's count window: an int in ``[1, MAX_COUNT_WINDOW]``."""
    size = check_int("window_size", window_size, minimum=1)
    if size > MAX_COUNT_WINDOW:
        raise ValueError(
            f"window_size must be at most {MAX_COUNT_WINDOW} calls (the window keeps one "
            f"number per call), got {size!r}"
        )
    return size


def check_minimum_calls(minimum_calls: Any, window_size: int) -> int:
    """``minimum_calls`` of a breaker with a count window of ``window_size`` calls.

    A count window never holds more than ``window_size`` calls, so a larger
    minimum could never be reached and the breaker would never trip: that is a
    configuration bug, and it raises ``ValueError`` naming ``minimum_calls``.
    (resilience4j silently caps it at the window size instead.) A time window
    has no such bound: its size is seconds, not calls.
    """
    minimum = check_int("minimum_calls", minimum_calls, minimum=1)
    if minimum > window_size:
        raise ValueError(
            f"minimum_calls must be <= window_size ({window_size}) for a count window, "
            f"got {minimum!r}: the window never holds more than {window_size} calls, "
            "so the breaker could never give a verdict"
        )
    return minimum
