"""The feedback page: titled rows, the header, and a failure's story drawn as a timeline.

Pure rendering (no grading): the pages are built from hand-made results, so every line a
student would read is checked as written.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass
from pathlib import Path

from autograders.feedback import (
    PageInfo,
    Timeline,
    exercise_titles,
    parse_timeline,
    render_feedback,
    render_ungradable,
)
from course_lib.replay import BreakerConfig, Step, describe

ROOT = Path(__file__).resolve().parent.parent

# worded exactly as course_lib.checks.breaker.machine_problem words it
STORY = (
    f"With {BreakerConfig()}: after {Step(0, True)}, {Step(1, False)}, {Step(2.5, False)}, "
    "the call at t=3s (it would be a failure): your breaker let it through and is Closed; "
    "the reference rejected it and is Open"
)


@dataclass(frozen=True)
class _Test:
    grade_id: str
    points: float
    max_points: float
    status: str
    message: str


@dataclass(frozen=True)
class _Result:
    assignment: str
    notebook: str
    student: str
    score: float
    max_score: float
    tests: tuple[_Test, ...]
    notes: tuple[str, ...]


def test_titles_come_from_the_headings_above_each_test_cell() -> None:
    nb = json.loads((ROOT / "notebooks/01-circuit-breaker/01-circuit-breaker.ipynb").read_text())
    titles = exercise_titles(nb)
    assert titles["window-tests"] == "Exercise 1 · The rolling window"
    assert titles["machine-tests"] == "Exercise 7 · The whole machine"
    assert all("points" not in t for t in titles.values())


def test_the_story_of_a_failure_becomes_a_timeline() -> None:
    assert parse_timeline(STORY) == Timeline(
        setting=str(BreakerConfig()),
        calls=("success at t=0s", "failure at t=1s", "failure at t=2.5s"),
        last="call at t=3s (it would be a failure)",
        yours="your breaker let it through and is Closed",
        reference="the reference rejected it and is Open",
    )
    runs = describe([Step(i, i % 3 == 0) for i in range(10)])
    long = f"With {BreakerConfig()}: after {runs}, the call at t=12s (it would be a success): "
    long += "your breaker rejected it and is Open; the reference let it through and is Closed"
    story = parse_timeline(long)
    assert story is not None and story.calls[0] == "1 success from t=0s"
    assert parse_timeline("add(1, 2) should be 3") is None
    assert parse_timeline("after a while, the call failed: nothing else") is None


def test_page_header_rows_and_timeline() -> None:
    result = _Result(
        "01-circuit-breaker", "01-circuit-breaker", "alice", 11.0, 15.0,
        (
            _Test("window-tests", 2, 2, "passed", ""),
            _Test("machine-tests", 0, 2, "failed", STORY),
        ),
        ("cell call-tests was edited; the original was restored",),
    )  # fmt: skip
    info = PageInfo(
        titles={"window-tests": "Exercise 1 · The rolling window", "machine-tests": "Exercise 7"},
        duedate=dt.datetime(2026, 3, 2, 17, 0),
        timestamp=dt.datetime(2026, 3, 2, 18, 30),
        penalty=11.0,
    )
    page = render_feedback(result, [("window-answer", "class RollingWindow: ...")], info)
    text = html.unescape(page)
    assert "Score: 11 / 15" in text
    assert "<th>Total</th><td>0 / 15</td>" in text  # the late penalty applied
    assert "<th>Late penalty</th><td>-11 (score before it: 11)</td>" in text
    assert "<th>Due</th><td>2026-03-02 17:00 UTC</td>" in text
    assert "<th>Submitted</th><td>2026-03-02 18:30 UTC</td>" in text
    assert "<td>Exercise 1 · The rolling window</td>" in text and "window-tests" not in text
    assert '<table class="timeline">' in text
    assert "<td>failure at t=2.5s</td>" in text
    assert "<td>your breaker let it through and is Closed</td>" in text
    assert "<td>the reference rejected it and is Open</td>" in text
    assert text.count("same decision") == 6  # three earlier calls, both columns
    assert "<script" not in page  # static: readable offline, no kernel, no JavaScript


def test_ungradable_page_says_why() -> None:
    page = render_ungradable(
        "03-unknown", "03-unknown", "dave", "unknown assignment '03-unknown'",
        PageInfo(source_file="download.zip:dave_03-unknown.ipynb"),
    )  # fmt: skip
    text = html.unescape(page)
    assert "could not be graded" in text and "unknown assignment '03-unknown'" in text
    assert "download.zip:dave_03-unknown.ipynb" in text
