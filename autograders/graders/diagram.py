"""Hidden graders of the state-diagram challenge (notebook 07): instructor side only.

The hidden region of each test cell of notebook 07 imports one function from here.
They grade by conformance (see :mod:`course_lib.checks.diagram`): a pristine copy of
the reference breaker is driven through many seeded event sequences over several
configurations, and every step it takes must be an arrow of the student's diagram
with a fitting label, with no arrow the reference never takes. A failure explains,
with the shortest sequence found (shrunk by the kit), what the reference does (this
is feedback shown after grading, so it may name the reference's arrows).

The operator's machine of exercise 2 (after resilience4j's DISABLED and FORCED_OPEN)
has no reference class in ``course_lib``: :class:`OperatorRun` below is its pristine
reference, written from these rules (the notebook states them in prose):

* **disable** (from any state but Disabled) -> Disabled: every call is let through and
  nothing is recorded; no trip, no cooldown. Disabling a Disabled breaker changes nothing.
* **force open** (from any state but ForcedOpen) -> ForcedOpen: every call is refused,
  however long one waits; no cooldown, no trial calls. Forcing it again changes nothing.
* **reset** (from every state, Closed included) -> Closed with an empty window.
* Closed, Open and HalfOpen otherwise behave as the reference breaker.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from types import ModuleType
from typing import Any, Final

from autograders.graders._pristine import load_reference
from course_lib.breaker_vocabulary import CLOSED, HALF_OPEN, OPEN
from course_lib.checks.diagram import (
    BREAKER_MACHINE,
    DISABLED,
    FORCED_OPEN,
    OPERATOR_MACHINE,
    OPERATOR_SITUATIONS,
    BreakerRun,
    Config,
    Step,
    explore,
    report_failure,
    review,
)

__all__ = [
    "CONFIGS",
    "OperatorRun",
    "breaker_steps",
    "grade_closed",
    "grade_half_open",
    "grade_open",
    "grade_operator",
    "operator_steps",
    "seeded_runs",
]

CONFIGS: Final[tuple[Config, ...]] = (
    Config(),
    Config(window_size=5, minimum_calls=2, failure_rate_threshold=0.4, half_open_max_calls=3),
    Config(window_size=3, minimum_calls=3, cooldown=5.0, half_open_max_calls=2),
    Config(window_size=6, minimum_calls=4, cooldown=20.0, half_open_max_calls=3),
    Config(window_size=4, minimum_calls=4, failure_rate_threshold=0.75, half_open_max_calls=1),
)
"""The reference's settings the runs use (several, so no diagram fits one by luck)."""

RUNS: Final = 400
"""Seeded runs per machine."""

_BREAKER_EVENTS: Final = "aaaassfffwh"
_OPERATOR_EVENTS: Final = _BREAKER_EVENTS + "DFR"


def _pristine_breaker() -> ModuleType:
    """A pristine copy of ``course_lib.breaker``, whatever a notebook did to the imported one."""
    return load_reference("breaker")


def seeded_runs(alphabet: str, runs: int = RUNS, seed: int = 7) -> list[tuple[Config, str]]:
    """``runs`` event sequences over :data:`CONFIGS`, from one seed.

    Each run is 1 to 40 events drawn from ``alphabet``; half of them start by
    tripping the breaker and letting the cooldown pass (``af`` per window slot,
    then ``w``), so that HalfOpen is explored as often as Closed.
    """
    rng = random.Random(seed)
    result = []
    for _ in range(runs):
        config = rng.choice(CONFIGS)
        prefix = "af" * config.window_size + "w" if rng.random() < 0.5 else ""
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        result.append((config, prefix + tail))
    return result


class OperatorRun:
    """The operator's machine (exercise 2): the reference breaker plus Disabled and ForcedOpen.

    Same interface as the breaker runs of :func:`course_lib.checks.diagram.explore`:
    ``state``, ``can(event)`` and ``step(event) -> (situation, allow's answer, target)``.
    """

    def __init__(self, module: ModuleType, config: Config) -> None:
        self.run = BreakerRun(module, config)
        self.mode: str | None = None  # DISABLED / FORCED_OPEN, or None: the breaker decides
        self.in_flight = 0  # calls let through while Disabled

    @property
    def state(self) -> str:
        return self.mode or self.run.state

    def can(self, event: str) -> bool:
        if event in "DFR":
            return True
        if self.mode is None:
            return self.run.can(event)
        return self.in_flight > 0 if event in "sf" else event in "awh"

    def step(self, event: str) -> tuple[str, bool | None, str]:
        source = self.state
        if event in "DF":
            target = DISABLED if event == "D" else FORCED_OPEN
            if source == target:
                return "", None, source  # nothing changes
            self.mode, self.in_flight = target, 0
            self.run.in_flight = 0
            return f"{source}.{'disable' if event == 'D' else 'force_open'}", None, target
        if event == "R":
            self.run.breaker.reset()
            self.mode, self.in_flight, self.run.in_flight = None, 0, 0
            return f"{source}.reset", None, CLOSED
        if self.mode is None:
            return self.run.step(event)
        if event in "wh":
            return "", None, source  # no cooldown in either mode
        if self.mode == FORCED_OPEN:
            return "forced_open.reject", False, source
        if event == "a":
            self.in_flight += 1
            return "disabled.call", True, source
        self.in_flight -= 1
        return "disabled.call", None, source


def _breaker_start() -> Callable[[Config], Any]:
    module = _pristine_breaker()
    return lambda config: BreakerRun(module, config)


def _operator_start() -> Callable[[Config], Any]:
    module = _pristine_breaker()
    return lambda config: OperatorRun(module, config)


@functools.cache
def breaker_steps() -> tuple[Step, ...]:
    """Every step of the pristine reference breaker over the seeded runs (computed once)."""
    return tuple(explore(seeded_runs(_BREAKER_EVENTS), start=_breaker_start()))


@functools.cache
def operator_steps() -> tuple[Step, ...]:
    """Every step of the operator's machine over its seeded runs (computed once)."""
    return tuple(explore(seeded_runs(_OPERATOR_EVENTS, seed=11), start=_operator_start()))


_HEADING: Final = "Compared with the reference breaker over many event sequences"


def _grade(diagram_text: Any, state: str) -> None:
    report = review(
        diagram_text, breaker_steps(), BREAKER_MACHINE, explain=True, start=_breaker_start()
    )
    report_failure(report, state, _HEADING)


def grade_closed(diagram_text: Any) -> None:
    """Hidden: the initial state, and every step the reference takes from Closed, is an arrow."""
    _grade(diagram_text, CLOSED)


def grade_open(diagram_text: Any) -> None:
    """Hidden: every step the reference takes from Open is an arrow; no other arrow leaves it."""
    _grade(diagram_text, OPEN)


def grade_half_open(diagram_text: Any) -> None:
    """Hidden: every step the reference takes from HalfOpen is an arrow; no other leaves it."""
    _grade(diagram_text, HALF_OPEN)


def grade_operator(diagram_text: Any) -> None:
    """Hidden: the operator's steps (disable, force open, reset; inside Disabled and
    ForcedOpen) are all arrows, and every arrow is a step the machine takes."""
    report = review(
        diagram_text,
        operator_steps(),
        OPERATOR_MACHINE,
        required=lambda step: step.situation in OPERATOR_SITUATIONS,
        explain=True,
        start=_operator_start(),
    )
    report_failure(report, None, _HEADING + " and the operator's rules")
