"""The animated circuit-breaker widget, headless (no browser, no kernel).

Every check reads what the widget would draw: the figure's trace data and
annotations, the state and status HTML, the recorded frames. Nothing sleeps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import pytest

from course_lib.breaker import CircuitBreaker
from course_lib.events import Trace
from course_lib.replay import Step, drive, random_scenario, steps_from_string
from course_lib.widgets import (
    DEFAULT_SCENARIO,
    BreakerConfig,
    BreakerWidget,
    compare_breakers,
    first_divergence,
    record_run,
    show_breaker,
)
from course_lib.widgets.breaker_figure import COLORS, annotation_named, trace_named
from course_lib.widgets.breaker_playback import reference_factory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- breakers standing in for students' ---------------------------------------


class OnlyProtocol:
    """The reference hidden behind the bare sans-I/O protocol (no snapshot, no rate)."""

    def __init__(self, **config: Any) -> None:
        self._inner = CircuitBreaker(**config)

    def allow(self, now: float) -> bool:
        return self._inner.allow(now)

    def record_success(self, now: float) -> None:
        self._inner.record_success(now)

    def record_failure(self, now: float) -> None:
        self._inner.record_failure(now)

    @property
    def state(self) -> str:
        return str(self._inner.state.value)


class StrictlyAboveBreaker:
    """A classic student bug: trips on ``rate > threshold`` instead of ``>=``; never recovers."""

    def __init__(
        self,
        *,
        window_size: int,
        failure_rate_threshold: float,
        minimum_calls: int,
        cooldown: float,
        half_open_max_calls: int,
    ) -> None:
        self.window: list[bool] = []
        self.size = window_size
        self.threshold = failure_rate_threshold
        self.minimum = minimum_calls
        self.state = "closed"

    def allow(self, now: float) -> bool:
        return self.state == "closed"

    def _record(self, failed: bool) -> None:
        self.window = [*self.window, failed][-self.size :]
        rate = sum(self.window) / len(self.window)
        if len(self.window) >= self.minimum and rate > self.threshold:
            self.state = "open"

    def record_success(self, now: float) -> None:
        self._record(False)

    def record_failure(self, now: float) -> None:
        self._record(True)


class StubBreaker:
    """The blank notebook's stub."""

    def __init__(self, **config: Any) -> None:
        self.state = "closed"

    def allow(self, now: float) -> bool:
        raise NotImplementedError("allow(now): decide whether a call may go through")

    def record_success(self, now: float) -> None:
        raise NotImplementedError

    def record_failure(self, now: float) -> None:
        raise NotImplementedError


def window_colors(widget: BreakerWidget, kind: str = "reference") -> list[str]:
    return list(trace_named(widget.panel(kind).figure, "window").marker.color)


def bar_value(widget: BreakerWidget, name: str) -> float:
    return float(trace_named(widget.figure, name).x[0])


G, R, E = COLORS["success"], COLORS["failure"], COLORS["empty"]


# --- frames --------------------------------------------------------------------


def test_default_widget_replays_the_reference_through_the_default_scenario() -> None:
    widget = show_breaker()
    expected = drive(
        CircuitBreaker(window_size=10, minimum_calls=5, cooldown=10.0, half_open_max_calls=3),
        steps_from_string(DEFAULT_SCENARIO),
    )
    assert widget.frames == expected
    states = [f.state_after for f in widget.frames]
    # The story told in DEFAULT_SCENARIO's docstring.
    assert states[:4] == ["closed"] * 4
    assert states[4] == "open", "the default scenario must trip within the first 5 frames"
    assert [f.outcome for f in widget.frames[5:7]] == ["rejected", "rejected"]
    assert states[7] == "half_open" and states[8] == "open"
    assert states[14] == "closed" and set(states[14:]) == {"closed"}
    assert widget.frame_index == 0 and widget.highlighted_state == "closed"


