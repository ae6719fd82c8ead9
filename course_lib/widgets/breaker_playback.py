"""What the breaker widget plays back: one view per step of a breaker run.

The widget never animates a live breaker. It first *records* a run: a fresh
breaker is built from a configuration, :func:`course_lib.replay.drive` feeds it
the scenario one step at a time, and after every step this module notes what a
student should see: the state, the rolling window of outcomes, the failure rate
against the threshold, the cooldown left while OPEN and how many calls have been
rejected so far. The browser view then only *shows* frame ``i`` of that record, so
scrubbing backwards is as cheap as playing forwards, and the same record can be
tested without any widget.

Where the window and cooldown come from:

* a breaker with a ``snapshot(now)`` method (the reference
  :class:`~course_lib.breaker.CircuitBreaker`) reports them itself;
* for any other breaker-like object (a student's) they are *reconstructed* from
  what it did, with the reference's semantics: the window holds the outcomes of
  the last ``window_size`` calls let through while CLOSED (HALF_OPEN trials are
  not in it; it is frozen while OPEN and HALF_OPEN, and starts empty whenever
  the breaker enters CLOSED); the cooldown restarts whenever the breaker
  (re-)enters OPEN, and ``cooldown_remaining = max(0, opened_at + cooldown - now)``.

This module has no widget imports; :mod:`.breaker_widget` turns a
:class:`BreakerRun` into the plain JSON its browser view draws.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from course_lib.breaker_vocabulary import STATES, disagreement, display_name, state_name
from course_lib.events import Event, StateChanged, Trace
from course_lib.replay import BreakerConfig, Frame, Step, drive, steps_from_string

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_SCENARIO",
    "STATES",
    "BreakerConfig",
    "BreakerFactory",
    "BreakerRun",
    "Divergence",
    "FrameView",
    "RAISED_NOTE",
    "as_steps",
    "first_divergence",
    "record_run",
    "reference_factory",
    "transition_reason",
    "where_raised",
]

DEFAULT_SCENARIO = "sffff ss |8 sf sss |8 sss ssfsssfsss ssss"
"""The widget's default story, with :data:`DEFAULT_CONFIG` (window 10,
minimum 5 calls, threshold 50%, cooldown 10 s, 3 half-open trials):

* t=0..4: 1 success then 4 failures; after the 5th call the failure rate is
  4/5 = 80% >= 50%, so the breaker trips CLOSED -> OPEN at frame 4;
* t=5, 6: two calls are rejected (failed fast) while the cooldown runs;
* t=15: cooldown over -> HALF_OPEN; the first trial succeeds, the second
  (t=16) fails -> OPEN again, the cooldown restarts;
* t=17..19: three more rejected calls;
* t=28..30: HALF_OPEN, three trials succeed -> CLOSED;
* then 14 calls of normal traffic with a few failures, below the threshold;
  the window fills and starts evicting its oldest calls.
"""

DEFAULT_CONFIG = BreakerConfig(minimum_calls=5, cooldown=10.0)
"""The widget's default knobs: a short minimum and cooldown, so the story fits in 40 frames."""

BreakerFactory = Callable[..., Any]
"""Builds a fresh breaker from the configuration keywords of :class:`BreakerConfig`."""


@dataclass(frozen=True, slots=True)
class FrameView:
    """What the widget shows after one step of a run.

    Attributes:
        frame: What :func:`course_lib.replay.drive` recorded for the step.
        window: Outcomes in the rolling window, oldest first, ``True`` = failure.
        failure_rate: Failures in the window / calls in the window, as the breaker
            reports it (``None`` if it reports nothing and the window is empty).
        cooldown_remaining: Seconds until trial calls are allowed, while OPEN;
            ``None`` in the other states.
        rejected: Calls rejected (failed fast) so far, this step included.
        reason: Why the state changed at this step, ``""`` if it did not.
    """

    frame: Frame
    window: tuple[bool, ...]
    failure_rate: float | None
    cooldown_remaining: float | None
    rejected: int
    reason: str = ""

    @property
    def state(self) -> str:
        """The state after the step: ``"closed"``, ``"open"`` or ``"half_open"``."""
        return self.frame.state_after

    @property
    def changed(self) -> bool:
        """Whether the step moved the breaker to another state."""
        return self.frame.state_before != self.frame.state_after or bool(self.reason)


