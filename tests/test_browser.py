"""The notebooks in a real JupyterLab, driven by headless Chromium.

The session's JupyterLab server (``student_lab`` in ``tests/conftest.py``, always stopped) is
the *student's* JupyterLab, as ``python -m autograders open`` starts it (nbgrader's instructor
tools off); this file's folder on it (the ``lab`` fixture) holds versions of each assignment
built from the nbgrader source notebooks:

* ``solution/NAME.ipynb``: the student version with the solutions filled in
  (nbgrader's ``ClearHiddenTests`` + ``ClearOutput`` on the source);
* ``blank/NAME.ipynb``: the released student version (``python -m autograders release``,
  once per session: ``released_course`` in ``tests/conftest.py``);
* ``reload/NAME.ipynb``: the solution version again, for the test that reloads the page;
* ``buggy/NAME.ipynb``: the solution version with one known-buggy answer
  (``autograders/submissions/NAME/<bug>.toml``), for the test of a failed check's message.

For each, the test opens the notebook, runs Run > Run All Cells, waits for the kernel,
and checks what a student would see. Screenshots go to ``test-artifacts/browser/``.

DOM hooks relied on:

* JupyterLab: ``.jp-Notebook-ExecutionIndicator[data-status]`` (kernel busy/idle),
  ``.jp-InputArea-prompt`` (``[n]:`` / ``[*]:``), ``.jp-OutputArea-output[data-mime-type]``
  (errors and stderr are ``application/vnd.jupyter.stderr``), ``.jp-RenderedMermaid``
  (a Mermaid diagram; JupyterLab 4.6 draws it as ``<img src="data:image/svg+xml,...">``);
* the breaker widget (``course_lib/widgets/breaker_widget.js``): ``.breaker-widget`` and
  ``.breaker-panel`` (``data-frame``: the frame drawn), ``.breaker-play``, ``.breaker-next``,
  ``.breaker-frame-slider``, ``.breaker-state`` (``data-state``), ``.breaker-node``
  (``data-state``, ``.breaker-node-current``), ``.breaker-rejected`` (``data-rejected``);
* nbgrader's lab extension: the "Nbgrader" menu, the "Assignments" panel
  (``#nbgrader-assignment-list``), the "Create Assignment" sidebar, the "Validate" button.

No assertion is timed: every wait is generous (a busy machine only makes the suite slower).

Run with ``.venv/bin/pytest tests/test_browser.py -m browser``.
"""

from __future__ import annotations

import re
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser_lab import (
    PAGE_TIMEOUT_MS,
    ROOT,
    LabServer,
    open_notebook,
    reload_notebook,
    run_all_cells,
    run_every_cell,
    save_notebook,
    screenshot,
    serve_solution_and_blank,
    solution_version,
)
from conftest import ReleasedCourse

from autograders.assignments import discover

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DIAGRAM = "07-state-diagram-challenge"
BREAKER = "01-circuit-breaker"
#: Every "you have not written this yet" message in the course starts so: the stub nbgrader
#: puts in answer cells, and what the 07 checks say while DIAGRAM is still None.
STUB_MESSAGE = "Not written yet:"


#: Every assignment of the course, found as selfcheck and nbval find them.
SOURCES = {assignment.name: assignment.notebook for assignment in discover()}
ASSIGNMENTS = list(SOURCES)


def _source(name: str) -> Path:
    return SOURCES[name]


#: A known-buggy answer whose visible check fails (a check of exercise 1, the window).
BUGGY_WINDOW = ROOT / "autograders" / "submissions" / BREAKER / "window-accepts-size-zero.toml"
#: A generous wait for something a busy machine may be slow to do (never an assertion).
SLOW_MS = 180_000


def buggy_version(solution: Path, bug: Path, target: Path) -> Path:
    """``solution`` with the answer cells a known-buggy submission replaces (by grade_id)."""
    replace = tomllib.loads(bug.read_text())["replace"]
    nb = nbformat.read(solution, as_version=nbformat.NO_CONVERT)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in replace:
            cell.source = replace.pop(grade_id).strip("\n")
    assert not replace, f"{bug.name} replaces cells the notebook does not have: {sorted(replace)}"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


