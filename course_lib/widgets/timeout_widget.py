"""Timeout widgets: a latency histogram with a draggable timeout, and a deadline draining.

>>> show_latencies([0.02, 0.03, 0.5], timeout=0.1)       # doctest: +SKIP
>>> show_budget([run_chain(budget_left, forward_headers, 300)])  # doctest: +SKIP

Small `anywidget <https://anywidget.dev>`_ views with a hand-written ESM
(``timeout_widget.js``, SVG) and CSS. The kernel prepares plain JSON (the
histogram's bins and the sorted samples in milliseconds; the hops of each chain
run) and the browser only draws it, so a saved notebook stays small and the
view redraws without a round trip to the kernel.

* :class:`LatencyWidget`: a histogram on a log scale of milliseconds (latencies
  have long tails); drag the red line (or use the slider); the share of
  samples slower than the line, the requests such a timeout would cut, is
  shown. ``timeout_ms`` is synced both ways; :attr:`LatencyWidget.cut_share`
  computes the same share in Python.
* :class:`BudgetWidget`: for each :class:`~course_lib.loopback.ChainRun`, one
  row of bars, one bar per service: the budget it had on arrival, the part it
  spent working, and what it passed on; ``frame`` reveals the hops one by one
  (Play, next, slider). A run in which a student function raised shows that
  one-line message in its row.

Both follow the presenter convention (:mod:`course_lib.widgets.presenter`): synced
``theme`` and ``zoom``, large controls and high contrast in the ``"presenter"`` theme
(the plots then span the notebook's width, so their text grows with them). Keys, once
the widget has focus (click it): on the histogram, → / ← move the timeout line to the
next / previous bin edge, so each press cuts one bar more or one fewer (the line follows
the bars a presenter points at; the slider and a drag still set any value), Home / End
to the first / last edge; there is nothing to play. On the budget, → / ← show one hop
more / fewer (stopping at the ends, while "Next hop" starts again after the last),
Home / End none / all, Space plays. Both: + / − zoom, C the theme on and off.

DOM hooks (for the browser tests and styling): ``.timeout-widget`` (``data-kind``
``latency`` or ``budget``); latency: ``.timeout-hist`` (the SVG), ``.timeout-bar``
(``data-cut`` 0/1), ``.timeout-line`` (``data-timeout-ms``), ``.timeout-handle``,
``.timeout-slider``, ``.timeout-readout`` (``data-cut-share``); budget:
``.budget-run`` (``data-status``), ``.budget-hop`` (``data-hop``, ``data-shown``),
``.budget-left``, ``.budget-spent``, ``.budget-error``, ``.budget-play``,
``.budget-next``, ``.budget-frame-slider`` and the widget's ``data-frame``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from course_lib.loopback import ChainRun
from course_lib.widgets.presenter import PresenterTraits, presenter_css, presenter_esm

__all__ = ["BudgetWidget", "LatencyWidget", "show_budget", "show_latencies"]

_HERE = Path(__file__).resolve().parent
_BINS = 48


def _histogram(samples_ms: Sequence[float], bins: int) -> tuple[list[float], list[int]]:
    """Edges and counts of ``bins`` bins of equal width on a log scale (latency has a long tail).

    The edges run from just below the smallest sample (at least 0.1 ms) to just above the
    largest; a sample below 0.1 ms counts in the first bin.
    """
    low = max(min(samples_ms), 0.1) * 0.999
    high = max(max(samples_ms) * 1.001, low * 10)
    ratio = (high / low) ** (1 / bins)
    edges = [low * ratio**i for i in range(bins + 1)]
    counts = [0] * bins
    for value in samples_ms:
        index = 0 if value <= low else int(math.log(value / low) / math.log(ratio))
        counts[min(max(index, 0), bins - 1)] += 1
    return [round(edge, 4) for edge in edges], counts


class LatencyWidget(PresenterTraits, anywidget.AnyWidget):
    """A latency histogram with a draggable timeout line (see the module's docstring)."""

    _esm = presenter_esm(_HERE / "timeout_widget.js")
    _css = presenter_css(_HERE / "timeout_widget.css")
    kind = traitlets.Unicode("latency").tag(sync=True)
    edges = traitlets.List(traitlets.Float()).tag(sync=True)
    counts = traitlets.List(traitlets.Int()).tag(sync=True)
    sorted_ms = traitlets.List(traitlets.Float()).tag(sync=True)
    timeout_ms = traitlets.Float(100.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, latencies: Sequence[float], timeout: float | None = None) -> None:
        samples = []
        for value in latencies:
            if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"latencies must be numbers of seconds >= 0, got {value!r}")
            samples.append(round(float(value) * 1000, 3))
        if not samples:
            raise ValueError("latencies must not be empty")
        samples.sort()
        edges, counts = _histogram(samples, _BINS)
        if timeout is None:
            timeout = samples[len(samples) // 2] / 1000
        super().__init__(
            edges=edges, counts=counts, sorted_ms=samples, timeout_ms=float(timeout) * 1000
        )

    @property
    def cut_share(self) -> float:
        """The share of samples strictly slower than the timeout line."""
        ordered = self.sorted_ms
        return (len(ordered) - bisect.bisect_right(ordered, self.timeout_ms)) / len(ordered)


def show_latencies(latencies: Sequence[float], timeout: float | None = None) -> LatencyWidget:
    """A :class:`LatencyWidget` for ``latencies`` (seconds), the line at ``timeout`` seconds.

    Raises:
        ValueError: no samples, or a sample that is not a number of seconds >= 0.
    """
    return LatencyWidget(latencies, timeout)


def _run_json(run: ChainRun | BaseException, label: str) -> dict[str, Any]:
    if isinstance(run, BaseException):
        return {"label": label, "status": 0, "body": "", "error": _one_line(run), "hops": []}
    hops = []
    for hop in run.hops:
        forwarded = None
        if hop.forwarded is not None and hop.forwarded.isdigit():
            forwarded = float(hop.forwarded)
        hops.append(
            {
                "name": hop.name,
                "budget_ms": None if hop.budget_ms is None else round(hop.budget_ms, 1),
                "worked_ms": round(hop.worked_ms, 1),
                "forwarded_ms": forwarded,
                "outcome": hop.outcome,
            }
        )
    error = run.error or ""
    if error.startswith("NotImplementedError:"):  # a stub: its message says "Not written yet"
        error = error.split(":", 1)[1].strip()
    return {"label": label, "status": run.status, "body": run.body, "error": error, "hops": hops}


def _one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    return text[:200]


class BudgetWidget(PresenterTraits, anywidget.AnyWidget):
    """A deadline budget draining along a chain of services, hop by hop."""

    _esm = presenter_esm(_HERE / "timeout_widget.js")
    _css = presenter_css(_HERE / "timeout_widget.css")
    kind = traitlets.Unicode("budget").tag(sync=True)
    runs = traitlets.List(traitlets.Dict()).tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    frames = traitlets.Int(0).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)

    def __init__(self, runs: Sequence[ChainRun | BaseException], labels: Sequence[str]) -> None:
        data = [_run_json(run, label) for run, label in zip(runs, labels, strict=True)]
        frames = max((len(run["hops"]) for run in data), default=0)
        super().__init__(runs=data, frames=frames, frame=frames)


def show_budget(
    runs: Sequence[ChainRun | BaseException], labels: Sequence[str] | None = None
) -> BudgetWidget:
    """A :class:`BudgetWidget` for chain runs (:func:`course_lib.loopback.run_chain`).

    Args:
        runs: The runs, or the exception a run raised (shown as one line).
        labels: One title per run; default "run 1", "run 2", ...

    Raises:
        ValueError: ``labels`` does not have one title per run.
    """
    if labels is None:
        labels = [f"run {i + 1}" for i in range(len(runs))]
    if len(labels) != len(runs):
        raise ValueError(f"labels must have one title per run ({len(runs)}), got {len(labels)}")
    return BudgetWidget(runs, labels)
