"""Presenting the notebooks: slide metadata, presenter notes, reveal cells, ``present``.

* every discovered notebook carries slide metadata on every cell (``python -m autograders
  slides --check``; nothing is tolerated: ``slides`` writes the defaults);
* presenter notes and reveal cells never reach a student: the release (ours and plain
  nbgrader's, through the course config) and the feedback drop them;
* ``present`` builds an instructor version in which every solution is collapsed and tagged,
  no hidden test is shown, the notes are in ``NOTES.md``, and a cell runs the reference;
* ``present`` starts JupyterLab with deck mode on, the reveal key and the presenter theme.

The browser side (deck mode, a reveal, the widget's keys, the static decks) is in
``tests/test_browser_present.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import FIXTURES as ALL_FIXTURES
from traitlets.config.loader import PyFileConfigLoader

from autograders import cli, present
from autograders.assignments import ROOT, Assignment, discover, nbgrader_metadata
from autograders.notebook_text import differences, read_notebook
from autograders.presenter import (
    NOTES_TAG,
    REVEAL_TAG,
    StripPresenterCells,
    add_slide_metadata,
    default_slide_type,
    is_presenter_cell,
    is_presenter_note,
    presenter_lines,
    presenter_note_problems,
    slide_problems,
    slide_type,
    strip_presenter_cells,
)
from autograders.release import release

FIXTURE = ALL_FIXTURES / "notebooks" / "99-fixture" / "99-fixture.ipynb"
ASSIGNMENTS = discover()


def _md(source: str, **meta: Any) -> Any:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata.update(meta)
    return cell


def _code(source: str, **meta: Any) -> Any:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.update(meta)
    return cell


# --- slide metadata ----------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_every_notebook_has_slide_metadata(assignment: Assignment) -> None:
    """One idea a slide, exercises as fragments: every cell, no exception."""
    assert slide_problems(read_notebook(assignment.notebook)) == [], (
        f"run: python -m autograders slides {assignment.name}"
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_notebooks_have_presenter_notes(assignment: Assignment) -> None:
    """Every notebook carries notes for the presenter: a plan of about ten minutes before the
    first exercise, then a note after each exercise's test cell (markdown, no nbgrader)."""
    nb = read_notebook(assignment.notebook)
    assert presenter_note_problems(nb) == []
    notes = [c for c in nb.cells if is_presenter_note(c)]
    assert len(notes) > len(assignment.answer_cells)  # the plan, and one per exercise at least


def test_presenter_note_problems_name_each_problem() -> None:
    notes = {"slideshow": {"slide_type": "notes"}}
    answer = {"nbgrader": {"grade_id": "a-answer", "solution": True}}
    test = {"nbgrader": {"grade_id": "a-tests", "grade": True, "points": 1}}
    nb = nbformat.v4.new_notebook()
    assert presenter_note_problems(nb) == [
        "no presenter note (a Markdown cell of slide_type notes)"
    ]
    nb.cells = [
        _md("# Title"),
        _code("a = 1", **answer),
        _md("Plan: title 0:30 · exercise 2:00.", **notes),  # late, and 2.5 minutes only
        _code("check(a)", **test),
        _code("print('a note in code')", tags=[NOTES_TAG]),
        _code("b = 1", nbgrader={"grade_id": "b-answer", "solution": True}),
        _code("check(b)", nbgrader={"grade_id": "b-tests", "grade": True, "points": 1}),
        _md("no note follows", nbgrader={"grade_id": "words", "locked": True}),
    ]
    assert presenter_note_problems(nb) == [
        "cell 4: a presenter note must be a Markdown cell without nbgrader metadata",
        "cell 2: the first presenter note (the plan) comes after exercise 1",
        "cell 2: the first presenter note must be the plan: the word 'Plan' and timings "
        "(m:ss) adding up to 8 to 12 minutes (found 2.5)",
        "answer cell 1 (a-answer): a presenter note stands between it and its test cell",
        "answer cell 5 (b-answer): no presenter note after its test cell",
    ]
    nb.cells[2].source = "Plan: title 0:30 · the idea 4:00 · exercise 4:00 · recap 1:30."
    nb.cells.insert(1, nb.cells.pop(2))  # the plan before exercise 1
    nb.cells[4] = _md("Notes: exercise 1. Ask: why 0.0?", **notes)
    nb.cells.append(_md("Notes: exercise 2.", **notes))
    assert presenter_note_problems(nb) == []
    # a step broken down in parentheses counts once; a second paragraph is no part of the plan
    nb.cells[1].source = (
        "Plan: title 0:30 · the idea 4:00 · exercises 4:00 (1 2:00, 2 2:00) · recap 1:30.\n\n"
        "A 5-minute session: title 0:30, the idea 4:30."
    )
    assert presenter_note_problems(nb) == []


