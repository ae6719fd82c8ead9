"""Visible checks for the state-diagram challenge (notebook 07), and the conformance engine.

The student draws two Mermaid ``stateDiagram-v2`` machines:

* ``DIAGRAM``, the event-level machine of the breaker built in notebook 01: what
  each event (``allow()``, ``record_success()``, ``record_failure()``, time
  passing) does in each state, including the events that leave the state as it
  is (a call refused while Open, a failure before ``minimum_calls`` calls...);
* ``OPERATOR_DIAGRAM``, the same breaker with an operator's two extra states,
  Disabled and ForcedOpen (after resilience4j), whose rules the notebook states in prose.

**Conformance.** A diagram is graded by what the reference breaker *does*, not
by comparing it with a drawing: the reference (:class:`course_lib.breaker.CircuitBreaker`
on a :class:`~course_lib.clock.ManualClock`) is driven through event sequences
(:func:`explore`), every step it makes is classified into a :class:`Situation`
(its source state and what happened) and recorded with its target state, and:

* every situation the reference met must be an arrow of the diagram, from the
  step's source to its target, whose label says what triggers it (:class:`LabelRule`);
* every arrow of the diagram must be such a step: an arrow that fits no step
  the reference took is reported, with the shortest event sequence that shows
  what the reference does instead.

The visible checks here use a small fixed set of sequences (:data:`VISIBLE_RUNS`)
and never name the target of a missing arrow; the hidden graders
(``autograders/graders/diagram.py``, instructor side) use many seeded sequences
and explain the reference's move in the feedback.

Mermaid state ids are case-sensitive (``Closed`` is not ``closed``): a state
written two ways is two states, and the checks say so.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

from course_lib.breaker_vocabulary import CLOSED, HALF_OPEN, MERMAID_NAMES, OPEN, TRIP_RULE
from course_lib.checks.kit import CheckFailed, fail, plain, shorter_sequences, shrink
from course_lib.diagram import START, Diagram, DiagramSyntaxError, parse, require_written

__all__ = [
    "BREAKER_MACHINE",
    "BREAKER_SITUATIONS",
    "BREAKER_STATES",
    "DISABLED",
    "EVENT_WORDS",
    "FORCED_OPEN",
    "OPERATOR_MACHINE",
    "OPERATOR_SITUATIONS",
    "OPERATOR_STATES",
    "VISIBLE_RUNS",
    "Arrow",
    "BreakerRun",
    "CheckFailed",
    "Config",
    "LabelRule",
    "Machine",
    "Report",
    "Situation",
    "Step",
    "breaker_runner",
    "check_closed",
    "check_half_open",
    "check_open",
    "check_operator",
    "classify",
    "conformance",
    "explore",
    "minimal",
    "read",
    "report_failure",
    "review",
]

# --- states ------------------------------------------------------------------------------

DISABLED: Final = "disabled"
FORCED_OPEN: Final = "forced_open"

BREAKER_STATES: Final[dict[str, str]] = {s: MERMAID_NAMES[s] for s in (CLOSED, OPEN, HALF_OPEN)}
"""The breaker's states -> their Mermaid names (``Closed``, ``Open``, ``HalfOpen``)."""

OPERATOR_STATES: Final[dict[str, str]] = {
    **BREAKER_STATES,
    DISABLED: "Disabled",
    FORCED_OPEN: "ForcedOpen",
}
"""The operator's machine: the breaker's states plus Disabled and ForcedOpen."""


def _compact(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name).lower()


# --- labels ------------------------------------------------------------------------------

_TOKENS = re.compile(r">=|<=|!=|≥|≤|[<>]|[a-z]+")


