"""Notebook 05 (the service mesh) in a real JupyterLab, driven by headless Chromium.

One JupyterLab server (the student's, as ``python -m autograders open`` starts it) serves
the solution version and the released blank version of ``05-service-mesh``. The tests
open each, run every cell, and play the mesh widget (``course_lib/widgets/mesh_widget.js``)
the way a student would. Screenshots go to ``test-artifacts/browser/``.

DOM hooks relied on (the widget's): ``.mesh-widget`` (``data-frame``), ``.mesh-panel``
plus ``.mesh-panel-reference`` / ``.mesh-panel-student`` (``data-frame``: the frame drawn),
``.mesh-play``, ``.mesh-next``, ``.mesh-prev``, ``.mesh-frame-slider``, ``.mesh-try``
(``data-outcome``, ``data-done``), ``.mesh-deadline``, ``.mesh-status``
(``data-status``), ``.mesh-panel-error``, ``.mesh-tree-level`` (``data-requests``).

No assertion is timed: the times printed (Run All, first display, a step's redraw) are
measurements for the report, and every wait is generous.

Run with ``.venv/bin/pytest tests/test_browser_05.py -m browser -s``.
"""

from __future__ import annotations

import time
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

NAME = "05-service-mesh"
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
STUB_MESSAGE = "Not written yet:"
SLOW_MS = 180_000


@pytest.fixture(scope="module")
def lab(lab_folder: LabServer, released_course: ReleasedCourse) -> LabServer:
    """The session's student JupyterLab; this file's folder holds the solution and blank."""
    serve_solution_and_blank(lab_folder, [NAME], released_course.out)
    return lab_folder


_WATCH_JS = """() => {
    const cells = () => [...document.querySelectorAll('NOTEBOOK .jp-CodeCell')];
    window.__mesh = {done: {}, shown: null, cell: null};
    const look = () => {
        const now = performance.now();
        cells().forEach((cell, i) => {
            const prompt = cell.querySelector('.jp-InputArea-prompt');
            if (!(i in window.__mesh.done) && prompt && /\\[\\d+\\]/.test(prompt.textContent))
                window.__mesh.done[i] = now;
            if (window.__mesh.shown === null
                && cell.querySelector('.mesh-widget .mesh-panel[data-frame]')) {
                window.__mesh.shown = now;
                window.__mesh.cell = i;
            }
        });
    };
    new MutationObserver(look).observe(document.body, {subtree: true, childList: true,
        attributes: true, characterData: true});
}""".replace("NOTEBOOK", NOTEBOOK)

_STEP_JS = """async () => {
    const widget = document.querySelector('NOTEBOOK .mesh-widget');
    const panel = widget.querySelector('.mesh-panel-reference');
    const before = Number(panel.getAttribute('data-frame'));
    const t0 = performance.now();
    widget.querySelector('.mesh-next').click();
    while (Number(widget.querySelector('.mesh-panel-reference').getAttribute('data-frame'))
           !== before + 1) {
        if (performance.now() - t0 > 10000) return -1;
        await new Promise(r => setTimeout(r, 1));
    }
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t0;
}""".replace("NOTEBOOK", NOTEBOOK)


def _panels(page: Any) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = page.evaluate(
        """(scope) => [...document.querySelector(scope + ' .mesh-widget')
                .querySelectorAll('.mesh-panel')].map(p => ({
                kind: p.className.includes('mesh-panel-student') ? 'student' : 'reference',
                frame: Number(p.getAttribute('data-frame')),
                tries: [...p.querySelectorAll('.mesh-try')].map(t => [
                    t.getAttribute('data-outcome'), t.getAttribute('data-done')]),
                status: (p.querySelector('.mesh-status') || {getAttribute: () => null})
                    .getAttribute('data-status'),
                deadline: p.querySelectorAll('.mesh-deadline').length,
                error: (p.querySelector('.mesh-panel-error') || {textContent: ''}).textContent,
            }))""",
        NOTEBOOK,
    )
    return panels


