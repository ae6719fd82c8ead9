"""The batch grader behind ``python -m autograders grade``.

Submissions come in nbgrader's layout ``SUBMISSIONS/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb``.
Each is graded by ``autograders.engine.grade_notebook`` (in ``jobs`` worker processes);
the results come back as plain data to this, the trusted process, which alone writes the
gradebook, ``grades.csv`` and the feedback pages. A submission that cannot be graded is
recorded with zero points and listed with its reason; it never stops the batch.

Results are taken as each submission finishes (not in submission order) and written at
once (gradebook rows and feedback page), so a slow or stuck submission never withholds the
others' grades. The engine bounds each submission (``Limits.submission_seconds``); as a last
resort, when no worker finishes anything for ``stall_seconds``, the workers are killed, the
submissions they were grading are retried once in fresh workers and then recorded as
ungradable. ``grades.csv`` and the table keep the submissions' order.
"""

from __future__ import annotations

import atexit
import importlib
import json
import multiprocessing
import multiprocessing.util
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from tqdm import tqdm

from autograders import gradebook
from autograders.feedback import render_feedback, render_ungradable
from autograders.release import NOTEBOOKS, discover_assignments, temp_course

__all__ = [
    "BatchReport",
    "Failure",
    "Graded",
    "Submission",
    "engine",
    "find_submissions",
    "format_table",
    "grade_all",
    "grade_batch",
    "grade_one",
]


def engine() -> ModuleType:
    """The grading engine module (``autograders.engine``, imported on first use)."""
    return importlib.import_module("autograders.engine")


_RUNTIME: Any = None


def _runtime() -> Any:
    """This process's sandbox runtime (the read-only library dir), made once per process."""
    global _RUNTIME
    if _RUNTIME is None:
        from autograders.sandbox import Runtime

        _RUNTIME = Runtime()
        # removed when a worker process exits (multiprocessing runs Finalize, not atexit)
        multiprocessing.util.Finalize(None, _RUNTIME.close, exitpriority=10)
        atexit.register(_RUNTIME.close)
    return _RUNTIME


@dataclass(frozen=True)
class Submission:
    """One submitted notebook: ``STUDENT/ASSIGNMENT/NOTEBOOK.ipynb``."""

    student: str
    assignment: str
    notebook: str
    path: Path


@dataclass(frozen=True)
class Failure:
    """A submission that could not be graded, and why (plain words)."""

    submission: Submission
    reason: str


@dataclass(frozen=True)
class Graded:
    """A submission and its engine ``NotebookResult``."""

    submission: Submission
    result: Any


