"""Notebook 03 (retries, backoff and jitter) in a real JupyterLab, driven by headless Chromium.

One student JupyterLab (``running_lab``, always stopped) serves the solution version
(nbgrader's ``ClearHiddenTests`` + ``ClearOutput`` on the source) and the released
blank version. The tests run every cell and play the retry-storm widget
(``course_lib/widgets/retry_widget.js``). DOM hooks relied on: ``.retry-widget``,
``.breaker-panel`` (``data-frame``: the frame drawn), ``.breaker-play``,
``.breaker-next``, ``.breaker-frame-slider``, ``.breaker-state`` (``data-state``: the
schedule shown), ``.retry-schedule`` (``data-schedule``), ``.retry-bar``
(``data-over``), ``.retry-capacity``, ``.retry-row`` (``data-schedule``).
Screenshots go to ``test-artifacts/browser/``. No assertion is timed.

Run with ``.venv/bin/pytest tests/test_browser_03.py -m browser``.
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

NAME = "03-retries-backoff-jitter"
SLOW_MS = 180_000


@pytest.fixture(scope="module")
def lab(lab_folder: LabServer, released_course: ReleasedCourse) -> LabServer:
    """The session's student JupyterLab; this file's folder holds the solution and blank."""
    serve_solution_and_blank(lab_folder, [NAME], released_course.out)
    return lab_folder


def _shows(widget: Any) -> dict[str, Any]:
    shown: dict[str, Any] = widget.evaluate(
        """(w) => ({
            slider: Number(w.querySelector('.breaker-frame-slider').value),
            drawn: Number(w.querySelector('.breaker-panel').getAttribute('data-frame')),
            schedule: w.querySelector('.breaker-state').getAttribute('data-state'),
            bars: w.querySelectorAll('.retry-bar').length,
            future: w.querySelectorAll('.retry-bar.retry-bar-future').length,
            over: [...w.querySelectorAll('.retry-bar:not(.retry-bar-future)')]
                .filter(b => b.getAttribute('data-over') === 'true').length,
            rows: [...w.querySelectorAll('.retry-row')].map(r => r.getAttribute('data-schedule')),
            selected: [...w.querySelectorAll('.retry-row-selected')]
                .map(r => r.getAttribute('data-schedule')),
        })"""
    )
    return shown


def _cell_text(page: Any, needle: str) -> str:
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").filter(
        has_text=needle
    )
    text: str = cell.first.locator(".jp-OutputArea").inner_text()
    return text


def test_03_solution_runs_and_the_storm_widget_plays(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"solution/{NAME}.ipynb")
    run = run_all_cells(page, expect_all=True)
    assert not run.errors, "a cell shows an error or writes to stderr:\n" + "\n---\n".join(
        run.errors
    )
    for line in ("✓ retry_with_backoff retries", "✓ retry_with_backoff_async awaits"):
        assert page.get_by_text(line).count() >= 1, f"missing the check's line {line!r}"

    table = _cell_text(page, "brooker_table(")
    assert "clients" in table and "decorrelated" in table, table
    last = [line for line in table.splitlines() if line.strip().startswith("100 ")]
    assert last, f"no 100-client row in the printed table:\n{table}"

    widget = page.locator(".retry-widget").first
    widget.locator(".breaker-panel[data-frame]").wait_for(timeout=SLOW_MS)
    before = _shows(widget)
    assert before["rows"] == ["none", "full", "equal", "decorrelated"]
    assert before["schedule"] == "none" and before["selected"] == ["none"]
    assert before["drawn"] == before["slider"] == 0
    assert before["bars"] == 500 and before["future"] == 499
    screenshot(page, "03-widget-before-play", widget)

    widget.locator(".breaker-next").click()
    widget.locator(".breaker-panel[data-frame='1']").wait_for(timeout=SLOW_MS)
    widget.locator(".breaker-play").click()
    page.wait_for_function(  # Play runs fast: wait until it has gone past the first waves
        "(w) => Number(w.querySelector('.breaker-panel').getAttribute('data-frame')) >= 200",
        arg=widget.element_handle(),
        timeout=SLOW_MS,
    )
    if widget.locator(".breaker-play").inner_text().startswith("❚❚"):
        widget.locator(".breaker-play").click()  # pause, unless it already reached the end
    page.wait_for_function(
        "(w) => w.querySelector('.breaker-play').textContent.startsWith('▶')",
        arg=widget.element_handle(),
        timeout=SLOW_MS,
    )
    played = _shows(widget)
    assert played["drawn"] == played["slider"] >= 200
    assert played["over"] >= 1, "without jitter the first retry wave is above the capacity"
    screenshot(page, "03-widget-no-jitter-waves", widget)

    widget.locator(".retry-schedule[data-schedule='full']").click()
    page.wait_for_function(
        "(w) => w.querySelector('.breaker-state').getAttribute('data-state') === 'full'",
        arg=widget.element_handle(),
        timeout=SLOW_MS,
    )
    full = _shows(widget)
    assert full["selected"] == ["full"] and full["drawn"] == played["drawn"]
    assert full["over"] < played["over"], "full jitter spreads the waves below the capacity"
    screenshot(page, "03-widget-full-jitter", widget)

    peaks = _cell_text(page, "storm.table")
    assert "No jitter" in peaks and "Full jitter" in peaks, peaks


def test_03_blank_stops_at_the_stubs_and_still_shows_the_storm(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"blank/{NAME}.ipynb")
    run = run_every_cell(page)
    assert len(run.errors) >= 6, f"expected the six test cells to fail, got {run.errors}"
    for text in run.errors:
        assert "NotImplementedError" in text and "Not written yet:" in text, text
    widget = page.locator(".retry-widget").first
    widget.locator(".breaker-panel[data-frame]").wait_for(timeout=SLOW_MS)
    assert _shows(widget)["rows"] == ["none", "full", "equal", "decorrelated"]
    table = _cell_text(page, "brooker_table(")
    assert "not measured (NotImplementedError" in table, table
    screenshot(page, "03-blank-widget", widget)
