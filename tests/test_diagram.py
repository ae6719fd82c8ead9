"""Notebook 07: the Mermaid parser (course_lib.diagram), the conformance engine and visible
checks (course_lib.checks.diagram) and the hidden graders (autograders.graders.diagram)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest

import course_lib.breaker as breaker
from autograders.assignments import nbgrader_metadata
from autograders.graders import diagram as graders
from course_lib.checks import diagram as checks
from course_lib.checks.diagram import (
    BREAKER_SITUATIONS,
    OPERATOR_SITUATIONS,
    CheckFailed,
    Config,
    explore,
)
from course_lib.diagram import (
    START,
    DiagramSyntaxError,
    Transition,
    normalize_name,
    parse,
    show,
    show_side_by_side,
)

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "autograders" / "submissions" / "07-state-diagram-challenge"

SEED_5 = """stateDiagram-v2
[*] --> Closed : System Normal
Closed --> Open : Failure Rate > Threshold
Open --> HalfOpen : Cooldown Period Expired
HalfOpen --> Closed : Trial Requests Succeed
HalfOpen --> Open : Trial Request Fails
"""

SEED_6 = """stateDiagram-v2
[*] --> Closed : Start Normal
state Closed {
[*] --> MonitorFailures
MonitorFailures --> MonitorFailures : Request Succeeds
}
state Open {
[*] --> RejectRequests
RejectRequests --> RejectRequests : Fail Fast Return Fallback
}
state HalfOpen {
[*] --> SendTrialRequests
SendTrialRequests --> SendTrialRequests : Trial succeeds
}
Closed --> Open : Failure Rate > Threshold (Trip Circuit)
Open --> HalfOpen : Cooldown Duration Expired (Cooldown Timeout)
HalfOpen --> Closed : Trial Requests Succeed (Reset Circuit)
HalfOpen --> Open : Trial Request Fails (Re-trip Circuit)
"""

TEMPLATE_ONLY = SEED_6.split("Closed --> Open")[0]

OUTER = [
    ("Closed", "Open"),
    ("Open", "HalfOpen"),
    ("HalfOpen", "Closed"),
    ("HalfOpen", "Open"),
]


def _pairs(diagram_text: str) -> list[tuple[str, str]]:
    return [(t.source, t.target) for t in parse(diagram_text).transitions if t.source != START]


# --- names: exact, as Mermaid reads them ----------------------------------------------


@pytest.mark.parametrize(
    "name", ["HalfOpen", "Half-Open", "half_open", "HALF_OPEN", "halfOpen", "Closed", "closed"]
)
def test_state_ids_are_kept_exactly_as_written(name: str) -> None:
    assert normalize_name(f" {name} ") == name


def test_two_spellings_are_two_states_as_in_mermaid() -> None:
    diagram = parse("stateDiagram-v2\n[*] --> Closed\nclosed --> open : trip\nOpen --> Closed\n")
    assert diagram.states == ("Closed", "closed", "open", "Open")
    assert diagram.between("closed", "open") != diagram.between("Closed", "Open")


def test_normalize_keeps_the_start_pseudo_state_and_rejects_nonsense() -> None:
    assert normalize_name("[*]") == START
    with pytest.raises(ValueError, match="no letters or digits"):
        normalize_name("--")
    with pytest.raises(ValueError, match="must be a string"):
        normalize_name(3)  # type: ignore[arg-type]


# --- the parser ----------------------------------------------------------------------


def test_seed_section_5_diagram_parses() -> None:
    diagram = parse(SEED_5)
    assert diagram.states == ("Closed", "Open", "HalfOpen")
    assert diagram.initial == "Closed"
    assert _pairs(SEED_5) == OUTER
    assert diagram.between("HalfOpen", "Open") == (
        Transition("HalfOpen", "Open", "Trial Request Fails", 6),
    )
    assert diagram.between("halfopen", "open") == ()
    assert diagram.display("HalfOpen") == "HalfOpen"
    assert diagram.inner == {}


def test_seed_section_6_template_parses_and_keeps_composites_apart() -> None:
    diagram = parse(SEED_6)
    assert diagram.states == ("Closed", "Open", "HalfOpen")
    assert diagram.initial == "Closed"
    assert _pairs(SEED_6) == OUTER
    assert diagram.between("Closed", "Open")[0].label == "Failure Rate > Threshold (Trip Circuit)"
    assert set(diagram.inner) == {"Closed", "Open", "HalfOpen"}
    assert [(t.source, t.target) for t in diagram.inner["Closed"]] == [
        (START, "MonitorFailures"),
        ("MonitorFailures", "MonitorFailures"),
    ]
    # inner states never leak into the outer machine
    assert "MonitorFailures" not in diagram.states


def test_template_without_transitions_parses() -> None:
    diagram = parse(TEMPLATE_ONLY)
    assert diagram.states == ("Closed", "Open", "HalfOpen")
    assert _pairs(TEMPLATE_ONLY) == []


def test_nested_composites_and_concurrent_regions_belong_to_the_outer_state() -> None:
    text = """stateDiagram-v2
    [*] --> Closed
    state Closed {
        state Counting {
            [*] --> Idle
            Idle --> Busy : call
            --
            [*] --> Watching
        }
        Open --> Inside : a name reused inside is a different, inner state
    }
    Closed --> Open : trip
    """
    diagram = parse(text)
    assert diagram.states == ("Closed", "Open")
    assert _pairs(text) == [("Closed", "Open")]
    assert [(t.source, t.target) for t in diagram.inner["Closed"]] == [
        (START, "Idle"),
        ("Idle", "Busy"),
        (START, "Watching"),
        ("Open", "Inside"),
    ]


def test_everything_else_mermaid_allows_is_read_or_ignored() -> None:
    text = """---
