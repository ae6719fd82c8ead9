"""``python -m autograders grade``: a batch on the fixture assignment, end to end.

One batch (two workers, sandboxed) of a correct, a blank, a partly wrong, a broken (invalid
JSON) submission and one for an unknown assignment: the batch completes, shows progress,
prints the table, lists what could not be graded, writes the gradebook, a ``grades.csv``
identical to ``nbgrader export``'s, and feedback pages without hidden tests. The batch runs
notebooks in kernels: the tests reading it are ``slow``.
"""

from __future__ import annotations

import csv
import html
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import require_program

from autograders import cli
from autograders.gradebook import CSV_COLUMNS
from autograders.release import release, secret_lines
from autograders.submissions import solution_notebook

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
A = "99-fixture"
SOURCE = FIXTURES / A / f"{A}.ipynb"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autograders", "--notebooks", str(FIXTURES), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def batch(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    tmp = tmp_path_factory.mktemp("grade")
    release(tmp / "release", notebooks=FIXTURES)
    blank = nbformat.read(tmp / "release" / A / f"{A}.ipynb", as_version=4)
    solution = solution_notebook(nbformat.read(SOURCE, as_version=4), blank)
    carol = nbformat.from_dict(solution)
    for cell in carol.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "scale-answer":
            cell.source = (
                "def scale(values, factor):\n"
                "    values[:] = [v * factor for v in values]\n"
                "    return values"
            )
    subs = tmp / "submitted"
    for student, nb in (("alice", solution), ("bob", blank), ("carol", carol)):
        (subs / student / A).mkdir(parents=True)
        nbformat.write(nb, subs / student / A / f"{A}.ipynb")
    (subs / "dave" / A).mkdir(parents=True)
    (subs / "dave" / A / f"{A}.ipynb").write_text('{"cells": [', encoding="utf-8")
    (subs / "erin" / "00-nope").mkdir(parents=True)
    nbformat.write(blank, subs / "erin" / "00-nope" / "00-nope.ipynb")
    repo_gradebook = (ROOT / "gradebook.db").exists()
    out = tmp / "out"
    done = run("grade", str(subs), "--out", str(out), "--jobs", "2")
    assert (ROOT / "gradebook.db").exists() == repo_gradebook, "the repo's gradebook was touched"
    return subs, out, done


@pytest.mark.slow
def test_batch_completes_and_reports(
    batch: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    _, _, done = batch
    assert done.returncode == 0, done.stderr
    # tqdm progress on stderr: erin's notebook is refused before grading, dave's by the engine
    assert "grading: 100%" in done.stderr and "4/4" in done.stderr
    rows = {
        line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[1:] if line.strip()
    }
    assert rows["alice"] == [A, "5", "5"]
    assert rows["bob"] == [A, "0", "5"]
    assert rows["carol"] == [A, "2", "5"]
    assert rows["dave"] == [A, "-", "-", "NOT", "GRADED"]
    assert "2 submission(s) could NOT be graded" in done.stderr
    assert f"dave/{A}/{A}.ipynb: " in done.stderr and "JSON" in done.stderr
    assert "erin/00-nope/00-nope.ipynb: unknown assignment '00-nope'" in done.stderr


@pytest.mark.slow
def test_csv_is_exactly_nbgrader_export(
    batch: tuple[Path, Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    _, out, _ = batch
    ours = (out / "grades.csv").read_text(encoding="utf-8")
    assert ours.splitlines()[0] == ",".join(CSV_COLUMNS)
    theirs = tmp_path / "export.csv"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "nbgrader"),
            "export",
            "--db",
            f"sqlite:///{out / 'gradebook.db'}",
            "--to",
            str(theirs),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
        },
    )
    assert done.returncode == 0, done.stderr
    assert ours == theirs.read_text(encoding="utf-8")
    scores = {row["student_id"]: row["raw_score"] for row in csv.DictReader(ours.splitlines())}
    assert scores == {"alice": "5.0", "bob": "0.0", "carol": "2.0", "dave": "0.0"}


@pytest.mark.slow
def test_feedback_pages(batch: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, out, _ = batch
    hidden = secret_lines(SOURCE, hidden_only=True)
    pages = {
        p.relative_to(out / "feedback").parts[0]: p for p in (out / "feedback").rglob("*.html")
    }
    # every submission gets a page, the unknown assignment's too
    assert sorted(pages) == ["alice", "bob", "carol", "dave", "erin"]
    for student, page in pages.items():
        folder = "00-nope" if student == "erin" else A
        assert page == out / "feedback" / student / folder / f"{folder}.html"
        text = html.unescape(page.read_text(encoding="utf-8"))
        assert not [line for line in hidden if line in text], (
            f"{student}'s feedback shows hidden tests"
        )
        assert "HIDDEN" not in text
    carol = html.unescape(pages["carol"].read_text(encoding="utf-8"))
    assert "values[:] = [v * factor for v in values]" in carol  # her own code
    # rows are labelled by the exercise's title, not the cell id
    assert "Score: 2 / 5" in carol and "<td>Exercise 2</td>" in carol and "0 / 3" in carol
    assert "scale-tests" not in carol
    assert "Due</th><td>none" in carol
    alice = html.unescape(pages["alice"].read_text(encoding="utf-8"))
    assert "Score: 5 / 5" in alice and "total = a + b" in alice
    dave = html.unescape(pages["dave"].read_text(encoding="utf-8"))
    assert "could not be graded" in dave and "JSON" in dave
    erin = html.unescape(pages["erin"].read_text(encoding="utf-8"))
    assert "could not be graded" in erin and "unknown assignment '00-nope'" in erin


@pytest.mark.slow
def test_strict_exit_code_and_bad_options(
    batch: tuple[Path, Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    subs, _, _ = batch
    only_dave = tmp_path / "subs"
    (only_dave / "dave").mkdir(parents=True)
    (only_dave / "dave" / A).symlink_to(subs / "dave" / A)
    done = run("grade", str(only_dave), "--out", str(tmp_path / "o"), "--strict", "--no-progress")
    assert done.returncode == 1
    assert "could NOT be graded" in done.stderr
    done = run("grade", str(subs), "--jobs", "0")
    assert done.returncode == 2 and "--jobs must be at least 1, got 0" in done.stderr
    done = run("grade", str(tmp_path / "missing"), "--out", str(tmp_path / "o2"))
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_help_reads_well(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["grade", "--help"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(args)
        assert exited.value.code == 0
    top, grade = capsys.readouterr().out.split("usage: python -m autograders grade", 1)
    for command in ("release", "open", "grade", "selfcheck", "new", "sync"):
        assert command in top
    assert "--jobs" in grade and "--no-sandbox" in grade and "nbgrader export" in grade