@dataclass(frozen=True, slots=True)
class BreakerRun:
    """A recorded run: one breaker, one configuration, one scenario.

    Attributes:
        label: Shown above the panel, e.g. ``"Reference"`` or ``"Your breaker"``.
        config: The configuration the breaker was built with.
        steps: The scenario.
        views: One :class:`FrameView` per step.
        reconstructed: ``True`` when window and cooldown were reconstructed from
            the frames because the breaker has no ``snapshot(now)``.
    """

    label: str
    config: BreakerConfig
    steps: tuple[Step, ...]
    views: tuple[FrameView, ...]
    reconstructed: bool

    @property
    def frames(self) -> list[Frame]:
        """The replay frames, one per step."""
        return [view.frame for view in self.views]

    def __len__(self) -> int:
        return len(self.views)


def as_steps(scenario: Sequence[Step] | str | None) -> tuple[Step, ...]:
    """A scenario as steps: a list of :class:`Step`, a pattern string, or ``None``.

    ``None`` means :data:`DEFAULT_SCENARIO`; a string goes through
    :func:`course_lib.replay.steps_from_string` (e.g. ``"sssffff|30sss"``).

    Raises:
        ValueError: The scenario is empty, or an item is not a ``Step``.
    """
    if scenario is None:
        scenario = DEFAULT_SCENARIO
    steps = tuple(steps_from_string(scenario)) if isinstance(scenario, str) else tuple(scenario)
    if not steps:
        raise ValueError("scenario must contain at least one call, got an empty scenario")
    for i, step in enumerate(steps):
        if not isinstance(step, Step):
            raise ValueError(
                f"scenario[{i}] must be a course_lib.replay.Step, got {type(step).__name__}"
            )
    return steps


def reference_factory(*, listener: Callable[[Event], None] | None = None, **config: Any) -> Any:
    """Build the reference :class:`~course_lib.breaker.CircuitBreaker` from config keywords."""
    from course_lib.breaker import CircuitBreaker

    if listener is None:
        return CircuitBreaker(**config)
    return CircuitBreaker(**config, listener=listener)


_GENERIC_REASONS = {
    ("closed", "open"): "the failure rate reached the threshold",
    ("open", "half_open"): "the cooldown is over: trial calls may go through",
    ("half_open", "closed"): "the trial calls succeeded",
    ("half_open", "open"): "a trial call failed; the cooldown restarts",
}


def transition_reason(old: str, new: str) -> str:
    """A plain-words reason for a state change, e.g. ``("half_open", "open")``."""
    return _GENERIC_REASONS.get((old, new), f"{old} -> {new}")


def _snapshot(breaker: Any, now: float) -> Any | None:
    snapshot = getattr(breaker, "snapshot", None)
    if not callable(snapshot):
        return None
    return snapshot(now)


def _snapshot_window(snap: Any) -> tuple[bool, ...] | None:
    outcomes = getattr(snap, "outcomes", None)  # BreakerSnapshot.outcomes, True = failure
    return None if outcomes is None else tuple(bool(v) for v in outcomes)