title: Circuit breaker
---
%%{init: {"theme": "neutral"}}%%
stateDiagram-v2
    direction LR
    accTitle: The breaker
    accDescr {
        three states
    }
    %% a comment
    classDef bad fill:#f00
    state "Half open: trial calls" as HalfOpen
    Closed : Normal operation
    state Open <<choice>>
    [*]-->Closed:start
    Closed:::bad --> Open:::bad : failures >= threshold;
    note right of Open : fails fast
    note left of HalfOpen
        a few trial calls
    end note
    class Closed bad
    Open --> HalfOpen
"""
    diagram = parse(text)
    assert diagram.states == ("HalfOpen", "Closed", "Open")
    assert diagram.initial == "Closed"
    assert _pairs(text) == [("Closed", "Open"), ("Open", "HalfOpen")]
    assert diagram.between("Closed", "Open")[0].label == "failures >= threshold"
    assert diagram.between("Open", "HalfOpen")[0].label == ""
    assert diagram.descriptions == {
        "HalfOpen": ("Half open: trial calls",),
        "Closed": ("Normal operation",),
    }


def test_a_mermaid_fence_around_the_diagram_is_accepted() -> None:
    assert _pairs(f"```mermaid\n{SEED_5}```\n") == OUTER


def test_final_state_arrows_are_kept() -> None:
    diagram = parse("stateDiagram-v2\n[*] --> A\nA --> [*] : done\n")
    assert diagram.transitions[-1] == Transition("A", START, "done", 3)
    assert diagram.initial_transitions == (Transition(START, "A", "", 2),)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 0, "empty"),
        ("graph TD\nA --> B\n", 1, "must start with the line `stateDiagram-v2`"),
        ("\n\nstateDiagram-v2\nClosed -> Open : trip\n", 4, "'->' is not a Mermaid arrow"),
        ("stateDiagram-v2\nClosed => Open\n", 2, "'=>' is not a Mermaid arrow"),
        ("stateDiagram-v2\n[*] --> Closed\nstate Closed {\n  A --> B\n", 3, "never closed"),
        ("stateDiagram-v2\nA --> B\n}\n", 3, "closes no `state Name {`"),
        ("stateDiagram-v2\nnote left of A\n  text\n", 2, "never closed with `end note`"),
        ("stateDiagram-v2\nA --> B\nthe breaker trips\n", 3, "expected a transition like"),
        ("stateDiagram-v2\nHalf Open --> Open : trip\n", 2, "cannot read this transition"),
        ('stateDiagram-v2\nstate "unfinished as X\n', 2, "expected `state Name`"),
        ("stateDiagram-v2\n--\n", 2, "only works inside"),
        ("---\ntitle: x\nstateDiagram-v2\n", 1, "front matter"),
    ],
)
def test_malformed_diagrams_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(DiagramSyntaxError) as caught:
        parse(text)
    assert caught.value.line == line
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"line {line}" if line else "diagram")


def test_parse_wants_text() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse(None)  # type: ignore[arg-type]


# --- show ----------------------------------------------------------------------------


def test_show_gives_jupyterlab_mermaid_in_markdown_and_its_own_mime_type() -> None:
    bundle = show(SEED_5, title="Mine")._repr_mimebundle_()
    assert bundle["text/vnd.mermaid"] == SEED_5.strip("\n")
    assert bundle["text/markdown"] == f"**Mine**\n\n```mermaid\n{SEED_5.strip()}\n```\n"
    assert bundle["text/plain"].startswith("Mine\nstateDiagram-v2")


def test_show_reports_a_syntax_error_with_its_line_unless_told_not_to() -> None:
    with pytest.raises(DiagramSyntaxError, match="line 2"):
        show("stateDiagram-v2\nA -> B\n")
    assert (
        "A -> B"
        in show("stateDiagram-v2\nA -> B\n", check=False)._repr_mimebundle_()["text/vnd.mermaid"]
    )
    with pytest.raises(ValueError, match="show\\(\\) needs the diagram as a string"):
        show(42)  # type: ignore[arg-type]


def test_side_by_side_puts_two_fenced_diagrams_in_table_columns() -> None:
    bundle = show_side_by_side(SEED_5, SEED_6, titles=("Mine", "Seed"))._repr_mimebundle_()
    markdown = bundle["text/markdown"]
    assert markdown.startswith("<table><tr>") and markdown.count("<td") == 2
    # blank lines around each fence, so the Markdown inside the HTML cells is parsed
    assert f"\n\n**Mine**\n\n```mermaid\n{SEED_5.strip()}\n```\n\n</td>" in markdown
    assert markdown.index("**Mine**") < markdown.index("**Seed**")
    assert bundle["text/plain"].startswith("Mine\nstateDiagram-v2")
    with pytest.raises(DiagramSyntaxError, match="line 2"):
        show_side_by_side(SEED_5, "stateDiagram-v2\nA -> B")
    with pytest.raises(ValueError, match="titles must be a pair of strings"):
        show_side_by_side(SEED_5, SEED_5, titles=("one",))  # type: ignore[arg-type]


# --- the notebook's own answers --------------------------------------------------------

NOTEBOOK = ROOT / "notebooks" / "07-state-diagram-challenge" / "07-state-diagram-challenge.ipynb"
STUB = (
    'raise NotImplementedError("Not written yet: replace this line with your code '
    '(see the exercise above).")'
)
CELLS = {
    "closed-tests": (checks.check_closed, graders.grade_closed, "DIAGRAM"),
    "open-tests": (checks.check_open, graders.grade_open, "DIAGRAM"),
    "half-open-tests": (checks.check_half_open, graders.grade_half_open, "DIAGRAM"),
    "operator-tests": (checks.check_operator, graders.grade_operator, "OPERATOR_DIAGRAM"),
}


def _notebook() -> Any:
    return nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]


def _solutions() -> dict[str, Any]:
    """DIAGRAM and OPERATOR_DIAGRAM as the instructor's answer cells define them."""
    namespace: dict[str, Any] = {}
    for cell in _notebook().cells:
        if nbgrader_metadata(cell).get("solution"):
            exec(cell.source, namespace)  # noqa: S102 - the instructor's own solution
    return namespace


