"""Student versions: layout, no solution or hidden-test line anywhere, a student's work kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FIXTURES as ALL_FIXTURES
from conftest import STUB_MESSAGE, ReleasedCourse

from autograders import cli, student_lab
from autograders.notebook_text import read_notebook
from autograders.presenter import is_presenter_cell, presenter_lines
from autograders.release import NOTEBOOKS, ReleaseError, public_lines, release, secret_lines

FIXTURES = ALL_FIXTURES / "notebooks"


def _file_lines(path: Path) -> set[str]:
    """Stripped lines of a file; for a notebook, of every cell's source and text output."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    chunks = [text]
    if path.suffix == ".ipynb":
        nb = json.loads(text)
        for cell in nb.get("cells", []):
            chunks.append("".join(cell.get("source", "")))
            for output in cell.get("outputs", []):
                chunks.append("".join(output.get("text", "")))
    return {line.strip() for chunk in chunks for line in chunk.splitlines()}


def assert_no_secrets(outdir: Path, notebooks: Path, assignments: list[str]) -> None:
    """No line of any solution, hidden-test block or presenter note appears under ``outdir``,
    and no notebook there holds a presenter note or a reveal cell."""
    secrets = {a: secret_lines(notebooks / a / f"{a}.ipynb") for a in assignments}
    assert all(secrets.values()), "a source notebook has no solution or hidden test"
    for a in assignments:
        secrets[a] |= presenter_lines(read_notebook(notebooks / a / f"{a}.ipynb"))
    # a line another notebook shows on its own terms (``return result``) is no leak there
    shown = {a: public_lines(notebooks / a / f"{a}.ipynb") for a in assignments}
    files = [p for p in outdir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        lines = _file_lines(path)
        owner = next((a for a in assignments if a in path.relative_to(outdir).parts), None)
        for assignment, secret in secrets.items():
            allowed = shown[owner] if owner and owner != assignment else set()
            leaked = sorted((secret - allowed) & lines)
            assert not leaked, f"{path.relative_to(outdir)} holds {assignment} secrets: {leaked}"
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        if path.suffix == ".ipynb":
            cells = read_notebook(path).cells
            assert not [c for c in cells if is_presenter_cell(c)], f"{path}: presenter cells"


@pytest.mark.slow  # nbgrader generate_assignment
def test_release_fixture(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert release(out, notebooks=FIXTURES) == ["99-fixture"]
    notebook = out / "99-fixture" / "99-fixture.ipynb"
    assert notebook.is_file()
    assert STUB_MESSAGE in notebook.read_text(encoding="utf-8")
    assert_no_secrets(out, FIXTURES, ["99-fixture"])


@pytest.mark.slow  # nbgrader generate_assignment
def test_release_keeps_student_work(tmp_path: Path) -> None:
    out = tmp_path / "student"
    release(out, notebooks=FIXTURES)
    notebook = out / "99-fixture" / "99-fixture.ipynb"
    notebook.write_text("my own work", encoding="utf-8")
    with pytest.raises(ReleaseError, match="already holds 99-fixture; pass --force"):
        release(out, notebooks=FIXTURES)
    assert release(out, notebooks=FIXTURES, only_missing=True) == []
    assert notebook.read_text(encoding="utf-8") == "my own work"


def test_unknown_assignment_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="unknown assignment.*nope.*known: 99-fixture"):
        release(tmp_path, ["nope"], notebooks=FIXTURES)


def test_release_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        ["--notebooks", str(FIXTURES), "release", str(tmp_path), "--assignment", "nope"]
    )
    assert code == 2
    assert "error: unknown assignment(s) nope" in capsys.readouterr().err


@pytest.mark.slow  # nbgrader generate_assignment
def test_open_releases_missing_and_starts_lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[list[str]] = []

    def fake_run_student_lab(jupyter: str, notebook_dir: Path, extra: list[str]) -> int:
        calls.append(student_lab.student_lab_command(jupyter, notebook_dir, extra))
        return 0

    monkeypatch.setattr(student_lab, "run_student_lab", fake_run_student_lab)
    student = tmp_path / "student"
    args = ["--notebooks", str(FIXTURES), "open", "--dir", str(student), "--no-browser"]
    assert cli.main(args) == 0
    assert "added 99-fixture" in capsys.readouterr().out
    notebook = student / "99-fixture" / "99-fixture.ipynb"
    assert STUB_MESSAGE in notebook.read_text(encoding="utf-8")
    command = calls[-1]
    assert command[1:3] == ["lab", str(student)]
    assert "--no-browser" in command
    assert ("--allow-root" in command) == (os.geteuid() == 0)

    notebook.write_text("half-done work", encoding="utf-8")
    assert cli.main(args) == 0  # second time: nothing overwritten, lab started again
    assert notebook.read_text(encoding="utf-8") == "half-done work"
    assert len(calls) == 2


@pytest.mark.slow
def test_release_cli_real_notebooks(released_course: ReleasedCourse) -> None:
    names = [a.name for a in released_course.assignments]
    for name in names:
        assert (released_course.out / name / f"{name}.ipynb").is_file()
        assert f"released {name}" in released_course.done.stdout
    assert_no_secrets(released_course.out, NOTEBOOKS, names)
