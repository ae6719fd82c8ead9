"""Collecting submissions: nbgrader's layout, LMS downloads (folder or zip), wrong layouts.

The first tests read file names only (fast). The slow ones grade through the command line:
a flat zip download of five students (one ``-Copy1``, one unknown assignment, one broken
JSON) gets five rows and five feedback pages, two flagged, and exits 1 under ``--strict``;
a wrong layout or an empty folder exits 2 naming the layout expected.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import require_program

from autograders.collect import EXPECTED_LAYOUT, LayoutError, collect, match_assignment
from autograders.release import release
from autograders.submissions import solution_notebook

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
A = "99-fixture"
KNOWN = ["01-circuit-breaker", "01-circuit-breaker-extra", A]


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace(" UTC", ""))


def _touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_match_assignment_takes_the_longest_known_prefix() -> None:
    assert match_assignment("01-circuit-breaker", KNOWN) == ("01-circuit-breaker", "")
    assert match_assignment("01-circuit-breaker-Copy1", KNOWN) == ("01-circuit-breaker", "-Copy1")
    assert match_assignment("01-circuit-breaker-extra (1)", KNOWN) == (
        "01-circuit-breaker-extra",
        " (1)",
    )
    assert match_assignment("01-circuit-breakers", KNOWN) is None  # not a separator
    assert match_assignment("02-bulkheads", KNOWN) is None


def test_nbgrader_layout_with_timestamps_and_copies(tmp_path: Path) -> None:
    root = tmp_path / "submitted"
    _touch(root / "alice" / A / f"{A}.ipynb")
    _touch(root / "alice" / A / "timestamp.txt", "2026-01-10 11:00:00 UTC\n")
    _touch(root / "bob" / A / f"{A}-Copy1.ipynb")
    _touch(root / "carol" / "00-nope" / "00-nope.ipynb")
    _touch(root / "dave" / A / "notes.ipynb")
    found = collect(root, KNOWN, tmp_path / "w", parse_time=_parse)
    got = {(c.student, c.assignment): c for c in found.items}
    assert sorted(got) == [("alice", A), ("bob", A), ("carol", "00-nope")]
    assert got[("alice", A)].timestamp == dt.datetime(2026, 1, 10, 11, 0)
    assert got[("alice", A)].problem is None
    assert "'-Copy1' after the assignment name dropped" in got[("bob", A)].how
    assert got[("carol", "00-nope")].problem and "unknown assignment '00-nope'" in (
        got[("carol", "00-nope")].problem or ""
    )
    assert found.unmatched == [
        (f"dave/{A}/notes.ipynb", f"in {A}/ but named notes.ipynb (expected {A}.ipynb)")
    ]
    assert len(found.report) == 4  # one line per file


def test_lms_names_in_a_zip(tmp_path: Path) -> None:
    download = tmp_path / "download.zip"
    with zipfile.ZipFile(download, "w") as zf:
        zf.writestr(f"alice_{A}.ipynb", "{}")
        zf.writestr(f"bob_{A}-Copy1.ipynb", "{}")
        zf.writestr(f"smithcarol_LATE_1234_56789_{A}.ipynb", "{}")  # Canvas' own naming
        zf.writestr("dave_03-unknown.ipynb", "{}")
        zf.writestr("readme.ipynb", "{}")
        zf.writestr("__MACOSX/._alice.ipynb", "junk")
    found = collect(download, KNOWN, tmp_path / "w", parse_time=_parse)
    got = {(c.student, c.assignment): c for c in found.items}
    assert sorted(got) == [("alice", A), ("bob", A), ("dave", "03-unknown"), ("smithcarol", A)]
    assert got[("alice", A)].origin == f"download.zip:alice_{A}.ipynb"
    assert got[("alice", A)].path.read_text() == "{}"  # extracted
    assert got[("dave", "03-unknown")].problem
    assert found.unmatched == [
        (
            "download.zip:readme.ipynb",
            "no student in the file name (expected STUDENT_ASSIGNMENT.ipynb)",
        )
    ]


def test_a_zip_of_one_folder_is_read_inside_it(tmp_path: Path) -> None:
    download = tmp_path / "submitted.zip"
    with zipfile.ZipFile(download, "w") as zf:
        zf.writestr(f"submitted/alice/{A}/{A}.ipynb", "{}")
        zf.writestr(f"submitted/alice/{A}/timestamp.txt", "2026-01-10 11:00:00 UTC")
    found = collect(download, KNOWN, tmp_path / "w", parse_time=_parse)
    assert [(c.student, c.assignment, c.origin) for c in found.items] == [
        ("alice", A, f"submitted.zip:submitted/alice/{A}/{A}.ipynb")
    ]
    assert found.items[0].timestamp == dt.datetime(2026, 1, 10, 11, 0)


def test_two_files_for_one_submission_grade_the_exact_name(tmp_path: Path) -> None:
    _touch(tmp_path / "d" / f"alice_{A}-Copy1.ipynb")
    _touch(tmp_path / "d" / f"alice_{A}.ipynb")
    found = collect(tmp_path / "d", KNOWN, tmp_path / "w", parse_time=_parse)
    assert [c.origin for c in found.items] == [f"alice_{A}.ipynb"]
    assert found.unmatched[0][0] == f"alice_{A}-Copy1.ipynb"


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        ({f"{A}.ipynb": "{}"}, "no student in the file name"),  # flat, no student
        ({f"submitted/alice/{A}/{A}.ipynb": "{}"}, "looks like the folder above the submissions"),
        ({"notes.txt": "hello"}, "no notebooks (.ipynb) found"),
        ({f"alice/{A}.ipynb": "{}"}, "nothing to grade"),
    ],
)
def test_wrong_layouts_name_the_expected_one(
    tmp_path: Path, layout: dict[str, str], words: str
) -> None:
    for name, text in layout.items():
        _touch(tmp_path / "d" / name, text)
    with pytest.raises(LayoutError) as raised:
        collect(tmp_path / "d", KNOWN, tmp_path / "w", parse_time=_parse)
    assert words in str(raised.value)
    assert EXPECTED_LAYOUT in str(raised.value)


def test_a_zip_cannot_write_outside(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr(f"../evil_{A}.ipynb", "{}")
    with pytest.raises(LayoutError, match="refusing the member"):
        collect(bad, KNOWN, tmp_path / "w", parse_time=_parse)
    assert not (tmp_path / f"evil_{A}.ipynb").exists()


# --- through the command line -------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autograders", "--notebooks", str(FIXTURES), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, ...]:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    tmp = tmp_path_factory.mktemp("versions")
    release(tmp / "release", notebooks=FIXTURES)
    blank = nbformat.read(tmp / "release" / A / f"{A}.ipynb", as_version=4)
    solution = solution_notebook(nbformat.read(FIXTURES / A / f"{A}.ipynb", as_version=4), blank)
    return solution, blank


@pytest.mark.slow
def test_a_flat_zip_download_of_five(
    versions: tuple[nbformat.NotebookNode, ...], tmp_path: Path
) -> None:
    solution, blank = versions
    download = tmp_path / "download.zip"
    with zipfile.ZipFile(download, "w") as zf:
        zf.writestr(f"alice_{A}.ipynb", nbformat.writes(solution))
        zf.writestr(f"bob_{A}-Copy1.ipynb", nbformat.writes(solution))
        zf.writestr(f"carol_{A}.ipynb", nbformat.writes(blank))
        zf.writestr("dave_03-unknown.ipynb", nbformat.writes(solution))
        zf.writestr(f"erin_{A}.ipynb", '{"cells": [')
    out = tmp_path / "out"
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "id,first_name,last_name,email,lms_user_id\n"
        "alice,Alice,Liddell,alice@example.org,1001\n"
        "bob,Bob,,bob@example.org,\n"
        "frank,Frank,Stein,,1006\n",  # on the roster, submitted nothing
        encoding="utf-8",
    )
    settings = tmp_path / "course.toml"
    settings.write_text(f'late_penalty = "zero"\n[duedates]\n"{A}" = "2026-03-02 17:00:00 UTC"\n')
    done = run(
        "grade", str(download), "--out", str(out), "--no-progress", "--strict", "--report",
        "--roster", str(roster), "--course", str(settings),
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"download.zip:bob_{A}-Copy1.ipynb: bob / {A}: LMS file name" in done.stdout
    assert "'-Copy1' after the assignment name dropped" in done.stdout
    assert "2 submission(s) could NOT be graded" in done.stderr
    rows = list(csv.DictReader((out / "submissions.csv").read_text(encoding="utf-8").splitlines()))
    status = {r["student_id"]: (r["status"], r["auto_score"]) for r in rows}
    assert status == {
        "alice": ("graded", "5"),
        "bob": ("graded", "5"),
        "carol": ("graded", "0"),  # a blank notebook scores 0 ...
        "dave": ("ungradable", ""),  # ... and an ungradable file is marked so
        "erin": ("ungradable", ""),
    }
    reasons = {r["student_id"]: r["reason"] for r in rows}
    assert "unknown assignment '03-unknown'" in reasons["dave"]
    assert "not valid notebook JSON" in reasons["erin"]
    pages = sorted(
        p.relative_to(out / "feedback").as_posix() for p in (out / "feedback").rglob("*.html")
    )
    assert pages == [
        f"alice/{A}/{A}.html",
        f"bob/{A}/{A}.html",
        f"carol/{A}/{A}.html",
        "dave/03-unknown/03-unknown.html",
        f"erin/{A}/{A}.html",
    ]
    erin = html.unescape((out / "feedback" / "erin" / A / f"{A}.html").read_text(encoding="utf-8"))
    assert "could not be graded" in erin and "JSON" in erin and f"erin_{A}.ipynb" in erin
    wide = list(csv.DictReader((out / "grades-by-student.csv").read_text().splitlines()))
    assert {r["student_id"]: r[A] for r in wide} == {
        "alice": "5", "bob": "5", "carol": "0", "erin": "0", "frank": "",
    }  # fmt: skip
    assert "UNGRADABLE" in next(r["notes"] for r in wide if r["student_id"] == "erin")
    # names and emails from the roster; nbgrader's export has them and the due date
    grades = list(csv.DictReader((out / "grades.csv").read_text().splitlines()))
    alice = next(r for r in grades if r["student_id"] == "alice")
    assert (alice["first_name"], alice["last_name"], alice["email"]) == (
        "Alice", "Liddell", "alice@example.org",
    )  # fmt: skip
    assert alice["duedate"] == "2026-03-02 17:00:00" and alice["late_submission_penalty"] == "0.0"
    # Canvas' gradebook layout: identity columns, a Points Possible row, one column per assignment
    canvas = (out / "canvas.csv").read_text(encoding="utf-8").splitlines()
    assert canvas[0] == f"Student,ID,SIS User ID,SIS Login ID,Section,{A}"
    assert canvas[1] == "    Points Possible,,,,,5"
    assert '"Liddell, Alice",1001,,alice,,5' in canvas
    assert "Bob,,,bob,,5" in canvas
    assert '"Stein, Frank",1006,,frank,,' in canvas  # no submission: left blank
    assert not [line for line in canvas if ",dave," in line]  # nothing of a course assignment


@pytest.mark.slow
def test_unmatched_files_fail_only_under_strict(
    versions: tuple[nbformat.NotebookNode, ...], tmp_path: Path
) -> None:
    solution, _ = versions
    download = tmp_path / "d"
    download.mkdir()
    nbformat.write(solution, download / f"alice_{A}.ipynb")
    nbformat.write(solution, download / "untitled.ipynb")
    done = run("grade", str(download), "--out", str(tmp_path / "o1"), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "not matched: untitled.ipynb: no student in the file name" in done.stderr
    done = run("grade", str(download), "--out", str(tmp_path / "o2"), "--no-progress", "--strict")
    assert done.returncode == 1


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ([f"{A}.ipynb", "other.ipynb"], "nothing to grade"),
        ([f"submitted/alice/{A}/{A}.ipynb"], "looks like the folder above the submissions"),
        ([], "no notebooks (.ipynb) found"),
    ],
)
def test_wrong_layout_and_nothing_found_exit_2(
    tmp_path: Path, files: list[str], words: str
) -> None:
    (tmp_path / "d").mkdir()
    for name in files:
        _touch(tmp_path / "d" / name)
    done = run("grade", str(tmp_path / "d"), "--out", str(tmp_path / "o"), "--no-progress")
    assert done.returncode == 2
    assert words in done.stderr and "STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb" in done.stderr
    assert not (tmp_path / "o" / "grades.csv").exists()
