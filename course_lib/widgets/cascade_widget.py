"""The cascade widget: gateway -> orders -> payments, pools filling over virtual time.

>>> show_cascade()                      # doctest: +SKIP
>>> show_cascade(timeout_ms=200)        # doctest: +SKIP

A small `anywidget <https://anywidget.dev>`_ with a hand-written view
(``cascade_widget.js``, no plotting library). The kernel does the work: it runs
the seeded :func:`course_lib.sim.scenarios.cascade` twice, before and after
protection, and turns every metric sample (every 0.5 s of virtual time) into
one small plain-JSON frame per panel (:func:`record_frames`). The browser only
draws frame ``frame``: each service's workers as squares (filled = busy), the
requests waiting for a worker, the requests turned away so far, the median
latency, and how ``/catalog`` and ``/checkout`` fared in that half second.
Play is a timer in the browser that advances the synced ``frame``.

The fault buttons set the synced ``fault`` (``"spike"`` or ``"outage"``) and
``recovery`` traits; the kernel then runs both simulations again with that
fault and sends the new frames. A 60 s run is 120 frames of a few numbers per
service: about 25 kB per panel, far below the 1 MB a saved notebook may carry.

Synced traits: ``panels`` (one dict per panel: ``label``, ``error``, ``services`` (name and
workers), ``frames``), ``frame``, ``playing``, ``interval_ms``, ``fault``, ``recovery``,
``fault_text``; and the presenter convention's ``theme`` and ``zoom``
(:mod:`course_lib.widgets.presenter`: large controls and high contrast in the
``"presenter"`` theme; once the widget has focus, → / ← step 0.5 s on / back, Home / End the
first / last, Space plays, + / − zoom, C the theme).

DOM hooks (for the browser tests, the benchmark and styling): ``.cascade-widget`` (its
``data-frame`` is the frame drawn, ``data-fault`` the fault shown, and
``data-course-widget="cascade"`` tells ``benchmarks/bench_widgets.py`` the hooks' prefix),
``.cascade-play``, ``.cascade-prev``, ``.cascade-next``, ``.cascade-frame-slider``,
``.cascade-frame-label``, ``.cascade-fault-spike``, ``.cascade-fault-outage``,
``.cascade-recovery`` (``aria-pressed``), ``.cascade-panel`` (``data-label``),
``.cascade-service`` (``data-service``, ``data-busy``), ``.cascade-slot`` (and
``.cascade-slot-busy``), ``.cascade-queued``, ``.cascade-lost``,
``.cascade-latency``, ``.cascade-route`` (``data-route``, ``data-ok``),
``.cascade-panel-error``, ``.cascade-fault-text``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from course_lib.sim.events import RequestFinished
from course_lib.sim.scenarios import (
    CASCADE_FAULTS,
    GATEWAY,
    ORDERS,
    PAYMENTS,
    CascadeResult,
    cached_cascade,
)
from course_lib.widgets.presenter import PresenterTraits, presenter_css, presenter_esm

__all__ = [
    "PLAY_INTERVAL_MS",
    "RECOVERY_AT",
    "SERVICES",
    "CascadeWidget",
    "record_frames",
    "show_cascade",
    "show_timeout",
]

PLAY_INTERVAL_MS = 150
"""Milliseconds between frames when Play runs (one frame is 0.5 s of virtual time)."""

RECOVERY_AT = 30.0
"""When the Recovery button has an operator fix payments (virtual seconds)."""

SERVICES = (GATEWAY, ORDERS, PAYMENTS)
"""The services drawn, front first."""

ROUTES = ("/catalog", "/checkout")
"""The gateway routes whose success the widget shows per frame."""

_HERE = Path(__file__).resolve().parent
_MAX_TEXT = 200


def _ms(seconds: float | None) -> float | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    return round(seconds * 1000, 1)


def _route_ratios(run: CascadeResult, times: list[float]) -> dict[str, list[float | None]]:
    """Per sample interval ``(previous, t]``: the share of each route's requests that succeeded."""
    interval = run.sim.sample_interval
    counts = {route: [[0, 0] for _ in times] for route in ROUTES}
    for event in run.trace.of_type(RequestFinished):
        if event.source != GATEWAY or event.route not in counts:
            continue
        index = min(len(times) - 1, int(event.time / interval))
        if index < 0:
            continue
        cell = counts[event.route][index]
        cell[0] += event.outcome == "ok"
        cell[1] += 1
    return {
        route: [None if total == 0 else round(ok / total, 3) for ok, total in cells]
        for route, cells in counts.items()
    }