SOLUTION = _solutions()


def _grade_all(answers: dict[str, Any]) -> dict[str, str]:
    """Each test cell's visible check then hidden grader: grade_id -> message ('' = passed)."""
    outcome = {}
    for grade_id, (check, grade, variable) in CELLS.items():
        try:
            check(answers[variable])
            grade(answers[variable])
            outcome[grade_id] = ""
        except AssertionError as error:
            outcome[grade_id] = str(error)
    return outcome


def _failed(outcome: dict[str, str]) -> list[str]:
    return [grade_id for grade_id, message in outcome.items() if message]


def _with(**answers: Any) -> dict[str, Any]:
    return {**SOLUTION, **answers}


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def test_the_solution_scores_every_cell(capsys: pytest.CaptureFixture[str]) -> None:
    assert _failed(_grade_all(SOLUTION)) == []
    printed = capsys.readouterr()
    assert printed.err == "" and printed.out.count("✓") == len(CELLS)


# --- conformance: what the pristine reference does ---------------------------------------


def _steps(events: str, config: Config | None = None) -> list[tuple[str, str, str]]:
    runs = [(config or Config(), events)]
    steps = explore(runs, start=checks.breaker_runner(lambda: breaker))
    return [(s.source, s.situation, s.target) for s in steps]


def test_each_step_of_the_reference_is_classified_by_what_happened() -> None:
    # window 4, minimum 3 calls, 50%, cooldown 10 s, 2 trial calls
    assert _steps("afafafahawaaasf") == [
        ("closed", "closed.allow", "closed"),
        ("closed", "closed.failure_below_minimum", "closed"),
        ("closed", "closed.allow", "closed"),
        ("closed", "closed.failure_below_minimum", "closed"),
        ("closed", "closed.allow", "closed"),
        ("closed", "closed.trip", "open"),  # 3 of 3 failed: >= 50%
        ("open", "open.reject", "open"),
        ("open", "open.reject", "open"),  # half the cooldown: still refused
        ("open", "open.cooldown", "half_open"),  # the first call after it is the first trial
        ("half_open", "half_open.permit", "half_open"),
        ("half_open", "half_open.refuse", "half_open"),  # both permits taken
        ("half_open", "half_open.trial_success_more", "half_open"),
        ("half_open", "half_open.reopen", "open"),
    ]
    # a success can complete the trip: 2 failures of 3 calls once minimum_calls is reached
    assert _steps("afafas")[-1] == ("closed", "closed.trip", "open")
    # the window slides: 1 failure in the last 4 calls stays below 50%
    assert _steps("afasasasaf")[-1] == ("closed", "closed.failure_below_threshold", "closed")


