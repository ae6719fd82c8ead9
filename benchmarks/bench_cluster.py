"""Grading throughput: local worker processes (``--jobs 2``) vs a 2-worker Dask cluster.

Not a test: it prints numbers. The same batch (``--batch`` solved copies of one assignment,
default ``01-circuit-breaker``) is graded twice in this process through
:func:`autograders.grading.grade_batch`: with ``jobs=2`` (a local process pool) and with
``cluster=`` a ``distributed.LocalCluster`` of 2 worker processes (1 thread each) on
127.0.0.1, the same two cores. It prints submissions per minute for each and their ratio,
and, from the cluster's rate, the time a class of ``--class-size`` (300) would take on
clusters of 1 to 8 such machines (assuming it scales linearly with machines, which holds
while the client, the only gradebook writer, is not the bottleneck: it spends a few ms per
result).

Run: ``.venv/bin/python benchmarks/bench_cluster.py [--batch 12] [--assignment NAME]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autograders.grading import Submission, grade_batch  # noqa: E402
from autograders.release import release, temp_course  # noqa: E402
from autograders.submissions import solution_notebook  # noqa: E402


def _batch(folder: Path, assignment: str, count: int) -> list[Submission]:
    release(folder / "release", assignments=[assignment])
    blank = nbformat.read(folder / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = ROOT / "notebooks" / assignment / f"{assignment}.ipynb"
    solved = solution_notebook(nbformat.read(source, as_version=4), blank)
    subs = []
    for i in range(count):
        path = folder / "submitted" / f"student{i:03d}" / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(solved, path)
        subs.append(Submission(f"student{i:03d}", assignment, assignment, path))
    return subs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="01-circuit-breaker")
    parser.add_argument("--batch", type=int, default=12, help="submissions per run")
    parser.add_argument("--class-size", type=int, default=300)
    args = parser.parse_args(argv)
    from distributed import LocalCluster

    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    with tempfile.TemporaryDirectory(prefix="m14-bench-cluster-") as tmp:
        subs = _batch(Path(tmp), args.assignment, args.batch)
        with temp_course(assignments=[args.assignment]) as course:
            sources = {args.assignment: course.source(args.assignment)}
            start = time.perf_counter()
            local = grade_batch(subs, sources, jobs=2, progress=False)
            local_s = time.perf_counter() - start
            with LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None,
            ) as cluster:  # fmt: skip
                start = time.perf_counter()
                remote = grade_batch(
                    subs, sources, cluster=cluster.scheduler_address, progress=False
                )
                cluster_s = time.perf_counter() - start
    for name, report in (("--jobs 2", local), ("2-worker cluster", remote)):
        assert not report.failures, [f.reason for f in report.failures]
        assert len(report.graded) == args.batch, name
    local_rate = args.batch / local_s * 60
    cluster_rate = args.batch / cluster_s * 60
    print(f"{args.batch} solved {args.assignment} submissions, 2 cores")
    print(f"  --jobs 2           {local_s:7.1f} s   {local_rate:6.1f} submissions/min")
    print(f"  2-worker cluster   {cluster_s:7.1f} s   {cluster_rate:6.1f} submissions/min")
    print(f"  cluster / local throughput: {cluster_rate / local_rate:.2f}")
    print(f"a class of {args.class_size}, from the cluster's rate per 2-core machine:")
    for machines in (1, 2, 4, 8):
        minutes = args.class_size / (cluster_rate * machines)
        print(f"  {machines} machine(s) x 2 workers: {minutes:6.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
