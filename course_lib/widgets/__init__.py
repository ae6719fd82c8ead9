"""Animated widgets for the notebooks (a small anywidget drawn in SVG).

* :func:`show_breaker`: the reference circuit breaker replayed through a scenario;
* :func:`compare_breakers`: a student's breaker next to the reference, with the
  first step where they behave differently.

The pieces underneath are importable on their own:
:mod:`.breaker_playback` records runs (no widget imports) and
:mod:`.breaker_widget` turns them into the frames its browser view draws.
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
    BreakerWidget,
    compare_breakers,
    frame_json,
    show_breaker,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "BreakerConfig",
    "BreakerRun",
    "BreakerWidget",
    "Divergence",
    "FrameView",
    "compare_breakers",
    "first_divergence",
    "frame_json",
    "record_run",
    "show_breaker",
]
