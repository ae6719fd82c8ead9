"""The retry-storm widget: attempts per time step against the server's capacity.

>>> show_retry_storm()                                  # doctest: +SKIP

A small `anywidget <https://anywidget.dev>`_ with its own hand-written view
(``retry_widget.js``, SVG). The kernel does all the work first: the storm of
:func:`course_lib.sim.scenarios.retry_storm` (clients retrying against a service
that hangs, then fails every stalled request at once) is run once per schedule,
and each run becomes a plain list of attempts per time step plus its totals. The
model carries those numbers (a few kB) and the current frame; the browser draws
the attempts up to frame ``frame`` of the selected schedule, the capacity line,
and a table of every schedule's calls and completion time. Play is a timer in
the browser that advances the synced ``frame``; a reload draws the frame the
controls show.

A schedule passed in (e.g. the student's, through
:class:`course_lib.sim.brooker.FunctionSchedule`) runs only here, in the kernel.
If it raises (a stub's ``NotImplementedError``), its row shows a one-line
message and the other schedules are still shown.

Synced traits: ``runs`` (one dict per schedule: ``name``, ``label``, ``arrivals``,
``error``, ``calls``, ``retries``, ``completion``, ``peak``, ``failed``), ``selected``,
``frame``, ``playing``, ``interval_ms``, ``capacity``, ``step``, ``hang`` ([start, end] in
seconds), ``caption``; and the presenter convention's ``theme`` and ``zoom``
(:mod:`course_lib.widgets.presenter`: large controls and high contrast in the
``"presenter"`` theme; once the widget has focus, → / ← the next / previous time step, Home
/ End the first / last, Space plays, + / − zoom, C the theme).

DOM hooks (shared with the breaker widget so the course's browser benchmark
finds them): ``.breaker-widget.retry-widget``, ``.breaker-play``,
``.breaker-prev``, ``.breaker-next``, ``.breaker-frame-slider``,
``.breaker-frame-label``, ``.breaker-panel`` (``data-frame``: the frame drawn),
``.breaker-state`` (``data-state``: the schedule shown); and its own
``.retry-schedule`` (the buttons, ``data-schedule``), ``.retry-bar``
(``data-over`` when above capacity), ``.retry-capacity``, ``.retry-table`` /
``.retry-row`` (``data-schedule``), ``.retry-error``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from course_lib.backoff import Backoff, DecorrelatedJitter, EqualJitter, FullJitter, NoJitter
from course_lib.sim.scenarios import retry_storm
from course_lib.widgets.presenter import PresenterTraits, presenter_css, presenter_esm

__all__ = ["RetryStormWidget", "STORM", "show_retry_storm"]

_HERE = Path(__file__).resolve().parent

STORM: dict[str, Any] = {
    "clients": 200,
    "duration": 50.0,
    "workers": 10,
    "queue_limit": 20,
    "hang_start": 10.0,
    "hang_duration": 5.0,
    "max_attempts": 6,
}
"""The storm the widget replays: small enough to simulate in about a second for four schedules."""
STEP = 0.1
"""Seconds per bar (and per frame)."""
LATENCY = 0.02
"""Mean seconds of work per request (the storm's default ``Normal(20 ms, 5 ms)``)."""
PLAY_INTERVAL_MS = 40

LABELS = {
    "none": "No jitter",
    "full": "Full jitter",
    "equal": "Equal jitter",
    "decorrelated": "Decorrelated",
}


def default_schedules(base: float = 0.5, cap: float = 30.0) -> dict[str, Backoff]:
    """The four schedules with the storm's base and cap."""
    return {
        "none": NoJitter(base=base, cap=cap),
        "full": FullJitter(base=base, cap=cap),
        "equal": EqualJitter(base=base, cap=cap),
        "decorrelated": DecorrelatedJitter(base=base, cap=cap),
    }


def _raised(error: BaseException) -> str:
    if isinstance(error, NotImplementedError):
        return f"not written yet ({error})" if str(error) else "not written yet"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"raised {type(error).__name__}" + (f": {text[:160]}" if text else "")


def record_storm(name: str, schedule: Backoff, seed: int = 0) -> dict[str, Any]:
    """Run the storm with one schedule; return the panel's plain data."""
    label = LABELS.get(name, name)
    try:
        storm = retry_storm(backoff=schedule, seed=seed, **STORM)
    except Exception as error:  # noqa: BLE001 - shown in the widget, not raised
        return {"name": name, "label": label, "error": _raised(error), "arrivals": []}
    recovered = storm.recovered_at
    return {
        "name": name,
        "label": label,
        "error": "",
        "arrivals": storm.arrivals(STEP),
        "calls": storm.total_calls,
        "retries": storm.retries,
        "completion": None if recovered is None or not math.isfinite(recovered) else recovered,
        "peak": storm.peak_arrivals(STEP),
        "failed": storm.jobs_failed,
    }


class RetryStormWidget(PresenterTraits, anywidget.AnyWidget):
    """The retry storm replayed for several schedules; one is drawn at a time.

    Args:
        schedules: Name -> schedule (anything with ``delay(attempt, rng, previous)``);
            default the four of :func:`default_schedules`.
        seed: Seeds every run (the same for each schedule).
        selected: The schedule drawn first; default the first one.
        interval_ms: Milliseconds between frames when Play runs.

    Raises:
        ValueError: no schedule, an unknown ``selected`` or a bad ``interval_ms``.
    """

    _esm = presenter_esm(_HERE / "retry_widget.js")
    _css = presenter_css(_HERE / "retry_widget.css")

    runs = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    interval_ms = traitlets.Int(PLAY_INTERVAL_MS).tag(sync=True)
    capacity = traitlets.Int(0).tag(sync=True)
    step = traitlets.Float(STEP).tag(sync=True)
    hang = traitlets.List(traitlets.Float()).tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        schedules: Mapping[str, Backoff] | None = None,
        *,
        seed: int = 0,
        selected: str | None = None,
        interval_ms: int = PLAY_INTERVAL_MS,
    ) -> None:
        chosen = dict(schedules) if schedules is not None else default_schedules()
        if not chosen:
            raise ValueError("schedules is empty: give at least one schedule to show")
        if selected is not None and selected not in chosen:
            raise ValueError(f"selected must be one of {sorted(chosen)}, got {selected!r}")
        if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms < 1:
            raise ValueError(f"interval_ms must be a positive integer, got {interval_ms!r}")
        runs = [record_storm(name, schedule, seed) for name, schedule in chosen.items()]
        workers = int(STORM["workers"])
        start = float(STORM["hang_start"])
        super().__init__(
            runs=runs,
            selected=selected or next(iter(chosen)),
            interval_ms=interval_ms,
            capacity=round(workers / LATENCY * STEP),
            hang=[start, start + float(STORM["hang_duration"])],
            caption=(
                f"{STORM['clients']} clients, {workers} workers (about "
                f"{round(workers / LATENCY)} requests/s), up to {STORM['max_attempts']} "
                f"attempts; the service hangs from {start:g} s for {STORM['hang_duration']:g} s"
            ),
        )

    @property
    def frames(self) -> int:
        """How many frames (time steps) the runs have."""
        return max((len(run["arrivals"]) for run in self.runs), default=0)

    @property
    def table(self) -> list[dict[str, Any]]:
        """One row per schedule that ran: calls, completion, peak and failed requests."""
        return [
            {
                k: run[k]
                for k in ("name", "label", "calls", "retries", "completion", "peak", "failed")
            }
            | {"schedule": run["label"]}
            for run in self.runs
            if not run["error"]
        ]

    def go_to(self, index: int) -> None:
        """Show frame ``index`` (clamped to the runs)."""
        self.frame = max(0, min(self.frames - 1, int(index)))

    def __repr__(self) -> str:
        return f"RetryStormWidget({[run['name'] for run in self.runs]}, frame={self.frame})"


def show_retry_storm(
    schedules: Mapping[str, Backoff] | None = None, *, seed: int = 0, selected: str | None = None
) -> RetryStormWidget:
    """The retry-storm widget for the four schedules (or the ones given); display it."""
    return RetryStormWidget(schedules, seed=seed, selected=selected)
