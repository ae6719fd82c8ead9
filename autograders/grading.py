"""The batch grader behind ``python -m autograders grade``.

What to grade comes from :func:`autograders.collect.collect`: nbgrader's layout
``SUBMISSIONS/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb`` or an LMS download (a folder or zip of
``STUDENT_ASSIGNMENT.ipynb`` files). Each submission is graded by
``autograders.engine.grade_notebook`` (in ``jobs`` worker processes); the results come back as
plain data to this, the trusted process, which alone writes the gradebook (as ``nbgrader
autograde`` would: :mod:`autograders.gradebook`), the autograded notebooks, the feedback pages
and the grade sheets (:mod:`autograders.sheets`).

**Regrading is safe by default.** Each submission's fingerprint (its bytes, its
``timestamp.txt``, the source notebook and the graders' code, the gradebook) is kept in
``OUT/grading-state.json``; a submission whose fingerprint has not changed since it was last
graded into the same gradebook is not graded again (``force`` does). A manual grade or comment
is never overwritten (see :func:`autograders.gradebook.record_result`).

A submission that cannot be graded is recorded with zero points, marked *ungradable* with its
reason in ``submissions.csv`` and on its feedback page; it never stops the batch. Results are
taken as each submission finishes and written at once, so a slow or stuck submission never
withholds the others' grades. The engine bounds each submission
(``Limits.submission_seconds``); as a last resort, when no worker finishes anything for
``stall_seconds``, the workers are killed, the submissions they were grading are retried once
in fresh workers and then recorded as ungradable.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import json
import multiprocessing
import multiprocessing.util
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from tqdm import tqdm

from autograders.assignments import NOTEBOOKS, Assignment, discover
from autograders.gradebook import quiet_jsonschema

quiet_jsonschema()  # worker processes import nbformat (the engine) through this module

__all__ = [
    "STATE_FILE",
    "BatchReport",
    "Failure",
    "Graded",
    "GradeError",
    "Submission",
    "engine",
    "format_table",
    "grade_all",
    "grade_batch",
    "grade_one",
]

STATE_FILE = "grading-state.json"
"""In ``OUT``: each submission's fingerprint and status when it was last graded."""

MAX_AUTOGRADED_WIDGET_BYTES = 100_000
"""An autograded notebook keeps saved widget state only up to this size (a small snapshot)."""


