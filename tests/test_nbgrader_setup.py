"""The course's nbgrader set-up, checked with plain nbgrader (its CLI, run from the repo root).

For the fixture assignment and every real assignment in ``notebooks/`` (all of them in one
course, each nbgrader command run once for all): the root ``nbgrader_config.py`` is picked
up, ``generate_assignment`` puts the course's stub in and copies nothing secret, the solution
autogrades to full marks and the blank to zero, a deleted test cell comes back (fixture), and
``generate_feedback`` shows no hidden-test line. Plus: Formgrader loads in a server
started at the repo root. Every test here runs nbgrader or Jupyter, so all are ``slow``.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from conftest import BIN, FIXTURES, ROOT, STUB_MESSAGE
from nbgrader.api import Gradebook
from servers import free_port

from autograders.assignments import NOTEBOOKS, discover, nbgrader_metadata
from autograders.release import secret_lines
from autograders.submissions import solution_notebook

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    return env


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run plain ``nbgrader`` from the repo root (so the root config loads) on ``course``."""
    done = subprocess.run(
        [str(BIN / "nbgrader"), *args, "--course-dir", str(course)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _submit(course: Path, student: str, assignment: str, nb: nbformat.NotebookNode) -> None:
    path = course / "submitted" / student / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)


def make_course(
    course: Path, notebooks: Path, names: list[str]
) -> dict[str, nbformat.NotebookNode]:
    """Copy ``names`` in, release them all with one ``nbgrader generate_assignment``.

    Returns each assignment's solution (its student version with the solutions filled in), and
    submits it as student ``solution``, and the student version as student ``blank``.
    """
    for name in names:
        shutil.copytree(notebooks / name, course / "notebooks" / name)
    nbgrader(course, "generate_assignment", names[0] if len(names) == 1 else "*")
    solutions = {}
    for name in names:
        blank = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
        source = nbformat.read(course / "notebooks" / name / f"{name}.ipynb", as_version=4)
        solutions[name] = solution_notebook(source, blank)
        _submit(course, "solution", name, solutions[name])
        _submit(course, "blank", name, blank)
    return solutions


def grade_course(course: Path, names: list[str]) -> None:
    """``nbgrader autograde`` then ``generate_feedback``, once for every assignment."""
    pattern = names[0] if len(names) == 1 else "*"
    nbgrader(course, "autograde", pattern)
    nbgrader(course, "generate_feedback", pattern)


def check_assignment(course: Path, name: str, students: int) -> None:
    """The stub is in, nothing secret is released, full marks and zero, feedback hides tests."""
    released = course / "release" / name / f"{name}.ipynb"
    assert STUB_MESSAGE in released.read_text(encoding="utf-8"), "the course's stub is not in use"
    for path in (course / "release" / name).rglob("*"):  # e.g. the text twin NAME.md
        text = path.read_bytes().decode("utf-8", errors="replace") if path.is_file() else ""
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, path.name
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        full = gb.find_assignment(name).max_score
        assert full > 0
        assert gb.find_submission(name, "solution").score == full
        assert gb.find_submission(name, "blank").score == 0
    hidden = secret_lines(course / "notebooks" / name / f"{name}.ipynb", hidden_only=True)
    assert hidden, "the source notebook has no hidden tests to check against"
    pages = sorted((course / "feedback").glob(f"*/{name}/*.html"))
    assert len(pages) == students
    for page in pages:
        plain = html.unescape(page.read_text(encoding="utf-8"))
        leaked = sorted(line for line in hidden if line in plain)
        assert not leaked, f"{page.relative_to(course)} shows hidden tests: {leaked}"
        assert "HIDDEN TESTS" not in plain


def test_plain_nbgrader_pipeline_on_the_fixture(tmp_path: Path) -> None:
    course, assignment = tmp_path / "course", "99-fixture"
    solution = make_course(course, FIXTURES / "notebooks", [assignment])[assignment]
    sneaky = nbformat.from_dict(solution)
    for cell in sneaky.cells:
        if nbgrader_metadata(cell).get("grade_id") == "scale-answer":
            cell.source = (
                "def scale(values, factor):\n"
                "    values[:] = [v * factor for v in values]\n"
                "    return values"
            )
    _submit(course, "sneaky", assignment, sneaky)
    deleter = nbformat.from_dict(solution)
    deleter.cells = [
        c for c in deleter.cells if nbgrader_metadata(c).get("grade_id") != "add-tests"
    ]
    for cell in deleter.cells:
        if nbgrader_metadata(cell).get("grade_id") == "add-answer":
            cell.source = "def add(a, b):\n    return 0"
    _submit(course, "deleter", assignment, deleter)

    grade_course(course, [assignment])
    check_assignment(course, assignment, students=4)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, "sneaky")
        assert {g.name: g.score for g in nb.grades} == {"add-tests": 2, "scale-tests": 0}
        # the deleted test cell is put back (OverwriteCells.add_missing_cells) and fails
        nb = gb.find_submission_notebook(assignment, assignment, "deleter")
        assert {g.name: g.score for g in nb.grades} == {"add-tests": 0, "scale-tests": 3}
    sneaky_page = (course / "feedback" / "sneaky" / assignment / f"{assignment}.html").read_text()
    assert "AssertionError" in sneaky_page  # the student still learns the test failed
    assert "scale must not change its input list" in sneaky_page  # ... and its message


@pytest.fixture(scope="module")
def course_of_every_assignment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every discovered assignment in one course, each nbgrader step run once for all."""
    names = [a.name for a in discover()]
    if not names:
        pytest.skip("no assignment in notebooks/ yet")
    course = tmp_path_factory.mktemp("plain") / "course"
    make_course(course, NOTEBOOKS, names)
    grade_course(course, names)
    return course


@pytest.mark.parametrize("assignment", [a.name for a in discover()])
def test_plain_nbgrader_pipeline(course_of_every_assignment: Path, assignment: str) -> None:
    check_assignment(course_of_every_assignment, assignment, students=2)


def test_formgrader_extension_is_enabled() -> None:
    done = subprocess.run(
        [str(BIN / "jupyter"), "server", "extension", "list"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    listing = done.stdout + done.stderr
    line = next(
        (x for x in listing.splitlines() if "nbgrader.server_extensions.formgrader" in x), ""
    )
    assert "enabled" in line, listing


def test_formgrader_page_is_served_at_repo_root(tmp_path: Path) -> None:
    port, token = free_port(), "m14-test-token"
    command = [
        str(BIN / "jupyter"),
        "server",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={ROOT}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = _env()
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        response = None
        with httpx.Client(follow_redirects=True, timeout=10) as client:
            for _ in range(240):  # wait for the server to come up (not a timing assertion)
                if server.poll() is not None:
                    break
                try:
                    response = client.get(f"http://127.0.0.1:{port}/formgrader?token={token}")
                    break
                except httpx.TransportError:
                    time.sleep(0.5)
        log.flush()
        assert response is not None, (tmp_path / "server.log").read_text()
        assert response.status_code == 200, (tmp_path / "server.log").read_text()
        assert "/formgrader" in response.url.path
        assert "nbgrader" in response.text.lower()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
