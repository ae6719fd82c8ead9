"""What a presenter has and a student never gets: presenter notes, reveal cells, slide metadata.

One place for three ideas shared by the release, the feedback, ``present`` and ``slides``:

* **Presenter notes** live in the instructor's source notebook: a cell whose
  ``metadata.slideshow.slide_type`` is ``"notes"`` (RISE shows it in its speaker view, key
  ``T``; ``nbconvert --to slides`` puts it in reveal.js's notes), or any cell tagged
  :data:`NOTES_TAG`. They hold timing, questions to ask and the misconceptions met in
  grading; :func:`presenter_note_problems` says what a notebook's notes lack (a plan, a
  note after each exercise).
* **Reveal cells** exist only in the instructor version built by ``python -m autograders
  present``: an exercise's solution, collapsed, tagged :data:`REVEAL_TAG`.
* **Slide metadata** (``metadata.slideshow.slide_type``) is part of every source notebook:
  one idea a slide, exercises as fragments. A cell that continues the slide above has *no*
  slide type: that is how JupyterLab writes "-", how nbconvert's reveal.js decks and RISE
  read a missing type, and the only form jupyterlab-slideshow (0.3.4) shows at all (it
  hides a cell whose type is the string ``"-"``). :func:`default_slide_type` says what a
  cell gets; :func:`slide_problems` says what is missing or wrong.

:func:`strip_presenter_cells` removes notes and reveal cells from a notebook; the release
(:mod:`autograders.release`) and nbgrader's own ``generate_assignment`` and
``generate_feedback`` (through :class:`StripPresenterCells`, configured in
``autograders/nbgrader_config.py``) call it, so neither reaches a student.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from traitlets import Bool

from autograders.assignments import nbgrader_metadata

__all__ = [
    "CONTINUE",
    "NOTES_TAG",
    "PLAN_MINUTES",
    "REVEAL_TAG",
    "SLIDE_TYPES",
    "SlideResult",
    "StripPresenterCells",
    "add_slide_metadata",
    "clear_continue",
    "default_slide_type",
    "is_presenter_cell",
    "is_presenter_note",
    "is_reveal_cell",
    "presenter_lines",
    "presenter_note_problems",
    "slide_problems",
    "slide_type",
    "strip_presenter_cells",
]

#: The tag of a presenter-note cell (a cell with ``slide_type: notes`` is one too).
NOTES_TAG = "presenter-notes"
#: The tag of a reveal cell (an exercise's collapsed solution in the instructor version).
REVEAL_TAG = "presenter-reveal"
#: The slide types a source notebook may give a cell (none at all: continue the slide).
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes")
#: The old spelling of "continue the slide"; jupyterlab-slideshow never shows such a cell.
CONTINUE = "-"

_HEADING = re.compile(r"^(#{1,6})\s")
#: A timing in a plan, ``m:ss`` (``2:30``: two and a half minutes).
_TIMING = re.compile(r"\b(\d{1,2}):([0-5]\d)\b")
#: How long the plan of a walkthrough may take, in minutes: about ten.
PLAN_MINUTES = (8.0, 12.0)


def _metadata(cell: Any) -> Mapping[str, Any]:
    metadata = cell.get("metadata") if isinstance(cell, Mapping) else None
    return metadata if isinstance(metadata, Mapping) else {}


def _tags(cell: Any) -> list[str]:
    tags = _metadata(cell).get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def slide_type(cell: Any) -> str | None:
    """The cell's ``metadata.slideshow.slide_type``, or ``None`` when it has none."""
    slideshow = _metadata(cell).get("slideshow")
    kind = slideshow.get("slide_type") if isinstance(slideshow, Mapping) else None
    return kind if isinstance(kind, str) else None


def is_presenter_note(cell: Any) -> bool:
    """A presenter note: ``slide_type`` ``"notes"`` or the tag :data:`NOTES_TAG`."""
    return slide_type(cell) == "notes" or NOTES_TAG in _tags(cell)


def is_reveal_cell(cell: Any) -> bool:
    """A reveal cell of the instructor version (tag :data:`REVEAL_TAG`)."""
    return REVEAL_TAG in _tags(cell)


def is_presenter_cell(cell: Any) -> bool:
    """A cell no student may see: a presenter note or a reveal cell."""
    return is_presenter_note(cell) or is_reveal_cell(cell)


def strip_presenter_cells(nb: NotebookNode) -> int:
    """Remove every presenter note and reveal cell from ``nb`` (in place).

    Returns:
        How many cells were removed.
    """
    kept = [cell for cell in nb.cells if not is_presenter_cell(cell)]
    removed = len(nb.cells) - len(kept)
    nb.cells = kept
    return removed


class StripPresenterCells(Preprocessor):  # type: ignore[misc]
    """nbconvert/nbgrader preprocessor: drop presenter notes and reveal cells.

    Listed first in ``GenerateAssignment.preprocessors`` and
    ``GenerateFeedback.preprocessors`` (``autograders/nbgrader_config.py``), so plain
    ``nbgrader generate_assignment`` and ``generate_feedback`` never show them either.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Remove the presenter cells; the other cells are left as they are."""
        strip_presenter_cells(nb)
        return nb, resources


