"""Presenting in a real JupyterLab and in Chromium, at a projector's 1280×720.

* **Deck mode** (jupyterlab-slideshow) on the instructor versions of 01, 02 and 07, built by
  ``python -m autograders present`` and served with its settings (deck mode on at start,
  the reveal key) and its environment (the widgets' presenter theme): the test advances
  the slides, runs the reference in place of the students' code, reveals one solution
  (01 with the key, 02 and 07 with a click) while the next stays collapsed, and on 01 steps the
  breaker widget forward and back with the keyboard while the slide stays put.
* **Every widget**: a notebook with one slide per course widget (built with the reference),
  in the same Lab: each is in the presenter theme, steps forward and back (the timeout
  histogram: its line moves) with → and ← once focused, its text is at least 14 px high at
  1280×720, and its slide is saved as ``present-widget-NAME.png``.
* **Static decks**: ``jupyter nbconvert --to slides`` of every discovered notebook (and the
  instructor's deck ``present`` writes) opens in Chromium without a page error or a console
  error, and the arrow key moves through its slides. nbconvert's decks load reveal.js,
  require.js, jQuery and MathJax from CDNs; this machine reaches only package registries,
  so the test serves those URLs from the same packages fetched from the npm registry
  (``npm pack``; jQuery 2.0.3 is not on npm, 2.1.0 stands in for it; Mermaid draws the
  diagrams; the theme's two Google web fonts get an empty stylesheet), cached in
  ``test-artifacts/cdn-cache/``. Any other request fails the test. With every CDN request
  failing, the instructor's deck fails safe: a banner, no note, no solution on the page.

Screenshots go to ``test-artifacts/browser/present-*.png``. No assertion is timed.

DOM hooks relied on: jupyterlab-slideshow's ``body[data-jp-deck-mode="presenting"]`` and
``.jp-deck-mod-onscreen`` / ``.jp-deck-mod-visible`` on cells; JupyterLab's
``.jp-InputPlaceholder`` (a collapsed input) and ``.cm-content`` (an editor's text); the
widget's ``.m14-widget`` (``data-m14-theme``, ``--m14-zoom``) and ``.breaker-widget``
(``data-frame``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_lab import (
    ARTIFACTS,
    LabServer,
    chromium_page,
    open_notebook,
    running_lab,
    screenshot,
)
from conftest import require_program

from autograders import present
from autograders.assignments import discover, nbgrader_metadata
from autograders.notebook_text import read_notebook
from autograders.presenter import is_presenter_note

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BREAKER = "01-circuit-breaker"
BULKHEADS = "02-bulkheads"
DIAGRAM = "07-state-diagram-challenge"
ASSIGNMENTS = {a.name: a for a in discover()}
PRESENTED = [name for name in (BREAKER, BULKHEADS, DIAGRAM) if name in ASSIGNMENTS]
VIEWPORT = {"width": 1280, "height": 720}
SLOW_MS = 180_000
MAX_STEPS = 60

ONSCREEN_JS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-deck-mod-onscreen')]
    .map(c => c.innerText.replace(/\\s+/g, ' ').trim())"""


@pytest.fixture(scope="module")
def lab(chromium: str) -> Iterator[LabServer]:
    """The presenting JupyterLab: the instructor versions, ``present``'s settings and env."""
    with (
        tempfile.TemporaryDirectory(prefix="m14-present-") as tmp,
        pytest.MonkeyPatch.context() as mp,
    ):
        workdir = Path(tmp)
        served = workdir / "presenting"
        for name in PRESENTED:
            present.build_instructor_version(name, served)
        present.write_lab_settings(workdir / "settings")  # running_lab's settings folder
        mp.setenv(present.PRESENTER_ENV, "1")
        with running_lab(workdir, served) as server:
            yield server


@pytest.fixture
def page(chromium: str) -> Iterator[Any]:
    with (
        tempfile.TemporaryDirectory(prefix="m14-chromium-") as profile,
        chromium_page(chromium, Path(profile)) as page,
    ):
        page.set_viewport_size(VIEWPORT)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.m14_errors = errors
        yield page


