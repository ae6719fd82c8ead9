"""The animated circuit-breaker widget: replay a scenario, scrub it, tweak the knobs.

>>> show_breaker()                                  # doctest: +SKIP
>>> compare_breakers(MyBreaker, "sffff|10sss")      # doctest: +SKIP

The widget records each breaker's run first (:func:`.breaker_playback.record_run`)
and then only shows frame ``i`` of it, so it never waits, sleeps or needs a
browser: it builds the same way under nbgrader autograde
(``NBGRADER_EXECUTION``), nbval and nbclient as in JupyterLab. In the browser
``ipywidgets.Play`` ticks the frame slider (``jslink``); each tick redraws.

DOM hooks (for the browser test and for styling) are CSS classes added with
``add_class``:

* ``breaker-widget``: the whole widget (a ``VBox``);
* ``breaker-play``: the ``Play`` control; ``breaker-frame-slider``: the frame slider;
  ``breaker-prev`` / ``breaker-next``: the step buttons;
* ``breaker-panel``: one breaker's panel, plus ``breaker-panel-reference`` or
  ``breaker-panel-student``;
* ``breaker-state``: an ``HTML`` widget whose text is exactly the highlighted
  state, ``closed`` / ``open`` / ``half_open``;
* ``breaker-status``: the line saying what the current call did;
* ``breaker-divergence`` (compare only): where the two breakers first differ;
* ``breaker-error``: the error of the last knob change, empty when it worked;
* ``breaker-knob-window-size``, ``breaker-knob-failure-rate-threshold``,
  ``breaker-knob-minimum-calls``, ``breaker-knob-cooldown``,
  ``breaker-knob-half-open-max-calls``: the knob sliders.

Each panel's figure is a ``.js-plotly-plot`` inside its ``breaker-panel``.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from course_lib.events import Trace
from course_lib.replay import Step, describe
from course_lib.widgets.breaker_figure import configure_figure, draw_frame, make_figure, trace_named
from course_lib.widgets.breaker_playback import (
    DEFAULT_CONFIG,
    BreakerConfig,
    BreakerFactory,
    BreakerRun,
    Divergence,
    as_steps,
    first_divergence,
    record_run,
    reference_factory,
)

__all__ = ["PLAY_INTERVAL_MS", "BreakerPanel", "BreakerWidget", "compare_breakers", "show_breaker"]

PLAY_INTERVAL_MS = 500
"""Milliseconds between frames when Play runs."""


def _said(state: str) -> str:
    return state.upper()


class BreakerPanel:
    """One breaker's panel: a title, the state, a status line and the figure.

    Attributes:
        label: The title, e.g. ``"Reference"`` or ``"Your breaker"``.
        run: The recorded run it shows.
        figure: The :class:`plotly.graph_objects.FigureWidget`.
        box: The ``VBox`` put on the page.
    """

    def __init__(self, run: BreakerRun, *, kind: str, width: int | None = None) -> None:
        self.label = run.label
        self.kind = kind
        self.run = run
        self.figure: Any = make_figure(run, width=width)
        self.title = widgets.HTML(f"<b>{html.escape(run.label)}</b>")
        self.state_html = widgets.HTML(run.views[0].state)
        self.state_html.add_class("breaker-state")
        self.status = widgets.HTML("")
        self.status.add_class("breaker-status")
        state_row = widgets.HBox([widgets.HTML("state:"), self.state_html])
        self.box = widgets.VBox([self.title, state_row, self.status, self.figure])
        self.box.add_class("breaker-panel")
        self.box.add_class(f"breaker-panel-{kind}")
        self.show(0)

    @property
    def highlighted_state(self) -> str:
        """The state drawn highlighted in the state diagram now, read from the figure.

        ``""`` if no node is highlighted (a breaker reporting a state that is
        none of ``closed`` / ``open`` / ``half_open``).
        """
        nodes = trace_named(self.figure, "states")
        sizes = list(nodes.marker.size)
        if len(set(sizes)) == 1:
            return ""
        return str(nodes.customdata[sizes.index(max(sizes))])

    def replace_run(self, run: BreakerRun, index: int) -> None:
        """Show another run of the same panel (new knobs), at frame ``index``."""
        self.run = run
        configure_figure(self.figure, run, index)
        self.show(index)

    def show(self, index: int) -> None:
        """Draw frame ``index``."""
        draw_frame(self.figure, self.run, index)
        view = self.run.views[index]
        frame = view.frame
        self.state_html.value = view.state
        what = {
            "success": "succeeded",
            "failure": "failed",
            "rejected": "was rejected (failed fast)",
        }
        text = (
            f"frame {index}: call {index + 1} of {len(self.run)} at t={frame.time:g}s "
            f"{what[frame.outcome]}"
        )
        if view.reason and frame.state_before != frame.state_after:
            text += f"; {_said(frame.state_before)} → {_said(frame.state_after)} ({view.reason})"
        elif view.reason:
            text += f"; {view.reason}"
        else:
            text += f"; stays {_said(view.state)}"
        self.status.value = html.escape(text)


class BreakerWidget:
    """A circuit breaker (or two, side by side) replayed through a scenario.

    Build it with :func:`show_breaker` or :func:`compare_breakers` (or
    :meth:`compare`); put it last in a notebook cell to display it.

    Args:
        scenario: Steps, a pattern such as ``"sffff|10sss"``, or ``None`` for
            :data:`~course_lib.widgets.breaker_playback.DEFAULT_SCENARIO`.
        config: The breaker knobs; :class:`BreakerConfig` defaults if ``None``.
        breaker_factory: Builds the breaker to show from the config keywords;
            ``None`` = the reference :class:`~course_lib.breaker.CircuitBreaker`.
        student_factory: If given, a second panel: this breaker next to the
            reference, with a line saying where they first differ.
        label: Title of the ``breaker_factory`` panel.
        interval_ms: Milliseconds between frames when Play runs.
        width: Pixel width of each figure (``None`` fills the cell; compare
            mode defaults to 480 each).

    Raises:
        ValueError: A knob or the scenario is invalid.
        Exception: Whatever ``student_factory`` or its breaker raises while the
            scenario is recorded, unchanged: a stub's ``NotImplementedError``
            surfaces as the cell's error, so the student knows what to do.
    """

    def __init__(
        self,
        scenario: Sequence[Step] | str | None = None,
        *,
        config: BreakerConfig | None = None,
        breaker_factory: BreakerFactory | None = None,
        student_factory: BreakerFactory | None = None,
        label: str | None = None,
        interval_ms: int = PLAY_INTERVAL_MS,
        width: int | None = None,
    ) -> None:
        self.config = config or DEFAULT_CONFIG
        self.scenario: tuple[Step, ...] = as_steps(scenario)
        self._sources: list[tuple[str, str, BreakerFactory | None]] = []
        if student_factory is not None:
            self._sources.append(("Your breaker", "student", student_factory))
        default_label = "Reference breaker" if breaker_factory is None else "Breaker"
        self._sources.append((label or default_label, "reference", breaker_factory))
        if student_factory is not None and width is None:
            width = 480
        runs = self._record(self.config)
        self.panels = [
            BreakerPanel(run, kind=kind, width=width)
            for run, (_, kind, _) in zip(runs, self._sources, strict=True)
        ]
        self.divergence: Divergence | None = None
        last = len(self.scenario) - 1
        self.play = widgets.Play(
            value=0,
            min=0,
            max=last,
            step=1,
            interval=interval_ms,
            description="Play",
            show_repeat=False,
        )
        self.play.add_class("breaker-play")
        self.slider = widgets.IntSlider(
            value=0, min=0, max=last, step=1, description="frame", continuous_update=True
        )
        self.slider.add_class("breaker-frame-slider")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.prev_button = widgets.Button(description="◀ prev", layout={"width": "80px"})
        self.prev_button.add_class("breaker-prev")
        self.next_button = widgets.Button(description="next ▶", layout={"width": "80px"})
        self.next_button.add_class("breaker-next")
        self.prev_button.on_click(lambda _: self.go_to(self.frame_index - 1))
        self.next_button.on_click(lambda _: self.go_to(self.frame_index + 1))
        self.slider.observe(self._on_slider, names="value")
        self.knobs = self._make_knobs()
        self.scenario_html = widgets.HTML("")
        self.divergence_html = widgets.HTML("")
        self.divergence_html.add_class("breaker-divergence")
        self.error_html = widgets.HTML("")
        self.error_html.add_class("breaker-error")
        controls = widgets.HBox([self.play, self.prev_button, self.next_button, self.slider])
        knob_box = widgets.HBox(list(self.knobs.values()), layout={"flex_flow": "row wrap"})
        children: list[Any] = [controls, knob_box, self.error_html, self.scenario_html]
        if student_factory is not None:
            children.append(self.divergence_html)
        children.append(widgets.HBox([panel.box for panel in self.panels]))
        self.box = widgets.VBox(children)
        self.box.add_class("breaker-widget")
        self._update_texts()

    # --- construction helpers -------------------------------------------------

    @classmethod
    def compare(
        cls,
        student_factory: BreakerFactory,
        scenario: Sequence[Step] | str | None = None,
        **config: Any,
    ) -> BreakerWidget:
        """The student's breaker and the reference, fed the same scenario, side by side.

        Args:
            student_factory: Called as ``student_factory(window_size=..., ...)``
                with the five config keywords (a class works).
            scenario: As for :class:`BreakerWidget`.
            **config: Knobs of :class:`BreakerConfig`; the rest are :data:`DEFAULT_CONFIG`'s.
        """
        return cls(
            scenario, config=DEFAULT_CONFIG.replace(**config), student_factory=student_factory
        )

    def _record(self, config: BreakerConfig) -> list[BreakerRun]:
        runs = []
        for label, _, factory in self._sources:
            if factory is None:
                trace = Trace()
                run = record_run(
                    functools.partial(reference_factory, listener=trace),
                    self.scenario,
                    config,
                    label=label,
                    trace=trace,
                )
            else:
                run = record_run(factory, self.scenario, config, label=label)
            runs.append(run)
        return runs

    def _make_knobs(self) -> dict[str, Any]:
        c = self.config
        style = {"description_width": "initial"}
        knobs = {
            "failure_rate_threshold": widgets.FloatSlider(
                value=c.failure_rate_threshold,
                min=0.05,
                max=1.0,
                step=0.05,
                description="threshold",
                readout_format=".0%",
            ),
            "window_size": widgets.IntSlider(
                value=c.window_size, min=1, max=max(50, c.window_size), description="window"
            ),
            "minimum_calls": widgets.IntSlider(
                value=c.minimum_calls,
                min=1,
                max=max(50, c.minimum_calls),
                description="minimum calls",
            ),
            "cooldown": widgets.FloatSlider(
                value=c.cooldown,
                min=1.0,
                max=max(60.0, c.cooldown),
                step=1.0,
                description="cooldown (s)",
            ),
            "half_open_max_calls": widgets.IntSlider(
                value=c.half_open_max_calls,
                min=1,
                max=max(10, c.half_open_max_calls),
                description="half-open trials",
            ),
        }
        for name, knob in knobs.items():
            knob.continuous_update = False
            knob.style = style
            knob.add_class(f"breaker-knob-{name.replace('_', '-')}")
            knob.observe(self._on_knob, names="value")
        return knobs

    # --- what tests and notebooks read ---------------------------------------

    @property
    def frame_index(self) -> int:
        """The frame shown now (0-based)."""
        return int(self.slider.value)

    @property
    def frames(self) -> list[Any]:
        """The first panel's replay frames (:class:`course_lib.replay.Frame`)."""
        return self.panels[0].run.frames

    @property
    def runs(self) -> list[BreakerRun]:
        """Every panel's recorded run, in panel order (student first in compare mode)."""
        return [panel.run for panel in self.panels]

    @property
    def figure(self) -> Any:
        """The first panel's :class:`plotly.graph_objects.FigureWidget`."""
        return self.panels[0].figure

    @property
    def highlighted_state(self) -> str:
        """The state highlighted in the first panel's diagram now."""
        return self.panels[0].highlighted_state

    def panel(self, kind: str) -> BreakerPanel:
        """The panel of ``kind``: ``"reference"`` or ``"student"``.

        Raises:
            KeyError: This widget has no such panel.
        """
        for panel in self.panels:
            if panel.kind == kind:
                return panel
        raise KeyError(f"no {kind!r} panel; have {[p.kind for p in self.panels]}")

    # --- actions -------------------------------------------------------------

    def go_to(self, index: int) -> None:
        """Show frame ``index``, clamped to ``[0, len(frames) - 1]``."""
        index = max(0, min(int(index), len(self.scenario) - 1))
        if index == self.slider.value:
            self._show(index)
        else:
            self.slider.value = index  # the observer draws it

    def configure(self, **changes: Any) -> None:
        """Re-run the scenario through fresh breakers with some knobs changed.

        Keeps the current frame. The knob sliders follow.

        Raises:
            ValueError: A knob is out of range (the widget keeps its old run).
            Exception: Whatever a breaker raises, unchanged.
        """
        unknown = set(changes) - set(self.knobs)
        if unknown:
            raise ValueError(f"unknown knob(s) {sorted(unknown)}; use {sorted(self.knobs)}")
        config = self.config.replace(**changes)
        runs = self._record(config)
        self.config = config
        for panel, run in zip(self.panels, runs, strict=True):
            panel.replace_run(run, self.frame_index)
        self._syncing = True
        try:
            for name, knob in self.knobs.items():
                knob.value = getattr(config, name)
        finally:
            self._syncing = False
        self.error_html.value = ""
        self._update_texts()

    def _on_knob(self, change: dict[str, Any]) -> None:
        if getattr(self, "_syncing", False):
            return
        values = {name: knob.value for name, knob in self.knobs.items()}
        values["failure_rate_threshold"] = round(float(values["failure_rate_threshold"]), 4)
        values["cooldown"] = float(values["cooldown"])
        try:
            self.configure(**values)
        except Exception as error:  # shown in the panel: a callback has no cell to fail
            self.error_html.value = (
                f"<span style='color:#d62728'>Could not re-run with these settings: "
                f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</span>"
            )

    def _on_slider(self, change: dict[str, Any]) -> None:
        self._show(int(change["new"]))

    def _show(self, index: int) -> None:
        for panel in self.panels:
            panel.show(index)

    def _update_texts(self) -> None:
        self.scenario_html.value = html.escape(
            f"Scenario ({len(self.scenario)} calls): {describe(self.scenario)}"
        )
        if len(self.panels) > 1:
            self.divergence = first_divergence(
                self.panel("reference").run, self.panel("student").run
            )
            if self.divergence is None:
                text = "Your breaker and the reference agree on every call of this scenario."
            else:
                text = self.divergence.message
            self.divergence_html.value = f"<b>{html.escape(text)}</b>"

    # --- display -------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # A plotly >= 6 FigureWidget sends its full state to the browser only from
        # its own _repr_mimebundle_; nested in a VBox it would show the state it had
        # when it was created (plotly.py issue #4998). Refresh it, then show the box.
        for panel in self.panels:
            panel.figure._repr_mimebundle_()
        return self.box._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        kinds = " vs ".join(p.label for p in self.panels)
        return f"<BreakerWidget {kinds}: {len(self.scenario)} frames, at frame {self.frame_index}>"