@pytest.fixture(scope="module")
def lab(lab_folder: LabServer, released_course: ReleasedCourse) -> LabServer:
    """The session's student JupyterLab; this file's folder holds the versions listed above."""
    serve_solution_and_blank(lab_folder, ASSIGNMENTS, released_course.out)
    root = lab_folder.served
    for name in ASSIGNMENTS:
        solution_version(_source(name), root / "reload" / f"{name}.ipynb")
    if BREAKER in ASSIGNMENTS and BUGGY_WINDOW.is_file():
        buggy_version(
            root / "solution" / f"{BREAKER}.ipynb",
            BUGGY_WINDOW,
            root / "buggy" / f"{BREAKER}.ipynb",
        )
    return lab_folder


def _mermaid_figures(page: Any, scope: str) -> list[dict[str, Any]]:
    """Each ``.jp-RenderedMermaid`` under ``scope``: its SVG (inline or data URI) as text."""
    figures: list[dict[str, Any]] = page.evaluate(
        """(scope) => [...document.querySelectorAll(scope + ' .jp-RenderedMermaid')].map(e => {
            const svg = e.querySelector('svg');
            const img = e.querySelector('img[src^="data:image/svg+xml"]');
            return {svg: svg ? svg.outerHTML : (img ? img.getAttribute('src') : ''),
                    text: e.innerText, className: e.className};
        })""",
        scope,
    )
    for figure in figures:
        if figure["svg"].startswith("data:"):
            figure["svg"] = urllib.parse.unquote(figure["svg"].split(",", 1)[1])
    return figures


def _wait_for_mermaid(page: Any, scope: str, count: int) -> None:
    page.wait_for_function(
        """([scope, count]) => document.querySelectorAll(
            scope + ' .jp-RenderedMermaid svg, '
            + scope + ' .jp-RenderedMermaid img[src^="data:image/svg+xml"]').length >= count""",
        arg=[scope, count],
    )


def _no_errors(run: Any) -> None:
    assert not run.errors, "a cell shows an error or writes to stderr:\n\n" + "\n---\n".join(
        run.errors
    )


def _only_stub_errors(run: Any, *, at_least: int) -> None:
    assert len(run.errors) >= at_least, (
        f"the blank version showed {len(run.errors)} errors, expected at least {at_least} "
        "NotImplementedError stubs: is a solution left in?"
    )
    for text in run.errors:
        assert "NotImplementedError" in text and STUB_MESSAGE in text, (
            "the blank version shows an error other than the course's code stub:\n" + text
        )


def _first_error_cell(page: Any) -> Any:
    error = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).first
    return error.locator("xpath=ancestor::div[contains(@class, 'jp-CodeCell')][1]")


# --- 07: the state-diagram challenge ---------------------------------------------------

needs_07 = pytest.mark.skipif(DIAGRAM not in ASSIGNMENTS, reason=f"{DIAGRAM} is not in the repo")
needs_01 = pytest.mark.skipif(BREAKER not in ASSIGNMENTS, reason=f"{BREAKER} is not in the repo")


@needs_07
def test_07_solution_draws_every_diagram(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"solution/{DIAGRAM}.ipynb")
    run = run_all_cells(page, expect_all=True)
    _no_errors(run)

    outputs = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output"
    # show(WARMUP) (the template as given), show(DIAGRAM) and show(OPERATOR_DIAGRAM).
    _wait_for_mermaid(page, outputs, 3)
    figures = _mermaid_figures(page, outputs)
    assert len(figures) == 3, f"expected 3 Mermaid diagrams in the outputs, found {len(figures)}"
    for figure in figures:
        svg = figure["svg"]
        assert "<svg" in svg, f"a Mermaid output did not render as SVG: {figure['text'][:200]}"
        assert 'aria-roledescription="stateDiagram"' in svg, (
            "Mermaid did not draw a state diagram (its error box instead?)"
        )
    assert "Closed" in figures[0]["svg"], "the warm-up's template has no Closed state"
    for figure in figures[1:]:
        for state in ("Closed", "Open", "HalfOpen"):
            assert state in figure["svg"], f"the rendered diagram has no {state} state"
    assert "minimum" in figures[1]["svg"], "the student's labels are not in the picture"
    assert "ForcedOpen" in figures[2]["svg"], "the operator's diagram has no ForcedOpen state"

    # The markdown cells' diagrams (the turnstile example and the template) render too.
    _wait_for_mermaid(page, ".jp-MarkdownCell", 2)
    screenshot(page, "07-solution-diagram", page.locator(f"{outputs} .jp-RenderedMermaid").nth(1))
    screenshot(page, "07-solution-operator", page.locator(f"{outputs} .jp-RenderedMermaid").last)
    passed = page.locator(f"{outputs}[data-mime-type='application/vnd.jupyter.stdout']")
    assert passed.count() == 4, "each of the four test cells should print its ✓ line"
    for text in passed.all_inner_texts():
        assert text.startswith("✓"), f"a visible check printed {text!r}"


