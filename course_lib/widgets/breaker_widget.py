"""The animated circuit-breaker widget: replay a scenario, step through it, play it.

>>> show_breaker()                                  # doctest: +SKIP
>>> compare_breakers(MyBreaker, "sffff|10sss")      # doctest: +SKIP

A small `anywidget <https://anywidget.dev>`_ with its own hand-written view
(``breaker_widget.js``, SVG, no plotting library). The kernel does all the work
first: each breaker (the reference, and in compare mode the student's) is
replayed through the scenario with :func:`.breaker_playback.record_run`, which
drives it with :func:`course_lib.replay.drive`, and every step becomes one plain
JSON frame (state, rolling window, failure rate, cooldown left, rejected count,
reason). The model carries those frames (a few kB) and the current frame index;
the browser only draws frame ``frame``. So the widget builds the same way under
nbgrader autograde, nbval and nbclient as in JupyterLab; a notebook saved with
its widget state stays small; and a reload or a second view draws the frame the
controls show. Play is a timer in the browser that advances the synced ``frame``.

A student's breaker is untrusted code: it runs only here, in the kernel, while
the run is recorded. If it raises (a stub's ``NotImplementedError``), its panel
shows a one-line message saying so, and the widget still displays the reference.

Synced traits: ``panels`` (one dict per panel: ``label``, ``kind``, ``error``,
``config``, ``frames``), ``frame``, ``playing``, ``interval_ms``, ``settings``
(the knobs; changing them in the browser re-records the runs), ``config_error``,
``scenario_text``, ``divergence_text``, ``vocabulary`` and ``knobs``; and the
presenter convention's ``theme`` and ``zoom`` (:mod:`course_lib.widgets.presenter`:
large controls and high contrast in the ``"presenter"`` theme, keys → / ← / Home /
End / Space / + / − / C once the widget has focus).

DOM hooks (for the browser tests and for styling): ``.breaker-widget`` (its
``data-frame`` is the frame drawn), ``.breaker-play``, ``.breaker-prev``,
``.breaker-next``, ``.breaker-frame-slider``, ``.breaker-frame-label``,
``.breaker-steps`` / ``.breaker-step`` (one per call, ``.breaker-step-current``),
``.breaker-panel`` plus ``.breaker-panel-reference`` or
``.breaker-panel-student`` (``data-frame``), ``.breaker-state`` (the state as
shown, ``data-state`` as spelled in :data:`~course_lib.breaker_vocabulary.STATES`),
``.breaker-node`` (``data-state``; the highlighted one has
``.breaker-node-current``), ``.breaker-arrow-taken``, ``.breaker-window-cell``
(``data-outcome``), ``.breaker-rejected`` (``data-rejected``), ``.breaker-status``,
``.breaker-divergence``, ``.breaker-panel-error``, ``.breaker-error``,
``.breaker-knob-window-size`` etc.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from course_lib.breaker_vocabulary import STATES, TRANSITIONS, display_name
from course_lib.events import Trace
from course_lib.replay import Step, describe
from course_lib.widgets.breaker_playback import (
    DEFAULT_CONFIG,
    BreakerConfig,
    BreakerFactory,
    BreakerRun,
    Divergence,
    FrameView,
    as_steps,
    first_divergence,
    record_run,
    reference_factory,
    where_raised,
)
from course_lib.widgets.presenter import PresenterTraits, presenter_css, presenter_esm

__all__ = [
    "PLAY_INTERVAL_MS",
    "BreakerWidget",
    "compare_breakers",
    "frame_json",
    "show_breaker",
]

PLAY_INTERVAL_MS = 500
"""Milliseconds between frames when Play runs."""

_HERE = Path(__file__).resolve().parent
_MAX_TEXT = 200  # characters of anything a student's breaker says (its state, its error)

_KNOBS: tuple[dict[str, Any], ...] = (
    {"name": "failure_rate_threshold", "label": "threshold", "min": 0.05, "max": 1, "step": 0.05},
    {"name": "window_size", "label": "window", "min": 1, "max": 100, "step": 1, "integer": True},
    {
        "name": "minimum_calls",
        "label": "minimum calls",
        "min": 1,
        "max": 100,
        "step": 1,
        "integer": True,
    },
    {"name": "cooldown", "label": "cooldown (s)", "min": 0, "max": 600, "step": 1},
    {
        "name": "half_open_max_calls",
        "label": "half-open trials",
        "min": 1,
        "max": 20,
        "step": 1,
        "integer": True,
    },
)
"""The knob inputs the view draws, by :class:`BreakerConfig` field."""


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _number(value: float | None) -> float | None:
    """A float JSON can carry (``NaN`` and infinities become ``None``)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def frame_json(view: FrameView) -> dict[str, Any]:
    """One frame of a run as the plain JSON the browser draws.

    Keys: ``t``, ``ok``, ``allowed``, ``outcome`` (``success`` / ``failure`` /
    ``rejected``), ``before`` and ``state`` (the state before and after the
    call), ``window`` (one letter per call in the window, oldest first: ``s``
    success, ``f`` failure), ``rate``, ``cooldown_left`` (``None`` when not
    OPEN), ``rejected`` (so far) and ``reason`` (why the state changed, or ``""``).
    """
    frame = view.frame
    return {
        "t": _number(frame.time),
        "ok": frame.ok,
        "allowed": frame.allowed,
        "outcome": frame.outcome,
        "before": _short(frame.state_before),
        "state": _short(frame.state_after),
        "window": "".join("f" if failed else "s" for failed in view.window),
        "rate": _number(view.failure_rate),
        "cooldown_left": _number(view.cooldown_remaining),
        "rejected": view.rejected,
        "reason": _short(view.reason),
    }