def test_a_sequence_shown_is_shrunk_until_no_event_can_go() -> None:
    start = checks.breaker_runner(lambda: breaker)
    long_run = explore([(Config(), "asasaaffsaffaf")], start=start)
    trip = next(step for step in long_run if step.situation == "closed.trip")
    assert len(trip.events) > 6
    shortest = checks.minimal(trip, start, lambda step: step.situation == "closed.trip")
    assert (shortest.situation, shortest.target, len(shortest.events)) == ("closed.trip", "open", 6)
    forgot = _edit(SOLUTION["OPERATOR_DIAGRAM"], "    ForcedOpen --> Disabled : disable\n", "")
    with pytest.raises(CheckFailed) as hidden:
        graders.grade_operator(forgot)
    assert str(hidden.value).endswith(
        "(window_size=4, minimum_calls=4, threshold 75%, cooldown 10 s, 1 trial call) "
        "force open, disable; it goes from ForcedOpen to Disabled"
    )


def test_the_reference_machine_event_by_event() -> None:
    """The pristine reference's transitions over the hidden runs: the answer to exercise 1."""
    taken = {(s.source, s.situation, s.target) for s in graders.breaker_steps()}
    assert taken == {
        ("closed", "closed.allow", "closed"),
        ("closed", "closed.success", "closed"),
        ("closed", "closed.failure_below_minimum", "closed"),
        ("closed", "closed.failure_below_threshold", "closed"),
        ("closed", "closed.trip", "open"),
        ("open", "open.reject", "open"),
        ("open", "open.cooldown", "half_open"),
        ("half_open", "half_open.permit", "half_open"),
        ("half_open", "half_open.refuse", "half_open"),
        ("half_open", "half_open.trial_success_more", "half_open"),
        ("half_open", "half_open.close", "closed"),
        ("half_open", "half_open.reopen", "open"),
    }
    assert {s for _, s, _ in taken} == set(BREAKER_SITUATIONS)