def record_frames(run: CascadeResult) -> list[dict[str, Any]]:
    """One plain-JSON frame per metric sample of ``run``.

    Keys: ``t`` (virtual seconds, the end of the sample interval), ``fault``
    (True while the fault was on), ``s`` (per service of :data:`SERVICES`,
    ``[busy, queued, lost so far, median latency in ms or None]``, where *lost*
    counts requests rejected, timed out or failed) and ``r`` (per route of
    :data:`ROUTES`, the share that succeeded in that interval, or None).
    """
    metrics = [run.metrics(name) for name in SERVICES]
    times = [float(t) for t in metrics[0].series["time"]]
    routes = _route_ratios(run, times)
    lost = [0] * len(SERVICES)
    frames: list[dict[str, Any]] = []
    for i, t in enumerate(times):
        per_service = []
        for k, m in enumerate(metrics):
            s = m.series
            lost[k] += s["rejected"][i] + s["timed_out"][i] + s["failed"][i]
            per_service.append([s["in_flight"][i], s["queued"][i], lost[k], _ms(s["p50"][i])])
        frames.append(
            {
                "t": round(t, 3),
                "fault": run.spike_start < t <= run.spike_end + run.sim.sample_interval / 2,
                "s": per_service,
                "r": [routes[route][i] for route in ROUTES],
            }
        )
    return frames


def _panel(label: str, **kwargs: Any) -> dict[str, Any]:
    """A panel: the run's frames, or a one-line error if the run could not be made."""
    services = [{"name": name, "workers": 0} for name in SERVICES]
    try:
        run = cached_cascade(**kwargs)
    except Exception as error:  # noqa: BLE001 - shown in the panel, not raised
        text = f"{type(error).__name__}: {error}"
        text = text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
        return {"label": label, "error": text, "services": services, "frames": []}
    services = [{"name": name, "workers": run.metrics(name).workers} for name in SERVICES]
    return {"label": label, "error": "", "services": services, "frames": record_frames(run)}