def test_new_assignment_has_presenter_notes(tmp_path: Path) -> None:
    """The skeleton of ``python -m autograders new`` passes the notes test as it is."""
    from autograders.scaffold import new_assignment

    new_assignment("08-bulkhead", notebooks=tmp_path / "nb", submissions=tmp_path / "known")
    (made,) = discover(tmp_path / "nb")
    assert presenter_note_problems(read_notebook(made.notebook)) == []
    assert presenter_note_problems(made.read()) == []


def test_slide_problems_name_each_problem() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _md("# Title", slideshow={"slide_type": "fragment"}),
        _code("x = 1"),
        _code("y = 2", slideshow={"slide_type": "sideways"}),
        _code(
            "answer",
            slideshow={"slide_type": "skip"},
            nbgrader={"grade_id": "a-answer", "solution": True},
        ),
        _md("Text that continues the slide"),  # no slide type: right
        _md("More text", slideshow={"slide_type": "-"}),  # the old spelling: never shown
        _md("## A heading with no slide type"),
    ]
    assert slide_problems(nb) == [
        "cell 0: the first cell must start a slide, not 'fragment'",
        "cell 1: no slide metadata (metadata.slideshow.slide_type)",
        "cell 2: unknown slide_type 'sideways'; known: "
        "('slide', 'subslide', 'fragment', 'skip', 'notes')",
        "cell 3 (a-answer): an exercise cell must be a fragment, not 'skip'",
        "cell 5: slide_type '-' (jupyterlab-slideshow never shows the cell): a cell with no "
        "slide type continues the slide (`slides` removes the '-')",
        "cell 6: no slide metadata (metadata.slideshow.slide_type)",
        "only 0 slide(s): start each section and exercise on a slide",
    ]


def test_default_slide_types_follow_the_structure() -> None:
    cells = [
        _md("Intro without heading"),
        _md("## Exercise 1 · something"),
        _md("### A sub-part"),
        _md("\n\nPlain text"),
        _code("x = 1"),
    ]
    assert [default_slide_type(c, i) for i, c in enumerate(cells)] == [
        "slide",
        "slide",
        "subslide",
        None,  # continues the slide: no slide type (jupyterlab-slideshow hides a "-")
        "fragment",
    ]


def _fixture_with_text(tmp_path: Path, slide_type: str | None = None) -> Path:
    """The fixture with a Markdown cell 2 that continues a slide (``slide_type``: its type).

    With a ``slide_type``, every other cell has its default slide type already.
    """
    from autograders.notebook_text import sync, write_notebook

    nb = read_notebook(FIXTURE)
    for index, cell in enumerate(nb.cells if slide_type is not None else []):
        cell.metadata["slideshow"] = {"slide_type": default_slide_type(cell, index)}
    text = _md("Plain text that continues the slide above.")
    text["id"] = "continues"
    if slide_type is not None:
        text.metadata["slideshow"] = {"slide_type": slide_type}
    nb.cells.insert(2, text)
    notebook = tmp_path / "99-fixture.ipynb"
    notebook.write_text(write_notebook(nb), encoding="utf-8")
    sync(notebook, to="text")
    return notebook


def test_slides_tool_adds_defaults_to_both_twins(tmp_path: Path) -> None:
    notebook = _fixture_with_text(tmp_path)
    first = add_slide_metadata(notebook)
    nb = read_notebook(notebook)
    typed = [i for i, c in enumerate(nb.cells) if default_slide_type(c, i) is not None]
    assert first.wrote and [i for i, _ in first.added] == typed
    assert len(typed) < len(nb.cells)  # the fixture has text that continues a slide
    assert differences(notebook, notebook.with_suffix(".md")) == []
    assert [slide_type(c) for c in nb.cells] == [
        default_slide_type(c, i) for i, c in enumerate(nb.cells)
    ]
    assert slide_problems(nb) == []
    for cell in nb.cells:
        if nbgrader_metadata(cell).get("solution") or nbgrader_metadata(cell).get("grade"):
            assert slide_type(cell) == "fragment"
    again = add_slide_metadata(notebook)
    assert again.added == () and not again.wrote  # idempotent: existing types are kept


