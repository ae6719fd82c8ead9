"""Animated widgets for the notebooks (ipywidgets + plotly ``FigureWidget``).

* :func:`show_breaker`: the reference circuit breaker replayed through a scenario;
* :func:`compare_breakers`: a student's breaker next to the reference, with the
  first step where they behave differently.

The pieces underneath are importable on their own:
:mod:`.breaker_playback` records runs (no widget imports),
:mod:`.breaker_figure` draws one frame, :mod:`.breaker_widget` wires controls.
"""

from __future__ import annotations

from course_lib.widgets.breaker_playback import (
    DEFAULT_SCENARIO,
    BreakerConfig,
    BreakerRun,
    Divergence,
    FrameView,
    first_divergence,
    record_run,
)
from course_lib.widgets.breaker_widget import (
    BreakerPanel,
    BreakerWidget,
    compare_breakers,
    show_breaker,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "BreakerConfig",
    "BreakerPanel",
    "BreakerRun",
    "BreakerWidget",
    "Divergence",
    "FrameView",
    "compare_breakers",
    "first_divergence",
    "record_run",
    "show_breaker",
]