def test_go_to_draws_state_window_rate_countdown_and_rejections() -> None:
    widget = show_breaker()
    panel = widget.panel("reference")

    widget.go_to(3)  # s f f f: 3 of 4 calls failed, below the 5-call minimum
    assert widget.highlighted_state == "closed"
    assert window_colors(widget) == [G, R, R, R] + [E] * 6
    assert bar_value(widget, "rate") == pytest.approx(0.75)
    assert trace_named(widget.figure, "rate").text[0] == "75%, no verdict: 4/5 calls"

    widget.go_to(4)  # 4th failure: 80% >= 50% -> OPEN, cooldown 10 s starts
    assert widget.frame_index == 4
    assert widget.highlighted_state == "open"
    nodes = trace_named(widget.figure, "states")
    assert list(nodes.marker.color) == [COLORS["idle"], COLORS["open"], COLORS["idle"]]
    assert annotation_named(widget.figure, "arrow:closed->open").arrowcolor == COLORS["taken"]
    assert window_colors(widget) == [G, R, R, R, R] + [E] * 5
    assert bar_value(widget, "rate") == pytest.approx(0.8)
    assert bar_value(widget, "cooldown") == pytest.approx(10.0)
    assert panel.state_html.value == "open"
    assert "CLOSED → OPEN" in panel.status.value and "80%" in panel.status.value

    widget.go_to(6)  # two calls rejected while the cooldown counts down
    assert bar_value(widget, "cooldown") == pytest.approx(8.0)
    assert annotation_named(widget.figure, "title:cooldown").text == "cooldown left: 8 s of 10 s"
    assert annotation_named(widget.figure, "rejected").text.endswith(": 2")
    assert list(trace_named(widget.figure, "calls:rejected").x) == [5.0, 6.0]
    assert widget.figure.layout.shapes[1].x0 == 6.0  # the "now" line

    widget.go_to(7)  # t=15: cooldown over, first trial call
    assert widget.highlighted_state == "half_open"
    assert bar_value(widget, "cooldown") == 0.0

    widget.go_to(14)  # third trial succeeds -> CLOSED with an empty window
    assert widget.highlighted_state == "closed"
    assert window_colors(widget) == [E] * 10
    assert list(trace_named(widget.figure, "timeline").y)[-1] == 0

    widget.go_to(len(widget.frames) - 1)  # 14 calls since closing: the oldest were evicted
    assert window_colors(widget) == [G, G, R] + [G] * 7  # s s F s | s s F s s s s s s s

    widget.go_to(2)  # scrubbing back
    assert widget.highlighted_state == "closed"
    assert window_colors(widget) == [G, R, R] + [E] * 7
    assert len(trace_named(widget.figure, "timeline").x) == 4  # start point + 3 calls


def test_slider_and_step_buttons_move_the_frame_and_clamp_at_the_ends() -> None:
    widget = show_breaker()
    widget.slider.value = 5
    assert widget.frame_index == 5 and widget.highlighted_state == "open"
    widget.next_button.click()
    assert widget.frame_index == 6
    widget.prev_button.click()
    widget.prev_button.click()
    assert widget.frame_index == 4
    widget.go_to(-3)
    assert widget.frame_index == 0
    widget.go_to(10_000)
    assert widget.frame_index == len(widget.frames) - 1
    widget.next_button.click()
    assert widget.frame_index == len(widget.frames) - 1
    assert widget.play.max == widget.slider.max == len(widget.frames) - 1


def test_moving_a_knob_reruns_the_scenario_through_a_fresh_breaker() -> None:
    widget = show_breaker()
    widget.go_to(4)
    assert widget.highlighted_state == "open"

    widget.knobs["failure_rate_threshold"].value = 0.85  # 80% no longer trips
    assert widget.config.failure_rate_threshold == pytest.approx(0.85)
    assert widget.frame_index == 4 and widget.highlighted_state == "closed"
    assert all(f.state_after == "closed" for f in widget.frames[:5])
    assert widget.figure.layout.shapes[0].x0 == pytest.approx(0.85)  # threshold line moved

    widget.knobs["window_size"].value = 4
    assert len(trace_named(widget.figure, "window").x) == 4
    assert widget.config.window_size == 4

    widget.configure(failure_rate_threshold=0.5, window_size=10, cooldown=20.0)
    assert widget.knobs["cooldown"].value == 20.0
    widget.go_to(7)  # t=15 is inside the 20 s cooldown now: rejected
    assert widget.frames[7].outcome == "rejected"
    assert bar_value(widget, "cooldown") == pytest.approx(9.0)
    assert widget.error_html.value == ""


def test_a_knob_the_breaker_refuses_is_reported_in_the_widget_not_raised() -> None:
    def picky(**config: Any) -> Any:
        if config["cooldown"] > 20:
            raise ValueError(f"cooldown must be at most 20, got {config['cooldown']}")
        return reference_factory(**config)

    widget = show_breaker(breaker_factory=picky)
    before = widget.frames
    widget.knobs["cooldown"].value = 30.0
    assert "cooldown must be at most 20, got 30.0" in widget.error_html.value
    assert widget.frames == before  # the old run stays on screen
    widget.knobs["cooldown"].value = 15.0
    assert widget.error_html.value == ""
    assert widget.config.cooldown == 15.0


