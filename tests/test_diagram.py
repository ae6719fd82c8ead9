"""The Mermaid stateDiagram-v2 parser (course_lib.diagram) and the diagram grader
(course_lib.checks.diagram) of notebook 07."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest

import course_lib.breaker as breaker
from course_lib.checks import diagram as checks
from course_lib.checks.diagram import (
    SEED_TABLE,
    TOPICS,
    TRIGGER_RULES,
    reference_table,
    review,
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
    ("closed", "open"),
    ("open", "half_open"),
    ("half_open", "closed"),
    ("half_open", "open"),
]


def _pairs(diagram_text: str) -> list[tuple[str, str]]:
    return [(t.source, t.target) for t in parse(diagram_text).transitions if t.source != START]


def _grade_all(diagram_text: str) -> dict[str, str]:
    """Run every visible check and hidden grading; topic -> failure message ('' if it passed)."""
    outcome = {}
    for topic in TOPICS:
        try:
            getattr(checks, f"check_{topic}")(diagram_text)
            getattr(checks, f"grade_{topic}")(diagram_text)
            outcome[topic] = ""
        except AssertionError as error:
            outcome[topic] = str(error)
    return outcome


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["HalfOpen", "Half-Open", "half_open", "HALF_OPEN", "halfOpen", "Half Open", " half-open "],
)
def test_half_open_spellings_normalise_to_one_name(name: str) -> None:
    assert normalize_name(name) == "half_open"


def test_normalize_keeps_the_start_pseudo_state_and_rejects_nonsense() -> None:
    assert normalize_name("[*]") == START
    assert normalize_name("MonitorFailures") == "monitor_failures"
    with pytest.raises(ValueError, match="no letters or digits"):
        normalize_name("--")
    with pytest.raises(ValueError, match="must be a string"):
        normalize_name(3)  # type: ignore[arg-type]


# --- the parser ----------------------------------------------------------------------


def test_seed_section_5_diagram_parses() -> None:
    diagram = parse(SEED_5)
    assert diagram.states == ("closed", "open", "half_open")
    assert diagram.initial == "closed"
    assert _pairs(SEED_5) == OUTER
    assert diagram.between("HalfOpen", "Open") == (
        Transition("half_open", "open", "Trial Request Fails", 6),
    )
    assert diagram.display("half_open") == "HalfOpen"
    assert diagram.inner == {}


def test_seed_section_6_template_parses_and_keeps_composites_apart() -> None:
    diagram = parse(SEED_6)
    assert diagram.states == ("closed", "open", "half_open")
    assert diagram.initial == "closed"
    assert _pairs(SEED_6) == OUTER
    assert diagram.between("Closed", "Open")[0].label == "Failure Rate > Threshold (Trip Circuit)"
    assert set(diagram.inner) == {"closed", "open", "half_open"}
    assert [(t.source, t.target) for t in diagram.inner["closed"]] == [
        (START, "monitor_failures"),
        ("monitor_failures", "monitor_failures"),
    ]
    # inner states never leak into the outer machine
    assert "monitor_failures" not in diagram.states


def test_template_without_transitions_parses() -> None:
    diagram = parse(TEMPLATE_ONLY)
    assert diagram.states == ("closed", "open", "half_open")
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
    assert diagram.states == ("closed", "open")
    assert _pairs(text) == [("closed", "open")]
    assert [(t.source, t.target) for t in diagram.inner["closed"]] == [
        (START, "idle"),
        ("idle", "busy"),
        (START, "watching"),
        ("open", "inside"),
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
    assert diagram.states == ("half_open", "closed", "open")
    assert diagram.initial == "closed"
    assert _pairs(text) == [("closed", "open"), ("open", "half_open")]
    assert diagram.between("closed", "open")[0].label == "failures >= threshold"
    assert diagram.between("open", "half_open")[0].label == ""
    assert diagram.descriptions == {
        "half_open": ("Half open: trial calls",),
        "closed": ("Normal operation",),
    }


def test_a_mermaid_fence_around_the_diagram_is_accepted() -> None:
    assert _pairs(f"```mermaid\n{SEED_5}```\n") == OUTER


def test_final_state_arrows_are_kept() -> None:
    diagram = parse("stateDiagram-v2\n[*] --> A\nA --> [*] : done\n")
    assert diagram.transitions[-1] == Transition("a", START, "done", 3)
    assert diagram.initial_transitions == (Transition(START, "a", "", 2),)


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


# --- the reference's table and its own diagram ---------------------------------------


def test_reference_table_is_the_breakers_transitions() -> None:
    table = reference_table()
    assert [(a.source, a.target, a.trigger) for a in table] == [
        (t.source, t.target, t.trigger) for t in breaker.TRANSITIONS
    ]
    assert {(a.source, a.target) for a in table} == {(a.source, a.target) for a in SEED_TABLE}
    assert set(TRIGGER_RULES) == {(a.source, a.target) for a in table if a.source != START}


def test_reference_table_ignores_a_notebook_that_edits_the_imported_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(breaker, "TRANSITIONS", (breaker.Transition("[*]", "open", "x"),))
    assert len(reference_table()) == 5


def test_to_mermaid_round_trips_and_grades_full_marks() -> None:
    text = breaker.CircuitBreaker.to_mermaid()
    diagram = parse(text)
    assert diagram.states == ("closed", "open", "half_open")
    assert diagram.initial == "closed"
    assert [(t.source, t.target, t.label) for t in diagram.transitions] == [
        (t.source, t.target, t.trigger) for t in breaker.TRANSITIONS
    ]
    assert _grade_all(text) == dict.fromkeys(TOPICS, "")


# --- grading -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [SEED_5, SEED_6])
def test_the_seeds_diagrams_get_full_marks(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _grade_all(text) == dict.fromkeys(TOPICS, "")
    printed = capsys.readouterr()
    assert printed.err == ""
    assert printed.out.count("✓") == len(TOPICS)


def test_other_spellings_of_the_states_get_full_marks() -> None:
    text = SEED_5.replace("HalfOpen", "half_open").replace("Closed", "CLOSED")
    assert _grade_all(text) == dict.fromkeys(TOPICS, "")
    assert _grade_all(SEED_5.replace("HalfOpen", "Halfopen")) == dict.fromkeys(TOPICS, "")


def test_self_loops_are_allowed() -> None:
    text = SEED_5 + "Open --> Open : Call Rejected (fail fast)\n"
    assert _grade_all(text) == dict.fromkeys(TOPICS, "")


def test_missing_trial_failure_arrow_asks_the_question() -> None:
    text = SEED_5.replace("HalfOpen --> Open : Trial Request Fails\n", "")
    outcome = _grade_all(text)
    assert outcome["trial"] == (
        "Not yet:\n  - the transition HalfOpen --> Open is missing: "
        "what happens when a trial request fails?"
    )
    assert [t for t, message in outcome.items() if message] == ["trial"]


def test_open_to_closed_shortcut_is_explained() -> None:
    outcome = _grade_all(SEED_5 + "Open --> Closed : Timer\n")
    assert (
        "Open --> Closed (line 7) is wrong: an open breaker must not close directly"
        in (outcome["shortcuts"])
    )
    assert "only successful trial requests close it" in outcome["shortcuts"]
    assert [t for t, message in outcome.items() if message] == ["shortcuts"]


def test_closed_to_half_open_and_final_and_unknown_states_are_wrong() -> None:
    text = SEED_5 + "Closed --> HalfOpen : x\nOpen --> [*]\nClosed --> Tripped : y\n"
    problems = review(text, reference_table())["shortcuts"]
    assert len(problems) == 3
    assert problems[0].startswith("Closed --> HalfOpen (line 7) is wrong: a closed breaker")
    assert problems[1].startswith("Open --> [*] (line 8) ends the machine")
    assert problems[2].startswith("Closed --> Tripped (line 9) uses Tripped, which is not one")


def test_wrong_initial_state_and_missing_initial_and_two_initials() -> None:
    starts_open = SEED_5.replace("[*] --> Closed", "[*] --> Open")
    assert (
        "your diagram starts in Open (line 2), but a new breaker starts Closed"
        in (_grade_all(starts_open)["states"])
    )
    no_start = SEED_5.replace("[*] --> Closed : System Normal\n", "")
    assert "there is no initial state: add `[*] --> Closed`" in _grade_all(no_start)["states"]
    two = SEED_5 + "[*] --> Open\n"
    assert "2 initial arrows `[*] --> ...` (lines 2, 7)" in _grade_all(two)["states"]


def test_missing_half_open_state_and_one_hidden_in_a_composite() -> None:
    no_half_open = (
        "stateDiagram-v2\n[*] --> Closed\nClosed --> Open : Failure Rate > Threshold\n"
        "Open --> Closed : Cooldown Period Expired\n"
    )
    outcome = _grade_all(no_half_open)
    assert (
        "the state HalfOpen is missing: where does the breaker let a few trial requests"
        in (outcome["states"])
    )
    assert [t for t, message in outcome.items() if message] == [
        "states",
        "cooldown",
        "trial",
        "shortcuts",
    ]
    nested = "stateDiagram-v2\n[*] --> Closed\nstate Open {\n  HalfOpen --> Closed\n}\n"
    assert "it only appears inside `state Open { ... }`" in review(nested)["states"][0]


def test_swapped_labels_pass_the_visible_check_but_not_the_hidden_grading() -> None:
    swapped = (
        SEED_5.replace("Failure Rate > Threshold", "@@")
        .replace("Cooldown Period Expired", "Failure Rate > Threshold")
        .replace("@@", "Cooldown Period Expired")
    )
    checks.check_trip(swapped)
    checks.check_cooldown(swapped)
    with pytest.raises(AssertionError) as trip:
        checks.grade_trip(swapped)
    assert str(trip.value) == (
        "Compared with the reference circuit breaker:\n  - the transition Closed --> Open is "
        "there, but its label 'Cooldown Period Expired' does not say why the breaker trips: "
        "the failure rate crossing the threshold (e.g. 'Failure Rate > Threshold')"
    )
    with pytest.raises(AssertionError, match="does not say that the cooldown"):
        checks.grade_cooldown(swapped)


def test_unlabelled_arrows_fail_the_visible_check() -> None:
    text = SEED_5.replace(" : Trial Request Fails", "")
    with pytest.raises(AssertionError, match=r"HalfOpen --> Open \(line 6\) has no label"):
        checks.check_trial(text)


def test_a_syntax_error_fails_every_cell_with_the_line() -> None:
    outcome = _grade_all(SEED_5.replace("Closed --> Open", "Closed -> Open"))
    for message in outcome.values():
        assert message.startswith("Mermaid cannot read your diagram. line 3: `Closed -> Open")


def test_diagram_must_be_a_string() -> None:
    with pytest.raises(AssertionError, match="DIAGRAM must be a string .* it is a list"):
        checks.check_states(["stateDiagram-v2"])


def test_a_str_subclass_is_read_as_its_plain_text() -> None:
    class Yes(str):
        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 0

        def splitlines(self, keepends: bool = False) -> list[str]:
            return SEED_5.splitlines()

    outcome = _grade_all(Yes("stateDiagram-v2\n[*] --> Closed\n"))
    # graded on its text (only Closed), not on what its overridden methods claim
    assert "the state Open is missing" in outcome["states"]
    assert [t for t, message in outcome.items() if not message] == []


@pytest.mark.parametrize(
    ("pair", "label", "means"),
    [
        (("closed", "open"), "Failure Rate > Threshold", True),
        (("closed", "open"), "error rate exceeded", True),
        (("closed", "open"), "Trip!", True),
        (("closed", "open"), "Trial Request Fails", False),
        (("closed", "open"), "Cooldown expired", False),
        (("open", "half_open"), "Cooldown Timeout Expired", True),
        (("open", "half_open"), "wait 30 s elapsed", True),
        (("open", "half_open"), "Failure Rate > Threshold", False),
        (("half_open", "closed"), "Trial Requests Succeed (Reset Circuit)", True),
        (("half_open", "closed"), "all probes successful", True),
        (("half_open", "closed"), "Trial Request Fails", False),
        (("half_open", "closed"), "reset", False),
        (("half_open", "open"), "Trial Request Fails (Re-trip Circuit)", True),
        (("half_open", "open"), "a test call errors", True),
        (("half_open", "open"), "Trial Requests Succeed", False),
        (("half_open", "open"), "fails", False),
    ],
)
def test_trigger_rules(pair: tuple[str, str], label: str, means: bool) -> None:
    assert TRIGGER_RULES[pair].matches(label) is means


# --- the known-buggy submissions -----------------------------------------------------


BUGGY = sorted(p for p in SUBMISSIONS.glob("*.toml") if not p.name.startswith("hostile-"))


@pytest.mark.parametrize("path", BUGGY, ids=lambda p: p.stem)
def test_known_buggy_diagram_fails_exactly_its_cells(path: Path) -> None:
    spec = tomllib.loads(path.read_text())
    namespace: dict[str, object] = {}
    exec(spec["replace"]["diagram-answer"], namespace)  # noqa: S102 - our own fixture
    outcome = _grade_all(str(namespace["DIAGRAM"]))
    failed = sorted(f"{topic}-tests" for topic, message in outcome.items() if message)
    assert failed == sorted(spec["expect_failed"]), outcome


def test_there_are_at_least_five_known_buggy_diagrams() -> None:
    assert len(BUGGY) >= 5


# --- the notebook --------------------------------------------------------------------

NOTEBOOK = ROOT / "notebooks" / "07-state-diagram-challenge" / "07-state-diagram-challenge.ipynb"
STUB = (
    'raise NotImplementedError("Not written yet: replace this line with your code '
    '(see the exercise above).")'
)


def _nbgrader(cell: Any) -> dict[str, Any]:
    return dict(cell.metadata.get("nbgrader", {}))


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id


def test_notebook_test_cells_import_what_they_use_and_take_only_diagram() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    answers = [c for c in nb.cells if _nbgrader(c).get("solution")]
    assert [_nbgrader(c)["grade_id"] for c in answers] == ["diagram-answer"]
    namespace: dict[str, Any] = {}
    exec(answers[0].source, namespace)  # noqa: S102 - the instructor's own solution
    assert _grade_all(namespace["DIAGRAM"]) == dict.fromkeys(TOPICS, "")

    tests = [c for c in nb.cells if _nbgrader(c).get("grade")]
    assert [_nbgrader(c)["grade_id"] for c in tests] == [f"{t}-tests" for t in TOPICS]
    assert sum(_nbgrader(c)["points"] for c in tests) == 10
    for cell, topic in zip(tests, TOPICS, strict=True):
        assert _nbgrader(cell)["locked"] is True
        tree = ast.parse(cell.source)
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert used - imported == {"DIAGRAM"}, cell.source
        assert f"check_{topic}(DIAGRAM)\n### BEGIN HIDDEN TESTS\ngrade_{topic}(DIAGRAM)" in (
            cell.source
        )


def test_student_version_shows_the_template_but_no_solution_or_hidden_test() -> None:
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = nbformat.read(NOTEBOOK, as_version=4)
    resources: dict[str, Any] = {}
    nb, resources = ClearSolutions(code_stub={"python": STUB}).preprocess(nb, resources)
    nb, resources = ClearHiddenTests().preprocess(nb, resources)
    text = "\n".join(cell.source for cell in nb.cells)
    assert "Trial Request Fails" not in text and "Failure Rate > Threshold (Trip" not in text
    assert "HIDDEN TESTS" not in text and "(DIAGRAM)\ngrade_" not in text
    for topic in TOPICS:
        assert f"\ngrade_{topic}(DIAGRAM)" not in text
    answer = next(c for c in nb.cells if _nbgrader(c).get("grade_id") == "diagram-answer")
    assert answer.source.endswith(STUB)
    # the template is there to start from: states and nesting, not the four transitions
    template = next(c for c in nb.cells if _nbgrader(c).get("grade_id") == "template")
    fenced = template.source.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert parse(fenced).states == ("closed", "open", "half_open")
    assert _pairs(fenced) == []


def test_an_empty_machine_earns_no_shortcut_point() -> None:
    """No arrows means no wrong arrows, but it must not earn the 'no shortcuts' point."""
    from course_lib.checks.diagram import grade_shortcuts

    for text in ("stateDiagram-v2", "stateDiagram-v2\n[*] --> Closed\nstate Open\nstate HalfOpen"):
        with pytest.raises(AssertionError, match="no transition between the breaker's states"):
            grade_shortcuts(text)
