"""The course's nbgrader set-up, checked with plain nbgrader (its CLI, run from the repo root).

For the fixture assignment and every real assignment in ``notebooks/``: the root
``nbgrader_config.py`` is picked up, ``generate_assignment`` puts the course's stub in, the
solution autogrades to full marks and the blank to zero, a deleted test cell comes back,
and ``generate_feedback`` shows no hidden-test line. Plus: Formgrader loads in a server
started at the repo root. Every test here runs nbgrader or Jupyter, so all are ``slow``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from conftest import BIN, FIXTURES, ROOT, STUB_MESSAGE
from nbgrader.api import Gradebook

from autograders.assignments import discover, nbgrader_metadata
from autograders.release import secret_lines
from autograders.submissions import solution_notebook

pytestmark = pytest.mark.slow

CASES = [pytest.param(FIXTURES / "notebooks", "99-fixture", id="fixture")] + [
    pytest.param(a.folder.parent, a.name, id=a.name) for a in discover()
]


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


@pytest.mark.parametrize(("notebooks", "assignment"), CASES)
def test_plain_nbgrader_pipeline(tmp_path: Path, notebooks: Path, assignment: str) -> None:
    course = tmp_path / "course"
    shutil.copytree(notebooks / assignment, course / "notebooks" / assignment)
    nbgrader(course, "generate_assignment", assignment)
    released = course / "release" / assignment / f"{assignment}.ipynb"
    blank = nbformat.read(released, as_version=4)
    assert STUB_MESSAGE in released.read_text(encoding="utf-8"), "the course's stub is not in use"
    for path in (course / "release" / assignment).rglob("*"):  # e.g. the text twin NAME.md
        text = path.read_bytes().decode("utf-8", errors="replace") if path.is_file() else ""
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, path.name

    source = course / "notebooks" / assignment / f"{assignment}.ipynb"
    solution = solution_notebook(nbformat.read(source, as_version=4), blank)
    _submit(course, "solution", assignment, solution)
    _submit(course, "blank", assignment, blank)
    if assignment == "99-fixture":
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

    nbgrader(course, "autograde", assignment)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        full = gb.find_assignment(assignment).max_score
        assert full > 0
        assert gb.find_submission(assignment, "solution").score == full
        assert gb.find_submission(assignment, "blank").score == 0
        if assignment == "99-fixture":
            nb = gb.find_submission_notebook(assignment, assignment, "sneaky")
            assert {g.name: g.score for g in nb.grades} == {"add-tests": 2, "scale-tests": 0}
            # the deleted test cell is put back (OverwriteCells.add_missing_cells) and fails
            nb = gb.find_submission_notebook(assignment, assignment, "deleter")
            assert {g.name: g.score for g in nb.grades} == {"add-tests": 0, "scale-tests": 3}

    nbgrader(course, "generate_feedback", assignment)
    hidden = secret_lines(source, hidden_only=True)
    assert hidden, "the source notebook has no hidden tests to check against"
    pages = sorted((course / "feedback").rglob("*.html"))
    assert len(pages) == (4 if assignment == "99-fixture" else 2)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        import html

        plain = html.unescape(text)
        leaked = sorted(line for line in hidden if line in plain)
        assert not leaked, f"{page.relative_to(course)} shows hidden tests: {leaked}"
        assert "HIDDEN TESTS" not in plain
    if assignment == "99-fixture":
        sneaky_page = (
            course / "feedback" / "sneaky" / assignment / f"{assignment}.html"
        ).read_text()
        assert "AssertionError" in sneaky_page  # the student still learns the test failed
        assert "scale must not change its input list" in sneaky_page  # ... and its message


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port, token = _free_port(), "m14-test-token"
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