def test_the_visible_runs_meet_every_situation_too() -> None:
    assert {s.situation for s in checks._visible_steps()} == set(BREAKER_SITUATIONS)


def test_the_operator_reference_follows_its_rules() -> None:
    taken = {(s.source, s.situation, s.target) for s in graders.operator_steps()}
    operator = {t for t in taken if t[1] in OPERATOR_SITUATIONS}
    states = ("closed", "open", "half_open", "disabled", "forced_open")
    assert operator == {
        *((s, f"{s}.disable", "disabled") for s in states if s != "disabled"),
        *((s, f"{s}.force_open", "forced_open") for s in states if s != "forced_open"),
        *((s, f"{s}.reset", "closed") for s in states),
        ("disabled", "disabled.call", "disabled"),
        ("forced_open", "forced_open.reject", "forced_open"),
    }
    assert {s for _, s, _ in operator} == set(OPERATOR_SITUATIONS)


def test_the_hidden_runs_are_seeded() -> None:
    assert graders.seeded_runs("af", 5) == graders.seeded_runs("af", 5)
    assert graders.seeded_runs("af", 5) != graders.seeded_runs("af", 5, seed=8)


def test_the_hidden_graders_drive_a_pristine_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(breaker.CircuitBreaker, "allow", lambda self, now=None: True)
    graders.breaker_steps.cache_clear()
    try:
        graders.grade_open(SOLUTION["DIAGRAM"])  # the patched breaker would never refuse
    finally:
        graders.breaker_steps.cache_clear()


def test_a_missing_arrow_is_shown_by_the_shortest_sequence_without_naming_its_target() -> None:
    text = _edit(SOLUTION["DIAGRAM"], "Open --> Open : Call rejected", "%% Open --> Open : x")
    with pytest.raises(CheckFailed) as visible:
        checks.check_open(text)
    assert str(visible.value) == (
        "Not yet (Open):\n  - no arrow for what happens when a call arrives while Open and "
        "the cooldown is not over. The reference meets it after: (window_size=4, "
        "minimum_calls=3, threshold 50%, cooldown 10 s, 2 trial calls) allow() -> let through, "
        "record_failure(), allow() -> let through, record_failure(), allow() -> let through, "
        "record_failure(), allow() -> refused; what does the breaker do then?"
    )
    with pytest.raises(CheckFailed) as hidden:
        graders.grade_open(text)
    # the hidden runs find a shorter one (minimum_calls=2), and the feedback names the move
    assert str(hidden.value).endswith(
        "(window_size=5, minimum_calls=2, threshold 40%, cooldown 10 s, 3 trial calls) "
        "allow() -> let through, record_failure(), allow() -> let through, record_failure(), "
        "allow() -> refused; it goes from Open to Open"
    )


def test_an_extra_arrow_is_reported_and_the_feedback_says_where_the_reference_goes() -> None:
    text = SOLUTION["DIAGRAM"] + "    Open --> Closed : Cooldown expired\n"
    with pytest.raises(CheckFailed) as visible:
        checks.check_open(text)
    assert (
        "`Open --> Closed : Cooldown expired` (line 16): the reference never goes from Open "
        "to Closed" in str(visible.value)
    )
    assert "HalfOpen" not in str(visible.value)
    assert str(visible.value).endswith(
        "the cooldown passes, allow() -> let through, and does not go to Closed"
    )
    nonsense = SOLUTION["DIAGRAM"] + "    Open --> Closed : foo\n"
    assert "record_failure(), and no event sequence tried takes it from there to Closed)" in (
        _visible(nonsense, checks.check_open)
    )
    with pytest.raises(CheckFailed) as hidden:
        graders.grade_open(text)
    assert "the cooldown passes, allow() -> let through, and goes to HalfOpen" in str(hidden.value)