class CascadeWidget(PresenterTraits, anywidget.AnyWidget):
    """The cascade, unprotected and protected, side by side. Build it with :func:`show_cascade`.

    Args:
        timeout_ms: If given, the right panel is a timeout on ``orders ->
            payments`` and nothing else (Exercise 4 of notebook 00), in
            milliseconds; if None, the cascade's full protection (timeouts, a
            breaker and a bulkhead).
        seed: The simulations' seed.
        fault: ``"spike"`` or ``"outage"`` in payments from t=20 s to t=40 s.
        recovery: An operator fixes payments at :data:`RECOVERY_AT`.
        interval_ms: Milliseconds between frames when Play runs.

    Raises:
        ValueError: An unknown ``fault``.
    """

    _esm = presenter_esm(_HERE / "cascade_widget.js")
    _css = presenter_css(_HERE / "cascade_widget.css")

    panels = traitlets.List(traitlets.Dict()).tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    interval_ms = traitlets.Int(PLAY_INTERVAL_MS).tag(sync=True)
    fault = traitlets.Unicode("spike").tag(sync=True)
    recovery = traitlets.Bool(False).tag(sync=True)
    fault_text = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        timeout_ms: Any = None,
        *,
        seed: int = 1,
        fault: str = "spike",
        recovery: bool = False,
        interval_ms: int = PLAY_INTERVAL_MS,
    ) -> None:
        if fault not in CASCADE_FAULTS:
            raise ValueError(f"fault must be one of {CASCADE_FAULTS}, got {fault!r}")
        super().__init__(interval_ms=interval_ms)
        self._timeout_ms = timeout_ms
        self._seed = seed
        self.set_trait("fault", fault)
        self.set_trait("recovery", bool(recovery))
        self._record()
        self.observe(self._on_fault, names=["fault", "recovery"])

    def _after(self) -> tuple[str, dict[str, Any] | str]:
        """The right panel's label, and the run's arguments or why there is no run."""
        if self._timeout_ms is None:
            return "after: timeouts + circuit breaker + bulkhead", {"protected": True}
        timeout = self._timeout_ms
        shown = repr(timeout) if len(repr(timeout)) <= 40 else repr(timeout)[:39] + "…"
        label = f"after: a {shown} ms timeout on orders -> payments, only"
        if type(timeout) not in (int, float) or not math.isfinite(timeout) or timeout <= 0:
            return label, f"the timeout must be a number of milliseconds above 0, got {shown}"
        return label, {"protected": False, "timeout": timeout / 1000.0}

    def _record(self) -> None:
        fault = self.fault if self.fault in CASCADE_FAULTS else "spike"
        common = {
            "seed": self._seed,
            "fault": fault,
            "recovery_at": RECOVERY_AT if self.recovery else None,
        }
        label, after = self._after()
        before = _panel("before: no protection", protected=False, **common)
        if isinstance(after, str):
            failed = {**before, "label": label, "error": after, "frames": []}
            self.panels = [before, failed]
        else:
            self.panels = [before, _panel(label, **after, **common)]
        what = "a 2 s latency spike" if fault == "spike" else "an outage (refuses every request)"
        end = f"recovered at t={RECOVERY_AT:g} s" if self.recovery else "until t=40 s"
        self.fault_text = f"payments: {what} from t=20 s, {end}"

    def _on_fault(self, change: dict[str, Any]) -> None:
        self.playing = False
        self.frame = 0
        self._record()


def show_cascade(timeout_ms: Any = None, **kwargs: Any) -> CascadeWidget:
    """The cascade before and after protection; see :class:`CascadeWidget` for the arguments."""
    return CascadeWidget(timeout_ms, **kwargs)


def show_timeout(timeout_ms: Any, *, seed: int = 1) -> CascadeWidget:
    """Notebook 00, Exercise 4: print how a timeout-only run's pools fared, and show it beside none.

    It prints what judges ``TIMEOUT_MS`` (how long each pool was full, /checkout
    before the spike, /catalog during it), never the list of broken parts that
    ``STILL_BROKEN`` must name.

    Args:
        timeout_ms: The timeout on ``orders -> payments``, in milliseconds.
        seed: The simulation's seed (the notebook's, 1, by default).

    Raises:
        NotImplementedError: ``timeout_ms`` is None (the exercise is not written yet).
    """
    if timeout_ms is None:
        raise NotImplementedError("Not written yet: set TIMEOUT_MS in Exercise 4's answer cell")
    widget = CascadeWidget(timeout_ms, seed=seed)
    if type(timeout_ms) in (int, float) and math.isfinite(timeout_ms) and timeout_ms > 0:
        run = cached_cascade(False, seed, timeout=timeout_ms / 1000)
        print(f"with a {timeout_ms:g} ms timeout on orders -> payments, and nothing else:")
        for name in SERVICES:
            print(f"  {name:>8} pool full {run.full_share(name):.1%} of the spike")
        before = run.success_ratio("/checkout", end=run.spike_start)
        catalog = run.during_spike("/catalog")
        print(f"  /checkout ok before the spike: {'-' if before is None else f'{before:.1%}'}")
        print(f"  /catalog ok during the spike: {'-' if catalog is None else f'{catalog:.1%}'}")
    return widget