def test_slides_tool_removes_the_old_continue(tmp_path: Path) -> None:
    """A "-" (jupyterlab-slideshow never shows the cell) goes; the cell continues the slide."""
    notebook = _fixture_with_text(tmp_path, "-")
    assert "cell 2: slide_type '-'" in slide_problems(read_notebook(notebook))[0]
    result = add_slide_metadata(notebook)
    assert result.added == ((2, "continue"),) and result.wrote
    assert "slideshow" not in read_notebook(notebook).cells[2].metadata
    assert differences(notebook, notebook.with_suffix(".md")) == []
    assert slide_problems(read_notebook(notebook)) == []


def test_slides_tool_refuses_a_pair_out_of_step(tmp_path: Path) -> None:
    from autograders.notebook_text import sync

    notebook = tmp_path / "99-fixture.ipynb"
    shutil.copyfile(FIXTURE, notebook)
    sync(notebook, to="text")
    text = notebook.with_suffix(".md")
    text.write_text(text.read_text(encoding="utf-8") + "\nA new paragraph.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="disagree.*python -m autograders sync 99-fixture"):
        add_slide_metadata(notebook)


def test_slides_check_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["slides", "--check"]) == 0
    out = capsys.readouterr().out
    for assignment in ASSIGNMENTS:
        assert f"{assignment.name}: slide metadata OK" in out
    assert cli.main(["slides", "--check", "nope"]) == 2
    assert "unknown assignment(s) nope" in capsys.readouterr().err


# --- presenter notes and reveal cells never reach a student -----------------------------------


def _with_presenter_cells(source: Path) -> Any:
    nb = read_notebook(source)
    nb.cells.insert(
        1, _md("Presenter: ask about the zero-size window here.", slideshow={"slide_type": "notes"})
    )
    nb.cells.insert(2, _md("Tagged note: the timing is two minutes.", tags=[NOTES_TAG]))
    nb.cells.insert(3, _code("print('the revealed solution line')", tags=[REVEAL_TAG]))
    for index, cell in enumerate(nb.cells):
        cell.setdefault("id", f"cell-{index}")
    return nb


def test_strip_presenter_cells() -> None:
    nb = _with_presenter_cells(FIXTURE)
    before = len(nb.cells)
    lines = presenter_lines(nb)
    assert {
        "Presenter: ask about the zero-size window here.",
        "Tagged note: the timing is two minutes.",
        "print('the revealed solution line')",
    } <= lines
    assert strip_presenter_cells(nb) == 3
    assert len(nb.cells) == before - 3 and not any(is_presenter_cell(c) for c in nb.cells)