@dataclass(frozen=True, slots=True)
class LabelRule:
    """What an arrow's label must say for one situation.

    A label *fits* when, for every group in ``all_of``, one of its words
    matches one of the group's stems, and no word matches a stem in
    ``none_of``. Words are the label's runs of letters, lower-cased, and the
    comparison signs ``>=``, ``<=``, ``<``, ``>`` (``≥``, ``≤`` too). A stem of
    four or more characters matches the words starting with it (``fail`` ->
    ``fails``, ``failure``); a shorter stem or a sign matches only itself.
    """

    all_of: tuple[tuple[str, ...], ...]
    none_of: tuple[str, ...] = ()

    @staticmethod
    def words(label: str) -> list[str]:
        """The label's words and signs: ``"Rate >= 50%"`` -> ``['rate', '>=']``."""
        return _TOKENS.findall(label.lower())

    def fits(self, label: str) -> bool:
        """Whether ``label`` says what this rule asks for."""
        words = self.words(label)

        def says(stems: Iterable[str]) -> bool:
            return any(
                word == stem or (len(stem) >= 4 and word.startswith(stem))
                for word in words
                for stem in stems
            )

        return all(says(group) for group in self.all_of) and not says(self.none_of)


@dataclass(frozen=True, slots=True)
class Situation:
    """A kind of step of a state machine: its source state and what happened.

    Attributes:
        key: an identifier, e.g. ``"open.reject"``.
        source: the state the step starts in.
        words: what happened, in plain words (messages complete "what happens when ...").
        rule: what the arrow's label must say.
    """

    key: str
    source: str
    words: str
    rule: LabelRule


_CALL = ("call", "request", "allow", "permit", "let", "pass", "through", "admit", "grant")
_REFUSE = ("reject", "refus", "deny", "denied", "fast", "fallback", "block", "short")
_TRIAL = ("trial", "probe", "test")
_FAIL = ("fail", "error")
_SUCCESS = ("succe", "ok")


def _situations(*items: Situation) -> dict[str, Situation]:
    return {s.key: s for s in items}


BREAKER_SITUATIONS: Final[dict[str, Situation]] = _situations(
    Situation(
        "closed.allow",
        CLOSED,
        "a call asks for a permit (allow()) while Closed",
        LabelRule((_CALL,), _REFUSE + _FAIL + _SUCCESS + _TRIAL + ("trip", "cool", "thresh")),
    ),
    Situation(
        "closed.success",
        CLOSED,
        "a call succeeds (record_success()) while Closed",
        LabelRule((_SUCCESS,), _FAIL + _TRIAL + _REFUSE + ("trip", ">=", "≥")),
    ),
    Situation(
        "closed.failure_below_minimum",
        CLOSED,
        "a call fails while Closed and the window holds fewer than minimum_calls calls",
        LabelRule(
            (_FAIL, ("minimum", "min", "fewer", "few", "enough", "less")),
            _TRIAL + _REFUSE + ("trip", ">=", "≥", "reach", "exceed", "least"),
        ),
    ),
    Situation(
        "closed.failure_below_threshold",
        CLOSED,
        "a call fails while Closed, the window holds at least minimum_calls calls, and the "
        "failure rate stays below the threshold",
        LabelRule(
            (_FAIL, ("threshold", "rate"), ("<", "below", "under", "less", "lower")),
            _TRIAL + _REFUSE + ("trip", ">=", "≥", "<=", "≤", "reach", "exceed"),
        ),
    ),
    Situation(
        "closed.trip",
        CLOSED,
        f"the failure rate reaches the threshold ({TRIP_RULE})",
        LabelRule(
            (_FAIL + ("rate",), ("threshold", "limit"), (">=", "≥", "reach", "least")),
            (">", "exceed", "above", "more", "over") + _TRIAL + ("cool",),
        ),
    ),
    Situation(
        "open.reject",
        OPEN,
        "a call arrives while Open and the cooldown is not over",
        LabelRule((_REFUSE,), _TRIAL + ("expir", "elaps", "succe")),
    ),
    Situation(
        "open.cooldown",
        OPEN,
        "a call arrives while Open once the cooldown is over",
        LabelRule(
            (("cool", "timeout", "expir", "elaps", "wait", "over", "time"),),
            _FAIL + _SUCCESS + _REFUSE + ("threshold", "not", "before"),
        ),
    ),
    Situation(
        "half_open.permit",
        HALF_OPEN,
        "a call arrives while HalfOpen and a trial permit is free",
        LabelRule(
            (
                _CALL + ("start", "take"),
                _TRIAL + ("permit", "free", "left", "avail", "spare", "remain", "<"),
            ),
            _REFUSE
            + _FAIL
            + _SUCCESS
            + ("exhaust", "full", "taken", "used", "no", "none", "all", "busy", "every"),
        ),
    ),
    Situation(
        "half_open.refuse",
        HALF_OPEN,
        "a call arrives while HalfOpen and every trial permit is taken",
        LabelRule(
            (
                _REFUSE,
                (
                    "permit",
                    "trial",
                    "taken",
                    "exhaust",
                    "full",
                    "used",
                    "all",
                    "busy",
                    "no",
                    "left",
                    "outstanding",
                    "flight",
                    "every",
                ),
            ),
            ("cool", "succe"),
        ),
    ),
    Situation(
        "half_open.trial_success_more",
        HALF_OPEN,
        "a trial call succeeds while HalfOpen and not all the trial calls have succeeded yet",
        LabelRule(
            (
                _SUCCESS,
                (
                    "more",
                    "remain",
                    "outstanding",
                    "pending",
                    "left",
                    "still",
                    "other",
                    "not",
                    "fewer",
                    "<",
                    "before",
                    "wait",
                    "some",
                    "until",
                    "yet",
                ),
            ),
            _FAIL + _REFUSE,
        ),
    ),
    Situation(
        "half_open.close",
        HALF_OPEN,
        "the last of the trial calls succeeds (every trial call succeeded)",
        LabelRule(
            (
                _SUCCESS + ("pass", "healthy"),
                ("all", "every", "last", "each", "final", "both"),
            ),
            _FAIL + _REFUSE + ("not", "some"),
        ),
    ),
    Situation(
        "half_open.reopen",
        HALF_OPEN,
        "a trial call fails while HalfOpen",
        LabelRule((_FAIL,), _SUCCESS + ("reject", "refus", "deny", "taken", "fast", "fallback")),
    ),
)
"""Every kind of step the reference breaker makes, by source state (exercise 1)."""

