"""The distributed package is course_lib only, and the README's commands are the ones CI runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


#: Left behind by earlier builds and runs: setuptools copies ``build/lib`` into a new wheel
#: without removing files deleted since, so a stale ``build/`` would ship an old module.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "test-artifacts", "__pycache__", ".*_cache"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built as a fresh clone would build it (from the sources only)."""
    source = tmp_path_factory.mktemp("source") / "repo"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("*.whl")
    return found


@pytest.mark.slow
def test_wheel_ships_course_lib_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    packages = {
        name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")
    }
    assert packages == {"course_lib"}, (
        f"the wheel must hold course_lib only, it holds {sorted(packages)}"
    )
    assert "course_lib/py.typed" in names
    # the breaker widget's browser view (its ESM and CSS are package data)
    assert {"course_lib/widgets/breaker_widget.js", "course_lib/widgets/breaker_widget.css"} <= set(
        names
    )
    assert not [n for n in names if n.endswith(".ipynb")], "no notebook may be shipped"
    assert not [n for n in names if "autograders" in n or "checks/_solutions" in n]


@pytest.mark.slow
def test_wheel_holds_no_hidden_grader(wheel: Path) -> None:
    """Students install the wheel: no grading function, grader module or pristine loader in it."""
    import ast

    archive = zipfile.ZipFile(wheel)
    sources = [n for n in archive.namelist() if n.endswith(".py")]
    assert "course_lib/checks/kit.py" in sources and "course_lib/checks/breaker.py" in sources
    found = []
    for name in sources:
        tree = ast.parse(archive.read(name).decode("utf-8"), filename=name)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "grade_"
            ):
                found.append(f"{name}: def {node.name}")
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                found += [f"{name}: imports {m}" for m in modules if m.startswith("autograders")]
        if name.endswith("_pristine.py"):
            found.append(f"{name}: the pristine loader")
    assert not found, f"the student wheel holds hidden grading: {found}"


@pytest.mark.slow
def test_installed_wheel_exports_the_patterns(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import course_lib\n"
        "from course_lib import (CircuitBreaker, SemaphoreBulkhead, ThreadPoolBulkhead, retry,\n"
        "    Timeouts, Deadline, call_with_timeout, ManualClock, Trace)\n"
        "print(course_lib.__file__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(target)), (
        f"imported from the wrong place: {done.stdout}"
    )


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S)
    assert first_block, "the README must open with a code block holding the two commands"
    return [
        line.strip()
        for line in first_block.group(1).splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one() -> None:
    commands = _readme_commands()
    assert len(commands) == 2, (
        f"the README's first block must hold exactly two commands, got {commands}"
    )
    open_cmd, test_cmd = commands
    assert "autograders open" in open_cmd
    assert "pytest" in test_cmd
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_cmd in ci_lines, ".ci/run must call the README's test command verbatim"
