"""The incident-timeline widget of notebook 06: metrics, rule firings, breaker, outbox, RTO/RPO.

>>> show_incident()                                        # doctest: +SKIP
>>> show_incident(rules=RULES, run_rules=run_rules)        # doctest: +SKIP

A small `anywidget <https://anywidget.dev>`_ with its own hand-written view
(``runbook_widget.js``, SVG). The kernel does all the work first:
:func:`course_lib.runbook.simulate_incident` plays a seeded 30-minute incident
(a payment outage, a Redis spike, a database crash and failover, Redis
saturation) through the triage rules, a real circuit breaker and a real SQLite
outbox, and the result becomes one plain JSON document (a few kB): per sample
the metrics, the payment breaker's state, the outbox's size and status; the
rules' fire and resolve events; the failover's moments and its achieved RTO
and RPO. The browser draws it once and moves a cursor to frame ``frame`` (one
frame per 10-second sample). Play is a timer in the browser advancing the synced
``frame``.

A student's ``RULES`` and ``run_rules`` are untrusted code: they run only here,
in the kernel, over the same samples, and their events are drawn in a lane of
their own next to the reference's. If they raise (a stub's
``NotImplementedError``), the lane shows a one-line message instead.

Synced traits: ``incident`` (the JSON document), ``student`` (``events`` and ``error``),
``frame``, ``playing``, ``interval_ms``; and the presenter convention's ``theme`` and
``zoom`` (:mod:`course_lib.widgets.presenter`: large controls and high contrast in the
``"presenter"`` theme; once the widget has focus, → / ← the next / previous sample, Home /
End the first / last, Space plays, + / − zoom, C the theme).

DOM hooks (for the browser tests and for styling): ``.runbook-widget``
(``data-frame``: the frame drawn), ``.runbook-play``, ``.runbook-prev``,
``.runbook-next``, ``.runbook-slider``, ``.runbook-frame-label``,
``.runbook-cursor``, ``.runbook-lane`` (``data-lane``: ``metrics``, ``rules``,
``student``, ``breaker``, ``outbox``), ``.runbook-firing`` (one per firing span,
``data-rule``), ``.runbook-mark`` (``data-mark``: ``crash``, ``last_replicated``,
``detected``, ``rerouted``), ``.runbook-readout``, ``.runbook-breaker-state``
(``data-state``), ``.runbook-outbox-size`` (``data-size``),
``.runbook-student-error``, ``.runbook-divergence``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from course_lib.runbook import (
    METRICS,
    TARGET_RPO,
    TARGET_RTO,
    TRIAGE_RULES,
    IncidentRun,
    simulate_incident,
)
from course_lib.runbook import (
    run_rules as reference_run_rules,
)
from course_lib.widgets.presenter import PresenterTraits, presenter_css, presenter_esm

__all__ = ["PLAY_INTERVAL_MS", "IncidentWidget", "incident_json", "show_incident"]

PLAY_INTERVAL_MS = 150
"""Milliseconds between frames when Play runs (180 frames: about half a minute)."""

_HERE = Path(__file__).resolve().parent
_MAX_TEXT = 200


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _events_json(events: Sequence[Any]) -> list[dict[str, Any]]:
    """Events as ``{"kind", "t", "rule", "severity", "action"}`` dicts (bad ones skipped)."""
    out: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, tuple | list) or len(event) < 3:
            continue
        kind, t, rule = event[0], _number(event[1]), event[2]
        if kind not in ("fire", "resolve") or t is None:
            continue
        out.append(
            {
                "kind": kind,
                "t": t,
                "rule": _short(str(rule)),
                "severity": _short(str(event[3])) if kind == "fire" and len(event) > 3 else "",
                "action": _short(str(event[4])) if kind == "fire" and len(event) > 4 else "",
            }
        )
    return out


def incident_json(run: IncidentRun) -> dict[str, Any]:
    """The plain JSON the browser draws for one simulated incident.

    Keys: ``t`` (sample times), one list per metric of
    :data:`~course_lib.runbook.METRICS`, ``breaker`` and ``outbox`` and
    ``status`` (per sample), ``events`` (the reference rules'), ``rules``
    (names, severities, actions), ``timeline`` (the failover's moments),
    ``objectives`` (achieved RTO and RPO), ``targets`` (the module's), and
    ``charged`` / ``written`` (checkouts).
    """
    return {
        "t": [s["t"] for s in run.samples],
        **{metric: [round(s[metric], 4) for s in run.samples] for metric in METRICS},
        "breaker": list(run.breaker),
        "outbox": list(run.outbox),
        "status": list(run.status),
        "events": _events_json(run.events),
        "rules": [
            {"name": r["name"], "severity": r["severity"], "action": r["action"]}
            for r in TRIAGE_RULES
        ],
        "timeline": dict(run.timeline),
        "objectives": dict(run.objectives),
        "targets": {"rto": TARGET_RTO, "rpo": TARGET_RPO},
        "charged": run.charged,
        "written": run.written,
    }


def _raised(error: BaseException) -> str:
    try:
        detail = str(error)
    except Exception:  # a hostile __str__
        detail = ""
    said = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return _short(f"Your run_rules raised {said}") + " — fix it and run this cell again."


class IncidentWidget(PresenterTraits, anywidget.AnyWidget):
    """One simulated incident as a timeline you can play and step through.

    Build it with :func:`show_incident`; put it last in a cell to display it.

    Args:
        seed: Seeds the simulated traffic and failures.
        rules: A student's rules (drawn with ``run_rules``); ``None``: no student lane.
        run_rules: A student's ``run_rules(rules, samples)``.
        interval_ms: Milliseconds between frames when Play runs.

    Raises:
        ValueError: ``interval_ms`` is not a positive integer.
    """

    _esm = presenter_esm(_HERE / "runbook_widget.js")
    _css = presenter_css(_HERE / "runbook_widget.css")

    incident = traitlets.Dict().tag(sync=True)
    student = traitlets.Dict().tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    interval_ms = traitlets.Int(PLAY_INTERVAL_MS).tag(sync=True)

    def __init__(
        self,
        *,
        seed: int = 6,
        rules: Any = None,
        run_rules: Callable[..., Any] | None = None,
        interval_ms: int = PLAY_INTERVAL_MS,
    ) -> None:
        if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms < 1:
            raise ValueError(f"interval_ms must be a positive integer, got {interval_ms!r}")
        self.run = simulate_incident(seed)
        student: dict[str, Any] = {}
        if run_rules is not None:
            student = self._student(rules, run_rules)
        super().__init__(incident=incident_json(self.run), student=student, interval_ms=interval_ms)

    def _student(self, rules: Any, run_rules: Callable[..., Any]) -> dict[str, Any]:
        """The student's events over the same samples, or the one-line error they raised."""
        samples = [dict(s) for s in self.run.samples]
        try:
            given = [dict(r) for r in rules] if rules is not None else list(TRIAGE_RULES)
            events = _events_json(list(run_rules(given, samples)))
        except Exception as error:  # untrusted code: say it in its lane
            return {"events": [], "error": _raised(error), "divergence": ""}
        reference = _events_json(reference_run_rules(TRIAGE_RULES, samples))
        divergence = "Your rules and the reference's fire and resolve at the same moments."
        for index in range(max(len(events), len(reference))):
            mine = events[index] if index < len(events) else None
            theirs = reference[index] if index < len(reference) else None
            if mine != theirs:
                divergence = (
                    f"Event {index + 1}: yours is {_said(mine)}, "
                    f"the reference's is {_said(theirs)}."
                )
                break
        return {"events": events, "error": "", "divergence": divergence}

    @property
    def frames(self) -> int:
        """How many frames (samples) the timeline has."""
        return len(self.run.samples)

    def go_to(self, index: int) -> None:
        """Show frame ``index``, clamped to the timeline."""
        self.frame = max(0, min(int(index), self.frames - 1))

    def shown(self) -> dict[str, Any]:
        """What the readout says at the current frame (time, metrics, breaker, outbox)."""
        i = int(self.frame)
        data = self.incident
        return {
            "t": data["t"][i],
            **{metric: data[metric][i] for metric in METRICS},
            "breaker": data["breaker"][i],
            "outbox": data["outbox"][i],
            "status": data["status"][i],
        }

    def __repr__(self) -> str:
        return f"<IncidentWidget: {self.frames} frames, at frame {int(self.frame)}>"


def _said(event: dict[str, Any] | None) -> str:
    if event is None:
        return "nothing"
    return f"{event['kind']} {event['rule']} at t={event['t']:g} s"


def show_incident(
    *,
    seed: int = 6,
    rules: Any = None,
    run_rules: Callable[..., Any] | None = None,
    interval_ms: int = PLAY_INTERVAL_MS,
) -> IncidentWidget:
    """The incident timeline; with ``run_rules``, the student's rule events in a lane of their own.

    Args:
        seed: Seeds the simulated incident.
        rules: The student's ``RULES`` (``None``: the reference's table).
        run_rules: The student's ``run_rules``; ``None``: no student lane.
        interval_ms: Milliseconds between frames when Play runs.
    """
    return IncidentWidget(seed=seed, rules=rules, run_rules=run_rules, interval_ms=interval_ms)