# --- the visible checks catch what the text warns about ----------------------------------


def _visible(text: str, check: Any = checks.check_closed) -> str:
    with pytest.raises(CheckFailed) as caught:
        check(text)
    return str(caught.value)


def test_a_syntax_error_names_its_line() -> None:
    text = SOLUTION["DIAGRAM"].replace("Closed --> Open", "Closed -> Open")
    message = _visible(text)
    assert message.startswith("Mermaid cannot read your diagram. line 8: `Closed -> Open")


def test_lowercase_states_are_new_states_in_mermaid() -> None:
    text = _edit(SOLUTION["DIAGRAM"], "Closed --> Open : Failure", "closed --> open : Failure")
    message = _visible(text, checks.check_half_open)
    assert "Closed and closed are 2 different states in Mermaid: state ids are case-sensitive" in (
        message
    )
    assert "Write the Closed state one way everywhere: `Closed`" in message
    assert "open and Open are 2 different states" in message


def test_one_consistent_other_spelling_is_still_the_state() -> None:
    text = SOLUTION["DIAGRAM"].replace("HalfOpen", "Half_Open")
    for check, _, _ in list(CELLS.values())[:3]:
        check(text)


def test_a_misspelled_state_is_unknown_with_a_suggestion() -> None:
    text = _edit(SOLUTION["DIAGRAM"], "HalfOpen --> Open : A trial", "HalfOpne --> Open : A trial")
    assert "`HalfOpne` (line 15) is not a state of this machine (did you mean `HalfOpen`?)" in (
        _visible(text)
    )


def test_an_unknown_label_says_it_does_not_describe_the_trigger() -> None:
    text = _edit(
        SOLUTION["DIAGRAM"], "Closed --> Closed : Call succeeds", "Closed --> Closed : foo"
    )
    message = _visible(text)
    assert "the label 'foo' does not say what triggers Closed --> Closed" in message
    assert "no arrow for what happens when a call succeeds (record_success()) while Closed" in (
        message
    )


def test_swapped_labels_fail_the_visible_checks() -> None:
    text = (
        SOLUTION["DIAGRAM"]
        .replace("Failure rate >= threshold (at least minimum_calls calls)", "@@")
        .replace("Call after the cooldown expired (first trial)", "Failure rate >= threshold")
        .replace("@@", "Call after the cooldown expired")
    )
    assert "does not say what triggers Closed --> Open" in _visible(text)
    assert "does not say what triggers Open --> HalfOpen" in _visible(text, checks.check_open)


def test_the_trip_label_must_say_reaches_not_exceeds() -> None:
    text = _edit(SOLUTION["DIAGRAM"], "Failure rate >=", "Failure rate exceeds")
    assert "trips when the failure rate *reaches* the threshold, >=" in _visible(text)


def test_the_initial_state_and_final_arrows() -> None:
    starts_open = _edit(SOLUTION["DIAGRAM"], "[*] --> Closed", "[*] --> Open")
    assert "your diagram starts in Open (line 3), but a new breaker starts Closed" in (
        _visible(starts_open)
    )
    checks.check_open(starts_open)  # only the Closed cell asks where a breaker starts
    stops = SOLUTION["DIAGRAM"] + "    Open --> [*]\n"
    assert "ends the machine, but a circuit breaker never stops" in _visible(
        stops, checks.check_open
    )


def test_unlabelled_arrows_are_asked_for_a_label() -> None:
    text = _edit(SOLUTION["DIAGRAM"], "HalfOpen --> Open : A trial call fails", "HalfOpen --> Open")
    assert "`HalfOpen --> Open` (line 15) has no label" in _visible(text, checks.check_half_open)


