"""Drive any breaker-like object through a scenario and record what it did.

A *scenario* is a list of :class:`Step`: at ``time`` a caller wants to make a
call whose outcome would be ``ok`` (success) or not (failure). The driver asks
the breaker ``allow(time)``; if allowed it reports the outcome with
``record_success(time)`` / ``record_failure(time)``, otherwise the call was
rejected (failed fast) and the downstream service never saw it.

The same driver feeds the animated widget, the visible checks and the hidden
tests, for the reference :class:`~course_lib.breaker.CircuitBreaker` and for a
student's own breaker alike. A breaker-like object needs only::

    allow(now: float) -> bool
    record_success(now: float) -> None
    record_failure(now: float) -> None
    state            # "closed", "open" or "half_open"
    failure_rate     # optional: a float in [0, 1]
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from course_lib._validate import (
    check_count_window,
    check_fraction,
    check_int,
    check_minimum_calls,
    check_number,
)
from course_lib.breaker_vocabulary import state_name

__all__ = [
    "BreakerConfig",
    "BreakerLike",
    "Frame",
    "Step",
    "describe",
    "drive",
    "random_scenario",
    "state_name",
    "steps_from_string",
]


class BreakerLike(Protocol):
    """The sans-I/O protocol every breaker in this course speaks."""

    @property
    def state(self) -> Any: ...

    def allow(self, now: float) -> bool: ...
    def record_success(self, now: float) -> None: ...
    def record_failure(self, now: float) -> None: ...


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """The five knobs every breaker in the course takes, by the same keyword names.

    The defaults are the notebook's ``MyBreaker`` defaults. A student's
    breaker validates its settings by building one (``BreakerConfig(**settings)``):
    the same rules, and the same messages, as the reference
    :class:`~course_lib.breaker.CircuitBreaker` with a count window.

    Args:
        window_size: How many recent calls the rolling window holds (>= 1).
        failure_rate_threshold: Trip when ``failures / calls`` reaches this, in (0, 1].
        minimum_calls: No verdict before the window holds this many calls, in
            ``[1, window_size]``: a larger minimum could never be reached, so it
            raises ``ValueError`` (resilience4j silently caps it at the window size).
        cooldown: Seconds to stay OPEN before letting trial calls through (>= 0).
        half_open_max_calls: Trial calls allowed in HALF_OPEN (>= 1).

    Raises:
        ValueError: A value is out of range; the message names the parameter.

    Example:
        >>> BreakerConfig(window_size=4, minimum_calls=10)
        Traceback (most recent call last):
        ...
        ValueError: minimum_calls must be <= window_size (4) for a count window, got 10: \