def presenter_lines(nb: NotebookNode) -> set[str]:
    """Lines of the presenter cells a student version must never contain (for leak tests).

    Lines are stripped; short lines (four characters or fewer) and lines that also appear
    in a cell a student may see are left out.
    """
    secret: set[str] = set()
    public: set[str] = set()
    for cell in nb.cells:
        target = secret if is_presenter_cell(cell) else public
        target.update(line.strip() for line in str(cell.source).split("\n"))
    return {line for line in secret - public if len(line) > 4}


def presenter_note_problems(nb: Any) -> list[str]:
    """What is missing or misplaced in a notebook's presenter notes (empty: nothing).

    ``nb`` is a notebook (a ``NotebookNode`` or its plain JSON). The notes a presenter needs:

    * every note is a Markdown cell without nbgrader metadata;
    * the first note comes before the first exercise and is the plan of a walkthrough of
      about ten minutes: a paragraph with the word "Plan" whose timings (``m:ss``; those in
      parentheses break a step down and are not added again) add up to :data:`PLAN_MINUTES`;
    * every exercise (an answer cell) has a note after its test cell and before the next
      exercise's answer cell: its timing, a question to ask, the mistakes met in grading;
    * no note stands between an answer cell and its test cell.
    """
    cells = list(nb["cells"]) if isinstance(nb, Mapping) else list(nb.cells)
    notes = [i for i, cell in enumerate(cells) if is_presenter_note(cell)]
    answers = [i for i, cell in enumerate(cells) if nbgrader_metadata(cell).get("solution")]
    problems = [
        f"cell {i}: a presenter note must be a Markdown cell without nbgrader metadata"
        for i in notes
        if cells[i].get("cell_type") != "markdown" or nbgrader_metadata(cells[i])
    ]
    if not notes:
        return [*problems, "no presenter note (a Markdown cell of slide_type notes)"]
    plan = notes[0]
    if answers and plan > answers[0]:
        problems.append(f"cell {plan}: the first presenter note (the plan) comes after exercise 1")
    source = str(cells[plan].get("source", ""))
    paragraph = next((p for p in source.split("\n\n") if "plan" in p.lower()), "")
    breakdown = re.sub(r"\([^)]*\)", "", paragraph)  # "2:00 (3 0:45, 4 0:30...)": 2:00 counts
    minutes = sum(int(m) + int(s) / 60 for m, s in _TIMING.findall(breakdown))
    low, high = PLAN_MINUTES
    if not paragraph or not low <= minutes <= high:
        problems.append(
            f"cell {plan}: the first presenter note must be the plan: the word 'Plan' and "
            f"timings (m:ss) adding up to {low:g} to {high:g} minutes (found {minutes:g})"
        )
    for k, answer in enumerate(answers):
        end = answers[k + 1] if k + 1 < len(answers) else len(cells)
        label = f"answer cell {answer} ({nbgrader_metadata(cells[answer]).get('grade_id')})"
        test = next(
            (j for j in range(answer + 1, end) if nbgrader_metadata(cells[j]).get("grade")), None
        )
        if test is None:
            continue  # an answer without a test cell is a structure problem, not a note's
        if any(answer < j < test for j in notes):
            problems.append(f"{label}: a presenter note stands between it and its test cell")
        if not any(test < j < end for j in notes):
            problems.append(f"{label}: no presenter note after its test cell")
    return problems


# --- slide metadata --------------------------------------------------------------------


def _heading_level(source: str) -> int:
    """The level of the Markdown heading the cell starts with (0: none)."""
    for line in source.split("\n"):
        if line.strip():
            match = _HEADING.match(line)
            return len(match.group(1)) if match else 0
    return 0


def default_slide_type(cell: Any, index: int) -> str | None:
    """The slide type a cell gets from the notebook's structure.

    * the first cell, and a Markdown cell starting with a ``#`` or ``##`` heading: ``slide``
      (one idea a slide: a section or an exercise);
    * a Markdown cell starting with a ``###`` (or deeper) heading: ``subslide``;
    * an exercise's answer cell and its test cell (nbgrader ``solution`` or ``grade``), and
      every other code cell: ``fragment`` (they appear one at a time, on a key);
    * any other Markdown cell: ``None``, no slide type (it continues the slide above).
    """
    if index == 0:
        return "slide"
    cell_type = cell.get("cell_type") if isinstance(cell, Mapping) else None
    if cell_type == "markdown":
        level = _heading_level(str(cell.get("source", "")))
        if level in (1, 2):
            return "slide"
        if level >= 3:
            return "subslide"
        return None
    return "fragment"


