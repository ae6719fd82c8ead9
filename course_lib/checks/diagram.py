"""Checks and grading for the state-diagram challenge (notebook 07).

The student writes the circuit breaker as a Mermaid ``stateDiagram-v2`` in a
string ``DIAGRAM``. Five test cells each look at one kind of mistake:

============  ===============================================================
topic         what it asks
============  ===============================================================
``states``    Closed, Open and HalfOpen are top-level states; it starts Closed
``trip``      Closed --> Open, labelled with the failure rate crossing the threshold
``cooldown``  Open --> HalfOpen, labelled with the cooldown expiring
``trial``     HalfOpen --> Closed (trials succeed) and HalfOpen --> Open (a trial fails)
``shortcuts`` no other arrow between the breaker's states (e.g. no Open --> Closed)
============  ===============================================================

Each topic has a visible check (``check_<topic>``) and a hidden grading
function (``grade_<topic>``). The visible check compares the diagram with the
seed's state machine and looks at structure only (arrows present, labelled).
The hidden grading takes the expected machine from the reference
implementation's transition table (``course_lib.breaker.TRANSITIONS``) and also
reads each label: a trigger must *mean* the right thing (keywords, see
:data:`TRIGGER_RULES`). Both raise ``AssertionError`` whose message says exactly
what is missing or wrong, as a question the student can answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from course_lib.diagram import (
    START,
    Diagram,
    DiagramSyntaxError,
    normalize_name,
    parse,
    require_written,
)

__all__ = [
    "SEED_TABLE",
    "TOPICS",
    "TRIGGER_RULES",
    "Arrow",
    "TriggerRule",
    "check_cooldown",
    "check_shortcuts",
    "check_states",
    "check_trial",
    "check_trip",
    "grade_cooldown",
    "grade_shortcuts",
    "grade_states",
    "grade_trial",
    "grade_trip",
    "reference_table",
    "review",
]

TOPICS = ("states", "trip", "cooldown", "trial", "shortcuts")
"""The five graded topics, in the order of the notebook's test cells."""


@dataclass(frozen=True, slots=True)
class Arrow:
    """One expected transition: normalised ``source`` / ``target`` (``[*]`` for the start)."""

    source: str
    target: str
    trigger: str = ""


SEED_TABLE: tuple[Arrow, ...] = (
    Arrow(START, "closed", "System Normal"),
    Arrow("closed", "open", "Failure Rate > Threshold"),
    Arrow("open", "half_open", "Cooldown Period Expired"),
    Arrow("half_open", "closed", "Trial Requests Succeed"),
    Arrow("half_open", "open", "Trial Request Fails"),
)
"""The machine of the seed's section 5, used by the visible checks."""


@dataclass(frozen=True, slots=True)
class TriggerRule:
    """What a transition's label must say.

    A label *means* the trigger when, for every group in ``all_of``, one of the
    label's words starts with one of the group's stems, and no word starts with
    a stem in ``none_of``. Words are the label's runs of letters, lower-cased:
    ``"Trial Request Fails (Re-trip)"`` -> ``trial, request, fails, re, trip``.
    """

    all_of: tuple[tuple[str, ...], ...]
    none_of: tuple[str, ...]
    should_say: str

    def matches(self, label: str) -> bool:
        """Whether ``label`` means this trigger."""
        words = re.findall(r"[a-z]+", label.lower())

        def says(stems: Iterable[str]) -> bool:
            return any(word.startswith(stem) for word in words for stem in stems)

        return all(says(group) for group in self.all_of) and not says(self.none_of)


_TRIAL = ("trial", "probe", "test")
TRIGGER_RULES: dict[tuple[str, str], TriggerRule] = {
    ("closed", "open"): TriggerRule(
        all_of=(("fail", "error", "threshold", "trip", "exceed"),),
        none_of=("trial", "probe", "cool", "succe"),
        should_say="why the breaker trips: the failure rate crossing the threshold "
        "(e.g. 'Failure Rate > Threshold')",
    ),
    ("open", "half_open"): TriggerRule(
        all_of=(("cool", "timeout", "expir", "elaps", "wait"),),
        none_of=("fail", "succe", "threshold"),
        should_say="that the cooldown (the open timeout) has expired "
        "(e.g. 'Cooldown Period Expired')",
    ),
    ("half_open", "closed"): TriggerRule(
        all_of=(_TRIAL, ("succe", "pass", "reset", "ok", "healthy")),
        none_of=("fail",),
        should_say="that the trial requests succeeded (e.g. 'Trial Requests Succeed')",
    ),
    ("half_open", "open"): TriggerRule(
        all_of=(_TRIAL, ("fail", "error")),
        none_of=("succe",),
        should_say="that a trial request failed (e.g. 'Trial Request Fails')",
    ),
}
"""Keyword rules for the four transitions of the breaker, by (source, target)."""