def test_a_failed_check_shows_its_message_and_no_traceback() -> None:
    try:
        checks.check_open(SEED_5)
    except CheckFailed as error:
        lines = error._render_traceback_()
    assert lines[0] == "\x1b[31m✗ Not yet (Open):\x1b[0m"
    assert not any("Traceback" in line or "File " in line for line in lines)


def test_diagram_must_be_plain_text() -> None:
    class Yes(str):
        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 0

    for value in (["stateDiagram-v2"], Yes(SOLUTION["DIAGRAM"])):
        with pytest.raises(CheckFailed, match="DIAGRAM should be a text, got"):
            checks.check_closed(value)
    with pytest.raises(NotImplementedError, match="Not written yet"):
        checks.check_closed(None)


def test_the_operator_check_knows_the_words_not_the_table() -> None:
    text = _edit(
        SOLUTION["OPERATOR_DIAGRAM"], "Open --> ForcedOpen : force", "Open --> Disabled : force"
    )
    assert "an operator who forces open the breaker does not send it to Disabled" in _visible(
        text, checks.check_operator
    )
    no_way_out = "\n".join(
        line
        for line in SOLUTION["OPERATOR_DIAGRAM"].splitlines()
        if not line.strip().startswith("ForcedOpen --> Closed")
        and not line.strip().startswith("ForcedOpen --> Disabled")
    )
    assert "no arrow leaves ForcedOpen" in _visible(no_way_out, checks.check_operator)
    # where each action leads from each state is the hidden grader's business
    forgot = _edit(
        SOLUTION["OPERATOR_DIAGRAM"], "    Closed --> Closed : reset (window emptied)\n", ""
    )
    checks.check_operator(forgot)
    with pytest.raises(CheckFailed, match="the operator resets the breaker while Closed"):
        graders.grade_operator(forgot)


@pytest.mark.parametrize(
    ("situation", "label", "fits"),
    [
        ("closed.trip", "Failure Rate >= Threshold", True),
        ("closed.trip", "failure rate reaches the threshold", True),
        ("closed.trip", "Failure Rate > Threshold", False),
        ("closed.trip", "error rate exceeds threshold", False),
        ("closed.failure_below_minimum", "failure (fewer than minimum_calls calls)", True),
        ("closed.failure_below_minimum", "failure", False),
        ("closed.failure_below_threshold", "failure, rate < threshold", True),
        ("closed.failure_below_threshold", "failure, rate <= threshold", False),
        ("open.reject", "Fail Fast Return Fallback", True),
        ("open.reject", "Cooldown Period Expired", False),
        ("open.cooldown", "Cooldown Period Expired", True),
        ("open.cooldown", "call refused, cooldown not over", False),
        ("half_open.close", "Trial Requests Succeed", False),
        ("half_open.close", "all trial requests succeeded", True),
        ("half_open.reopen", "Trial Request Fails (Re-trip Circuit)", True),
        ("half_open.refuse", "rejected: no trial permit left", True),
        ("half_open.permit", "rejected: no trial permit left", False),
    ],
)
def test_label_rules(situation: str, label: str, fits: bool) -> None:
    assert BREAKER_SITUATIONS[situation].rule.fits(label) is fits


METHOD_LABELS = """
stateDiagram-v2
    [*] --> Closed
    Closed --> Closed : allow()
    Closed --> Closed : record_success()
    Closed --> Closed : record_failure() [calls < minimum_calls]
    Closed --> Closed : record_failure() [failure rate < threshold]
    Closed --> Open : record_failure() [failure rate >= threshold]
    Open --> Open : allow() [cooldown not over] / refused
    Open --> HalfOpen : allow() [cooldown over]
    HalfOpen --> HalfOpen : allow() [permit free]
    HalfOpen --> HalfOpen : allow() [all permits taken] / refused
    HalfOpen --> HalfOpen : record_success() [others pending]
    HalfOpen --> Closed : record_success() [all succeeded]
    HalfOpen --> Open : record_failure()
"""


def test_labels_may_name_the_methods_and_guards_instead_of_words() -> None:
    for check, grade, _ in list(CELLS.values())[:3]:
        check(METHOD_LABELS)
        grade(METHOD_LABELS)


