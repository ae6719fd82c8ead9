"""Benchmark the batch grader (not a test: it prints numbers and ratios).

Measures, on one assignment (default ``01-circuit-breaker``, else the test fixture):

1. the time to execute an EMPTY notebook with nbclient (kernel start + stop): the floor;
2. the time to execute the SOURCE notebook (solutions and hidden tests) in one kernel, which
   is how plain ``nbgrader autograde`` grades: no isolation at all;
3. grading ``--copies`` (20) copies of the solution one at a time, sandboxed and with
   ``--no-sandbox`` (the same split into grader and student process, without bubblewrap or
   limits): time per submission, and the overhead of bubblewrap and of the whole split;
4. grading ``--batch`` (40) submissions with ``--jobs 2`` vs ``--jobs 1``.

Goals: the sandbox adds at most 15% per submission (sandbox / no-sandbox <= 1.15);
two workers take at most 0.6 x the time of one (jobs2 / jobs1 <= 0.6, on >= 2 free cores).

Why ``--jobs 2`` can take well under half the time of ``--jobs 1``: a submission of 01 makes
about 64,000 grader <-> sandbox round trips (every call the hidden tests make on the student's
breaker is one). Alone, each hop wakes a process on an idle CPU, about 50 us here, roughly
half of the wall time; with two workers the CPUs stay busy and the hops are cheap.

Run: ``.venv/bin/python benchmarks/bench_grading.py [--copies 20] [--batch 40]``.
On a shared machine the numbers move with the load: compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autograders.grading import Submission, grade_batch  # noqa: E402
from autograders.release import NOTEBOOKS, discover_assignments, temp_course  # noqa: E402
from autograders.submissions import solution_notebook  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"


def median_run_seconds(nb: nbformat.NotebookNode, runs: int, cwd: Path | None = None) -> float:
    """Median wall time to execute ``nb`` with nbclient in a fresh kernel, started with
    ``NBGRADER_EXECUTION=autograde`` as nbgrader starts it (in ``cwd``, if given)."""
    from nbclient import NotebookClient

    env = {**os.environ, "NBGRADER_EXECUTION": "autograde"}
    resources = {"metadata": {"path": str(cwd)}} if cwd else {}
    times = []
    for _ in range(runs):
        client = NotebookClient(
            copy.deepcopy(nb), kernel_name="python3", timeout=600, resources=resources
        )
        start = time.perf_counter()
        client.execute(stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_batch(
    subs: list[Submission], sources: dict[str, Path], *, jobs: int, sandbox: bool
) -> float:
    """Wall time to grade ``subs``; every one must grade at full marks."""
    start = time.perf_counter()
    report = grade_batch(subs, sources, jobs=jobs, sandbox=sandbox, progress=False)
    elapsed = time.perf_counter() - start
    wrong = [g.submission.student for g in report.graded if g.result.score != g.result.max_score]
    if report.failures or wrong:
        raise SystemExit(f"benchmark submissions did not grade cleanly: {report.failures} {wrong}")
    return elapsed


def verdict(ratio: float, goal: float) -> str:
    return "meets the goal" if ratio <= goal else "MISSES the goal"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default=None, help="assignment to grade (default 01-...)")
    parser.add_argument("--copies", type=int, default=20, help="solutions graded one by one")
    parser.add_argument("--batch", type=int, default=40, help="submissions for the --jobs run")
    parser.add_argument("--empty-runs", type=int, default=5, help="empty-notebook runs (median)")
    args = parser.parse_args(argv)

    real = discover_assignments(NOTEBOOKS) if NOTEBOOKS.is_dir() else []
    assignment = args.assignment or ("01-circuit-breaker" if "01-circuit-breaker" in real else None)
    notebooks = NOTEBOOKS if assignment else FIXTURES
    assignment = assignment or "99-fixture"

    with (
        tempfile.TemporaryDirectory(prefix="m14-bench-") as tmp,
        temp_course(notebooks, [assignment]) as course,
    ):
        blank = nbformat.read(course.released(assignment) / f"{assignment}.ipynb", as_version=4)
        solution = solution_notebook(nbformat.read(course.source(assignment), as_version=4), blank)
        subs = []
        for i in range(max(args.copies, args.batch)):
            path = Path(tmp) / f"s{i:03d}" / assignment / f"{assignment}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(solution, path)
            subs.append(Submission(f"s{i:03d}", assignment, assignment, path))
        sources = {assignment: course.source(assignment)}

        print(f"assignment: {assignment}")
        empty_nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
        empty = median_run_seconds(empty_nb, args.empty_runs)
        print(f"empty notebook with nbclient (median of {args.empty_runs}): {empty:.2f} s")

        source_nb = nbformat.read(course.source(assignment), as_version=4)
        in_kernel = median_run_seconds(source_nb, args.empty_runs, course.source(assignment).parent)
        print(
            f"source notebook in one kernel, plain nbgrader's way (median of {args.empty_runs}): "
            f"{in_kernel:.2f} s"
        )

        copies = subs[: args.copies]
        sandboxed = timed_batch(copies, sources, jobs=1, sandbox=True) / len(copies)
        plain = timed_batch(copies, sources, jobs=1, sandbox=False) / len(copies)
        print(
            f"per submission, sandboxed  ({len(copies)} copies, 1 job): {sandboxed:.2f} s "
            f"= {sandboxed / empty:.2f} x an empty notebook"
        )
        print(
            f"per submission, no sandbox ({len(copies)} copies, 1 job): {plain:.2f} s "
            f"= {plain / empty:.2f} x an empty notebook"
        )
        ratio = sandboxed / plain
        print(f"sandbox / no sandbox: {ratio:.2f} (goal <= 1.15: {verdict(ratio, 1.15)})")
        print(
            f"sandbox / one kernel: {sandboxed / in_kernel:.2f} "
            "(the whole price of isolation: bubblewrap, the split and every proxied call)"
        )

        batch = subs[: args.batch]
        one = timed_batch(batch, sources, jobs=1, sandbox=True)
        two = timed_batch(batch, sources, jobs=2, sandbox=True)
        print(f"{len(batch)} submissions, --jobs 1: {one:.1f} s; --jobs 2: {two:.1f} s")
        ratio = two / one
        print(f"jobs 2 / jobs 1: {ratio:.2f} (goal <= 0.60: {verdict(ratio, 0.60)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
