"""The notebooks in a real JupyterLab, driven by headless Chromium.

One JupyterLab server (started and always stopped by the ``lab`` fixture) serves two
versions of each assignment, built from the nbgrader source notebooks:

* ``solution/NAME.ipynb``: the student version with the solutions filled in
  (nbgrader's ``ClearHiddenTests`` + ``ClearOutput`` on the source);
* ``blank/NAME.ipynb``: the released student version (``nbgrader generate_assignment``
  with the course config, through ``autograders.release``).

For each, the test opens the notebook, runs Run > Run All Cells, waits for the kernel,
and checks what a student would see. Screenshots go to ``test-artifacts/browser/``.

DOM hooks relied on:

* JupyterLab: ``.jp-Notebook-ExecutionIndicator[data-status]`` (kernel busy/idle),
  ``.jp-InputArea-prompt`` (``[n]:`` / ``[*]:``), ``.jp-OutputArea-output[data-mime-type]``
  (errors and stderr are ``application/vnd.jupyter.stderr``), ``.jp-RenderedMermaid``
  (a Mermaid diagram; JupyterLab 4.6 draws it as ``<img src="data:image/svg+xml,...">``);
* the breaker widget (``course_lib/widgets/breaker_widget.py``): ``.breaker-widget``,
  ``.breaker-play``, ``.breaker-state`` (text is the highlighted state);
* plotly: ``.js-plotly-plot``.

Run with ``.venv/bin/pytest tests/test_browser.py -m browser``.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_lab import (
    ROOT,
    LabServer,
    blank_versions,
    chromium_page,
    open_notebook,
    run_all_cells,
    run_every_cell,
    running_lab,
    screenshot,
    solution_version,
)
from conftest import require_program

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DIAGRAM = "07-state-diagram-challenge"
BREAKER = "01-circuit-breaker"
#: Every "you have not written this yet" message in the course starts so: the stub nbgrader
#: puts in answer cells, and what the 07 checks say while DIAGRAM is still None.
STUB_MESSAGE = "Not written yet:"


def _source(name: str) -> Path:
    return ROOT / "notebooks" / name / f"{name}.ipynb"


ASSIGNMENTS = [name for name in (BREAKER, DIAGRAM) if _source(name).is_file()]


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_program(
        "chromium", path="/usr/bin/chromium", install_hint="apt install chromium"
    )


@pytest.fixture(scope="module")
def lab(chromium: str) -> Iterator[LabServer]:
    with tempfile.TemporaryDirectory(prefix="m14-lab-") as tmp:
        workdir = Path(tmp)
        root = workdir / "served"
        for name in ASSIGNMENTS:
            solution_version(_source(name), root / "solution" / f"{name}.ipynb")
        blank_versions(ASSIGNMENTS, root / "blank")
        with running_lab(workdir, root) as server:
            yield server


@pytest.fixture
def page(chromium: str, lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    with (
        tempfile.TemporaryDirectory(prefix="m14-chromium-") as profile,
        chromium_page(chromium, Path(profile)) as page,
    ):
        try:
            yield page
        finally:
            # an artifact only: a page that crashed must not hide the test's own failure
            with contextlib.suppress(Exception):
                screenshot(page, f"{request.node.name}-last")


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
    # show(WARMUP), show(DIAGRAM) and show(OPERATOR_DIAGRAM): three diagrams.
    _wait_for_mermaid(page, outputs, 3)
    figures = _mermaid_figures(page, outputs)
    assert len(figures) == 3, f"expected 3 Mermaid diagrams in the outputs, found {len(figures)}"
    for figure in figures:
        svg = figure["svg"]
        assert "<svg" in svg, f"a Mermaid output did not render as SVG: {figure['text'][:200]}"
        assert 'aria-roledescription="stateDiagram"' in svg, (
            "Mermaid did not draw a state diagram (its error box instead?)"
        )
        for state in ("Closed", "Open", "HalfOpen"):
            assert state in svg, f"the rendered diagram has no {state} state"
    assert "A trial request fails" in figures[0]["svg"], "the student's label is not in the picture"
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


def _state_texts(page: Any, widget: Any) -> list[str]:
    return [t.strip() for t in widget.locator(".breaker-state").all_inner_texts()]


@needs_01
def test_01_solution_widget_plays(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"solution/{BREAKER}.ipynb")
    run = run_all_cells(page, expect_all=True)
    _no_errors(run)

    widget = page.locator(".breaker-widget").first
    widget.wait_for(state="visible")
    widget.locator(".js-plotly-plot").first.wait_for(state="visible")
    # plotly drew the state nodes (their labels are text points) and the call markers
    widget.locator(".js-plotly-plot .scatterlayer .textpoint").first.wait_for(state="visible")
    labels = widget.locator(".js-plotly-plot .scatterlayer .textpoint").evaluate_all(
        "elements => elements.map(e => e.textContent)"
    )
    assert {"CLOSED", "OPEN"} <= {t.strip().upper() for t in labels}, labels
    assert widget.locator(".js-plotly-plot .scatterlayer .point").count() >= 3
    assert widget.locator(".breaker-play").count() == 1, "the widget has no Play control"
    before = _state_texts(page, widget)
    assert before and all(t in ("closed", "open", "half_open") for t in before), before
    screenshot(page, "01-widget-before-play", widget)

    play_button = widget.locator(".breaker-play button").first
    play_button.click()
    page.wait_for_function(
        """([before]) => {
            const w = document.querySelector('.breaker-widget');
            const now = [...w.querySelectorAll('.breaker-state')].map(e => e.innerText.trim());
            return now.join('|') !== before;
        }""",
        arg=["|".join(before)],
        timeout=60_000,
    )
    after = _state_texts(page, widget)
    assert after != before
    screenshot(page, "01-widget-after-play", widget)
    assert re.search(r"\S", widget.inner_text())
    assert page.locator(".breaker-widget .js-plotly-plot").count() >= 1


@needs_01
def test_01_blank_stops_at_the_stub(page: Any, lab: LabServer) -> None:
    open_notebook(page, lab, f"blank/{BREAKER}.ipynb")
    run = run_every_cell(page)
    _only_stub_errors(run, at_least=7)  # at least the seven test cells
    screenshot(page, "01-blank-stub", _first_error_cell(page))