_DISPLAY = {START: "[*]", "closed": "Closed", "open": "Open", "half_open": "HalfOpen"}

_MISSING_QUESTION = {
    ("closed", "open"): "what happens when too many calls fail?",
    ("open", "half_open"): "what happens when the cooldown period expires?",
    ("half_open", "closed"): "what happens when the trial requests succeed?",
    ("half_open", "open"): "what happens when a trial request fails?",
}

_STATE_QUESTION = {
    "closed": "where do calls flow normally while the breaker watches the failure rate?",
    "open": "where does the breaker fail fast without calling the service?",
    "half_open": "where does the breaker let a few trial requests through after the cooldown?",
}

_WHY_WRONG = {
    ("open", "closed"): "an open breaker must not close directly: it has not seen the service "
    "recover, so closing would send full traffic to a service that may still be down. "
    "It goes Open --> HalfOpen, and only successful trial requests close it",
    ("closed", "half_open"): "a closed breaker has nothing to cool down from: HalfOpen is "
    "reached only from Open, after the cooldown",
}

_TOPIC_OF_SOURCE = {"closed": "trip", "open": "cooldown", "half_open": "trial"}


def _show(name: str) -> str:
    return _DISPLAY.get(name) or "".join(w.capitalize() for w in name.split("_"))


def _arrow(source: str, target: str) -> str:
    return f"{_show(source)} --> {_show(target)}"


# --- the reference's table -------------------------------------------------------------


def _load_breaker_module() -> ModuleType:
    """``course_lib.breaker`` as imported. The hidden graders pass a pristine copy instead
    (``autograders.graders._pristine.load_reference``), so that a notebook's edits to the
    imported module (``course_lib.breaker.TRANSITIONS = ...``) cannot change the table."""
    import course_lib.breaker

    return course_lib.breaker


def _name_of(value: Any) -> str:
    raw = getattr(value, "value", value)
    if raw is None:
        return START
    return normalize_name(str(raw))


def reference_table(
    load: Callable[[], ModuleType] = _load_breaker_module,
) -> tuple[Arrow, ...]:
    """The reference breaker's transitions, as :class:`Arrow` values.

    Reads ``TRANSITIONS`` from the reference module: items with ``source``,
    ``target`` and ``trigger`` (states may be ``State`` members or strings; the
    start is ``"[*]"`` or ``None``).

    Args:
        load: returns the reference module (a pristine copy when grading).

    Returns:
        The table, initial arrow first.
    """
    module = load()
    arrows = [
        Arrow(_name_of(t.source), _name_of(t.target), str(getattr(t, "trigger", "")))
        for t in module.TRANSITIONS
    ]
    arrows.sort(key=lambda a: a.source != START)
    return tuple(arrows)


# --- reading the student's diagram -----------------------------------------------------


def _parse_student(diagram_text: Any) -> Diagram:
    require_written(diagram_text)
    if not isinstance(diagram_text, str):
        raise AssertionError(
            "DIAGRAM must be a string holding your Mermaid diagram (between triple quotes), "
            f"but it is a {type(diagram_text).__name__}"
        )
    text = str.__str__(diagram_text)  # a plain str: a subclass's overrides play no part
    try:
        return parse(text)
    except DiagramSyntaxError as error:
        raise AssertionError(f"Mermaid cannot read your diagram. {error}") from None


def _canon(diagram: Diagram, states: Iterable[str]) -> dict[str, str]:
    """Map the student's state names onto the reference's (``halfopen`` -> ``half_open``)."""
    compact = {s.replace("_", ""): s for s in states}
    mapping = {START: START}
    for name in diagram.states:
        mapping[name] = compact.get(name.replace("_", ""), name)
    return mapping