def test_solution_runs_and_its_widget_plays(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"solution/{NAME}.ipynb")
    page.evaluate(_WATCH_JS)
    started = time.perf_counter()
    run = run_all_cells(page, expect_all=True)
    run_all_s = time.perf_counter() - started
    assert not run.errors, "a cell shows an error or writes to stderr:\n" + "\n---\n".join(
        run.errors
    )
    page.wait_for_selector(f"{NOTEBOOK} .mesh-widget .mesh-panel[data-frame]", timeout=SLOW_MS)
    marks = page.evaluate("() => window.__mesh")
    widget = page.locator(f"{NOTEBOOK} .mesh-widget").first
    widget.scroll_into_view_if_needed()
    screenshot(page, "05-mesh-widget-start", widget)

    panels = _panels(page)
    assert [p["kind"] for p in panels] == ["student", "reference"]
    assert all(p["frame"] == 0 and p["deadline"] == 1 for p in panels)
    assert all(p["tries"] == [["running", "0"]] for p in panels)  # frame 0: try 1 started

    widget.locator(".mesh-play").click()
    page.wait_for_function(
        """(scope) => [...document.querySelector(scope + ' .mesh-widget')
                .querySelectorAll('.mesh-panel')]
            .every(p => p.querySelector('.mesh-status').getAttribute('data-status') !== '')""",
        arg=NOTEBOOK,
        timeout=SLOW_MS,
    )
    panels = _panels(page)
    for panel in panels:
        # two tries hang to their per-try timeouts, the third answers 200 (module's policy)
        assert panel["tries"] == [["per-try-timeout", "1"], ["per-try-timeout", "1"], ["200", "1"]]
        assert panel["status"] == "200"
    screenshot(page, "05-mesh-widget-played", widget)

    widget.locator(".mesh-prev").click()
    page.wait_for_function(
        """(scope) => document.querySelector(scope + ' .mesh-panel-reference .mesh-status')
            .getAttribute('data-status') === ''""",
        arg=NOTEBOOK,
        timeout=SLOW_MS,
    )
    step_ms = page.evaluate(_STEP_JS)
    assert step_ms >= 0, "a click on 'next' was never drawn"
    levels = page.evaluate(
        """(scope) => [...document.querySelectorAll(scope + ' .mesh-widget')].map(w =>
            [...w.querySelectorAll('.mesh-tree-level')]
                .map(l => l.getAttribute('data-requests')))""",
        NOTEBOOK,
    )
    assert levels == [["1", "3", "9", "27"], ["1", "3", "12", "36", "144"]]
    done = marks["done"].get(str(marks["cell"]))
    after_kernel = max(0.0, (marks["shown"] - done) / 1000) if done is not None else None
    print(
        f"\n05 Run All {run_all_s:.1f} s; widget drawn {after_kernel} s after its cell's "
        f"kernel reply; a step redrawn in {step_ms:.0f} ms"
    )


def test_blank_shows_only_stubs_and_the_reference_still_plays(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"blank/{NAME}.ipynb")
    run = run_every_cell(page)
    assert len(run.errors) >= 9, f"expected the 9 exercises' stubs, got {len(run.errors)} errors"
    for text in run.errors:
        assert "NotImplementedError" in text and STUB_MESSAGE in text, text
    page.wait_for_selector(f"{NOTEBOOK} .mesh-widget .mesh-panel[data-frame]", timeout=SLOW_MS)
    panels = _panels(page)
    assert [p["kind"] for p in panels] == ["student", "reference"]
    student, reference = panels
    assert "NotImplementedError" in student["error"] and STUB_MESSAGE in student["error"]
    assert reference["error"] == "" and reference["deadline"] == 1
    widget = page.locator(f"{NOTEBOOK} .mesh-widget").first
    widget.scroll_into_view_if_needed()
    widget.locator(".mesh-play").click()
    page.wait_for_function(
        """(scope) => document.querySelector(scope + ' .mesh-panel-reference .mesh-status')
            .getAttribute('data-status') === '200'""",
        arg=NOTEBOOK,
        timeout=SLOW_MS,
    )
    screenshot(page, "05-mesh-widget-blank", widget)
