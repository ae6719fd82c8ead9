"""Notebook 06 (the HA/DR runbook) in a real JupyterLab, driven by headless Chromium.

The solution version runs to the end without an error and its incident-timeline widget
(``course_lib/widgets/runbook_widget.js``) draws the incident and plays it; the blank
version stops only at the course's stubs, and its widget says in one line that
``run_rules`` is not written yet. Screenshots go to ``test-artifacts/browser/``.

DOM hooks relied on (besides JupyterLab's, see ``tests/test_browser.py``): the widget's
``.runbook-widget`` (``data-frame``: the frame drawn), ``.runbook-play``, ``.runbook-next``,
``.runbook-slider``, ``.runbook-lane`` (``data-lane``), ``.runbook-firing`` (``data-rule``),
``.runbook-mark`` (``data-mark``), ``.runbook-breaker-state`` (``data-state``),
``.runbook-outbox-size`` (``data-size``), ``.runbook-student-error`` and
``.runbook-divergence``.

No assertion is timed: every wait is generous (a busy machine only makes the suite slower).

Run with ``.venv/bin/pytest tests/test_browser_06.py -m browser``.
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

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "06-ha-dr-runbook"
SLOW_MS = 180_000
STUB_MESSAGE = "Not written yet:"


@pytest.fixture(scope="module")
def lab(lab_folder: LabServer, released_course: ReleasedCourse) -> LabServer:
    """The session's student JupyterLab; this file's folder holds the solution and blank."""
    serve_solution_and_blank(lab_folder, [NAME], released_course.out)
    return lab_folder


def _shows(widget: Any) -> dict[str, Any]:
    """What the widget shows now: frame drawn, slider, breaker state, outbox size, readout."""
    shown: dict[str, Any] = widget.evaluate(
        """w => ({
            drawn: Number(w.dataset.frame),
            slider: Number(w.querySelector('.runbook-slider').value),
            state: w.querySelector('.runbook-breaker-state')?.dataset.state,
            size: Number(w.querySelector('.runbook-outbox-size')?.dataset.size),
            readout: w.querySelector('.runbook-readout').innerText,
            cursor: w.querySelector('.runbook-cursor').getAttribute('x1'),
        })"""
    )
    return shown


def test_06_solution_widget_plays(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"solution/{NAME}.ipynb")
    run = run_all_cells(page, expect_all=True)
    assert not run.errors, "a cell shows an error or writes to stderr:\n\n" + "\n---\n".join(
        run.errors
    )

    widget = page.locator(".runbook-widget").first
    widget.locator(".runbook-cursor").wait_for(state="attached", timeout=SLOW_MS)
    assert page.locator(".runbook-widget").count() == 1
    lanes = widget.locator(".runbook-lane").evaluate_all("ls => ls.map(l => l.dataset.lane)")
    assert lanes == ["metrics", "rules", "student", "breaker", "outbox"]
    marks = widget.locator(".runbook-mark").evaluate_all("ms => ms.map(m => m.dataset.mark)")
    assert marks == ["last_replicated", "crash", "detected", "rerouted"]
    reference = widget.locator(".runbook-lane[data-lane='rules'] .runbook-firing")
    student = widget.locator(".runbook-lane[data-lane='student'] .runbook-firing")
    rules = reference.evaluate_all("fs => fs.map(f => f.dataset.rule)")
    assert rules == ["payment-api-timeout", "primary-db-crash", "redis-cpu-saturation"]
    assert student.evaluate_all("fs => fs.map(f => f.dataset.rule)") == rules
    # every firing label ends inside the chart, whose right edge is where the level lines
    # end (the last label, P2 read-from-replicas, used to run past it)
    right = max(
        widget.locator(".runbook-level").evaluate_all("ls => ls.map(l => l.x2.baseVal.value)")
    )
    ends = widget.locator(".runbook-firing-label").evaluate_all(
        "ls => ls.map(l => l.getBBox().x + l.getBBox().width)"
    )
    assert len(ends) == 6 and max(ends) <= right, (ends, right)
    assert "same moments" in widget.locator(".runbook-divergence").inner_text()
    text = widget.evaluate("w => w.textContent")
    assert "RTO 125 s" in text and "RPO 5 s" in text
    before = _shows(widget)
    assert before["drawn"] == 0 and before["slider"] == 0
    assert before["state"] == "closed" and before["size"] == 0
    screenshot(page, "06-widget-before-play", widget)

    widget.locator(".runbook-play").click()
    # The breaker opens near t=360 s (frame 35); wait (generously) until Play is past it.
    page.wait_for_function(
        "() => Number(document.querySelector('.runbook-widget').dataset.frame) >= 40",
        timeout=SLOW_MS,
    )
    widget.locator(".runbook-play").click()  # pause
    after = _shows(widget)
    assert after["drawn"] == after["slider"] >= 40
    assert after["cursor"] != before["cursor"], "the cursor follows the frame"
    assert after["state"] == "open" or after["drawn"] > 75
    assert after["size"] > 0 or after["drawn"] > 75, "checkouts wait in the outbox"
    screenshot(page, "06-widget-after-play", widget)

    frame = after["drawn"]
    widget.locator(".runbook-next").click()
    page.wait_for_function(
        "(f) => Number(document.querySelector('.runbook-widget').dataset.frame) === f + 1",
        arg=frame,
        timeout=SLOW_MS,
    )


def test_06_blank_stops_at_the_stubs_and_the_widget_says_so(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"blank/{NAME}.ipynb")
    run = run_every_cell(page)
    assert len(run.errors) >= 8, "at least the eight test cells stop at a stub"
    for text in run.errors:
        assert "NotImplementedError" in text and STUB_MESSAGE in text, (
            "the blank version shows an error other than the course's code stub:\n" + text
        )
    widget = page.locator(".runbook-widget").first
    widget.locator(".runbook-cursor").wait_for(state="attached", timeout=SLOW_MS)
    message = widget.locator(".runbook-student-error").inner_text()
    assert message.startswith("Your run_rules raised NotImplementedError")
    assert "\n" not in message.strip()
    assert widget.locator(".runbook-lane[data-lane='rules'] .runbook-firing").count() == 3
    screenshot(page, "06-blank-widget", widget)
