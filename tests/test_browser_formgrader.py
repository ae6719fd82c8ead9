"""Formgrader works from the gradebook ``python -m autograders grade --db`` writes.

A course directory (``submitted/STUDENT/99-fixture/``, a ``timestamp.txt`` for some) is graded
with ``python -m autograders grade --db sqlite:///COURSE/gradebook.db``; then nbgrader's
Formgrader (its Jupyter server extension, on 127.0.0.1) is driven in headless Chromium:

* Manage Submissions lists every submission as autograded ("graded", not "needs
  autograding"), with its score;
* a submission's page shows the autograded notebook, its scores, and the plain-words message
  as the comment Formgrader offers (``auto_comment``);
* a manual grade typed into Formgrader survives a second ``grade`` run that changes the
  automatic score under it, and that run prints the notice.

Screenshots go to ``test-artifacts/browser/formgrader-*.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser_lab import ARTIFACTS, chromium_page
from conftest import require_program
from servers import free_port

from autograders.gradebook import open_gradebook
from autograders.release import release
from autograders.submissions import solution_notebook

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
A = "99-fixture"
CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def grade(course: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            sys.executable, "-m", "autograders", "--notebooks", str(course / "source"),
            "grade", str(course / "submitted"), "--db", f"sqlite:///{course / 'gradebook.db'}",
            "--out", str(course / "graded"), "--no-progress",
        ],
        cwd=course, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@contextmanager
def formgrader(course: Path, workdir: Path) -> Iterator[str]:
    """``jupyter server`` at the course root with nbgrader's Formgrader; yields its base URL."""
    port = free_port()
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR"):
        (workdir / name).mkdir(parents=True, exist_ok=True)
        env[name] = str(workdir / name)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT)
    command = [
        str(Path(sys.executable).with_name("jupyter")), "server", "--no-browser",
        "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        "--IdentityProvider.token=", "--ServerApp.password=",
        f"--ServerApp.root_dir={course}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        command, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # waiting for start-up, not a timing assertion
            assert server.poll() is None, (workdir / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/formgrader/api/assignments", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def loaded(page: Any) -> None:
    """Wait until Formgrader has loaded the submission's grades into its score fields."""
    page.wait_for_function(
        "() => { const e = document.querySelector('input.score#scale-tests');"
        " return e !== null && e.getAttribute('placeholder') !== null; }"
    )


def _with_answer(nb: nbformat.NotebookNode, grade_id: str, source: str) -> nbformat.NotebookNode:
    changed = nbformat.from_dict(nb)
    for cell in changed.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return changed


def test_formgrader_reviews_and_keeps_manual_grades(tmp_path: Path) -> None:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    require_program("chromium", path=CHROMIUM, install_hint="apt-get install chromium")
    course = tmp_path / "course"
    shutil.copytree(FIXTURES / A, course / "source" / A)
    (course / "exchange").mkdir()
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(ROOT / 'autograders' / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        'c.CourseDirectory.source_directory = "source"\n'
        f"c.Exchange.root = {str(course / 'exchange')!r}\n",
        encoding="utf-8",
    )
    release(tmp_path / "release", notebooks=FIXTURES)
    blank = nbformat.read(tmp_path / "release" / A / f"{A}.ipynb", as_version=4)
    solution = solution_notebook(nbformat.read(FIXTURES / A / f"{A}.ipynb", as_version=4), blank)
    partly = _with_answer(solution, "scale-answer", "def scale(values, factor):\n    return values")
    books = {"alice": solution, "bob": blank, "carol": partly}
    for student, nb in books.items():
        folder = course / "submitted" / student / A
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{A}.ipynb")
        if student != "bob":
            (folder / "timestamp.txt").write_text("2026-01-10 11:00:00.000000 UTC\n")
    grade(course)
    with open_gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        ids = {s: gb.find_submission_notebook(A, A, s).id for s in books}

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (
        formgrader(course, tmp_path / "jupyter") as base,
        chromium_page(CHROMIUM, tmp_path / "chromium") as page,
    ):
        page.goto(f"{base}/formgrader/manage_submissions/{A}")
        page.wait_for_selector("td.status span")
        page.screenshot(path=str(ARTIFACTS / "formgrader-submissions.png"), full_page=True)
        rows = page.evaluate(
            """() => [...document.querySelectorAll('tbody tr')].map(tr => [
                tr.querySelector('.student-id').textContent.trim(),
                tr.querySelector('.status').textContent.trim(),
                tr.querySelector('.score').textContent.trim()])"""
        )
        assert sorted(rows) == [
            ["alice", "graded", "5 / 5"],
            ["bob", "graded", "0 / 5"],
            ["carol", "graded", "2 / 5"],
        ]

        page.goto(f"{base}/formgrader/submissions/{ids['carol']}/")
        loaded(page)
        page.screenshot(path=str(ARTIFACTS / "formgrader-carol.png"), full_page=True)
        # Formgrader shows the automatic score as the placeholder, a manual one as the value
        assert page.get_attribute("input.score#scale-tests", "placeholder") == "0"
        assert page.get_attribute("input.score#add-tests", "placeholder") == "2"
        assert page.input_value("input.score#scale-tests") == ""
        offered = page.get_attribute("textarea#scale-answer-comment", "placeholder") or ""
        assert "scale([1, 2], 3) should be [3, 6]" in offered
        shown = page.inner_text("body")  # her autograded answer, and the test's verdict
        assert "def scale(values, factor):\n    return values" in shown

        # the instructor gives carol 1.5 of 3 for her scale exercise, by hand
        page.fill("input.score#scale-tests", "1.5")
        page.press("input.score#scale-tests", "Enter")
        page.locator("textarea#add-answer-comment").click()  # leave the field: Formgrader saves
        with open_gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            deadline = time.monotonic() + 30
            while gb.find_grade("scale-tests", A, A, "carol").manual_score is None:
                assert time.monotonic() < deadline, "Formgrader did not save the manual grade"
                time.sleep(0.5)
                gb.db.expire_all()
            assert gb.find_grade("scale-tests", A, A, "carol").manual_score == 1.5

        # carol resubmits a notebook whose scale passes: her automatic score changes under it
        nbformat.write(solution, course / "submitted" / "carol" / A / f"{A}.ipynb")
        (course / "submitted" / "carol" / A / "timestamp.txt").write_text(
            "2026-01-10 11:30:00.000000 UTC\n"
        )
        second = grade(course)
        assert (
            "NOTICE: carol/99-fixture scale-tests: the automatic score changed from 0 to 3; the "
            "manual score 1.5 is kept (flagged for review)" in second.stderr
        )
        assert "alice" in second.stdout and "unchanged" in second.stdout

        page.goto(f"{base}/formgrader/submissions/{ids['carol']}/")
        loaded(page)
        page.screenshot(path=str(ARTIFACTS / "formgrader-carol-regraded.png"), full_page=True)
        assert page.input_value("input.score#scale-tests") == "1.5"  # the manual grade stays
        assert page.get_attribute("input.score#scale-tests", "placeholder") == "3"
        page.goto(f"{base}/formgrader/manage_submissions/{A}")
        page.wait_for_selector("td.status span")
        status = page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('tbody tr')].map(tr => [
                tr.querySelector('.student-id').textContent.trim(),
                tr.querySelector('.status').textContent.trim()]))"""
        )
        assert status == {"alice": "graded", "bob": "graded", "carol": "needs manual grading"}
    api = json.loads((course / "graded" / "grading-state.json").read_text())
    assert sorted(api) == ["alice/99-fixture", "bob/99-fixture", "carol/99-fixture"]