def test_nbgrader_config_strips_presenter_cells_first() -> None:
    """Plain nbgrader (generate_assignment, generate_feedback) drops them before anything."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.GenerateAssignment.preprocessors[0] is StripPresenterCells
    assert config.GenerateFeedback.preprocessors[0] is StripPresenterCells
    nb = _with_presenter_cells(FIXTURE)
    out, _ = StripPresenterCells()(nb, {})
    assert not any(is_presenter_cell(c) for c in out.cells)


@pytest.mark.slow  # nbgrader generate_assignment
def test_release_drops_presenter_cells(tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    (notebooks / "99-fixture").mkdir(parents=True)
    nb = _with_presenter_cells(FIXTURE)
    nbformat.write(nb, notebooks / "99-fixture" / "99-fixture.ipynb")
    out = tmp_path / "out"
    assert release(out, notebooks=notebooks) == ["99-fixture"]
    released = out / "99-fixture" / "99-fixture.ipynb"
    text = released.read_text(encoding="utf-8")
    for line in presenter_lines(nb):
        assert line not in text
    assert not any(is_presenter_cell(c) for c in read_notebook(released).cells)


# --- the instructor version ---------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_instructor_version(assignment: Assignment, tmp_path: Path) -> None:
    source = read_notebook(assignment.notebook)
    built = present.build_instructor_version(assignment.name, tmp_path)
    assert built == tmp_path / assignment.name / f"{assignment.name}.ipynb"
    nb = read_notebook(built)
    nbformat.validate(nb)
    text = built.read_text(encoding="utf-8")
    assert "BEGIN HIDDEN TESTS" not in text and "autograders.graders" not in text
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    answers = [c for c in nb.cells if nbgrader_metadata(c).get("solution")]
    assert len(answers) == len(assignment.answer_cells)
    for cell, original in zip(answers, assignment.answer_cells, strict=True):
        assert cell.metadata["jupyter"]["source_hidden"] is True
        assert REVEAL_TAG in cell.metadata["tags"]
        assert slide_type(cell) == "fragment"
        assert cell.source == present.solution_source(original.source)
    assert not any(is_presenter_note(c) for c in nb.cells)
    # jupyterlab-slideshow shows no "-" cell: text continuing a slide has no slide type
    assert all(slide_type(c) != "-" for c in nb.cells)
    first_reveal = nb.cells[1]
    assert slide_type(first_reveal) == "slide" and REVEAL_TAG in first_reveal.metadata["tags"]
    assert f"run_reference({assignment.name!r}, globals())" in first_reveal.source
    notes = (tmp_path / assignment.name / "NOTES.md").read_text(encoding="utf-8")
    for cell in source.cells:
        if is_presenter_note(cell):
            assert cell.source.strip() in notes
    deck = (tmp_path / assignment.name / f"{assignment.name}.slides.html").read_text("utf-8")
    assert "BEGIN HIDDEN TESTS" not in deck and "autograders.graders" not in deck
    assert deck.count('<aside class="notes">') == sum(map(is_presenter_note, source.cells))
    # it fails safe without its CDNs: notes hidden, solutions hidden, a banner
    assert 'id="m14-deck-failsafe"' in deck.split("</head>")[0]
    assert "This slide deck needs internet access" in deck


def test_static_deck_reads_no_slide_type_as_continue() -> None:
    """``present`` drops the "-" of a cell: nbconvert's deck is the same without it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _md("# Title", slideshow={"slide_type": "slide"}),
        _md("Text on the title slide", slideshow={"slide_type": "-"}),
        _code("x = 1", slideshow={"slide_type": "fragment"}),
        _md("More text", slideshow={"slide_type": "-"}),
        _md("## Next", slideshow={"slide_type": "slide"}),
    ]
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"
    with_dash = present.static_deck(nb)
    for cell in nb.cells[1:4:2]:
        del cell.metadata["slideshow"]
    assert present.static_deck(nb) == with_dash


def test_run_reference_binds_the_solution_for_the_widgets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from course_lib.widgets.breaker_widget import compare_breakers

    namespace: dict[str, Any] = {}
    present.run_reference("01-circuit-breaker", namespace)
    said = capsys.readouterr().out
    assert said.startswith("using the course's solution for: MyBreaker, RollingWindow, call,")
    widget = compare_breakers(namespace["MyBreaker"])
    assert widget.errors == ["", ""] and widget.divergence is None
    assert namespace["should_trip"](5, 10, 0.5, 10) is True
    with pytest.raises(ValueError, match="unknown assignment 'nope'"):
        present.run_reference("nope", {})


def test_reference_cells_leave_display_cells_out() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _code("from x import y\nshow(DIAGRAM)"),  # displays: left out
        _code("HELPER = 3\n\ndef f():\n    return HELPER"),  # defines only: kept
        _code(
            "A = 1\n### BEGIN SOLUTION\nA = 2\n### END SOLUTION",
            nbgrader={"solution": True, "grade_id": "a"},
        ),
        _code("check(A)", nbgrader={"grade": True, "grade_id": "t", "points": 1}),
    ]
    assert present.reference_cells(nb) == [
        "HELPER = 3\n\ndef f():\n    return HELPER",
        "A = 1\nA = 2",
    ]


# --- the command --------------------------------------------------------------------------


