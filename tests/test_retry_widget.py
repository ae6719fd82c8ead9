"""The retry-storm widget's kernel side: the frames and the table it sends to the browser."""

from __future__ import annotations

import json
from functools import cache

import pytest

from course_lib.sim.brooker import FunctionSchedule
from course_lib.widgets.retry_widget import STEP, STORM, RetryStormWidget, show_retry_storm


@cache
def widget() -> RetryStormWidget:
    return show_retry_storm()


def test_four_schedules_one_bar_per_step() -> None:
    w = widget()
    assert [run["name"] for run in w.runs] == ["none", "full", "equal", "decorrelated"]
    steps = round(float(STORM["duration"]) / STEP)
    assert w.frames == steps and all(len(run["arrivals"]) == steps for run in w.runs)
    assert w.capacity == 50, "10 workers at 20 ms each: 50 requests per 100 ms"
    assert w.hang == [10.0, 15.0] and w.selected == "none"


def test_the_table_shows_the_waves_and_the_spread() -> None:
    rows = {row["name"]: row for row in widget().table}
    none, full = rows["none"], rows["full"]
    assert none["peak"] > 3 * widget().capacity, "the no-jitter waves are far above capacity"
    assert full["peak"] < widget().capacity * 1.2 < none["peak"]
    assert full["retries"] * 2 < none["retries"]
    assert none["failed"] > 0 == full["failed"], "without jitter some requests run out"
    assert full["completion"] is not None and none["completion"] is not None
    assert full["completion"] + 10 < none["completion"]


def test_the_state_sent_to_the_browser_is_small_plain_json() -> None:
    state = {k: getattr(widget(), k) for k in ("runs", "capacity", "hang", "caption", "step")}
    assert len(json.dumps(state)) < 100_000


def test_a_stub_schedule_shows_a_one_line_message() -> None:
    def stub(attempt: int, **_: object) -> float:
        raise NotImplementedError("Not written yet: full_jitter")

    w = RetryStormWidget({"mine": FunctionSchedule(stub, base=0.5, cap=30.0)})
    (run,) = w.runs
    assert run["error"] == "not written yet (Not written yet: full_jitter)"
    assert run["arrivals"] == [] and w.table == []


def test_bad_arguments_are_refused_with_their_names() -> None:
    with pytest.raises(ValueError, match="schedules is empty"):
        RetryStormWidget({})
    with pytest.raises(ValueError, match="selected"):
        RetryStormWidget(selected="nope")
    with pytest.raises(ValueError, match="interval_ms"):
        RetryStormWidget(interval_ms=0)


def test_go_to_clamps() -> None:
    w = widget()
    w.go_to(10_000)
    assert w.frame == w.frames - 1
    w.go_to(-3)
    assert w.frame == 0
