"""Benchmark grading as an instructor runs it: ``python -m autograders grade``, through the CLI.

Not a test: it prints numbers, ratios and whether each goal was met. Every timing is the wall
time of a whole command (interpreter start, imports, gradebook, sheets, feedback included):

1. **fixed cost** of a ``grade`` run: one and four solved submissions with ``--jobs 1``;
   fixed = t(1) - (t(4) - t(1)) / 3 (the intercept of a straight line); and directly, a second
   run on the four with nothing to grade (imports, collecting, gradebook, sheets). Goal <= 3 s.
2. **two workers**: ``--batch`` (8) solved submissions with ``--jobs 1`` and with ``--jobs 2``.
   Goal: jobs 2 / jobs 1 <= 0.6 (on two free cores).
3. **regrading after one change**: ``--regrade`` (40) submissions graded once, one of them
   changed, graded again: only that one is graded (checked, not assumed) and the second run's
   time is printed.
4. **one student's whole course**: the solution of every assignment (``discover()``) for one
   student, ``--jobs 2``. Goal <= 60 s.

Run: ``.venv/bin/python benchmarks/bench_grading.py [--assignment 01-circuit-breaker]
[--batch 8] [--regrade 40] [--skip course,regrade,...]``. On a shared machine the numbers move
with the load (``uptime`` is printed with them): compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autograders.assignments import NOTEBOOKS, discover  # noqa: E402
from autograders.release import temp_course  # noqa: E402
from autograders.submissions import solution_notebook  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
PARTS = ("fixed", "jobs", "regrade", "course")
CPU: list[float] = []
"""CPU seconds of each ``grade`` command run, in order (wall time moves with the load)."""


def solutions(notebooks: Path, names: list[str]) -> dict[str, nbformat.NotebookNode]:
    """Each assignment's solution, as a student would submit it (made once, not timed)."""
    found = {}
    with temp_course(notebooks, names) as course:
        for name in names:
            blank = nbformat.read(course.released(name) / f"{name}.ipynb", as_version=4)
            source = nbformat.read(course.source(name), as_version=4)
            found[name] = solution_notebook(source, blank)
    return found


def submit(folder: Path, student: str, name: str, nb: nbformat.NotebookNode) -> None:
    path = folder / student / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def grade(notebooks: Path, submitted: Path, out: Path, *extra: str) -> tuple[float, str]:
    """Wall time of one ``python -m autograders grade`` and its output; it must succeed.

    The command's CPU time (user + system, its children included) is added to ``CPU``.
    """
    command = [
        sys.executable, "-m", "autograders", "--notebooks", str(notebooks), "grade",
        str(submitted), "--out", str(out), "--no-progress", *extra,
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if done.returncode != 0 or "NOT GRADED" in done.stdout:
        raise SystemExit(f"grading failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def graded_rows(stdout: str) -> list[str]:
    """The students graded in this run (their table row has a score, not 'unchanged')."""
    table = stdout.split("\n\n")[0].splitlines()[1:]
    return [line.split()[0] for line in table if "unchanged" not in line]


def verdict(value: float, goal: float) -> str:
    return "meets the goal" if value <= goal else "MISSES the goal"


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default=None, help="default 01-circuit-breaker")
    parser.add_argument("--batch", type=int, default=8, help="submissions for --jobs 1 vs 2")
    parser.add_argument("--regrade", type=int, default=40, help="batch regraded after a change")
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {PARTS}")
    args = parser.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    real = [a.name for a in discover(NOTEBOOKS)] if NOTEBOOKS.is_dir() else []
    name = args.assignment or ("01-circuit-breaker" if "01-circuit-breaker" in real else None)
    notebooks = NOTEBOOKS if name in real else FIXTURES  # the test fixture: 99-fixture
    name = name or "99-fixture"
    missed = 0
    print(f"assignment: {name}; {os.cpu_count()} CPUs; {load()}", flush=True)
    solved = solutions(notebooks, [name])[name]

    with tempfile.TemporaryDirectory(prefix="m14-bench-") as tmp:
        work = Path(tmp)
        if "fixed" not in skip:
            times = {}
            for n in (1, 4):
                for i in range(n):
                    submit(work / f"fixed{n}", f"s{i:02d}", name, solved)
                times[n], _ = grade(notebooks, work / f"fixed{n}", work / f"out-fixed{n}")
            per = (times[4] - times[1]) / 3
            fixed = times[1] - per
            cpu1, cpu4 = CPU[-2:]
            cpu_fixed = cpu1 - (cpu4 - cpu1) / 3
            print(
                f"1 submission: {times[1]:.1f} s; 4 submissions: {times[4]:.1f} s; "
                f"per submission {per:.1f} s; fixed cost {fixed:.1f} s wall "
                f"(goal <= 3 s: {verdict(fixed, 3.0)}; {load()}); "
                f"fixed CPU time {cpu_fixed:.1f} s ({verdict(cpu_fixed, 3.0)})",
                flush=True,
            )
            noop, _ = grade(notebooks, work / "fixed4", work / "out-fixed4")
            print(
                f"a run with nothing to grade (the 4, unchanged): {noop:.1f} s wall, "
                f"{CPU[-1]:.1f} s CPU: the fixed cost measured directly "
                f"(goal <= 3 s: {verdict(noop, 3.0)}; {load()})",
                flush=True,
            )
            missed += min(fixed, noop) > 3.0

        if "jobs" not in skip:
            for i in range(args.batch):
                submit(work / "jobs", f"s{i:02d}", name, solved)
            one, _ = grade(notebooks, work / "jobs", work / "out-j1", "--jobs", "1")
            two, _ = grade(notebooks, work / "jobs", work / "out-j2", "--jobs", "2")
            ratio = two / one
            print(
                f"{args.batch} submissions: --jobs 1 {one:.1f} s, --jobs 2 {two:.1f} s; "
                f"ratio {ratio:.2f} (goal <= 0.60: {verdict(ratio, 0.6)}; {load()})",
                flush=True,
            )
            missed += ratio > 0.6

        if "regrade" not in skip:
            folder, out = work / "regrade", work / "out-regrade"
            for i in range(args.regrade):
                submit(folder, f"s{i:02d}", name, solved)
            first, _ = grade(notebooks, folder, out, "--jobs", "2")
            changed = nbformat.from_dict(solved)
            changed.cells.append(nbformat.v4.new_markdown_cell("edited after grading"))
            victim = f"s{min(7, args.regrade - 1):02d}"
            submit(folder, victim, name, changed)
            again, stdout = grade(notebooks, folder, out, "--jobs", "2")
            rows = graded_rows(stdout)
            unchanged = re.search(r"(\d+) submission\(s\) unchanged", stdout)
            print(
                f"{args.regrade} submissions graded in {first:.1f} s; after one changed, the "
                f"regrade graded {rows} and left {unchanged[1] if unchanged else 0} unchanged "
                f"in {again:.1f} s ({load()})",
                flush=True,
            )
            missed += rows != [victim]

        if "course" not in skip and real:
            every = solutions(NOTEBOOKS, real)
            for assignment, nb in every.items():
                submit(work / "course", "one", assignment, nb)
            spent, stdout = grade(NOTEBOOKS, work / "course", work / "out-course", "--jobs", "2")
            print(
                f"one student's whole course ({len(every)} assignments, --jobs 2): {spent:.1f} s "
                f"(goal <= 60 s: {verdict(spent, 60.0)}; {load()})",
                flush=True,
            )
            missed += spent > 60.0
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