the window never holds more than 4 calls, so the breaker could never give a verdict
    """

    window_size: int = 10
    failure_rate_threshold: float = 0.5
    minimum_calls: int = 10
    cooldown: float = 30.0
    half_open_max_calls: int = 3

    def __post_init__(self) -> None:
        check_count_window(self.window_size)
        check_fraction("failure_rate_threshold", self.failure_rate_threshold)
        check_minimum_calls(self.minimum_calls, self.window_size)
        check_number("cooldown", self.cooldown)
        check_int("half_open_max_calls", self.half_open_max_calls, minimum=1)

    @property
    def effective_minimum_calls(self) -> int:
        """The minimum number of calls before a verdict: ``minimum_calls`` (never above the size).

        Kept for callers written when a larger minimum was silently capped.
        """
        return self.minimum_calls

    def as_kwargs(self) -> dict[str, Any]:
        """The configuration as constructor keywords, e.g. for ``CircuitBreaker(**kw)``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> BreakerConfig:
        """A copy with some knobs changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        trials = self.half_open_max_calls
        return (
            f"window of {self.window_size}, threshold {self.failure_rate_threshold * 100:g}%, "
            f"minimum {self.minimum_calls} calls, cooldown {self.cooldown:g}s, "
            f"{trials} trial call{'s' if trials != 1 else ''}"
        )


@dataclass(frozen=True, slots=True)
class Step:
    """At ``time`` a caller attempts a call that would succeed if ``ok``."""

    time: float
    ok: bool

    def __str__(self) -> str:
        return f"{'success' if self.ok else 'failure'} at t={self.time:g}s"


@dataclass(frozen=True, slots=True)
class Frame:
    """What one :class:`Step` did to a breaker."""

    index: int
    time: float
    ok: bool
    allowed: bool
    state_before: str
    state_after: str
    failure_rate: float | None

    @property
    def outcome(self) -> str:
        """``"success"``, ``"failure"`` or ``"rejected"`` (failed fast, never sent)."""
        if not self.allowed:
            return "rejected"
        return "success" if self.ok else "failure"


def _rate(breaker: Any) -> float | None:
    rate = getattr(breaker, "failure_rate", None)
    if callable(rate):
        rate = rate()
    return None if rate is None else float(rate)


def drive(breaker: BreakerLike, steps: Iterable[Step]) -> list[Frame]:
    """Run ``steps`` through ``breaker`` and return one :class:`Frame` per step."""
    frames = []
    for index, step in enumerate(steps):
        before = state_name(breaker.state)
        allowed = bool(breaker.allow(step.time))
        if allowed:
            if step.ok:
                breaker.record_success(step.time)
            else:
                breaker.record_failure(step.time)
        after = state_name(breaker.state)
        frames.append(Frame(index, step.time, step.ok, allowed, before, after, _rate(breaker)))
    return frames


def steps_from_string(pattern: str, *, start: float = 0.0, spacing: float = 1.0) -> list[Step]:
    """Build a scenario from a string: ``"ssfff"`` is 2 successes then 3 failures.

    ``s``/``.`` = success, ``f``/``x`` = failure, spaces ignored, and ``|N`` waits
    N seconds (e.g. ``"fffff|30sss"``). Steps are ``spacing`` seconds apart.

    Example:
        >>> [str(s) for s in steps_from_string("sf|10s")]
        ['success at t=0s', 'failure at t=1s', 'success at t=12s']
    """
    steps: list[Step] = []
    now = start
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch in "s.":
            steps.append(Step(now, True))
            now += spacing
        elif ch in "fx":
            steps.append(Step(now, False))
            now += spacing
        elif ch == "|":
            j = i + 1
            while j < len(pattern) and (pattern[j].isdigit() or pattern[j] == "."):
                j += 1
            if j == i + 1:
                raise ValueError(
                    f"pattern: '|' must be followed by a number of seconds, at position {i}"
                )
            now += float(pattern[i + 1 : j])
            i = j
            continue
        elif not ch.isspace():
            raise ValueError(f"pattern: unexpected {ch!r} at position {i}; use s, f, spaces and |N")
        i += 1
    return steps


def random_scenario(
    seed: int,
    length: int = 40,
    *,
    failure_probability: float | None = None,
    max_gap: float = 15.0,
) -> list[Step]:
    """A seeded random scenario: bursts of failures and quiet gaps long enough for cooldowns.

    The same ``seed`` always gives the same steps.
    """
    rng = random.Random(seed)
    p_fail = rng.choice([0.2, 0.5, 0.8]) if failure_probability is None else failure_probability
    steps: list[Step] = []
    now = 0.0
    for _ in range(length):
        now += rng.choice([0.5, 1.0, 1.0, 2.0, rng.uniform(0, max_gap)])
        steps.append(Step(round(now, 3), rng.random() >= p_fail))
    return steps


def describe(steps: Sequence[Step]) -> str:
    """Say a scenario in plain words, one run of equal outcomes at a time.

    Example:
        >>> describe(steps_from_string("fff|2s"))
        '3 failures from t=0s, then 1 success from t=5s'
    """
    if not steps:
        return "no calls"
    parts: list[str] = []
    run_ok, run_len, run_start = steps[0].ok, 0, steps[0].time
    for step in [*steps, Step(float("nan"), not steps[-1].ok)]:
        if step.ok == run_ok and run_len:
            run_len += 1
            continue
        if run_len:
            noun = "success" if run_ok else "failure"
            plural = noun + ("es" if run_ok else "s") if run_len > 1 else noun
            parts.append(f"{run_len} {plural} from t={run_start:g}s")
        run_ok, run_len, run_start = step.ok, 1, step.time
    return ", then ".join(parts)