def _raised(label: str, error: BaseException) -> str:
    """A student breaker's exception in one plain line (no traceback)."""
    try:
        detail = str(error)
    except Exception:  # a hostile __str__
        detail = ""
    name = type(error).__name__
    where = where_raised(error)
    said = f"{name} {where}" if where else name
    said = f"{said}: {detail}" if detail else said
    return _short(f"{label} raised {said}") + " — fix it and run this cell again."


class BreakerWidget(PresenterTraits, anywidget.AnyWidget):
    """A circuit breaker (or two, side by side) replayed through a scenario.

    Build it with :func:`show_breaker` or :func:`compare_breakers`; put it last
    in a notebook cell to display it.

    Args:
        scenario: Steps, a pattern such as ``"sffff|10sss"``, or ``None`` for
            :data:`~course_lib.widgets.breaker_playback.DEFAULT_SCENARIO`.
        config: The breaker knobs; the widget's ``DEFAULT_CONFIG`` if ``None``.
        breaker_factory: Builds the breaker to show from the config keywords;
            ``None`` = the reference :class:`~course_lib.breaker.CircuitBreaker`.
        student_factory: If given, a first panel: this breaker next to the
            reference, with a line saying where they first differ. What it
            raises is shown in its panel, not raised.
        label: Title of the ``breaker_factory`` panel.
        interval_ms: Milliseconds between frames when Play runs.

    Raises:
        ValueError: A knob or the scenario is invalid (the message names it).
    """

    _esm = presenter_esm(_HERE / "breaker_widget.js")
    _css = presenter_css(_HERE / "breaker_widget.css")

    panels = traitlets.List(traitlets.Dict()).tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    interval_ms = traitlets.Int(PLAY_INTERVAL_MS).tag(sync=True)
    settings = traitlets.Dict().tag(sync=True)
    config_error = traitlets.Unicode("").tag(sync=True)
    scenario_text = traitlets.Unicode("").tag(sync=True)
    divergence_text = traitlets.Unicode("").tag(sync=True)
    vocabulary = traitlets.Dict().tag(sync=True)
    knobs = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(
        self,
        scenario: Sequence[Step] | str | None = None,
        *,
        config: BreakerConfig | None = None,
        breaker_factory: BreakerFactory | None = None,
        student_factory: BreakerFactory | None = None,
        label: str | None = None,
        interval_ms: int = PLAY_INTERVAL_MS,
    ) -> None:
        breaker_config = config or DEFAULT_CONFIG
        steps = as_steps(scenario)
        if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms < 1:
            raise ValueError(f"interval_ms must be a positive integer, got {interval_ms!r}")
        self.scenario: tuple[Step, ...] = steps
        self._sources: list[tuple[str, str, BreakerFactory | None]] = []
        if student_factory is not None:
            self._sources.append(("Your breaker", "student", student_factory))
        default_label = "Reference breaker" if breaker_factory is None else "Breaker"
        self._sources.append((label or default_label, "reference", breaker_factory))
        self.runs: list[BreakerRun | None] = []
        self.errors: list[str] = []
        self.divergence: Divergence | None = None
        super().__init__(
            interval_ms=interval_ms,
            scenario_text=f"Scenario ({len(steps)} calls): {describe(steps)}",
            vocabulary={
                "names": {state: display_name(state) for state in STATES},
                "arrows": [
                    {"source": t.source, "target": t.target, "label": t.trigger}
                    for t in TRANSITIONS
                    if t.source in STATES
                ],
            },
            knobs=list(_KNOBS),
        )
        self.breaker_config = breaker_config
        self._record(breaker_config)
        self._syncing = True
        try:
            self.settings = breaker_config.as_kwargs()
        finally:
            self._syncing = False
        self.observe(self._on_settings, names="settings")

    # --- recording -------------------------------------------------------------

    def _record(self, config: BreakerConfig) -> None:
        """Replay every panel's breaker with ``config`` and publish the frames."""
        runs: list[BreakerRun | None] = []
        errors: list[str] = []
        for label, kind, factory in self._sources:
            if factory is None:
                trace = Trace()
                runs.append(
                    record_run(
                        functools.partial(reference_factory, listener=trace),
                        self.scenario,
                        config,
                        label=label,
                        trace=trace,
                    )
                )
                errors.append("")
                continue
            try:
                runs.append(record_run(factory, self.scenario, config, label=label))
                errors.append("")
            except Exception as error:  # untrusted code: say it in the panel
                if kind != "student":
                    raise
                runs.append(None)
                errors.append(_raised(label, error))
        self.runs, self.errors = runs, errors
        self.divergence = None
        divergence_text = ""
        if len(runs) > 1:
            student, reference = runs[0], runs[-1]
            if student is None:
                divergence_text = (
                    "Your breaker could not be replayed (its panel says why); "
                    "the reference is shown alone."
                )
            else:
                assert reference is not None
                self.divergence = first_divergence(reference, student)
                divergence_text = (
                    "Your breaker and the reference agree on every call of this scenario."
                    if self.divergence is None
                    else self.divergence.message
                )
        panels = []
        for (label, kind, _), run, message in zip(self._sources, runs, errors, strict=True):
            panels.append(
                {
                    "label": label,
                    "kind": kind,
                    "error": message,
                    "config": config.as_kwargs(),
                    "frames": [] if run is None else [frame_json(v) for v in run.views],
                }
            )
        with self.hold_sync():
            self.panels = panels
            self.divergence_text = divergence_text
            self.frame = max(0, min(self.frame, len(self.scenario) - 1))

    def _on_settings(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        try:
            self.configure(**dict(change["new"]))
        except Exception as error:  # shown in the widget: a browser edit has no cell to fail
            self.config_error = _short(f"Could not re-run with these settings: {error}")

    # --- what tests and notebooks read ------------------------------------------

    @property
    def frame_index(self) -> int:
        """The frame shown now (0-based)."""
        return int(self.frame)

    @property
    def frames(self) -> list[Any]:
        """The first drawable panel's replay frames (:class:`course_lib.replay.Frame`)."""
        for run in self.runs:
            if run is not None:
                return run.frames
        return []

    def run(self, kind: str = "reference") -> BreakerRun | None:
        """The recorded run of the ``"reference"`` or ``"student"`` panel (``None`` if it raised).

        Raises:
            KeyError: This widget has no such panel.
        """
        for (_, source_kind, _), run in zip(self._sources, self.runs, strict=True):
            if source_kind == kind:
                return run
        raise KeyError(f"no {kind!r} panel; have {[k for _, k, _ in self._sources]}")

    def panel(self, kind: str = "reference") -> dict[str, Any]:
        """The JSON the browser draws for the ``"reference"`` or ``"student"`` panel.

        Raises:
            KeyError: This widget has no such panel.
        """
        for data in self.panels:
            if data["kind"] == kind:
                return dict(data)
        raise KeyError(f"no {kind!r} panel; have {[p['kind'] for p in self.panels]}")

    def shown(self, kind: str = "reference") -> dict[str, Any]:
        """The frame the browser draws now in that panel (see :func:`frame_json`)."""
        frames = self.panel(kind)["frames"]
        if not frames:
            raise ValueError(f"the {kind} panel has no frames: {self.panel(kind)['error']}")
        return dict(frames[self.frame_index])

    @property
    def highlighted_state(self) -> str:
        """The state highlighted in the first drawable panel's diagram now (``""`` if none)."""
        for data in self.panels:
            if data["frames"]:
                state = str(data["frames"][self.frame_index]["state"])
                return state if state in STATES else ""
        return ""

    # --- actions ------------------------------------------------------------------

    def go_to(self, index: int) -> None:
        """Show frame ``index``, clamped to ``[0, len(scenario) - 1]``."""
        self.frame = max(0, min(int(index), len(self.scenario) - 1))

    def configure(self, **changes: Any) -> None:
        """Replay the scenario through fresh breakers with some knobs changed.

        Keeps the current frame; the knob inputs follow.

        Raises:
            ValueError: An unknown or out-of-range knob (the widget keeps its old run).
        """
        unknown = set(changes) - {knob["name"] for knob in _KNOBS}
        if unknown:
            known = sorted(knob["name"] for knob in _KNOBS)
            raise ValueError(f"unknown knob(s) {sorted(unknown)}; use {known}")
        config = self.breaker_config.replace(**changes)
        self._record(config)
        self.breaker_config = config
        self._syncing = True
        try:
            self.settings = config.as_kwargs()
        finally:
            self._syncing = False
        self.config_error = ""

    def __repr__(self) -> str:
        kinds = " vs ".join(label for label, _, _ in self._sources)
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
    ``cooldown``, ``half_open_max_calls``; knobs not given are the widget's
    defaults. A line above the panels says where the two first differ, worded by
    :func:`course_lib.breaker_vocabulary.disagreement`. If the student's breaker
    raises (a stub's ``NotImplementedError``), its panel says so in one line and
    the reference is still shown.

    Raises:
        ValueError: A knob or the scenario is invalid.
    """
    return BreakerWidget(
        scenario, config=DEFAULT_CONFIG.replace(**config), student_factory=student_factory
    )