class GradeError(Exception):
    """Bad input to a batch (an unknown --assignment, say); the message names it."""


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
    """Everything a batch produced.

    Attributes:
        graded: graded in this run.
        failures: could not be graded (in this run).
        skipped: files that are no submission at all, with why (``file: why``).
        unchanged: submissions not graded again (same fingerprint as last time).
        notices: manual grades kept while the automatic score under them changed.
        matched: how each file was matched (one line per file).
        sheets: the grade sheets written, by name.
    """

    graded: list[Graded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unchanged: list[Submission] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    sheets: dict[str, Path] = field(default_factory=dict)


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
    to grade on instead of local processes (:mod:`autograders.cluster`; ``jobs`` is
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


def _answers(notebook: Any) -> list[tuple[str, str]]:
    """The student's own answer cells (grade_id, source) of an autograded notebook."""
    answers = []
    for cell in notebook.cells if notebook is not None else []:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if (
            isinstance(meta, dict)
            and meta.get("solution")
            and isinstance(meta.get("grade_id"), str)
        ):
            answers.append((meta["grade_id"], str(cell.source)))
    return answers


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_GRADERS = Path(__file__).resolve().parent / "graders"


def _graders_hash() -> str:
    """What the hidden graders' code is now: a change regrades everything."""
    digest = hashlib.sha256()
    for path in sorted(_GRADERS.rglob("*.py")) if _GRADERS.is_dir() else []:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def autograded_folder(db_url: str, out: Path) -> Path:
    """Where the autograded notebooks go: ``autograded/`` next to a SQLite gradebook file
    (nbgrader's course layout, where Formgrader looks), else ``OUT/autograded``."""
    prefix = "sqlite:///"
    if db_url.startswith(prefix) and db_url[len(prefix) :] not in ("", ":memory:"):
        return Path(db_url[len(prefix) :]).resolve().parent / "autograded"
    return out / "autograded"


def _write_autograded(notebook: Any, folder: Path, name: str, timestamp: str | None) -> None:
    """``autograded/STUDENT/ASSIGNMENT/NAME.ipynb`` (+ ``timestamp.txt``), as nbgrader's."""
    import nbformat

    widgets = notebook.metadata.get("widgets")
    if widgets is not None and len(json.dumps(widgets)) > MAX_AUTOGRADED_WIDGET_BYTES:
        del notebook.metadata["widgets"]  # a saved widget state is not for grading
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{name}.ipynb")  # type: ignore[no-untyped-call]
    stamp = folder / "timestamp.txt"
    if timestamp:
        stamp.write_text(timestamp + "\n", encoding="utf-8")
    elif stamp.exists():
        stamp.unlink()


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
    students: Sequence[str] | None = None,
    assignments: Sequence[str] | None = None,
    force: bool = True,
    course: Any = None,
    roster: Mapping[str, Mapping[str, str]] | None = None,
    cluster: str | None = None,
    autograded: Path | None = None,
) -> BatchReport:
    """Grade the submissions in ``submissions_dir``; write gradebook, sheets and feedback.

    Args:
        submissions_dir: nbgrader's ``submitted/`` layout, or an LMS download (folder or zip).
        out: the output folder: ``grades.csv`` and the other sheets, ``feedback/``,
            ``grading-state.json`` (and ``gradebook.db`` unless ``db_url``).
        notebooks: the folder of source assignments.
        jobs: worker processes.
        sandbox: grade in the sandbox (``False``: trusted work and benchmarks only).
        progress: show a progress bar on stderr.
        db_url: the gradebook (default ``OUT/gradebook.db``).
        log: where notices and warnings go.
        limits: an ``engine.Limits`` for every submission (default: the engine's).
        students: grade only these students.
        assignments: grade only these assignments.
        force: grade even what did not change since it was last graded. The library default
            is ``True`` (a call grades what it is given); the command line's is ``False``.
        course: :class:`autograders.roster.CourseSettings` (due dates, late penalty).
        roster: student id -> first_name/last_name/email (:func:`roster.load_roster`).
        autograded: where the autograded notebooks go (default :func:`autograded_folder`).

    Returns:
        What was graded, what could not be, what was unchanged, and the notices.

    Raises:
        FileNotFoundError: ``submissions_dir`` does not exist.
        autograders.collect.LayoutError: nothing in it can be graded as laid out.
        GradeError: an unknown assignment in ``assignments``.
    """
    from autograders import gradebook, sheets
    from autograders.collect import collect
    from autograders.feedback import PageInfo, exercise_titles, render_feedback, render_ungradable
    from autograders.roster import CourseSettings

    settings = course or CourseSettings()
    known: dict[str, Assignment] = {a.name: a for a in discover(notebooks)}
    unknown = [a for a in assignments or [] if a not in known]
    if unknown:
        raise GradeError(
            f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}"
        )
    url = db_url or f"sqlite:///{(out / 'gradebook.db').resolve()}"
    autograded_dir = autograded or autograded_folder(url, out)
    state_path = out / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    graders = _graders_hash()
    sources = {name: a.notebook for name, a in known.items()}
    source_hash = {name: _sha(path.read_bytes()) for name, path in sources.items()}
    titles = {name: exercise_titles(a.read()) for name, a in known.items()}
    report = BatchReport()

    with contextlib.ExitStack() as stack:
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="m14-collect-"))
        found = collect(submissions_dir, list(known), Path(work))
        report.matched = found.report
        report.skipped = [f"{path}: {why}" for path, why in found.unmatched]
        items = [
            c
            for c in found.items
            if (not students or c.student in students)
            and (not assignments or c.assignment in assignments)
        ]
        if not items:
            wanted = ", ".join([*(students or []), *(assignments or [])])
            raise GradeError(f"no submission of {wanted} in {submissions_dir}")

        def key(student: str, assignment: str) -> str:
            return f"{student}/{assignment}"

        def fingerprint(c: Any) -> str:
            parts = [
                _sha(c.path.read_bytes()),
                c.timestamp.isoformat() if c.timestamp else "",
                source_hash.get(c.assignment, ""),
                graders,
                url,
            ]
            return _sha("\n".join(parts).encode())

        out.mkdir(parents=True, exist_ok=True)
        stack.enter_context(gradebook.shared(url))  # opened once the input is known to be good
        needed = sorted({c.assignment for c in items if c.assignment in known})
        for name in sorted(set(needed) | set(settings.duedates)):
            gradebook.ensure_assignment(url, known[name], settings.duedates.get(name))
        gradebook.add_students(
            url, sorted({c.student for c in items if c.assignment in known}), roster or {}
        )
        if roster:
            gradebook.add_students(url, sorted(roster), roster)

        todo: list[Submission] = []
        by_sub: dict[Submission, Any] = {}
        prints: dict[Submission, str] = {}
        for c in items:
            sub = Submission(c.student, c.assignment, c.assignment, c.path)
            by_sub[sub] = c
            prints[sub] = fingerprint(c)
            page = out / "feedback" / c.student / c.assignment / f"{c.assignment}.html"
            previous = state.get(key(c.student, c.assignment), {})
            if not force and previous.get("fingerprint") == prints[sub] and page.is_file():
                report.unchanged.append(sub)
            elif c.problem is None:
                todo.append(sub)
            else:
                report.failures.append(Failure(sub, c.problem))

        def save_state() -> None:
            state_path.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")

        def write(item: Outcome) -> None:
            """Record one finished submission at once: gradebook rows, pages, state."""
            sub = item.submission
            c = by_sub[sub]
            stamp = c.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f UTC") if c.timestamp else None
            page = out / "feedback" / sub.student / sub.assignment
            origin = c.origin if Path(c.origin).name != f"{sub.assignment}.ipynb" else ""
            entry: dict[str, Any] = {"fingerprint": prints[sub], "file": c.origin, "how": c.how}
            if isinstance(item, Graded):
                done = gradebook.record_result(
                    url, item.result, known[sub.assignment], c.timestamp,
                    late_method=settings.late_penalty,
                )  # fmt: skip
                if item.result.autograded is not None:
                    _write_autograded(
                        item.result.autograded,
                        autograded_dir / sub.student / sub.assignment,
                        sub.notebook,
                        stamp,
                    )
                info = PageInfo(
                    titles[sub.assignment], done.duedate, c.timestamp, done.penalty, origin
                )
                html_text = render_feedback(item.result, _answers(item.result.autograded), info)
                entry.update(status="graded", score=item.result.score)
            else:
                done = None
                if sub.assignment in known:
                    done = gradebook.record_ungradable(
                        url, sub.assignment, sub.notebook, sub.student, c.timestamp, item.reason,
                        late_method=settings.late_penalty,
                    )  # fmt: skip
                info = PageInfo(
                    titles.get(sub.assignment), done.duedate if done else None, c.timestamp,
                    None, origin,
                )  # fmt: skip
                html_text = render_ungradable(
                    sub.assignment, sub.notebook, sub.student, item.reason, info
                )
                entry.update(status="ungradable", reason=item.reason)
            if done is not None:
                for notice in done.notices:
                    report.notices.append(notice)
                    log(f"notice: {notice}")
                for warning in done.warnings:
                    log(f"warning: {warning}")
            page.mkdir(parents=True, exist_ok=True)
            (page / f"{sub.notebook}.html").write_text(html_text, encoding="utf-8")
            # what `nbgrader release_feedback` needs to hand the page back through the exchange
            for name in EXCHANGE_RECEIPTS:
                if (sub.path.parent / name).is_file():
                    shutil.copyfile(sub.path.parent / name, page / name)
            state[key(sub.student, sub.assignment)] = entry
            save_state()

        for failure in report.failures:
            write(failure)
        batch = grade_batch(
            todo,
            sources,
            jobs=jobs,
            sandbox=sandbox,
            progress=progress,
            on_result=write,
            limits=limits,
            cluster=cluster,
        )
        report.graded = batch.graded
        report.failures.extend(batch.failures)
        report.sheets = sheets.write_sheets(
            url, out, state=state, course_assignments=list(known), titles=titles
        )
    return report


def format_table(report: BatchReport) -> str:
    """The score table printed after a batch (graded, ungradable and unchanged submissions)."""
    rows = [("student", "assignment", "score", "max", "")]
    listed = [
        (g.submission, f"{g.result.score:g}", f"{g.result.max_score:g}", "") for g in report.graded
    ]
    listed += [(f.submission, "-", "-", "NOT GRADED") for f in report.failures]
    listed += [(s, "", "", "unchanged, not regraded") for s in report.unchanged]
    for sub, score, most, note in sorted(listed, key=lambda r: (r[0].student, r[0].assignment)):
        rows.append((sub.student, sub.assignment, score, most, note))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