def _reason(frame: Frame, changes: Sequence[StateChanged]) -> str:
    """Why the state changed at ``frame``: the breaker's own words if it emitted
    ``StateChanged`` events, else the generic :func:`transition_reason`."""
    if len(changes) == 1:
        return changes[0].reason or transition_reason(frame.state_before, frame.state_after)
    if changes:
        return ", then ".join(
            f"{state_name(c.old)} -> {state_name(c.new)}" + (f" ({c.reason})" if c.reason else "")
            for c in changes
        )
    if frame.state_before != frame.state_after:
        return transition_reason(frame.state_before, frame.state_after)
    if frame.allowed and frame.state_before == "open" and frame.state_after == "open":
        # A call let through while OPEN: allow() moved it to HALF_OPEN, the trial failed.
        return "cooldown over -> half_open, then " + transition_reason("half_open", "open")
    return ""


def record_run(
    factory: BreakerFactory,
    scenario: Sequence[Step] | str | None,
    config: BreakerConfig | None = None,
    *,
    label: str = "Reference",
    trace: Trace | None = None,
) -> BreakerRun:
    """Build a fresh breaker with ``factory(**config)`` and record it through ``scenario``.

    Each step goes through :func:`course_lib.replay.drive` on its own, so a view
    can be taken right after it.

    Args:
        factory: Called once with the configuration keywords.
        scenario: Steps, a pattern string, or ``None`` for :data:`DEFAULT_SCENARIO`.
        config: The knobs; the widget's :data:`DEFAULT_CONFIG` if ``None``.
        label: The panel title.
        trace: The listener the factory's breaker emits events to, if any: its
            ``StateChanged`` reasons then explain each transition.

    Returns:
        The recorded run.

    Raises:
        Exception: Whatever the factory or the breaker raises, with its own
            message (a student's ``NotImplementedError``), and a note (PEP 678,
            starting with :data:`RAISED_NOTE`) saying where: while the breaker
            was built, or at which call of the scenario.
    """
    config = config or DEFAULT_CONFIG
    steps = as_steps(scenario)
    try:
        breaker = factory(**config.as_kwargs())
        reconstructed = not callable(getattr(breaker, "snapshot", None))
    except Exception as error:
        _note(error, f"while it was built ({config})")
        raise
    try:
        return _record(breaker, steps, config, label, trace, reconstructed)
    except _AtCall as at:
        index, raised = at.args
        _note(raised, f"at call {index + 1} of {len(steps)} (a {steps[index]})")
        raise raised from None


RAISED_NOTE = "raised by the breaker "
"""How :func:`record_run`'s note on a breaker's exception starts."""


def _note(error: BaseException, where: str) -> None:
    with contextlib.suppress(Exception):  # an exception object may refuse notes
        error.add_note(RAISED_NOTE + where)


def where_raised(error: BaseException) -> str:
    """Where :func:`record_run` saw ``error`` raised, or ``""`` if it carries no such note.

    For example ``"at call 3 of 29 (a failure at t=2s)"``.
    """
    try:
        notes = [n for n in getattr(error, "__notes__", ()) if isinstance(n, str)]
    except Exception:  # a hostile __notes__
        return ""
    for note in reversed(notes):
        if note.startswith(RAISED_NOTE):
            return note[len(RAISED_NOTE) :]
    return ""


class _AtCall(Exception):
    """Carries ``(index, error)`` out of :func:`_record` (never escapes this module)."""


