"""Presenting in a real JupyterLab and in Chromium, at a projector's 1280×720.

* **Deck mode** (jupyterlab-slideshow) on the instructor versions of 01 and 07, built by
  ``python -m autograders present`` and served with its settings (deck mode on at start,
  the reveal key) and its environment (the widgets' presenter theme): the test advances
  the slides, runs the reference in place of the students' code, reveals one solution
  (01 with the key, 07 with a click) while the next stays collapsed, and on 01 steps the
  breaker widget forward and back with the keyboard while the slide stays put.
* **Static decks**: ``jupyter nbconvert --to slides`` of every discovered notebook (and the
  instructor's deck ``present`` writes) opens in Chromium without a page error or a console
  error, and the arrow key moves through its slides. nbconvert's decks load reveal.js,
  require.js, jQuery and MathJax from CDNs; this machine reaches only package registries,
  so the test serves those URLs from the same packages fetched from the npm registry
  (``npm pack``; jQuery 2.0.3 is not on npm, 2.1.0 stands in for it; Mermaid draws the
  diagrams; the theme's two Google web fonts get an empty stylesheet), cached in
  ``test-artifacts/cdn-cache/``. Any other request fails the test.

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
DIAGRAM = "07-state-diagram-challenge"
ASSIGNMENTS = {a.name: a for a in discover()}
PRESENTED = [name for name in (BREAKER, DIAGRAM) if name in ASSIGNMENTS]
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


def _advance_until(page: Any, wanted: str) -> list[str]:
    """Press → until a shown cell starts with ``wanted``; return the slides' first lines."""
    seen: list[str] = []
    for _ in range(MAX_STEPS):
        onscreen = _onscreen(page)
        if onscreen and (not seen or seen[-1] != onscreen[0][:40]):
            seen.append(onscreen[0][:40])
        if any(text.startswith(wanted) for text in _visible(page)):
            return seen
        page.keyboard.press("ArrowRight")
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


def _run_active(page: Any, prefix: str) -> None:
    """Shift+Enter once the deck has made the cell starting with ``prefix`` the active one."""
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
    page.keyboard.press("Shift+Enter")


def _run_reference(page: Any) -> None:
    """→ to the presenter's slide, Shift+Enter: the course's solution stands in for the class."""
    _advance_until(page, "# Presenter")
    _run_active(page, "# Presenter")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-OutputArea-output')]
            .some(e => e.textContent.includes("using the course's solution for:"))""",
        timeout=SLOW_MS,
    )


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


@pytest.mark.skipif(BREAKER not in ASSIGNMENTS, reason="01 is not in the course")
def test_deck_widget_steps_with_the_keyboard(page: Any, lab: LabServer) -> None:
    _open_deck(page, lab, BREAKER)
    _run_reference(page)
    _advance_until(page, "2 · The circuit breaker")
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
    page.keyboard.press("c")  # contrast theme off, then on again
    page.wait_for_selector(".breaker-widget[data-m14-theme='default']", timeout=SLOW_MS)
    page.keyboard.press("c")
    page.wait_for_selector(".breaker-widget[data-m14-theme='presenter']", timeout=SLOW_MS)
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
            first = page.evaluate("() => location.hash")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.wait_for_function("(h) => location.hash !== h", arg=first, timeout=SLOW_MS)
            page.wait_for_timeout(1500)  # let the slide transition end before the picture
            label = "instructor" if "presenting" in str(deck) else "nbconvert"
            screenshot(page, f"present-static-{label}-{deck.stem}")
    assert problems == [], "\n".join(problems)
    assert page.m14_errors == []
