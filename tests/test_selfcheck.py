"""``selfcheck``: solutions full marks, blanks zero, known submissions exactly as expected.

The fixture assignment runs every part of it (plain and hostile known submissions, the
isolation checks). Every run grades notebooks in kernels (or releases with nbgrader first), so
those tests are ``slow``; the loader's error messages are checked in the fast loop.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_program

from autograders.assignments import discover
from autograders.selfcheck import selfcheck
from autograders.submissions import SubmissionFormatError, load

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture
def _bwrap() -> None:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")


@pytest.mark.slow
@pytest.mark.usefixtures("_bwrap")
def test_fixture_selfcheck_passes() -> None:
    lines: list[str] = []
    ok = selfcheck(
        notebooks=FIXTURES / "notebooks",
        submissions=FIXTURES / "submissions",
        progress=False,
        emit=lines.append,
    )
    text = "\n".join(lines)
    assert ok, text
    for expected in (
        "ok    99-fixture: solution 100% (5/5)",
        "ok    99-fixture: blank 0% (0/5)",
        "ok    99-fixture: add-subtracts: failed add-tests",
        "ok    99-fixture: scale-mutates: failed scale-tests",
        "ok    99-fixture: [forge] edits-test-cell: score 0, expected 0",
        "ok    99-fixture: [forge] deletes-test-cell: score 3, expected 3",
        "ok    99-fixture: [malformed] invalid-json: score 0, expected 0 (refused: ",
        "ok    99-fixture: solution-beside-hostile 100% (5/5)",
        "ok    99-fixture: blank-beside-hostile 0% (0/5)",
        "ok    isolation: grading hostile submissions changed no other grade",
        "ok    isolation: no submission file was changed, added or removed",
        "ok    isolation: the instructor's source notebooks are unchanged",
    ):
        assert expected in text, text
    assert lines[-1] == "selfcheck: 12 of 12 checks passed"


@pytest.mark.slow
@pytest.mark.usefixtures("_bwrap")
def test_wrong_expectation_is_a_failure(tmp_path: Path) -> None:
    folder = tmp_path / "99-fixture"
    folder.mkdir()
    wrong = (FIXTURES / "submissions" / "99-fixture" / "add-subtracts.toml").read_text()
    (folder / "add-subtracts.toml").write_text(
        wrong.replace('expect_failed = ["add-tests"]', 'expect_failed = ["scale-tests"]')
    )
    lines: list[str] = []
    ok = selfcheck(
        notebooks=FIXTURES / "notebooks", submissions=tmp_path, progress=False, emit=lines.append
    )
    assert not ok
    text = "\n".join(lines)
    assert "FAIL  99-fixture: add-subtracts: failed add-tests; expected failed: scale-tests" in text
    assert "ok    99-fixture: solution 100% (5/5)" in text
    assert lines[-1] == "selfcheck: 7 of 8 checks passed; 1 FAILED"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('description = "x"\nexpect_failed = []\nbogus = 1\n', "unknown key(s) bogus"),
        ('expect_failed = ["a"]\n', "description (a sentence saying what is wrong) is required"),
        ('description = "x"\n', "give expect_failed"),
        (
            'description = "x"\nexpect_failed = []\nbase = "half"\n',
            'base must be "solution" or "blank"',
        ),
        (
            'description = "x"\nexpected_score = 0\nthreat = "evil"\n',
            "threat must be one of outside",
        ),
        ('description = "x"\nexpected_score = 0\ntransform = "zip"\n', "transform must be one of"),
        ('description = "x"\nexpect_failed = "a"\n', "expect_failed must be a list"),
        (
            'description = "x"\nexpected_score = 0\n[[insert]]\nsource = "1"\n',
            "exactly one of after",
        ),
        ('description = "x\n', "cannot be read as TOML"),
        ('description = "x"\nexpected_score = 0\n[pad]\na = "big"\n', "[pad] maps grade_id"),
        ('description = "x"\nexpected_score = 0\n[pad]\na = 0\n', "1 to 1000000"),
    ],
)
def test_loader_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(SubmissionFormatError) as info:
        load(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


@pytest.mark.slow  # releases the fixture with nbgrader before it reads the file
def test_unknown_grade_id_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "99-fixture"
    folder.mkdir()
    (folder / "typo.toml").write_text(
        'description = "x"\nexpect_failed = []\n[replace]\nadd-answr = "pass"\n'
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograders",
            "--notebooks",
            str(FIXTURES / "notebooks"),
            "selfcheck",
            "--submissions",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2
    assert "typo.toml: [replace]: no cell with grade_id 'add-answr'" in done.stderr


@pytest.mark.slow
@pytest.mark.usefixtures("_bwrap")
def test_course_selfcheck() -> None:
    names = [a.name for a in discover()]
    if not names:
        pytest.skip("no assignment in notebooks/ yet")
    done = subprocess.run(
        [sys.executable, "-m", "autograders", "selfcheck", "--jobs", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in names:
        assert f"ok    {name}: solution 100%" in done.stdout
        assert f"ok    {name}: blank 0%" in done.stdout
    assert "FAIL" not in done.stdout