def _states_problems(diagram: Diagram, table: tuple[Arrow, ...]) -> list[str]:
    problems: list[str] = []
    states = _states_of(table)
    canon = _canon(diagram, states)
    present = {canon[s] for s in diagram.states}
    inner_names = {
        t_name: parent
        for parent, arrows in diagram.inner.items()
        for t in arrows
        for t_name in (t.source, t.target)
    }
    for state in states:
        if state not in present:
            hint = ""
            if state in inner_names:
                hint = (
                    f" (it only appears inside `state {_show(inner_names[state])} {{ ... }}`: "
                    "the breaker's own states belong at the top level)"
                )
            problems.append(
                f"the state {_show(state)} is missing{hint}: {_STATE_QUESTION.get(state, '')}"
            )
    expected_initial = next((a.target for a in table if a.source == START), None)
    starts = diagram.initial_transitions
    if not starts:
        problems.append(
            f"there is no initial state: add `[*] --> {_show(expected_initial or 'closed')}` "
            "so the diagram says where a new breaker starts"
        )
    else:
        first = canon.get(starts[0].target, starts[0].target)
        if expected_initial and first != expected_initial:
            problems.append(
                f"your diagram starts in {diagram.display(starts[0].target)} (line "
                f"{starts[0].line}), but a new breaker starts {_show(expected_initial)}: "
                "calls flow normally until failures are seen"
            )
        if len(starts) > 1:
            lines = ", ".join(str(t.line) for t in starts)
            problems.append(
                f"the diagram has {len(starts)} initial arrows `[*] --> ...` (lines {lines}): "
                "a breaker starts in exactly one state"
            )
    return problems


def _states_of(table: tuple[Arrow, ...]) -> list[str]:
    states: list[str] = []
    for arrow in table:
        for name in (arrow.source, arrow.target):
            if name != START and name not in states:
                states.append(name)
    return states


def _arrow_problems(
    diagram: Diagram, table: tuple[Arrow, ...], topic: str, *, meaning: bool
) -> list[str]:
    problems: list[str] = []
    canon = _canon(diagram, _states_of(table))
    wanted = [a for a in table if a.source != START and _TOPIC_OF_SOURCE.get(a.source) == topic]
    for arrow in wanted:
        found = [
            t
            for t in diagram.transitions
            if canon.get(t.source, t.source) == arrow.source
            and canon.get(t.target, t.target) == arrow.target
        ]
        pair = (arrow.source, arrow.target)
        question = _MISSING_QUESTION.get(
            pair, f"when does the breaker go from {_show(arrow.source)} to {_show(arrow.target)}?"
        )
        if not found:
            problems.append(f"the transition {_arrow(*pair)} is missing: {question}")
            continue
        if not any(t.label for t in found):
            problems.append(
                f"the transition {_arrow(*pair)} (line {found[0].line}) has no label: write its "
                f"trigger after a colon, `{_arrow(*pair)} : ...` ({question})"
            )
            continue
        rule = TRIGGER_RULES.get(pair)
        if meaning and rule is not None and not any(rule.matches(t.label) for t in found):
            labels = " / ".join(repr(t.label) for t in found)
            problems.append(
                f"the transition {_arrow(*pair)} is there, but its label {labels} does not say "
                f"{rule.should_say}"
            )
    return problems


def _shortcut_problems(diagram: Diagram, table: tuple[Arrow, ...]) -> list[str]:
    problems: list[str] = []
    states = _states_of(table)
    canon = _canon(diagram, states)
    allowed = {(a.source, a.target) for a in table}
    between_states = [
        t
        for t in diagram.transitions
        if canon.get(t.source, t.source) in states
        and canon.get(t.target, t.target) in states
        and canon.get(t.source, t.source) != canon.get(t.target, t.target)
    ]
    if not between_states:
        # An empty machine has no shortcuts only because it has no arrows at all.
        problems.append(
            "your diagram has no transition between the breaker's states yet, so there is "
            "nothing to check for shortcuts: draw the four transitions first"
        )
    for t in diagram.transitions:
        src, dst = canon.get(t.source, t.source), canon.get(t.target, t.target)
        where = f"(line {t.line})"
        if src == START:
            continue
        if dst == START:
            problems.append(
                f"{diagram.display(t.source)} --> [*] {where} ends the machine, but a circuit "
                "breaker never stops: it keeps cycling between its states; remove this arrow"
            )
        elif src == dst:
            continue  # a self-loop changes nothing: allowed (e.g. Open --> Open : rejected)
        elif src in states and dst in states:
            if (src, dst) not in allowed:
                why = _WHY_WRONG.get(
                    (src, dst), "the reference breaker never makes this transition"
                )
                problems.append(f"{_arrow(src, dst)} {where} is wrong: {why}")
        else:
            unknown = [
                diagram.display(n) for n, c in ((t.source, src), (t.target, dst)) if c not in states
            ]
            problems.append(
                f"{diagram.display(t.source)} --> {diagram.display(t.target)} {where} uses "
                f"{' and '.join(unknown)}, which is not one of the breaker's states "
                f"({', '.join(_show(s) for s in states)}): put details like this inside a "
                "composite state, `state Closed { ... }`"
            )
    return problems


