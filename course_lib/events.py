"""Events and traces: the one record of what a pattern did.

Every pattern emits small immutable events (a state changed, a call was
rejected, a retry was scheduled, ...) to a listener. A :class:`Trace` is the
usual listener: an append-only list of events, which tests, plots and the
widgets' event logs read. The graders and widgets never read a pattern's
private fields: besides its events, a pattern is read through its public
surface (a breaker's ``snapshot(now)``, which the widget draws, and the
sans-I/O protocol that :func:`course_lib.replay.drive` and the graders use).

Times are seconds on whatever clock the pattern was given (virtual seconds in
a simulation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar, overload

__all__ = [
    "BulkheadAcquired",
    "BulkheadFull",
    "BulkheadReleased",
    "CallFailed",
    "CallIgnored",
    "CallPermitted",
    "CallRejected",
    "CallSucceeded",
    "Event",
    "EventListener",
    "RetryGaveUp",
    "RetryScheduled",
    "StateChanged",
    "TimeoutExpired",
    "Trace",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at ``time`` in the component called ``source``."""

    time: float
    source: str

    @property
    def kind(self) -> str:
        """The event's type name, e.g. ``"StateChanged"``."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """A plain-dict copy with a ``kind`` key, ready for JSON or a DataFrame."""
        record = asdict(self)
        record["kind"] = self.kind
        return record


@dataclass(frozen=True, slots=True)
class StateChanged(Event):
    """A circuit breaker moved from ``old`` to ``new`` state (values of ``State``)."""

    old: str
    new: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CallPermitted(Event):
    """A pattern let a call through to the protected operation."""

    state: str = ""


@dataclass(frozen=True, slots=True)
class CallSucceeded(Event):
    """The protected operation returned; ``duration`` in seconds (0 when not measured)."""

    duration: float = 0.0
    slow: bool = False


@dataclass(frozen=True, slots=True)
class CallFailed(Event):
    """The protected operation raised an error that counts as a failure."""

    error: str = ""
    duration: float = 0.0
    slow: bool = False


@dataclass(frozen=True, slots=True)
class CallIgnored(Event):
    """The protected operation raised an error the pattern was told not to count."""

    error: str = ""


@dataclass(frozen=True, slots=True)
class CallRejected(Event):
    """A call was refused without reaching the protected operation (failed fast)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class RetryScheduled(Event):
    """Attempt ``attempt`` failed; the next one starts after ``delay`` seconds."""

    attempt: int = 0
    delay: float = 0.0
    error: str = ""


@dataclass(frozen=True, slots=True)
class RetryGaveUp(Event):
    """No more attempts: either they ran out or the budget/predicate said stop."""

    attempts: int = 0
    error: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BulkheadAcquired(Event):
    """A call took a slot; ``in_use`` slots of ``capacity`` are now busy."""

    in_use: int = 0
    capacity: int = 0
    queued: int = 0


@dataclass(frozen=True, slots=True)
class BulkheadReleased(Event):
    """A call gave its slot back."""

    in_use: int = 0
    capacity: int = 0
    queued: int = 0


@dataclass(frozen=True, slots=True)
class BulkheadFull(Event):
    """A call was rejected because every slot (and the queue, if any) was taken."""

    in_use: int = 0
    capacity: int = 0
    queued: int = 0


@dataclass(frozen=True, slots=True)
class TimeoutExpired(Event):
    """An operation ran past its ``timeout`` (seconds) and was abandoned."""

    timeout: float = 0.0
    what: str = ""


EventListener = Callable[[Event], None]
E = TypeVar("E", bound=Event)


class Trace:
    """An append-only list of events; call it like a function to record one.

    Example:
        >>> from course_lib.clock import ManualClock
        >>> trace = Trace()
        >>> trace(StateChanged(0.0, "payments", "closed", "open", "failure rate 60% >= 50%"))
        >>> [e.new for e in trace.of_type(StateChanged)]
        ['open']
    """

    __slots__ = ("_events",)

    def __init__(self, events: list[Event] | None = None) -> None:
        self._events: list[Event] = list(events) if events else []

    def __call__(self, event: Event) -> None:
        self._events.append(event)

    append = __call__

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...
    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        return self._events[index]

    def __repr__(self) -> str:
        return f"Trace({len(self._events)} events)"

    @property
    def events(self) -> list[Event]:
        """A copy of the events, oldest first."""
        return list(self._events)

    def of_type(self, *kinds: type[E]) -> list[E]:
        """The events that are instances of any of ``kinds``, in order."""
        return [e for e in self._events if isinstance(e, kinds)]

    def where(self, source: str | None = None, kind: type[Event] | None = None) -> list[Event]:
        """The events from ``source`` and/or of type ``kind``."""
        return [
            e
            for e in self._events
            if (source is None or e.source == source) and (kind is None or isinstance(e, kind))
        ]

    def count(self, kind: type[Event], source: str | None = None) -> int:
        """How many events of type ``kind`` (from ``source``, if given)."""
        return len(self.where(source, kind))

    def states(self, source: str | None = None) -> list[tuple[float, str]]:
        """``(time, new_state)`` for every state change, oldest first."""
        return [(e.time, e.new) for e in self.of_type(StateChanged) if source in (None, e.source)]

    def to_records(self) -> list[dict[str, Any]]:
        """Every event as a plain dict (see :meth:`Event.to_dict`)."""
        return [e.to_dict() for e in self._events]

    def clear(self) -> None:
        """Forget every event."""
        self._events.clear()


def event_field_names(kind: type[Event]) -> list[str]:
    """The field names of an event type, base fields first."""
    return [f.name for f in fields(kind)]
