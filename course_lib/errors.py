"""The exceptions the reference patterns raise when they fail fast."""

from __future__ import annotations

__all__ = [
    "BulkheadFullError",
    "CallTimeoutError",
    "CircuitOpenError",
    "DeadlineExceeded",
    "ResilienceError",
    "RetryError",
]


class ResilienceError(Exception):
    """Base class of every error raised by a pattern itself (not by the protected call)."""


class CircuitOpenError(ResilienceError):
    """The breaker refused the call without making it (OPEN, or no half-open permit left)."""

    def __init__(
        self, message: str, *, name: str = "", state: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.name = name
        self.state = state
        self.retry_after = retry_after


class BulkheadFullError(ResilienceError):
    """The bulkhead had no free slot (and no room in its queue) for this call."""

    def __init__(self, message: str, *, name: str = "", capacity: int = 0) -> None:
        super().__init__(message)
        self.name = name
        self.capacity = capacity


class RetryError(ResilienceError):
    """Every attempt failed; the last error is ``__cause__`` and ``last_error``."""

    def __init__(self, message: str, *, attempts: int, last_error: BaseException | None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error


class CallTimeoutError(ResilienceError, TimeoutError):
    """A bounded call ran past its timeout and was abandoned."""


class DeadlineExceeded(ResilienceError, TimeoutError):
    """The request's deadline has passed: there is no time budget left for this call."""