def test_present_starts_lab_in_deck_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))

    class FakeLab:
        pid = os.getpid()  # a live process, as list_running_servers checks

        def __init__(self, command: list[str], env: dict[str, str]) -> None:
            settings = Path(env["JUPYTERLAB_SETTINGS_DIR"])
            seen["command"] = command
            seen["env"] = env
            seen["deck"] = json.loads(
                (settings / "jupyterlab-slideshow" / "plugin.jupyterlab-settings").read_text()
            )
            apputils = settings / "@jupyterlab" / "apputils-extension"
            seen["themes"] = json.loads((apputils / "themes.jupyterlab-settings").read_text())
            seen["notification"] = json.loads(
                (apputils / "notification.jupyterlab-settings").read_text()
            )
            # what the server writes once it is up (jupyter lab execs it: the same pid)
            info = {"pid": self.pid, "url": "http://localhost:8899/", "token": "abc123"}
            (runtime / f"jpserver-{self.pid}.json").write_text(json.dumps(info))

            seen["shortcuts"] = json.loads(
                (
                    settings
                    / "@jupyterlab"
                    / "shortcuts-extension"
                    / "shortcuts.jupyterlab-settings"
                ).read_text()
            )

        def poll(self) -> int | None:
            return None

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(subprocess, "Popen", FakeLab)
    # (the check that jupyter lab takes the extra arguments runs it: tested on its own below)
    monkeypatch.setattr(present, "_refused_lab_arguments", lambda jupyter, extra: "")
    own = tmp_path / "own-settings" / "@jupyterlab" / "shortcuts-extension"
    own.mkdir(parents=True)
    mine = {"command": "notebook:run-all-cells", "keys": ["Ctrl Shift R"], "selector": "body"}
    (own / "shortcuts.jupyterlab-settings").write_text(
        "// my own\n" + json.dumps({"shortcuts": [mine]})
    )
    own_theme = tmp_path / "own-settings" / "@jupyterlab" / "apputils-extension"
    own_theme.mkdir(parents=True)
    (own_theme / "themes.jupyterlab-settings").write_text(
        json.dumps({"theme": "JupyterLab Light", "overrides": {"code-font-family": "Fira Code"}})
    )
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path / "own-settings"))
    folder = tmp_path / "presenting"
    code = cli.main(["present", "01-circuit-breaker", "--dir", str(folder), "--no-browser"])
    assert code == 0
    out = capsys.readouterr().out
    built = [line for line in out.splitlines() if line.startswith("instructor version of")]
    assert len(built) == 1 and "of 01-circuit-breaker ->" in built[0]  # the one asked for
    assert [p.name for p in folder.iterdir()] == ["01-circuit-breaker"]
    url = "http://localhost:8899/lab/tree/01-circuit-breaker/01-circuit-breaker.ipynb?token=abc123"
    assert f"the deck: {url}" in out.splitlines()
    assert "C presenter theme off/on" in out and "Ctrl+Enter" in out
    command = seen["command"]
    assert command[1:3] == ["lab", f"--ServerApp.root_dir={folder.resolve()}"]
    assert str(folder.resolve() / "01-circuit-breaker" / "01-circuit-breaker.ipynb") in command
    assert "--no-browser" in command
    assert seen["env"][present.PRESENTER_ENV] == "1"
    assert str(ROOT) in seen["env"]["PYTHONPATH"].split(":")
    assert seen["deck"] == {"active": True}
    # legible fonts for the room; the instructor's other theme settings kept
    assert seen["themes"] == {
        "theme": "JupyterLab Light",
        "overrides": {"code-font-family": "Fira Code", **present.PRESENTING_FONTS},
    }
    assert all(int(size.removesuffix("px")) >= 16 for size in present.PRESENTING_FONTS.values())
    assert seen["notification"]["fetchNews"] == "false"  # no news pop-up over the deck
    keys = seen["shortcuts"]["shortcuts"]
    assert mine in keys  # the instructor's own shortcuts are kept
    assert {
        "command": "notebook:show-cell-code",
        "keys": [present.REVEAL_KEY],
        "selector": ".jp-Notebook.jp-mod-commandMode :focus",
    } in keys


def test_present_unknown_assignment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["present", "nope", "--dir", str(tmp_path), "--build-only"]) == 2
    assert "unknown assignment 'nope'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_present_refuses_what_jupyter_lab_would_before_writing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--check`` belongs to ``slides``: present says so and writes nothing."""
    out = tmp_path / "presenting"
    assert cli.main(["present", "01-circuit-breaker", "--dir", str(out), "--check"]) == 2
    err = capsys.readouterr().err
    assert "jupyter lab refuses --check" in err and "argument --check" in err  # lab's own words
    assert not out.exists()


def test_widget_theme_follows_the_presenter_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lib.widgets.breaker_widget import show_breaker

    monkeypatch.delenv(present.PRESENTER_ENV, raising=False)
    assert show_breaker().theme == "default"
    monkeypatch.setenv(present.PRESENTER_ENV, "1")
    widget = show_breaker()
    assert widget.theme == "presenter" and widget.zoom == 1.0
    assert "presenterControls" in widget._esm and "m14-widget" in widget._css