# --- comparing a student's breaker with the reference ----------------------------


def test_compare_says_where_a_wrong_breaker_first_diverges() -> None:
    scenario = "sfsf ffff |30 ssss"
    widget = compare_breakers(
        StrictlyAboveBreaker, scenario, window_size=4, minimum_calls=4, cooldown=30.0
    )
    assert [p.kind for p in widget.panels] == ["student", "reference"]
    divergence = widget.divergence
    assert divergence is not None
    assert divergence.index == 3  # s f s f: 2 of 4 = 50% >= 50% trips only the reference
    assert divergence.message == (
        "They first differ at frame 3 (call 4 of 12, a failure at t=3s): "
        "the reference went from CLOSED to OPEN, yours stayed CLOSED."
    )
    assert divergence.message in widget.divergence_html.value
    widget.go_to(3)
    assert widget.panel("reference").highlighted_state == "open"
    assert widget.panel("student").highlighted_state == "closed"
    assert widget.panel("student").run.reconstructed
    assert not widget.panel("reference").run.reconstructed


def test_divergence_in_words_when_one_breaker_lets_a_call_through() -> None:
    steps = steps_from_string("ffff s")
    config = BreakerConfig(window_size=4, minimum_calls=4)
    reference = record_run(reference_factory, steps, config)
    always_closed = record_run(lambda **_: _AlwaysClosed(), steps, config)
    divergence = first_divergence(reference, always_closed)
    assert divergence is not None and divergence.index == 3
    # From the other side: the first difference is the state after frame 3.
    assert "yours stayed CLOSED" in divergence.message
    later = first_divergence(reference.frames[4:], always_closed.frames[4:])
    assert later is not None
    assert later.message.endswith("before the call the reference was OPEN but yours was CLOSED.")


class _AlwaysClosed:
    state = "closed"

    def allow(self, now: float) -> bool:
        return True

    def record_success(self, now: float) -> None:
        pass

    def record_failure(self, now: float) -> None:
        pass


def test_compare_with_a_correct_breaker_reports_agreement() -> None:
    widget = BreakerWidget.compare(
        OnlyProtocol, None, window_size=10, minimum_calls=5, cooldown=10.0, half_open_max_calls=3
    )
    assert widget.divergence is None
    assert "agree on every call" in widget.divergence_html.value


@pytest.mark.parametrize("seed", range(6))
def test_reconstructed_window_and_cooldown_match_the_reference_snapshot(seed: int) -> None:
    steps = random_scenario(seed, 60)
    config = BreakerConfig(
        window_size=3 + seed,
        minimum_calls=2 + seed % 3,
        cooldown=4.0 + seed,
        half_open_max_calls=1 + seed % 3,
    )
    truth = record_run(reference_factory, steps, config)
    rebuilt = record_run(OnlyProtocol, steps, config)
    assert rebuilt.reconstructed and not truth.reconstructed
    assert rebuilt.frames == [
        type(f)(f.index, f.time, f.ok, f.allowed, f.state_before, f.state_after, None)
        for f in truth.frames
    ]
    for mine, ref in zip(rebuilt.views, truth.views, strict=True):
        assert mine.window == ref.window, f"frame {ref.frame.index}"
        assert (mine.failure_rate or 0.0) == pytest.approx(ref.failure_rate)
        assert mine.cooldown_remaining == pytest.approx(ref.cooldown_remaining)
        assert mine.rejected == ref.rejected


def test_a_state_outside_the_three_is_shown_as_is_and_highlights_no_node() -> None:
    class Tripped(_AlwaysClosed):
        state = "TRIPPED"

    widget = compare_breakers(lambda **_: Tripped(), "ss")
    student = widget.panel("student")
    assert student.highlighted_state == ""
    assert student.state_html.value == "tripped"
    assert widget.divergence is not None
    assert "before the call the reference was CLOSED but yours was TRIPPED" in (
        widget.divergence.message
    )


def test_a_stub_breakers_error_surfaces_with_its_own_message() -> None:
    with pytest.raises(NotImplementedError, match=r"allow\(now\): decide whether"):
        compare_breakers(StubBreaker)