_DISABLE = ("disabl",)
_FORCE = ("force", "forcing")
_RESET = ("reset",)

OPERATOR_SITUATIONS: Final[dict[str, Situation]] = _situations(
    *(
        Situation(
            f"{source}.disable",
            source,
            f"the operator disables the breaker while {name}",
            LabelRule((_DISABLE,), _FORCE + _RESET),
        )
        for source, name in OPERATOR_STATES.items()
        if source != DISABLED
    ),
    *(
        Situation(
            f"{source}.force_open",
            source,
            f"the operator forces the breaker open while {name}",
            LabelRule((_FORCE,), _DISABLE + _RESET),
        )
        for source, name in OPERATOR_STATES.items()
        if source != FORCED_OPEN
    ),
    *(
        Situation(
            f"{source}.reset",
            source,
            f"the operator resets the breaker while {name}",
            LabelRule((_RESET,), _DISABLE + _FORCE),
        )
        for source, name in OPERATOR_STATES.items()
    ),
    Situation(
        "disabled.call",
        DISABLED,
        "a call arrives, succeeds or fails while Disabled",
        LabelRule(
            (_CALL + _SUCCESS + _FAIL + ("every", "always", "all"),),
            _REFUSE + _DISABLE + _FORCE + _RESET + ("trip", "cool"),
        ),
    ),
    Situation(
        "forced_open.reject",
        FORCED_OPEN,
        "a call arrives while ForcedOpen",
        LabelRule((_REFUSE,), _DISABLE + _FORCE + _RESET + ("expir", "trial")),
    ),
)
"""The operator's steps (exercise 2): only their words and labels live here; which
state each one leads to is the hidden graders' business (and the notebook's prose)."""


# --- driving the reference ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Config:
    """The reference breaker's settings for one run (a count window, a manual clock)."""

    window_size: int = 4
    minimum_calls: int = 3
    failure_rate_threshold: float = 0.5
    cooldown: float = 10.0
    half_open_max_calls: int = 2

    def describe(self) -> str:
        """E.g. ``window_size=4, minimum_calls=3, threshold 50%, cooldown 10 s, 2 trial calls``."""
        return (
            f"window_size={self.window_size}, minimum_calls={self.minimum_calls}, "
            f"threshold {self.failure_rate_threshold:.0%}, cooldown {self.cooldown:g} s, "
            f"{self.half_open_max_calls} trial call{'s' * (self.half_open_max_calls != 1)}"
        )


