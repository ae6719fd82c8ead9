"""Notebook 00's visible checks and hidden graders, on right and wrong answers.

The student answers here are plain local functions (the mistakes of
``autograders/submissions/00-cascading-failures``); the graders run in this
process without the sandbox, exactly as the engine's ``--no-sandbox`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import course_lib.cascade as reference
from autograders.graders import cascade as graders
from course_lib.checks import cascade as checks
from course_lib.checks.kit import CheckFailed

# --- answers, right and wrong -----------------------------------------------------------


def occupancy(rate_per_s: float, latency_ms: float) -> float:
    return rate_per_s * latency_ms / 1000


def occupancy_in_ms(rate_per_s: float, latency_ms: float) -> float:
    return rate_per_s * latency_ms


def exhaustion(workers: int, rate: float, old: float, new: float) -> float | None:
    busy = rate * old / 1000
    if busy >= workers:
        return 0.0
    if rate * new / 1000 < workers:
        return None
    return (workers - busy) / rate


def exhaustion_from_empty(workers: int, rate: float, old: float, new: float) -> float | None:
    if rate * old / 1000 >= workers:
        return 0.0
    if rate * new / 1000 < workers:
        return None
    return workers / rate


def exhaustion_never_none(workers: int, rate: float, old: float, new: float) -> float | None:
    busy = rate * old / 1000
    return 0.0 if busy >= workers else (workers - busy) / rate


def first_out(
    chain: list[dict[str, Any]], rate: float, extra: float, tte: Callable[..., Any]
) -> tuple[str, float] | None:
    first = None
    for i, service in enumerate(chain):
        hold = sum(s["latency_ms"] for s in chain[i:])
        seconds = tte(service["workers"], rate, hold, hold + extra)
        if seconds is not None and (first is None or seconds < first[1]):
            first = (service["name"], seconds)
    return first


def first_out_slow_one(
    chain: list[dict[str, Any]], rate: float, extra: float, tte: Callable[..., Any]
) -> tuple[str, float] | None:
    last = chain[-1]
    seconds = tte(last["workers"], rate, last["latency_ms"], last["latency_ms"] + extra)
    return None if seconds is None else (last["name"], seconds)


def first_out_own_latency(
    chain: list[dict[str, Any]], rate: float, extra: float, tte: Callable[..., Any]
) -> tuple[str, float] | None:
    first = None
    for i, service in enumerate(chain):
        hold = service["latency_ms"]
        seconds = tte(service["workers"], rate, hold, hold + (extra if i == len(chain) - 1 else 0))
        if seconds is not None and (first is None or seconds < first[1]):
            first = (service["name"], seconds)
    return first


def first_out_ties_to_the_back(
    chain: list[dict[str, Any]], rate: float, extra: float, tte: Callable[..., Any]
) -> tuple[str, float] | None:
    first = None
    for i, service in enumerate(chain):
        hold = sum(s["latency_ms"] for s in chain[i:])
        seconds = tte(service["workers"], rate, hold, hold + extra)
        if seconds is not None and (first is None or seconds <= first[1]):
            first = (service["name"], seconds)
    return first


def drain(workers: int, rate: float, normal: float, spike: float, spike_s: float) -> float | None:
    healthy, slow = workers * 1000 / normal, workers * 1000 / spike
    if rate >= healthy:
        return None
    return max(0.0, rate - slow) * spike_s / (healthy - rate)


def drain_without_backlog(
    workers: int, rate: float, normal: float, spike: float, spike_s: float
) -> float | None:
    return None if rate >= workers * 1000 / normal else spike / 1000


def drain_forgets_arrivals(
    workers: int, rate: float, normal: float, spike: float, spike_s: float
) -> float | None:
    healthy, slow = workers * 1000 / normal, workers * 1000 / spike
    if rate >= healthy:
        return None
    return max(0.0, rate - slow) * spike_s / healthy


# --- visible checks -----------------------------------------------------------------------


def test_visible_checks_pass_right_answers(capsys: pytest.CaptureFixture[str]) -> None:
    checks.check_occupancy(occupancy)
    checks.check_exhaustion(exhaustion)
    checks.check_first_out(first_out)
    checks.check_timeout(200, ["payments", "/checkout"])
    checks.check_timeout(150.0, ("/checkout", "payments"))
    checks.check_drain(drain)
    assert capsys.readouterr().out.count("✓") == 6


@pytest.mark.parametrize(
    ("check", "answer", "says"),
    [
        (checks.check_occupancy, occupancy_in_ms, "latency is in milliseconds"),
        (checks.check_exhaustion, exhaustion_from_empty, "the requests already in flight count"),
        (checks.check_exhaustion, exhaustion_never_none, "never runs out"),
        (checks.check_first_out, first_out_slow_one, "expected 'orders'"),
        (checks.check_first_out, first_out_own_latency, "waits for everything below it"),
        (
            checks.check_first_out,
            first_out_ties_to_the_back,
            "'gateway' and 'payments' both run out after 0 s; on a tie, name the service "
            "nearer the front.",
        ),
        (checks.check_drain, drain_without_backlog, "requests wait when the spike ends"),
        (checks.check_drain, drain_forgets_arrivals, "while new ones keep arriving"),
    ],
)
def test_visible_checks_explain_each_mistake(check: Any, answer: Any, says: str) -> None:
    with pytest.raises(CheckFailed, match=says):
        check(answer)


@pytest.mark.parametrize(
    ("timeout_ms", "broken", "says"),
    [
        (3000, ["payments", "/checkout"], "longer than a slow payments call"),
        (2000, ["payments", "/checkout"], "about as long as or longer than a slow payments"),
        (450, ["payments", "/checkout"], "no room to spare"),
        (400, ["payments", "/checkout"], r"orders' pool was full 50\.0% of the spike \(needs <"),
        (20, ["payments", "/checkout"], r"cuts healthy calls"),
        (20, ["payments", "/checkout"], r"\d+\.\d% of /checkout succeeded BEFORE .*needs ≥ 95%"),
        (200, ["payments"], r"1 name is wrong or missing \(0 listed that kept working, 1 still"),
        (200, ["payments", "/checkout", "/catalog"], r"1 name is wrong or missing \(1 listed"),
        (200, ["payments", "checkout"], "names 'checkout'"),
        (200, "payments", "should be a list"),
        (-5, ["payments"], "above 0"),
        ("200", ["payments"], "TIMEOUT_MS should be a number"),
        (float("nan"), ["payments"], "TIMEOUT_MS should be a number"),
    ],
)
def test_the_timeout_check_explains_each_mistake(timeout_ms: Any, broken: Any, says: str) -> None:
    with pytest.raises(CheckFailed, match=says):
        checks.check_timeout(timeout_ms, broken)


@pytest.mark.parametrize(
    "broken", [[], ["payments"], ["/checkout"], ["gateway", "orders", "/catalog"], ["orders"]]
)
def test_a_wrong_still_broken_does_not_give_the_answer_away(broken: list[str]) -> None:
    with pytest.raises(CheckFailed, match="wrong or missing") as failed:
        checks.check_timeout(200, broken)
    said = str(failed.value)
    for part in ("gateway", "orders", "payments", "/catalog", "/checkout"):
        assert repr(part) not in said and f"{part}," not in said, said
    assert "payments" not in said.split("(simulation seed")[1], said


def test_a_timeout_that_does_not_stop_the_cascade_names_what_failed() -> None:
    with pytest.raises(CheckFailed) as failed:
        checks.check_timeout(400, ["payments", "/checkout"])
    said = str(failed.value)
    assert "gateway's pool" not in said and "/catalog kept" not in said, said


def test_the_timeout_check_says_not_written_yet_for_the_placeholders() -> None:
    with pytest.raises(NotImplementedError, match="Not written yet"):
        checks.check_timeout(None, None)


def test_a_student_exception_is_a_plain_message() -> None:
    def broken(rate: float, latency: float) -> float:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(CheckFailed, match=r"occupancy\(20, 30\) raised ZeroDivisionError"):
        checks.check_occupancy(broken)


def test_a_stub_passes_through_as_not_written_yet() -> None:
    def stub(*args: Any) -> Any:
        raise NotImplementedError("Not written yet: occupancy")

    with pytest.raises(NotImplementedError):
        checks.check_occupancy(stub)


# --- hidden graders -----------------------------------------------------------------------


def test_hidden_graders_pass_right_answers() -> None:
    graders.grade_occupancy(occupancy)
    graders.grade_exhaustion(exhaustion)
    graders.grade_first_out(first_out)
    graders.grade_timeout(200, ["payments", "/checkout"])
    graders.grade_drain(drain)


@pytest.mark.parametrize(
    ("grade", "answer", "says"),
    [
        (graders.grade_occupancy, occupancy_in_ms, r"occupancy\(1, "),
        (graders.grade_exhaustion, exhaustion_from_empty, "time_to_exhaustion"),
        (graders.grade_exhaustion, exhaustion_never_none, "never runs out"),
        (graders.grade_first_out, first_out_slow_one, "first_to_run_out"),
        (graders.grade_first_out, first_out_own_latency, "first_to_run_out"),
        (graders.grade_first_out, first_out_ties_to_the_back, "on a tie, name the service"),
        (graders.grade_drain, drain_without_backlog, "drain_time"),
        (graders.grade_drain, drain_forgets_arrivals, "keep arriving"),
    ],
)
def test_hidden_graders_fail_each_mistake_with_a_small_case(
    grade: Any, answer: Any, says: str
) -> None:
    with pytest.raises(CheckFailed, match=says) as failed:
        grade(answer)
    assert len(str(failed.value)) < 700, "one short message, not a dump"


def test_the_occupancy_grader_shrinks_to_round_numbers() -> None:
    with pytest.raises(CheckFailed) as failed:
        graders.grade_occupancy(occupancy_in_ms)
    assert str(failed.value).startswith("occupancy(1, 1) returned 1 "), str(failed.value)


def test_the_hidden_timeout_grader_judges_other_seeds() -> None:
    assert graders.TIMEOUT_SEEDS and checks.NOTEBOOK_SEED not in graders.TIMEOUT_SEEDS
    with pytest.raises(CheckFailed, match=f"seed {graders.TIMEOUT_SEEDS[0]}"):
        graders.grade_timeout(3000, ["payments", "/checkout"])
    # what breaks is read from each seed's own run
    with pytest.raises(CheckFailed, match="1 listed that kept working"):
        graders.grade_timeout(200, ["orders", "payments", "/checkout"])


def test_hidden_graders_refuse_the_reference() -> None:
    with pytest.raises(CheckFailed, match="course_lib"):
        graders.grade_occupancy(reference.in_flight)

    def borrows(rate: float, latency: float) -> float:
        return reference.in_flight(rate, latency)

    with pytest.raises(CheckFailed, match="Write it yourself"):
        graders.grade_occupancy(borrows)


def test_the_graders_compare_with_a_pristine_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reference, "in_flight", lambda rate, latency: rate * latency)
    monkeypatch.setattr(reference, "backlog_clear_seconds", lambda *args: 0.0)
    graders.grade_occupancy(occupancy)
    graders.grade_drain(drain)
    with pytest.raises(CheckFailed):
        graders.grade_occupancy(occupancy_in_ms)
