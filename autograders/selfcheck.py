"""``python -m autograders selfcheck``: do the graders grade what they should?

In a temporary course directory, for every assignment:

1. the solution (student version with the solutions filled in) scores full marks;
2. the blank student version scores 0;
3. every known submission in ``autograders/submissions/ASSIGNMENT/*.toml`` loses exactly
   the points of its ``expect_failed`` test cells and no others (or gets exactly its
   ``expected_score``; or, if ``expect_ungradable``, is refused as ungradable);
4. isolation: after the plain ones are graded into the gradebook, the hostile ones
   (``threat`` set) are graded in a second batch mixed with a fresh correct and a fresh
   blank submission. The first batch's gradebook rows, every submission file and the
   course's source files must be byte-for-byte unchanged, and the fresh pair must score
   full marks and 0.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograders import gradebook
from autograders.assignments import SUBMISSIONS
from autograders.grading import BatchReport, Submission, grade_batch
from autograders.notebook_text import read_notebook
from autograders.release import NOTEBOOKS, temp_course
from autograders.submissions import KnownSubmission, build, load_all, solution_notebook

__all__ = ["SUBMISSIONS", "Check", "selfcheck"]


@dataclass(frozen=True)
class Check:
    """One expectation and whether it held."""

    ok: bool
    line: str


def _hash_tree(root: Path, skip: Callable[[Path], bool] = lambda p: False) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not skip(p)
    }


def _json(nb: nbformat.NotebookNode) -> bytes:
    text: str = nbformat.writes(nb)  # type: ignore[no-untyped-call]
    return text.encode("utf-8")


def _pct(score: float, total: float) -> str:
    return f"{100 * score / total:.0f}%" if total else "n/a"


def selfcheck(
    *,
    notebooks: Path = NOTEBOOKS,
    submissions: Path = SUBMISSIONS,
    assignments: Sequence[str] | None = None,
    jobs: int = 1,
    sandbox: bool = True,
    progress: bool = True,
    emit: Callable[[str], None] = print,
) -> bool:
    """Run every check; print one line per check; return whether all held."""
    checks: list[Check] = []

    def check(ok: bool, line: str) -> None:
        checks.append(Check(ok, line))
        emit(("  ok    " if ok else "  FAIL  ") + line)

    with tempfile.TemporaryDirectory(prefix="m14-selfcheck-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'gradebook.db'}"
        with temp_course(notebooks, assignments, db_url=url) as course:
            sources = {a: course.source(a) for a in course.assignments}
            plain: list[Submission] = []
            hostile: list[Submission] = []
            expectations: dict[Submission, KnownSubmission | str] = {}

            def put(student: str, assignment: str, data: bytes) -> Submission:
                path = work / "submitted" / student / assignment / f"{assignment}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                return Submission(student, assignment, assignment, path)

            for a in course.assignments:
                blank = read_notebook(course.released(a) / f"{a}.ipynb")
                solution = solution_notebook(read_notebook(sources[a]), blank)
                solution_bytes = _json(solution)
                blank_bytes = _json(blank)
                for label, data in (("solution", solution_bytes), ("blank", blank_bytes)):
                    sub = put(label, a, data)
                    plain.append(sub)
                    expectations[sub] = label
                for known in load_all(submissions / a):
                    sub = put(
                        f"known-{known.name}", a, build(known, solution=solution, blank=blank)
                    )
                    (hostile if known.threat else plain).append(sub)
                    expectations[sub] = known
                for label, data in (("solution", solution_bytes), ("blank", blank_bytes)):
                    sub = put(f"{label}-beside-hostile", a, data)
                    hostile.append(sub)
                    expectations[sub] = label

            first = grade_batch(plain, sources, jobs=jobs, sandbox=sandbox, progress=progress)
            _record(url, first)
            pairs = [(s.assignment, s.student) for s in plain]
            rows_before = gradebook.snapshot(url, pairs)
            files_before = _hash_tree(work / "submitted")
            source_before = _hash_tree(course.root / "source")
            second = grade_batch(hostile, sources, jobs=jobs, sandbox=sandbox, progress=progress)
            _record(url, second)

            for report in (first, second):
                _judge(report, expectations, check)
            if hostile:
                rows_after = gradebook.snapshot(url, pairs)
                changed = [
                    f"{s}/{a}" for (a, s) in pairs if rows_before[(a, s)] != rows_after[(a, s)]
                ]
                check(
                    not changed,
                    "isolation: grading hostile submissions changed no other grade"
                    + (
                        f" (CHANGED: {', '.join(changed)})"
                        if changed
                        else f" ({len(pairs)} submissions' gradebook rows identical)"
                    ),
                )
                files_after = _hash_tree(work / "submitted")
                touched = sorted(
                    k
                    for k in set(files_before) | set(files_after)
                    if files_before.get(k) != files_after.get(k)
                )
                check(
                    not touched,
                    "isolation: no submission file was changed, added or removed"
                    + (
                        f" (TOUCHED: {', '.join(touched)})"
                        if touched
                        else f" ({len(files_before)} files identical)"
                    ),
                )
                src_after = _hash_tree(course.root / "source")
                check(
                    src_after == source_before,
                    "isolation: the instructor's source notebooks are unchanged",
                )
    failed = [c for c in checks if not c.ok]
    emit(
        f"selfcheck: {len(checks) - len(failed)} of {len(checks)} checks passed"
        + ("" if not failed else f"; {len(failed)} FAILED")
    )
    return not failed and bool(checks)


def _record(url: str, report: BatchReport) -> None:
    for graded in report.graded:
        gradebook.record_result(url, graded.result)
    for failure in report.failures:
        s = failure.submission
        gradebook.record_ungradable(url, s.assignment, s.notebook, s.student)


def _judge(
    report: BatchReport,
    expectations: dict[Submission, KnownSubmission | str],
    check: Callable[[bool, str], None],
) -> None:
    for failure in report.failures:
        sub = failure.submission
        expected = expectations[sub]
        if isinstance(expected, KnownSubmission) and expected.expect_ungradable:
            want = expected.expected_score if expected.expected_score is not None else 0.0
            tag = f"[{expected.threat}] " if expected.threat else ""
            check(
                want == 0,
                f"{sub.assignment}: {tag}{expected.name}: score 0, expected {want:g} "
                f"(refused: {failure.reason})",
            )
        else:
            name = expected if isinstance(expected, str) else expected.name
            check(
                False,
                f"{sub.assignment}: {sub.student} ({name}) could not be graded: {failure.reason}",
            )
    for graded in report.graded:
        sub, r = graded.submission, graded.result
        expected = expectations[sub]
        score = f"{r.score:g}/{r.max_score:g}"
        failed = sorted(t.grade_id for t in r.tests if t.points < t.max_points)
        if expected == "solution":
            check(
                r.score == r.max_score and r.max_score > 0,
                f"{sub.assignment}: {sub.student} {_pct(r.score, r.max_score)} ({score})"
                + (f"; lost points in {', '.join(failed)}" if failed else ""),
            )
        elif expected == "blank":
            check(
                r.score == 0,
                f"{sub.assignment}: {sub.student} {_pct(r.score, r.max_score)} ({score})"
                + (
                    ""
                    if r.score == 0
                    else "; passed " + ", ".join(t.grade_id for t in r.tests if t.points > 0)
                ),
            )
        elif isinstance(expected, KnownSubmission):
            _judge_known(sub, r, expected, failed, score, check)


def _judge_known(
    sub: Submission,
    r: object,
    known: KnownSubmission,
    failed: list[str],
    score: str,
    check: Callable[[bool, str], None],
) -> None:
    tests = getattr(r, "tests", ())
    total = float(getattr(r, "score", 0.0))
    if known.expect_ungradable:
        check(
            False,
            f"{sub.assignment}: {known.name}: expected to be refused as ungradable, got {score}",
        )
        return
    if known.expected_score is not None:
        want = known.expected_score
    else:
        lost = set(known.expect_failed or ())
        want = sum(t.max_points for t in tests if t.grade_id not in lost)
    ok = abs(total - want) < 1e-9
    if known.expect_failed is not None:
        partial = [t.grade_id for t in tests if t.grade_id in known.expect_failed and t.points > 0]
        extra = [
            t.grade_id
            for t in tests
            if t.grade_id not in known.expect_failed and t.points < t.max_points
        ]
        ok = ok and not partial and not extra
    if known.threat:
        check(
            ok,
            f"{sub.assignment}: [{known.threat}] {known.name}: score {total:g}, expected {want:g}"
            + ("" if ok else f"; failed: {', '.join(failed) or 'none'}"),
        )
    else:
        want_failed = ", ".join(sorted(known.expect_failed or ())) or "none"
        check(
            ok,
            f"{sub.assignment}: {known.name}: failed {', '.join(failed) or 'none'}"
            + ("" if ok else f"; expected failed: {want_failed}; score {score}, expected {want:g}"),
        )
