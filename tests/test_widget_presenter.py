"""Every course widget follows the presenter convention (``course_lib/widgets/presenter.py``).

The widget classes are discovered, not listed: every ``anywidget.AnyWidget`` subclass
defined in a module of the ``course_lib.widgets`` package.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import anywidget
import pytest

import course_lib.widgets
from course_lib.widgets.presenter import PresenterTraits

WIDGETS_DIR = Path(course_lib.widgets.__file__).resolve().parent
PRESENTER_JS = (WIDGETS_DIR / "presenter.js").read_text(encoding="utf-8")
PRESENTER_CSS = (WIDGETS_DIR / "presenter.css").read_text(encoding="utf-8")


def widget_classes() -> list[type[anywidget.AnyWidget]]:
    """Every AnyWidget subclass defined in a module of ``course_lib.widgets``."""
    found: list[type[anywidget.AnyWidget]] = []
    for info in pkgutil.iter_modules(course_lib.widgets.__path__):
        module = importlib.import_module(f"course_lib.widgets.{info.name}")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, anywidget.AnyWidget) and value.__module__ == module.__name__:
                found.append(value)
    return sorted(found, key=lambda cls: cls.__qualname__)


WIDGETS = widget_classes()


def test_widgets_are_discovered() -> None:
    assert len(WIDGETS) >= 2, [w.__name__ for w in WIDGETS]
    assert course_lib.widgets.BreakerWidget in WIDGETS


@pytest.mark.parametrize("widget", WIDGETS, ids=lambda w: w.__name__)
def test_widget_follows_the_presenter_convention(widget: type[anywidget.AnyWidget]) -> None:
    assert issubclass(widget, PresenterTraits), (
        f"{widget.__name__} does not inherit PresenterTraits"
    )
    traits = widget.class_traits(sync=True)
    assert {"theme", "zoom"} <= set(traits), f"{widget.__name__} does not sync theme and zoom"
    esm, css = widget._esm, widget._css
    assert isinstance(esm, str) and isinstance(css, str), "load them with presenter_esm/_css"
    assert esm.startswith(PRESENTER_JS), f"{widget.__name__}'s _esm lacks presenter.js in front"
    assert css.startswith(PRESENTER_CSS), f"{widget.__name__}'s _css lacks presenter.css in front"
    own_js, own_css = esm[len(PRESENTER_JS) :], css[len(PRESENTER_CSS) :]
    assert "presenterControls(model, root" in own_js, f"{widget.__name__} never calls it"
    assert "m14-control" in own_js, f"{widget.__name__}'s buttons lack the class m14-control"
    assert 'data-m14-theme="presenter"' in own_css, f"{widget.__name__} has no presenter theme"
    assert "var(--m14-font-size" in own_css, f"{widget.__name__} sizes its text in pixels"
    # Play's timer is presenter.js's m14Frames (one copy of the play / step logic)
    assert "setInterval" not in own_js, f"{widget.__name__} has its own Play timer"