def _record(
    breaker: Any,
    steps: tuple[Step, ...],
    config: BreakerConfig,
    label: str,
    trace: Trace | None,
    reconstructed: bool,
) -> BreakerRun:
    views: list[FrameView] = []
    window: deque[bool] = deque(maxlen=config.window_size)
    opened_at: float | None = None
    rejected = 0
    for index, step in enumerate(steps):
        try:
            seen = len(trace) if trace is not None else 0
            (frame,) = drive(breaker, [step])
            frame = dataclasses.replace(frame, index=index)
            changes: list[StateChanged] = []
            if trace is not None:
                changes = [e for e in trace[seen:] if isinstance(e, StateChanged)]
            rejected += not frame.allowed
            # Reconstruction (also the fallback when a snapshot lacks a field).
            if frame.allowed and frame.state_before == "closed":
                window.append(not frame.ok)
            if frame.state_after == "closed" and frame.state_before != "closed":
                window.clear()
            if frame.state_after == "open" and (frame.state_before != "open" or frame.allowed):
                opened_at = frame.time
            remaining = None
            if frame.state_after == "open" and opened_at is not None:
                remaining = max(0.0, opened_at + config.cooldown - frame.time)
            shown_window = tuple(window)
            rate = frame.failure_rate
            snap = _snapshot(breaker, frame.time)
            if snap is not None:
                snap_window = _snapshot_window(snap)
                if snap_window is not None:
                    shown_window = snap_window
                snap_rate = getattr(snap, "failure_rate", None)
                if snap_rate is not None:
                    rate = float(snap_rate)
                if hasattr(snap, "cooldown_remaining"):
                    value = snap.cooldown_remaining
                    remaining = (
                        None if value is None or frame.state_after != "open" else float(value)
                    )
            if rate is None and shown_window:
                rate = sum(shown_window) / len(shown_window)
            reason = _reason(frame, changes)
            views.append(FrameView(frame, shown_window, rate, remaining, rejected, reason))
        except Exception as error:
            raise _AtCall(index, error) from error
    return BreakerRun(label, config, steps, tuple(views), reconstructed)


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first step at which two runs of the same scenario disagree.

    Attributes:
        index: The frame index (0-based, as on the widget's slider).
        step: The scenario step.
        expected: The reference's frame.
        actual: The other breaker's frame.
        total: How many steps the scenario has (the last frame's index + 1).
    """

    index: int
    step: Step
    expected: Frame
    actual: Frame
    total: int

    @property
    def message(self) -> str:
        """Where the two breakers first differ, in plain words, for a student.

        The states are compared with :func:`course_lib.breaker_vocabulary.disagreement`;
        a call one breaker let through and the other rejected is said after it.
        """
        exp, act = self.expected, self.actual
        call = f"call {self.index + 1} of {self.total} (frame {self.index}, a {self.step})"
        if exp.state_before != act.state_before:
            return (
                disagreement(
                    f"They first differ before {call}",
                    yours=act.state_before,
                    reference=exp.state_before,
                )
                + "."
            )
        text = disagreement(
            f"They first differ at {call}: after it",
            yours=act.state_after,
            reference=exp.state_after,
        )
        if exp.allowed != act.allowed:
            fast = f"failed fast while {display_name(exp.state_before)}"
            if exp.allowed:
                text += f"; the reference let the call through, yours rejected it ({fast})"
            else:
                text += f"; the reference rejected the call ({fast}), yours let it through"
        return text + "."


def _behaviour(frame: Frame) -> tuple[str, bool, str]:
    return (frame.state_before, frame.allowed, frame.state_after)


def first_divergence(
    reference: BreakerRun | Sequence[Frame], other: BreakerRun | Sequence[Frame]
) -> Divergence | None:
    """Where ``other`` first behaves differently from ``reference``, or ``None``.

    Two frames agree when the state before the call, whether the call was let
    through, and the state after it are the same. Failure rates are not compared
    (a student's breaker need not report one).

    Raises:
        ValueError: The runs have different lengths or different scenarios.
    """
    ref = reference.frames if isinstance(reference, BreakerRun) else list(reference)
    oth = other.frames if isinstance(other, BreakerRun) else list(other)
    if len(ref) != len(oth):
        raise ValueError(f"runs must cover the same scenario, got {len(ref)} and {len(oth)} frames")
    for exp, act in zip(ref, oth, strict=True):
        if (exp.time, exp.ok) != (act.time, act.ok):
            raise ValueError(
                f"runs must cover the same scenario; frame {exp.index} differs: "
                f"t={exp.time:g}s ok={exp.ok} vs t={act.time:g}s ok={act.ok}"
            )
        if _behaviour(exp) != _behaviour(act):
            return Divergence(exp.index, Step(exp.time, exp.ok), exp, act, ref[-1].index + 1)
    return None
