"""The circuit breaker's vocabulary: one place for its states, their names and its arrows.

Everything that talks about a breaker (the reference, the replay driver, the
diagram parser, the checks, the hidden graders and the widgets) takes its words
from here, so that one disagreement is worded the same way wherever a student
meets it::

    >>> state_name("HalfOpen"), display_name("half_open"), MERMAID_NAMES["half_open"]
    ('half_open', 'HALF_OPEN', 'HalfOpen')
    >>> disagreement("after 5 failures in 10 calls", yours="closed", reference="open")
    'after 5 failures in 10 calls, your breaker is CLOSED; the reference is OPEN'

The trip rule is written once too (:data:`TRIP_RULE`): the module's notes say the
breaker trips when the failure rate *exceeds* the threshold (``>``); this course,
like resilience4j, trips when it *reaches* it (``>=``). The two differ only at the
boundary (5 failures in 10 calls at 50%).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "MERMAID_NAMES",
    "OPEN",
    "START",
    "STATES",
    "TRANSITIONS",
    "TRIP_RULE",
    "Transition",
    "disagreement",
    "display_name",
    "state_name",
]

CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"
STATES: Final[tuple[str, str, str]] = (CLOSED, OPEN, HALF_OPEN)
"""The three states, as :func:`state_name` spells them (and ``State`` values are)."""

START: Final = "[*]"
"""Mermaid's start pseudo-state."""

MERMAID_NAMES: Final[dict[str, str]] = {
    START: "[*]",
    CLOSED: "Closed",
    OPEN: "Open",
    HALF_OPEN: "HalfOpen",
}
"""State -> its name in a Mermaid ``stateDiagram-v2`` (as in the module's notes)."""

TRIP_RULE: Final = "failures / calls >= threshold, once at least minimum_calls calls were seen"
"""When a CLOSED breaker trips, in words (resilience4j's ``>=``)."""


def state_name(state: Any) -> str:
    """Normalise a state to ``"closed"``, ``"open"`` or ``"half_open"``.

    Accepts the reference's ``State`` enum (or any object with a ``value``),
    plain strings in any case, and spellings such as ``"HalfOpen"``,
    ``"half-open"`` or ``"HALF OPEN"``. Anything else comes back normalised the
    same way, so a caller can compare it with :data:`STATES` and say what it got.

    Example:
        >>> [state_name(s) for s in ["CLOSED", "HalfOpen", "half-open", "Open"]]
        ['closed', 'half_open', 'half_open', 'open']
    """
    value = getattr(state, "value", state)
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    return HALF_OPEN if text == "halfopen" else text


def display_name(state: Any) -> str:
    """A state as messages and widgets show it: ``CLOSED``, ``OPEN``, ``HALF_OPEN``."""
    return state_name(state).upper()


def disagreement(situation: str, *, yours: Any, reference: Any) -> str:
    """The plain-words sentence for two breakers that end a situation in different states.

    Args:
        situation: what happened, e.g. ``"after 5 failures in 10 calls"``.
        yours: the student's breaker's state (any spelling :func:`state_name` reads).
        reference: the reference breaker's state.
    """
    return (
        f"{situation}, your breaker is {display_name(yours)}; "
        f"the reference is {display_name(reference)}"
    )


@dataclass(frozen=True, slots=True)
class Transition:
    """One arrow of the state diagram.

    Attributes:
        source: a state (``"closed"``, ``"open"``, ``"half_open"``) or :data:`START`.
        target: a state.
        trigger: the arrow's label, in the module's words (the trip with ``>=``).
    """

    source: str
    target: str
    trigger: str

    def to_mermaid(self) -> str:
        """This arrow as a Mermaid line, e.g. ``Open --> HalfOpen : Cooldown Period Expired``."""
        return f"{MERMAID_NAMES[self.source]} --> {MERMAID_NAMES[self.target]} : {self.trigger}"


TRANSITIONS: Final[tuple[Transition, ...]] = (
    Transition(START, CLOSED, "System Normal"),
    Transition(CLOSED, OPEN, "Failure Rate >= Threshold"),
    Transition(OPEN, HALF_OPEN, "Cooldown Period Expired"),
    Transition(HALF_OPEN, CLOSED, "Trial Requests Succeed"),
    Transition(HALF_OPEN, OPEN, "Trial Request Fails"),
)
"""The module's arrows, the initial one first: the transitions that change state.

A trip on the slow-call rate is the same arrow (a slow call counts as a
failure). What happens *within* a state (a call rejected while OPEN, a trial
permit refused in HALF_OPEN, a failure before the minimum number of calls) is
not an arrow here: notebook 07 asks students to model it.
"""
