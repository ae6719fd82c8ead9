"""Notebook 05's visible checks and hidden graders, run in-process on the notebook's answers.

The solution's answer cells (from the source notebook) must pass every check and grader;
each known-buggy submission (``autograders/submissions/05-service-mesh/*.toml``, not the
hostile ones) must fail exactly the graders of the test cells it lists, with a plain
message; a stub's ``NotImplementedError`` passes through; borrowing the reference is refused.
(The sandboxed engine is covered by ``python -m autograders selfcheck -a 05-service-mesh``.)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograders.graders import mesh as graders
from course_lib import mesh
from course_lib.checks import mesh as checks
from course_lib.checks.kit import CheckFailed

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05-service-mesh" / "05-service-mesh.ipynb"
SUBMISSIONS = ROOT / "autograders" / "submissions" / "05-service-mesh"

#: test cell -> (the answer's name, its visible check, its hidden grader)
CELLS: dict[str, tuple[str, Any, Any]] = {
    "policy-tests": ("read_policy", checks.check_read_policy, graders.grade_read_policy),
    "retry-tests": ("should_retry", checks.check_should_retry, graders.grade_should_retry),
    "backoff-tests": ("backoff_ceiling_ms", checks.check_backoff, graders.grade_backoff),
    "simulate-tests": ("simulate", checks.check_simulate, graders.grade_simulate),
    "headers-tests": ("apply_headers", checks.check_headers, graders.grade_headers),
    "worst-tests": ("worst_case", checks.check_worst_case, graders.grade_worst_case),
    "amplification-tests": (
        "amplification",
        checks.check_amplification,
        graders.grade_amplification,
    ),
    "ejection-tests": ("ejections", checks.check_ejections, graders.grade_ejections),
    "owner-tests": ("layer_owners", checks.check_layer_owners, graders.grade_owner),
}


def _answer_cells() -> dict[str, str]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def _run(sources: dict[str, str]) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for source in sources.values():
        exec(compile(source, "<answer>", "exec"), namespace)  # noqa: S102 - the notebook's own
    return namespace


def _argument(namespace: dict[str, Any], name: str, *, hidden: bool) -> Any:
    value = namespace[name]
    return value() if name == "layer_owners" and hidden else value  # as the test cell passes it


def _failing(namespace: dict[str, Any], *, hidden: bool) -> dict[str, str]:
    failed = {}
    for cell, (name, check, grade) in CELLS.items():
        try:
            (grade if hidden else check)(_argument(namespace, name, hidden=hidden))
        except CheckFailed as error:
            failed[cell] = str(error)
    return failed


@pytest.fixture(scope="module")
def solution() -> dict[str, Any]:
    return _run(_answer_cells())


def test_the_solution_passes_every_check_and_grader(
    solution: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _failing(solution, hidden=False) == {}
    assert _failing(solution, hidden=True) == {}
    assert capsys.readouterr().out.count("✓") == len(CELLS)  # the graders print nothing


BUGS = sorted(p for p in SUBMISSIONS.glob("*.toml") if not p.name.startswith("hostile-"))


@pytest.mark.parametrize("bug", BUGS, ids=lambda p: p.stem)
def test_each_known_mistake_fails_exactly_its_graders(bug: Path) -> None:
    spec = tomllib.loads(bug.read_text(encoding="utf-8"))
    sources = _answer_cells()
    sources.update({cell: source for cell, source in spec["replace"].items()})
    failed = _failing(_run(sources), hidden=True)
    assert sorted(failed) == sorted(spec["expect_failed"])
    for message in failed.values():
        assert "Traceback" not in message and len(message) < 3000


def test_the_reported_scenario_is_short() -> None:
    sources = _answer_cells()
    spec = tomllib.loads((SUBMISSIONS / "attempts-counted-as-total-tries.toml").read_text())
    sources.update(spec["replace"])
    with pytest.raises(CheckFailed) as caught:
        graders.grade_simulate(_run(sources)["simulate"])
    message = str(caught.value)
    # shrunk to the smallest case: one retry allowed, one condition, the retry missing
    assert "attempts 1," in message and "retryOn 5xx," in message, message
    assert "your timeline has 1 tries" in message and "expected 2" in message, message


def test_a_stub_passes_through() -> None:
    def stub(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Not written yet: simulate")

    for _cell, (name, check, grade) in CELLS.items():
        if name == "layer_owners":
            continue
        with pytest.raises(NotImplementedError, match="Not written yet"):
            check(stub)
        with pytest.raises(NotImplementedError, match="Not written yet"):
            grade(stub)


def test_borrowing_the_reference_is_refused() -> None:
    with pytest.raises(CheckFailed, match="course_lib"):
        graders.grade_should_retry(mesh.should_retry)

    def simulate(policy: Any, tries: Any, draws: Any) -> Any:
        return mesh.simulate(policy, tries, draws)

    with pytest.raises(CheckFailed, match="Write it yourself"):
        graders.grade_simulate(simulate)


def test_the_answer_key_is_not_in_the_student_wheel() -> None:
    text = (ROOT / "course_lib" / "checks" / "mesh.py").read_text(encoding="utf-8")
    assert "OWNER_KEY" not in text and '"app", "mesh"' not in text