# --- what students are shown scores nothing ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [SEED_5, SEED_6, breaker.CircuitBreaker.to_mermaid(), TEMPLATE_ONLY],
    ids=["module-diagram", "practice-template", "to-mermaid", "template-only"],
)
def test_the_diagrams_students_are_shown_score_zero(text: str) -> None:
    outcome = _grade_all({"DIAGRAM": text, "OPERATOR_DIAGRAM": text})
    assert _failed(outcome) == list(CELLS)


# --- the known submissions -----------------------------------------------------------------

BUGGY = sorted(p for p in SUBMISSIONS.glob("*.toml") if not p.name.startswith("hostile-"))


@pytest.mark.parametrize("path", BUGGY, ids=lambda p: p.stem)
def test_known_buggy_diagram_fails_exactly_its_cells(path: Path) -> None:
    spec = tomllib.loads(path.read_text())
    namespace = dict(SOLUTION)
    for source in spec["replace"].values():
        exec(source, namespace)  # noqa: S102 - our own fixture
    outcome = _grade_all(namespace)
    assert _failed(outcome) == spec["expect_failed"], outcome


def test_every_exercise_has_known_buggy_submissions() -> None:
    failed = [tomllib.loads(p.read_text())["expect_failed"] for p in BUGGY]
    for grade_id in CELLS:
        assert [grade_id] in failed, grade_id


# --- the notebook --------------------------------------------------------------------------


def test_test_cells_check_visibly_then_import_the_hidden_graders_in_the_hidden_region() -> None:
    nb = _notebook()
    tests = [c for c in nb.cells if nbgrader_metadata(c).get("grade")]
    assert [nbgrader_metadata(c)["grade_id"] for c in tests] == list(CELLS)
    assert [nbgrader_metadata(c)["points"] for c in tests] == [3, 2, 3, 2]
    for cell in tests:
        check, grade, variable = CELLS[nbgrader_metadata(cell)["grade_id"]]
        visible, hidden = cell.source.split("### BEGIN HIDDEN TESTS\n")
        assert visible == (
            f"from course_lib.checks.diagram import {check.__name__}\n\n"
            f"{check.__name__}({variable})\n"
        )
        assert hidden == (
            f"from autograders.graders.diagram import {grade.__name__}\n\n"
            f"{grade.__name__}({variable})\n### END HIDDEN TESTS"
        )
        assert nbgrader_metadata(cell)["locked"] is True


def test_the_student_version_has_no_answer_no_hidden_test_and_no_to_mermaid() -> None:
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    from autograders.presenter import strip_presenter_cells

    nb = _notebook()
    strip_presenter_cells(nb)  # as the release does: presenter notes never reach students
    resources: dict[str, Any] = {}
    nb, resources = ClearSolutions(code_stub={"python": STUB}).preprocess(nb, resources)
    nb, resources = ClearHiddenTests().preprocess(nb, resources)
    text = "\n".join(cell.source for cell in nb.cells)
    for secret in ("HIDDEN TESTS", "autograders", "grade_", "to_mermaid", "Call succeeds"):
        assert secret not in text, secret
    answers = [c for c in nb.cells if nbgrader_metadata(c).get("solution")]
    assert [nbgrader_metadata(c)["grade_id"] for c in answers] == [
        "diagram-answer",
        "operator-answer",
    ]
    for cell in answers:
        assert cell.source.endswith(STUB)
    # the exercises are stated in prose: the only diagrams drawn are the module's and examples
    fenced = [
        block.split("```", 1)[0]
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for block in cell.source.split("```mermaid\n")[1:]
    ]
    assert len(fenced) == 2
    assert parse(fenced[1]).states == ("Closed", "Open", "HalfOpen")
    assert _pairs(fenced[1]) == []


def test_the_notebook_states_the_trip_rule_of_the_vocabulary() -> None:
    from course_lib.breaker_vocabulary import TRIP_RULE

    nb = _notebook()
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert TRIP_RULE in text and "resilience4j" in text and "*exceeds*" in text
