"""Notebook 00 (cascading failures) in a real JupyterLab, driven by headless Chromium.

One student JupyterLab (as ``python -m autograders open`` starts it) serves
``solution/00-cascading-failures.ipynb`` (the student version with the solutions
filled in) and ``blank/00-cascading-failures.ipynb`` (the released version). The
tests run every cell, play the cascade widget, press its fault buttons and
compare what it draws with the frames the kernel recorded (recomputed here from
the same seeded simulation). Screenshots go to ``test-artifacts/browser/``.

DOM hooks relied on (``course_lib/widgets/cascade_widget.js``): ``.cascade-widget``
(``data-frame``, ``data-fault``), ``.cascade-play``, ``.cascade-frame-slider``,
``.cascade-fault-outage``, ``.cascade-fault-text``, ``.cascade-panel``
(``data-frame``, ``data-label``), ``.cascade-service`` (``data-service``,
``data-busy``), ``.cascade-slot`` / ``.cascade-slot-busy``, ``.cascade-route``
(``data-route``). No assertion is timed: every wait is generous.

Run with ``.venv/bin/pytest tests/test_browser_00.py -m browser``.
"""

from __future__ import annotations

from typing import Any

import pytest
from browser_lab import (
    LabServer,
    open_notebook,
    run_all_cells,
    run_every_cell,
    screenshot,
    serve_solution_and_blank,
)
from conftest import ReleasedCourse

from autograders.assignments import discover
from course_lib.sim.scenarios import cascade
from course_lib.widgets.cascade_widget import record_frames

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "00-cascading-failures"
SOURCES = {assignment.name: assignment.notebook for assignment in discover()}
#: A generous wait for something a busy machine may be slow to do (never an assertion).
SLOW_MS = 180_000
#: The frame the tests look at: t = 30.5 s, the middle of the spike (20 s to 40 s).
MIDDLE = 60

needs_00 = pytest.mark.skipif(NAME not in SOURCES, reason=f"{NAME} is not in the repo")


@pytest.fixture(scope="module")
def lab(lab_folder: LabServer, released_course: ReleasedCourse) -> LabServer:
    """The session's student JupyterLab; this file's folder holds the solution and blank."""
    serve_solution_and_blank(lab_folder, [NAME], released_course.out)
    return lab_folder


_SHOWS_JS = """(root) => ({
    frame: root.getAttribute('data-frame'),
    fault: root.getAttribute('data-fault'),
    faultText: root.querySelector('.cascade-fault-text').textContent,
    panels: [...root.querySelectorAll('.cascade-panel')].map(p => ({
        label: p.getAttribute('data-label'),
        frame: p.getAttribute('data-frame'),
        error: p.querySelector('.cascade-panel-error').textContent,
        busy: Object.fromEntries([...p.querySelectorAll('.cascade-service')].map(
            s => [s.getAttribute('data-service'), Number(s.getAttribute('data-busy'))])),
        slots: p.querySelectorAll('.cascade-slot').length,
        filled: p.querySelectorAll('.cascade-slot-busy').length,
        routes: [...p.querySelectorAll('.cascade-route')].map(r => r.textContent),
    })),
})"""


def _shows(widget: Any) -> dict[str, Any]:
    shown: dict[str, Any] = widget.evaluate(_SHOWS_JS)
    return shown


def _go_to(widget: Any, frame: int) -> None:
    """Drag the slider to ``frame`` (sets the value and fires ``input``, as a drag does)."""
    widget.locator(".cascade-frame-slider").evaluate(
        "(s, v) => { s.value = String(v); s.dispatchEvent(new Event('input')); }", frame
    )
    widget.page.wait_for_function(
        "([root, v]) => root.getAttribute('data-frame') === String(v)",
        arg=[widget.element_handle(), frame],
        timeout=SLOW_MS,
    )


def _busy(frames: list[dict[str, Any]], index: int) -> dict[str, int]:
    return {
        name: frames[index]["s"][k][0] for k, name in enumerate(("gateway", "orders", "payments"))
    }


