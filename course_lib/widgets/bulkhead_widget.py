"""The animated bulkhead widget: one shared pool vs one pool per dependency (the module's 2B).

>>> show_bulkheads()                      # doctest: +SKIP
>>> compare_bulkheads(make_bulkheads)     # doctest: +SKIP

A small `anywidget <https://anywidget.dev>`_ with its own hand-written view
(``bulkhead_widget.js``, plain DOM, no plotting library). The kernel runs the
seeded simulation :func:`course_lib.sim.bulkheads.isolation` once per panel and
turns every sample into a compact frame; the browser only draws frame
``frame``. Each panel draws its pools as rows of slots (a call to A fills a
slot blue, a call to B orange) and counts the calls each dependency had served
and rejected so far.

A student's ``make_bulkheads`` is untrusted code: it runs only here, in the
kernel, while its panel is recorded. If it raises (a stub's
``NotImplementedError``), the panel shows a one-line message and the reference
panels are still drawn.

Synced traits: ``panels`` (one dict per panel: ``label``, ``layout``, ``limits``, ``error``,
``frames``; a frame is ``[t, a_in_flight, b_in_flight, a_admitted, a_rejected, b_admitted,
b_rejected]``), ``hang`` (``[start, end]``), ``frame``, ``playing``, ``interval_ms``; and
the presenter convention's ``theme`` and ``zoom`` (:mod:`course_lib.widgets.presenter`:
large controls and high contrast in the ``"presenter"`` theme; once the widget has focus, →
/ ← step 0.25 s on / back, Home / End the first / last, Space plays, + / − zoom, C the
theme).

DOM hooks (for the browser tests): ``.bulkhead-widget`` (``data-frame``: the
frame drawn), ``.bulkhead-play``, ``.bulkhead-prev``, ``.bulkhead-next``,
``.bulkhead-slider``, ``.bulkhead-time``, ``.bulkhead-panel`` (``data-layout``),
``.bulkhead-pool``, ``.bulkhead-slot`` (``data-holder``: ``A``, ``B`` or
``""``), ``.bulkhead-rejected-a`` / ``.bulkhead-rejected-b`` (``data-count``),
``.bulkhead-panel-error``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from course_lib.sim.bulkheads import BulkheadsFactory, IsolationResult, isolation
from course_lib.widgets.presenter import PresenterTraits, presenter_css, presenter_esm

__all__ = ["PLAY_INTERVAL_MS", "BulkheadWidget", "compare_bulkheads", "show_bulkheads"]

PLAY_INTERVAL_MS = 120
"""Milliseconds between frames when Play runs (a frame is 0.25 s of virtual time)."""

_HERE = Path(__file__).resolve().parent
_MAX_TEXT = 200


def _frames(result: IsolationResult) -> list[list[float]]:
    rows: list[list[float]] = []
    for f in result.frames:
        a, b = f["A"], f["B"]
        rows.append(
            [
                f["t"],
                a["in_flight"],
                b["in_flight"],
                a["admitted"],
                a["rejected"],
                b["admitted"],
                b["rejected"],
            ]
        )
    return rows


def _panel(label: str, layout: str, seed: int, make: BulkheadsFactory | None) -> dict[str, Any]:
    limits = {"A": 10, "B": 10}
    try:
        result = isolation(layout, seed, limits=limits, make_bulkheads=make)
    except Exception as error:  # noqa: BLE001 - a student's code: shown in its panel
        text = f"{label} raised {type(error).__name__}: {error}"
        if len(text) > _MAX_TEXT:
            text = text[: _MAX_TEXT - 1] + "…"
        return {"label": label, "layout": layout, "limits": limits, "error": text, "frames": []}
    return {
        "label": label,
        "layout": layout,
        "limits": limits,
        "error": "",
        "frames": _frames(result),
    }


class BulkheadWidget(PresenterTraits, anywidget.AnyWidget):
    """Pools filling over virtual time, side by side; build it with :func:`show_bulkheads`.

    Args:
        panels: One dict per panel (see the module docstring).
        hang: ``(start, end)`` of B's hang, virtual seconds.
        interval_ms: Milliseconds between frames when Play runs.
    """

    _esm = presenter_esm(_HERE / "bulkhead_widget.js")
    _css = presenter_css(_HERE / "bulkhead_widget.css")

    panels = traitlets.List(traitlets.Dict()).tag(sync=True)
    hang = traitlets.List(traitlets.Float()).tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    interval_ms = traitlets.Int(PLAY_INTERVAL_MS).tag(sync=True)

    def __init__(
        self,
        panels: list[dict[str, Any]],
        *,
        hang: tuple[float, float] = (4.0, 14.0),
        interval_ms: int = PLAY_INTERVAL_MS,
    ) -> None:
        super().__init__(panels=panels, hang=list(hang), interval_ms=interval_ms)

    @property
    def frame_count(self) -> int:
        """Frames in the longest panel."""
        return max((len(p["frames"]) for p in self.panels), default=0)


def show_bulkheads(seed: int = 1) -> BulkheadWidget:
    """The module's picture with the reference bulkhead: a shared pool, then isolated pools.

    Args:
        seed: Seeds the simulation (the same seed draws the same run).
    """
    return BulkheadWidget(
        [
            _panel("one shared pool (20 slots)", "shared", seed, None),
            _panel("isolated pools (10 + 10), reference", "isolated", seed, None),
        ]
    )


def compare_bulkheads(make_bulkheads: BulkheadsFactory, seed: int = 1) -> BulkheadWidget:
    """The shared pool, the reference's isolated pools and the ones ``make_bulkheads`` builds.

    Args:
        make_bulkheads: ``limits -> {"A": bulkhead, "B": bulkhead}`` (the notebook's exercise 6).
        seed: Seeds the simulation.
    """
    return BulkheadWidget(
        [
            _panel("one shared pool (20 slots)", "shared", seed, None),
            _panel("isolated pools, reference", "isolated", seed, None),
            _panel("isolated pools, yours", "isolated", seed, make_bulkheads),
        ]
    )
