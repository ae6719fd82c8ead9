"""The service-mesh widget: one request's timeline under a policy, and the amplification tree.

>>> show_mesh()                                          # doctest: +SKIP
>>> show_mesh(simulate, tries=[["hang", 0], ["200", 300]])  # doctest: +SKIP

A small `anywidget <https://anywidget.dev>`_ with its own hand-written view
(``mesh_widget.js``, SVG). The kernel does all the work first: the request is
replayed with the reference :func:`course_lib.mesh.simulate` (and, if given, the
student's ``simulate``), and each run becomes plain JSON: its tries
(``[start_ms, end_ms, outcome]``), the client's status and time, and one *event*
per step (a try starts, a try ends, the request ends). The browser draws frame
``frame``: every event up to it. The amplification tree (requests per layer when
every layer retries, :func:`course_lib.mesh.amplification`) is drawn below.

A student's ``simulate`` is untrusted code: it runs only here, in the kernel. If
it raises (a stub's ``NotImplementedError``) or returns something that is not a
timeline, its panel shows a one-line message and the reference is still drawn.

Synced traits: ``panels`` (``label``, ``kind``, ``error``, ``tries``, ``status``,
``ended_at``, ``events``), ``policy`` (the four fields), ``tree`` (``layers``: ``name``,
``tries``, ``requests``; ``budget_percent``), ``frame``, ``playing``, ``interval_ms``; and
the presenter convention's ``theme`` and ``zoom`` (:mod:`course_lib.widgets.presenter`:
large controls and high contrast in the ``"presenter"`` theme; once the widget has focus, →
/ ← the next / previous step, Home / End the first / last, Space plays, + / − zoom, C the
theme).

DOM hooks: ``.mesh-widget``, ``.mesh-play``, ``.mesh-prev``, ``.mesh-next``,
``.mesh-frame-slider``, ``.mesh-frame-label``, ``.mesh-panel`` plus
``.mesh-panel-reference`` / ``.mesh-panel-student`` (``data-frame`` is the frame
drawn), ``.mesh-try`` (``data-outcome``, ``data-done``), ``.mesh-per-try``,
``.mesh-backoff``, ``.mesh-deadline``, ``.mesh-status``, ``.mesh-event``,
``.mesh-panel-error``, ``.mesh-tree``, ``.mesh-tree-level`` (``data-requests``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from course_lib import mesh
from course_lib.widgets.presenter import PresenterTraits, presenter_css, presenter_esm

__all__ = ["PLAY_INTERVAL_MS", "MeshWidget", "events_of", "show_mesh"]

PLAY_INTERVAL_MS = 700
"""Milliseconds between frames when Play runs."""

DEFAULT_TRIES: tuple[tuple[str, int], ...] = (("hang", 0), ("hang", 0), ("200", 300), ("200", 1))
"""payment-service hangs twice, then answers in 300 ms."""

DEFAULT_LAYERS: tuple[tuple[str, int], ...] = (("client", 3), ("gateway", 3), ("orders", 3))
"""The callers of the module's chain (client -> gateway -> orders -> payments), each making
3 tries: 3 x 3 x 3 = 27 requests reach payments."""

_HERE = Path(__file__).resolve().parent
_MAX_TEXT = 200


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def events_of(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps of a run, in order: ``{"t": ms, "text": ...}`` (the view's frames)."""
    events: list[dict[str, Any]] = []
    for number, (start, end, outcome) in enumerate(run["tries"], 1):
        events.append({"t": start, "text": f"try {number} starts at {start} ms"})
        if end is not None:
            events.append({"t": end, "text": f"try {number} ends at {end} ms: {outcome}"})
    if run["ended_at"] is not None:
        events.append(
            {
                "t": run["ended_at"],
                "text": f"the client gets {run['status']} at {run['ended_at']} ms",
            }
        )
    else:
        events.append({"t": None, "text": "the request never ends (no timeout)"})
    return events


def _plain_run(value: Any) -> dict[str, Any]:
    """A student's result, if it is a timeline the view can draw; else ValueError."""
    if type(value) is not dict or sorted(value) != ["ended_at", "status", "tries"]:
        raise ValueError("simulate should return a dict with the keys tries, status, ended_at")
    tries = value["tries"]
    if type(tries) is not list:
        raise ValueError("simulate(...)['tries'] should be a list")
    clean = []
    for item in tries[:50]:
        if type(item) not in (list, tuple) or len(item) != 3:
            raise ValueError("each try should be [start_ms, end_ms, outcome]")
        start, end, outcome = item
        if type(start) not in (int, float) or type(end) not in (int, float, type(None)):
            raise ValueError("a try's start and end should be numbers (ms)")
        clean.append([start, end, _short(str(outcome))])
    status, ended = value["status"], value["ended_at"]
    if type(status) not in (int, type(None)) or type(ended) not in (int, float, type(None)):
        raise ValueError("status should be a whole number, ended_at a number of ms")
    return {"tries": clean, "status": status, "ended_at": ended}


