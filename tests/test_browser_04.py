"""Notebook 04 in a real JupyterLab, driven by headless Chromium.

The student's JupyterLab (as ``python -m autograders open`` starts it) serves the solution
version of ``04-timeouts`` (solutions filled in, hidden tests removed) and its released
blank version. The solution runs with Run All, without an error; the latency widget's
timeout line is dragged with the mouse and must move, with a smaller share of requests
cut; the budget widget shows the chain that ran out (504) and the one that fit (200), and
steps through its hops. The blank version shows only the course's stub errors. Screenshots
go to ``test-artifacts/browser/``; the time from the widget cell's reply to the drawn
widget, and from the drag to the redraw, are printed (information, never asserted).

DOM hooks: ``course_lib/widgets/timeout_widget.py`` lists them.
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

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "04-timeouts"
SOURCES = {assignment.name: assignment.notebook for assignment in discover()}
STUB_MESSAGE = "Not written yet:"
SLOW_MS = 180_000
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"

needs_04 = pytest.mark.skipif(NAME not in SOURCES, reason=f"{NAME} is not in the repo")


@pytest.fixture(scope="module")
def lab(lab_folder: LabServer, released_course: ReleasedCourse) -> LabServer:
    """The session's student JupyterLab; this file's folder holds the solution and blank."""
    serve_solution_and_blank(lab_folder, [NAME], released_course.out)
    return lab_folder


_LINE_JS = """(widget) => ({
    timeout: Number(widget.querySelector('.timeout-line').getAttribute('data-timeout-ms')),
    share: Number(widget.querySelector('.timeout-readout').getAttribute('data-cut-share')),
    text: widget.querySelector('.timeout-readout').textContent,
    cut: widget.querySelectorAll('.timeout-bar[data-cut="1"]').length,
})"""

_WATCH_JS = """() => {
    window.__t04 = {start: performance.now()};
    const look = () => {
        const w = document.querySelector('NOTEBOOK .timeout-widget[data-kind="latency"]');
        if (w && !window.__t04.shown) window.__t04.shown = performance.now();
        const cells = [...document.querySelectorAll('NOTEBOOK .jp-CodeCell')];
        const cell = cells.find(c => c.querySelector('.timeout-widget[data-kind="latency"]'))
            || cells.find(c => c.textContent.includes('show_latencies(latencies'));
        const prompt = cell && cell.querySelector('.jp-InputArea-prompt');
        if (prompt && /\\[\\d+\\]/.test(prompt.textContent) && !window.__t04.done)
            window.__t04.done = performance.now();
    };
    new MutationObserver(look).observe(document.body,
        {subtree: true, childList: true, attributes: true, characterData: true});
}""".replace("NOTEBOOK", NOTEBOOK)

_DRAG_REDRAW_JS = """async (widget) => {
    const line = widget.querySelector('.timeout-line');
    const before = line.getAttribute('data-timeout-ms');
    const slider = widget.querySelector('.timeout-slider');
    const paint = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    await paint();
    const t0 = performance.now();
    slider.value = String(Number(slider.value) + 50);
    slider.dispatchEvent(new Event('input', {bubbles: true}));
    while (line.getAttribute('data-timeout-ms') === before) {
        if (performance.now() - t0 > 10000) return -1;
        await new Promise(r => setTimeout(r, 1));
    }
    await paint();
    return performance.now() - t0;
}"""


@needs_04
def test_04_solution_runs_and_the_timeout_line_drags(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"solution/{NAME}.ipynb")
    page.evaluate(_WATCH_JS)
    run = run_all_cells(page, expect_all=True)
    assert not run.errors, "a cell shows an error or writes to stderr:\n" + "\n---\n".join(
        run.errors
    )
    passed = page.locator(f"{NOTEBOOK} .jp-OutputArea-output", has_text="✓")
    assert passed.count() == 6, "each of the six test cells prints its ✓ line"

    widget = page.locator(f"{NOTEBOOK} .timeout-widget[data-kind='latency']")
    widget.wait_for(state="visible", timeout=SLOW_MS)
    marks = page.evaluate("() => window.__t04")
    if marks.get("done") and marks.get("shown"):
        print(
            f"\nlatency widget drawn {max(0.0, marks['shown'] - marks['done']):.0f} ms after "
            "its cell's reply"
        )
    before = widget.evaluate(_LINE_JS)
    assert before["timeout"] == 100.0, "the notebook puts the line at 100 ms"
    assert 0 < before["share"] < 1 and "cuts" in before["text"]
    screenshot(page, "04-latency-before-drag", widget)

    handle = widget.locator(".timeout-handle")
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + 20 * step, y)
    page.mouse.up()
    page.wait_for_function(
        "([w, t]) => Number(w.querySelector('.timeout-line').getAttribute('data-timeout-ms')) > t",
        arg=[widget.element_handle(), before["timeout"] + 50],
        timeout=SLOW_MS,
    )
    after = widget.evaluate(_LINE_JS)
    assert after["timeout"] > before["timeout"]
    assert after["share"] < before["share"], "a longer timeout cuts fewer requests"
    assert after["cut"] < before["cut"]
    screenshot(page, "04-latency-after-drag", widget)
    print(f"slider move redrawn in {widget.evaluate(_DRAG_REDRAW_JS):.0f} ms")

    budget = page.locator(f"{NOTEBOOK} .timeout-widget[data-kind='budget']")
    budget.wait_for(state="visible", timeout=SLOW_MS)
    statuses = budget.locator(".budget-run").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-status'))"
    )
    assert statuses == ["504", "200"], "300 ms runs out along the chain; 1 s fits"
    assert budget.locator(".budget-hop[data-shown='1']").count() == 6
    assert budget.locator(".budget-error").count() == 0
    screenshot(page, "04-budget-all-hops", budget)
    budget.locator(".budget-next").click()  # wraps to no hop shown
    page.wait_for_function(
        "(w) => w.getAttribute('data-frame') === '0'", arg=budget.element_handle()
    )
    budget.locator(".budget-next").click()
    page.wait_for_function(
        "(w) => w.getAttribute('data-frame') === '1'", arg=budget.element_handle()
    )
    assert budget.locator(".budget-hop[data-shown='1']").count() == 2  # hop A of each run
    screenshot(page, "04-budget-first-hop", budget)


@needs_04
def test_04_blank_shows_only_the_stubs(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"blank/{NAME}.ipynb")
    run = run_every_cell(page)
    assert len(run.errors) >= 6, f"expected the six checks to stop at the stubs: {run.errors}"
    for text in run.errors:
        assert "NotImplementedError" in text and STUB_MESSAGE in text, text
    budget = page.locator(f"{NOTEBOOK} .timeout-widget[data-kind='budget']")
    budget.wait_for(state="visible", timeout=SLOW_MS)
    assert STUB_MESSAGE in budget.locator(".budget-error").first.inner_text()
    screenshot(page, "04-blank-budget", budget)