def review(
    diagram_text: str, table: tuple[Arrow, ...] = SEED_TABLE, *, meaning: bool = True
) -> dict[str, list[str]]:
    """Every problem in a diagram, by topic (empty lists when it is right).

    Args:
        diagram_text: the Mermaid ``stateDiagram-v2`` source.
        table: the expected machine (default: the seed's; graders pass :func:`reference_table`).
        meaning: also check that each label means its trigger (:data:`TRIGGER_RULES`).

    Returns:
        ``{topic: [problem, ...]}`` for every topic in :data:`TOPICS`.

    Raises:
        AssertionError: the text is not a string or cannot be parsed.
    """
    diagram = _parse_student(diagram_text)
    return {
        "states": _states_problems(diagram, table),
        "trip": _arrow_problems(diagram, table, "trip", meaning=meaning),
        "cooldown": _arrow_problems(diagram, table, "cooldown", meaning=meaning),
        "trial": _arrow_problems(diagram, table, "trial", meaning=meaning),
        "shortcuts": _shortcut_problems(diagram, table),
    }


def _fail_on(problems: list[str], what: str) -> None:
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise AssertionError(f"{what}:\n{listed}")


def _check(diagram_text: Any, topic: str, success: str) -> None:
    problems = review(diagram_text, SEED_TABLE, meaning=False)[topic]
    _fail_on(problems, "Not yet")
    print(f"✓ {success}")


def _grade(diagram_text: Any, topic: str) -> None:
    problems = review(diagram_text, reference_table(), meaning=True)[topic]
    _fail_on(problems, "Compared with the reference circuit breaker")


def check_states(diagram_text: Any) -> None:
    """Visible check: Closed, Open and HalfOpen are there and the diagram starts Closed."""
    _check(
        diagram_text,
        "states",
        "Closed, Open and HalfOpen are there, and a new breaker starts Closed.",
    )


def check_trip(diagram_text: Any) -> None:
    """Visible check: a labelled Closed --> Open arrow."""
    _check(
        diagram_text,
        "trip",
        "Closed --> Open is there with a trigger. (The hidden tests "
        "also read the label: it should say when the breaker trips.)",
    )


def check_cooldown(diagram_text: Any) -> None:
    """Visible check: a labelled Open --> HalfOpen arrow."""
    _check(
        diagram_text,
        "cooldown",
        "Open --> HalfOpen is there with a trigger. (The hidden "
        "tests also read the label: it should say what ends the Open state.)",
    )


def check_trial(diagram_text: Any) -> None:
    """Visible check: labelled HalfOpen --> Closed and HalfOpen --> Open arrows."""
    _check(
        diagram_text,
        "trial",
        "HalfOpen has both exits, each with a trigger. (The hidden "
        "tests also read the labels: which trial outcome leads where?)",
    )


def check_shortcuts(diagram_text: Any) -> None:
    """Visible check: no arrow between the breaker's states other than the four."""
    _check(
        diagram_text,
        "shortcuts",
        "no shortcuts: the breaker moves only along its four transitions.",
    )


def grade_states(diagram_text: Any) -> None:
    """Hidden grading: the reference's states are all top-level, with its initial state."""
    _grade(diagram_text, "states")


def grade_trip(diagram_text: Any) -> None:
    """Hidden grading: Closed --> Open exists and its label says the failure rate tripped it."""
    _grade(diagram_text, "trip")


def grade_cooldown(diagram_text: Any) -> None:
    """Hidden grading: Open --> HalfOpen exists and its label says the cooldown expired."""
    _grade(diagram_text, "cooldown")


def grade_trial(diagram_text: Any) -> None:
    """Hidden grading: both exits of HalfOpen exist, each labelled with the right trial outcome."""
    _grade(diagram_text, "trial")


def grade_shortcuts(diagram_text: Any) -> None:
    """Hidden grading: no transition between the reference's states beyond its table."""
    _grade(diagram_text, "shortcuts")
