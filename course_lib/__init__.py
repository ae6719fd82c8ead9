"""Module 14 - Fault Tolerance & Self-Healing Infrastructure: the course library.

What students import: the reference patterns (circuit breaker, bulkheads,
retries with backoff and jitter, timeouts and deadlines), each plain logic told
the time by a clock; a SimPy simulation of services that fail; the animated
widgets; and the visible checks used in the notebooks.

Names are imported lazily, so ``import course_lib`` stays fast and a notebook
that only needs the breaker never imports SimPy or plotly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # clocks and events
    "Clock": "clock",
    "ManualClock": "clock",
    "MonotonicClock": "clock",
    "Event": "events",
    "Trace": "events",
    "StateChanged": "events",
    # errors
    "BulkheadFullError": "errors",
    "CallTimeoutError": "errors",
    "CircuitOpenError": "errors",
    "DeadlineExceeded": "errors",
    "ResilienceError": "errors",
    "RetryError": "errors",
    # circuit breaker
    "CircuitBreaker": "breaker",
    "FastCircuitBreaker": "fast_breaker",
    "State": "breaker",
    # bulkheads
    "SemaphoreBulkhead": "bulkhead",
    "ThreadPoolBulkhead": "bulkhead",
    # retries
    "retry": "retry",
    "Retrying": "retry",
    "RetryPolicy": "retry",
    "NoJitter": "backoff",
    "FullJitter": "backoff",
    "EqualJitter": "backoff",
    "DecorrelatedJitter": "backoff",
    "TokenBucketBudget": "budget",
    "RatioBudget": "budget",
    "AdaptiveThrottle": "budget",
    # timeouts
    "Timeouts": "timeouts",
    "Deadline": "timeouts",
    "call_with_timeout": "timeouts",
    "call_with_timeout_async": "timeouts",
    "current_deadline": "timeouts",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"course_lib.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from course_lib.backoff import DecorrelatedJitter, EqualJitter, FullJitter, NoJitter
    from course_lib.breaker import CircuitBreaker, State
    from course_lib.budget import AdaptiveThrottle, RatioBudget, TokenBucketBudget
    from course_lib.bulkhead import SemaphoreBulkhead, ThreadPoolBulkhead
    from course_lib.clock import Clock, ManualClock, MonotonicClock
    from course_lib.errors import (
        BulkheadFullError,
        CallTimeoutError,
        CircuitOpenError,
        DeadlineExceeded,
        ResilienceError,
        RetryError,
    )
    from course_lib.events import Event, StateChanged, Trace
    from course_lib.fast_breaker import FastCircuitBreaker
    from course_lib.retry import Retrying, RetryPolicy, retry
    from course_lib.timeouts import (
        Deadline,
        Timeouts,
        call_with_timeout,
        call_with_timeout_async,
        current_deadline,
    )
