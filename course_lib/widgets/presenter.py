"""The course's presenter convention for widgets: large controls, high contrast, keys, zoom.

A widget adopts it in three lines (see :class:`~course_lib.widgets.breaker_widget.BreakerWidget`):

* inherit :class:`PresenterTraits` before ``anywidget.AnyWidget``: the synced traits
  ``theme`` (``"default"`` or ``"presenter"``; ``"presenter"`` when the kernel's environment
  has ``M14_PRESENTER=1``, as ``python -m autograders present`` sets it) and ``zoom``;
* ``_esm = presenter_esm(path_of_own_js)`` and ``_css = presenter_css(path_of_own_css)``:
  the shared ``presenter.js`` / ``presenter.css`` in front of the widget's own files;
* in its ``render``: ``const { bar, dispose } = presenterControls(model, root, { step,
  first, last, play })``, put ``bar`` among its controls and call ``dispose`` on cleanup;
  give its buttons the class ``m14-control`` and size its text with the CSS variables of
  ``presenter.css`` (``--m14-font-size``, ``--m14-svg-text``, ``--m14-stroke``...).

A widget that steps through frames (a synced ``frame``, ``playing`` and ``interval_ms``)
takes its play / step / slider logic from ``presenter.js`` too: ``m14Frames(model,
frameCount, {intervalMs})`` gives the ``step`` / ``first`` / ``last`` / ``play`` that
``presenterControls`` wants, Play's timer for the module's ``initialize`` and
``controls({play, prev, next, slider})`` to wire its own buttons and range input.

Keys, once the widget has focus (click it): → / ← step, Home / End, Space or P play/pause,
+ / − zoom, C the presenter theme on and off.
"""

from __future__ import annotations

import os
from pathlib import Path

import traitlets

__all__ = ["PRESENTER_ENV", "THEMES", "PresenterTraits", "presenter_css", "presenter_esm"]

_HERE = Path(__file__).resolve().parent
#: The environment variable that starts every widget in the presenter theme.
PRESENTER_ENV = "M14_PRESENTER"
#: The themes a widget knows.
THEMES = ("default", "presenter")


def presenter_esm(own: Path) -> str:
    """The shared ``presenter.js`` followed by the widget's own ES module."""
    return (_HERE / "presenter.js").read_text(encoding="utf-8") + "\n" + own.read_text("utf-8")


def presenter_css(own: Path) -> str:
    """The shared ``presenter.css`` followed by the widget's own styles."""
    return (_HERE / "presenter.css").read_text(encoding="utf-8") + "\n" + own.read_text("utf-8")


class PresenterTraits(traitlets.HasTraits):
    """The synced traits of the presenter convention: ``theme`` and ``zoom``."""

    theme = traitlets.Enum(THEMES, default_value="default").tag(sync=True)
    zoom = traitlets.Float(1.0, min=0.5, max=3.0).tag(sync=True)

    @traitlets.default("theme")
    def _theme_from_environment(self) -> str:
        return "presenter" if os.environ.get(PRESENTER_ENV) == "1" else "default"
