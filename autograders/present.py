"""``python -m autograders present``: the instructor version of a notebook, ready to present.

The instructor version of ``NAME`` (``presenting/NAME/NAME.ipynb``, rebuilt on every run)
is the source notebook made for a class:

* each exercise's answer cell holds the course's solution, **collapsed** (its input hidden)
  and tagged :data:`~autograders.presenter.REVEAL_TAG`. It is a slide fragment: in the
  slideshow it appears on a key (``→``/space), one step at a time, and its code opens on a
  click on the collapsed bar or on the key :data:`REVEAL_KEY`. Running it (``Shift+Enter``)
  binds the exercise's names to the solution without showing it;
* a slide after the title holds one cell that runs the reference in place of the students'
  code: :func:`run_reference` runs every cell that *defines* the exercises' names, with the
  solutions, so each widget shows the right behaviour before anyone has written anything;
* test cells keep their visible check only (no hidden test is shown to a class);
* the presenter notes are written, slide by slide, to ``presenting/NAME/NOTES.md`` (for
  the presenter's own screen or paper) and left out of the notebook: jupyterlab-slideshow
  has no speaker view, and a hidden notes cell after a cell breaks its ``Shift+Enter``;
* ``presenting/NAME/NAME.slides.html`` is the same, as a static reveal.js deck for a class
  without a kernel (:func:`static_deck`; the notes are its speaker notes, key ``S``).

``present`` then starts JupyterLab on ``presenting/`` with the notebook open in deck mode
(jupyterlab-slideshow, in the ``course`` extra; it presents the live notebook itself, so
its widgets run on the projector), the widgets in their presenter theme
(``M14_PRESENTER=1``, see :mod:`course_lib.widgets.presenter`) and the repo on the kernel's
``PYTHONPATH``. Its JupyterLab settings live in a temporary folder seeded with a copy of
the instructor's own, with larger fonts (:data:`PRESENTING_FONTS`) and no news pop-up; once
the server is up, ``present`` prints the notebook's own URL (with its token).
``--build-only`` writes the instructor version and stops.
"""

from __future__ import annotations

import argparse
import ast
import copy
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode

from autograders.assignments import NOTEBOOKS, ROOT, discover, nbgrader_metadata
from autograders.presenter import (
    CONTINUE,
    REVEAL_TAG,
    clear_continue,
    is_presenter_note,
    slide_type,
)

__all__ = [
    "PRESENTER_ENV",
    "PRESENTING_FONTS",
    "LAB_SETTINGS",
    "REVEAL_KEY",
    "add_commands",
    "build_instructor_version",
    "instructor_env",
    "instructor_lab_command",
    "notebook_url",
    "notes_by_slide",
    "reference_cells",
    "run",
    "run_reference",
    "solution_source",
    "static_deck",
    "write_lab_settings",
]

#: The environment variable that puts the course's widgets in their presenter theme.
PRESENTER_ENV = "M14_PRESENTER"
#: The key (JupyterLab command mode) that opens the selected collapsed cell.
REVEAL_KEY = "Shift S"
#: The font sizes of the presenting lab, legible from the back of a room at 1280×720
#: (JupyterLab's own: 14 px text, 13 px code and 13 px interface).
PRESENTING_FONTS = {"content-font-size1": "22px", "code-font-size": "19px", "ui-font-size1": "16px"}
#: The JupyterLab settings of the presenting lab: deck mode on at start, the reveal key,
#: larger fonts, and no "Jupyter news?" pop-up (it sits over the deck's arrows).
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "jupyterlab-slideshow/plugin.jupyterlab-settings": {"active": True},
    "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {"overrides": PRESENTING_FONTS},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/shortcuts-extension/shortcuts.jupyterlab-settings": {
        "shortcuts": [
            {
                "command": "notebook:show-cell-code",
                "keys": [REVEAL_KEY],
                "selector": ".jp-Notebook.jp-mod-commandMode :focus",
            }
        ]
    },
}