def show_breaker(
    scenario: Sequence[Step] | str | None = None,
    *,
    breaker_factory: BreakerFactory | None = None,
    window_size: int = 10,
    failure_rate_threshold: float = 0.5,
    minimum_calls: int = 5,
    cooldown: float = 10.0,
    half_open_max_calls: int = 3,
    interval_ms: int = PLAY_INTERVAL_MS,
) -> BreakerWidget:
    """Animate a breaker (the reference by default) through a scenario.

    Put the call last in a cell to display it. With the defaults the breaker
    trips CLOSED -> OPEN at frame 4, rejects calls, re-trips from HALF_OPEN and
    finally closes again.

    Args:
        scenario: Steps, a pattern such as ``"sffff|10sss"``, or ``None`` for
            the default story.
        breaker_factory: Builds the breaker from the five config keywords;
            ``None`` = the reference ``CircuitBreaker``.
        window_size: Calls in the rolling window.
        failure_rate_threshold: Trip at ``failures / calls >= threshold``.
        minimum_calls: Calls needed before the rate counts.
        cooldown: Seconds OPEN before trial calls.
        half_open_max_calls: Trial calls in HALF_OPEN.
        interval_ms: Milliseconds between frames when Play runs.

    Raises:
        ValueError: A knob or the scenario is invalid (the message names it).
    """
    config = BreakerConfig(
        window_size=window_size,
        failure_rate_threshold=failure_rate_threshold,
        minimum_calls=minimum_calls,
        cooldown=cooldown,
        half_open_max_calls=half_open_max_calls,
    )
    return BreakerWidget(
        scenario, config=config, breaker_factory=breaker_factory, interval_ms=interval_ms
    )


def compare_breakers(
    student_factory: BreakerFactory,
    scenario: Sequence[Step] | str | None = None,
    **config: Any,
) -> BreakerWidget:
    """The student's breaker next to the reference, fed the same scenario.

    ``student_factory`` (e.g. the student's class) is called with the five
    keywords ``window_size``, ``failure_rate_threshold``, ``minimum_calls``,
    ``cooldown``, ``half_open_max_calls``. A line above the panels says at which
    frame, and how, the two first behave differently.

    If the student's breaker raises (a stub's ``NotImplementedError``), the
    exception propagates with its own message: the cell fails and says what is
    left to implement. (When a knob slider re-runs the scenario, the error is
    shown in the widget instead, since a slider callback has no cell to fail.)

    Raises:
        ValueError: A knob or the scenario is invalid.
    """
    return BreakerWidget.compare(student_factory, scenario, **config)