def _onscreen(page: Any) -> list[str]:
    texts: list[str] = page.evaluate(ONSCREEN_JS)
    return texts


def _visible(page: Any) -> list[str]:
    """The cells on screen that are shown (a fragment not reached yet is on screen, hidden)."""
    texts: list[str] = page.evaluate(ONSCREEN_JS.replace("mod-onscreen", "mod-visible"))
    return texts


def _advance_until(page: Any, wanted: str, key: str = "ArrowRight") -> list[str]:
    """Press ``key`` until a shown cell starts with ``wanted``; return the slides' first lines."""
    seen: list[str] = []
    for _ in range(MAX_STEPS):
        onscreen = _onscreen(page)
        if onscreen and (not seen or seen[-1] != onscreen[0][:40]):
            seen.append(onscreen[0][:40])
        if any(text.startswith(wanted) for text in _visible(page)):
            return seen
        page.keyboard.press(key)
        page.wait_for_timeout(250)
    raise AssertionError(f"{wanted!r} never came on screen; slides seen: {seen}")


def _open_deck(page: Any, lab: LabServer, name: str) -> None:
    open_notebook(page, lab, f"{name}/{name}.ipynb")
    page.wait_for_selector(
        "body[data-jp-deck-mode='presenting']", state="attached", timeout=SLOW_MS
    )
    page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-deck-mod-onscreen"
    ).first.wait_for()


def _run_active(page: Any, prefix: str, key: str = "Shift+Enter") -> None:
    """``key`` once the deck has made the cell starting with ``prefix`` the active one."""
    page.wait_for_function(
        """(prefix) => {
            const cell = document.querySelector(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active');
            return cell !== null && cell.innerText.replace(/\\s+/g, ' ').trim().startsWith(prefix)
                && cell.contains(document.activeElement);
        }""",
        arg=prefix,
        timeout=SLOW_MS,
    )
    page.keyboard.press(key)


def _run_reference(page: Any) -> None:
    """→ to the presenter's slide, Ctrl+Enter: the course's solution stands in for the class.

    Ctrl+Enter runs the cell in place (the README's advice): its output shows on the slide.
    """
    _advance_until(page, "# Presenter")
    _run_active(page, "# Presenter", "Control+Enter")
    said = page.locator(
        ".jp-Cell.jp-deck-mod-visible .jp-OutputArea-output",
        has_text="using the course's solution for:",
    )
    said.wait_for(state="visible", timeout=SLOW_MS)
    assert _onscreen(page)[0].startswith("# Presenter")  # the deck stayed on the cell


def _first_solution_line(name: str) -> str:
    """A line of the first answer cell's solution that the stub does not have."""
    for cell in read_notebook(ASSIGNMENTS[name].notebook).cells:
        if nbgrader_metadata(cell).get("solution"):
            inside = False
            for line in cell.source.split("\n"):
                if "BEGIN SOLUTION" in line:
                    inside = True
                elif "END SOLUTION" in line:
                    break
                elif inside and len(line.strip()) > 12:
                    return line.strip()
    raise AssertionError(f"{name} has no solution line")