@needs_00
def test_00_solution_runs_and_the_widget_plays(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"solution/{NAME}.ipynb")
    run = run_all_cells(page, expect_all=True)
    assert not run.errors, "a cell shows an error or writes to stderr:\n\n" + "\n---\n".join(
        run.errors
    )
    widgets = page.locator(".cascade-widget")
    widgets.nth(1).wait_for(state="visible", timeout=SLOW_MS)
    assert widgets.count() == 2, "show_cascade() and show_timeout(TIMEOUT_MS)"
    widget = widgets.first
    widget.locator(".cascade-panel[data-frame]").first.wait_for(timeout=SLOW_MS)

    before = _shows(widget)
    assert before["frame"] == "0" and before["fault"] == "spike"
    assert [p["label"] for p in before["panels"]] == [
        "before: no protection",
        "after: timeouts + circuit breaker + bulkhead",
    ]
    assert [p["slots"] for p in before["panels"]] == [40, 40], "20 + 10 + 10 workers per panel"
    screenshot(page, "00-widget-before-play", widget)

    widget.locator(".cascade-play").click()
    page.wait_for_function(
        "(root) => Number(root.getAttribute('data-frame')) >= 45",
        arg=widget.element_handle(),
        timeout=SLOW_MS,
    )
    widget.locator(".cascade-play").click()  # pause
    _go_to(widget, MIDDLE)
    during = _shows(widget)
    unprotected = record_frames(cascade(False, 1))
    protected = record_frames(cascade(True, 1))
    assert during["panels"][0]["busy"] == _busy(unprotected, MIDDLE)
    assert during["panels"][1]["busy"] == _busy(protected, MIDDLE)
    assert during["panels"][0]["busy"]["gateway"] == 20, "unprotected, the gateway is full"
    assert during["panels"][1]["busy"]["gateway"] < 20, "protected, it is not"
    assert during["panels"][0]["filled"] == sum(_busy(unprotected, MIDDLE).values())
    screenshot(page, "00-widget-spike", widget)

    widget.locator(".cascade-fault-outage").click()
    page.wait_for_function(
        "(root) => root.getAttribute('data-fault') === 'outage'"
        " && root.getAttribute('data-frame') === '0'",
        arg=widget.element_handle(),
        timeout=SLOW_MS,
    )
    widget.locator(".cascade-fault-text", has_text="outage").wait_for(timeout=SLOW_MS)
    _go_to(widget, MIDDLE)
    outage = _shows(widget)
    expected = record_frames(cascade(False, 1, fault="outage"))
    assert outage["panels"][0]["busy"] == _busy(expected, MIDDLE)
    assert outage["panels"][0]["busy"]["gateway"] < 20, "an outage fails fast: no cascade"
    screenshot(page, "00-widget-outage", widget)

    timeout_widget = widgets.nth(1)
    shown = _shows(timeout_widget)
    assert shown["panels"][1]["label"] == "after: a 200 ms timeout on orders -> payments, only"
    _go_to(timeout_widget, MIDDLE)
    shown = _shows(timeout_widget)
    assert shown["panels"][1]["busy"] == _busy(
        record_frames(cascade(False, 1, timeout=0.2)), MIDDLE
    )
    screenshot(page, "00-widget-timeout-only", timeout_widget)


@needs_00
def test_00_blank_shows_the_cascade_and_stops_at_the_stubs(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"blank/{NAME}.ipynb")
    run = run_every_cell(page)
    assert len(run.errors) >= 10, "five answer cells and five test cells are not written yet"
    for text in run.errors:
        assert "NotImplementedError" in text and "Not written yet:" in text, (
            "the blank version shows an error other than the course's code stub:\n" + text
        )
    widget = page.locator(".cascade-widget").first
    widget.locator(".cascade-panel[data-frame]").first.wait_for(timeout=SLOW_MS)
    assert page.locator(".cascade-widget").count() == 1, "the timeout widget waits for TIMEOUT_MS"
    screenshot(page, "00-blank-widget", widget)