@dataclass
class BatchReport:
    """Everything a batch produced."""

    graded: list[Graded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # paths that are not submissions at all


def find_submissions(
    directory: Path, assignments: Sequence[str]
) -> tuple[list[Submission], list[Failure], list[str]]:
    """Find ``STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb`` files under ``directory``.

    Returns:
        ``(submissions, failures, skipped)``: a notebook for an unknown assignment, or
        with the wrong name, is a failure (named, with the reason); a stray file is skipped.
    """
    found: list[Submission] = []
    failures: list[Failure] = []
    skipped: list[str] = []
    for student_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
        if student_dir.name.startswith("."):
            continue
        for assignment_dir in sorted(student_dir.iterdir()):
            if not assignment_dir.is_dir():
                skipped.append(str(assignment_dir.relative_to(directory)))
                continue
            for path in sorted(assignment_dir.glob("*.ipynb")):
                sub = Submission(student_dir.name, assignment_dir.name, path.stem, path)
                if sub.assignment not in assignments:
                    reason = (
                        f"unknown assignment {sub.assignment!r} (known: {', '.join(assignments)})"
                    )
                    failures.append(Failure(sub, reason))
                elif sub.notebook != sub.assignment:
                    reason = (
                        f"unexpected notebook name {path.name} (expected {sub.assignment}.ipynb)"
                    )
                    failures.append(Failure(sub, reason))
                else:
                    found.append(sub)
    return found, failures, skipped


def grade_one(source: Path, sub: Submission, sandbox: bool, limits: Any = None) -> tuple[str, Any]:
    """Grade one submission (in a worker process, or on a cluster's worker); never raises.

    Returns:
        ``("ok", NotebookResult)``, or ``("failed", reason in plain words)``.
    """
    module = engine()
    extra = {} if limits is None else {"limits": limits}
    try:
        result = module.grade_notebook(
            source, sub.path, student=sub.student, sandbox=sandbox, runtime=_runtime(), **extra
        )
        return "ok", result
    except module.SubmissionError as exc:
        return "failed", str(exc) or type(exc).__name__
    except Exception as exc:  # a grader bug must not stop the batch; name it plainly
        return "failed", f"the grader itself failed ({type(exc).__name__}: {exc})"


EXCHANGE_RECEIPTS = ("timestamp.txt", "submission_secret.txt")
"""Files ``nbgrader collect`` puts next to a submission; copied next to its feedback page,
they let ``nbgrader release_feedback`` return the page to the student through the exchange."""

STALL_SECONDS = 300.0 + 120.0
"""No result from any worker for this long means the workers grading are stuck (the
engine's default ``Limits.submission_seconds`` plus a margin for reading and rebuilding)."""

Outcome = Graded | Failure


def _pool_processes(pool: ProcessPoolExecutor) -> list[Any]:
    """The pool's worker processes (``concurrent.futures`` keeps them in ``_processes``)."""
    found = getattr(pool, "_processes", None) or {}
    return list(found.values())


def _grade_in_pool(
    subs: Sequence[Submission],
    sources: Mapping[str, Path],
    sandbox: bool,
    jobs: int,
    stall_seconds: float,
    limits: Any,
    take: Callable[[Submission, tuple[str, Any]], None],
) -> list[Submission]:
    """Grade ``subs`` in one pool, taking results as they finish.

    Returns:
        The submissions that were still in the pool when it stalled (none if it did not).
    """
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    futures: dict[Future[tuple[str, Any]], Submission] = {
        pool.submit(grade_one, sources[sub.assignment], sub, sandbox, limits): sub for sub in subs
    }
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=stall_seconds, return_when=FIRST_COMPLETED)
            if not done:  # nothing finished for stall_seconds: the busy workers are stuck
                for process in _pool_processes(pool):
                    process.kill()
                return [futures[f] for f in futures if f in pending]
            for future in sorted(done, key=lambda f: subs.index(futures[f])):
                try:
                    outcome = future.result()
                except Exception as exc:  # a worker process died
                    outcome = ("failed", f"the grading worker died ({type(exc).__name__}: {exc})")
                take(futures[future], outcome)
        return []
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def grade_batch(
    submissions: Sequence[Submission],
    sources: Mapping[str, Path],
    *,
    jobs: int = 1,
    sandbox: bool = True,
    progress: bool = True,
    on_result: Callable[[Outcome], None] | None = None,
    stall_seconds: float = STALL_SECONDS,
    limits: Any = None,
    cluster: str | None = None,
) -> BatchReport:
    """Grade ``submissions`` against ``sources`` (assignment -> source notebook).

    ``jobs`` > 1 grades in that many worker processes. Nothing is written here:
    ``on_result`` is called with each :class:`Graded` / :class:`Failure` as soon as
    that submission is done (in the order they finish). The report lists them in
    the order of ``submissions``. ``limits``: an ``engine.Limits`` for every
    submission (default: the engine's). ``cluster``: the address of a Dask scheduler
    to grade on instead of local processes (see :mod:`autograders.cluster`; ``jobs`` is
    then unused).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    report = BatchReport()
    bar = tqdm(
        total=len(submissions),
        desc="grading",
        unit="notebook",
        file=sys.stderr,
        disable=not progress,
    )

    def take(sub: Submission, outcome: tuple[str, Any]) -> None:
        kind, value = outcome
        item: Outcome = Graded(sub, value) if kind == "ok" else Failure(sub, value)
        (report.graded if isinstance(item, Graded) else report.failures).append(item)  # type: ignore[arg-type]
        if on_result is not None:
            on_result(item)
        bar.update(1)

    try:
        if cluster is not None:
            from autograders.cluster import grade_on_cluster

            grade_on_cluster(
                submissions, sources, address=cluster, sandbox=sandbox, limits=limits, take=take
            )
        elif jobs == 1:
            for sub in submissions:
                take(sub, grade_one(sources[sub.assignment], sub, sandbox, limits))
        else:
            stalled = _grade_in_pool(
                submissions, sources, sandbox, jobs, stall_seconds, limits, take
            )
            if stalled:  # once more in fresh workers: some were only queued behind a stuck one
                again = _grade_in_pool(stalled, sources, sandbox, jobs, stall_seconds, limits, take)
                for sub in again:
                    take(
                        sub,
                        (
                            "failed",
                            f"grading did not finish: no result for {stall_seconds:g} s, twice "
                            "(the grader's workers were stopped)",
                        ),
                    )
    finally:
        bar.close()
    order = {sub: i for i, sub in enumerate(submissions)}
    report.graded.sort(key=lambda g: order[g.submission])
    report.failures.sort(key=lambda f: order[f.submission])
    return report


def _answers(path: Path) -> list[tuple[str, str]]:
    """The student's own answer cells (grade_id, source); ``[]`` if the file is unreadable."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return []
    answers = []
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if (
            isinstance(meta, dict)
            and meta.get("solution")
            and isinstance(meta.get("grade_id"), str)
        ):
            source = cell.get("source", "")
            answers.append(
                (meta["grade_id"], "".join(source) if isinstance(source, list) else str(source))
            )
    return answers


