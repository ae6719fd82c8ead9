"""The timeout widgets: plain JSON for the browser, the share cut, errors shown as one line."""

from __future__ import annotations

import json

import pytest

from course_lib.loopback import ChainRun, Hop
from course_lib.widgets.timeout_widget import (
    BudgetWidget,
    LatencyWidget,
    show_budget,
    show_latencies,
)


def test_latency_widget_bins_every_sample_and_cuts_the_slower_share() -> None:
    latencies = [0.010, 0.020, 0.020, 0.030, 0.500]
    widget = show_latencies(latencies, timeout=0.02)
    assert isinstance(widget, LatencyWidget)
    assert sum(widget.counts) == 5 and len(widget.edges) == len(widget.counts) + 1
    assert widget.edges[0] <= 10 and widget.edges[-1] >= 500  # log-spaced bins
    assert widget.sorted_ms == [10.0, 20.0, 20.0, 30.0, 500.0]
    assert widget.timeout_ms == 20.0 and widget.cut_share == 2 / 5  # strictly slower only
    widget.timeout_ms = 600.0
    assert widget.cut_share == 0.0
    widget.timeout_ms = 0.0
    assert widget.cut_share == 1.0
    assert show_latencies(latencies).timeout_ms == 20.0  # default: the median


@pytest.mark.parametrize("bad", [[], [0.1, -1.0], [float("nan")], ["0.1"]])
def test_latency_widget_refuses_bad_samples(bad: list[object]) -> None:
    with pytest.raises(ValueError, match="latencies"):
        show_latencies(bad)  # type: ignore[arg-type]


def _run(status: int, error: str | None = None) -> ChainRun:
    hops = [
        Hop("A", budget_ms=300.0, worked_ms=101.2, forwarded="198", outcome="called on"),
        Hop("B", budget_ms=197.5, worked_ms=100.9, forwarded="96", outcome="called on"),
        Hop("C", budget_ms=95.0, worked_ms=95.3, outcome="stopped", error=error),
    ]
    return ChainRun(status, "C stopped", hops)


def test_budget_widget_holds_plain_hops_and_shows_every_hop_at_first() -> None:
    widget = show_budget([_run(504), _run(200)], labels=["300 ms", "1 s"])
    assert isinstance(widget, BudgetWidget)
    assert widget.frames == 3 and widget.frame == 3
    first = widget.runs[0]
    assert (first["label"], first["status"], first["error"]) == ("300 ms", 504, "")
    assert [h["forwarded_ms"] for h in first["hops"]] == [198.0, 96.0, None]
    json.dumps(widget.runs)  # plain JSON
    assert [r["label"] for r in show_budget([_run(504)]).runs] == ["run 1"]


def test_budget_widget_shows_a_stub_or_a_crash_as_one_line() -> None:
    widget = show_budget(
        [_run(500, "NotImplementedError: Not written yet: replace this line"), KeyError("x")]
    )
    assert widget.runs[0]["error"] == "Not written yet: replace this line"
    assert widget.runs[1]["error"] == "KeyError: 'x'" and widget.runs[1]["hops"] == []


def test_budget_labels_must_match() -> None:
    with pytest.raises(ValueError, match="labels must have one title per run"):
        show_budget([_run(504)], labels=["a", "b"])