_COLLAPSED_JS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')]
    .filter(c => c.querySelector('.jp-InputPlaceholder')).length"""


@pytest.mark.parametrize("name", PRESENTED)
def test_deck_advances_and_reveals_one_solution(page: Any, lab: LabServer, name: str) -> None:
    _open_deck(page, lab, name)
    title = _onscreen(page)
    assert title and title[0].startswith(name[:2]), title
    screenshot(page, f"present-{name}-title")
    _run_reference(page)
    collapsed = page.evaluate(_COLLAPSED_JS)
    answers = sum(
        1
        for c in read_notebook(ASSIGNMENTS[name].notebook).cells
        if nbgrader_metadata(c).get("solution")
    )
    assert collapsed == answers  # every solution starts collapsed

    seen = _advance_until(page, "Exercise 1")
    assert len(seen) >= 3, f"the deck showed too few slides before exercise 1: {seen}"
    screenshot(page, f"present-{name}-exercise-1")
    # → once more: the answer cell appears (a fragment), its input still collapsed
    page.keyboard.press("ArrowRight")
    answer = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell.jp-deck-mod-visible"
        ":has(.jp-InputPlaceholder)"
    ).first
    answer.wait_for(timeout=SLOW_MS)
    solution = _first_solution_line(name)
    assert solution not in answer.inner_text()
    if name == BREAKER:
        page.keyboard.press("Shift+S")  # the reveal key, on the selected cell
    else:
        answer.locator(".jp-InputPlaceholder").click()
    page.wait_for_function(
        """(line) => [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell.jp-deck-mod-visible .cm-content')]
            .some(e => e.innerText.includes(line))""",
        arg=solution,
        timeout=SLOW_MS,
    )
    assert page.evaluate(_COLLAPSED_JS) == answers - 1  # one step at a time: the rest stay shut
    screenshot(page, f"present-{name}-revealed")
    assert page.m14_errors == []


_FONT_PX_JS = """(selector) => parseFloat(getComputedStyle(document.querySelector(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-deck-mod-visible ' + selector)).fontSize)"""


@pytest.mark.skipif(BREAKER not in ASSIGNMENTS, reason="01 is not in the course")
def test_deck_widget_steps_with_the_keyboard(page: Any, lab: LabServer) -> None:
    _open_deck(page, lab, BREAKER)
    _run_reference(page)
    # text that continues a slide (no slide type) is shown with it
    _advance_until(page, "The same story in the course's simulation")
    _advance_until(page, "# Ungraded: the cascade")
    # legible from the back: present's fonts, not JupyterLab's 14 px / 13 px
    text_px = page.evaluate(_FONT_PX_JS, ".jp-RenderedMarkdown p")
    code_px = page.evaluate(_FONT_PX_JS, ".cm-content")
    assert text_px >= 20 and code_px >= 18, f"text {text_px} px, code {code_px} px"
    # Shift+Enter runs the cascade and moves on to the text after it: a slide, not a blank
    _run_active(page, "# Ungraded: the cascade")
    page.locator(".jp-OutputArea-output", has_text="all gateway workers busy").wait_for(
        state="attached", timeout=SLOW_MS
    )
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-Cell.jp-deck-mod-visible')]
            .some(c => c.innerText.trim().startsWith('Unprotected, one sick service'))""",
        timeout=SLOW_MS,
    )
    assert page.locator(".jp-Cell.jp-deck-mod-visible").first.is_visible()
    screenshot(page, "present-01-after-cascade")
    assert page.locator(".Toastify__toast").count() == 0  # no "Jupyter news?" over the arrows
    _advance_until(page, "2 · The circuit breaker")  # the arrows still work
    _advance_until(page, "# Ungraded: the reference breaker")
    _run_active(page, "# Ungraded: the reference breaker")  # runs it; the deck moves on
    widget = page.locator(".breaker-widget.m14-widget").first
    widget.wait_for(state="attached", timeout=SLOW_MS)
    page.keyboard.press("ArrowLeft")
    widget.wait_for(state="visible", timeout=SLOW_MS)
    assert widget.get_attribute("data-m14-theme") == "presenter"
    slide = _onscreen(page)
    assert slide[0].startswith("2 · The circuit breaker")

    widget.locator(".breaker-status").click()  # focus the widget: the keys now drive it
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.breaker-widget').getAttribute('data-frame') === '3'",
        timeout=SLOW_MS,
    )
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "() => document.querySelector('.breaker-widget').getAttribute('data-frame') === '2'",
        timeout=SLOW_MS,
    )
    assert _onscreen(page)[0] == slide[0]  # the keys stepped the widget, not the deck
    # legible from the back: the state diagram's labels are at least 14 px on screen
    label_px = page.evaluate(
        """() => Math.min(...[...document.querySelectorAll('.breaker-widget .breaker-arrow-label')]
            .map(e => e.getBoundingClientRect().height))"""
    )
    assert label_px >= 14, f"arrow labels are {label_px:.1f} px high"
    screenshot(page, "present-01-widget-keyboard")
    page.keyboard.press("+")  # zoom in
    page.wait_for_function(
        """() => document.querySelector('.breaker-widget').style
            .getPropertyValue('--m14-zoom') === '1.25'""",
        timeout=SLOW_MS,
    )
    page.keyboard.press("c")  # presenter theme off, then on again
    page.wait_for_selector(".breaker-widget[data-m14-theme='default']", timeout=SLOW_MS)
    page.keyboard.press("c")
    page.wait_for_selector(".breaker-widget[data-m14-theme='presenter']", timeout=SLOW_MS)

    # a click on the slide outside the widget gives the keys back to the deck
    page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell.jp-deck-mod-visible",
        has_text="2 · The circuit breaker",
    ).first.click()
    # → goes from slide to slide and skips sub-slides ...
    seen = _advance_until(page, "Exercise 4")
    assert (
        page.evaluate("() => document.querySelector('.breaker-widget').getAttribute('data-frame')")
        == "2"
    ), "the arrows still stepped the widget"
    assert any(line.startswith("Exercise 3") for line in seen), seen
    assert not any(line.startswith("Watch your own breaker trip") for line in seen), seen
    # ... Space steps through everything, sub-slides too
    _advance_until(page, "Exercise 7")
    _advance_until(page, "Watch your whole breaker", key="Space")
    assert page.m14_errors == []


# --- every widget, presented ----------------------------------------------------------------

#: One slide per course widget (the timeout module has two), built with the reference, as the
#: notebooks build them. ``test_every_widget_is_presented`` fails if a widget module is missing.
PRESENTED_WIDGETS = {
    "breaker": "from course_lib.widgets.breaker_widget import show_breaker\nshow_breaker()",
    "bulkhead": "from course_lib.widgets.bulkhead_widget import show_bulkheads\nshow_bulkheads()",
    "cascade": "from course_lib.widgets.cascade_widget import show_cascade\nshow_cascade()",
    "mesh": "from course_lib.widgets.mesh_widget import show_mesh\nshow_mesh()",
    "retry": "from course_lib.widgets.retry_widget import show_retry_storm\nshow_retry_storm()",
    "runbook": "from course_lib.widgets.runbook_widget import show_incident\nshow_incident()",
    "timeout-latency": """import random
from course_lib.widgets.timeout_widget import show_latencies
rng = random.Random(4)
show_latencies([rng.lognormvariate(-3.2, 0.5) for _ in range(1000)], timeout=0.1)""",
    "timeout-budget": """from course_lib.loopback import ChainRun, Hop
from course_lib.widgets.timeout_widget import show_budget
def run(status, body, budget, worked):
    hops, left = [], budget
    for name, work in zip("ABC", worked):
        spent = min(left, work)
        last = name == "C" or spent >= left
        hops.append(Hop(name, budget_ms=left, worked_ms=spent,
                        forwarded=None if last else str(int(left - spent)),
                        outcome=("done" if spent < left else "stopped") if last else "called on"))
        left -= spent
        if last:
            break
    return ChainRun(status, body, hops)
show_budget([run(504, "C stopped", 150.0, (50, 50, 80)), run(200, "ok", 1000.0, (50, 50, 80))],
            labels=["budget 150 ms", "budget 1 s"])""",
}

#: What a widget shows now: its frame (``data-frame``), or the histogram's timeout (ms).
_SHOWN_JS = """(w) => w.hasAttribute('data-frame') ? Number(w.getAttribute('data-frame'))
    : Number(w.querySelector('.timeout-line').getAttribute('data-timeout-ms'))"""

#: Whether it stands at its last frame (a frame widget whose range input is at its max).
_AT_END_JS = """(w) => { const r = w.querySelector('input[type=range]');
    return w.hasAttribute('data-frame') && r !== null
        && Number(w.getAttribute('data-frame')) >= Number(r.max); }"""

#: The smallest text on screen: the height (px) of the shortest visible leaf holding text.
_SMALLEST_TEXT_JS = """(w) => {
    const sizes = [...w.querySelectorAll('*')]
        .filter(e => e.children.length === 0 && e.textContent.trim() && e.tagName !== 'title')
        .map(e => [e, e.getBoundingClientRect()])
        .filter(([, r]) => r.width > 0 && r.height > 0)
        .map(([e, r]) => [r.height, (e.getAttribute('class') || e.tagName) + ': '
                          + e.textContent.trim().slice(0, 30)]);
    sizes.sort((a, b) => a[0] - b[0]);
    return sizes[0] || [Infinity, ''];
}"""


WIDGETS_DECK = "present-widgets"


def _widgets_notebook(folder: Path) -> None:
    """``folder/NAME.ipynb``: one slide per widget of :data:`PRESENTED_WIDGETS`, after a title."""
    import nbformat

    slide = {"slideshow": {"slide_type": "slide"}}
    cells = [nbformat.v4.new_markdown_cell("# Every widget, presented", metadata=slide)]
    for name, source in PRESENTED_WIDGETS.items():
        cells.append(nbformat.v4.new_code_cell(f"# widget: {name}\n{source}", metadata=slide))
    cells.append(nbformat.v4.new_markdown_cell("# The end", metadata=slide))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{folder.name}.ipynb")


def test_every_widget_is_presented() -> None:
    """Each widget module of course_lib.widgets has a slide in the test below."""
    import pkgutil

    import course_lib.widgets

    modules = {m.name for m in pkgutil.iter_modules(course_lib.widgets.__path__)}
    shown = {
        line.split(" import ")[0].removeprefix("from ").rsplit(".", 1)[1]
        for source in PRESENTED_WIDGETS.values()
        for line in source.splitlines()
        if line.startswith("from course_lib.widgets.")
    }
    assert shown == {m for m in modules if m.endswith("_widget")}


def test_each_widget_steps_with_the_keyboard_at_1280x720(page: Any, lab: LabServer) -> None:
    """Every widget on a slide of its own, presenter theme: focus it, → and ←, a screenshot."""
    _widgets_notebook(lab.root_dir / WIDGETS_DECK)
    _open_deck(page, lab, WIDGETS_DECK)
    # a click on the title slide, as a presenter does: the deck takes the keys
    page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-deck-mod-onscreen"
    ).first.click()
    smallest: dict[str, tuple[float, str]] = {}
    for index, name in enumerate(PRESENTED_WIDGETS):
        prefix = f"# widget: {name}"
        _advance_until(page, prefix)
        _run_active(page, prefix)  # runs it; the deck moves on to the next slide
        cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").nth(index)
        widget = cell.locator(".m14-widget").first
        widget.wait_for(state="attached", timeout=SLOW_MS)
        page.keyboard.press("ArrowLeft")  # back to the widget's slide
        widget.wait_for(state="visible", timeout=SLOW_MS)
        assert widget.get_attribute("data-m14-theme") == "presenter", name

        widget.focus()  # as a click does: the keys now drive the widget
        before = widget.evaluate(_SHOWN_JS)
        first, then = (
            ("ArrowLeft", "ArrowRight")
            if widget.evaluate(_AT_END_JS)
            else (
                "ArrowRight",
                "ArrowLeft",
            )
        )
        page.keyboard.press(first)
        page.wait_for_function(
            f"([w, b]) => ({_SHOWN_JS})(w) {'>' if first == 'ArrowRight' else '<'} b",
            arg=[widget.element_handle(), before],
            timeout=SLOW_MS,
        )
        moved = widget.evaluate(_SHOWN_JS)
        page.keyboard.press(then)
        page.wait_for_function(
            f"([w, m]) => ({_SHOWN_JS})(w) {'<' if then == 'ArrowLeft' else '>'} m",
            arg=[widget.element_handle(), moved],
            timeout=SLOW_MS,
        )
        back = widget.evaluate(_SHOWN_JS)
        if widget.get_attribute("data-frame") is not None:
            assert (moved - before, back) == (1 if first == "ArrowRight" else -1, before), name
        assert _onscreen(page)[0].startswith(prefix), f"{name}: the keys moved the deck"
        smallest[name] = widget.evaluate(_SMALLEST_TEXT_JS)
        screenshot(page, f"present-widget-{name}")
        # the notebook's active cell takes the keys again: → goes on to the next slide
        page.evaluate(
            """() => document.querySelector(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active').focus()"""
        )
        page.keyboard.press("ArrowRight")
    print("smallest text on screen (px):", smallest)
    small = {name: size for name, size in smallest.items() if size[0] < 14}
    assert not small, f"text under 14 px at 1280x720: {small}"
    assert page.m14_errors == []


# --- static decks ---------------------------------------------------------------------------

#: The packages behind nbconvert's CDN URLs, as the npm registry has them.
CDN_PACKAGES = {
    "reveal.js": "reveal.js@4.0.2",
    "requirejs": "requirejs@2.1.10",
    "jquery": "jquery@2.1.0",
    "mathjax": "mathjax@2.7.7",
    "mermaid": "mermaid@11.10.0",
}
CDN_CACHE = ARTIFACTS.parent / "cdn-cache"


@pytest.fixture(scope="module")
def cdn() -> dict[str, Path]:
    """Each CDN package unpacked under ``test-artifacts/cdn-cache/``, fetched once by npm."""
    npm = require_program("npm", install_hint="apt install npm")
    folders: dict[str, Path] = {}
    for name, spec in CDN_PACKAGES.items():
        folder = CDN_CACHE / spec
        if not (folder / "package.json").is_file():
            CDN_CACHE.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as tmp:
                done = subprocess.run(
                    [npm, "pack", spec, "--silent"],
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                assert done.returncode == 0, f"npm pack {spec} failed: {done.stderr[-2000:]}"
                tarball = next(Path(tmp).glob("*.tgz"))
                with tarfile.open(tarball) as archive:
                    archive.extractall(tmp, filter="data")
                if folder.exists():
                    shutil.rmtree(folder)
                shutil.move(str(Path(tmp) / "package"), folder)
        folders[name] = folder
    return folders


def _cdn_file(url: str, cdn: dict[str, Path]) -> Path | None:
    """The local file for one of nbconvert's CDN URLs (``None``: not one of them)."""
    path = url.split("?", 1)[0]
    rules = [
        (r"https://unpkg\.com/reveal\.js@4\.0\.2/(.+)", "reveal.js", None),
        (
            r"https://cdnjs\.cloudflare\.com/ajax/libs/require\.js/2\.1\.10/require\.min\.js",
            "requirejs",
            "require.js",
        ),
        (
            r"https://cdnjs\.cloudflare\.com/ajax/libs/jquery/2\.0\.3/jquery\.min\.js",
            "jquery",
            "dist/jquery.min.js",
        ),
        (r"https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/2\.7\.7/(.+)", "mathjax", None),
        (r"https://cdnjs\.cloudflare\.com/ajax/libs/mermaid/11\.10\.0/(.+)", "mermaid", "dist/"),
    ]
    for pattern, package, fixed in rules:
        match = re.fullmatch(pattern, path)
        if match:
            if fixed and fixed.endswith("/"):  # a folder: the rest of the URL goes below it
                fixed += match.group(1)
            file = cdn[package] / (fixed or match.group(1))
            return file if file.is_file() else None
    return None


def _decks(workdir: Path) -> list[Path]:
    """``jupyter nbconvert --to slides`` of every discovered notebook, and present's decks."""
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent))
    assert jupyter is not None
    decks = []
    for name, assignment in ASSIGNMENTS.items():
        done = subprocess.run(
            [
                jupyter,
                "nbconvert",
                "--to",
                "slides",
                str(assignment.notebook),
                "--output-dir",
                str(workdir / "nbconvert"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"nbconvert --to slides {name} failed:\n{done.stderr}"
        decks.append(workdir / "nbconvert" / f"{name}.slides.html")
        present.build_instructor_version(name, workdir / "presenting")
        decks.append(workdir / "presenting" / name / f"{name}.slides.html")
    return decks


def test_static_decks_open_without_errors(page: Any, cdn: dict[str, Path]) -> None:
    problems: list[str] = []
    page.on(
        "console",
        lambda message: message.type == "error" and problems.append(f"console: {message.text}"),
    )

    def serve(route: Any) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
            return
        if url.startswith("https://fonts.googleapis.com/css?"):
            # reveal.js's "simple" theme imports two web fonts: no package has them, and
            # without them the deck uses the browser's own fonts
            route.fulfill(body="/* web fonts left out by the test */", content_type="text/css")
            return
        local = _cdn_file(url, cdn)
        if local is None:
            problems.append(f"unexpected request: {url}")
            route.abort()
        else:
            route.fulfill(path=str(local))

    page.route("**/*", serve)
    with tempfile.TemporaryDirectory(prefix="m14-decks-") as tmp:
        for deck in _decks(Path(tmp)):
            page.goto(deck.as_uri(), wait_until="load")
            page.wait_for_selector(".reveal.ready", timeout=SLOW_MS)
            slides = page.locator(".reveal .slides > section").count()
            assert slides >= 3, f"{deck.name}: {slides} slide(s)"
            assert page.locator(".reveal .fragment").count() >= 1, f"{deck.name}: no fragment"
            name = deck.name.removesuffix(".slides.html")
            notes = sum(map(is_presenter_note, read_notebook(ASSIGNMENTS[name].notebook).cells))
            assert page.locator(".reveal aside.notes").count() == notes, deck.name
            if "presenting" in str(deck):  # reveal.js loaded: no "needs internet" banner
                assert page.locator(".m14-deck-offline").is_hidden(), deck.name
            first = page.evaluate("() => location.hash")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.wait_for_function("(h) => location.hash !== h", arg=first, timeout=SLOW_MS)
            page.wait_for_timeout(1500)  # let the slide transition end before the picture
            label = "instructor" if "presenting" in str(deck) else "nbconvert"
            screenshot(page, f"present-static-{label}-{deck.stem}")
    assert problems == [], "\n".join(problems)
    assert page.m14_errors == []


@pytest.mark.skipif(BREAKER not in ASSIGNMENTS, reason="01 is not in the course")
def test_static_deck_fails_safe_offline(page: Any) -> None:
    """No CDN: no deck, but neither the notes nor the solutions show; a banner says why."""
    requests: list[str] = []

    def offline(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", offline)
    with tempfile.TemporaryDirectory(prefix="m14-offline-") as tmp:
        present.build_instructor_version(BREAKER, Path(tmp))
        page.goto((Path(tmp) / BREAKER / f"{BREAKER}.slides.html").as_uri(), wait_until="load")
        banner = page.locator(".m14-deck-offline")
        banner.wait_for(state="visible", timeout=SLOW_MS)
        assert "needs internet access" in banner.inner_text()
        shown = page.evaluate("() => document.body.innerText")
        assert "1 · Why: the cascading failure" in shown  # the page itself is there
        assert _first_solution_line(BREAKER) not in shown
        for cell in read_notebook(ASSIGNMENTS[BREAKER].notebook).cells:
            if is_presenter_note(cell):  # its longest run of plain words
                words = max(re.findall(r"[A-Za-z][A-Za-z .,:']{24,}", cell.source), key=len).strip()
                assert words not in shown, words
        screenshot(page, "present-static-offline")
    assert any("reveal.js" in url or "require" in url for url in requests), requests