def test_reason_comes_from_the_reference_trace() -> None:
    trace = Trace()
    run = record_run(
        lambda **kw: reference_factory(listener=trace, **kw),
        "ffff|10f",
        BreakerConfig(window_size=4, minimum_calls=4, cooldown=10.0),
        trace=trace,
    )
    assert "failure rate 100% >= threshold 50%" in run.views[3].reason
    # t=13: cooldown over -> HALF_OPEN, and the trial fails -> OPEN, in one step
    assert run.views[4].frame.state_before == run.views[4].state == "open"
    assert "open -> half_open" in run.views[4].reason
    assert "half_open -> open" in run.views[4].reason
    # Without events (a student's breaker) the reason is told from the frames alone.
    rebuilt = record_run(OnlyProtocol, "ffff|10f", run.config)
    assert rebuilt.views[3].reason == "the failure rate reached the threshold"
    assert rebuilt.views[4].reason == (
        "cooldown over -> half_open, then a trial call failed; the cooldown restarts"
    )
    assert rebuilt.views[4].cooldown_remaining == 10.0


# --- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_size": 0}, "window_size must be an integer >= 1, got 0"),
        ({"failure_rate_threshold": 1.5}, "failure_rate_threshold must be in (0, 1], got 1.5"),
        ({"cooldown": -1.0}, "cooldown must be in [0, inf], got -1.0"),
        ({"half_open_max_calls": 0}, "half_open_max_calls must be an integer >= 1, got 0"),
        ({"scenario": ""}, "scenario must contain at least one call"),
        ({"scenario": "ssq"}, "unexpected 'q' at position 2"),
        ({"scenario": [Step(0, True), (1, False)]}, "scenario[1] must be a course_lib.replay.Step"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as excinfo:
        show_breaker(**kwargs)
    assert message in str(excinfo.value)


def test_configure_refuses_an_unknown_knob() -> None:
    widget = show_breaker()
    with pytest.raises(ValueError, match="unknown knob"):
        widget.configure(treshold=0.3)


# --- display and DOM hooks -----------------------------------------------------------


def test_widget_displays_as_its_vbox_with_the_dom_hooks_the_browser_test_uses() -> None:
    widget = show_breaker()
    bundle = widget._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == widget.box.model_id
    assert "breaker-widget" in widget.box._dom_classes
    assert "breaker-play" in widget.play._dom_classes
    assert 400 <= widget.play.interval <= 600
    panel = widget.panel("reference")
    assert {"breaker-panel", "breaker-panel-reference"} <= set(panel.box._dom_classes)
    assert "breaker-state" in panel.state_html._dom_classes
    assert panel.state_html.value == "closed"
    assert panel.figure in panel.box.children


def test_displaying_sends_each_figures_current_state_not_its_state_at_creation() -> None:
    """plotly >= 6 syncs a nested FigureWidget's full state only on its own display
    (plotly.py #4998); without the refresh the browser drew empty nodes and cells."""
    widget = compare_breakers(OnlyProtocol)
    widget.go_to(4)
    widget._repr_mimebundle_()
    for panel in widget.panels:
        sent = {trace["name"]: trace for trace in panel.figure._widget_data}
        assert sent["states"]["marker"]["color"][1] == COLORS["open"]
        assert sent["window"]["x"] == list(range(10))
        assert sent["rate"]["x"] == [pytest.approx(0.8)]


def test_widget_builds_silently_under_nbgrader_autograde() -> None:
    """No warning, no stderr: nbgrader zeroes a test cell with any stderr output."""
    code = textwrap.dedent(
        """
        from course_lib.widgets import compare_breakers, show_breaker
        widget = show_breaker()
        widget.go_to(5)
        widget.knobs["window_size"].value = 6
        print(widget.highlighted_state)
        """
    )
    env = {**os.environ, "NBGRADER_EXECUTION": "autograde", "PYTHONPATH": ROOT}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == "open"


def test_building_and_scrubbing_emit_no_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        widget = compare_breakers(OnlyProtocol)
        for i in range(len(widget.frames)):
            widget.go_to(i)


@pytest.mark.slow
def test_widget_cells_run_clean_in_a_headless_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """nbclient, as nbgrader autograde and nbval run notebooks: no frontend, no waiting."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [
        nbformat.v4.new_code_cell("from course_lib.widgets import compare_breakers, show_breaker"),
        nbformat.v4.new_code_cell("widget = show_breaker()\nwidget.go_to(5)\nwidget"),
        nbformat.v4.new_code_cell(
            "from course_lib.breaker import CircuitBreaker\n"
            "compare_breakers(lambda **kw: CircuitBreaker(**kw))"
        ),
    ]
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # the kernel inherits it
    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": ROOT}}
    ).execute()
    outputs = [output for cell in notebook.cells for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not [o for o in outputs if o.output_type == "error"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 2, "both widgets must display as widget views"