def slide_problems(nb: NotebookNode) -> list[str]:
    """What is missing or wrong in a notebook's slide metadata (empty: nothing).

    Every cell has a known ``slide_type``, except a Markdown cell that continues the slide
    above (no heading): it has none, and never ``"-"``; the first cell starts a slide; every
    answer and test cell is a ``fragment`` (or a ``slide``/``subslide`` of its own); no
    answer or test cell is skipped or hidden in the notes; the notebook has at least two
    slides.
    """
    problems: list[str] = []
    slides = 0
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_metadata(cell)
        label = f"cell {index}" + (f" ({meta['grade_id']})" if meta.get("grade_id") else "")
        kind = slide_type(cell)
        if kind == CONTINUE:
            problems.append(
                f"{label}: slide_type '-' (jupyterlab-slideshow never shows the cell): a "
                "cell with no slide type continues the slide (`slides` removes the '-')"
            )
            continue
        if kind is None:
            if default_slide_type(cell, index) is not None:
                problems.append(f"{label}: no slide metadata (metadata.slideshow.slide_type)")
            continue
        if kind not in SLIDE_TYPES:
            problems.append(f"{label}: unknown slide_type {kind!r}; known: {SLIDE_TYPES}")
            continue
        slides += kind == "slide"
        if index == 0 and kind != "slide":
            problems.append(f"{label}: the first cell must start a slide, not {kind!r}")
        exercise = bool(meta.get("solution") or meta.get("grade"))
        if exercise and kind not in ("fragment", "slide", "subslide"):
            problems.append(f"{label}: an exercise cell must be a fragment, not {kind!r}")
    if nb.cells and slides < 2:
        problems.append(f"only {slides} slide(s): start each section and exercise on a slide")
    return problems


@dataclass(frozen=True)
class SlideResult:
    """What :func:`add_slide_metadata` did to one notebook.

    Attributes:
        notebook: the ``.ipynb`` file.
        added: ``(cell index, slide type)`` of every cell whose slide type changed;
            ``"continue"`` for a cell whose ``"-"`` (or other type, with ``force``) was
            removed because it continues the slide.
        wrote: whether the notebook and its text twin were rewritten.
    """

    notebook: Path
    added: tuple[tuple[int, str], ...]
    wrote: bool


def clear_continue(cell: Any) -> bool:
    """Remove ``cell``'s slide type (and an emptied ``slideshow``); whether it had one."""
    metadata = cell.get("metadata")
    slideshow = metadata.get("slideshow") if isinstance(metadata, dict) else None
    if not isinstance(slideshow, dict) or "slide_type" not in slideshow:
        return False
    del slideshow["slide_type"]
    if not slideshow:
        del metadata["slideshow"]
    return True


def _with_defaults(nb: NotebookNode, force: bool) -> list[tuple[int, str]]:
    added = []
    for index, cell in enumerate(nb.cells):
        current = slide_type(cell)
        if current == CONTINUE:  # the old spelling: continue the slide with no type
            clear_continue(cell)
            added.append((index, "continue"))
            continue
        if current is not None and not force:
            continue
        if force and is_presenter_note(cell):
            continue  # a note stays a note
        kind = default_slide_type(cell, index)
        if current == kind:
            continue
        if kind is None:
            clear_continue(cell)
            added.append((index, "continue"))
        else:
            cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
            added.append((index, kind))
    return added


def add_slide_metadata(notebook: Path, *, force: bool = False, check: bool = False) -> SlideResult:
    """Give every cell of ``notebook`` that has none the slide type of its structure.

    A ``"-"`` is removed (a cell with no slide type continues the slide). The ``.ipynb`` and
    its MyST text twin must agree first (``python -m autograders sync``); both are
    rewritten, so they still agree after. Slide types already set are kept (``force``
    recomputes them all, presenter notes excepted).

    Args:
        notebook: the source ``.ipynb``.
        force: replace existing slide types with the defaults.
        check: write nothing; only report what would be added.

    Returns:
        What was (or would be) added.

    Raises:
        ValueError: the pair disagrees (the message says to run ``sync`` first).
    """
    from autograders.notebook_text import (
        differences,
        notebook_to_text,
        read_notebook,
        write_notebook,
    )

    text = notebook.with_suffix(".md")
    if text.is_file():
        problems = differences(notebook, text)
        if problems:
            raise ValueError(
                f"{notebook.name} and {text.name} disagree ({problems[0]}): run "
                f"python -m autograders sync {notebook.stem} first"
            )
    nb = read_notebook(notebook)
    added = _with_defaults(nb, force)
    if check or not added:
        return SlideResult(notebook, tuple(added), False)
    notebook.write_text(write_notebook(nb), encoding="utf-8")
    if text.is_file():
        text.write_text(notebook_to_text(nb), encoding="utf-8")
    return SlideResult(notebook, tuple(added), True)


def count_slides(cells: Iterable[Any]) -> int:
    """How many slides (``slide`` cells) a notebook's cells make."""
    return sum(slide_type(cell) == "slide" for cell in cells)