#: The deck's keys, printed by ``present`` (the README's "For presenters" says the same).
DECK_KEYS = f"""\
deck mode (jupyterlab-slideshow) keys, on the slide (not in a widget):
  Space            next step: every fragment and sub-slide, in order (Shift+Space: back)
  →                next fragment, then the next slide: it SKIPS sub-slides
  ↓ / ↑            into the sub-slides below / back up (← does not work on a sub-slide)
  ←                back
  Ctrl+Enter       run the selected cell in place: the class sees its output
  Shift+Enter      run it and move on to the next step (its output may be off screen)
  click / {REVEAL_KEY.replace(" ", "+")}  open a collapsed solution (Ctrl+Enter runs it closed)
  a widget         click it, then → / ← step, Space play, + / − zoom, C presenter theme off/on
  back to the deck click the slide outside the widget (not Esc: Esc leaves the deck)
  the deck button of the notebook's toolbar (move the mouse to the top edge) leaves and
  re-enters deck mode"""

_SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")

_PRESENTER_CELL = """\
# Presenter: the course's own solution stands in for yours, so every widget on the next
# slides shows the right behaviour before anyone has written a line. (Ctrl+Enter runs it.)
from autograders.present import run_reference

run_reference({name!r}, globals())"""


def solution_source(source: str) -> str:
    """An answer cell's source with the solution in place and the marker lines removed."""
    return "\n".join(
        line for line in source.split("\n") if line.strip() not in _SOLUTION_MARKERS
    ).strip("\n")