EVENT_WORDS: Final[dict[str, str]] = {
    "a": "allow()",
    "s": "record_success()",
    "f": "record_failure()",
    "w": "the cooldown passes",
    "h": "half the cooldown passes",
    "D": "disable",
    "F": "force open",
    "R": "reset",
}
"""The events of a run, one letter each: a call asks ``allow()``; the oldest call let
through (in the current state) succeeds or fails; time passes; the operator acts."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the reference: its situation, source and target states, and how it was reached.

    Attributes:
        situation: a :class:`Situation` key.
        source: the state before the event.
        target: the state after it.
        config: the breaker's settings.
        events: the run's events up to and including this one (letters of :data:`EVENT_WORDS`).
        results: what each ``allow()`` of ``events`` answered, in order.
    """

    situation: str
    source: str
    target: str
    config: Config
    events: str
    results: tuple[bool, ...] = ()

    def describe(self) -> str:
        """The events in words, e.g. ``allow() -> True, record_failure(), ...``."""
        answers = iter(self.results)
        words = []
        for event in self.events:
            text = EVENT_WORDS[event]
            if event == "a":
                text += " -> let through" if next(answers, False) else " -> refused"
            words.append(text)
        return f"({self.config.describe()}) " + ", ".join(words)


class BreakerRun:
    """Drives one reference breaker: ``step(event)`` -> (situation, allow's answer, target)."""

    def __init__(self, module: ModuleType, config: Config) -> None:
        from course_lib.clock import ManualClock

        self.clock = ManualClock()
        self.config = config
        self.breaker = module.CircuitBreaker(
            window_size=config.window_size,
            minimum_calls=config.minimum_calls,
            failure_rate_threshold=config.failure_rate_threshold,
            cooldown=config.cooldown,
            half_open_max_calls=config.half_open_max_calls,
            clock=self.clock,
        )
        self.in_flight = 0  # calls let through in the current state, outcome not reported

    @property
    def state(self) -> str:
        return str(self.breaker.state.value)

    def can(self, event: str) -> bool:
        """Whether ``event`` makes sense now (an outcome needs a call in flight)."""
        return self.in_flight > 0 if event in "sf" else event in "awh"

    def step(self, event: str) -> tuple[str, bool | None, str]:
        cb = self.breaker
        source = self.state
        allowed: bool | None = None
        if event == "a":
            allowed = bool(cb.allow())
        elif event in "sf":
            self.in_flight -= 1
            (cb.record_success if event == "s" else cb.record_failure)()
        else:
            self.clock.advance(self.config.cooldown * (1.0 if event == "w" else 0.5))
            return "", None, source
        target = self.state
        if target != source:
            self.in_flight = 0  # their outcomes would come late: they change nothing
        if allowed:
            self.in_flight += 1
        return classify(source, event, allowed, target, cb), allowed, target


def classify(source: str, event: str, allowed: bool | None, target: str, breaker: Any) -> str:
    """The :data:`BREAKER_SITUATIONS` key of one step of the reference breaker.

    Args:
        source: the state before the event.
        event: ``"a"`` (allow), ``"s"`` (a success) or ``"f"`` (a failure).
        allowed: what ``allow()`` answered (``None`` for an outcome).
        target: the state after the event.
        breaker: the reference breaker after the step (its window is read).
    """
    if source == CLOSED:
        if event == "a":
            return "closed.allow"
        if target != CLOSED:
            return "closed.trip"
        if event == "s":
            return "closed.success"
        if breaker.window_calls < breaker.minimum_calls:
            return "closed.failure_below_minimum"
        return "closed.failure_below_threshold"
    if source == OPEN:
        return "open.cooldown" if target != OPEN else "open.reject"
    if event == "a":
        return "half_open.permit" if allowed else "half_open.refuse"
    if event == "f":
        return "half_open.reopen"
    return "half_open.close" if target != HALF_OPEN else "half_open.trial_success_more"


