"""The plotly figure of one breaker panel, and how to draw frame ``i`` of a run.

One :class:`plotly.graph_objects.FigureWidget` holds five small views, each on
its own pair of axes:

* the **state diagram**: CLOSED, OPEN and HALF_OPEN as three nodes joined by the
  four transitions of the seed's ``stateDiagram-v2``; the current state is
  coloured and enlarged, the transition just taken is drawn in orange;
* the **failure rate** as a bar against a dashed threshold line
  (``failure_rate = failures in window / calls in window``);
* the **cooldown** left while OPEN
  (``cooldown_remaining = max(0, opened_at + cooldown - now)``) and the count of
  rejected (failed-fast) calls;
* the **rolling window** as a row of ``window_size`` cells, oldest on the left:
  green = success, red = failure, grey = empty;
* a **timeline** of the state over time with every call below it (green dot
  success, red dot failure, grey cross rejected) and a line at "now".

Every trace and annotation has a ``name`` so tests (and curious students) can
find it with :func:`trace_named` / :func:`annotation_named`.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from course_lib.widgets.breaker_playback import STATES, BreakerRun, FrameView

__all__ = [
    "COLORS",
    "annotation_named",
    "configure_figure",
    "draw_frame",
    "make_figure",
    "trace_named",
]

COLORS: dict[str, str] = {
    "closed": "#2ca02c",
    "open": "#d62728",
    "half_open": "#ff7f0e",
    "success": "#2ca02c",
    "failure": "#d62728",
    "rejected": "#7f7f7f",
    "empty": "#e8e8e8",
    "idle": "#e8e8e8",
    "arrow": "#9a9a9a",
    "taken": "#ff7f0e",
    "rate": "#1f77b4",
}
"""Colours by state / outcome; ``idle`` is a node that is not the current state."""

_LABELS = {"closed": "CLOSED", "open": "OPEN", "half_open": "HALF-OPEN"}
_NODE_XY = {"closed": (0.0, 1.0), "open": (2.0, 1.0), "half_open": (1.0, 0.0)}
_NODE_SIZE, _NODE_SIZE_CURRENT = 64, 80  # pixels, for a figure >= 700 px wide
_LEVEL = {"closed": 0, "half_open": 1, "open": 2}

# (old, new, (ax, ay) tail, (x, y) head, label position, label)
_ARROWS: tuple[
    tuple[str, str, tuple[float, float], tuple[float, float], tuple[float, float], str], ...
] = (
    ("closed", "open", (0.0, 1.0), (2.0, 1.0), (1.0, 1.22), "failure rate ≥ threshold"),
    ("open", "half_open", (2.09, 0.91), (1.09, -0.09), (1.95, 0.3), "cooldown over"),
    ("half_open", "open", (0.91, 0.09), (1.91, 1.09), (1.25, 0.78), "a trial fails"),
    ("half_open", "closed", (1.0, 0.0), (0.0, 1.0), (0.05, 0.3), "trials succeed"),
)


def trace_named(fig: Any, name: str) -> Any:
    """The trace called ``name`` in ``fig`` (e.g. ``"states"``, ``"window"``, ``"rate"``).

    Raises:
        KeyError: No trace has that name.
    """
    for trace in fig.data:
        if trace.name == name:
            return trace
    raise KeyError(f"no trace named {name!r}; have {[t.name for t in fig.data]}")


def annotation_named(fig: Any, name: str) -> Any:
    """The layout annotation called ``name`` (e.g. ``"rejected"``, ``"arrow:closed->open"``).

    Raises:
        KeyError: No annotation has that name.
    """
    for annotation in fig.layout.annotations:
        if annotation.name == name:
            return annotation
    raise KeyError(f"no annotation named {name!r}")


def _axes(n: int) -> dict[str, str]:
    suffix = "" if n == 1 else str(n)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def _hidden(**extra: Any) -> dict[str, Any]:
    return {"visible": False, "fixedrange": True, **extra}


def make_figure(run: BreakerRun, *, width: int | None = None, height: int = 560) -> Any:
    """A :class:`~plotly.graph_objects.FigureWidget` laid out for ``run`` (frame 0 drawn).

    Args:
        run: The recorded run to show.
        width: Pixels, or ``None`` to fill the notebook cell.
        height: Pixels.
    """
    scale = 1.0 if width is None else max(0.55, min(1.0, width / 700))
    idle, current = round(_NODE_SIZE * scale), round(_NODE_SIZE_CURRENT * scale)
    fig = go.FigureWidget()
    nodes = [_NODE_XY[s] for s in STATES]
    fig.add_scatter(
        name="states",
        x=[p[0] for p in nodes],
        y=[p[1] for p in nodes],
        text=[_LABELS[s] for s in STATES],
        customdata=list(STATES),
        mode="markers+text",
        textposition="middle center",
        textfont={"size": 10 if scale == 1.0 else 8, "color": "#444"},
        marker={
            "size": [idle] * 3,
            "color": [COLORS["idle"]] * 3,
            "line": {"width": 1, "color": "#888"},
        },
        hoverinfo="skip",
        showlegend=False,
        **_axes(1),
    )
    fig.add_bar(
        name="rate",
        x=[0.0],
        y=["failure rate"],
        orientation="h",
        marker={"color": COLORS["rate"]},
        text=[""],
        textposition="auto",
        cliponaxis=False,
        hoverinfo="skip",
        showlegend=False,
        **_axes(2),
    )
    fig.add_bar(
        name="cooldown",
        x=[0.0],
        y=["cooldown left"],
        orientation="h",
        marker={"color": COLORS["open"]},
        text=[""],
        textposition="auto",
        cliponaxis=False,
        hoverinfo="skip",
        showlegend=False,
        **_axes(3),
    )
    fig.add_scatter(
        name="window",
        x=[],
        y=[],
        mode="markers",
        marker={"symbol": "square", "line": {"width": 1, "color": "#bbb"}},
        hoverinfo="skip",
        showlegend=False,
        **_axes(4),
    )
    fig.add_scatter(
        name="timeline",
        x=[],
        y=[],
        mode="lines",
        line={"shape": "hv", "color": "#555", "width": 2},
        hoverinfo="skip",
        showlegend=False,
        **_axes(5),
    )
    for outcome, symbol in (("success", "circle"), ("failure", "circle"), ("rejected", "x")):
        fig.add_scatter(
            name=f"calls:{outcome}",
            x=[],
            y=[],
            mode="markers",
            marker={"symbol": symbol, "size": 8, "color": COLORS[outcome]},
            hovertemplate=f"{outcome} at t=%{{x}}s<extra></extra>",
            showlegend=False,
            **_axes(5),
        )

    annotations: list[dict[str, Any]] = []
    for old, new, tail, head, at, label in _ARROWS:
        annotations.append(
            {
                "name": f"arrow:{old}->{new}",
                "x": head[0],
                "y": head[1],
                "ax": tail[0],
                "ay": tail[1],
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "showarrow": True,
                "arrowhead": 2,
                "arrowsize": 1.2,
                "arrowwidth": 1.5,
                "arrowcolor": COLORS["arrow"],
                "standoff": current / 2,
                "startstandoff": current / 2,
                "text": "",
            }
        )
        annotations.append(
            {
                "name": f"label:{old}->{new}",
                "x": at[0],
                "y": at[1],
                "xref": "x",
                "yref": "y",
                "text": label,
                "showarrow": False,
                "font": {"size": 10, "color": "#666"},
            }
        )

    def title(name: str, text: str, x: float, y: float) -> dict[str, Any]:
        return {
            "name": name,
            "text": text,
            "x": x,
            "y": y,
            "xref": "paper",
            "yref": "paper",
            "xanchor": "left",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 12, "color": "#333"},
        }

    annotations += [
        title("title:rate", "failure rate", 0.52, 0.955),
        title("title:cooldown", "cooldown", 0.52, 0.765),
        title("rejected", "rejected (failed fast): 0", 0.52, 0.575),
        title("title:window", "rolling window", 0.0, 0.47),
        title(
            "title:timeline",
            "state over time (calls below: ● success/failure, ✕ rejected)",
            0.0,
            0.30,
        ),
    ]

    fig.update_layout(
        width=width,
        height=height,
        margin={"l": 70, "r": 30, "t": 10, "b": 30},
        plot_bgcolor="white",
        paper_bgcolor="white",
        meta={"node_sizes": [idle, current]},
        annotations=annotations,
        shapes=[
            {
                "name": "threshold",
                "type": "line",
                "xref": "x2",
                "yref": "y2 domain",
                "x0": 0.5,
                "x1": 0.5,
                "y0": -0.15,
                "y1": 1.15,
                "line": {"color": "#d62728", "width": 2, "dash": "dash"},
            },
            {
                "name": "now",
                "type": "line",
                "xref": "x5",
                "yref": "y5 domain",
                "x0": 0,
                "x1": 0,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#1f77b4", "width": 1, "dash": "dot"},
                "layer": "below",
            },
        ],
        xaxis=_hidden(domain=[0.0, 0.46], range=[-0.6, 2.6], anchor="y"),
        yaxis=_hidden(domain=[0.58, 1.0], range=[-0.45, 1.45], anchor="x"),
        xaxis2={
            "domain": [0.55, 0.9],
            "range": [0, 1],
            "tickformat": ".0%",
            "anchor": "y2",
            "fixedrange": True,
            "showgrid": True,
            "gridcolor": "#eee",
        },
        yaxis2={"domain": [0.87, 0.94], "anchor": "x2", "fixedrange": True, "visible": False},
        xaxis3={
            "domain": [0.55, 0.9],
            "anchor": "y3",
            "fixedrange": True,
            "ticksuffix": " s",
            "showgrid": True,
            "gridcolor": "#eee",
        },
        yaxis3={"domain": [0.68, 0.75], "anchor": "x3", "fixedrange": True, "visible": False},
        xaxis4=_hidden(domain=[0.0, 1.0], anchor="y4"),
        yaxis4=_hidden(domain=[0.38, 0.46], range=[-1, 1], anchor="x4"),
        xaxis5={
            "domain": [0.0, 1.0],
            "anchor": "y5",
            "ticksuffix": " s",
            "showgrid": True,
            "gridcolor": "#eee",
            "zeroline": False,
        },
        yaxis5={
            "domain": [0.0, 0.28],
            "range": [-1.6, 2.5],
            "anchor": "x5",
            "fixedrange": True,
            "tickvals": [-1, 0, 1, 2],
            "ticktext": ["calls", "closed", "half-open", "open"],
            "showgrid": True,
            "gridcolor": "#eee",
            "zeroline": False,
        },
    )
    configure_figure(fig, run)
    return fig


def configure_figure(fig: Any, run: BreakerRun, index: int = 0) -> None:
    """Fit ``fig`` to ``run``'s configuration and scenario, then draw frame ``index``.

    Called by :func:`make_figure`, and again when the widget re-runs the
    scenario with new knobs (the figure is updated in place, not rebuilt).
    """
    config = run.config
    n = config.window_size
    t_first, t_last = run.steps[0].time, run.steps[-1].time
    pad = max(1.0, 0.03 * (t_last - t_first))
    cell = max(6, min(28, int(560 / n)))
    with fig.batch_update():
        window = trace_named(fig, "window")
        window.x = list(range(n))
        window.y = [0] * n
        window.marker.size = cell
        fig.layout.xaxis4.range = [-0.6, n - 0.4]
        fig.layout.xaxis3.range = [0, max(config.cooldown, 1.0)]
        fig.layout.xaxis5.range = [t_first - pad, t_last + pad]
        threshold = fig.layout.shapes[0]
        threshold.x0 = threshold.x1 = config.failure_rate_threshold
        annotation_named(
            fig, "title:rate"
        ).text = f"failure rate (trips at ≥ {config.failure_rate_threshold:.0%})"
        annotation_named(fig, "title:window").text = (
            f"rolling window: last {n} calls (oldest left, newest right)"
            + (", rebuilt from the calls" if run.reconstructed else "")
        )
    draw_frame(fig, run, index)


def _view_texts(view: FrameView, run: BreakerRun) -> tuple[str, str]:
    config = run.config
    calls = len(view.window)
    if view.failure_rate is None or not calls:
        rate_text = "no calls yet"
    elif calls < config.effective_minimum_calls and view.state == "closed":
        needed = config.effective_minimum_calls
        rate_text = f"{view.failure_rate:.0%}, no verdict: {calls}/{needed} calls"
    else:
        rate_text = f"{view.failure_rate:.0%}"
    if view.state == "half_open":
        cooldown_text = f"cooldown over: {config.half_open_max_calls} trial calls"
    elif view.cooldown_remaining is None:
        cooldown_text = f"cooldown: not OPEN ({config.cooldown:g} s)"
    else:
        cooldown_text = f"cooldown left: {view.cooldown_remaining:g} s of {config.cooldown:g} s"
    return rate_text, cooldown_text


def draw_frame(fig: Any, run: BreakerRun, index: int) -> None:
    """Redraw ``fig`` (made by :func:`make_figure` for ``run``) to show frame ``index``.

    Raises:
        IndexError: ``index`` is outside ``[0, len(run) - 1]``.
    """
    if not 0 <= index < len(run):
        raise IndexError(f"frame index must be in [0, {len(run) - 1}], got {index}")
    view = run.views[index]
    frame = view.frame
    state = view.state
    config = run.config
    shown = run.views[: index + 1]
    rate_text, cooldown_text = _view_texts(view, run)
    window_colors = [COLORS["failure"] if failed else COLORS["success"] for failed in view.window]
    window_colors += [COLORS["empty"]] * (config.window_size - len(window_colors))
    taken: set[tuple[str, str]] = set()
    if frame.state_before != frame.state_after:
        taken.add((frame.state_before, frame.state_after))
    elif frame.allowed and frame.state_before == "open" and state == "open":
        taken |= {("open", "half_open"), ("half_open", "open")}

    with fig.batch_update():
        nodes = trace_named(fig, "states")
        nodes.marker.color = [COLORS[s] if s == state else COLORS["idle"] for s in STATES]
        idle, current = fig.layout.meta["node_sizes"]
        nodes.marker.size = [current if s == state else idle for s in STATES]
        nodes.textfont.color = ["white" if s == state else "#888" for s in STATES]
        for annotation in fig.layout.annotations:
            name = annotation.name or ""
            if name.startswith("arrow:"):
                old, new = name.removeprefix("arrow:").split("->")
                hot = (old, new) in taken
                annotation.arrowcolor = COLORS["taken"] if hot else COLORS["arrow"]
                annotation.arrowwidth = 3 if hot else 1.5
            elif name == "rejected":
                annotation.text = f"rejected (failed fast): {view.rejected}"
        rate = view.failure_rate or 0.0
        rate_bar = trace_named(fig, "rate")
        rate_bar.x = [rate]
        rate_bar.text = [rate_text]
        over = view.failure_rate is not None and rate >= config.failure_rate_threshold
        rate_bar.marker.color = COLORS["failure"] if over else COLORS["rate"]
        cooldown_bar = trace_named(fig, "cooldown")
        cooldown_bar.x = [view.cooldown_remaining or 0.0]
        cooldown_bar.text = [""]
        annotation_named(fig, "title:cooldown").text = cooldown_text
        trace_named(fig, "window").marker.color = window_colors
        timeline = trace_named(fig, "timeline")
        timeline.x = [run.steps[0].time] + [v.frame.time for v in shown]
        timeline.y = [_LEVEL.get(shown[0].frame.state_before, 0)] + [
            _LEVEL.get(v.state, 0) for v in shown
        ]
        for outcome in ("success", "failure", "rejected"):
            calls = trace_named(fig, f"calls:{outcome}")
            calls.x = [v.frame.time for v in shown if v.frame.outcome == outcome]
            calls.y = [-1] * len(calls.x)
        now = fig.layout.shapes[1]
        now.x0 = now.x1 = frame.time