def _defines_only(source: str) -> bool:
    """Whether a code cell only defines names (imports, functions, classes, assignments)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    allowed = (
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Assign,
        ast.AnnAssign,
    )
    return bool(tree.body) and all(isinstance(node, allowed) for node in tree.body)


def reference_cells(nb: NotebookNode) -> list[str]:
    """The code that binds an assignment's names to the course's solution, cell by cell.

    In notebook order: every answer cell with its solution, and every other code cell that
    is not a test cell and only defines names (the skeletons the exercises complete, the
    given helpers). Cells that display something are left out: the slides run those.
    """
    sources = []
    for cell in nb.cells:
        if cell.cell_type != "code" or is_presenter_note(cell):
            continue
        meta = nbgrader_metadata(cell)
        if meta.get("solution"):
            sources.append(solution_source(cell.source))
        elif not meta.get("grade") and _defines_only(cell.source):
            sources.append(cell.source)
    return sources


def run_reference(assignment: str, namespace: dict[str, Any], notebooks: Path = NOTEBOOKS) -> None:
    """Run :func:`reference_cells` of ``assignment`` in ``namespace`` (a kernel's globals).

    Prints the names the cells bound, for the class to see.

    Raises:
        ValueError: ``assignment`` is not one of the course's assignments.
    """
    from autograders.notebook_text import read_notebook

    known = {a.name: a for a in discover(notebooks)}
    if assignment not in known:
        raise ValueError(f"unknown assignment {assignment!r}; known: {', '.join(known)}")
    names: set[str] = set()
    for index, source in enumerate(reference_cells(read_notebook(known[assignment].notebook))):
        exec(compile(source, f"<{assignment} reference cell {index}>", "exec"), namespace)  # noqa: S102
        names |= _defined_names(source)
    bound = sorted(name for name in names if not name.startswith("_"))
    print(f"using the course's solution for: {', '.join(bound)}")


def _defined_names(source: str) -> set[str]:
    """The names a cell's top-level functions, classes and assignments bind."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _hide_input(cell: NotebookNode) -> None:
    cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    tags = cell.metadata.setdefault("tags", [])
    if REVEAL_TAG not in tags:
        tags.append(REVEAL_TAG)


def build_instructor_version(assignment: str, outdir: Path, notebooks: Path = NOTEBOOKS) -> Path:
    """Write the instructor version of ``assignment`` to ``outdir/NAME/NAME.ipynb``.

    The folder is replaced if it exists (it is generated: rebuild it rather than edit it).

    Returns:
        The notebook written.

    Raises:
        ValueError: ``assignment`` is not one of the course's assignments.
    """
    from autograders.feedback import strip_hidden_tests
    from autograders.notebook_text import read_notebook, write_notebook

    known = {a.name: a for a in discover(notebooks)}
    if assignment not in known:
        raise ValueError(f"unknown assignment {assignment!r}; known: {', '.join(known) or 'none'}")
    nb = copy.deepcopy(read_notebook(known[assignment].notebook))
    notes = notes_by_slide(nb, assignment)
    for cell in nb.cells:
        meta = nbgrader_metadata(cell)
        if slide_type(cell) == CONTINUE:
            # jupyterlab-slideshow never shows a "-" cell (it knows only a missing type as
            # "continue the slide"); nbconvert reads a missing type as "-", so the static
            # deck is the same
            clear_continue(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            cell.source = solution_source(cell.source)
            _hide_input(cell)
            if slide_type(cell) is None:
                cell.metadata.setdefault("slideshow", {})["slide_type"] = "fragment"
        elif meta.get("grade"):
            cell.source = strip_hidden_tests(cell.source)[0].rstrip("\n")
        cell.outputs, cell.execution_count = [], None
    presenter = nbformat.from_dict(  # type: ignore[no-untyped-call]
        {
            "cell_type": "code",
            "id": "presenter-run-reference",
            "metadata": {"slideshow": {"slide_type": "slide"}, "tags": [REVEAL_TAG]},
            "source": _PRESENTER_CELL.format(name=assignment),
            "outputs": [],
            "execution_count": None,
        }
    )
    folder = outdir / assignment
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "NOTES.md").write_text(notes, encoding="utf-8")
    (folder / f"{assignment}.slides.html").write_text(static_deck(nb, assignment), encoding="utf-8")
    # The notes go to NOTES.md (and the static deck): in deck mode a hidden notes cell
    # swallows the focus when Shift+Enter on the cell before it advances to it.
    nb.cells = [cell for cell in nb.cells if not is_presenter_note(cell)]
    nb.cells.insert(1 if nb.cells else 0, presenter)
    target = folder / f"{assignment}.ipynb"
    target.write_text(write_notebook(nb), encoding="utf-8")
    return target


#: What the static deck adds to nbconvert's page so that it fails safe without reveal.js:
#: the notes never show on the page (reveal.js's speaker view reads them from the DOM),
#: and until reveal.js has started the deck (``.reveal.ready``) the solutions are hidden
#: and, after two seconds, a banner says why the page is not a deck.
_DECK_FAILSAFE_STYLE = f"""<style id="m14-deck-failsafe">
aside.notes {{ display: none !important; }}
.reveal:not(.ready) .celltag_{REVEAL_TAG} {{ display: none !important; }}
.m14-deck-offline {{
  position: sticky; top: 0; z-index: 1000; padding: 16px 24px;
  background: #8b0000; color: #fff; font: 22px/1.4 sans-serif; visibility: hidden;
  animation: m14-deck-offline-show 0s linear 2s forwards;
}}
@keyframes m14-deck-offline-show {{ to {{ visibility: visible; }} }}
body:has(.reveal.ready) .m14-deck-offline {{ display: none; }}
</style>
"""
_DECK_OFFLINE_BANNER = """<div class="m14-deck-offline" role="alert">
<strong>This slide deck needs internet access:</strong> it loads reveal.js, require.js and
jQuery from their CDNs (unpkg.com, cdnjs.cloudflare.com), and they did not load. Presenter
notes and solutions stay hidden. Present from JupyterLab instead:
<code>python -m autograders present {name}</code>.
</div>
"""


def static_deck(nb: NotebookNode, name: str = "NAME") -> str:
    """The instructor version as a static reveal.js deck (``jupyter nbconvert --to slides``).

    For a class without a kernel: each solution is a fragment that appears on a key, open
    (a static page cannot run or expand it), and the presenter notes are reveal.js speaker
    notes (key ``S``). It has no outputs (no table, no widget): it is a fallback.
    reveal.js, require.js and jQuery come from their CDNs, as nbconvert makes the page; if
    they do not load, the page fails safe (:data:`_DECK_FAILSAFE_STYLE`): notes and
    solutions hidden, a banner saying the deck needs internet access.

    Args:
        nb: the instructor version.
        name: the assignment, for the banner's ``present`` command.
    """
    from nbconvert import SlidesExporter

    deck = copy.deepcopy(nb)
    for cell in deck.cells:
        cell.metadata.get("jupyter", {}).pop("source_hidden", None)
    # long slides scroll; no slide animation (a projector redraws slowly); a 16:9 page
    exporter = SlidesExporter(
        reveal_scroll=True, reveal_transition="none", reveal_width="1280", reveal_height="720"
    )
    body, _ = exporter.from_notebook_node(deck)
    page = str(body)
    # the template's </head> and <main> come before any cell's text: the first of each
    for anchor, added in (
        ("</head>", _DECK_FAILSAFE_STYLE + "</head>"),
        ("<main>", "<main>\n" + _DECK_OFFLINE_BANNER.format(name=html.escape(name))),
    ):
        if anchor not in page:
            raise ValueError(f"nbconvert's reveal page has no {anchor}: cannot make it fail safe")
        page = page.replace(anchor, added, 1)
    return page


# --- the command line ----------------------------------------------------------------------


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``present`` and ``slides`` to the command line's sub-commands."""
    p = sub.add_parser(
        "present",
        help="build the instructor version and open its slideshow in JupyterLab",
        description="Write presenting/ASSIGNMENT/ASSIGNMENT.ipynb (every assignment's with "
        "no ASSIGNMENT): solutions collapsed, a click or Shift+S away; a cell that runs the "
        "reference in place of the students' code; the presenter notes in NOTES.md; the "
        "static deck ASSIGNMENT.slides.html. Then start JupyterLab there with ASSIGNMENT "
        "open in deck mode (jupyterlab-slideshow), large fonts, and print the deck's URL. "
        "Extra arguments go to jupyter lab (e.g. --no-browser).",
    )
    p.add_argument("assignment", nargs="?", metavar="ASSIGNMENT")
    p.add_argument(
        "--dir",
        type=Path,
        default=Path("presenting"),
        help="where to write the instructor versions (default: presenting)",
    )
    p.add_argument(
        "--build-only", action="store_true", help="write the instructor version(s); start nothing"
    )

    p = sub.add_parser(
        "slides",
        help="give every cell slide metadata from the notebook's structure",
        description="Each cell without metadata.slideshow.slide_type gets one: a # or ## "
        "heading starts a slide, ### a sub-slide, answer/test/code cells are fragments, "
        "other Markdown continues the slide (no slide type; an old '-' is removed: "
        "jupyterlab-slideshow never shows such a cell). The .ipynb and its .md text are both "
        "rewritten (run sync first if they disagree). --check writes nothing and exits 1 "
        "if a notebook's slide metadata is missing or wrong.",
    )
    p.add_argument("targets", nargs="*", metavar="NAME", help="assignments (default: every one)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 on a problem")
    p.add_argument(
        "--force", action="store_true", help="recompute every slide type (notes are kept)"
    )


def instructor_lab_command(
    jupyter: str, folder: Path, assignment: str | None, extra: Sequence[str] = ()
) -> list[str]:
    """The ``jupyter lab`` command line serving ``folder``, with ``assignment`` open."""
    command = [jupyter, "lab", f"--ServerApp.root_dir={folder}"]
    if assignment:
        command.append(str(folder / assignment / f"{assignment}.ipynb"))
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        command.append("--allow-root")
    command.extend(extra)
    return command


def write_lab_settings(settings_dir: Path, own: Path | None = None) -> Path:
    """The presenting lab's settings folder: a copy of ``own`` plus :data:`LAB_SETTINGS`.

    Args:
        settings_dir: the folder to write (made if missing).
        own: the instructor's own JupyterLab settings folder, copied first if it exists.
            Their shortcuts are kept and the reveal key added to them; their theme
            overrides are kept but for the font sizes.

    Returns:
        ``settings_dir``.
    """
    import json5  # comes with jupyterlab_server; settings files are JSON5

    if own is not None and own.is_dir():
        shutil.copytree(own, settings_dir, dirs_exist_ok=True)
    for relative, values in LAB_SETTINGS.items():
        path = settings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        current: dict[str, Any] = {}
        if path.is_file():
            try:
                loaded = json5.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                loaded = None
            current = loaded if isinstance(loaded, dict) else {}
        for key, value in values.items():
            if isinstance(value, list) and isinstance(current.get(key), list):
                current[key] = [*current[key], *value]
            elif isinstance(value, dict) and isinstance(current.get(key), dict):
                current[key] = {**current[key], **value}
            else:
                current[key] = value
        path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    return settings_dir


def notes_by_slide(nb: NotebookNode, assignment: str) -> str:
    """The presenter notes of a notebook as Markdown, each under its slide's heading."""
    from autograders.presenter import is_presenter_note

    lines = [f"# Presenter notes: {assignment}", ""]
    heading = "(title)"
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not is_presenter_note(cell):
            first = next((ln for ln in cell.source.split("\n") if ln.strip()), "")
            if first.startswith("#"):
                heading = first.lstrip("#").strip()
        elif is_presenter_note(cell):
            lines += [f"## {heading}", "", cell.source.strip(), ""]
    return "\n".join(lines)


def instructor_env(base: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the presenting JupyterLab and its kernels."""
    env = dict(os.environ if base is None else base)
    env[PRESENTER_ENV] = "1"
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(ROOT) not in paths:
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *paths])
    return env


def _slides(args: argparse.Namespace, notebooks: Path) -> int:
    from autograders.notebook_text import read_notebook
    from autograders.presenter import add_slide_metadata, slide_problems

    known = {a.name: a for a in discover(notebooks)}
    unknown = [t for t in args.targets if t not in known]
    if unknown:
        print(
            f"error: unknown assignment(s) {', '.join(unknown)}; known: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    bad = 0
    for name in args.targets or list(known):
        notebook = known[name].notebook
        if args.check:
            problems = slide_problems(read_notebook(notebook))
            bad += bool(problems)
            print(f"{name}: " + ("slide metadata OK" if not problems else "PROBLEMS"))
            for problem in problems:
                print(f"  {problem}")
            continue
        try:
            result = add_slide_metadata(notebook, force=args.force)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        kinds = ", ".join(f"{i}:{k}" for i, k in result.added) or "nothing to add"
        print(f"{name}: {len(result.added)} slide type(s) set ({kinds})")
        problems = slide_problems(read_notebook(notebook))
        for problem in problems:
            print(f"  still wrong: {problem}")
        bad += bool(problems)
    return 1 if bad else 0


def _present(args: argparse.Namespace, extra: Sequence[str], notebooks: Path) -> int:
    known = [a.name for a in discover(notebooks)]
    if args.assignment and args.assignment not in known:
        print(
            f"error: unknown assignment {args.assignment!r}; known: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    jupyter = shutil.which(
        "jupyter",
        path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    if jupyter is None and not args.build_only:
        print("error: jupyter is not installed; pip install -e '.[course]' first", file=sys.stderr)
        return 2
    refused = _refused_lab_arguments(jupyter, extra)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    for name in [args.assignment] if args.assignment else known:
        path = build_instructor_version(name, args.dir, notebooks)
        print(f"instructor version of {name} -> {path}")
    if args.build_only:
        return 0
    assert jupyter is not None
    print(DECK_KEYS)
    print(f"Presenter notes: {args.dir / (args.assignment or 'NAME') / 'NOTES.md'}")
    sys.stdout.flush()
    from jupyter_core.paths import jupyter_runtime_dir
    from jupyterlab.commands import get_user_settings_dir

    with tempfile.TemporaryDirectory(prefix="m14-present-") as tmp:
        settings = write_lab_settings(Path(tmp) / "settings", Path(get_user_settings_dir()))
        env = instructor_env()
        env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
        folder = args.dir.resolve()
        process = subprocess.Popen(
            instructor_lab_command(jupyter, folder, args.assignment, extra), env=env
        )
        try:
            info = _server_of(process, Path(jupyter_runtime_dir()))
            if info is not None:
                print(f"the deck: {notebook_url(info, args.assignment)}")
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:  # JupyterLab got it too, and decides
                continue


#: How long ``present`` waits for JupyterLab to say where it serves, to print the deck's URL.
SERVER_INFO_WAIT = 120.0


def _server_of(process: Any, runtime_dir: Path) -> dict[str, Any] | None:
    """The running server's info (``jpserver-PID.json``) once JupyterLab has written it.

    ``jupyter lab`` execs the server (POSIX), so the server's pid is the process's.
    ``None`` if the process ends first or :data:`SERVER_INFO_WAIT` passes.
    """
    import time

    from jupyter_server.serverapp import list_running_servers

    deadline = time.monotonic() + SERVER_INFO_WAIT
    while time.monotonic() < deadline and process.poll() is None:
        for info in list_running_servers(str(runtime_dir)):
            if info.get("pid") == process.pid:
                return dict(info)
        time.sleep(0.5)
    return None


def notebook_url(info: Mapping[str, Any], assignment: str | None) -> str:
    """The URL of ``assignment``'s instructor notebook (or of the lab) on a running server.

    Args:
        info: the server's info, as ``jupyter server list --json`` gives it (``url``,
            ``token``).
        assignment: the notebook open in the deck; ``None``: the lab itself.
    """
    from urllib.parse import quote

    base = str(info["url"]).rstrip("/")
    path = f"/lab/tree/{quote(assignment)}/{quote(assignment)}.ipynb" if assignment else "/lab"
    token = str(info.get("token") or "")
    return base + path + (f"?token={token}" if token else "")


def _refused_lab_arguments(jupyter: str | None, extra: Sequence[str]) -> str:
    """Why ``jupyter lab`` would refuse the extra arguments (``""``: it takes them).

    Asked before anything is written: ``jupyter lab EXTRA --show-config`` parses them and
    starts nothing (``present 01-circuit-breaker --check``, meant for ``slides``, would
    otherwise build the instructor version and only then fail inside JupyterLab).
    """
    if not extra:
        return ""
    if jupyter is None:
        return f"extra arguments {' '.join(extra)} go to jupyter lab, which is not installed"
    done = subprocess.run(
        [jupyter, "lab", *extra, "--show-config"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode == 0:
        return ""
    lines = (done.stderr or done.stdout).strip().splitlines()
    why = lines[-1] if lines else f"exit status {done.returncode}"
    return f"jupyter lab refuses {' '.join(extra)} (present passes extra arguments to it): {why}"


def run(args: argparse.Namespace, extra: Sequence[str], notebooks: Path) -> int:
    """Run ``present`` or ``slides`` (parsed by :func:`add_commands`); return the exit code."""
    if args.command == "slides":
        if extra:
            print(f"error: unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
            return 2
        return _slides(args, notebooks)
    return _present(args, extra, notebooks)
