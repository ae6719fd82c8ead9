"""Notebook 02 (bulkheads) in a real JupyterLab, driven by headless Chromium.

One student JupyterLab serves the solution version (the source with hidden tests and outputs
cleared) and the released blank of ``02-bulkheads``. The tests run every cell, play the
bulkhead widget and check what it draws: in the shared pool B's calls take every slot and A's
calls are rejected; in the isolated pools B fills only its own 10 slots and A is never
rejected; the student's panel draws what the reference draws. Screenshots go to
``test-artifacts/browser/``.

DOM hooks relied on (``course_lib/widgets/bulkhead_widget.js``): ``.bulkhead-widget``
(``data-frame``), ``.bulkhead-play``, ``.bulkhead-slider``, ``.bulkhead-panel``
(``data-layout``, ``data-frame``), ``.bulkhead-slot`` (``data-holder``),
``.bulkhead-rejected-a`` / ``.bulkhead-rejected-b`` (``data-count``),
``.bulkhead-panel-error``.

No assertion is timed: every wait is generous.
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
from course_lib.sim.bulkheads import isolation

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "02-bulkheads"
SOURCES = {assignment.name: assignment.notebook for assignment in discover()}
SLOW_MS = 180_000
#: Play runs at least to this frame (0.25 s each: t=9 s, B has hung for 5 s) ...
PLAYED_FRAME = 36
#: ... then the slider shows this one (t=12 s, B still hangs), compared with the kernel's run.
FILLED_FRAME = 48

needs_02 = pytest.mark.skipif(NAME not in SOURCES, reason=f"{NAME} is not in the repo")


@pytest.fixture(scope="module")
def lab(lab_folder: LabServer, released_course: ReleasedCourse) -> LabServer:
    """The session's student JupyterLab; this file's folder holds the solution and blank."""
    serve_solution_and_blank(lab_folder, [NAME], released_course.out)
    return lab_folder


_DRAWN_JS = """w => [...w.querySelectorAll('.bulkhead-panel')].map(p => ({
    layout: p.getAttribute('data-layout'),
    frame: p.getAttribute('data-frame'),
    error: (p.querySelector('.bulkhead-panel-error') || {}).textContent || '',
    pools: [...p.querySelectorAll('.bulkhead-pool')].map(pool =>
        [...pool.querySelectorAll('.bulkhead-slot')].map(s => s.getAttribute('data-holder'))),
    rejectedA: Number((p.querySelector('.bulkhead-rejected-a') || {dataset: {}}).dataset.count),
    rejectedB: Number((p.querySelector('.bulkhead-rejected-b') || {dataset: {}}).dataset.count),
}))"""


def _drawn(widget: Any) -> list[dict[str, Any]]:
    drawn: list[dict[str, Any]] = widget.evaluate(_DRAWN_JS)
    return drawn


def _wait_drawn(widget: Any) -> None:
    widget.wait_for(state="visible", timeout=SLOW_MS)
    widget.locator(".bulkhead-panel[data-frame]").first.wait_for(timeout=SLOW_MS)


def _expected(layout: str, index: int) -> dict[str, Any]:
    """What a panel of ``layout`` should draw at frame ``index`` (the kernel's seeded run)."""
    frame = isolation(layout, seed=1).frames[index]
    a, b = frame["A"]["in_flight"], frame["B"]["in_flight"]
    if layout == "shared":
        pools = [["A"] * a + ["B"] * b + [""] * (20 - a - b)]
    else:
        pools = [["A"] * a + [""] * (10 - a), ["B"] * b + [""] * (10 - b)]
    return {
        "layout": layout,
        "frame": str(index),
        "error": "",
        "pools": pools,
        "rejectedA": frame["A"]["rejected"],
        "rejectedB": frame["B"]["rejected"],
    }


def _errors(run: Any) -> None:
    assert not run.errors, "a cell shows an error or writes to stderr:\n\n" + "\n---\n".join(
        run.errors
    )


@needs_02
def test_02_solution_widget_plays_b_fills_its_pool_a_keeps_serving(
    page: Any, lab: LabServer
) -> None:
    open_notebook(page, lab, f"solution/{NAME}.ipynb")
    _errors(run_all_cells(page, expect_all=True))

    widgets = page.locator(".bulkhead-widget")
    assert widgets.count() == 2, "show_bulkheads + compare_bulkheads"
    widget = widgets.first
    _wait_drawn(widget)
    before = _drawn(widget)
    assert [p["layout"] for p in before] == ["shared", "isolated"]
    assert [len(pool) for pool in before[0]["pools"]] == [20]
    assert [len(pool) for pool in before[1]["pools"]] == [10, 10]
    assert all(p["frame"] == "0" and p["rejectedA"] == 0 for p in before)
    screenshot(page, "02-widget-before-play", widget)

    widget.locator(".bulkhead-play").click()
    page.wait_for_function(
        """n => Number(document.querySelector('.bulkhead-widget')
                .getAttribute('data-frame')) >= n""",
        arg=PLAYED_FRAME,
        timeout=SLOW_MS,
    )
    widget.locator(".bulkhead-play").click()  # pause
    widget.locator(".bulkhead-slider").fill(str(FILLED_FRAME))
    widget.locator(f".bulkhead-panel[data-frame='{FILLED_FRAME}']").first.wait_for(timeout=SLOW_MS)
    shared, isolated = _drawn(widget)
    assert shared == _expected("shared", FILLED_FRAME), "the browser draws the kernel's frame"
    assert isolated == _expected("isolated", FILLED_FRAME)
    assert shared["pools"][0] == ["B"] * 20, "B's hung calls take the whole shared pool"
    assert shared["rejectedA"] > 100, "and A, healthy, starves"
    assert isolated["pools"][1] == ["B"] * 10, "B fills its own pool"
    assert "B" not in isolated["pools"][0], "and nothing of A's"
    assert isolated["rejectedA"] <= 1 and isolated["rejectedB"] > 100
    screenshot(page, "02-widget-b-hangs", widget)

    compare = widgets.nth(1)
    _wait_drawn(compare)
    compare.locator(".bulkhead-slider").fill(str(FILLED_FRAME))
    compare.locator(f".bulkhead-panel[data-frame='{FILLED_FRAME}']").first.wait_for(timeout=SLOW_MS)
    shared, reference, yours = _drawn(compare)
    assert not yours["error"]
    assert yours["pools"] == reference["pools"], "your pools draw what the reference's draw"
    assert yours["rejectedA"] == reference["rejectedA"] <= 1
    screenshot(page, "02-widget-compare", compare)


@needs_02
def test_02_blank_stops_only_at_stubs_and_the_widget_says_so(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"blank/{NAME}.ipynb")
    run = run_every_cell(page)
    assert len(run.errors) >= 7, "at least the seven graded test cells stop at a stub"
    for text in run.errors:
        assert "NotImplementedError" in text and "Not written yet:" in text, text
    compare = page.locator(".bulkhead-widget").nth(1)
    _wait_drawn(compare)
    errors = compare.locator(".bulkhead-panel-error")
    assert errors.count() == 1
    assert "NotImplementedError: Not written yet:" in errors.inner_text()
    screenshot(page, "02-blank-widget-stub", compare)