def _panel(label: str, kind: str, run: Callable[[], Any]) -> dict[str, Any]:
    try:
        result = _plain_run(run()) if kind == "student" else run()
    except Exception as error:  # noqa: BLE001 - shown in the panel, not raised
        detail = str(error)
        said = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
        return {
            "label": label,
            "kind": kind,
            "error": _short(f"{label} raised {said}") + " — fix it and run this cell again.",
            "tries": [],
            "status": None,
            "ended_at": None,
            "events": [],
        }
    return {"label": label, "kind": kind, "error": "", **result, "events": events_of(result)}


class MeshWidget(PresenterTraits, anywidget.AnyWidget):
    """One request replayed under a mesh policy (and an amplification tree), step by step.

    Build it with :func:`show_mesh`; put it last in a cell to display it.

    Args:
        policy: A :class:`~course_lib.mesh.MeshPolicy` or its dict; the module's if ``None``.
        tries: What the upstream does with each try (``[outcome, ms]``).
        draws: The back-off draws; seeded ones (seed 5) if ``None``.
        simulate: A student's ``simulate(policy, tries, draws)`` to show beside the reference.
        layers: ``(caller, tries)`` per layer of the amplification tree, outermost first.
        budget_percent: A retry budget at every layer of the tree, or ``None``.

    Raises:
        ValueError: A bad policy, tries or draws (the message names it).
    """

    _esm = presenter_esm(_HERE / "mesh_widget.js")
    _css = presenter_css(_HERE / "mesh_widget.css")

    panels = traitlets.List(traitlets.Dict()).tag(sync=True)
    policy = traitlets.Dict().tag(sync=True)
    tree = traitlets.Dict().tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    interval_ms = traitlets.Int(PLAY_INTERVAL_MS).tag(sync=True)

    def __init__(
        self,
        *,
        policy: mesh.MeshPolicy | Mapping[str, Any] | None = None,
        tries: Sequence[Sequence[Any]] | None = None,
        draws: Sequence[int] | None = None,
        simulate: Callable[..., Any] | None = None,
        layers: Sequence[tuple[str, int]] = DEFAULT_LAYERS,
        budget_percent: float | None = None,
        interval_ms: int = PLAY_INTERVAL_MS,
    ) -> None:
        super().__init__()
        if policy is None:
            policy = mesh.parse_virtual_service(mesh.MODULE_POLICY_YAML)
        rules = mesh.apply_headers(policy, {})  # a checked MeshPolicy
        plain_policy = rules.as_dict()
        upstream = [list(t) for t in (tries if tries is not None else DEFAULT_TRIES)]
        chosen = list(draws) if draws is not None else mesh.random_draws(max(1, len(upstream)), 5)
        mesh.simulate(rules, upstream, chosen)  # a bad scenario is refused here, plainly
        panels = []
        if simulate is not None:
            panels.append(
                _panel(
                    "your simulate",
                    "student",
                    lambda: simulate(dict(plain_policy), [list(t) for t in upstream], list(chosen)),
                )
            )
        panels.append(
            _panel("reference", "reference", lambda: mesh.simulate(rules, upstream, chosen))
        )
        requests: float = 1
        levels = []
        for name, layer_tries in layers:
            factor = mesh.amplification([layer_tries], budget_percent)
            requests *= factor
            levels.append({"name": str(name), "tries": layer_tries, "requests": requests})
        self.policy = plain_policy
        self.tree = {"layers": levels, "budget_percent": budget_percent}
        self.panels = panels
        self.interval_ms = int(interval_ms)
        self.frame = 0


def show_mesh(
    simulate: Callable[..., Any] | None = None,
    *,
    policy: mesh.MeshPolicy | Mapping[str, Any] | None = None,
    tries: Sequence[Sequence[Any]] | None = None,
    draws: Sequence[int] | None = None,
    layers: Sequence[tuple[str, int]] = DEFAULT_LAYERS,
    budget_percent: float | None = None,
) -> MeshWidget:
    """The widget for one request under ``policy`` (the module's by default).

    Args:
        simulate: Your ``simulate(policy, tries, draws)``, drawn beside the reference.
        policy: The policy; the module's ``payment-service`` policy if ``None``.
        tries: The upstream's behaviour per try; :data:`DEFAULT_TRIES` if ``None``.
        draws: The back-off draws; seeded if ``None``.
        layers: The amplification tree's layers, ``(name, tries)``.
        budget_percent: A retry budget at every layer, or ``None``.

    Returns:
        The widget (display it by leaving it last in the cell).
    """
    return MeshWidget(
        policy=policy,
        tries=tries,
        draws=draws,
        simulate=simulate,
        layers=layers,
        budget_percent=budget_percent,
    )