@needs_07
def test_07_blank_shows_template_and_stops_at_the_stub(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"blank/{DIAGRAM}.ipynb")
    text = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").inner_text()
    assert "Trial Request Fails" not in text, "the blank version gives away a transition"
    _wait_for_mermaid(page, ".jp-MarkdownCell", 2)
    template = _mermaid_figures(page, ".jp-MarkdownCell")[1]["svg"]
    for state in ("MonitorFailures", "RejectRequests", "SendTrialRequests"):
        assert state in template, f"the template diagram lacks {state}"
    drawn = page.locator(".jp-MarkdownCell .jp-RenderedMermaid")
    screenshot(page, "07-blank-template", drawn.nth(1))
    run = run_every_cell(page)
    _only_stub_errors(run, at_least=6)  # the answer cell and the five test cells
    screenshot(page, "07-blank-stub", _first_error_cell(page))


# --- 01: the circuit breaker -----------------------------------------------------------


_WIDGET_SHOWS_JS = """(widget) => {
    const panels = [...widget.querySelectorAll('.breaker-panel')];
    return {
        slider: Number(widget.querySelector('.breaker-frame-slider').value),
        label: widget.querySelector('.breaker-frame-label').textContent,
        drawn: panels.map(p => Number(p.getAttribute('data-frame'))),
        states: panels.map(p => p.querySelector('.breaker-state').getAttribute('data-state')),
        current: panels.map(p => [...p.querySelectorAll('.breaker-node-current')]
            .map(n => n.getAttribute('data-state'))),
        rejected: panels.map(p => p.querySelector('.breaker-rejected')
            ?.getAttribute('data-rejected')),
    };
}"""


def _shows(widget: Any) -> dict[str, Any]:
    """What the widget draws now: its controls' frame and each panel's drawing."""
    shown: dict[str, Any] = widget.evaluate(_WIDGET_SHOWS_JS)
    return shown


def _wait_drawn(widget: Any) -> None:
    widget.wait_for(state="visible", timeout=SLOW_MS)
    widget.locator(".breaker-panel[data-frame]").first.wait_for(timeout=SLOW_MS)


@needs_01
def test_01_solution_widget_plays(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"solution/{BREAKER}.ipynb")
    run = run_all_cells(page, expect_all=True)
    _no_errors(run)

    widget = page.locator(".breaker-widget").first
    _wait_drawn(widget)
    assert page.locator(".breaker-widget").count() == 3, "show_breaker + two compare_breakers"
    nodes = widget.locator(".breaker-node").evaluate_all(
        "nodes => nodes.map(n => [n.getAttribute('data-state'), n.textContent.trim()])"
    )
    assert nodes == [["closed", "CLOSED"], ["open", "OPEN"], ["half_open", "HALF_OPEN"]]
    before = _shows(widget)
    assert before["slider"] == 0 and before["drawn"] == [0]
    assert before["states"] == ["closed"] and before["current"] == [["closed"]]
    assert widget.locator(".breaker-window-cell").count() == 10
    screenshot(page, "01-widget-before-play", widget)

    widget.locator(".breaker-play").click()
    # Frame 4 trips the breaker; wait (generously) until Play has gone past it.
    widget.locator(".breaker-panel[data-frame='6']").wait_for(timeout=SLOW_MS)
    widget.locator(".breaker-play").click()  # pause
    after = _shows(widget)
    assert after["slider"] >= 6 and after["drawn"] == [after["slider"]]
    assert after["states"] != before["states"]
    assert after["current"] == [[after["states"][0]]], "the highlighted node is the state"
    assert int(after["rejected"][0]) >= 1, "calls are rejected while OPEN"
    screenshot(page, "01-widget-after-play", widget)

    compare = page.locator(".breaker-widget").nth(1)
    _wait_drawn(compare)
    panels = compare.locator(".breaker-panel")
    assert panels.count() == 2
    assert "breaker-panel-student" in (panels.first.get_attribute("class") or "")
    assert "agree on every call" in compare.locator(".breaker-divergence").inner_text()
    screenshot(page, "01-widget-compare", compare)