def explore(
    runs: Iterable[tuple[Config, str]],
    *,
    start: Callable[[Config], Any],
) -> list[Step]:
    """Drive a fresh machine through each run and return every step it made.

    Args:
        runs: ``(config, events)`` pairs; ``events`` are letters of :data:`EVENT_WORDS`.
            An outcome with no call in flight is skipped.
        start: makes the machine for a config; it has ``can(event)`` and
            ``step(event) -> (situation, allow's answer, target)``, and ``state``.
            A step whose situation is ``""`` is no step (time passing, say).

    Returns:
        The steps, in order.
    """
    steps: list[Step] = []
    for config, events in runs:
        machine = start(config)
        done = ""
        results: list[bool] = []
        for event in events:
            if not machine.can(event):
                continue
            source = machine.state
            situation, allowed, target = machine.step(event)
            done += event
            if allowed is not None:
                results.append(allowed)
            if situation:
                steps.append(Step(situation, source, target, config, done, tuple(results)))
    return steps


def breaker_runner(load: Callable[[], ModuleType]) -> Callable[[Config], BreakerRun]:
    """``start`` for :func:`explore`: a reference breaker from the module ``load()`` returns."""
    module = load()
    return lambda config: BreakerRun(module, config)


def _imported_breaker() -> ModuleType:
    import course_lib.breaker

    return course_lib.breaker


VISIBLE_RUNS: Final[tuple[tuple[Config, str], ...]] = (
    (Config(), "afasasasaf"),
    (Config(), "afafafahawaaass"),
    (Config(), "afafafwaaass"),
    (Config(), "afafafwaf"),
    (Config(), "afafas"),
)
"""The visible checks' runs: with window 4, minimum 3 calls, threshold 50%, cooldown 10 s
and 2 trial calls, every situation of :data:`BREAKER_SITUATIONS` happens at least once."""


# --- reading a diagram -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Machine:
    """What a diagram must model: its states and the situations its arrows may label."""

    name: str
    states: Mapping[str, str]
    situations: Mapping[str, Situation]
    variable: str = "DIAGRAM"


BREAKER_MACHINE: Final = Machine("breaker", BREAKER_STATES, BREAKER_SITUATIONS)
OPERATOR_MACHINE: Final = Machine(
    "operator",
    OPERATOR_STATES,
    {**BREAKER_SITUATIONS, **OPERATOR_SITUATIONS},
    "OPERATOR_DIAGRAM",
)


@dataclass(frozen=True, slots=True)
class Arrow:
    """A top-level arrow of the student's diagram, its states mapped onto the machine's."""

    source: str | None
    target: str | None
    label: str
    line: int
    text: str


@dataclass
class Report:
    """What is wrong with a diagram: problems for the whole diagram and by source state."""

    general: list[str] = field(default_factory=list)
    by_state: dict[str, list[str]] = field(default_factory=dict)

    def problems(self, state: str | None = None) -> list[str]:
        """The general problems, then those of ``state`` (all states when ``None``)."""
        if state is None:
            return self.general + [p for ps in self.by_state.values() for p in ps]
        return self.general + self.by_state.get(state, [])


def _plain_text(diagram_text: Any, variable: str) -> str:
    require_written(diagram_text)
    text: str = plain(diagram_text, variable, "text")
    return text