def grade_all(
    submissions_dir: Path,
    out: Path,
    *,
    notebooks: Path = NOTEBOOKS,
    jobs: int = 1,
    sandbox: bool = True,
    progress: bool = True,
    db_url: str | None = None,
    log: Callable[[str], None] = print,
    limits: Any = None,
    cluster: str | None = None,
) -> BatchReport:
    """Grade every submission in ``submissions_dir``; write gradebook, CSV and feedback to ``out``.

    Writes ``out/gradebook.db`` (or ``db_url``), ``out/grades.csv`` and
    ``out/feedback/STUDENT/ASSIGNMENT/NOTEBOOK.html``.
    """
    if not submissions_dir.is_dir():
        raise FileNotFoundError(f"submissions folder {submissions_dir} does not exist")
    known = discover_assignments(notebooks)
    subs, failures, skipped = find_submissions(submissions_dir, known)
    needed = sorted({s.assignment for s in subs})
    out.mkdir(parents=True, exist_ok=True)
    url = db_url or f"sqlite:///{(out / 'gradebook.db').resolve()}"

    def write(item: Outcome) -> None:
        """Record one finished submission at once: its gradebook rows and feedback page."""
        sub = item.submission
        page = out / "feedback" / sub.student / sub.assignment
        if isinstance(item, Graded):
            for warning in gradebook.record_result(url, item.result):
                log(f"warning: {warning}")
            html_text = render_feedback(item.result, _answers(sub.path))
        elif sub.assignment in known and sub.notebook == sub.assignment:
            gradebook.record_ungradable(url, sub.assignment, sub.notebook, sub.student)
            html_text = render_ungradable(sub.assignment, sub.notebook, sub.student, item.reason)
        else:
            return
        page.mkdir(parents=True, exist_ok=True)
        (page / f"{sub.notebook}.html").write_text(html_text, encoding="utf-8")
        # what `nbgrader release_feedback` needs to hand the page back through the exchange
        for name in EXCHANGE_RECEIPTS:
            if (sub.path.parent / name).is_file():
                shutil.copyfile(sub.path.parent / name, page / name)

    with temp_course(notebooks, needed or known, db_url=url) as course:
        sources = {a: course.source(a) for a in course.assignments}
        # every student first, in name order: grades.csv's order must not depend on which
        # submission finished first
        recorded = {s.student for s in subs} | {
            f.submission.student
            for f in failures
            if f.submission.assignment in known and f.submission.notebook == f.submission.assignment
        }
        gradebook.add_students(url, sorted(recorded))
        for failure in failures:
            write(failure)
        report = grade_batch(
            subs,
            sources,
            jobs=jobs,
            sandbox=sandbox,
            progress=progress,
            on_result=write,
            limits=limits,
            cluster=cluster,
        )
    report.failures[:0] = failures
    report.skipped = skipped
    gradebook.export_csv(url, out / "grades.csv")
    return report


def format_table(report: BatchReport) -> str:
    """The score table printed after a batch."""
    rows = [("student", "assignment", "score", "max", "")]
    for g in report.graded:
        r = g.result
        rows.append((r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}", ""))
    for f in report.failures:
        s = f.submission
        rows.append((s.student, s.assignment, "-", "-", "NOT GRADED"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