@needs_01
def test_01_widget_redraws_its_frame_after_a_reload(page: Any, lab: LabServer) -> None:
    """After a page reload the widget draws the frame its controls show (saved, as autosave
    would do, and the kernel still running)."""
    open_notebook(page, lab, f"reload/{BREAKER}.ipynb")
    # Only the show_breaker() cell (it imports what it needs): Shift+Enter on it.
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").filter(
        has_text="show_breaker()"
    )
    cell.first.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Shift+Enter")
    widget = cell.first.locator(".breaker-widget")
    _wait_drawn(widget)
    for _ in range(7):
        widget.locator(".breaker-next").click()
    widget.locator(".breaker-panel[data-frame='7']").wait_for(timeout=SLOW_MS)
    before = _shows(widget)
    assert before["slider"] == 7 and before["drawn"] == [7]
    page.wait_for_function(  # the frame went to the kernel (a comm message): kernel idle again
        "() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
        "?.getAttribute('data-status') === 'idle'",
        timeout=SLOW_MS,
    )
    save_notebook(page)

    reload_notebook(page)
    widget = page.locator(".breaker-widget").first
    _wait_drawn(widget)
    after = _shows(widget)
    assert after["slider"] == 7, f"the controls forgot the frame: {after}"
    assert after["drawn"] == [7], f"the widget draws another frame than its controls: {after}"
    assert after == before
    screenshot(page, "01-widget-after-reload", widget)


@needs_01
@pytest.mark.skipif(not BUGGY_WINDOW.is_file(), reason=f"{BUGGY_WINDOW.name} is not in the repo")
def test_01_failed_check_shows_only_its_message(page: Any, lab: LabServer) -> None:
    """A visible check that fails shows its plain-words message, not a traceback."""
    open_notebook(page, lab, f"buggy/{BREAKER}.ipynb")
    run = run_all_cells(page, expect_all=False)  # Run All stops at the failed check
    assert len(run.errors) == 1, run.errors
    message = run.errors[0]
    assert "RollingWindow(0) should raise ValueError" in message, message
    assert "Traceback" not in message, message
    assert "course_lib/checks" not in message and "File " not in message, message
    assert len(message.strip().splitlines()) <= 6, message
    cell = _first_error_cell(page)
    screenshot(page, "01-failed-check", cell)


# --- the student's JupyterLab ----------------------------------------------------------


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def test_student_lab_has_no_instructor_tools(page: Any, lab: LabServer) -> None:
    """``python -m autograders open``'s JupyterLab: no Formgrader, no Create Assignment,
    no course list; the assignment list and Validate stay."""
    assert _status(f"{lab.url}formgrader") == 404, "the Formgrader is served to a student"
    assert _status(f"{lab.url}formgrader/api/assignments") == 404
    assert _status(f"{lab.url}formgraders") == 404, "the course list is served to a student"
    assert _status(f"{lab.url}courses") == 200, "the assignment list's server side is missing"

    page.goto(f"{lab.url}lab?reset", wait_until="domcontentloaded")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).wait_for(
        timeout=SLOW_MS
    )
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
    items = [t.strip() for t in page.locator(".lm-Menu-itemLabel").all_inner_texts()]
    assert "Assignment List" in items, items
    for instructor in ("Formgrader", "Course List", "Create assignment"):
        assert not [i for i in items if instructor.lower() in i.lower()], items
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Assignment List$")).click()
    assignments = page.locator("#nbgrader-assignment-list")
    assignments.wait_for(state="visible", timeout=SLOW_MS)
    sidebar = page.locator(".jp-SideBar .lm-TabBar-tab").all_inner_texts()
    assert not [t for t in sidebar if "Create Assignment" in t], sidebar
    assert page.locator("#nbgrader-create_assignemnt").count() == 0
    titles = page.locator(".lm-TabBar-tabLabel").all_inner_texts()
    assert "Assignments" in titles, titles
    # a student working alone has an exchange of their own: empty lists, no errors
    assignments.get_by_text("No courses found.").wait_for(timeout=SLOW_MS)
    panel = assignments.inner_text()
    assert "does not exist" not in panel and "Error fetching courses" not in panel, panel
    screenshot(page, "student-lab-assignments")

    if BREAKER in ASSIGNMENTS:
        open_notebook(page, lab, f"blank/{BREAKER}.ipynb")
        toolbar = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar")
        toolbar.get_by_text("Validate", exact=True).wait_for(timeout=PAGE_TIMEOUT_MS)
        assert page.locator("#nbgrader-create_assignemnt").count() == 0
        screenshot(page, "student-lab-notebook")


@needs_01
def test_01_blank_stops_at_the_stub(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"blank/{BREAKER}.ipynb")
    run = run_every_cell(page)
    _only_stub_errors(run, at_least=7)  # at least the seven test cells
    screenshot(page, "01-blank-stub", _first_error_cell(page))