def read(diagram_text: Any, machine: Machine) -> tuple[Diagram, list[Arrow], list[str], list[str]]:
    """Parse a diagram and map its state ids onto the machine's states.

    Args:
        diagram_text: the student's ``DIAGRAM`` (must be a plain ``str``).
        machine: the states and situations it models.

    Returns:
        The parsed diagram, its top-level arrows (states mapped; ``None`` for an
        id that is none of the machine's states), the problems found with the
        states themselves (spellings, unknown states, missing states) and those
        with the initial state.

    Raises:
        CheckFailed: the text is not a string or Mermaid cannot read it.
        NotImplementedError: the diagram is still ``None``.
    """
    text = _plain_text(diagram_text, machine.variable)
    try:
        diagram = parse(text)
    except DiagramSyntaxError as error:
        fail(f"Mermaid cannot read your diagram. {error}")
    by_compact = {_compact(name): state for state, name in machine.states.items()}
    spellings: dict[str, list[str]] = {}
    unknown: list[str] = []
    for state_id in diagram.states:
        state = by_compact.get(_compact(state_id))
        if state is None:
            unknown.append(state_id)
        else:
            spellings.setdefault(state, []).append(state_id)
    problems: list[str] = []
    for state, written in spellings.items():
        if len(written) > 1:
            lines = ", ".join(f"`{i}` (line {_first_line(diagram, i)})" for i in written)
            problems.append(
                f"{' and '.join(written)} are {len(written)} different states in Mermaid: state "
                f"ids are case-sensitive and exact, so {lines} draw {len(written)} boxes. "
                f"Write the {machine.states[state]} state one way everywhere: "
                f"`{machine.states[state]}`"
            )
    for state_id in unknown:
        names = list(machine.states.values())
        close = difflib.get_close_matches(state_id, names, n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        problems.append(
            f"`{state_id}` (line {_first_line(diagram, state_id)}) is not a state of this "
            f"machine{hint}: Mermaid draws it as a new state. The states are "
            f"{', '.join(names)}"
        )
    for state, name in machine.states.items():
        if state not in spellings:
            problems.append(f"the state {name} is missing: no arrow goes into or out of it")
    ids: dict[str, str | None] = {i: by_compact.get(_compact(i)) for i in diagram.states}
    ids[START] = START
    starts = diagram.initial_transitions
    closed = machine.states[CLOSED]
    start: list[str] = []
    if not starts:
        start.append(f"there is no initial state: add `[*] --> {closed}`")
    elif len(starts) > 1:
        lines = ", ".join(str(t.line) for t in starts)
        start.append(f"the diagram has {len(starts)} initial arrows (lines {lines}): one only")
    elif ids.get(starts[0].target) != CLOSED:
        start.append(
            f"your diagram starts in {starts[0].target} (line {starts[0].line}), but a new "
            f"breaker starts {closed}"
        )
    arrows = [
        Arrow(ids.get(t.source), ids.get(t.target), t.label, t.line, str(t))
        for t in diagram.transitions
        if t.source != START
    ]
    return diagram, arrows, problems, start


def _first_line(diagram: Diagram, state_id: str) -> int:
    return next((t.line for t in diagram.transitions if state_id in (t.source, t.target)), 0)


# --- conformance -------------------------------------------------------------------------


def conformance(
    arrows: Sequence[Arrow],
    steps: Sequence[Step],
    machine: Machine,
    *,
    required: Callable[[Step], bool] = lambda step: True,
    explain: bool = False,
    start: Callable[[Config], Any] | None = None,
) -> dict[str, list[str]]:
    """Compare a diagram's arrows with the steps the reference took, by source state.

    Args:
        arrows: the diagram's arrows (from :func:`read`).
        steps: what the reference did (from :func:`explore`).
        machine: the states and situations.
        required: which steps must be arrows (the others are only allowed).
        explain: also say where the reference goes (the hidden graders' feedback;
            the visible checks never name the target of a missing arrow).
        start: the machine ``steps`` came from (see :func:`explore`); when given, each
            sequence a message shows is shrunk first (:func:`minimal`).

    Returns:
        ``{state: [problem, ...]}`` for the source states that have problems.
    """
    names = machine.states

    def shown(step: Step, same: Callable[[Step], bool]) -> str:
        return (step if start is None else minimal(step, start, same)).describe()

    shortest: dict[tuple[str, str], Step] = {}
    for step in steps:
        key = (step.situation, step.target)
        if key not in shortest or len(step.events) < len(shortest[key].events):
            shortest[key] = step

    def covers(arrow: Arrow, situation: str, target: str) -> bool:
        rule = machine.situations[situation].rule
        return (
            arrow.source == machine.situations[situation].source
            and arrow.target == target
            and rule.fits(arrow.label)
        )

    problems: dict[str, list[str]] = {}
    for (situation, target), step in sorted(shortest.items(), key=lambda kv: len(kv[1].events)):
        if not required(step) or any(covers(a, situation, target) for a in arrows):
            continue
        words = machine.situations[situation].words
        where = f" it goes from {names[step.source]} to {names[target]}" if explain else ""
        problems.setdefault(step.source, []).append(
            f"no arrow for what happens when {words}. The reference meets it after: "
            f"{shown(step, _same_step(step))};{where or ' what does the breaker do then?'}"
        )
    for arrow in arrows:
        if arrow.source is None or arrow.target is None:
            continue  # an unknown state: reported once by read()
        if arrow.target == START:
            problems.setdefault(arrow.source, []).append(
                f"`{arrow.text}` (line {arrow.line}) ends the machine, but a circuit breaker "
                "never stops: remove this arrow"
            )
            continue
        if any(covers(arrow, s, t) for s, t in shortest):
            continue
        pair = f"{names[arrow.source]} --> {names[arrow.target]}"
        if not arrow.label:
            problems.setdefault(arrow.source, []).append(
                f"`{arrow.text}` (line {arrow.line}) has no label: write what triggers it "
                f"after a colon, `{pair} : ...`"
            )
            continue
        taken = any(
            machine.situations[s].source == arrow.source and t == arrow.target for s, t in shortest
        )
        meant = [
            (s, t, step)
            for (s, t), step in shortest.items()
            if machine.situations[s].source == arrow.source
            and machine.situations[s].rule.fits(arrow.label)
        ]
        if taken:
            message = f"the label {arrow.label!r} does not say what triggers {pair}"
            tokens = LabelRule.words(arrow.label)
            if any(w in (">", "exceed", "exceeds", "above") for w in tokens):
                message += (
                    " (the breaker trips when the failure rate *reaches* the threshold, >=, "
                    "as in resilience4j; 'exceeds' / '>' would leave it Closed at exactly 50%)"
                )
        else:
            message = (
                f"the reference never goes from {names[arrow.source]} to {names[arrow.target]}"
            )
        if meant:
            s, t, step = min(meant, key=lambda m: len(m[2].events))
            message += f": it meets what your label says after {shown(step, _same_step(step))}" + (
                f", and goes to {names[t]}"
                if explain
                else f", and does not go to {names[arrow.target]}"
            )
        elif not taken:
            reach = _reaching(steps, arrow.source)
            message += (
                f" (it is in {names[arrow.source]} "
                + (f"after {shown(reach, _ends_in(reach.target))}" if reach else "at the start")
                + f", and no event sequence tried takes it from there to {names[arrow.target]})"
            )
        problems.setdefault(arrow.source, []).append(
            f"`{arrow.text}` (line {arrow.line}): {message}"
        )
    return problems


def _same_step(step: Step) -> Callable[[Step], bool]:
    return lambda other: (other.situation, other.target) == (step.situation, step.target)


def _ends_in(state: str) -> Callable[[Step], bool]:
    return lambda other: other.target == state


def minimal(step: Step, start: Callable[[Config], Any], same: Callable[[Step], bool]) -> Step:
    """``step`` reached by as few events as the kit's :func:`~course_lib.checks.kit.shrink` finds.

    Args:
        step: a step the machine made.
        start: makes the machine for ``step.config`` (as for :func:`explore`).
        same: whether another step shows the same thing (the same situation and target).

    Returns:
        A step for which ``same`` holds, made by the last of its events, with no event
        that can be left out (or ``step`` itself).
    """

    def last_step(events: str) -> Step | None:
        steps = explore([(step.config, events)], start=start)
        return steps[-1] if steps and steps[-1].events == events else None

    def witness(events: str) -> bool:
        last = last_step(events)
        return last is not None and same(last)

    def candidates(events: str) -> Iterable[str]:
        return ("".join(shorter) for shorter in shorter_sequences(events))

    return last_step(shrink(step.events, witness, candidates)) or step


def _reaching(steps: Sequence[Step], state: str) -> Step | None:
    """The step with the fewest events that ends in ``state`` (``None`` for the start state)."""
    if state == CLOSED:
        return None
    ending = [step for step in steps if step.target == state]
    return min(ending, key=lambda step: len(step.events), default=None)


def review(
    diagram_text: Any,
    steps: Sequence[Step],
    machine: Machine = BREAKER_MACHINE,
    *,
    required: Callable[[Step], bool] = lambda step: True,
    explain: bool = False,
    start: Callable[[Config], Any] | None = None,
) -> Report:
    """Everything wrong with a diagram, compared with the reference's steps (see
    :func:`conformance`; ``start`` shrinks the sequences the messages show)."""
    _, arrows, general, initial = read(diagram_text, machine)
    by_state = conformance(arrows, steps, machine, required=required, explain=explain, start=start)
    if initial:
        by_state[CLOSED] = initial + by_state.get(CLOSED, [])
    return Report(general, by_state)


def report_failure(report: Report, state: str | None, heading: str) -> None:
    """Raise :class:`CheckFailed` listing the report's problems for ``state`` (if any)."""
    problems = report.problems(state)
    if problems:
        shown = problems[:6]
        more = (
            f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        )
        fail(heading + ":\n" + "\n".join(f"  - {p}" for p in shown) + more)


# --- the visible checks ------------------------------------------------------------------


def _visible_steps() -> list[Step]:
    return explore(VISIBLE_RUNS, start=breaker_runner(_imported_breaker))


def _check_state(diagram_text: Any, state: str) -> None:
    start = breaker_runner(_imported_breaker)
    report = review(diagram_text, explore(VISIBLE_RUNS, start=start), start=start)
    name = BREAKER_STATES[state]
    report_failure(report, state, f"Not yet ({name})")
    print(
        f"✓ every step the reference takes from {name} in the visible runs is an arrow "
        "of your diagram with a fitting label, and you drew no other arrow from it. "
        "(The hidden tests try many more event sequences.)"
    )


def check_closed(diagram_text: Any) -> None:
    """Visible check: the initial state and what each event does while Closed."""
    _check_state(diagram_text, CLOSED)


def check_open(diagram_text: Any) -> None:
    """Visible check: what each event does while Open."""
    _check_state(diagram_text, OPEN)


def check_half_open(diagram_text: Any) -> None:
    """Visible check: what each event does while HalfOpen."""
    _check_state(diagram_text, HALF_OPEN)


_OPERATOR_TARGETS: Final = (
    (_DISABLE, DISABLED, "disables"),
    (_FORCE, FORCED_OPEN, "forces open"),
    (_RESET, CLOSED, "resets"),
)


def check_operator(diagram_text: Any) -> None:
    """Visible check of the operator's machine: states, spellings, labels that say their trigger.

    It knows the words of the operator's actions, not where each one leads from
    each state (the notebook says that in prose; the hidden tests check it).
    """
    machine = OPERATOR_MACHINE
    _, arrows, problems, start = read(diagram_text, machine)
    problems += start
    names = machine.states
    for arrow in arrows:
        if arrow.source is None or arrow.target is None or arrow.target == START:
            continue
        pair = f"{names[arrow.source]} --> {names[arrow.target]}"
        if not arrow.label:
            problems.append(f"`{arrow.text}` (line {arrow.line}) has no label")
            continue
        fitting = [
            s
            for s in machine.situations.values()
            if s.source == arrow.source and s.rule.fits(arrow.label)
        ]
        if not fitting:
            problems.append(
                f"`{arrow.text}` (line {arrow.line}): the label {arrow.label!r} does not say "
                f"what triggers {pair}"
            )
        for stems, target, verb in _OPERATOR_TARGETS:
            if LabelRule((stems,)).fits(arrow.label) and arrow.target != target:
                problems.append(
                    f"`{arrow.text}` (line {arrow.line}): an operator who {verb} the breaker "
                    f"does not send it to {names[arrow.target]} (read the rules again)"
                )
    for state in (DISABLED, FORCED_OPEN):
        if not any(a.target == state and a.source != state for a in arrows):
            problems.append(f"no arrow leads into {names[state]}")
        if not any(a.source == state and a.target not in (state, None) for a in arrows):
            problems.append(f"no arrow leaves {names[state]}: how does the operator get it back?")
    report_failure(Report(list(dict.fromkeys(problems))), None, "Not yet (operator states)")
    print(
        "✓ the five states are there, spelled one way each, and every label says what "
        "triggers its arrow. (The hidden tests check where each action leads from each state.)"
    )
