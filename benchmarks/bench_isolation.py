"""Benchmark: does a hostile submission slow down its neighbour? (not a test: prints numbers)

Grades a correct submission of ``01-circuit-breaker`` alone (``--jobs 2``, so one
worker is idle), then beside a hostile resource submission from the catalogue
(default ``hostile-replay-amplification``: every answer cell starts a setsid
child that fills 300 MB and spins, every test cell kills the sandbox, so every
answer cell is replayed each time). The correct one's time is taken when its
result arrives (``grade_batch``'s ``on_result``), so the hostile one's remaining
time does not count. Prints, per round and as medians:

* ``beside / alone``: goal <= 1.5 on 2 cores;
* the hostile sandbox's peak memory, all its processes together, read from its
  cgroup (``memory.max_usage_in_bytes``): goal <= ``Limits.memory_mb``.

``--no-quota`` grades with ``Limits(cpus=None)`` (no CPU quota on the cgroup) to
show what the quota is for; ``--cpus X`` tries another quota. On a shared machine
the numbers move with the load: compare ratios from the same run (rounds
alternate alone / beside).

Run: ``.venv/bin/python benchmarks/bench_isolation.py [--rounds 2] [--hostile NAME]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autograders import cgroup  # noqa: E402
from autograders.engine import Limits  # noqa: E402
from autograders.grading import Graded, Outcome, Submission, grade_batch  # noqa: E402
from autograders.release import NOTEBOOKS, temp_course  # noqa: E402
from autograders.submissions import build, load, solution_notebook  # noqa: E402

A = "01-circuit-breaker"
CATALOGUE = ROOT / "autograders" / "submissions" / A


def timed(
    subs: list[Submission], sources: dict[str, Path], limits: Limits
) -> tuple[dict[str, float], dict[str, Graded]]:
    """Seconds from the batch's start to each submission's result, and the results."""
    arrived: dict[str, float] = {}
    results: dict[str, Graded] = {}
    start = time.perf_counter()

    def note(item: Outcome) -> None:
        arrived[item.submission.student] = time.perf_counter() - start
        if isinstance(item, Graded):
            results[item.submission.student] = item

    report = grade_batch(subs, sources, jobs=2, progress=False, on_result=note, limits=limits)
    if report.failures:
        raise SystemExit(f"could not grade: {report.failures}")
    return arrived, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="alone/beside pairs (median)")
    parser.add_argument("--hostile", default="hostile-replay-amplification", help="catalogue entry")
    parser.add_argument("--no-quota", action="store_true", help="no CPU quota on the cgroups")
    parser.add_argument("--cpus", type=float, default=None, help="CPU quota per sandbox")
    args = parser.parse_args(argv)
    if args.no_quota:
        limits = Limits(cpus=None)
    elif args.cpus is not None:
        limits = Limits(cpus=args.cpus)
    else:
        limits = Limits()
    known = load(CATALOGUE / f"{args.hostile}.toml")

    with (
        tempfile.TemporaryDirectory(prefix="m14-bench-") as tmp,
        temp_course(NOTEBOOKS, [A]) as course,
    ):
        blank = nbformat.read(course.released(A) / f"{A}.ipynb", as_version=4)
        solution = solution_notebook(nbformat.read(course.source(A), as_version=4), blank)
        sources = {A: course.source(A)}

        def put(student: str, data: bytes) -> Submission:
            path = Path(tmp) / student / A / f"{A}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return Submission(student, A, A, path)

        correct = put("correct", nbformat.writes(solution).encode("utf-8"))
        hostile = put("hostile", build(known, solution=solution, blank=blank))
        print(f"assignment: {A}; hostile: {args.hostile} (expected score {known.expected_score:g})")
        print(
            f"limits: {limits.memory_mb} MB and {limits.processes} processes per sandbox, "
            f"CPU quota {limits.cpus if limits.cpus is not None else 'none'}; "
            f"cgroups {'available' if cgroup.available() else 'NOT available (fallback)'}"
        )
        alone_times: list[float] = []
        beside_times: list[float] = []
        peaks: list[int] = []
        for number in range(1, args.rounds + 1):
            arrived, _ = timed([correct], sources, limits)
            alone = arrived["correct"]
            arrived, results = timed([hostile, correct], sources, limits)
            beside = arrived["correct"]
            result = results["hostile"].result
            if results["correct"].result.score != results["correct"].result.max_score:
                raise SystemExit("the correct submission lost points beside the hostile one")
            alone_times.append(alone)
            beside_times.append(beside)
            peaks.append(result.peak_memory)
            print(
                f"round {number}: correct alone {alone:.1f} s, beside the hostile one "
                f"{beside:.1f} s (ratio {beside / alone:.2f}); hostile: score {result.score:g} "
                f"in {arrived['hostile']:.1f} s, peak memory {result.peak_memory / 2**20:.0f} MiB"
            )
        ratio = statistics.median(beside_times) / statistics.median(alone_times)
        peak = max(peaks)
        limit = limits.memory_mb * 2**20
        print(
            f"beside / alone (medians): {ratio:.2f} "
            f"(goal <= 1.5: {'meets the goal' if ratio <= 1.5 else 'MISSES the goal'})"
        )
        within = "within the limit" if 0 < peak <= limit else "NOT within the limit / not measured"
        print(
            f"hostile peak memory, all processes: {peak / 2**20:.0f} MiB "
            f"of {limits.memory_mb} MiB ({within})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
