"""The animated circuit-breaker widget, headless (no browser).

Every check reads what the browser view would draw: the frames JSON in the
model's synced ``panels`` trait and the synced ``frame`` index. A browser's edits
are simulated with ``set_state`` (what a comm message from the view does). The
browser itself is tested in tests/test_browser.py. Nothing sleeps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import pytest

from course_lib.breaker import CircuitBreaker
from course_lib.breaker_vocabulary import START, STATES, TRANSITIONS, disagreement, display_name
from course_lib.events import Trace
from course_lib.replay import Step, drive, random_scenario, steps_from_string
from course_lib.widgets import (
    DEFAULT_SCENARIO,
    BreakerConfig,
    compare_breakers,
    first_divergence,
    record_run,
    show_breaker,
)
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
    # The model carries the same frames as JSON, one per call.
    sent = widget.panel("reference")["frames"]
    assert [f["state"] for f in sent] == states
    assert [f["outcome"] for f in sent] == [f.outcome for f in expected]
    assert [f["t"] for f in sent] == [f.time for f in expected]


def test_frames_json_holds_state_window_rate_cooldown_and_rejections() -> None:
    widget = show_breaker()

    widget.go_to(3)  # s f f f: 3 of 4 calls failed, below the 5-call minimum
    shown = widget.shown()
    assert (shown["state"], shown["window"]) == ("closed", "sfff")
    assert shown["rate"] == pytest.approx(0.75)
    assert shown["cooldown_left"] is None and shown["rejected"] == 0

    widget.go_to(4)  # 4th failure: 80% >= 50% -> OPEN, cooldown 10 s starts
    shown = widget.shown()
    assert widget.highlighted_state == "open"
    assert (shown["before"], shown["state"], shown["window"]) == ("closed", "open", "sffff")
    assert shown["rate"] == pytest.approx(0.8)
    assert shown["cooldown_left"] == pytest.approx(10.0)
    assert "80% >= threshold 50%" in shown["reason"]

    widget.go_to(6)  # two calls rejected while the cooldown counts down
    shown = widget.shown()
    assert (shown["outcome"], shown["allowed"], shown["rejected"]) == ("rejected", False, 2)
    assert shown["cooldown_left"] == pytest.approx(8.0)

    widget.go_to(7)  # t=15: cooldown over, first trial call
    assert widget.highlighted_state == "half_open"
    assert widget.shown()["cooldown_left"] is None

    widget.go_to(14)  # third trial succeeds -> CLOSED with an empty window
    assert (widget.highlighted_state, widget.shown()["window"]) == ("closed", "")

    widget.go_to(len(widget.frames) - 1)  # 14 calls since closing: the oldest were evicted
    assert widget.shown()["window"] == "ssfsssssss"

    widget.go_to(2)  # scrubbing back
    assert (widget.highlighted_state, widget.shown()["window"]) == ("closed", "sff")


def test_frames_json_is_plain_json_and_small() -> None:
    widget = compare_breakers(OnlyProtocol, random_scenario(3, 200))
    text = json.dumps(widget.panels, allow_nan=False)  # no NaN, no objects
    assert len(text) < 100_000
    assert json.loads(text) == widget.panels
    assert len(widget._esm) < 50_000 and "plotly" not in widget._esm.lower()


def test_go_to_clamps_at_the_ends() -> None:
    widget = show_breaker()
    widget.go_to(-3)
    assert widget.frame_index == 0
    widget.go_to(10_000)
    assert widget.frame_index == len(widget.frames) - 1


# --- what the browser view sends back --------------------------------------------


def test_the_frame_index_is_a_synced_trait_the_view_can_set() -> None:
    widget = show_breaker()
    state = widget.get_state()
    assert state["frame"] == 0 and state["playing"] is False
    assert {"panels", "frame", "playing", "interval_ms", "settings", "vocabulary"} <= set(state)
    widget.set_state({"frame": 5})  # what a slider move or a Play tick in the browser sends
    assert widget.frame_index == 5 and widget.highlighted_state == "open"
    widget.set_state({"playing": True})
    assert widget.playing is True
    assert 400 <= widget.interval_ms <= 600


def test_vocabulary_names_and_arrows_come_from_breaker_vocabulary() -> None:
    vocabulary = show_breaker().vocabulary
    assert vocabulary["names"] == {s: display_name(s) for s in STATES}
    assert vocabulary["arrows"] == [
        {"source": t.source, "target": t.target, "label": t.trigger}
        for t in TRANSITIONS
        if t.source != START
    ]


def test_editing_a_knob_in_the_view_reruns_the_scenario_through_a_fresh_breaker() -> None:
    widget = show_breaker()
    widget.go_to(4)
    assert widget.highlighted_state == "open"

    widget.set_state({"settings": {**widget.settings, "failure_rate_threshold": 0.85}})
    assert widget.breaker_config.failure_rate_threshold == pytest.approx(0.85)
    assert widget.frame_index == 4 and widget.highlighted_state == "closed"
    assert all(f.state_after == "closed" for f in widget.frames[:5])
    assert widget.panel()["config"]["failure_rate_threshold"] == pytest.approx(0.85)

    widget.configure(failure_rate_threshold=0.5, window_size=10, cooldown=20.0)
    assert widget.settings["cooldown"] == 20.0
    widget.go_to(7)  # t=15 is inside the 20 s cooldown now: rejected
    assert widget.frames[7].outcome == "rejected"
    assert widget.shown()["cooldown_left"] == pytest.approx(9.0)
    assert widget.config_error == ""


def test_a_knob_the_breaker_refuses_is_reported_in_the_widget_not_raised() -> None:
    def picky(**config: Any) -> Any:
        if config["cooldown"] > 20:
            raise ValueError(f"cooldown must be at most 20, got {config['cooldown']}")
        return reference_factory(**config)

    widget = show_breaker(breaker_factory=picky)
    before = widget.frames
    widget.set_state({"settings": {**widget.settings, "cooldown": 30.0}})
    assert "cooldown must be at most 20, got 30.0" in widget.config_error
    assert widget.frames == before  # the old run stays on screen
    widget.set_state({"settings": {**widget.settings, "cooldown": 15.0}})
    assert widget.config_error == ""
    assert widget.breaker_config.cooldown == 15.0
    widget.set_state({"settings": {**widget.settings, "window_size": 0}})
    assert "window_size must be an integer >= 1, got 0" in widget.config_error


# --- comparing a student's breaker with the reference ----------------------------


def test_compare_says_where_a_wrong_breaker_first_diverges() -> None:
    scenario = "sfsf ffff |30 ssss"
    widget = compare_breakers(
        StrictlyAboveBreaker, scenario, window_size=4, minimum_calls=4, cooldown=30.0
    )
    assert [p["kind"] for p in widget.panels] == ["student", "reference"]
    divergence = widget.divergence
    assert divergence is not None
    assert divergence.index == 3  # s f s f: 2 of 4 = 50% >= 50% trips only the reference
    assert divergence.message == (
        disagreement(
            "They first differ at call 4 of 12 (frame 3, a failure at t=3s): after it",
            yours="closed",
            reference="open",
        )
        + "."
    )
    assert widget.divergence_text == divergence.message
    widget.go_to(3)
    assert widget.shown("reference")["state"] == "open"
    assert widget.shown("student")["state"] == "closed"
    student, reference = widget.run("student"), widget.run("reference")
    assert student is not None and student.reconstructed
    assert reference is not None and not reference.reconstructed


def test_divergence_in_words_when_one_breaker_lets_a_call_through() -> None:
    steps = steps_from_string("ffff s")
    config = BreakerConfig(window_size=4, minimum_calls=4)
    reference = record_run(reference_factory, steps, config)
    always_closed = record_run(lambda **_: _AlwaysClosed(), steps, config)
    divergence = first_divergence(reference, always_closed)
    assert divergence is not None and divergence.index == 3
    assert "after it, your breaker is CLOSED; the reference is OPEN." in divergence.message
    later = first_divergence(reference.frames[4:], always_closed.frames[4:])
    assert later is not None
    assert later.message.endswith(
        "before call 5 of 5 (frame 4, a success at t=4s), "
        "your breaker is CLOSED; the reference is OPEN."
    )


class _AlwaysClosed:
    state = "closed"

    def allow(self, now: float) -> bool:
        return True

    def record_success(self, now: float) -> None:
        pass

    def record_failure(self, now: float) -> None:
        pass


def test_divergence_names_a_call_let_through_against_a_rejection() -> None:
    class NeverRejects(_AlwaysClosed):
        state = "open"

    steps = steps_from_string("ffff s")
    config = BreakerConfig(window_size=4, minimum_calls=4)
    reference = record_run(reference_factory, steps, config)
    other = record_run(lambda **_: NeverRejects(), steps, config)
    divergence = first_divergence(reference.frames[4:], other.frames[4:])
    assert divergence is not None
    assert divergence.message.endswith(
        "your breaker is OPEN; the reference is OPEN; the reference rejected the call "
        "(failed fast while OPEN), yours let it through."
    )


def test_compare_with_a_correct_breaker_reports_agreement() -> None:
    widget = compare_breakers(
        OnlyProtocol, None, window_size=10, minimum_calls=5, cooldown=10.0, half_open_max_calls=3
    )
    assert widget.divergence is None
    assert "agree on every call" in widget.divergence_text


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
    assert widget.highlighted_state == ""
    assert widget.shown("student")["state"] == "tripped"
    assert widget.divergence is not None
    assert widget.divergence.message.endswith("your breaker is TRIPPED; the reference is CLOSED.")


def test_a_stub_breakers_error_is_one_plain_line_in_its_panel() -> None:
    widget = compare_breakers(StubBreaker)
    student = widget.panel("student")
    assert student["frames"] == [] and widget.run("student") is None
    assert student["error"] == (
        "Your breaker raised NotImplementedError at call 1 of 29 (a success at t=0s): "
        "allow(now): decide whether a call may go through — fix it and run this cell again."
    )
    assert "Traceback" not in student["error"]
    assert widget.panel("reference")["frames"], "the reference is still shown"
    assert widget.highlighted_state == "closed"
    assert "could not be replayed" in widget.divergence_text


def test_a_hostile_breaker_cannot_break_the_widget() -> None:
    class Loud(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    class Hostile(_AlwaysClosed):
        def __init__(self, **_: Any) -> None:
            self.calls = 0

        @property
        def state(self) -> str:  # type: ignore[override]
            return "x" * 100_000

        @property
        def failure_rate(self) -> float:
            return float("nan")

    widget = compare_breakers(Hostile, "ss")
    assert len(widget.shown("student")["state"]) <= 200
    assert widget.shown("student")["rate"] is None
    json.dumps(widget.panels, allow_nan=False)

    def raises_loudly(**_: Any) -> Any:
        raise Loud

    assert compare_breakers(raises_loudly, "ss").panel("student")["error"] == (
        "Your breaker raised Loud while it was built (window of 10, threshold 50%, minimum 5 "
        "calls, cooldown 10s, 3 trial calls) — fix it and run this cell again."
    )


def test_a_breaker_that_raises_says_where_in_a_plain_traceback_too() -> None:
    """show_breaker with a raising breaker_factory raises, with a note saying where."""

    class Late(OnlyProtocol):
        def record_failure(self, now: float) -> None:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom") as excinfo:
        show_breaker("ssf", breaker_factory=Late)
    assert excinfo.value.__notes__ == ["raised by the breaker at call 3 of 3 (a failure at t=2s)"]


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


def test_a_bad_play_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval_ms must be a positive integer, got 0"):
        show_breaker(interval_ms=0)


# --- display --------------------------------------------------------------------------


def test_widget_displays_as_one_widget_view_with_no_child_models() -> None:
    widget = show_breaker()
    bundle = widget._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle  # (data, metadata) in anywidget
    view = data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == widget.model_id
    traits = widget.get_state()
    children = {k for k, v in traits.items() if isinstance(v, str) and v.startswith("IPY_MODEL_")}
    assert children == {"layout"}, "only ipywidgets' own Layout: no figure, no control widgets"


def test_widget_builds_silently_under_nbgrader_autograde() -> None:
    """No warning, no stderr: nbgrader zeroes a test cell with any stderr output."""
    code = textwrap.dedent(
        """
        from course_lib.widgets import compare_breakers, show_breaker
        widget = show_breaker()
        widget.go_to(5)
        widget.configure(window_size=6)
        class Stub:
            def __init__(self, **kw): pass
            def allow(self, now): raise NotImplementedError("Not written yet")
        compare_breakers(Stub)
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


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MAX_SAVED_STATE = 1_000_000  # bytes per widget in a notebook executed headless


@pytest.mark.slow
def test_widget_cells_run_clean_and_save_small_state_in_a_headless_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """nbclient, as nbgrader autograde, nbval and nbconvert run notebooks: no frontend,
    no waiting; with ``store_widget_state`` the saved notebook keeps each widget's model,
    which must stay under 1 MB (a plotly FigureWidget carried its 4.96 MB bundle)."""
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
        notebook,
        timeout=120,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": ROOT}},
    ).execute()
    outputs = [output for cell in notebook.cells for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not [o for o in outputs if o.output_type == "error"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 2, "both widgets must display as widget views"

    saved = notebook.metadata["widgets"][WIDGET_STATE]["state"]
    shown = [
        v["application/vnd.jupyter.widget-view+json"]["model_id"]
        for v in (o["data"] for o in views)
    ]
    for model_id in shown:
        size = len(json.dumps(saved[model_id]))
        assert size < MAX_SAVED_STATE, f"widget {model_id} saved {size} bytes of state"
        assert saved[model_id]["state"]["frame"] in (0, 5)
    assert saved[shown[0]]["state"]["frame"] == 5, "the saved state holds the frame shown"
    assert len(json.dumps(notebook.metadata["widgets"])) < 2 * MAX_SAVED_STATE
