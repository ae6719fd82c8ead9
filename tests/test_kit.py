"""The grading kit (course_lib.checks.kit): plain values, shrinking, failing with a message."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from course_lib.checks.kit import (
    CheckFailed,
    call,
    fail,
    find_divergence,
    plain,
    require,
    shorter_sequences,
    shrink,
)

# --- plain() ------------------------------------------------------------------------------


class AlwaysEqual:
    """Equal to everything: the classic way to pass ``==`` without an answer."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


class SneakyInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


class SneakyStr(str):
    pass


class SneakyFloat(float):
    pass


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (3, "whole number"),
        (0, "whole number"),
        (2.5, "number"),
        (7, "number"),
        (True, "True or False"),
        ("closed", "text"),
        ((1, "a", 2.0, None, (True, [3])), "plain value"),
        ([], "plain value"),
    ],
)
def test_plain_values_come_back_unchanged(value: Any, kind: str) -> None:
    assert plain(value, "x", kind) is value


@pytest.mark.parametrize(
    ("value", "kind", "says"),
    [
        (AlwaysEqual(), "whole number", "X should be a whole number, got an object of type"),
        (SneakyInt(3), "whole number", "got an object of type SneakyInt"),
        (SneakyInt(3), "number", "got an object of type SneakyInt"),
        (SneakyStr("open"), "text", "got an object of type SneakyStr"),
        (SneakyFloat(0.5), "number", "got an object of type SneakyFloat"),
        (True, "whole number", "X should be a whole number, got True"),
        (1, "True or False", "X should be True or False, got 1"),
        (math.nan, "number", "got nan (not a finite number)"),
        (math.inf, "number", "got inf (not a finite number)"),
        (-math.inf, "plain value", "got -inf (not a finite number)"),
        (None, "number", "X should be a number, got None"),
        ((1, (2, AlwaysEqual())), "plain value", "type AlwaysEqual inside a tuple inside a tuple"),
        ([1, math.nan], "plain value", "nan (not a finite number) inside a list"),
        ({"a": 1}, "plain value", "got an object of type dict"),
    ],
)
def test_plain_refuses_what_could_fool_a_comparison(value: Any, kind: str, says: str) -> None:
    with pytest.raises(CheckFailed) as caught:
        plain(value, "x", kind)
    assert says in str(caught.value)


def test_plain_names_what_and_the_type() -> None:
    class Weird:
        pass

    with pytest.raises(
        CheckFailed,
        match=r"^RollingWindow\.calls should be a whole number, got an object of type Weird$",
    ):
        plain(Weird(), "RollingWindow.calls", "whole number")


def test_plain_options() -> None:
    assert plain(None, "x", "number", none=True) is None
    assert math.isnan(plain(math.nan, "x", "number", finite=False))
    with pytest.raises(CheckFailed, match="should be a number or None, got 'a'"):
        plain("a", "x", "number", none=True)
    with pytest.raises(ValueError, match="kind must be one of"):
        plain(1, "x", "integer")


# --- shrinking ------------------------------------------------------------------------------


def test_shorter_sequences_cuts_halves_first_then_single_items() -> None:
    candidates = list(shorter_sequences([1, 2, 3, 4]))
    assert candidates[:2] == [[3, 4], [1, 2]]
    assert [2, 3, 4] in candidates and [1, 2, 3] in candidates
    assert all(len(c) < 4 for c in candidates)
    assert list(shorter_sequences([])) == []


def test_shrink_finds_a_minimal_failing_subsequence() -> None:
    # fails while it holds at least two 7s
    found = shrink([1, 7, 2, 3, 7, 4, 7, 5], lambda xs: xs.count(7) >= 2, shorter_sequences)
    assert found == [7, 7]


def test_shrink_keeps_a_scenario_nothing_smaller_fails() -> None:
    assert shrink([1, 2], lambda xs: xs == [1, 2], shorter_sequences) == [1, 2]


def test_shrink_stops_at_its_budget() -> None:
    tried: list[list[int]] = []

    def fails(xs: list[int]) -> bool:
        tried.append(xs)
        return False

    shrink(list(range(100)), fails, shorter_sequences, budget=5)
    assert len(tried) == 5


def test_find_divergence_reports_the_shortest_failing_scenario() -> None:
    def problem(outcomes: list[bool]) -> str | None:  # a "bug": two failures in a row
        for a, b in zip(outcomes, outcomes[1:], strict=False):
            if a and b:
                return f"went wrong on {outcomes}"
        return None

    def generate(rng: random.Random) -> list[bool]:
        return [rng.random() < 0.5 for _ in range(30)]

    message = find_divergence(problem, generate, scenarios=20, seed=1)
    assert message == "went wrong on [True, True]"


def test_find_divergence_is_seeded_and_none_when_all_pass() -> None:
    seen: list[int] = []

    def generate(rng: random.Random) -> int:
        value = rng.randint(0, 10**6)
        seen.append(value)
        return value

    assert find_divergence(lambda s: None, generate, scenarios=5, seed=7) is None
    first = list(seen)
    seen.clear()
    find_divergence(lambda s: None, generate, scenarios=5, seed=7)
    assert seen == first and len(first) == 5


def test_find_divergence_counts_a_check_failed_as_a_problem() -> None:
    def problem(xs: list[int]) -> str | None:
        if 3 in xs:
            plain(AlwaysEqual(), f"the answer for {xs}", "whole number")
        return None

    message = find_divergence(problem, lambda rng: [1, 2, 3, 4, 5], scenarios=1, seed=0)
    assert message is not None and message.startswith("The answer for [3] should be")


def test_find_divergence_uses_the_given_shrink_candidates() -> None:
    def smaller(size: int) -> list[int]:
        return [size - 1] if size > 1 else []

    message = find_divergence(
        lambda n: f"size {n} fails" if n >= 4 else None,
        lambda rng: 9,
        scenarios=1,
        seed=0,
        smaller=smaller,
    )
    assert message == "size 4 fails"


def test_not_implemented_passes_through() -> None:
    def blank(xs: list[int]) -> str | None:
        raise NotImplementedError("Not written yet")

    with pytest.raises(NotImplementedError, match="Not written yet"):
        find_divergence(blank, lambda rng: [1], scenarios=1, seed=0)
    with pytest.raises(NotImplementedError):
        call("blank()", blank, [1])


# --- failing ------------------------------------------------------------------------------


def test_check_failed_renders_just_the_message() -> None:
    with pytest.raises(CheckFailed) as caught:
        fail("your calls is 4; expected 3\n(only the last 3 calls count)")
    error = caught.value
    assert isinstance(error, AssertionError)
    lines = error._render_traceback_()
    assert lines == [
        "\x1b[31m✗ Your calls is 4; expected 3\x1b[0m",
        "(only the last 3 calls count)",
    ]
    assert error.__cause__ is None and error.__suppress_context__


def test_require_and_the_first_word() -> None:
    require(None)
    with pytest.raises(CheckFailed, match=r"^After recording"):
        require("after recording failure")
    with pytest.raises(CheckFailed, match=r"^should_trip\(0, 0\) returned"):
        require("should_trip(0, 0) returned None")  # code keeps its spelling


def test_call_turns_an_exception_into_a_plain_message() -> None:
    def divides(a: int, b: int) -> float:
        return a / b

    assert call("divides(1, 2)", divides, 1, 2) == 0.5
    with pytest.raises(CheckFailed, match=r"^divides\(1, 0\) raised ZeroDivisionError: division"):
        call("divides(1, 0)", divides, 1, 0)
